// BlockAdded (1.x JsonBlock, 2.x Version1/Version2 blocks): the block, its transactions, and at a
// switch block the era, its validators and their rewards.

#include <limits>
#include <map>

#include "ces/common/text.hpp"
#include "parser_internal.hpp"

namespace ces::model::detail {
namespace {

struct EraEndData {
  bool present = false;
  bool v2 = false;  // flat EraEndV2 with motes rewards
  std::vector<std::string> equivocators;
  std::vector<std::string> inactive;
  std::vector<std::pair<std::string, std::string>> weights;         // next era
  std::vector<std::pair<std::string, std::string>> report_rewards;  // 1.x era_report
  std::vector<std::pair<std::string, std::vector<std::string>>> rewards;  // 2.x motes
  OptInt next_era_gas_price;
};

struct BlockData {
  int version = 1;
  std::string hash;
  bool have_header = false, have_body = false;
  BlockRow row;
  bool have_timestamp = false, have_era = false, have_height = false;
  EraEndData era_end;
  std::vector<BlockTransactionRow> transactions;
};

std::vector<std::string> PublicKeys(od::value& v, std::string_view path) {
  std::vector<std::string> out;
  Elements(v, path, [&](od::value& pk, std::size_t) { out.push_back(PublicKey(pk, path)); });
  return out;
}

void EraReport(od::value& v, EraEndData& era_end) {
  constexpr std::string_view kPath = "era_end.era_report";
  Fields(v, kPath, [&](std::string_view key, od::value& val) {
    if (key == "equivocators") {
      era_end.equivocators = PublicKeys(val, "era_report.equivocators");
    } else if (key == "inactive_validators") {
      era_end.inactive = PublicKeys(val, "era_report.inactive_validators");
    } else if (key == "rewards") {
      od::json_type type;
      if (auto e = val.type().get(type)) Fail("era_report.rewards", "unreadable", e);
      if (type == od::json_type::object) {  // pre-1.4: {public key: amount}
        Fields(val, "era_report.rewards", [&](std::string_view pk, od::value& amount) {
          if (!IsPublicKey(pk)) Fail("era_report.rewards", "key is not a public key");
          era_end.report_rewards.emplace_back(text::ToLower(pk), U64Text(amount, "era_report.rewards"));
        });
      } else {
        Elements(val, "era_report.rewards", [&](od::value& item, std::size_t) {
          std::string validator, amount;
          Fields(item, "era_report.rewards[]", [&](std::string_view k, od::value& x) {
            if (k == "validator") validator = PublicKey(x, "era_report.rewards[].validator");
            if (k == "amount") amount = U64Text(x, "era_report.rewards[].amount");
          });
          if (validator.empty() || amount.empty()) Fail("era_report.rewards[]", "missing validator/amount");
          era_end.report_rewards.emplace_back(std::move(validator), std::move(amount));
        });
      }
    }
  });
}

void EraEnd(od::value& v, EraEndData& era_end) {
  era_end.present = true;
  Fields(v, "era_end", [&](std::string_view key, od::value& val) {
    if (key == "era_report") {
      EraReport(val, era_end);
    } else if (key == "next_era_validator_weights") {
      od::json_type type;
      if (auto e = val.type().get(type)) Fail("era_end.next_era_validator_weights", "unreadable", e);
      if (type == od::json_type::object) {  // pre-1.4: {public key: weight}
        Fields(val, "era_end.next_era_validator_weights", [&](std::string_view pk, od::value& weight) {
          if (!IsPublicKey(pk)) Fail("era_end.next_era_validator_weights", "key is not a public key");
          era_end.weights.emplace_back(text::ToLower(pk), Motes(weight, "era_end.next_era_validator_weights"));
        });
        return;
      }
      Elements(val, "era_end.next_era_validator_weights", [&](od::value& item, std::size_t) {
        std::string validator, weight;
        Fields(item, "next_era_validator_weights[]", [&](std::string_view k, od::value& x) {
          if (k == "validator") validator = PublicKey(x, "next_era_validator_weights[].validator");
          if (k == "weight") weight = Motes(x, "next_era_validator_weights[].weight");
        });
        if (validator.empty() || weight.empty()) Fail("next_era_validator_weights[]", "missing validator/weight");
        era_end.weights.emplace_back(std::move(validator), std::move(weight));
      });
    } else if (key == "equivocators") {
      era_end.v2 = true;
      era_end.equivocators = PublicKeys(val, "era_end.equivocators");
    } else if (key == "inactive_validators") {
      era_end.v2 = true;
      era_end.inactive = PublicKeys(val, "era_end.inactive_validators");
    } else if (key == "rewards") {
      era_end.v2 = true;
      Fields(val, "era_end.rewards", [&](std::string_view pk, od::value& amounts) {
        if (!IsPublicKey(pk)) Fail("era_end.rewards", "key is not a public key");
        std::vector<std::string> list;
        od::json_type type;
        if (auto e = amounts.type().get(type)) Fail("era_end.rewards", "unreadable", e);
        if (type == od::json_type::array) {
          Elements(amounts, "era_end.rewards[]", [&](od::value& a, std::size_t) { list.push_back(Motes(a, "era_end.rewards[]")); });
        } else {
          list.push_back(U64Text(amounts, "era_end.rewards[]"));
        }
        era_end.rewards.emplace_back(text::ToLower(pk), std::move(list));
      });
    } else if (key == "next_era_gas_price") {
      era_end.v2 = true;
      era_end.next_era_gas_price = Int64(val, "era_end.next_era_gas_price");
    }
  });
}

void BlockHeader(od::value& v, BlockData& b) {
  b.have_header = true;
  BlockRow& r = b.row;
  std::uint32_t seen = 0;
  Fields(v, "block.header", [&](std::string_view key, od::value& val) {
    if (key == "parent_hash") {
      r.parent_hash = Hash(val, "header.parent_hash");
      seen |= 1;
    } else if (key == "state_root_hash") {
      r.state_root_hash = Hash(val, "header.state_root_hash");
      seen |= 2;
    } else if (key == "body_hash") {
      r.body_hash = Hash(val, "header.body_hash");
      seen |= 4;
    } else if (key == "accumulated_seed") {
      r.accumulated_seed = Hash(val, "header.accumulated_seed");
      seen |= 8;
    } else if (key == "random_bit") {
      r.random_bit = Bool(val, "header.random_bit");
    } else if (key == "era_end") {
      if (!IsNull(val)) EraEnd(val, b.era_end);
    } else if (key == "timestamp") {
      r.timestamp = Timestamp(val, "header.timestamp");
      b.have_timestamp = true;
    } else if (key == "era_id") {
      r.era_id = Int64(val, "header.era_id");
      b.have_era = true;
    } else if (key == "height") {
      r.height = Int64(val, "header.height");
      b.have_height = true;
    } else if (key == "protocol_version") {
      r.protocol_version = Text(val, "header.protocol_version");
    } else if (key == "proposer") {
      r.proposer = PublicKey(val, "header.proposer");
    } else if (key == "current_gas_price") {
      r.current_gas_price = Int64(val, "header.current_gas_price");
    } else if (key == "last_switch_block_hash") {
      r.last_switch_block_hash = OptionalHash(val, "header.last_switch_block_hash");
    }
  });
  if (seen != 15) Fail("block.header", "missing parent_hash/state_root_hash/body_hash/accumulated_seed");
  if (!b.have_timestamp || !b.have_era || !b.have_height || r.protocol_version.empty()) {
    Fail("block.header", "missing timestamp/era_id/height/protocol_version");
  }
}

void BlockBody(od::value& v, BlockData& b) {
  b.have_body = true;
  std::vector<BlockTransactionRow> deploys, transfers;
  Fields(v, "block.body", [&](std::string_view key, od::value& val) {
    if (key == "proposer") {
      b.row.proposer = PublicKey(val, "body.proposer");
    } else if (key == "deploy_hashes" || key == "transfer_hashes") {
      const bool transfer = key == "transfer_hashes";
      Elements(val, "body.deploy_hashes", [&](od::value& h, std::size_t) {
        BlockTransactionRow row;
        row.transaction_hash = Hash(h, "body.deploy_hashes[]");
        row.transaction_kind = "deploy";
        row.native_transfer = transfer;
        (transfer ? transfers : deploys).push_back(std::move(row));
      });
    } else if (key == "transactions") {
      Fields(val, "body.transactions", [&](std::string_view lane_text, od::value& list) {
        std::int64_t lane = 0;
        if (lane_text.empty() || lane_text.size() > 3) Fail("body.transactions", "lane id is not a small integer");
        for (char c : lane_text) {
          if (c < '0' || c > '9') Fail("body.transactions", "lane id is not a small integer");
          lane = lane * 10 + (c - '0');
        }
        Elements(list, "body.transactions[]", [&](od::value& h, std::size_t) {
          TxHash tx = TransactionHash(h, "body.transactions[]");
          BlockTransactionRow row;
          row.transaction_hash = std::move(tx.hash);
          row.transaction_kind = std::move(tx.kind);
          row.lane = lane;
          row.native_transfer = lane == 0;
          deploys.push_back(std::move(row));
        });
      });
    }
  });
  for (auto& row : deploys) b.transactions.push_back(std::move(row));
  for (auto& row : transfers) b.transactions.push_back(std::move(row));
}

void BlockField(std::string_view key, od::value& val, BlockData& b) {
  if (key == "hash") {
    b.hash = Hash(val, "block.hash");
  } else if (key == "header") {
    BlockHeader(val, b);
  } else if (key == "body") {
    BlockBody(val, b);
  }
}

void BlockInner(od::value& v, BlockData& b) {
  Fields(v, "block", [&](std::string_view key, od::value& val) { BlockField(key, val, b); });
}


// The era that a switch block ends (and the first block of the next one).
void EraRows(const BlockRow& r, const EraEndData& e, Rows& out) {
  EraRow era;
  era.era_id = r.era_id;
  era.last_block_height = r.height;
  era.last_block_hash = r.block_hash;
  era.end_timestamp = r.timestamp;
  era.protocol_version = r.protocol_version;
  era.next_era_gas_price = e.next_era_gas_price;
  if (e.v2) {
    era.rewards_status = RewardsStatus::kComplete;
    era.rewards_source = "era_end";
  } else {
    era.rewards_status = RewardsStatus::kPending;
    era.rewards_source = "rpc";
  }
  era.delegator_rewards_status = RewardsStatus::kPending;
  out.eras.push_back(std::move(era));
  if (r.era_id < std::numeric_limits<std::int64_t>::max() && r.height < std::numeric_limits<std::int64_t>::max()) {
    EraRow next;
    next.era_id = r.era_id + 1;
    next.first_block_height = r.height + 1;
    out.eras.push_back(std::move(next));
  }
}

// One row per (era, validator) the era end names: next-era weights, equivocators, inactive validators,
// 1.x era report rewards.
void EraValidatorRows(const BlockRow& r, const EraEndData& e, Rows& out) {
  std::map<std::pair<std::int64_t, std::string>, EraValidatorRow> validators;
  auto validator = [&](std::int64_t era_id, const std::string& pk) -> EraValidatorRow& {
    auto [it, inserted] = validators.try_emplace({era_id, pk});
    if (inserted) {
      it->second.era_id = era_id;
      it->second.public_key = pk;
    }
    return it->second;
  };
  if (r.era_id < std::numeric_limits<std::int64_t>::max()) {
    for (const auto& [pk, weight] : e.weights) validator(r.era_id + 1, pk).weight = weight;
  }
  for (const auto& pk : e.equivocators) validator(r.era_id, pk).is_equivocator = true;
  for (const auto& pk : e.inactive) validator(r.era_id, pk).is_inactive = true;
  for (const auto& [pk, amount] : e.report_rewards) validator(r.era_id, pk).era_report_reward = amount;
  for (auto& [key, row] : validators) out.era_validators.push_back(std::move(row));
}

// 2.x era end rewards in motes (source "era_end").
void EraEndRewards(const BlockRow& r, const EraEndData& e, Rows& out) {
  for (const auto& [pk, amounts] : e.rewards) {
    int index = 0;
    for (const auto& amount : amounts) {
      ValidatorRewardRow reward;
      reward.era_id = r.era_id;
      reward.public_key = pk;
      reward.reward_index = index++;
      reward.amount = amount;
      reward.source = "era_end";
      reward.switch_block_hash = r.block_hash;
      out.validator_rewards.push_back(std::move(reward));
    }
  }
}

}  // namespace

void BlockAdded(od::value& v, Rows& out) {
  std::string block_hash;
  BlockData b;
  bool have_block = false;
  Fields(v, "BlockAdded", [&](std::string_view key, od::value& val) {
    if (key == "block_hash") {
      block_hash = Hash(val, "BlockAdded.block_hash");
    } else if (key == "block") {
      have_block = true;
      Fields(val, "BlockAdded.block", [&](std::string_view k, od::value& x) {
        if (k == "Version2") {
          b.version = 2;
          BlockInner(x, b);
        } else if (k == "Version1") {
          b.version = 1;
          BlockInner(x, b);
        } else if (k.substr(0, 7) == "Version") {
          Fail("BlockAdded.block", "unknown block version " + std::string(k));
        } else {
          BlockField(k, x, b);  // 1.x JsonBlock: the block itself
        }
      });
    }
  });
  if (block_hash.empty()) Fail("BlockAdded.block_hash", "missing");
  if (!have_block || !b.have_header || !b.have_body) Fail("BlockAdded.block", "missing header/body");
  if (!b.hash.empty() && b.hash != block_hash) Fail("BlockAdded", "block_hash differs from block.hash");
  if (b.row.proposer.empty()) Fail("BlockAdded.block", "missing proposer");

  BlockRow& r = b.row;
  r.block_hash = block_hash;
  r.block_version = b.version;
  r.is_switch_block = b.era_end.present;
  int position = 0;
  for (auto& t : b.transactions) {
    ++r.transaction_count;
    if (t.transaction_kind == "deploy" && !(b.version == 1 && t.native_transfer)) ++r.deploy_count;
    if (t.native_transfer) ++r.transfer_count;
    t.block_hash = block_hash;
    t.position = position++;
  }
  if (b.version == 1) r.deploy_count = r.transaction_count - r.transfer_count;

  if (b.era_end.present) {
    EraRows(r, b.era_end, out);
    EraValidatorRows(r, b.era_end, out);
    EraEndRewards(r, b.era_end, out);
  }
  for (auto& t : b.transactions) out.block_transactions.push_back(std::move(t));
  out.blocks.push_back(std::move(b.row));
}

}  // namespace ces::model::detail
