#include "specs.hpp"

namespace ces::query::detail {

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

const ListSpec& BlockList() {
  static const ListSpec k = {
      "blocks b",
      BlockCols(),
      {{"timestamp", nullptr}, {"blockHeight", "b.height"}, {"eraId", "b.era_id"}, {"deployCount", "b.deploy_count"},
       {"transferCount", "b.transfer_count"}},
      "timestamp",
      {{"b.timestamp", "timestamptz"}, {"b.block_hash", "text"}},
      "b.timestamp"};
  return k;
}

namespace {

constexpr const char* kTxTime = "coalesce(x.timestamp, '-infinity'::timestamptz)";

}  // namespace

const std::vector<Col>& DeployCols() {
  static const std::vector<Col> k = {
      {"deployHash", "x.transaction_hash", Kind::kText},
      {"blockHash", "x.block_hash", Kind::kText},
      {"account", "x.initiator_public_key", Kind::kText},
      {"cost", "x.cost", Kind::kNumber},
      {"errorMessage", "x.error_message", Kind::kText},
      {"timestamp", "x.timestamp", Kind::kJavaTime},
      {"status", "x.status", Kind::kText},
      {"success", "x.success", Kind::kBool},
      {"accountHash", "x.initiator_account_hash", Kind::kText},
      {"paymentAmount", "x.payment_amount", Kind::kNumber},
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

const ListSpec& DeployList() {
  static const ListSpec k = {
      "transactions x", DeployCols(), {{"timestamp", nullptr}}, "timestamp",
      {{kTxTime, "timestamptz"}, {"x.transaction_hash", "text"}}, "x.timestamp"};
  return k;
}

const ListSpec& TransactionList() {
  static const ListSpec k = {
      "transactions x", TransactionCols(), {{"timestamp", nullptr}}, "timestamp",
      {{kTxTime, "timestamptz"}, {"x.transaction_hash", "text"}}, "x.timestamp"};
  return k;
}

const ListSpec& TransferList() {
  static const ListSpec k = {
      "transfers t",
      {{"transferId", "t.transfer_id", Kind::kNumber},
       {"transferHash", "t.transfer_addr", Kind::kText},
       {"deployHash", "t.transaction_hash", Kind::kText},
       {"blockHash", "t.block_hash", Kind::kText},
       {"fromAccount", "t.from_account_hash", Kind::kText},
       {"toAccount", "t.to_account_hash", Kind::kText},
       {"sourcePurse", "t.source_purse", Kind::kText},
       {"targetPurse", "t.target_purse", Kind::kText},
       {"amount", "t.amount", Kind::kNumber},
       {"timestamp", "t.timestamp", Kind::kJavaTime},
       {"transactionHash", "t.transaction_hash", Kind::kText},
       {"transferIndex", "t.transfer_index", Kind::kInt},
       {"version", "t.version", Kind::kInt},
       {"fromPublicKey", "t.from_public_key", Kind::kText},
       {"gas", "t.gas", Kind::kNumber}},
      {{"timestamp", nullptr}, {"fromAccount", "t.from_account_hash"}, {"toAccount", "t.to_account_hash"},
       {"transferId", "t.transfer_id"}, {"amount", "t.amount"}},
      "timestamp",
      {{"coalesce(t.timestamp, '-infinity'::timestamptz)", "timestamptz"}, {"t.transaction_hash", "text"},
       {"t.transfer_index", "integer"}},
      "t.timestamp"};
  return k;
}

const ListSpec& EraValidatorList() {
  static const ListSpec k = {
      "era_validators v",
      {{"eraId", "v.era_id", Kind::kInt},
       {"publicKey", "v.public_key", Kind::kText},
       {"weight", "v.weight", Kind::kNumber},
       {"rewards", "v.era_report_reward", Kind::kNumber},
       {"hasEquivocation", "v.is_equivocator", Kind::kBool},
       {"wasActive", "NOT v.is_inactive", Kind::kBool}},
      {{"eraId", nullptr}, {"id", nullptr}, {"publicKey", "v.public_key"}, {"weight", "v.weight"},
       {"rewards", "v.era_report_reward"}},
      "eraId",
      {{"v.era_id", "bigint"}, {"v.public_key", "text"}},
      nullptr};
  return k;
}

const ListSpec& ValidatorRewardList() {
  static const ListSpec k = {
      "validator_rewards r LEFT JOIN eras e ON e.era_id = r.era_id",
      {{"eraId", "r.era_id", Kind::kInt},
       {"publicKey", "r.public_key", Kind::kText},
       {"amount", "r.amount", Kind::kNumber},
       {"timestamp", "e.end_timestamp", Kind::kJavaTime},
       {"rewardIndex", "r.reward_index", Kind::kInt},
       {"source", "r.source", Kind::kText},
       {"switchBlockHash", "r.switch_block_hash", Kind::kText},
       {"rewardsStatus", "e.rewards_status", Kind::kText}},
      {{"timestamp", nullptr}, {"eraId", nullptr}, {"amount", "r.amount"}},
      "timestamp",
      {{"r.era_id", "bigint"}, {"r.reward_index", "integer"}},
      "e.end_timestamp"};
  return k;
}

const ListSpec& DelegatorRewardList() {
  static const ListSpec k = {
      "delegator_rewards r LEFT JOIN eras e ON e.era_id = r.era_id",
      {{"eraId", "r.era_id", Kind::kInt},
       {"publicKey", "r.delegator_public_key", Kind::kText},
       {"validatorPublicKey", "r.validator_public_key", Kind::kText},
       {"amount", "r.amount", Kind::kNumber},
       {"timestamp", "e.end_timestamp", Kind::kJavaTime},
       {"source", "r.source", Kind::kText},
       {"switchBlockHash", "r.switch_block_hash", Kind::kText},
       {"rewardsStatus", "coalesce(e.delegator_rewards_status, e.rewards_status)", Kind::kText}},
      {{"timestamp", nullptr}, {"eraId", nullptr}, {"amount", "r.amount"}},
      "timestamp",
      {{"r.era_id", "bigint"}, {"r.validator_public_key", "text"}},
      "e.end_timestamp"};
  return k;
}

const ListSpec& FaultList() {
  static const ListSpec k = {
      "faults f",
      {{"eraId", "f.era_id", Kind::kInt}, {"publicKey", "f.public_key", Kind::kText},
       {"timestamp", "f.timestamp", Kind::kTime}},
      {{"eraId", nullptr}, {"timestamp", "f.timestamp"}},
      "eraId",
      {{"f.era_id", "bigint"}, {"f.public_key", "text"}},
      "f.timestamp"};
  return k;
}

const ListSpec& SignatureList() {
  static const ListSpec k = {
      "finality_signatures s",
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
  return k;
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

const ListSpec& EraList() {
  static const ListSpec k = {"eras e", EraCols(), {{"eraId", nullptr}}, "eraId", {{"e.era_id", "bigint"}}, "e.end_timestamp"};
  return k;
}

const std::vector<Col>& StepCols() {
  static const std::vector<Col> k = {
      {"eraId", "s.era_id", Kind::kInt},
      {"effectCount", "s.effect_count", Kind::kInt},
      {"effectBytes", "s.effect_bytes", Kind::kInt},
      {"format", "s.format", Kind::kInt},
  };
  return k;
}

const char* const kLatestValidatorBids =
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

const ListSpec& ValidatorBidList() {
  static const ListSpec k = {
      kLatestValidatorBids, ValidatorBidCols(), {{"publicKey", nullptr}, {"stakedAmount", "vb.staked_amount"}},
      "publicKey", {{"vb.validator_public_key", "text"}}, "vb.timestamp", "ASC"};
  return k;
}

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

const ListSpec& DelegationList() {
  static const std::string from = LatestDelegations("delegator_public_key = $1");
  static const ListSpec k = {
      from.c_str(), DelegationCols(), {{"validatorPublicKey", nullptr}, {"stakedAmount", "d.staked_amount"}},
      "validatorPublicKey", {{"d.validator_public_key", "text"}}, "d.timestamp", "ASC"};
  return k;
}

const ListSpec& WithdrawalList() {
  static const ListSpec k = {
      "withdrawals w",
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
  return k;
}

const ListSpec& BlockTransactionList() {
  static const ListSpec k = {
      "block_transactions bt LEFT JOIN transactions x ON x.transaction_hash = bt.transaction_hash",
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
  return k;
}


}  // namespace ces::query::detail
