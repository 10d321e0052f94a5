#include "ces/api/sidecar_api.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "ces/audit/lookup.hpp"
#include "ces/audit/replay.hpp"
#include "ces/common/json.hpp"
#include "ces/common/log.hpp"
#include "ces/common/metrics.hpp"
#include "ces/common/status.hpp"
#include "ces/common/text.hpp"
#include "ces/common/version.hpp"
#include "ces/legacy/translate.hpp"
#include "ces/query/pool.hpp"

namespace ces::api {
namespace {

constexpr std::string_view kNoResults = "Query returned no results";
// The sidecar's 400 for a bad path or parameter: its router (warp) always finds the InvalidPath of its
// catch-all route among a request's rejections before the InvalidParam of the handler, so "Invalid
// parameter in query: …" never reaches a client (docs/api-sidecar.md).
constexpr std::string_view kInvalidPath = "Invalid request path provided";
// A storage failure, as the sidecar's DatabaseReadError::Unhandled (500).
constexpr std::string_view kStorageError = "Unhandled error occurred in storage: ";
// How long an unknown network name stays unknown before the model is asked again.
constexpr std::chrono::seconds kNetworkNameRetry{10};

// One row of a statement, values as PostgreSQL text (nullopt: NULL).
using Row = std::vector<std::optional<std::string>>;

// {"code":…,"message":…}, the sidecar's (and http::JsonError's) error shape.
SidecarReply Error(int status, std::string_view message) {
  SidecarReply reply;
  reply.status = status;
  reply.body = "{\"code\":" + std::to_string(status) + ",\"message\":";
  json::AppendString(reply.body, message);
  reply.body += "}";
  return reply;
}

// A decimal u64 (no sign, no spaces).
std::optional<std::uint64_t> ParseU64(std::string_view text) {
  std::uint64_t value = 0;
  if (text.empty() || !std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c) != 0; })) {
    return std::nullopt;
  }
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

SidecarReply BadPath() { return Error(400, kInvalidPath); }

// `expected` is one event type or alternatives separated by '|'.
bool TypeMatches(std::string_view key, std::string_view expected) {
  while (true) {
    const auto bar = expected.find('|');
    if (key == expected.substr(0, bar)) return true;
    if (bar == std::string_view::npos) return false;
    expected.remove_prefix(bar + 1);
  }
}

// The body of a single-key event object `{"<type>": <body>}`: the bytes of <body> exactly as stored,
// found without parsing it (the payload was validated as one JSON object with one key when stored).
// `key`: the type that matched.
std::optional<std::string_view> SliceBody(std::string_view payload, std::string_view type,
                                          std::string_view* key = nullptr) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  std::size_t i = 0;
  while (i < payload.size() && is_space(payload[i])) ++i;
  if (i == payload.size() || payload[i] != '{') return std::nullopt;
  ++i;
  while (i < payload.size() && is_space(payload[i])) ++i;
  if (i == payload.size() || payload[i] != '"') return std::nullopt;
  const std::size_t key_start = ++i;
  while (i < payload.size() && payload[i] != '"') i += payload[i] == '\\' ? 2 : 1;
  if (i >= payload.size()) return std::nullopt;
  if (!TypeMatches(payload.substr(key_start, i - key_start), type)) return std::nullopt;
  if (key) *key = payload.substr(key_start, i - key_start);
  ++i;
  while (i < payload.size() && is_space(payload[i])) ++i;
  if (i == payload.size() || payload[i] != ':') return std::nullopt;
  ++i;
  while (i < payload.size() && is_space(payload[i])) ++i;
  std::size_t end = payload.size();
  while (end > i && is_space(payload[end - 1])) --end;
  if (end <= i || payload[end - 1] != '}') return std::nullopt;
  --end;  // the root object's closing brace
  while (end > i && is_space(payload[end - 1])) --end;
  if (end <= i) return std::nullopt;
  return payload.substr(i, end - i);
}

// A Step body {"era_id":N,"execution_effects":…} (2.x) under the 1.x key the sidecar stores it with,
// {"era_id":N,"execution_effect":…}; a 1.x body is already so.
std::string StepBody(std::string_view body) {
  constexpr std::string_view kKey = "\"execution_effects\"";
  const std::size_t at = body.find(kKey);
  // Only the top-level key: what precedes it is `{"era_id":<digits>,` (a node writes era_id first).
  if (at == std::string_view::npos ||
      !std::all_of(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(at), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) || std::isspace(static_cast<unsigned char>(c)) ||
               std::string_view("{\"era_id:,").find(c) != std::string_view::npos;
      })) {
    return std::string(body);
  }
  std::string out;
  out.reserve(body.size());
  out.append(body.substr(0, at));
  out += "\"execution_effect\"";
  out.append(body.substr(at + kKey.size()));
  return out;
}

// What the sidecar answers for an event: the 2.x sidecar's payloads (kEnvelope: TransactionAccepted
// wrapped in {"transaction":…}, a Step under execution_effect, the rest the node's body), or the 1.x
// sidecar's raw bodies of the /deploy routes (kLegacy: the event's 1.x form, ces::legacy; a
// DeployAccepted as {"deploy":…}).
enum class Form { kEnvelope, kLegacy };

std::optional<std::string> SidecarPayload(std::string_view payload, const std::string& types, Form form) {
  std::string_view key;
  if (form == Form::kLegacy) {
    legacy::Translation t = legacy::ToLegacy(payload);
    if (t.outcome == legacy::Outcome::kDropped) return std::nullopt;
    const std::string one_x = t.outcome == legacy::Outcome::kTranslated ? std::move(t.payload) : std::string(payload);
    auto body = SliceBody(one_x, types, &key);
    if (!body) return std::nullopt;
    if (key == "DeployAccepted") return "{\"deploy\":" + std::string(*body) + "}";
    return std::string(*body);
  }
  auto body = SliceBody(payload, types, &key);
  if (!body) return std::nullopt;
  if (key == "TransactionAccepted") return "{\"transaction\":" + std::string(*body) + "}";
  if (key == "DeployAccepted") return "{\"transaction\":{\"Deploy\":" + std::string(*body) + "}}";  // a 1.x node's
  if (key == "Step") return StepBody(*body);
  return std::string(*body);
}

// The identity of the event a row came from (NULL columns: not recorded, see docs/schema.md).
struct Identity {
  std::string source;
  std::string stream;
  std::uint32_t event_id = 0;
  std::string api_version;
};

// Columns source, stream, event_id, api_version starting at `at`.
std::optional<Identity> IdentityAt(const Row& row, std::size_t at) {
  if (row.size() < at + 4 || !row[at] || !row[at + 1] || !row[at + 2]) return std::nullopt;
  auto id = ParseU64(*row[at + 2]);
  if (!id || *id > std::numeric_limits<std::uint32_t>::max()) return std::nullopt;
  return Identity{*row[at], *row[at + 1], static_cast<std::uint32_t>(*id), row[at + 3].value_or("")};
}

// Identity columns of a table ("event" prefix) or of a transaction event ("accepted", …).
std::string IdentityColumns(const std::string& prefix) {
  const std::string p = prefix == "event" ? "event_" : prefix + "_";
  return p + "source, " + p + "stream, " + (prefix == "event" ? "event_id" : p + "event_id") + ", " + p +
         "api_version";
}

// The event types whose body a transaction lookup serves: a deploy comes from a 1.x Deploy… event or a
// 2.x Transaction… event ({"Deploy":…}), a version1 transaction only from the latter. In the legacy
// form every deploy event is a Deploy… event.
std::string TransactionEventType(std::string_view event, std::string_view kind, Form form = Form::kEnvelope) {
  const std::string suffix = event == "accepted" ? "Accepted" : event == "processed" ? "Processed" : "Expired";
  if (form == Form::kLegacy) return "Deploy" + suffix;
  return kind == "deploy" ? "Deploy" + suffix + "|Transaction" + suffix : "Transaction" + suffix;
}

// The sidecar's transaction type segment, case-insensitive ("Deploy", "VERSION1", …): "deploy" or
// "version1"; nullopt for anything else.
std::optional<std::string> TransactionKind(std::string_view type) {
  std::string lower = text::ToLower(type);
  if (lower == "deploy" || lower == "version1") return lower;
  return std::nullopt;
}

}  // namespace

// ---- Bodies already served: an event's bytes never change for its identity ----

class BodyCache {
 public:
  explicit BodyCache(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  std::optional<std::string> Get(const std::string& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = bodies_.find(key);
    if (it == bodies_.end()) return std::nullopt;
    return it->second;
  }

  void Put(const std::string& key, std::string_view body) {
    const std::size_t size = key.size() + body.size() + 64;
    if (size > max_bytes_ / 8) return;  // a Step of megabytes would push everything else out
    std::lock_guard<std::mutex> lock(mutex_);
    if (!bodies_.emplace(key, std::string(body)).second) return;
    order_.push_back(key);
    bytes_ += size;
    while (bytes_ > max_bytes_ && !order_.empty()) {
      auto victim = bodies_.find(order_.front());
      if (victim != bodies_.end()) {
        bytes_ -= std::min(bytes_, victim->first.size() + victim->second.size() + 64);
        bodies_.erase(victim);
      }
      order_.pop_front();
    }
  }

 private:
  std::size_t max_bytes_;
  std::mutex mutex_;
  std::map<std::string, std::string> bodies_;
  std::deque<std::string> order_;
  std::size_t bytes_ = 0;
};

// ---- PostgreSQL: statements on the api's shared pool ----

// Runs one read-only statement (prepared once per connection, so the SQL text is fixed and the values
// are parameters). A statement that failed for another reason than its input is tried once more: the
// pool replaces a connection that broke (a server restart or failover in between).
bool RunQuery(query::Pool& pool, const std::string& sql, const std::vector<std::string>& params,
              std::vector<Row>& rows, std::string& error) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto lease = pool.Acquire(&error);
    if (!lease) return false;  // no connection within the pool timeout, or none could be opened
    query::ResultSet result;
    const query::QueryError failed = lease->Execute(sql, params, result);
    if (!failed) {
      rows.clear();
      rows.reserve(static_cast<std::size_t>(result.Rows()));
      for (int r = 0; r < result.Rows(); ++r) {
        Row& row = rows.emplace_back();
        row.reserve(static_cast<std::size_t>(result.Columns()));
        for (int c = 0; c < result.Columns(); ++c) {
          if (result.IsNull(r, c)) {
            row.emplace_back(std::nullopt);
          } else {
            row.emplace_back(std::string(result.Value(r, c)));
          }
        }
      }
      return true;
    }
    error = failed.message;
    if (failed.kind == common::ErrorKind::kBadData) return false;
  }
  return false;
}

struct SidecarApi::Impl {
  Impl(SidecarApiOptions o, std::unique_ptr<query::Pool> own, query::Pool& pool, mongo::AuditStore& s,
       metrics::Registry& r)
      : options(std::move(o)),
        owned_pool(std::move(own)),
        db(pool),
        store(s),
        log(s, options.cache_bytes),
        watcher(log, options.heads_interval),
        bodies(options.body_cache_bytes),
        db_errors(r.GetCounter("ces_api_sidecar_store_errors_total", "Store errors met by the sidecar routes",
                               {{"store", "postgres"}})),
        audit_errors(r.GetCounter("ces_api_sidecar_store_errors_total", "Store errors met by the sidecar routes",
                                  {{"store", "audit"}})),
        audit_misses(r.GetCounter("ces_api_sidecar_audit_misses_total",
                                  "Events indexed in PostgreSQL but not found in the audit store")),
        unidentified(r.GetCounter("ces_api_sidecar_unidentified_rows_total",
                                  "Rows without a recorded event identity (stored before migration 2)")) {}

  SidecarApiOptions options;
  std::unique_ptr<query::Pool> owned_pool;  // only without a shared pool (see the constructors)
  query::Pool& db;
  mongo::AuditStore& store;
  audit::StoreLogSource log;
  audit::HeadWatcher watcher;  // chain heads for lookups in the replay log (FerretDB)
  BodyCache bodies;
  std::mutex names_mutex;
  // source -> (network name, when an unknown one is looked up again)
  std::map<std::string, std::pair<std::string, std::chrono::steady_clock::time_point>> network_names;
  std::mutex detect_mutex;
  bool detected = false;
  metrics::Counter& db_errors;
  metrics::Counter& audit_errors;
  metrics::Counter& audit_misses;
  metrics::Counter& unidentified;

  // Rows of `sql` with `params` ($1, …), or a 503 reply.
  std::optional<SidecarReply> Select(const std::string& sql, const std::vector<std::string>& params,
                                     std::vector<Row>& rows) {
    std::string error;
    if (RunQuery(db, sql, params, rows, error)) return std::nullopt;
    db_errors.Inc();
    log::Warn("postgresql query failed", {{"error", error}});
    return Error(500, std::string(kStorageError) + "PostgreSQL: " + error);
  }

  bool EnsureDetected(std::string& error) {
    std::lock_guard<std::mutex> lock(detect_mutex);
    if (detected) return true;
    mongo::Status status = store.DetectServer();
    if (!status.ok) {
      error = status.message;
      return false;
    }
    detected = true;
    return true;
  }

  // The network a source's events belong to: --network-name when given, else the node's chainspec
  // name as its events carry it (the chain_name of the transactions it accepted: a node accepts only
  // transactions of its own chain), else that of any stored transaction; "" while none is stored.
  std::string NetworkName(const std::string& source) {
    if (!options.network_name.empty()) return options.network_name;
    const auto now = std::chrono::steady_clock::now();
    {
      std::lock_guard<std::mutex> lock(names_mutex);
      auto it = network_names.find(source);
      if (it != network_names.end() && (!it->second.first.empty() || now < it->second.second)) return it->second.first;
    }
    std::string name;
    std::vector<Row> rows;
    std::string error;
    const std::pair<const char*, std::vector<std::string>> queries[] = {
        {"SELECT chain_name FROM transactions WHERE accepted_source = $1 AND chain_name IS NOT NULL LIMIT 1", {source}},
        {"SELECT chain_name FROM transactions WHERE chain_name IS NOT NULL LIMIT 1", {}}};
    for (const auto& [sql, params] : queries) {
      if (RunQuery(db, sql, params, rows, error) && !rows.empty() && rows[0][0]) {
        name = *rows[0][0];
        break;
      }
    }
    std::lock_guard<std::mutex> lock(names_mutex);
    network_names[source] = {name, now + kNetworkNameRetry};
    return name;
  }

  std::string Envelope(const Identity& id, std::string_view body) {
    const std::string network = NetworkName(id.source);
    std::string out;
    out.reserve(body.size() + 96 + network.size());
    out += "{\"header\":{\"api_version\":";
    json::AppendString(out, id.api_version);
    out += ",\"network_name\":";
    json::AppendString(out, network);
    out += "},\"payload\":";
    out += body;
    out += "}";
    return out;
  }

  // The answer for one event: the envelope, or (legacy) the raw body.
  std::string Answer(const Identity& id, std::string_view body, Form form) {
    return form == Form::kLegacy ? std::string(body) : Envelope(id, body);
  }

  // The answers (SidecarPayload in `form`, enveloped unless legacy) for the events `ids` (of the types
  // `types`, same order), grouped by (source, stream) for one walk each. A missing event leaves its
  // answer empty (counted); a store error is the sidecar's 500.
  std::optional<SidecarReply> Envelopes(const std::vector<Identity>& ids, const std::vector<std::string>& types,
                                        std::vector<std::string>& out, Form form = Form::kEnvelope) {
    out.assign(ids.size(), std::string());
    std::string error;
    if (!EnsureDetected(error)) {
      audit_errors.Inc();
      return Error(500, std::string(kStorageError) + "the audit store: " + error);
    }
    std::map<std::pair<std::string, std::string>, std::vector<std::size_t>> groups;
    std::vector<std::string> keys(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      keys[i] = ids[i].source + " " + ids[i].stream + " " + std::to_string(ids[i].event_id) + " " + types[i] +
                (form == Form::kLegacy ? " legacy" : "");
      if (auto body = bodies.Get(keys[i])) {
        out[i] = Answer(ids[i], *body, form);
      } else {
        groups[{ids[i].source, ids[i].stream}].push_back(i);
      }
    }
    // FerretDB: the replay log is read up to the chain heads last polled; an event stored after that
    // poll is looked for again with fresh heads.
    const bool ferret = store.server_kind() == mongo::ServerKind::kFerretDb;
    std::optional<std::vector<mongo::ChainHead>> heads;
    bool fresh = false;
    if (ferret) {
      auto snapshot = watcher.Current();
      if (snapshot.ok) heads = std::move(snapshot.heads);
    }
    for (const auto& [key, members] : groups) {
      std::vector<std::uint32_t> event_ids;
      for (std::size_t i : members) event_ids.push_back(ids[i].event_id);
      mongo::Result<std::map<std::uint32_t, mongo::EventRecord>> found;
      for (int attempt = 0; attempt < 2; ++attempt) {
        if (ferret && (!heads || attempt > 0)) {
          if (fresh) break;
          auto chains = log.ListChains();
          if (!chains.ok()) {
            audit_errors.Inc();
            return Error(500, std::string(kStorageError) + "the audit store: " + chains.status.message);
          }
          heads = std::move(chains.value);
          fresh = true;
        }
        found = audit::FindEvents(store, log, heads ? &*heads : nullptr, key.first, key.second, event_ids);
        if (!found.ok()) {
          audit_errors.Inc();
          return Error(500, std::string(kStorageError) + "the audit store: " + found.status.message);
        }
        if (!ferret || fresh || found.value.size() == event_ids.size()) break;
      }
      for (std::size_t i : members) {
        auto it = found.value.find(ids[i].event_id);
        std::optional<std::string> body;
        if (it != found.value.end()) body = SidecarPayload(it->second.payload, types[i], form);
        if (!body) {
          audit_misses.Inc();
          log::Warn("event indexed in postgresql not found in the audit store",
                    {{"source", ids[i].source}, {"stream", ids[i].stream}, {"event_id", ids[i].event_id},
                     {"event_type", types[i]}});
          continue;
        }
        bodies.Put(keys[i], *body);
        out[i] = Answer(ids[i], *body, form);
      }
    }
    return std::nullopt;
  }

  // One event's answer, or the reply to send instead (404 when it cannot be served: the row predates
  // its identity, or the audit store does not have the event yet; counted, the body is the sidecar's).
  SidecarReply One(const std::optional<Identity>& id, const std::string& type, Form form = Form::kEnvelope) {
    if (!id) {
      unidentified.Inc();
      return Error(404, kNoResults);
    }
    std::vector<std::string> out;
    if (auto failed = Envelopes({*id}, {type}, out, form)) return *failed;
    if (out[0].empty()) return Error(404, kNoResults);
    return {200, std::move(out[0]), {}};
  }

  // A JSON array of the envelopes of rows whose identity starts at column 0.
  SidecarReply Many(const std::vector<Row>& rows, const std::string& type) {
    std::vector<Identity> ids;
    for (const auto& row : rows) {
      if (auto id = IdentityAt(row, 0)) {
        ids.push_back(std::move(*id));
      } else {
        unidentified.Inc();
      }
    }
    if (ids.empty()) return Error(404, kNoResults);
    std::vector<std::string> out;
    if (auto failed = Envelopes(ids, std::vector<std::string>(ids.size(), type), out)) return *failed;
    std::string body = "[";
    bool first = true;
    for (auto& e : out) {
      if (e.empty()) continue;
      if (!first) body += ",";
      first = false;
      body += e;
    }
    body += "]";
    if (first) return Error(404, kNoResults);
    return {200, std::move(body), {}};
  }

  // A transaction's events: the 2.x sidecar's {transaction_hash, transaction_accepted,
  // transaction_processed, transaction_expired} (envelopes), or the 1.x sidecar's {deploy_hash,
  // deploy_accepted, deploy_processed, deploy_expired} (legacy bodies). `kind`: "deploy" | "version1".
  SidecarReply Aggregate(const std::string& hash, const std::string& kind, Form form) {
    std::vector<Row> rows;
    if (auto failed = Select("SELECT " + IdentityColumns("accepted") + ", " + IdentityColumns("processed") +
                                 ", (expired_event_id IS NOT NULL OR status = 'expired')::text"
                                 " FROM transactions WHERE transaction_hash = $1 AND kind = $2",
                             {hash, kind}, rows)) {
      return *failed;
    }
    if (rows.empty()) return Error(404, kNoResults);
    // What is known: an Accepted event that was never seen (or not identified) gives null, unlike the
    // sidecar, which answers 404 then (docs/api-sidecar.md).
    std::vector<Identity> ids;
    std::vector<std::string> types;
    std::optional<std::size_t> accepted_at, processed_at;
    if (auto a = IdentityAt(rows[0], 0)) {
      accepted_at = ids.size();
      ids.push_back(std::move(*a));
      types.push_back(TransactionEventType("accepted", kind, form));
    }
    if (auto p = IdentityAt(rows[0], 4)) {
      processed_at = ids.size();
      ids.push_back(std::move(*p));
      types.push_back(TransactionEventType("processed", kind, form));
    }
    std::vector<std::string> answers;
    if (!ids.empty()) {
      if (auto failed = Envelopes(ids, types, answers, form)) return *failed;
    }
    auto part = [&](const std::optional<std::size_t>& at) {
      return at && !answers[*at].empty() ? answers[*at] : std::string("null");
    };
    const std::string name = form == Form::kLegacy ? "deploy" : "transaction";
    std::string body = "{\"" + name + "_hash\":";
    json::AppendString(body, hash);
    body += ",\"" + name + "_accepted\":" + part(accepted_at);
    body += ",\"" + name + "_processed\":" + part(processed_at);
    body += ",\"" + name + "_expired\":" + std::string(rows[0][8].value_or("false") == "true" ? "true" : "false");
    body += "}";
    return {200, std::move(body), {}};
  }

  // One event of a transaction: `event` "accepted" | "processed" | "expired".
  SidecarReply TransactionEventOf(std::string_view event, const std::string& hash, const std::string& kind, Form form) {
    const std::string prefix(event);
    std::vector<Row> rows;
    if (auto failed = Select("SELECT " + IdentityColumns(prefix) +
                                 " FROM transactions WHERE transaction_hash = $1 AND kind = $2 AND " + prefix +
                                 "_event_id IS NOT NULL",
                             {hash, kind}, rows)) {
      return *failed;
    }
    if (rows.empty()) return Error(404, kNoResults);
    return One(IdentityAt(rows[0], 0), TransactionEventType(event, kind, form), form);
  }

  // `where`: a fixed clause; `params`: its values ($1, …).
  SidecarReply BlockWhere(const std::string& where, const std::vector<std::string>& params) {
    std::vector<Row> rows;
    if (auto failed = Select("SELECT " + IdentityColumns("event") + " FROM blocks " + where + " LIMIT 1", params, rows)) {
      return *failed;
    }
    if (rows.empty()) return Error(404, kNoResults);
    return One(IdentityAt(rows[0], 0), "BlockAdded");
  }
};

SidecarApi::SidecarApi(SidecarApiOptions options, query::Pool& pool, mongo::AuditStore& store,
                       metrics::Registry& registry)
    : impl_(std::make_unique<Impl>(std::move(options), nullptr, pool, store, registry)) {}

namespace {

std::unique_ptr<query::Pool> OwnPool(const SidecarApiOptions& options, std::string uri, metrics::Registry& registry) {
  query::PoolOptions pool_options;
  pool_options.uri = std::move(uri);
  pool_options.size = options.postgres_connections;
  return std::make_unique<query::Pool>(std::move(pool_options), &registry);
}

}  // namespace

SidecarApi::SidecarApi(SidecarApiOptions options, std::string postgres_uri, mongo::AuditStore& store,
                       metrics::Registry& registry) {
  auto pool = OwnPool(options, std::move(postgres_uri), registry);
  query::Pool& shared = *pool;
  impl_ = std::make_unique<Impl>(std::move(options), std::move(pool), shared, store, registry);
}

SidecarApi::~SidecarApi() = default;

void SidecarApi::Start() {
  std::vector<Row> rows;
  std::string error;
  if (!RunQuery(impl_->db, "SELECT 1", {}, rows, error)) {
    log::Warn("postgresql not reachable yet; the sidecar routes will keep trying", {{"error", error}});
  }
  if (!impl_->EnsureDetected(error)) {
    log::Warn("the audit store is not reachable yet; the sidecar routes will keep trying", {{"error", error}});
  }
  impl_->watcher.PollOnce();
  impl_->watcher.Start();
}

void SidecarApi::Stop() {
  impl_->watcher.Stop();
  if (impl_->owned_pool) impl_->owned_pool->Close();  // a shared pool is closed by its owner
}

bool SidecarApi::Ready(std::string& reason) {
  std::vector<Row> rows;
  std::string error;
  if (!RunQuery(impl_->db, "SELECT 1", {}, rows, error)) {
    reason = "postgresql unavailable: " + error;
    return false;
  }
  if (!impl_->EnsureDetected(error)) {
    reason = "mongodb unavailable: " + error;
    return false;
  }
  return true;
}

SidecarReply SidecarApi::LatestBlock() { return impl_->BlockWhere("ORDER BY height DESC", {}); }

SidecarReply SidecarApi::Block(std::string_view hash_or_height) {
  if (text::IsHexOfLength(hash_or_height, 64)) {
    const std::string hash = text::ToLower(hash_or_height);
    SidecarReply reply = impl_->BlockWhere("WHERE block_hash = $1", {hash});
    if (reply.status == 200) {
      // The stored copy of a block never changes (first writer wins).
      reply.headers = {{"ETag", "\"sidecar-" + hash + "\""}, {"Cache-Control", "public, max-age=31536000, immutable"}};
    }
    return reply;
  }
  auto height = ParseU64(hash_or_height);
  if (!height) return BadPath();
  if (*height > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return Error(404, kNoResults);
  return impl_->BlockWhere("WHERE height = $1", {std::to_string(*height)});
}

namespace {

// The transaction kind ("deploy" | "version1") of a valid type segment and hash; nullopt: a 400.
std::optional<std::string> CheckTransaction(std::string_view type, std::string_view hash) {
  auto kind = TransactionKind(type);
  if (!kind || !text::IsHexOfLength(hash, 64)) return std::nullopt;
  return kind;
}

}  // namespace

SidecarReply SidecarApi::Transaction(std::string_view type_segment, std::string_view hash) {
  const auto kind = CheckTransaction(type_segment, hash);
  if (!kind) return BadPath();
  return impl_->Aggregate(text::ToLower(hash), *kind, Form::kEnvelope);
}

SidecarReply SidecarApi::TransactionEvent(std::string_view event, std::string_view type_segment,
                                          std::string_view hash) {
  const auto kind = CheckTransaction(type_segment, hash);
  if ((event != "accepted" && event != "processed" && event != "expired") || !kind) return BadPath();
  return impl_->TransactionEventOf(event, text::ToLower(hash), *kind, Form::kEnvelope);
}

SidecarReply SidecarApi::Faults(std::string_view public_key_or_era) {
  std::string where;
  std::string value;
  if (text::IsHexOfLength(public_key_or_era, 66) || text::IsHexOfLength(public_key_or_era, 68)) {
    where = "public_key = $1";
    value = text::ToLower(public_key_or_era);
  } else if (auto era = ParseU64(public_key_or_era)) {
    if (*era > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return Error(404, kNoResults);
    where = "era_id = $1";
    value = std::to_string(*era);
  } else {
    return BadPath();
  }
  std::vector<Row> rows;
  if (auto failed = impl_->Select("SELECT " + IdentityColumns("event") + " FROM faults WHERE " + where +
                                      " ORDER BY era_id, public_key",
                                  {value}, rows)) {
    return *failed;
  }
  return impl_->Many(rows, "Fault");
}

SidecarReply SidecarApi::Signatures(std::string_view block_hash) {
  if (!text::IsHexOfLength(block_hash, 64)) return BadPath();
  std::vector<Row> rows;
  if (auto failed = impl_->Select("SELECT " + IdentityColumns("event") +
                                      " FROM finality_signatures WHERE block_hash = $1 ORDER BY public_key",
                                  {text::ToLower(block_hash)}, rows)) {
    return *failed;
  }
  return impl_->Many(rows, "FinalitySignature");
}

SidecarReply SidecarApi::Step(std::string_view era) {
  auto id = ParseU64(era);
  if (!id) return BadPath();
  if (*id > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return Error(404, kNoResults);
  std::vector<Row> rows;
  if (auto failed = impl_->Select("SELECT " + IdentityColumns("event") + " FROM steps WHERE era_id = $1",
                                  {std::to_string(*id)}, rows)) {
    return *failed;
  }
  if (rows.empty()) return Error(404, kNoResults);
  return impl_->One(IdentityAt(rows[0], 0), "Step");
}

SidecarReply SidecarApi::Deploy(std::string_view hash) {
  if (!text::IsHexOfLength(hash, 64)) return BadPath();
  return impl_->Aggregate(text::ToLower(hash), "deploy", Form::kLegacy);
}

SidecarReply SidecarApi::DeployEvent(std::string_view event, std::string_view hash) {
  if ((event != "accepted" && event != "processed" && event != "expired") || !text::IsHexOfLength(hash, 64)) return BadPath();
  return impl_->TransactionEventOf(event, text::ToLower(hash), "deploy", Form::kLegacy);
}

SidecarReply SidecarApi::Status() {
  return {200, "{\"version\":\"" + std::string(common::kVersion) + "\"}", {}};
}

SidecarReply SidecarApi::InvalidPath() { return BadPath(); }

}  // namespace ces::api
