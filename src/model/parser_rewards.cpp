// Seigniorage allocations, from a 1.x Step's WriteEraInfo or a node's era summary over JSON-RPC,
// as validator and delegator reward rows.

#include <map>

#include "parser_internal.hpp"

namespace ces::model::detail {

// EraInfo.seigniorage_allocations: [{"Validator":{validator_public_key, amount}} |
// {"Delegator":{delegator_public_key, validator_public_key, amount}} |
// {"DelegatorKind":{delegator_kind:{"PublicKey"|"Purse": …}, validator_public_key, amount}} (2.0)]
// -> reward rows of `era_id`. Validator entries are skipped unless `validators` (2.x switch blocks
// already carry the validator totals).
void Allocations(od::value& v, std::string_view path, std::int64_t era_id, const char* source,
                 const OptText& switch_block_hash, bool validators, Rows& out) {
  std::map<std::string, int> validator_index;
  Elements(v, path, [&](od::value& a, std::size_t) {
    Variant(a, "seigniorage_allocations[]", [&](std::string_view kind, od::value& z) {
      std::string validator, delegator, amount;
      Fields(z, "seigniorage_allocations[]", [&](std::string_view h, od::value& w) {
        if (h == "validator_public_key") {
          validator = PublicKey(w, "allocation.validator_public_key");
        } else if (h == "delegator_public_key") {
          delegator = PublicKey(w, "allocation.delegator_public_key");
        } else if (h == "delegator_kind") {
          Variant(w, "allocation.delegator_kind", [&](std::string_view dk, od::value& x) {
            if (dk == "PublicKey") {
              delegator = PublicKey(x, "allocation.delegator_kind.PublicKey");
            } else if (dk == "Purse") {
              delegator = URef(x, "allocation.delegator_kind.Purse");
            } else {
              Fail("allocation.delegator_kind", "unknown variant " + std::string(dk));
            }
          });
        } else if (h == "amount") {
          amount = Motes(w, "allocation.amount");
        }
      });
      if (validator.empty() || amount.empty()) Fail("seigniorage_allocations[]", "missing validator/amount");
      if (kind == "Validator") {
        if (!validators) return;
        ValidatorRewardRow row;
        row.era_id = era_id;
        row.public_key = validator;
        row.reward_index = validator_index[validator]++;
        row.amount = std::move(amount);
        row.source = source;
        row.switch_block_hash = switch_block_hash;
        out.validator_rewards.push_back(std::move(row));
      } else if (kind == "Delegator" || kind == "DelegatorKind") {
        if (delegator.empty()) Fail("seigniorage_allocations[]", "delegator allocation without delegator");
        DelegatorRewardRow row;
        row.era_id = era_id;
        row.delegator_public_key = std::move(delegator);
        row.validator_public_key = std::move(validator);
        row.amount = std::move(amount);
        row.source = source;
        row.switch_block_hash = switch_block_hash;
        out.delegator_rewards.push_back(std::move(row));
      } else {
        Fail("seigniorage_allocations[]", "unknown allocation " + std::string(kind));
      }
    });
  });
}


namespace {

// result.era_summary: checks the era and switch block it is about, reads its allocations.
void EraSummary(od::value& summary, std::int64_t era_id, const std::string& switch_block_hash, bool validators,
                Rows& out) {
  Fields(summary, "result.era_summary", [&](std::string_view f, od::value& y) {
    if (f == "era_id") {
      std::int64_t id = Int64(y, "era_summary.era_id");
      if (id != era_id) Fail("era_summary.era_id", "is " + std::to_string(id) + ", expected " + std::to_string(era_id));
    } else if (f == "block_hash") {
      std::string hash = Hash(y, "era_summary.block_hash");
      if (!switch_block_hash.empty() && hash != switch_block_hash) Fail("era_summary.block_hash", "is not the switch block");
    } else if (f == "stored_value") {
      Variant(y, "era_summary.stored_value", [&](std::string_view variant, od::value& info) {
        if (variant != "EraInfo") Fail("era_summary.stored_value", "is " + std::string(variant) + ", not EraInfo");
        Fields(info, "EraInfo", [&](std::string_view g, od::value& allocations) {
          if (g != "seigniorage_allocations") return;
          Allocations(allocations, "seigniorage_allocations", era_id, "rpc", switch_block_hash, validators, out);
        });
      });
    }
  });
}

}  // namespace

void EraSummaryResponse(od::value& root, std::int64_t era_id, const std::string& switch_block_hash, bool validators,
                        Rows& out) {
  bool have_result = false, have_summary = false;
  std::string rpc_error;
  Fields(root, "response", [&](std::string_view key, od::value& val) {
    if (key == "error") {
      od::object object;
      std::string_view raw;
      if (val.get_object().get(object) == simdjson::SUCCESS && object.raw_json().get(raw) == simdjson::SUCCESS) {
        rpc_error = std::string(raw.substr(0, 300));
      } else {
        rpc_error = "error";
      }
    } else if (key == "result") {
      have_result = true;
      Fields(val, "result", [&](std::string_view k, od::value& x) {
        if (k != "era_summary" || IsNull(x)) return;
        have_summary = true;
        EraSummary(x, era_id, switch_block_hash, validators, out);
      });
    }
  });
  if (!rpc_error.empty()) Fail("RPC error " + rpc_error);
  if (!have_result) Fail("RPC response without result");
  if (!have_summary) Fail("RPC result has no era_summary (the node does not know this switch block)");
}

}  // namespace ces::model::detail
