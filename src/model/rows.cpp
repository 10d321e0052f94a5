#include "ces/model/rows.hpp"

#include <iterator>

namespace ces::model {
namespace {

template <class T>
void Fill(std::optional<T>& into, const std::optional<T>& from) {
  if (!into && from) into = from;
}

void Fill(EventIdentity& into, const EventIdentity& from) {
  if (!into.Known() && from.Known()) into = from;
}

template <class T>
void Move(std::vector<T>& into, std::vector<T>& from) {
  if (into.empty()) {
    into = std::move(from);
  } else {
    into.insert(into.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
  }
  from.clear();
}

}  // namespace

const char* TxStatusName(TxStatus status) {
  switch (status) {
    case TxStatus::kAccepted: return "accepted";
    case TxStatus::kExpired: return "expired";
    case TxStatus::kProcessed: return "processed";
  }
  return "accepted";
}

void Merge(TransactionRow& into, const TransactionRow& from) {
  if (static_cast<int>(from.status) > static_cast<int>(into.status)) into.status = from.status;
  into.accepted = into.accepted || from.accepted;
  if (into.kind.empty()) into.kind = from.kind;
  Fill(into.block_hash, from.block_hash);
  Fill(into.initiator_public_key, from.initiator_public_key);
  Fill(into.initiator_account_hash, from.initiator_account_hash);
  Fill(into.timestamp, from.timestamp);
  Fill(into.ttl_ms, from.ttl_ms);
  Fill(into.chain_name, from.chain_name);
  Fill(into.pricing_mode, from.pricing_mode);
  Fill(into.gas_price, from.gas_price);
  Fill(into.gas_price_tolerance, from.gas_price_tolerance);
  Fill(into.payment_amount, from.payment_amount);
  Fill(into.entry_point, from.entry_point);
  Fill(into.target, from.target);
  Fill(into.target_id, from.target_id);
  Fill(into.approvals_count, from.approvals_count);
  Fill(into.execution_version, from.execution_version);
  Fill(into.success, from.success);
  Fill(into.error_message, from.error_message);
  Fill(into.gas_limit, from.gas_limit);
  Fill(into.consumed, from.consumed);
  Fill(into.cost, from.cost);
  Fill(into.refund, from.refund);
  Fill(into.current_price, from.current_price);
  Fill(into.size_estimate, from.size_estimate);
  Fill(into.transfer_count, from.transfer_count);
  Fill(into.accepted_event, from.accepted_event);
  Fill(into.processed_event, from.processed_event);
  Fill(into.expired_event, from.expired_event);
}

void Merge(EraRow& into, const EraRow& from) {
  Fill(into.first_block_height, from.first_block_height);
  Fill(into.last_block_height, from.last_block_height);
  Fill(into.last_block_hash, from.last_block_hash);
  Fill(into.end_timestamp, from.end_timestamp);
  Fill(into.protocol_version, from.protocol_version);
  Fill(into.next_era_gas_price, from.next_era_gas_price);
  // The source belongs to the status: a row that completes the rewards brings its source ("step"
  // replaces the "rpc" a pending 1.x switch block names); a complete row keeps its own.
  if (from.rewards_status == RewardsStatus::kComplete && into.rewards_status != RewardsStatus::kComplete) {
    into.rewards_status = from.rewards_status;
    into.rewards_source = from.rewards_source;
  } else if (static_cast<int>(from.rewards_status) > static_cast<int>(into.rewards_status)) {
    into.rewards_status = from.rewards_status;
  }
  Fill(into.rewards_source, from.rewards_source);
  if (static_cast<int>(from.delegator_rewards_status) > static_cast<int>(into.delegator_rewards_status)) {
    into.delegator_rewards_status = from.delegator_rewards_status;
  }
}

void Merge(EraValidatorRow& into, const EraValidatorRow& from) {
  Fill(into.weight, from.weight);
  into.is_equivocator = into.is_equivocator || from.is_equivocator;
  into.is_inactive = into.is_inactive || from.is_inactive;
  Fill(into.era_report_reward, from.era_report_reward);
}

std::size_t Rows::Count() const {
  return blocks.size() + block_transactions.size() + transactions.size() + transfers.size() + eras.size() +
         era_validators.size() + validator_rewards.size() + delegator_rewards.size() + bids.size() +
         withdrawals.size() + faults.size() + finality_signatures.size() + steps.size() + rejected_events.size();
}

void Rows::Clear() {
  blocks.clear();
  block_transactions.clear();
  transactions.clear();
  transfers.clear();
  eras.clear();
  era_validators.clear();
  validator_rewards.clear();
  delegator_rewards.clear();
  bids.clear();
  withdrawals.clear();
  faults.clear();
  finality_signatures.clear();
  steps.clear();
  rejected_events.clear();
}

void Rows::Append(Rows&& other) {
  Move(blocks, other.blocks);
  Move(block_transactions, other.block_transactions);
  Move(transactions, other.transactions);
  Move(transfers, other.transfers);
  Move(eras, other.eras);
  Move(era_validators, other.era_validators);
  Move(validator_rewards, other.validator_rewards);
  Move(delegator_rewards, other.delegator_rewards);
  Move(bids, other.bids);
  Move(withdrawals, other.withdrawals);
  Move(faults, other.faults);
  Move(finality_signatures, other.finality_signatures);
  Move(steps, other.steps);
  Move(rejected_events, other.rejected_events);
}

}  // namespace ces::model
