#include "ces/query/engine.hpp"

#include <functional>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "ces/common/metrics.hpp"
#include "ces/query/values.hpp"

namespace ces::query {

const std::string* Args::Path(std::string_view name) const {
  if (!path) return nullptr;
  auto it = path->find(std::string(name));
  return it == path->end() ? nullptr : &it->second;
}

const std::string* Args::Query(std::string_view name) const {
  if (!query) return nullptr;
  for (const auto& [k, v] : *query) {
    if (k == name) return &v;
  }
  return nullptr;
}

std::string ErrorJson(int status, std::string_view message, std::string_view parameter) {
  std::string out = "{\"code\":" + std::to_string(status) + ",\"message\":";
  AppendJsonString(out, message);
  if (!parameter.empty()) {
    out += ",\"parameter\":";
    AppendJsonString(out, parameter);
  }
  out += "}";
  return out;
}

namespace {

enum class Kind { kText, kInt, kNum, kTime, kBool, kRaw };

struct Col {
  const char* json;
  const char* sql;
  Kind kind;
};

struct Order {
  const char* name;
  const char* sql;  // nullptr: the keyset order (key[0])
};

struct KeyPart {
  const char* sql;
  const char* cast;  // "timestamptz", "bigint", "integer", "text"
};

struct ListSpec {
  const char* from;
  std::vector<Col> cols;
  std::vector<Order> orders;  // order_by whitelist
  const char* default_order;
  std::vector<KeyPart> key;   // keyset key (unique); also the tie-break of every order
  const char* time_col = nullptr;
  const char* default_dir = "DESC";
};

// WHERE conditions with their $n parameters.
struct Filter {
  std::vector<std::string> where;
  std::vector<std::string> params;
  std::string Param(std::string value) {
    params.push_back(std::move(value));
    return "$" + std::to_string(params.size());
  }
  std::string Where() const {
    std::string out;
    for (std::size_t i = 0; i < where.size(); ++i) out += (i ? " AND " : " WHERE ") + where[i];
    return out;
  }
};

Response Error(int status, std::string_view message, std::string_view parameter = {}) {
  return Response{status, ErrorJson(status, message, parameter), {}, {}};
}

Response Unavailable(std::string_view message) { return Error(503, std::string("database unavailable: ") + std::string(message)); }

void AppendValue(std::string& out, const ResultSet& rs, int row, int col, Kind kind) {
  if (rs.IsNull(row, col)) {
    out += "null";
    return;
  }
  const std::string_view v = rs.Value(row, col);
  switch (kind) {
    case Kind::kText:
    case Kind::kNum: AppendJsonString(out, v); break;
    case Kind::kInt:
    case Kind::kRaw: out.append(v); break;
    case Kind::kTime: AppendJsonTime(out, v); break;
    case Kind::kBool: out += (v == "t" ? "true" : "false"); break;
  }
}

void AppendObject(std::string& out, const std::vector<Col>& cols, const ResultSet& rs, int row) {
  out.push_back('{');
  for (std::size_t c = 0; c < cols.size(); ++c) {
    if (c) out.push_back(',');
    out.push_back('"');
    out += cols[c].json;
    out += "\":";
    AppendValue(out, rs, row, static_cast<int>(c), cols[c].kind);
  }
  out.push_back('}');
}

std::string SelectList(const std::vector<Col>& cols) {
  std::string out;
  for (std::size_t i = 0; i < cols.size(); ++i) {
    if (i) out += ", ";
    out += cols[i].sql;
  }
  return out;
}

std::string Fnv(std::string_view data) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (int i = 60; i >= 0; i -= 4) out.push_back(kHex[(h >> i) & 15]);
  out.push_back('"');
  return out;
}

// ---- the model's JSON shapes ------------------------------------------------------------------

const std::vector<Col>& BlockCols() {
  static const std::vector<Col> k = {
      {"blockHash", "b.block_hash", Kind::kText},
      {"parentHash", "b.parent_hash", Kind::kText},
      {"timestamp", "b.timestamp", Kind::kTime},
      {"state", "b.state_root_hash", Kind::kText},
      {"deployCount", "b.deploy_count", Kind::kInt},
      {"transferCount", "b.transfer_count", Kind::kInt},
      {"eraId", "b.era_id", Kind::kInt},
      {"proposer", "b.proposer", Kind::kText},
      {"blockHeight", "b.height", Kind::kInt},
      {"transactionCount", "b.transaction_count", Kind::kInt},
      {"bodyHash", "b.body_hash", Kind::kText},
      {"accumulatedSeed", "b.accumulated_seed", Kind::kText},
      {"randomBit", "b.random_bit", Kind::kBool},
      {"protocolVersion", "b.protocol_version", Kind::kText},
      {"isSwitchBlock", "b.is_switch_block", Kind::kBool},
      {"blockVersion", "b.block_version", Kind::kInt},
      {"currentGasPrice", "b.current_gas_price", Kind::kInt},
      {"lastSwitchBlockHash", "b.last_switch_block_hash", Kind::kText},
  };
  return k;
}

ListSpec BlockList() {
  return {"blocks b",
          BlockCols(),
          {{"timestamp", nullptr}, {"blockHeight", "b.height"}, {"eraId", "b.era_id"}, {"deployCount", "b.deploy_count"},
           {"transferCount", "b.transfer_count"}},
          "timestamp",
          {{"b.timestamp", "timestamptz"}, {"b.block_hash", "text"}},
          "b.timestamp"};
}

constexpr const char* kTxTime = "coalesce(x.timestamp, '-infinity'::timestamptz)";

const std::vector<Col>& DeployCols() {
  static const std::vector<Col> k = {
      {"deployHash", "x.transaction_hash", Kind::kText},
      {"blockHash", "x.block_hash", Kind::kText},
      {"account", "x.initiator_public_key", Kind::kText},
      {"cost", "x.cost", Kind::kNum},
      {"errorMessage", "x.error_message", Kind::kText},
      {"timestamp", "x.timestamp", Kind::kTime},
      {"status", "x.status", Kind::kText},
      {"success", "x.success", Kind::kBool},
      {"accountHash", "x.initiator_account_hash", Kind::kText},
      {"paymentAmount", "x.payment_amount", Kind::kNum},
      {"gasPrice", "x.gas_price", Kind::kInt},
      {"chainName", "x.chain_name", Kind::kText},
      {"ttl", "x.ttl::text", Kind::kText},
      {"entryPoint", "x.entry_point", Kind::kText},
      {"target", "x.target", Kind::kText},
      {"transferCount", "x.transfer_count", Kind::kInt},
  };
  return k;
}

const std::vector<Col>& TransactionCols() {
  static const std::vector<Col> k = {
      {"transactionHash", "x.transaction_hash", Kind::kText},
      {"kind", "x.kind", Kind::kText},
      {"status", "x.status", Kind::kText},
      {"accepted", "x.accepted", Kind::kBool},
      {"blockHash", "x.block_hash", Kind::kText},
      {"initiatorPublicKey", "x.initiator_public_key", Kind::kText},
      {"initiatorAccountHash", "x.initiator_account_hash", Kind::kText},
      {"timestamp", "x.timestamp", Kind::kTime},
      {"ttl", "x.ttl::text", Kind::kText},
      {"chainName", "x.chain_name", Kind::kText},
      {"pricingMode", "x.pricing_mode", Kind::kText},
      {"gasPrice", "x.gas_price", Kind::kInt},
      {"gasPriceTolerance", "x.gas_price_tolerance", Kind::kInt},
      {"paymentAmount", "x.payment_amount", Kind::kNum},
      {"entryPoint", "x.entry_point", Kind::kText},
      {"target", "x.target", Kind::kText},
      {"targetId", "x.target_id", Kind::kText},
      {"approvalsCount", "x.approvals_count", Kind::kInt},
      {"executionVersion", "x.execution_version", Kind::kInt},
      {"success", "x.success", Kind::kBool},
      {"errorMessage", "x.error_message", Kind::kText},
      {"gasLimit", "x.gas_limit", Kind::kNum},
      {"consumed", "x.consumed", Kind::kNum},
      {"cost", "x.cost", Kind::kNum},
      {"refund", "x.refund", Kind::kNum},
      {"currentPrice", "x.current_price", Kind::kInt},
      {"sizeEstimate", "x.size_estimate", Kind::kInt},
      {"transferCount", "x.transfer_count", Kind::kInt},
  };
  return k;
}

ListSpec TransactionList(bool deploys) {
  return {deploys ? "transactions x" : "transactions x",
          deploys ? DeployCols() : TransactionCols(),
          {{"timestamp", nullptr}},
          "timestamp",
          {{kTxTime, "timestamptz"}, {"x.transaction_hash", "text"}},
          "x.timestamp"};
}

ListSpec TransferList() {
  return {"transfers t",
          {{"transferId", "t.transfer_id", Kind::kNum},
           {"transferHash", "t.transfer_addr", Kind::kText},
           {"deployHash", "t.transaction_hash", Kind::kText},
           {"blockHash", "t.block_hash", Kind::kText},
           {"fromAccount", "t.from_account_hash", Kind::kText},
           {"toAccount", "t.to_account_hash", Kind::kText},
           {"sourcePurse", "t.source_purse", Kind::kText},
           {"targetPurse", "t.target_purse", Kind::kText},
           {"amount", "t.amount", Kind::kNum},
           {"timestamp", "t.timestamp", Kind::kTime},
           {"transactionHash", "t.transaction_hash", Kind::kText},
           {"transferIndex", "t.transfer_index", Kind::kInt},
           {"version", "t.version", Kind::kInt},
           {"fromPublicKey", "t.from_public_key", Kind::kText},
           {"gas", "t.gas", Kind::kNum}},
          {{"timestamp", nullptr}, {"fromAccount", "t.from_account_hash"}, {"toAccount", "t.to_account_hash"},
           {"transferId", "t.transfer_id"}, {"amount", "t.amount"}},
          "timestamp",
          {{"coalesce(t.timestamp, '-infinity'::timestamptz)", "timestamptz"}, {"t.transaction_hash", "text"},
           {"t.transfer_index", "integer"}},
          "t.timestamp"};
}

ListSpec EraValidatorList() {
  return {"era_validators v",
          {{"eraId", "v.era_id", Kind::kInt},
           {"publicKey", "v.public_key", Kind::kText},
           {"weight", "v.weight", Kind::kNum},
           {"rewards", "v.era_report_reward", Kind::kNum},
           {"hasEquivocation", "v.is_equivocator", Kind::kBool},
           {"wasActive", "NOT v.is_inactive", Kind::kBool}},
          {{"eraId", nullptr}, {"id", nullptr}, {"publicKey", "v.public_key"}, {"weight", "v.weight"},
           {"rewards", "v.era_report_reward"}},
          "eraId",
          {{"v.era_id", "bigint"}, {"v.public_key", "text"}},
          nullptr};
}

ListSpec ValidatorRewardList() {
  return {"validator_rewards r LEFT JOIN eras e ON e.era_id = r.era_id",
          {{"eraId", "r.era_id", Kind::kInt},
           {"publicKey", "r.public_key", Kind::kText},
           {"amount", "r.amount", Kind::kNum},
           {"timestamp", "e.end_timestamp", Kind::kTime},
           {"rewardIndex", "r.reward_index", Kind::kInt},
           {"source", "r.source", Kind::kText},
           {"switchBlockHash", "r.switch_block_hash", Kind::kText},
           {"rewardsStatus", "e.rewards_status", Kind::kText}},
          {{"timestamp", nullptr}, {"eraId", nullptr}, {"amount", "r.amount"}},
          "timestamp",
          {{"r.era_id", "bigint"}, {"r.reward_index", "integer"}},
          "e.end_timestamp"};
}

ListSpec DelegatorRewardList() {
  return {"delegator_rewards r LEFT JOIN eras e ON e.era_id = r.era_id",
          {{"eraId", "r.era_id", Kind::kInt},
           {"publicKey", "r.delegator_public_key", Kind::kText},
           {"validatorPublicKey", "r.validator_public_key", Kind::kText},
           {"amount", "r.amount", Kind::kNum},
           {"timestamp", "e.end_timestamp", Kind::kTime},
           {"source", "r.source", Kind::kText},
           {"switchBlockHash", "r.switch_block_hash", Kind::kText},
           {"rewardsStatus", "coalesce(e.delegator_rewards_status, e.rewards_status)", Kind::kText}},
          {{"timestamp", nullptr}, {"eraId", nullptr}, {"amount", "r.amount"}},
          "timestamp",
          {{"r.era_id", "bigint"}, {"r.validator_public_key", "text"}},
          "e.end_timestamp"};
}

ListSpec FaultList() {
  return {"faults f",
          {{"eraId", "f.era_id", Kind::kInt}, {"publicKey", "f.public_key", Kind::kText},
           {"timestamp", "f.timestamp", Kind::kTime}},
          {{"eraId", nullptr}, {"timestamp", "f.timestamp"}},
          "eraId",
          {{"f.era_id", "bigint"}, {"f.public_key", "text"}},
          "f.timestamp"};
}

ListSpec SignatureList() {
  return {"finality_signatures s",
          {{"blockHash", "s.block_hash", Kind::kText},
           {"publicKey", "s.public_key", Kind::kText},
           {"eraId", "s.era_id", Kind::kInt},
           {"blockHeight", "s.block_height", Kind::kInt},
           {"chainNameHash", "s.chain_name_hash", Kind::kText},
           {"signature", "s.signature", Kind::kText},
           {"version", "s.version", Kind::kInt}},
          {{"publicKey", nullptr}},
          "publicKey",
          {{"s.public_key", "text"}},
          nullptr,
          "ASC"};
}

const std::vector<Col>& EraCols() {
  static const std::vector<Col> k = {
      {"eraId", "e.era_id", Kind::kInt},
      {"firstBlockHeight", "e.first_block_height", Kind::kInt},
      {"firstBlockHash",
       "(SELECT fb.block_hash FROM blocks fb WHERE fb.height = e.first_block_height ORDER BY fb.block_hash LIMIT 1)",
       Kind::kText},
      {"lastBlockHeight", "e.last_block_height", Kind::kInt},
      {"lastBlockHash", "e.last_block_hash", Kind::kText},
      {"endTimestamp", "e.end_timestamp", Kind::kTime},
      {"protocolVersion", "e.protocol_version", Kind::kText},
      {"nextEraGasPrice", "e.next_era_gas_price", Kind::kInt},
      {"rewardsStatus", "e.rewards_status", Kind::kText},
      {"rewardsSource", "e.rewards_source", Kind::kText},
      {"delegatorRewardsStatus", "e.delegator_rewards_status", Kind::kText},
      {"validatorCount", "(SELECT count(*) FROM era_validators ev WHERE ev.era_id = e.era_id)", Kind::kInt},
      {"totalRewards",
       "CASE WHEN e.rewards_status = 'complete' THEN "
       "coalesce((SELECT sum(vr.amount) FROM validator_rewards vr WHERE vr.era_id = e.era_id), 0) + "
       "coalesce((SELECT sum(dr.amount) FROM delegator_rewards dr WHERE dr.era_id = e.era_id), 0) END",
       Kind::kNum},
  };
  return k;
}

ListSpec EraList() { return {"eras e", EraCols(), {{"eraId", nullptr}}, "eraId", {{"e.era_id", "bigint"}}, "e.end_timestamp"}; }

// The latest bid row per validator (current stake).
constexpr const char* kLatestValidatorBids =
    "(SELECT DISTINCT ON (validator_public_key) * FROM bids WHERE kind IN ('validator', 'unified') "
    "AND validator_public_key IS NOT NULL "
    "ORDER BY validator_public_key, timestamp DESC NULLS LAST, transaction_hash DESC, effect_index DESC, entry_index) vb";

const std::vector<Col>& ValidatorBidCols() {
  static const std::vector<Col> k = {
      {"publicKey", "vb.validator_public_key", Kind::kText},
      {"stakedAmount", "vb.staked_amount", Kind::kNum},
      {"delegationRate", "vb.delegation_rate", Kind::kInt},
      {"inactive", "vb.inactive", Kind::kBool},
      {"bondingPurse", "vb.bonding_purse", Kind::kText},
      {"bidKey", "vb.bid_key", Kind::kText},
      {"transactionHash", "vb.transaction_hash", Kind::kText},
      {"blockHash", "vb.block_hash", Kind::kText},
      {"timestamp", "vb.timestamp", Kind::kTime},
  };
  return k;
}

ListSpec ValidatorBidList() {
  return {kLatestValidatorBids, ValidatorBidCols(), {{"publicKey", nullptr}, {"stakedAmount", "vb.staked_amount"}},
          "publicKey", {{"vb.validator_public_key", "text"}}, "vb.timestamp", "ASC"};
}

// The latest delegation row per (delegator, validator); filtered by the caller.
std::string LatestDelegations(const std::string& where) {
  return "(SELECT DISTINCT ON (coalesce(delegator_public_key, delegator_purse), validator_public_key) * FROM bids "
         "WHERE kind = 'delegator' AND " +
         where +
         " ORDER BY coalesce(delegator_public_key, delegator_purse), validator_public_key, timestamp DESC NULLS LAST, "
         "transaction_hash DESC, effect_index DESC, entry_index DESC) d";
}

const std::vector<Col>& DelegationCols() {
  static const std::vector<Col> k = {
      {"delegatorPublicKey", "d.delegator_public_key", Kind::kText},
      {"delegatorPurse", "d.delegator_purse", Kind::kText},
      {"validatorPublicKey", "d.validator_public_key", Kind::kText},
      {"stakedAmount", "d.staked_amount", Kind::kNum},
      {"bondingPurse", "d.bonding_purse", Kind::kText},
      {"bidKey", "d.bid_key", Kind::kText},
      {"transactionHash", "d.transaction_hash", Kind::kText},
      {"blockHash", "d.block_hash", Kind::kText},
      {"timestamp", "d.timestamp", Kind::kTime},
  };
  return k;
}

ListSpec WithdrawalList() {
  return {"withdrawals w",
          {{"withdrawalKey", "w.withdrawal_key", Kind::kText},
           {"kind", "w.kind", Kind::kText},
           {"validatorPublicKey", "w.validator_public_key", Kind::kText},
           {"unbonderPublicKey", "w.unbonder_public_key", Kind::kText},
           {"unbonderPurse", "w.unbonder_purse", Kind::kText},
           {"bondingPurse", "w.bonding_purse", Kind::kText},
           {"amount", "w.amount", Kind::kNum},
           {"eraOfCreation", "w.era_of_creation", Kind::kInt},
           {"newValidator", "w.new_validator", Kind::kText},
           {"transactionHash", "w.transaction_hash", Kind::kText},
           {"blockHash", "w.block_hash", Kind::kText},
           {"timestamp", "w.timestamp", Kind::kTime}},
          {{"timestamp", nullptr}, {"amount", "w.amount"}, {"eraOfCreation", "w.era_of_creation"}},
          "timestamp",
          {{"coalesce(w.timestamp, '-infinity'::timestamptz)", "timestamptz"}, {"w.transaction_hash", "text"},
           {"w.effect_index", "integer"}, {"w.entry_index", "integer"}},
          "w.timestamp"};
}

ListSpec BlockTransactionList() {
  return {"block_transactions bt LEFT JOIN transactions x ON x.transaction_hash = bt.transaction_hash",
          {{"position", "bt.position", Kind::kInt},
           {"transactionHash", "bt.transaction_hash", Kind::kText},
           {"kind", "bt.transaction_kind", Kind::kText},
           {"lane", "bt.lane", Kind::kInt},
           {"nativeTransfer", "bt.native_transfer", Kind::kBool},
           {"status", "x.status", Kind::kText},
           {"success", "x.success", Kind::kBool},
           {"initiatorPublicKey", "x.initiator_public_key", Kind::kText},
           {"initiatorAccountHash", "x.initiator_account_hash", Kind::kText},
           {"cost", "x.cost", Kind::kNum},
           {"errorMessage", "x.error_message", Kind::kText},
           {"timestamp", "x.timestamp", Kind::kTime}},
          {{"position", nullptr}},
          "position",
          {{"bt.position", "integer"}},
          nullptr,
          "ASC"};
}

}  // namespace

// ---- the engine ---------------------------------------------------------------------------------

struct Engine::Impl {
  Pool& pool;
  EngineOptions options;
  using Handler = std::function<Response(const Args&)>;
  std::unordered_map<std::string, Handler> handlers;

  struct CountEntry {
    std::int64_t value = 0;
    std::chrono::steady_clock::time_point expires;
    bool refreshing = false;
  };
  std::mutex count_mutex;
  std::unordered_map<std::string, CountEntry> counts;

  std::shared_mutex block_mutex;
  std::unordered_map<std::string, std::string> block_cache;

  metrics::Counter* count_queries = nullptr;
  metrics::Counter* cache_hits = nullptr;

  Impl(Pool& p, EngineOptions o) : pool(p), options(o) {}

  // Runs one statement on a pooled connection; a failure becomes the response.
  bool Run(const std::string& sql, const std::vector<std::string>& params, ResultSet& rs, Response& error,
           const char* cursor_param = nullptr) {
    std::string why;
    auto lease = pool.Acquire(&why);
    if (!lease) {
      error = Unavailable(why);
      return false;
    }
    if (QueryError e = lease->Execute(sql, params, rs)) {
      if (e.bad_input) {
        error = Error(400, "invalid value: " + e.message, cursor_param ? cursor_param : "");
      } else {
        error = Unavailable(e.message);
      }
      return false;
    }
    return true;
  }

  // count(*) for a filter, cached for count_ttl; while one request refreshes, others use the old value.
  bool Count(const std::string& sql, const std::vector<std::string>& params, std::int64_t& out, Response& error) {
    std::string key = sql;
    for (const auto& p : params) {
      key.push_back('\x1f');
      key += p;
    }
    const auto now = std::chrono::steady_clock::now();
    {
      std::lock_guard lock(count_mutex);
      auto it = counts.find(key);
      if (it != counts.end() && (it->second.expires > now || it->second.refreshing)) {
        out = it->second.value;
        return true;
      }
      if (it != counts.end()) it->second.refreshing = true;
    }
    ResultSet rs;
    if (count_queries) count_queries->Inc();
    const bool ok = Run(sql, params, rs, error);
    std::lock_guard lock(count_mutex);
    if (counts.size() > 100000) counts.clear();
    auto& entry = counts[key];
    entry.refreshing = false;
    if (!ok) return false;
    entry.value = std::stoll(std::string(rs.Value(0, 0)));
    entry.expires = now + options.count_ttl;
    out = entry.value;
    return true;
  }

  Response List(const ListSpec& spec, Filter filter, const Args& args);
  Response Object(const std::vector<Col>& cols, const std::string& from, Filter filter, const std::string& what);
  void AddRoutes();
};

Response Engine::Impl::List(const ListSpec& spec, Filter filter, const Args& args) {
  // page, size
  std::size_t size = options.default_page_size;
  if (const auto* s = args.Query("size")) {
    auto v = ParseNonNegative(*s);
    if (!v || *v < 1) return Error(400, "size must be a positive integer", "size");
    if (static_cast<std::uint64_t>(*v) > options.max_page_size) {
      return Error(400, "size must be at most " + std::to_string(options.max_page_size), "size");
    }
    size = static_cast<std::size_t>(*v);
  }
  std::int64_t page = 1;
  const auto* page_text = args.Query("page");
  if (page_text) {
    auto v = ParseNonNegative(*page_text);
    if (!v || *v < 1 || *v > 1000000000) return Error(400, "page must be an integer from 1", "page");
    page = *v;
  }
  // order
  const Order* order = nullptr;
  const auto* order_text = args.Query("order_by");
  const std::string order_name = order_text ? *order_text : spec.default_order;
  for (const auto& o : spec.orders) {
    if (order_name == o.name) order = &o;
  }
  if (!order) {
    std::string allowed;
    for (const auto& o : spec.orders) allowed += (allowed.empty() ? "" : ", ") + std::string(o.name);
    return Error(400, "order_by must be one of: " + allowed, "order_by");
  }
  std::string dir = spec.default_dir;
  const auto* dir_text = args.Query("order_direction");
  if (dir_text) {
    if (*dir_text != "ASC" && *dir_text != "DESC") return Error(400, "order_direction must be ASC or DESC", "order_direction");
    dir = *dir_text;
  }
  // time range
  for (const char* name : {"from_time", "to_time"}) {
    const auto* t = args.Query(name);
    if (!t) continue;
    if (!spec.time_col) return Error(400, std::string(name) + " is not supported on this list", name);
    if (!IsRfc3339(*t)) return Error(400, std::string(name) + " must be an RFC 3339 date-time", name);
    filter.where.push_back(std::string(spec.time_col) + (name[0] == 'f' ? " >= " : " < ") + filter.Param(*t) +
                           "::timestamptz");
  }
  const std::string count_where = filter.Where();
  const std::vector<std::string> count_params = filter.params;

  // cursor
  const auto* after = args.Query("after");
  const bool keyset_order = order->sql == nullptr;
  if (after) {
    if (page_text) return Error(400, "page and after cannot be combined", "page");
    if (!keyset_order) return Error(400, "a cursor (after) follows the default order only", "order_by");
    auto decoded = Base64UrlDecode(*after);
    if (!decoded || decoded->size() < 2 || ((*decoded)[0] != 'a' && (*decoded)[0] != 'd') || (*decoded)[1] != '\x1f') {
      return Error(400, "malformed cursor", "after");
    }
    const std::string cursor_dir = (*decoded)[0] == 'a' ? "ASC" : "DESC";
    if (dir_text && *dir_text != cursor_dir) return Error(400, "the cursor was made for the other direction", "order_direction");
    dir = cursor_dir;
    std::vector<std::string> values;
    std::size_t start = 2;
    while (true) {
      const auto sep = decoded->find('\x1f', start);
      values.push_back(decoded->substr(start, sep == std::string::npos ? std::string::npos : sep - start));
      if (sep == std::string::npos) break;
      start = sep + 1;
    }
    if (values.size() != spec.key.size()) return Error(400, "malformed cursor", "after");
    std::string lhs = "(", rhs = "(";
    for (std::size_t i = 0; i < spec.key.size(); ++i) {
      const std::string cast = spec.key[i].cast;
      if ((cast == "bigint" || cast == "integer") && !ParseNonNegative(values[i])) return Error(400, "malformed cursor", "after");
      lhs += (i ? ", " : "") + std::string(spec.key[i].sql);
      rhs += (i ? ", " : "") + filter.Param(values[i]) + "::" + cast;
    }
    filter.where.push_back(lhs + ") " + (dir == "DESC" ? "<" : ">") + " " + rhs + ")");
  }

  std::string sql = "SELECT " + SelectList(spec.cols);
  for (const auto& k : spec.key) sql += std::string(", ") + k.sql;
  sql += std::string(" FROM ") + spec.from + filter.Where() + " ORDER BY ";
  if (!keyset_order) sql += std::string(order->sql) + " " + dir + ", ";
  for (std::size_t i = 0; i < spec.key.size(); ++i) sql += (i ? ", " : "") + std::string(spec.key[i].sql) + " " + dir;
  sql += " LIMIT " + std::to_string(size + 1);
  if (!after && page > 1) sql += " OFFSET " + std::to_string(static_cast<std::int64_t>(size) * (page - 1));

  Response error;
  ResultSet rs;
  if (!Run(sql, filter.params, rs, error, after ? "after" : nullptr)) return error;
  std::int64_t item_count = 0;
  if (!after && !Count(std::string("SELECT count(*) FROM ") + spec.from + count_where, count_params, item_count, error)) {
    return error;
  }

  const int rows = std::min<int>(rs.Rows(), static_cast<int>(size));
  Response out;
  std::string& body = out.body;
  body.reserve(256 + static_cast<std::size_t>(rows) * 512);
  body += "{\"data\":[";
  for (int r = 0; r < rows; ++r) {
    if (r) body.push_back(',');
    AppendObject(body, spec.cols, rs, r);
  }
  body += "],";
  if (!after) {
    const std::int64_t page_count = (item_count + static_cast<std::int64_t>(size) - 1) / static_cast<std::int64_t>(size);
    body += "\"pageCount\":" + std::to_string(page_count) + ",\"itemCount\":" + std::to_string(item_count) +
            ",\"pageNumber\":" + std::to_string(page) + ",";
  }
  body += "\"next\":";
  if (keyset_order && rs.Rows() > static_cast<int>(size) && rows > 0) {
    std::string cursor(1, dir == "ASC" ? 'a' : 'd');
    const int first_key = static_cast<int>(spec.cols.size());
    for (std::size_t i = 0; i < spec.key.size(); ++i) {
      cursor.push_back('\x1f');
      cursor.append(rs.Value(rows - 1, first_key + static_cast<int>(i)));
    }
    AppendJsonString(body, Base64UrlEncode(cursor));
  } else {
    body += "null";
  }
  body += "}";
  return out;
}

Response Engine::Impl::Object(const std::vector<Col>& cols, const std::string& from, Filter filter,
                              const std::string& what) {
  const std::string sql = "SELECT " + SelectList(cols) + " FROM " + from + filter.Where() + " LIMIT 1";
  Response error;
  ResultSet rs;
  if (!Run(sql, filter.params, rs, error)) return error;
  if (rs.Rows() == 0) return Error(404, what + " not found");
  Response out;
  AppendObject(out.body, cols, rs, 0);
  return out;
}

namespace {

// Path parameter validators: a value or the 400 response.
struct Checked {
  std::string value;
  std::optional<Response> error;
};

Checked PathHash(const Args& args, const char* name = "hash") {
  const auto* v = args.Path(name);
  auto h = v ? ParseHash(*v) : std::nullopt;
  if (!h) return {{}, Error(400, std::string(name) + " must be 64 hex digits", name)};
  return {*h, std::nullopt};
}

Checked PathKey(const Args& args, const char* name = "key") {
  const auto* v = args.Path(name);
  auto k = v ? ParsePublicKey(*v) : std::nullopt;
  if (!k) return {{}, Error(400, std::string(name) + " must be a public key (01 + 64 or 02 + 66 hex digits)", name)};
  return {*k, std::nullopt};
}

Checked PathEra(const Args& args, const char* name = "era") {
  const auto* v = args.Path(name);
  auto e = v ? ParseNonNegative(*v) : std::nullopt;
  if (!e) return {{}, Error(400, std::string(name) + " must be a non-negative integer", name)};
  return {std::to_string(*e), std::nullopt};
}

// Optional query filters; false with `error` set when present and invalid.
bool QueryKey(const Args& args, const char* name, const char* column, Filter& f, Response& error) {
  const auto* v = args.Query(name);
  if (!v) return true;
  auto k = ParsePublicKey(*v);
  if (!k) {
    error = Error(400, std::string(name) + " must be a public key (01 + 64 or 02 + 66 hex digits)", name);
    return false;
  }
  f.where.push_back(std::string(column) + " = " + f.Param(*k));
  return true;
}

bool QueryInt(const Args& args, const char* name, const char* column, Filter& f, Response& error) {
  const auto* v = args.Query(name);
  if (!v) return true;
  auto n = ParseNonNegative(*v);
  if (!n) {
    error = Error(400, std::string(name) + " must be a non-negative integer", name);
    return false;
  }
  f.where.push_back(std::string(column) + " = " + f.Param(std::to_string(*n)) + "::bigint");
  return true;
}

bool QueryHash(const Args& args, const char* name, const char* column, Filter& f, Response& error) {
  const auto* v = args.Query(name);
  if (!v) return true;
  auto h = ParseHash(*v);
  if (!h) {
    error = Error(400, std::string(name) + " must be 64 hex digits", name);
    return false;
  }
  f.where.push_back(std::string(column) + " = " + f.Param(*h));
  return true;
}

void TransactionAccount(const Account& a, Filter& f) {
  std::string cond = "(x.initiator_account_hash = " + f.Param(a.account_hash);
  if (a.public_key) cond += " OR x.initiator_public_key = " + f.Param(*a.public_key);
  f.where.push_back(cond + ")");
}

void TransferAccount(const Account& a, Filter& f) {
  const std::string h = f.Param(a.account_hash);
  std::string cond = "(t.from_account_hash = " + h + " OR t.to_account_hash = " + h;
  if (a.public_key) cond += " OR t.from_public_key = " + f.Param(*a.public_key);
  f.where.push_back(cond + ")");
}

bool QueryAccount(const Args& args, const char* name, Filter& f, Response& error, void (*apply)(const Account&, Filter&)) {
  const auto* v = args.Query(name);
  if (!v) return true;
  auto a = ParseAccount(*v);
  if (!a) {
    error = Error(400, std::string(name) + " must be a public key or a 64-hex account hash", name);
    return false;
  }
  apply(*a, f);
  return true;
}

bool QueryEnum(const Args& args, const char* name, const char* column, std::initializer_list<const char*> allowed,
               Filter& f, Response& error) {
  const auto* v = args.Query(name);
  if (!v) return true;
  for (const char* a : allowed) {
    if (*v == a) {
      f.where.push_back(std::string(column) + " = " + f.Param(*v));
      return true;
    }
  }
  std::string list;
  for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  error = Error(400, std::string(name) + " must be one of: " + list, name);
  return false;
}

}  // namespace

void Engine::Impl::AddRoutes() {
  auto& h = handlers;
  // Blocks.
  h["/api/v1/blocks"] = [this](const Args& a) {
    Filter f;
    Response e;
    if (!QueryKey(a, "proposer", "b.proposer", f, e) || !QueryInt(a, "era", "b.era_id", f, e)) return e;
    return List(BlockList(), f, a);
  };
  h["/api/v1/blocks/{hash}"] = [this](const Args& a) {
    const std::string& id = *a.Path("hash");
    Filter f;
    if (id == "latest") {
      const std::string sql = "SELECT " + SelectList(BlockCols()) + " FROM blocks b ORDER BY b.height DESC, b.block_hash LIMIT 1";
      Response error;
      ResultSet rs;
      if (!Run(sql, {}, rs, error)) return error;
      if (rs.Rows() == 0) return Error(404, "block not found: the store has no block yet");
      Response out;
      AppendObject(out.body, BlockCols(), rs, 0);
      out.cache_control = "no-cache";
      return out;
    }
    if (auto height = ParseNonNegative(id); height && id.size() < 64) {
      f.where.push_back("b.height = " + f.Param(std::to_string(*height)) + "::bigint");
      Response out = Object(BlockCols(), "blocks b", f, "block at height " + id);
      if (out.status == 200) out.cache_control = "no-cache";
      return out;
    }
    auto hash = ParseHash(id);
    if (!hash) return Error(400, "hash must be 64 hex digits, a decimal height or latest", "hash");
    {
      std::shared_lock lock(block_mutex);
      auto it = block_cache.find(*hash);
      if (it != block_cache.end()) {
        if (cache_hits) cache_hits->Inc();
        return Response{200, it->second, Fnv(it->second), "public, max-age=31536000, immutable"};
      }
    }
    f.where.push_back("b.block_hash = " + f.Param(*hash));
    Response out = Object(BlockCols(), "blocks b", f, "block " + *hash);
    if (out.status != 200) return out;
    out.etag = Fnv(out.body);
    out.cache_control = "public, max-age=31536000, immutable";
    std::unique_lock lock(block_mutex);
    if (block_cache.size() >= options.block_cache_entries) block_cache.clear();
    block_cache.emplace(*hash, out.body);
    return out;
  };
  h["/api/v1/validators/{key}/blocks"] = [this](const Args& a) {
    auto key = PathKey(a);
    if (key.error) return *key.error;
    Filter f;
    f.where.push_back("b.proposer = " + f.Param(key.value));
    return List(BlockList(), f, a);
  };
  h["/api/v1/blocks/{hash}/transactions"] = [this](const Args& a) {
    auto hash = PathHash(a);
    if (hash.error) return *hash.error;
    Filter exists;
    exists.where.push_back("b.block_hash = " + exists.Param(hash.value));
    Response found = Object({{"blockHash", "b.block_hash", Kind::kText}}, "blocks b", exists, "block " + hash.value);
    if (found.status != 200) return found;
    Filter f;
    f.where.push_back("bt.block_hash = " + f.Param(hash.value));
    return List(BlockTransactionList(), f, a);
  };
  h["/api/v1/blocks/{hash}/signatures"] = [this](const Args& a) {
    auto hash = PathHash(a);
    if (hash.error) return *hash.error;
    Filter f;
    f.where.push_back("s.block_hash = " + f.Param(hash.value));
    return List(SignatureList(), f, a);
  };

  // Deploys (Java shape) and transactions.
  auto tx_filters = [](const Args& a, Filter& f, Response& e) {
    return QueryAccount(a, "account", f, e, TransactionAccount) && QueryHash(a, "block", "x.block_hash", f, e) &&
           QueryEnum(a, "status", "x.status", {"accepted", "expired", "processed"}, f, e);
  };
  h["/api/v1/deploys"] = [this, tx_filters](const Args& a) {
    Filter f;
    f.where.push_back("x.kind = 'deploy'");
    Response e;
    if (!tx_filters(a, f, e)) return e;
    return List(TransactionList(true), f, a);
  };
  h["/api/v1/transactions"] = [this, tx_filters](const Args& a) {
    Filter f;
    Response e;
    if (!tx_filters(a, f, e) || !QueryEnum(a, "kind", "x.kind", {"deploy", "version1"}, f, e)) return e;
    return List(TransactionList(false), f, a);
  };
  auto tx_object = [this](const Args& a, bool deploy) {
    auto hash = PathHash(a);
    if (hash.error) return *hash.error;
    Filter f;
    f.where.push_back("x.transaction_hash = " + f.Param(hash.value));
    if (deploy) f.where.push_back("x.kind = 'deploy'");
    std::vector<Col> cols = deploy ? DeployCols() : TransactionCols();
    cols.push_back({"_immutable", "(x.status = 'processed' AND x.accepted)", Kind::kBool});
    Response out = Object(cols, "transactions x", f, (deploy ? "deploy " : "transaction ") + hash.value);
    if (out.status != 200) return out;
    // The helper column decides the caching and is cut from the body.
    const auto pos = out.body.rfind(",\"_immutable\":");
    const bool immutable = out.body.compare(pos + 14, 4, "true") == 0;
    out.body.erase(pos, out.body.size() - 1 - pos);
    out.etag = Fnv(out.body);
    out.cache_control = immutable ? "public, max-age=31536000, immutable" : "no-cache";
    return out;
  };
  h["/api/v1/deploys/{hash}"] = [tx_object](const Args& a) { return tx_object(a, true); };
  h["/api/v1/transactions/{hash}"] = [tx_object](const Args& a) { return tx_object(a, false); };
  auto tx_transfers = [this](const Args& a, bool deploy) {
    auto hash = PathHash(a);
    if (hash.error) return *hash.error;
    Filter exists;
    exists.where.push_back("x.transaction_hash = " + exists.Param(hash.value));
    if (deploy) exists.where.push_back("x.kind = 'deploy'");
    Response found = Object({{"h", "x.transaction_hash", Kind::kText}}, "transactions x", exists,
                            (deploy ? "deploy " : "transaction ") + hash.value);
    if (found.status != 200) return found;
    Filter f;
    f.where.push_back("t.transaction_hash = " + f.Param(hash.value));
    return List(TransferList(), f, a);
  };
  h["/api/v1/deploys/{hash}/transfers"] = [tx_transfers](const Args& a) { return tx_transfers(a, true); };
  h["/api/v1/transactions/{hash}/transfers"] = [tx_transfers](const Args& a) { return tx_transfers(a, false); };

  // Transfers.
  h["/api/v1/transfers"] = [this](const Args& a) {
    Filter f;
    Response e;
    if (!QueryAccount(a, "account", f, e, TransferAccount)) return e;
    return List(TransferList(), f, a);
  };
  h["/api/v1/accounts/{account}/transfers"] = [this](const Args& a) {
    const auto* v = a.Path("account");
    auto account = v ? ParseAccount(*v) : std::nullopt;
    if (!account) return Error(400, "account must be a public key or a 64-hex account hash", "account");
    Filter f;
    TransferAccount(*account, f);
    return List(TransferList(), f, a);
  };

  // Era validators and rewards.
  h["/api/v1/era-validators"] = [this](const Args& a) {
    Filter f;
    Response e;
    if (!QueryKey(a, "public_key", "v.public_key", f, e)) return e;
    return List(EraValidatorList(), f, a);
  };
  h["/api/v1/era-validators/{era}"] = [this](const Args& a) {
    auto era = PathEra(a);
    if (era.error) return *era.error;
    Filter f;
    f.where.push_back("v.era_id = " + f.Param(era.value) + "::bigint");
    return List(EraValidatorList(), f, a);
  };
  h["/api/v1/validators/{key}/rewards"] = [this](const Args& a) {
    auto key = PathKey(a);
    if (key.error) return *key.error;
    Filter f;
    f.where.push_back("r.public_key = " + f.Param(key.value));
    return List(ValidatorRewardList(), f, a);
  };
  h["/api/v1/delegators/{key}/rewards"] = [this](const Args& a) {
    auto key = PathKey(a);
    if (key.error) return *key.error;
    Filter f;
    f.where.push_back("r.delegator_public_key = " + f.Param(key.value));
    Response e;
    if (!QueryKey(a, "validator", "r.validator_public_key", f, e)) return e;
    return List(DelegatorRewardList(), f, a);
  };
  auto total = [this](const Args& a, const char* sum_sql, const char* pending_sql) {
    auto key = PathKey(a);
    if (key.error) return *key.error;
    const std::string sql = std::string("SELECT (") + sum_sql + ")::text, (" + pending_sql + ")::text";
    Response error;
    ResultSet rs;
    if (!Run(sql, {key.value}, rs, error)) return error;
    Response out;
    out.body = "{\"publicKey\":";
    AppendJsonString(out.body, key.value);
    out.body += ",\"amount\":";
    AppendJsonString(out.body, rs.Value(0, 0));
    out.body += ",\"pendingEras\":";
    out.body.append(rs.Value(0, 1));
    out.body += "}";
    return out;
  };
  static constexpr const char* kValidatorPending =
      "SELECT coalesce(json_agg(e.era_id ORDER BY e.era_id), '[]') FROM eras e WHERE e.rewards_status = 'pending' "
      "AND EXISTS (SELECT 1 FROM era_validators v WHERE v.era_id = e.era_id AND v.public_key = $1)";
  h["/api/v1/validators/{key}/total-rewards"] = [total](const Args& a) {
    return total(a, "SELECT coalesce(sum(amount), 0) FROM validator_rewards WHERE public_key = $1", kValidatorPending);
  };
  h["/api/v1/validators/{key}/total-delegator-rewards"] = [total](const Args& a) {
    return total(a, "SELECT coalesce(sum(amount), 0) FROM delegator_rewards WHERE validator_public_key = $1",
                 "SELECT coalesce(json_agg(e.era_id ORDER BY e.era_id), '[]') FROM eras e "
                 "WHERE e.delegator_rewards_status = 'pending' AND EXISTS "
                 "(SELECT 1 FROM era_validators v WHERE v.era_id = e.era_id AND v.public_key = $1)");
  };
  h["/api/v1/delegators/{key}/total-rewards"] = [total](const Args& a) {
    return total(a, "SELECT coalesce(sum(amount), 0) FROM delegator_rewards WHERE delegator_public_key = $1",
                 "SELECT coalesce(json_agg(e.era_id ORDER BY e.era_id), '[]') FROM eras e "
                 "WHERE e.delegator_rewards_status = 'pending' AND $1::text IS NOT NULL");
  };

  // Faults, steps, eras.
  h["/api/v1/faults"] = [this](const Args& a) {
    Filter f;
    Response e;
    if (!QueryInt(a, "era", "f.era_id", f, e) || !QueryKey(a, "public_key", "f.public_key", f, e)) return e;
    return List(FaultList(), f, a);
  };
  h["/api/v1/steps/{era}"] = [this](const Args& a) {
    auto era = PathEra(a);
    if (era.error) return *era.error;
    Filter f;
    f.where.push_back("s.era_id = " + f.Param(era.value) + "::bigint");
    return Object({{"eraId", "s.era_id", Kind::kInt},
                   {"effectCount", "s.effect_count", Kind::kInt},
                   {"effectBytes", "s.effect_bytes", Kind::kInt},
                   {"format", "s.format", Kind::kInt}},
                  "steps s", f, "step of era " + era.value);
  };
  h["/api/v1/eras"] = [this](const Args& a) { return List(EraList(), Filter{}, a); };
  h["/api/v1/eras/{era}"] = [this](const Args& a) {
    auto era = PathEra(a);
    if (era.error) return *era.error;
    Filter f;
    f.where.push_back("e.era_id = " + f.Param(era.value) + "::bigint");
    return Object(EraCols(), "eras e", f, "era " + era.value);
  };

  // Stakes from bids, withdrawals.
  h["/api/v1/validators"] = [this](const Args& a) { return List(ValidatorBidList(), Filter{}, a); };
  h["/api/v1/validators/{key}"] = [this](const Args& a) {
    auto key = PathKey(a);
    if (key.error) return *key.error;
    Filter f;
    f.where.push_back("vb.validator_public_key = " + f.Param(key.value));
    Response out = Object(ValidatorBidCols(), kLatestValidatorBids, f, "validator " + key.value);
    if (out.status != 200) return out;
    const std::string sql = "SELECT " + SelectList(DelegationCols()) + " FROM " +
                            LatestDelegations("validator_public_key = $1") +
                            " ORDER BY d.delegator_public_key, d.delegator_purse";
    Response error;
    ResultSet rs;
    if (!Run(sql, {key.value}, rs, error)) return error;
    out.body.pop_back();
    out.body += ",\"delegators\":[";
    for (int r = 0; r < rs.Rows(); ++r) {
      if (r) out.body.push_back(',');
      AppendObject(out.body, DelegationCols(), rs, r);
    }
    out.body += "]}";
    return out;
  };
  h["/api/v1/delegators/{key}/delegations"] = [this](const Args& a) {
    auto key = PathKey(a);
    if (key.error) return *key.error;
    Filter f;
    ListSpec spec{nullptr, DelegationCols(), {{"validatorPublicKey", nullptr}, {"stakedAmount", "d.staked_amount"}},
                  "validatorPublicKey", {{"d.validator_public_key", "text"}}, "d.timestamp", "ASC"};
    const std::string from = LatestDelegations("delegator_public_key = " + f.Param(key.value));
    spec.from = from.c_str();
    return List(spec, f, a);
  };
  h["/api/v1/withdrawals"] = [this](const Args& a) {
    Filter f;
    if (const auto* v = a.Query("public_key")) {
      auto k = ParsePublicKey(*v);
      if (!k) return Error(400, "public_key must be a public key (01 + 64 or 02 + 66 hex digits)", "public_key");
      const std::string p = f.Param(*k);
      f.where.push_back("(w.validator_public_key = " + p + " OR w.unbonder_public_key = " + p + ")");
    }
    return List(WithdrawalList(), f, a);
  };
}

Engine::Engine(Pool& pool, EngineOptions options, metrics::Registry* registry)
    : impl_(std::make_unique<Impl>(pool, options)) {
  if (registry) {
    impl_->count_queries = &registry->GetCounter("ces_api_count_queries_total", "count(*) queries run for page counts");
    impl_->cache_hits = &registry->GetCounter("ces_api_block_cache_hits_total", "blocks by hash served from memory");
  }
  impl_->AddRoutes();
}

Engine::~Engine() = default;

Response Engine::Handle(std::string_view route, const Args& args) {
  auto it = impl_->handlers.find(std::string(route));
  if (it == impl_->handlers.end()) return Error(404, "no such path");
  return it->second(args);
}

const std::vector<std::string>& Engine::Routes() {
  static const std::vector<std::string> kRoutes = {
      "/api/v1/blocks", "/api/v1/blocks/{hash}", "/api/v1/blocks/{hash}/transactions",
      "/api/v1/blocks/{hash}/signatures", "/api/v1/validators/{key}/blocks", "/api/v1/deploys",
      "/api/v1/deploys/{hash}", "/api/v1/deploys/{hash}/transfers", "/api/v1/transactions",
      "/api/v1/transactions/{hash}", "/api/v1/transactions/{hash}/transfers", "/api/v1/transfers",
      "/api/v1/accounts/{account}/transfers", "/api/v1/era-validators", "/api/v1/era-validators/{era}",
      "/api/v1/validators/{key}/rewards", "/api/v1/validators/{key}/total-rewards",
      "/api/v1/validators/{key}/total-delegator-rewards", "/api/v1/delegators/{key}/rewards",
      "/api/v1/delegators/{key}/total-rewards", "/api/v1/faults", "/api/v1/steps/{era}", "/api/v1/eras",
      "/api/v1/eras/{era}", "/api/v1/validators", "/api/v1/validators/{key}", "/api/v1/delegators/{key}/delegations",
      "/api/v1/withdrawals"};
  return kRoutes;
}

}  // namespace ces::query
