#include "ces/query/pool.hpp"

#include <libpq-fe.h>

#include <condition_variable>
#include <mutex>
#include <unordered_map>

#include "ces/common/metrics.hpp"

namespace ces::query {

struct ResultSet::Impl {
  PGresult* result = nullptr;
  ~Impl() {
    if (result) PQclear(result);
  }
};

ResultSet::ResultSet() : impl_(std::make_unique<Impl>()) {}
ResultSet::~ResultSet() = default;
ResultSet::ResultSet(ResultSet&&) noexcept = default;
ResultSet& ResultSet::operator=(ResultSet&&) noexcept = default;
int ResultSet::Rows() const { return impl_->result ? PQntuples(impl_->result) : 0; }
int ResultSet::Columns() const { return impl_->result ? PQnfields(impl_->result) : 0; }
bool ResultSet::IsNull(int row, int col) const { return PQgetisnull(impl_->result, row, col) != 0; }
std::string_view ResultSet::Value(int row, int col) const {
  return {PQgetvalue(impl_->result, row, col), static_cast<std::size_t>(PQgetlength(impl_->result, row, col))};
}

struct Lease::Slot {
  PGconn* conn = nullptr;
  std::unordered_map<std::string, std::string> prepared;  // SQL text -> statement name
  bool broken = false;
  void Disconnect() {
    if (conn) PQfinish(conn);
    conn = nullptr;
    prepared.clear();
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

}  // namespace

struct Pool::Impl {
  PoolOptions options;
  std::string conninfo;
  mutable std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::unique_ptr<Lease::Slot>> slots;  // every slot ever created (size bounded)
  std::vector<Lease::Slot*> idle;
  std::size_t in_use = 0;
  metrics::Gauge* in_use_gauge = nullptr;
  metrics::Counter* timeouts = nullptr;
  metrics::Counter* connects = nullptr;
  metrics::Counter* errors = nullptr;
};

Pool::Pool(PoolOptions options, metrics::Registry* registry) : impl_(std::make_unique<Impl>()) {
  if (options.size == 0) options.size = 1;
  impl_->conninfo = AddParameter(options.uri, "connect_timeout", std::to_string(options.connect_timeout_s));
  impl_->conninfo = AddParameter(impl_->conninfo, "application_name", "casper-event-store-api");
  impl_->options = std::move(options);
  if (registry) {
    impl_->in_use_gauge = &registry->GetGauge("ces_api_db_pool_in_use", "PostgreSQL connections leased");
    registry->GetGauge("ces_api_db_pool_size", "PostgreSQL pool bound").Set(static_cast<double>(impl_->options.size));
    impl_->timeouts = &registry->GetCounter("ces_api_db_pool_timeouts_total", "requests that found no free connection");
    impl_->connects = &registry->GetCounter("ces_api_db_connects_total", "PostgreSQL connections opened");
    impl_->errors = &registry->GetCounter("ces_api_db_errors_total", "failed PostgreSQL statements");
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
  if (slot->conn && PQstatus(slot->conn) != CONNECTION_OK) slot->Disconnect();
  if (!slot->conn) {
    slot->conn = PQconnectdb(impl_->conninfo.c_str());
    if (impl_->connects) impl_->connects->Inc();
    bool ok = PQstatus(slot->conn) == CONNECTION_OK;
    if (ok) {
      const std::string setup = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; SET extra_float_digits = 3; "
                                "SET statement_timeout = " + std::to_string(impl_->options.statement_timeout_ms);
      PGresult* r = PQexec(slot->conn, setup.c_str());
      ok = PQresultStatus(r) == PGRES_COMMAND_OK;
      PQclear(r);
    }
    if (!ok) {
      if (error) *error = std::string("cannot connect to PostgreSQL: ") + PQerrorMessage(slot->conn);
      slot->Disconnect();
      Release(slot, true);
      return std::nullopt;
    }
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

QueryError Lease::Execute(const std::string& sql, const std::vector<std::string>& params, ResultSet& out) {
  QueryError error;
  auto fail = [&](PGresult* r) {
    error.failed = true;
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    error.bad_input = state && state[0] == '2' && state[1] == '2';
    error.message = r ? PQresultErrorMessage(r) : PQerrorMessage(slot_->conn);
    while (!error.message.empty() && (error.message.back() == '\n' || error.message.back() == ' ')) error.message.pop_back();
    if (PQstatus(slot_->conn) != CONNECTION_OK || !state || state[0] == '0' || state[0] == '5') slot_->broken = true;
    if (pool_->impl_->errors) pool_->impl_->errors->Inc();
    if (r) PQclear(r);
    return error;
  };
  auto it = slot_->prepared.find(sql);
  if (it == slot_->prepared.end()) {
    std::string name = "q" + std::to_string(slot_->prepared.size());
    PGresult* r = PQprepare(slot_->conn, name.c_str(), sql.c_str(), 0, nullptr);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) return fail(r);
    PQclear(r);
    it = slot_->prepared.emplace(sql, std::move(name)).first;
  }
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p.c_str());
  PGresult* r = PQexecPrepared(slot_->conn, it->second.c_str(), static_cast<int>(values.size()), values.data(),
                               nullptr, nullptr, 0);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) return fail(r);
  if (out.impl_->result) PQclear(out.impl_->result);
  out.impl_->result = r;
  return error;
}

}  // namespace ces::query
