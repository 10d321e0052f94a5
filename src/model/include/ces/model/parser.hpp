#pragma once
// Casper SSE payloads (1.x and 2.x, see ../shared/reference/casper-events.md) -> rows of the model.
// Parsing uses simdjson On Demand: only the fields the model needs are read, everything else
// (module bytes, effects that are not bids/withdrawals, Step effects) is skipped without being
// materialised. Bad input is a value (ParseResult::kRejected + reason), never an exception.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "ces/model/rows.hpp"

namespace ces::model {

enum class Outcome {
  kStored,    // rows were appended
  kIgnored,   // a valid event the model does not store (ApiVersion, Shutdown)
  kRejected,  // unknown type or a payload that does not match its type's shape
};

struct ParseResult {
  Outcome outcome = Outcome::kRejected;
  std::string event_type;  // the payload's top-level key ("BlockAdded", …), "Shutdown", or "" if none
  std::string reason;      // why it was rejected
  std::size_t rows = 0;    // rows appended
};

// Reusable parser (holds simdjson buffers): one per thread.
class Parser {
 public:
  Parser();
  ~Parser();
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  // Appends the rows of one event to `out`. A 1.x Step's WriteEraInfo transform gives the era's
  // validator and delegator rewards in motes (source "step") and marks that era's rewards complete. On rejection nothing is appended. `identity` (when known)
  // is recorded on the rows that keep it: blocks, transactions (as the Accepted, Processed or Expired
  // event), faults, finality signatures and steps.
  ParseResult Parse(std::string_view payload, Rows& out, const EventIdentity& identity = {});

  // A node JSON-RPC response of chain_get_era_info_by_switch_block (1.x): the era's seigniorage
  // allocations as validator/delegator reward rows (source "rpc"). On failure returns false with
  // `error` (an RPC error object, a null era_summary, a shape mismatch, an era id other than `era_id`).
  bool ParseEraInfoResponse(std::string_view response, std::int64_t era_id, const std::string& switch_block_hash,
                            Rows& out, std::string& error);

  // A node JSON-RPC response of chain_get_era_summary (2.x) for the switch block of era `era_id`: its
  // Delegator/DelegatorKind seigniorage allocations as delegator reward rows (source "rpc"); the
  // validator totals come from the switch block's era_end and are not repeated. Failures as above.
  bool ParseEraSummaryResponse(std::string_view response, std::int64_t era_id, const std::string& switch_block_hash,
                               Rows& out, std::string& error);

 private:
  bool ParseEraSummary(std::string_view response, std::int64_t era_id, const std::string& switch_block_hash,
                       bool validators, Rows& out, std::string& error);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ces::model
