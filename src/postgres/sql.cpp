#include "sql.hpp"

#include <functional>
#include <map>
#include <string_view>
#include <tuple>
#include <unordered_set>
#include <utility>

namespace ces::postgres {
namespace {

// Length of the valid UTF-8 sequence at text[i], or 0.
std::size_t Utf8Length(std::string_view text, std::size_t i) {
  const auto c = static_cast<unsigned char>(text[i]);
  std::size_t n = 0;
  unsigned min = 0;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  unsigned cp = c & (0x7F >> n);
  for (std::size_t k = 1; k < n; ++k) {
    const auto cc = static_cast<unsigned char>(text[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

// The column names of "INSERT INTO t [AS a] (c1, c2, …)".
std::vector<std::string> ColumnsOf(std::string_view head) {
  std::vector<std::string> columns;
  const auto open = head.find('(');
  const auto close = head.rfind(')');
  std::string_view list = head.substr(open + 1, close - open - 1);
  while (!list.empty()) {
    const auto comma = list.find(',');
    std::string_view name = list.substr(0, comma);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    columns.emplace_back(name);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return columns;
}

// "t" of "INSERT INTO t …".
std::string TargetOf(std::string_view head) {
  constexpr std::string_view kInsertInto = "INSERT INTO ";
  head.remove_prefix(kInsertInto.size());
  return std::string(head.substr(0, head.find_first_of(" (")));
}

struct EmitLimits {
  std::size_t chunk;          // rows per multi-row INSERT
  std::size_t copy_min_rows;  // from this many rows of a table: COPY
};

// No direct copy (Statement::direct_check): the rows always go through the conflict rule.
struct NoDirectCopy {
  template <class Row>
  std::string operator()(const std::vector<Row>&) const {
    return {};
  }
};

template <class Row, class F, class DirectCheckF = NoDirectCopy>
void Emit(std::vector<Statement>& out, const char* table, const char* head, std::string_view tail,
          const std::vector<Row>& rows, const EmitLimits& limits, F&& values, DirectCheckF&& direct_check = {}) {
  const std::size_t chunk = limits.chunk;
  if (rows.size() >= limits.copy_min_rows) {
    Statement s{table, {}, TargetOf(head), ColumnsOf(head), {}, rows.size(), direct_check(rows)};
    SqlWriter data(SqlWriter::Mode::kCopy);
    data.str().reserve(rows.size() * 256);
    for (const Row& row : rows) {
      if (&row != &rows.front()) data.Raw("\n");
      values(data, row);
    }
    s.copy_data = std::move(data.str());
    std::string columns;
    for (const std::string& c : s.copy_columns) columns += (columns.empty() ? "" : ", ") + c;
    s.sql = std::string(head) + " SELECT " + columns + " FROM ces_copy_" + s.target + " " + std::string(tail);
    out.push_back(std::move(s));
    return;
  }
  for (std::size_t start = 0; start < rows.size(); start += chunk) {
    SqlWriter w;
    w.str().reserve(256 + std::min(chunk, rows.size() - start) * 256);
    w.Raw(head).Raw(" VALUES ");
    const std::size_t end = std::min(rows.size(), start + chunk);
    for (std::size_t i = start; i < end; ++i) {
      if (i > start) w.Raw(",");
      w.Raw("(");
      values(w, rows[i]);
      w.Raw(")");
    }
    w.Raw(" ").Raw(tail);
    out.push_back({table, std::move(w.str()), {}, {}, {}, 0, {}});
  }
}

// One row per key, in the place of the key's first row; a later row of the key is combined into it.
template <class Row, class KeyF, class CombineF>
std::vector<Row> CombineByKey(const std::vector<Row>& rows, KeyF&& key, CombineF&& combine) {
  std::vector<Row> out;
  std::map<decltype(key(rows.front())), std::size_t> index;
  for (const Row& row : rows) {
    auto [it, inserted] = index.try_emplace(key(row), out.size());
    if (inserted) {
      out.push_back(row);
    } else {
      combine(out[it->second], row);
    }
  }
  return out;
}

// Merges rows with the same key (first occurrence keeps its place).
template <class Row, class KeyF>
std::vector<Row> MergeByKey(const std::vector<Row>& rows, KeyF&& key) {
  return CombineByKey(rows, key, [](Row& into, const Row& from) { model::Merge(into, from); });
}

// One row per key, for an upsert (PostgreSQL refuses an ON CONFLICT DO UPDATE that touches a row twice;
// a batch can hold a block from the stream and from backfill): the first row with a known event
// identity, else the first row. Returns `rows` itself when no key repeats (the usual batch: a first
// pass over hashes of the keys, no copy), else `storage`, filled with one row per key. `key` returns
// string views (or a pair of them) into the row.
inline std::size_t KeyHash(std::string_view key) { return std::hash<std::string_view>{}(key); }
inline std::size_t KeyHash(const std::pair<std::string_view, std::string_view>& key) {
  return KeyHash(key.first) ^ (KeyHash(key.second) * 0x9e3779b97f4a7c15ULL);
}

template <class Row, class KeyF>
const std::vector<Row>& FirstByKey(const std::vector<Row>& rows, KeyF&& key, std::vector<Row>& storage) {
  std::unordered_set<std::size_t> hashes;
  hashes.reserve(rows.size());
  bool repeated = false;
  for (const Row& row : rows) {
    if (!hashes.insert(KeyHash(key(row))).second) {
      repeated = true;  // or two keys with one hash: the exact pass below decides
      break;
    }
  }
  if (!repeated) return rows;
  storage = CombineByKey(rows, key, [](Row& into, const Row& from) {
    if (!into.event.Known() && from.event.Known()) into = from;
  });
  return storage;
}

// The direct_check of a table keyed by (transaction_hash, effect_index, entry_index) (bids,
// withdrawals): one primary-key probe per transaction of the rows (a LATERAL … LIMIT 1 per hash, so
// the planner cannot turn it into a scan of the table, as it did for an IN list on a young table
// without statistics), or empty when a key may repeat among the rows (two nodes' copies of one
// transaction in a batch; a hash collision only costs the direct path).
template <class Row>
std::string EffectRowsCheck(const char* table, const std::vector<Row>& rows) {
  std::unordered_set<std::size_t> keys;
  keys.reserve(rows.size());
  std::unordered_set<std::string_view> transactions;
  for (const Row& row : rows) {
    const std::size_t key = KeyHash(row.transaction_hash) ^
                            (static_cast<std::size_t>(row.effect_index) * 0x9e3779b97f4a7c15ULL) ^
                            (static_cast<std::size_t>(row.entry_index) * 0xc2b2ae3d27d4eb4fULL);
    if (!keys.insert(key).second) return {};
    transactions.insert(row.transaction_hash);
  }
  SqlWriter w;
  w.Raw("SELECT 1 FROM (VALUES ");
  bool first = true;
  for (std::string_view hash : transactions) {
    if (!first) w.Raw(",");
    first = false;
    w.Raw("(").Text(hash).Raw(")");
  }
  w.Raw(") AS h(hash) CROSS JOIN LATERAL (SELECT 1 FROM ").Raw(table);
  w.Raw(" WHERE transaction_hash = h.hash LIMIT 1) AS stored LIMIT 1");
  return std::move(w.str());
}

// The four identity columns (source, stream, event id, api version); NULLs when unknown.
void Identity(SqlWriter& w, const model::EventIdentity& id) {
  if (!id.Known()) {
    w.Null().Sep().Null().Sep().Null().Sep().Null();
    return;
  }
  w.Text(id.source).Sep().Text(id.stream).Sep().Int(id.event_id).Sep().Text(id.api_version);
}

// "<p>_source = CASE WHEN t.<p>_event_id IS NULL THEN EXCLUDED.<p>_source ELSE t.<p>_source END, …":
// the identity of the first stored event of that kind wins, all four columns together.
// A row rebuilt from the node's RPC has no event identity (NULL columns); the same row from the
// stream brings one. Whichever comes first, the stream's identity ends up on the row, and nothing else
// changes (the content is the same: docs/backfill.md). "event_source = EXCLUDED.event_source, …
// WHERE <table>.event_id IS NULL AND EXCLUDED.event_id IS NOT NULL".
std::string TakeStreamIdentity(const std::string& table) {
  std::string out;
  for (const char* column : {"event_source", "event_stream", "event_id", "event_api_version"}) {
    out += std::string(out.empty() ? " " : ", ") + column + " = EXCLUDED." + column;
  }
  return out + " WHERE " + table + ".event_id IS NULL AND EXCLUDED.event_id IS NOT NULL";
}

std::string KeepFirstIdentity(const std::string& prefix) {
  std::string out;
  for (const char* column : {"_source", "_stream", "_event_id", "_api_version"}) {
    const std::string c = prefix + column;
    out += ", " + c + " = CASE WHEN t." + prefix + "_event_id IS NULL THEN EXCLUDED." + c + " ELSE t." + c + " END";
  }
  return out;
}

const char* RewardsStatus(model::RewardsStatus status) {
  switch (status) {
    case model::RewardsStatus::kPending: return "pending";
    case model::RewardsStatus::kComplete: return "complete";
    case model::RewardsStatus::kNone: break;
  }
  return nullptr;
}

}  // namespace

SqlWriter& SqlWriter::Text(std::string_view text) {
  const bool copy = mode_ == Mode::kCopy;
  if (!copy) sql_ += "E'";
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (static_cast<unsigned char>(c) < 0x80) {
      if (copy) {
        switch (c) {
          case '\\': sql_ += "\\\\"; break;
          case '\t': sql_ += "\\t"; break;
          case '\n': sql_ += "\\n"; break;
          case '\r': sql_ += "\\r"; break;
          case '\0': break;
          default: sql_ += c;
        }
      } else {
        if (c == '\'' || c == '\\') sql_ += '\\';
        if (c != '\0') sql_ += c;
      }
      ++i;
      continue;
    }
    const std::size_t n = Utf8Length(text, i);
    if (n == 0) {
      sql_ += '?';
      ++i;
    } else {
      sql_.append(text.data() + i, n);
      i += n;
    }
  }
  if (!copy) sql_ += '\'';
  return *this;
}

SqlWriter& SqlWriter::Text(const model::OptText& text) {
  if (!text) return Null();
  return Text(std::string_view(*text));
}

SqlWriter& SqlWriter::Int(std::int64_t value) {
  sql_ += std::to_string(value);
  return *this;
}

SqlWriter& SqlWriter::Int(const model::OptInt& value) {
  if (!value) return Null();
  return Int(*value);
}

SqlWriter& SqlWriter::Bool(bool value) { return Raw(value ? "true" : "false"); }

SqlWriter& SqlWriter::Bool(const std::optional<bool>& value) {
  if (!value) return Null();
  return Bool(*value);
}

SqlWriter& SqlWriter::Interval(const model::OptInt& millis) {
  if (!millis) return Null();
  if (mode_ == Mode::kSql) sql_ += "'";
  sql_ += std::to_string(*millis);
  sql_ += " milliseconds";
  if (mode_ == Mode::kSql) sql_ += "'";
  return *this;
}

void BuildInserts(const model::Rows& rows, std::vector<Statement>& out, std::size_t chunk, std::size_t copy_min_rows) {
  using namespace model;
  const EmitLimits limits{chunk, copy_min_rows};
  std::vector<BlockRow> unique_blocks;
  std::vector<FinalitySignatureRow> unique_signatures;
  if (!rows.blocks.empty()) {
    Emit(out, "blocks",
         "INSERT INTO blocks (block_hash, height, era_id, parent_hash, state_root_hash, body_hash, accumulated_seed,"
         " random_bit, timestamp, proposer, protocol_version, is_switch_block, block_version, deploy_count,"
         " transfer_count, transaction_count, current_gas_price, last_switch_block_hash, event_source, event_stream,"
         " event_id, event_api_version)",
         "ON CONFLICT (block_hash) DO UPDATE SET" + TakeStreamIdentity("blocks"),
         FirstByKey(rows.blocks, [](const BlockRow& r) { return std::string_view(r.block_hash); }, unique_blocks),
         limits,
         [](SqlWriter& w, const BlockRow& r) {
           w.Text(r.block_hash).Sep().Int(r.height).Sep().Int(r.era_id).Sep().Text(r.parent_hash).Sep();
           w.Text(r.state_root_hash).Sep().Text(r.body_hash).Sep().Text(r.accumulated_seed).Sep();
           w.Bool(r.random_bit).Sep().Text(r.timestamp).Sep().Text(r.proposer).Sep();
           w.Text(r.protocol_version).Sep().Bool(r.is_switch_block).Sep().Int(r.block_version).Sep();
           w.Int(r.deploy_count).Sep().Int(r.transfer_count).Sep().Int(r.transaction_count).Sep();
           w.Int(r.current_gas_price).Sep().Text(r.last_switch_block_hash).Sep();
           Identity(w, r.event);
         });
  }
  if (!rows.block_transactions.empty()) {
    Emit(out, "block_transactions",
         "INSERT INTO block_transactions (block_hash, position, transaction_hash, transaction_kind, lane,"
         " native_transfer)",
         "ON CONFLICT (block_hash, position) DO NOTHING", rows.block_transactions, limits,
         [](SqlWriter& w, const BlockTransactionRow& r) {
           w.Text(r.block_hash).Sep().Int(r.position).Sep().Text(r.transaction_hash).Sep();
           w.Text(r.transaction_kind).Sep().Int(r.lane).Sep().Bool(r.native_transfer);
         });
  }
  if (!rows.transactions.empty()) {
    auto merged = MergeByKey(rows.transactions, [](const TransactionRow& r) { return r.transaction_hash; });
    Emit(out, "transactions",
         "INSERT INTO transactions AS t (transaction_hash, kind, status, accepted, block_hash, initiator_public_key,"
         " initiator_account_hash, timestamp, ttl, chain_name, pricing_mode, gas_price, gas_price_tolerance,"
         " payment_amount, entry_point, target, target_id, approvals_count, execution_version, success, error_message,"
         " gas_limit, consumed, cost, refund, current_price, size_estimate, transfer_count, accepted_source,"
         " accepted_stream, accepted_event_id, accepted_api_version, processed_source, processed_stream,"
         " processed_event_id, processed_api_version, expired_source, expired_stream, expired_event_id,"
         " expired_api_version)",
         std::string("ON CONFLICT (transaction_hash) DO UPDATE SET"
         " status = CASE WHEN t.status = 'processed' OR EXCLUDED.status = 'processed' THEN 'processed'"
         " WHEN t.status = 'expired' OR EXCLUDED.status = 'expired' THEN 'expired' ELSE 'accepted' END,"
         " accepted = t.accepted OR EXCLUDED.accepted,"
         " block_hash = COALESCE(t.block_hash, EXCLUDED.block_hash),"
         " initiator_public_key = COALESCE(t.initiator_public_key, EXCLUDED.initiator_public_key),"
         " initiator_account_hash = COALESCE(t.initiator_account_hash, EXCLUDED.initiator_account_hash),"
         " timestamp = COALESCE(t.timestamp, EXCLUDED.timestamp), ttl = COALESCE(t.ttl, EXCLUDED.ttl),"
         " chain_name = COALESCE(t.chain_name, EXCLUDED.chain_name),"
         " pricing_mode = COALESCE(t.pricing_mode, EXCLUDED.pricing_mode),"
         " gas_price = COALESCE(t.gas_price, EXCLUDED.gas_price),"
         " gas_price_tolerance = COALESCE(t.gas_price_tolerance, EXCLUDED.gas_price_tolerance),"
         " payment_amount = COALESCE(t.payment_amount, EXCLUDED.payment_amount),"
         " entry_point = COALESCE(t.entry_point, EXCLUDED.entry_point),"
         " target = COALESCE(t.target, EXCLUDED.target), target_id = COALESCE(t.target_id, EXCLUDED.target_id),"
         " approvals_count = COALESCE(t.approvals_count, EXCLUDED.approvals_count),"
         " execution_version = COALESCE(t.execution_version, EXCLUDED.execution_version),"
         " success = COALESCE(t.success, EXCLUDED.success),"
         " error_message = COALESCE(t.error_message, EXCLUDED.error_message),"
         " gas_limit = COALESCE(t.gas_limit, EXCLUDED.gas_limit), consumed = COALESCE(t.consumed, EXCLUDED.consumed),"
         " cost = COALESCE(t.cost, EXCLUDED.cost), refund = COALESCE(t.refund, EXCLUDED.refund),"
         " current_price = COALESCE(t.current_price, EXCLUDED.current_price),"
         " size_estimate = COALESCE(t.size_estimate, EXCLUDED.size_estimate),"
         " transfer_count = COALESCE(t.transfer_count, EXCLUDED.transfer_count)") +
             KeepFirstIdentity("accepted") + KeepFirstIdentity("processed") + KeepFirstIdentity("expired"),
         merged, limits, [](SqlWriter& w, const TransactionRow& r) {
           w.Text(r.transaction_hash).Sep().Text(r.kind).Sep().Text(TxStatusName(r.status)).Sep();
           w.Bool(r.accepted).Sep().Text(r.block_hash).Sep().Text(r.initiator_public_key).Sep();
           w.Text(r.initiator_account_hash).Sep().Text(r.timestamp).Sep().Interval(r.ttl_ms).Sep();
           w.Text(r.chain_name).Sep().Text(r.pricing_mode).Sep().Int(r.gas_price).Sep();
           w.Int(r.gas_price_tolerance).Sep().Text(r.payment_amount).Sep().Text(r.entry_point).Sep();
           w.Text(r.target).Sep().Text(r.target_id).Sep().Int(r.approvals_count).Sep();
           w.Int(r.execution_version).Sep().Bool(r.success).Sep().Text(r.error_message).Sep();
           w.Text(r.gas_limit).Sep().Text(r.consumed).Sep().Text(r.cost).Sep().Text(r.refund).Sep();
           w.Int(r.current_price).Sep().Int(r.size_estimate).Sep().Int(r.transfer_count).Sep();
           Identity(w, r.accepted_event);
           w.Sep();
           Identity(w, r.processed_event);
           w.Sep();
           Identity(w, r.expired_event);
         });
  }
  if (!rows.transfers.empty()) {
    Emit(out, "transfers",
         "INSERT INTO transfers (transaction_hash, transfer_index, version, transfer_addr, block_hash,"
         " from_account_hash, from_public_key, to_account_hash, source_purse, target_purse, amount, gas, transfer_id,"
         " timestamp)",
         "ON CONFLICT (transaction_hash, transfer_index) DO NOTHING", rows.transfers, limits,
         [](SqlWriter& w, const TransferRow& r) {
           w.Text(r.transaction_hash).Sep().Int(r.transfer_index).Sep().Int(r.version).Sep();
           w.Text(r.transfer_addr).Sep().Text(r.block_hash).Sep().Text(r.from_account_hash).Sep();
           w.Text(r.from_public_key).Sep().Text(r.to_account_hash).Sep().Text(r.source_purse).Sep();
           w.Text(r.target_purse).Sep().Text(r.amount).Sep().Text(r.gas).Sep().Text(r.transfer_id).Sep();
           w.Text(r.timestamp);
         });
  }
  if (!rows.eras.empty()) {
    auto merged = MergeByKey(rows.eras, [](const EraRow& r) { return r.era_id; });
    Emit(out, "eras",
         "INSERT INTO eras AS e (era_id, first_block_height, last_block_height, last_block_hash, end_timestamp,"
         " protocol_version, next_era_gas_price, rewards_status, rewards_source, delegator_rewards_status)",
         "ON CONFLICT (era_id) DO UPDATE SET"
         " first_block_height = COALESCE(e.first_block_height, EXCLUDED.first_block_height),"
         " last_block_height = COALESCE(e.last_block_height, EXCLUDED.last_block_height),"
         " last_block_hash = COALESCE(e.last_block_hash, EXCLUDED.last_block_hash),"
         " end_timestamp = COALESCE(e.end_timestamp, EXCLUDED.end_timestamp),"
         " protocol_version = COALESCE(e.protocol_version, EXCLUDED.protocol_version),"
         " next_era_gas_price = COALESCE(e.next_era_gas_price, EXCLUDED.next_era_gas_price),"
         " rewards_status = CASE WHEN e.rewards_status = 'complete' OR EXCLUDED.rewards_status = 'complete'"
         " THEN 'complete' ELSE COALESCE(e.rewards_status, EXCLUDED.rewards_status) END,"
         " rewards_source = CASE WHEN e.rewards_status = 'complete' THEN e.rewards_source"
         " WHEN EXCLUDED.rewards_status = 'complete' THEN EXCLUDED.rewards_source"
         " ELSE COALESCE(e.rewards_source, EXCLUDED.rewards_source) END,"
         " delegator_rewards_status = CASE WHEN e.delegator_rewards_status = 'complete'"
         " OR EXCLUDED.delegator_rewards_status = 'complete' THEN 'complete'"
         " ELSE COALESCE(e.delegator_rewards_status, EXCLUDED.delegator_rewards_status) END",
         merged, limits, [](SqlWriter& w, const EraRow& r) {
           w.Int(r.era_id).Sep().Int(r.first_block_height).Sep().Int(r.last_block_height).Sep();
           w.Text(r.last_block_hash).Sep().Text(r.end_timestamp).Sep().Text(r.protocol_version).Sep();
           w.Int(r.next_era_gas_price).Sep();
           auto status = [&w](model::RewardsStatus s) {
             const char* text = RewardsStatus(s);
             if (text) {
               w.Text(text);
             } else {
               w.Null();
             }
           };
           status(r.rewards_status);
           w.Sep().Text(r.rewards_source).Sep();
           status(r.delegator_rewards_status);
         });
  }
  if (!rows.era_validators.empty()) {
    auto merged = MergeByKey(rows.era_validators,
                             [](const EraValidatorRow& r) { return std::make_pair(r.era_id, r.public_key); });
    Emit(out, "era_validators",
         "INSERT INTO era_validators AS v (era_id, public_key, weight, is_equivocator, is_inactive, era_report_reward)",
         "ON CONFLICT (era_id, public_key) DO UPDATE SET weight = COALESCE(v.weight, EXCLUDED.weight),"
         " is_equivocator = v.is_equivocator OR EXCLUDED.is_equivocator,"
         " is_inactive = v.is_inactive OR EXCLUDED.is_inactive,"
         " era_report_reward = COALESCE(v.era_report_reward, EXCLUDED.era_report_reward)",
         merged, limits, [](SqlWriter& w, const EraValidatorRow& r) {
           w.Int(r.era_id).Sep().Text(r.public_key).Sep().Text(r.weight).Sep().Bool(r.is_equivocator);
           w.Sep().Bool(r.is_inactive).Sep().Text(r.era_report_reward);
         });
  }
  if (!rows.validator_rewards.empty()) {
    Emit(out, "validator_rewards",
         "INSERT INTO validator_rewards (era_id, public_key, reward_index, amount, source, switch_block_hash)",
         "ON CONFLICT (era_id, public_key, reward_index) DO NOTHING", rows.validator_rewards, limits,
         [](SqlWriter& w, const ValidatorRewardRow& r) {
           w.Int(r.era_id).Sep().Text(r.public_key).Sep().Int(r.reward_index).Sep().Text(r.amount).Sep();
           w.Text(r.source).Sep().Text(r.switch_block_hash);
         });
  }
  if (!rows.delegator_rewards.empty()) {
    Emit(out, "delegator_rewards",
         "INSERT INTO delegator_rewards (era_id, delegator_public_key, validator_public_key, amount, source,"
         " switch_block_hash)",
         "ON CONFLICT (era_id, delegator_public_key, validator_public_key) DO NOTHING", rows.delegator_rewards, limits,
         [](SqlWriter& w, const DelegatorRewardRow& r) {
           w.Int(r.era_id).Sep().Text(r.delegator_public_key).Sep().Text(r.validator_public_key).Sep();
           w.Text(r.amount).Sep().Text(r.source).Sep().Text(r.switch_block_hash);
         });
  }
  if (!rows.bids.empty()) {
    Emit(out, "bids",
         "INSERT INTO bids (transaction_hash, effect_index, entry_index, bid_key, kind, validator_public_key,"
         " delegator_public_key, delegator_purse, bonding_purse, staked_amount, delegation_rate, inactive, era_id,"
         " new_validator_public_key, block_hash, timestamp)",
         "ON CONFLICT (transaction_hash, effect_index, entry_index) DO NOTHING", rows.bids, limits,
         [](SqlWriter& w, const BidRow& r) {
           w.Text(r.transaction_hash).Sep().Int(r.effect_index).Sep().Int(r.entry_index).Sep();
           w.Text(r.bid_key).Sep().Text(r.kind).Sep().Text(r.validator_public_key).Sep();
           w.Text(r.delegator_public_key).Sep().Text(r.delegator_purse).Sep().Text(r.bonding_purse).Sep();
           w.Text(r.staked_amount).Sep().Int(r.delegation_rate).Sep().Bool(r.inactive).Sep();
           w.Int(r.era_id).Sep().Text(r.new_validator_public_key).Sep().Text(r.block_hash).Sep();
           w.Text(r.timestamp);
         },
         [](const std::vector<BidRow>& r) { return EffectRowsCheck("bids", r); });
  }
  if (!rows.withdrawals.empty()) {
    Emit(out, "withdrawals",
         "INSERT INTO withdrawals (transaction_hash, effect_index, entry_index, withdrawal_key, kind,"
         " validator_public_key, unbonder_public_key, unbonder_purse, bonding_purse, amount, era_of_creation,"
         " new_validator, block_hash, timestamp)",
         "ON CONFLICT (transaction_hash, effect_index, entry_index) DO NOTHING", rows.withdrawals, limits,
         [](SqlWriter& w, const WithdrawalRow& r) {
           w.Text(r.transaction_hash).Sep().Int(r.effect_index).Sep().Int(r.entry_index).Sep();
           w.Text(r.withdrawal_key).Sep().Text(r.kind).Sep().Text(r.validator_public_key).Sep();
           w.Text(r.unbonder_public_key).Sep().Text(r.unbonder_purse).Sep().Text(r.bonding_purse).Sep();
           w.Text(r.amount).Sep().Int(r.era_of_creation).Sep().Text(r.new_validator).Sep();
           w.Text(r.block_hash).Sep().Text(r.timestamp);
         },
         [](const std::vector<WithdrawalRow>& r) { return EffectRowsCheck("withdrawals", r); });
  }
  if (!rows.faults.empty()) {
    Emit(out, "faults",
         "INSERT INTO faults (era_id, public_key, timestamp, event_source, event_stream, event_id, event_api_version)",
         "ON CONFLICT (era_id, public_key) DO NOTHING", rows.faults, limits, [](SqlWriter& w, const FaultRow& r) {
           w.Int(r.era_id).Sep().Text(r.public_key).Sep().Text(r.timestamp).Sep();
           Identity(w, r.event);
         });
  }
  if (!rows.finality_signatures.empty()) {
    Emit(out, "finality_signatures",
         "INSERT INTO finality_signatures (block_hash, public_key, era_id, block_height, chain_name_hash, signature,"
         " version, event_source, event_stream, event_id, event_api_version)",
         "ON CONFLICT (block_hash, public_key) DO UPDATE SET" + TakeStreamIdentity("finality_signatures"),
         FirstByKey(rows.finality_signatures,
                    [](const FinalitySignatureRow& r) {
                      return std::make_pair(std::string_view(r.block_hash), std::string_view(r.public_key));
                    },
                    unique_signatures),
         limits,
         [](SqlWriter& w, const FinalitySignatureRow& r) {
           w.Text(r.block_hash).Sep().Text(r.public_key).Sep().Int(r.era_id).Sep().Int(r.block_height);
           w.Sep().Text(r.chain_name_hash).Sep().Text(r.signature).Sep().Int(r.version).Sep();
           Identity(w, r.event);
         });
  }
  if (!rows.steps.empty()) {
    Emit(out, "steps",
         "INSERT INTO steps (era_id, effect_count, effect_bytes, format, event_source, event_stream, event_id,"
         " event_api_version)",
         "ON CONFLICT (era_id) DO NOTHING", rows.steps, limits, [](SqlWriter& w, const StepRow& r) {
           w.Int(r.era_id).Sep().Int(r.effect_count).Sep().Int(r.effect_bytes).Sep().Int(r.format).Sep();
           Identity(w, r.event);
         });
  }
  if (!rows.rejected_events.empty()) {
    Emit(out, "rejected_events",
         "INSERT INTO rejected_events (source, stream, event_id, topic, kafka_partition, kafka_offset, event_type,"
         " api_version, reason, payload_bytes, payload_head, received_at)",
         "ON CONFLICT (source, stream, event_id) DO NOTHING", rows.rejected_events, limits,
         [](SqlWriter& w, const RejectedEventRow& r) {
           w.Text(r.source).Sep().Text(r.stream).Sep().Int(r.event_id).Sep().Text(r.topic).Sep();
           w.Int(r.partition).Sep().Int(r.offset).Sep().Text(r.event_type).Sep().Text(r.api_version);
           w.Sep().Text(r.reason).Sep().Int(r.payload_bytes).Sep().Text(r.payload_head).Sep();
           w.Text(r.received_at);
         });
  }
}

}  // namespace ces::postgres
