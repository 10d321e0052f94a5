// libFuzzer target for ces::model::Parser: a Casper event payload -> rows of the PostgreSQL model, and
// the node's era-info RPC responses -> reward rows. Checked, besides no crash, no exception and no
// sanitizer report:
//  * the outcome and the rows agree: a rejection comes with a reason and appends nothing, an ignored
//    event appends nothing, a stored one appends exactly ParseResult::rows rows;
//  * the stored values have the encodings rows.hpp promises (so the database never refuses a value):
//    hashes, public keys and signatures lower-case hex of their lengths, amounts decimal digit strings,
//    timestamps RFC 3339 UTC, heights, era ids and counters not negative;
//  * the event identity is recorded on the rows that keep it (blocks, faults, signatures, steps and the
//    transaction's Accepted/Processed/Expired columns);
//  * a block's transaction rows are its transaction count, in positions 0..n-1;
//  * parsing is deterministic with a reused parser: a second parse gives the same outcome and the same
//    INSERT statements (postgres::BuildInserts), also after parsing another payload in between;
//  * an era-info/era-summary response either fails with an error and appends nothing, or gives reward
//    rows of the era and switch block asked for, with public keys and decimal amounts.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ces/common/text.hpp"
#include "ces/common/time.hpp"
#include "ces/model/parser.hpp"
#include "ces/model/values.hpp"
#include "fuzz_check.hpp"
#include "sql.hpp"

namespace {

using ces::fuzz::Check;
using ces::model::EventIdentity;
using ces::model::OptInt;
using ces::model::OptText;
using ces::model::Outcome;
using ces::model::ParseResult;
using ces::model::Parser;
using ces::model::Rows;

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

void CheckHash(const std::string& s, const char* what) {
  Check(s.size() == 64 && IsLowerHex(s), what);
}
void CheckHash(const OptText& s, const char* what) {
  if (s) CheckHash(*s, what);
}
void CheckPublicKey(const std::string& s, const char* what) {
  Check(ces::model::IsPublicKey(s) && IsLowerHex(s), what);
}
void CheckPublicKey(const OptText& s, const char* what) {
  if (s) CheckPublicKey(*s, what);
}
void CheckDecimal(const std::string& s, const char* what) { Check(ces::model::IsDecimal(s), what); }
void CheckDecimal(const OptText& s, const char* what) {
  if (s) CheckDecimal(*s, what);
}
void CheckTimestamp(const std::string& s, const char* what) { Check(ces::time::IsRfc3339Utc(s), what); }
void CheckTimestamp(const OptText& s, const char* what) {
  if (s) CheckTimestamp(*s, what);
}
void CheckNotNegative(std::int64_t v, const char* what) { Check(v >= 0, what); }
void CheckNotNegative(const OptInt& v, const char* what) {
  if (v) CheckNotNegative(*v, what);
}

bool SameIdentity(const EventIdentity& a, const EventIdentity& b) {
  return a.source == b.source && a.stream == b.stream && a.event_id == b.event_id && a.api_version == b.api_version;
}

void CheckEncodings(const Rows& rows) {
  for (const auto& r : rows.blocks) {
    CheckHash(r.block_hash, "block: block_hash");
    CheckHash(r.parent_hash, "block: parent_hash");
    CheckHash(r.state_root_hash, "block: state_root_hash");
    CheckHash(r.body_hash, "block: body_hash");
    CheckHash(r.last_switch_block_hash, "block: last_switch_block_hash");
    CheckNotNegative(r.height, "block: height");
    CheckNotNegative(r.era_id, "block: era_id");
    CheckTimestamp(r.timestamp, "block: timestamp");
    CheckPublicKey(r.proposer, "block: proposer");
    Check(r.deploy_count >= 0 && r.transfer_count >= 0 && r.transaction_count >= r.deploy_count &&
              r.transaction_count >= r.transfer_count,
          "block: transaction counts");
    int position = 0;
    for (const auto& t : rows.block_transactions) {
      if (t.block_hash != r.block_hash) continue;
      Check(t.position == position++, "block transactions: positions 0..n-1 in order");
    }
    Check(position == r.transaction_count, "block: transaction_count is not its transaction rows");
  }
  for (const auto& r : rows.block_transactions) {
    CheckHash(r.block_hash, "block transaction: block_hash");
    CheckHash(r.transaction_hash, "block transaction: transaction_hash");
    Check(r.transaction_kind == "deploy" || r.transaction_kind == "version1", "block transaction: kind");
  }
  for (const auto& r : rows.transactions) {
    CheckHash(r.transaction_hash, "transaction: transaction_hash");
    Check(r.kind == "deploy" || r.kind == "version1", "transaction: kind");
    CheckHash(r.block_hash, "transaction: block_hash");
    CheckPublicKey(r.initiator_public_key, "transaction: initiator_public_key");
    CheckHash(r.initiator_account_hash, "transaction: initiator_account_hash");
    CheckTimestamp(r.timestamp, "transaction: timestamp");
    CheckNotNegative(r.ttl_ms, "transaction: ttl");
    CheckDecimal(r.payment_amount, "transaction: payment_amount");
    CheckDecimal(r.gas_limit, "transaction: gas_limit");
    CheckDecimal(r.consumed, "transaction: consumed");
    CheckDecimal(r.cost, "transaction: cost");
    CheckDecimal(r.refund, "transaction: refund");
    CheckNotNegative(r.approvals_count, "transaction: approvals_count");
    CheckNotNegative(r.transfer_count, "transaction: transfer_count");
  }
  for (const auto& r : rows.transfers) {
    CheckHash(r.transaction_hash, "transfer: transaction_hash");
    CheckHash(r.block_hash, "transfer: block_hash");
    CheckHash(r.from_account_hash, "transfer: from_account_hash");
    CheckPublicKey(r.from_public_key, "transfer: from_public_key");
    CheckHash(r.to_account_hash, "transfer: to_account_hash");
    CheckDecimal(r.amount, "transfer: amount");
    CheckDecimal(r.gas, "transfer: gas");
    CheckDecimal(r.transfer_id, "transfer: transfer_id");
    CheckTimestamp(r.timestamp, "transfer: timestamp");
  }
  for (const auto& r : rows.eras) {
    CheckNotNegative(r.era_id, "era: era_id");
    CheckNotNegative(r.first_block_height, "era: first_block_height");
    CheckNotNegative(r.last_block_height, "era: last_block_height");
    CheckHash(r.last_block_hash, "era: last_block_hash");
    CheckTimestamp(r.end_timestamp, "era: end_timestamp");
  }
  for (const auto& r : rows.era_validators) {
    CheckNotNegative(r.era_id, "era validator: era_id");
    CheckPublicKey(r.public_key, "era validator: public_key");
    CheckDecimal(r.weight, "era validator: weight");
    CheckDecimal(r.era_report_reward, "era validator: era_report_reward");
  }
  for (const auto& r : rows.validator_rewards) {
    CheckNotNegative(r.era_id, "validator reward: era_id");
    CheckPublicKey(r.public_key, "validator reward: public_key");
    CheckDecimal(r.amount, "validator reward: amount");
    CheckHash(r.switch_block_hash, "validator reward: switch_block_hash");
  }
  for (const auto& r : rows.delegator_rewards) {
    CheckNotNegative(r.era_id, "delegator reward: era_id");
    // A delegator is a public key, or (2.x DelegatorKind::Purse) the purse's URef.
    Check((ces::model::IsPublicKey(r.delegator_public_key) || ces::model::IsURef(r.delegator_public_key)) &&
              r.delegator_public_key == ces::text::ToLower(r.delegator_public_key),
          "delegator reward: delegator_public_key");
    CheckPublicKey(r.validator_public_key, "delegator reward: validator_public_key");
    CheckDecimal(r.amount, "delegator reward: amount");
    CheckHash(r.switch_block_hash, "delegator reward: switch_block_hash");
  }
  for (const auto& r : rows.bids) {
    CheckHash(r.transaction_hash, "bid: transaction_hash");
    CheckPublicKey(r.validator_public_key, "bid: validator_public_key");
    CheckPublicKey(r.delegator_public_key, "bid: delegator_public_key");
    CheckDecimal(r.staked_amount, "bid: staked_amount");
    CheckNotNegative(r.era_id, "bid: era_id");
    CheckTimestamp(r.timestamp, "bid: timestamp");
  }
  for (const auto& r : rows.withdrawals) {
    CheckHash(r.transaction_hash, "withdrawal: transaction_hash");
    CheckPublicKey(r.validator_public_key, "withdrawal: validator_public_key");
    CheckPublicKey(r.unbonder_public_key, "withdrawal: unbonder_public_key");
    CheckDecimal(r.amount, "withdrawal: amount");
    CheckNotNegative(r.era_of_creation, "withdrawal: era_of_creation");
    CheckTimestamp(r.timestamp, "withdrawal: timestamp");
  }
  for (const auto& r : rows.faults) {
    CheckNotNegative(r.era_id, "fault: era_id");
    CheckPublicKey(r.public_key, "fault: public_key");
    CheckTimestamp(r.timestamp, "fault: timestamp");
  }
  for (const auto& r : rows.finality_signatures) {
    CheckHash(r.block_hash, "finality signature: block_hash");
    CheckPublicKey(r.public_key, "finality signature: public_key");
    CheckNotNegative(r.era_id, "finality signature: era_id");
    CheckNotNegative(r.block_height, "finality signature: block_height");
    CheckHash(r.chain_name_hash, "finality signature: chain_name_hash");
    Check(ces::model::IsSignature(r.signature) && IsLowerHex(r.signature), "finality signature: signature");
  }
  for (const auto& r : rows.steps) {
    CheckNotNegative(r.era_id, "step: era_id");
    Check(r.effect_count >= 0 && r.effect_bytes >= 0, "step: effect counts");
  }
  Check(rows.rejected_events.empty(), "the parser does not write rejected_events rows");
}

void CheckIdentity(const Rows& rows, std::string_view type, const EventIdentity& identity) {
  for (const auto& r : rows.blocks) Check(SameIdentity(r.event, identity), "block: event identity");
  for (const auto& r : rows.faults) Check(SameIdentity(r.event, identity), "fault: event identity");
  for (const auto& r : rows.finality_signatures) Check(SameIdentity(r.event, identity), "signature: event identity");
  for (const auto& r : rows.steps) Check(SameIdentity(r.event, identity), "step: event identity");
  auto ends_with = [&](std::string_view suffix) {
    return type.size() >= suffix.size() && type.substr(type.size() - suffix.size()) == suffix;
  };
  for (const auto& r : rows.transactions) {
    if (ends_with("Accepted")) Check(SameIdentity(r.accepted_event, identity), "transaction: Accepted identity");
    if (ends_with("Processed")) Check(SameIdentity(r.processed_event, identity), "transaction: Processed identity");
    if (ends_with("Expired")) Check(SameIdentity(r.expired_event, identity), "transaction: Expired identity");
  }
}

std::vector<std::string> Sql(const Rows& rows) {
  std::vector<ces::postgres::Statement> statements;
  ces::postgres::BuildInserts(rows, statements, 1000, SIZE_MAX);  // literals
  ces::postgres::BuildInserts(rows, statements, 1000, 1);         // COPY text
  std::vector<std::string> out;
  for (auto& s : statements) out.push_back(std::string(s.table) + ": " + s.sql + "\n" + s.copy_data);
  return out;
}

void CheckEraSummary(Parser& parser, std::string_view response, bool validators) {
  constexpr std::int64_t kEra = 7;
  const std::string switch_block(64, 'a');
  Rows rows;
  std::string error;
  const bool ok = validators ? parser.ParseEraInfoResponse(response, kEra, switch_block, rows, error)
                             : parser.ParseEraSummaryResponse(response, kEra, switch_block, rows, error);
  if (!ok) {
    Check(!error.empty(), "era summary: a failure without an error");
    Check(rows.Count() == 0, "era summary: rows appended on failure");
    return;
  }
  Check(validators || rows.validator_rewards.empty(), "era summary (2.x): validator rewards are not repeated");
  for (const auto& r : rows.validator_rewards) {
    Check(r.era_id == kEra && r.source == "rpc" && r.switch_block_hash == switch_block, "era info: validator reward");
  }
  for (const auto& r : rows.delegator_rewards) {
    Check(r.era_id == kEra && r.source == "rpc" && r.switch_block_hash == switch_block, "era info: delegator reward");
  }
  CheckEncodings(rows);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Parser parser;  // reused across inputs, as in store-consume
  const std::string_view payload(reinterpret_cast<const char*>(data), size);
  const EventIdentity identity{"http://10.0.0.5:9999", "events", 42, "2.0.0"};

  Rows rows;
  const ParseResult first = parser.Parse(payload, rows, identity);
  switch (first.outcome) {
    case Outcome::kRejected:
      Check(!first.reason.empty(), "a rejection without a reason");
      Check(rows.Count() == 0 && first.rows == 0, "rows appended for a rejected event");
      break;
    case Outcome::kIgnored:
      Check(rows.Count() == 0 && first.rows == 0, "rows appended for an ignored event");
      break;
    case Outcome::kStored:
      Check(first.reason.empty(), "a stored event with a rejection reason");
      Check(!first.event_type.empty(), "a stored event without a type");
      Check(rows.Count() == first.rows, "ParseResult::rows is not the rows appended");
      CheckEncodings(rows);
      CheckIdentity(rows, first.event_type, identity);
      break;
  }

  // Deterministic with a reused parser, also after another payload, and appending to rows already there.
  const std::vector<std::string> sql = Sql(rows);
  Rows other;
  (void)parser.Parse(R"({"FinalitySignature":{}})", other);
  const std::size_t before = rows.Count();
  const ParseResult again = parser.Parse(payload, rows, identity);
  Check(again.outcome == first.outcome && again.event_type == first.event_type && again.reason == first.reason &&
            again.rows == first.rows,
        "parsing again gives another result");
  Check(rows.Count() == before + again.rows, "rows appended to a non-empty Rows");
  Rows fresh;
  (void)parser.Parse(payload, fresh, identity);
  Check(Sql(fresh) == sql, "parsing again gives other rows");

  CheckEraSummary(parser, payload, true);
  CheckEraSummary(parser, payload, false);
  return 0;
}
