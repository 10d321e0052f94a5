#include "ces/query/pool.hpp"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <unordered_map>

#include "ces/common/log.hpp"
#include "ces/common/metrics.hpp"
#include "ces/common/status.hpp"
#include "pq_handles.hpp"

namespace ces::query {

struct ResultSet::Impl {
  detail::PgResultPtr result;
};

ResultSet::ResultSet() : impl_(std::make_unique<Impl>()) {}
ResultSet::~ResultSet() = default;
ResultSet::ResultSet(ResultSet&&) noexcept = default;
ResultSet& ResultSet::operator=(ResultSet&&) noexcept = default;
int ResultSet::Rows() const { return impl_->result ? PQntuples(impl_->result.get()) : 0; }
int ResultSet::Columns() const { return impl_->result ? PQnfields(impl_->result.get()) : 0; }
bool ResultSet::IsNull(int row, int col) const { return PQgetisnull(impl_->result.get(), row, col) != 0; }
std::string_view ResultSet::Value(int row, int col) const {
  return {PQgetvalue(impl_->result.get(), row, col), static_cast<std::size_t>(PQgetlength(impl_->result.get(), row, col))};
}

struct Lease::Slot {
  detail::PgConnPtr conn;
  std::unordered_map<std::string, std::string> prepared;  // SQL text -> statement name
  bool broken = false;
  bool on_fallback = false;  // conn is on PoolOptions::fallback_uri
  std::chrono::steady_clock::time_point connected_at;
  void Disconnect() {
    conn.reset();
    prepared.clear();
    broken = false;  // the next connection starts sound
  }
};

namespace {

bool IsUri(const std::string& uri) {
  return uri.rfind("postgresql://", 0) == 0 || uri.rfind("postgres://", 0) == 0;
}

std::string AddParameter(const std::string& uri, const std::string& key, const std::string& value) {
  if (uri.find(key + "=") != std::string::npos) return uri;
  if (IsUri(uri)) return uri + (uri.find('?') == std::string::npos ? "?" : "&") + key + "=" + value;
  return uri + (uri.empty() ? "" : " ") + key + "=" + value;
}

std::string Conninfo(const std::string& uri, int connect_timeout_s) {
  return AddParameter(AddParameter(uri, "connect_timeout", std::to_string(connect_timeout_s)), "application_name",
                      "casper-event-store-api");
}

// A connection set up for the queries, or nullptr with `error` set.
detail::PgConnPtr OpenConnection(const std::string& conninfo, int statement_timeout_ms, std::string& error) {
  detail::PgConnPtr conn(PQconnectdb(conninfo.c_str()));
  bool ok = PQstatus(conn.get()) == CONNECTION_OK;
  if (ok) {
    const std::string setup = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; SET extra_float_digits = 3; "
                              "SET statement_timeout = " + std::to_string(statement_timeout_ms);
    detail::PgResultPtr r(PQexec(conn.get(), setup.c_str()));
    ok = PQresultStatus(r.get()) == PGRES_COMMAND_OK;
  }
  if (ok) return conn;
  error = PQerrorMessage(conn.get());
  while (!error.empty() && (error.back() == '\n' || error.back() == ' ')) error.pop_back();
  return nullptr;
}

}  // namespace

struct Pool::Impl {
  using Clock = std::chrono::steady_clock;
  PoolOptions options;
  std::string conninfo;
  std::string fallback_conninfo;                 // empty: no fallback
  std::atomic<Clock::rep> target_retry_at{0};    // before this, connections go straight to the fallback
  std::atomic<bool> target_up{true};
  mutable std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::unique_ptr<Lease::Slot>> slots;  // every slot ever created (size bounded)
  std::vector<Lease::Slot*> idle;
  std::size_t in_use = 0;
  metrics::Gauge* in_use_gauge = nullptr;
  metrics::Counter* timeouts = nullptr;
  metrics::Counter* connects = nullptr;
  metrics::Counter* errors = nullptr;
  metrics::Counter* fallback_connects = nullptr;
  metrics::Gauge* target_up_gauge = nullptr;

  // Opens slot.conn on the target, or on the fallback while the target does not answer.
  bool Connect(Lease::Slot& slot, std::string* error);
  void TargetAnswered(bool answered);
  // A connection on the fallback that is old enough to try the target again.
  bool BackToTarget(const Lease::Slot& slot) const {
    const auto now = Clock::now();
    return slot.on_fallback && now - slot.connected_at >= options.fallback_retry &&
           now.time_since_epoch().count() >= target_retry_at.load();
  }
};

void Pool::Impl::TargetAnswered(bool answered) {
  if (!answered) {
    target_retry_at = (Clock::now() + options.fallback_retry).time_since_epoch().count();
  }
  if (target_up_gauge) target_up_gauge->Set(answered ? 1 : 0);
  if (target_up.exchange(answered) != answered) {
    if (answered) {
      log::Info("postgresql read target answers again; connections return to it");
    } else {
      log::Warn("postgresql read target does not answer; connections go to the fallback",
                {{"retry_s", static_cast<double>(options.fallback_retry.count()) / 1000}});
    }
  }
}

bool Pool::Impl::Connect(Lease::Slot& slot, std::string* error) {
  std::string target_error;
  if (fallback_conninfo.empty() || Clock::now().time_since_epoch().count() >= target_retry_at.load()) {
    slot.conn = OpenConnection(conninfo, options.statement_timeout_ms, target_error);
    if (connects) connects->Inc();
    if (fallback_conninfo.empty() || slot.conn) {
      if (!fallback_conninfo.empty()) TargetAnswered(true);
      slot.on_fallback = false;
      if (!slot.conn && error) *error = "cannot connect to PostgreSQL: " + target_error;
      return slot.conn != nullptr;
    }
    TargetAnswered(false);
  } else {
    target_error = "not answering (tried again within " + std::to_string(options.fallback_retry.count()) + " ms)";
  }
  std::string fallback_error;
  slot.conn = OpenConnection(fallback_conninfo, options.statement_timeout_ms, fallback_error);
  if (connects) connects->Inc();
  if (!slot.conn) {
    if (error) *error = "cannot connect to PostgreSQL: " + target_error + "; fallback: " + fallback_error;
    return false;
  }
  if (fallback_connects) fallback_connects->Inc();
  slot.on_fallback = true;
  slot.connected_at = Clock::now();
  return true;
}

Pool::Pool(PoolOptions options, metrics::Registry* registry) : impl_(std::make_unique<Impl>()) {
  if (options.size == 0) options.size = 1;
  impl_->conninfo = Conninfo(options.uri, options.connect_timeout_s);
  if (!options.fallback_uri.empty()) impl_->fallback_conninfo = Conninfo(options.fallback_uri, options.connect_timeout_s);
  impl_->options = std::move(options);
  if (registry) {
    impl_->in_use_gauge = &registry->GetGauge("ces_api_db_pool_in_use", "PostgreSQL connections leased");
    registry->GetGauge("ces_api_db_pool_size", "PostgreSQL pool bound").Set(static_cast<double>(impl_->options.size));
    impl_->timeouts = &registry->GetCounter("ces_api_db_pool_timeouts_total", "requests that found no free connection");
    impl_->connects = &registry->GetCounter("ces_api_db_connects_total", "PostgreSQL connections opened");
    impl_->errors = &registry->GetCounter("ces_api_db_errors_total", "failed PostgreSQL statements");
    if (!impl_->fallback_conninfo.empty()) {
      impl_->fallback_connects = &registry->GetCounter(
          "ces_api_db_fallback_connects_total", "PostgreSQL connections opened on the fallback (the read target did not answer)");
      impl_->target_up_gauge = &registry->GetGauge(
          "ces_api_db_read_target_up", "1 while the read target (replicas) answers, 0 while reads go to the fallback");
      impl_->target_up_gauge->Set(1);
    }
  }
}

Pool::~Pool() { Close(); }

void Pool::Close() {
  std::lock_guard lock(impl_->mutex);
  for (auto* slot : impl_->idle) slot->Disconnect();
}

std::size_t Pool::Open() const {
  std::lock_guard lock(impl_->mutex);
  std::size_t n = 0;
  for (const auto& s : impl_->slots) n += s->conn != nullptr;
  return n;
}

std::size_t Pool::InUse() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->in_use;
}

std::optional<Lease> Pool::Acquire(std::string* error) {
  Lease::Slot* slot = nullptr;
  {
    std::unique_lock lock(impl_->mutex);
    const auto ready = [&] { return !impl_->idle.empty() || impl_->slots.size() < impl_->options.size; };
    if (!impl_->cv.wait_for(lock, impl_->options.acquire_timeout, ready)) {
      if (impl_->timeouts) impl_->timeouts->Inc();
      if (error) *error = "no database connection free within the pool timeout";
      return std::nullopt;
    }
    if (!impl_->idle.empty()) {
      slot = impl_->idle.back();
      impl_->idle.pop_back();
    } else {
      impl_->slots.push_back(std::make_unique<Lease::Slot>());
      slot = impl_->slots.back().get();
    }
    ++impl_->in_use;
    if (impl_->in_use_gauge) impl_->in_use_gauge->Set(static_cast<double>(impl_->in_use));
  }
  if (slot->conn && (PQstatus(slot->conn.get()) != CONNECTION_OK || impl_->BackToTarget(*slot))) slot->Disconnect();
  if (!slot->conn && !impl_->Connect(*slot, error)) {
    Release(slot, true);
    return std::nullopt;
  }
  return Lease(this, slot);
}

void Pool::Release(Lease::Slot* slot, bool broken) {
  if (broken) slot->Disconnect();
  {
    std::lock_guard lock(impl_->mutex);
    impl_->idle.push_back(slot);
    --impl_->in_use;
    if (impl_->in_use_gauge) impl_->in_use_gauge->Set(static_cast<double>(impl_->in_use));
  }
  impl_->cv.notify_one();
}

Lease::Lease(Pool* pool, Slot* slot) : pool_(pool), slot_(slot) {}
Lease::Lease(Lease&& other) noexcept : pool_(other.pool_), slot_(other.slot_) { other.slot_ = nullptr; }
Lease::~Lease() {
  if (slot_) pool_->Release(slot_, slot_->broken);
}

common::Status ToStatus(const QueryError& error) {
  if (!error.failed) return common::Status::Ok();
  return common::Status::Error(
      error.kind == common::ErrorKind::kBadData ? common::ErrorKind::kBadData : common::ErrorKind::kUnavailable,
      error.message);
}

QueryError Lease::Execute(const std::string& sql, const std::vector<std::string>& params, ResultSet& out) {
  QueryError error;
  auto fail = [&](detail::PgResultPtr r) {
    error.failed = true;
    const char* state = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
    error.kind = common::ClassifySqlState(state ? state : "");
    error.message = r ? PQresultErrorMessage(r.get()) : PQerrorMessage(slot_->conn.get());
    while (!error.message.empty() && (error.message.back() == '\n' || error.message.back() == ' ')) error.message.pop_back();
    if (PQstatus(slot_->conn.get()) != CONNECTION_OK || !state || state[0] == '0' || state[0] == '5') slot_->broken = true;
    if (pool_->impl_->errors) pool_->impl_->errors->Inc();
    return error;
  };
  auto it = slot_->prepared.find(sql);
  if (it == slot_->prepared.end()) {
    std::string name = "q" + std::to_string(slot_->prepared.size());
    detail::PgResultPtr r(PQprepare(slot_->conn.get(), name.c_str(), sql.c_str(), 0, nullptr));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) return fail(std::move(r));
    it = slot_->prepared.emplace(sql, std::move(name)).first;
  }
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p.c_str());
  detail::PgResultPtr r(PQexecPrepared(slot_->conn.get(), it->second.c_str(), static_cast<int>(values.size()),
                                       values.data(), nullptr, nullptr, 0));
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) return fail(std::move(r));
  out.impl_->result = std::move(r);
  return error;
}

}  // namespace ces::query
