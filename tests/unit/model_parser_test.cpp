// ces::model::Parser: every event type of 1.x and 2.x against the recordings in tests/data/casper,
// with the expected values written out by hand (read off the files), plus rejections.
#include "ces/model/parser.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace ces::model {
namespace {

namespace fs = std::filesystem;

const fs::path kData = fs::path(CES_RECORDINGS_DIR);

std::string Event(const std::string& relative) { return test::RecordedPayload(relative); }

Rows ParseOk(const std::string& payload, const char* expected_type) {
  Parser parser;
  Rows rows;
  ParseResult r = parser.Parse(payload, rows);
  EXPECT_EQ(r.outcome, Outcome::kStored) << r.reason;
  EXPECT_EQ(r.event_type, expected_type);
  EXPECT_EQ(r.rows, rows.Count());
  return rows;
}

ParseResult ParseRejected(const std::string& payload) {
  Parser parser;
  Rows rows;
  ParseResult r = parser.Parse(payload, rows);
  EXPECT_EQ(r.outcome, Outcome::kRejected) << payload.substr(0, 200);
  EXPECT_FALSE(r.reason.empty());
  EXPECT_EQ(rows.Count(), 0u) << "a rejected event must not leave rows behind";
  return r;
}

// ---------------------------------------------------------------------------------------------
// BlockAdded

TEST(ModelBlockAdded, V1BlockFromTestnet) {
  Rows rows = ParseOk(Event("v1/events/BlockAdded.json"), "BlockAdded");
  ASSERT_EQ(rows.blocks.size(), 1u);
  const BlockRow& b = rows.blocks[0];
  EXPECT_EQ(b.block_hash, "5a91486c973deea304e26138206723278d9d269f4fe03bfc9e5fdb93e927236e");
  EXPECT_EQ(b.height, 1002230);
  EXPECT_EQ(b.era_id, 5849);
  EXPECT_EQ(b.parent_hash, "6c6aa63fb4e3e10f964e3be535d29b023902ace44483409e932ffd3cadfbf47b");
  EXPECT_EQ(b.state_root_hash, "99a6cae10c5ab5b528e968378ead4bc8ef56a6613227e85e28845d9e398103ae");
  EXPECT_EQ(b.body_hash, "d39ebbfd8c20216acdf35b0c5954891578c1171e0e050abf68c1f3bded4ab6b7");
  EXPECT_EQ(b.accumulated_seed, "cdaab5c75e8654b6b4fd4692f73de6ba8ea5711ceee9bf1532e81561457b5df3");
  EXPECT_EQ(b.random_bit, true);
  EXPECT_EQ(b.timestamp, "2022-08-10T08:22:57.280Z");
  EXPECT_EQ(b.proposer, "017d96b9a63abcb61c870a4f55187a0a7ac24096bdb5fc585c12a686a4d892009e");
  EXPECT_EQ(b.protocol_version, "1.4.7");
  EXPECT_FALSE(b.is_switch_block);
  EXPECT_EQ(b.block_version, 1);
  EXPECT_EQ(b.deploy_count, 0);
  EXPECT_EQ(b.transfer_count, 0);
  EXPECT_EQ(b.transaction_count, 0);
  EXPECT_FALSE(b.current_gas_price.has_value());
  EXPECT_FALSE(b.last_switch_block_hash.has_value());
  EXPECT_TRUE(rows.eras.empty());
  EXPECT_TRUE(rows.era_validators.empty());
}

TEST(ModelBlockAdded, V1SwitchBlockGivesEraValidatorsWithCorrectFlagsAndPendingRewards) {
  Rows rows = ParseOk(Event("v1/events/BlockAdded.era_end.json"), "BlockAdded");
  ASSERT_EQ(rows.blocks.size(), 1u);
  EXPECT_TRUE(rows.blocks[0].is_switch_block);
  EXPECT_EQ(rows.blocks[0].height, 1239489);
  EXPECT_EQ(rows.blocks[0].era_id, 6930);
  EXPECT_EQ(rows.blocks[0].proposer, "0106ca7c39cd272dbf21a86eeb3b36b7c26e2e9b94af64292419f7862936bca2ca");

  ASSERT_EQ(rows.eras.size(), 2u);
  const EraRow& ended = rows.eras[0];
  EXPECT_EQ(ended.era_id, 6930);
  EXPECT_EQ(ended.last_block_height, 1239489);
  EXPECT_EQ(ended.last_block_hash, "153d7a0d0313033cf4636187c02f44d9c68de5c273fa075f8a0e479700a7f4ee");
  EXPECT_EQ(ended.end_timestamp, "2022-11-08T13:43:09.568Z");
  EXPECT_EQ(ended.protocol_version, "1.4.8");
  EXPECT_EQ(ended.rewards_status, RewardsStatus::kPending);  // 1.x: motes from the era's Step or the node RPC
  EXPECT_EQ(ended.rewards_source, "rpc");
  EXPECT_FALSE(ended.first_block_height.has_value());
  const EraRow& next = rows.eras[1];
  EXPECT_EQ(next.era_id, 6931);
  EXPECT_EQ(next.first_block_height, 1239490);
  EXPECT_EQ(next.rewards_status, RewardsStatus::kNone);

  EXPECT_TRUE(rows.validator_rewards.empty());
  // 100 weights for era 6931 + 100 era_report rewards for era 6930.
  ASSERT_EQ(rows.era_validators.size(), 200u);
  int weights = 0, inactive = 0, equivocators = 0;
  for (const auto& v : rows.era_validators) {
    if (v.era_id == 6931) {
      ++weights;
      EXPECT_TRUE(v.weight.has_value());
      EXPECT_FALSE(v.is_inactive);
      EXPECT_FALSE(v.is_equivocator);
    } else {
      EXPECT_EQ(v.era_id, 6930);
      EXPECT_TRUE(v.era_report_reward.has_value());
      inactive += v.is_inactive;
      equivocators += v.is_equivocator;
    }
    if (v.public_key == "01018525deae6091abccab6704a0fa44e12c495eec9e8fe6929862e1b75580e715") {
      if (v.era_id == 6931) {
        EXPECT_EQ(v.weight, "3709277043188");
      }
      if (v.era_id == 6930) {
        EXPECT_EQ(v.era_report_reward, "15777846877");
      }
    }
    if (v.public_key == "0154d7afd43a7b1033259f7a1675edbc3e1c998927d6835e045e7d57e64cabfb32" && v.era_id == 6930) {
      EXPECT_TRUE(v.is_inactive) << "the inactive validator is flagged inactive (not inverted)";
    }
  }
  EXPECT_EQ(weights, 100);
  EXPECT_EQ(inactive, 1);
  EXPECT_EQ(equivocators, 0);
}

TEST(ModelBlockAdded, V2SwitchBlockCarriesRewardsInMotes) {
  Rows rows = ParseOk(Event("v2/events/BlockAdded.era_end.json"), "BlockAdded");
  ASSERT_EQ(rows.blocks.size(), 1u);
  const BlockRow& b = rows.blocks[0];
  EXPECT_EQ(b.block_hash, "22ea09946b4e651d997d5e84c139a1e31c21996d011f4834f28827acf76cc8d7");
  EXPECT_EQ(b.height, 3991);
  EXPECT_EQ(b.era_id, 363);
  EXPECT_EQ(b.block_version, 2);
  EXPECT_TRUE(b.is_switch_block);
  EXPECT_EQ(b.proposer, "0169ecf91081889e013cf8c5bcd49679dd388eace2a532a1a32c381fc02c09a57b");
  EXPECT_EQ(b.current_gas_price, 1);
  EXPECT_EQ(b.last_switch_block_hash, "f775e6ba2715ff67625836743472492dabb8c8e9fbe11b6ed9123c9b3aa1fc39");
  EXPECT_EQ(b.protocol_version, "2.0.0");
  EXPECT_EQ(b.transaction_count, 0);  // "transactions": {}

  ASSERT_EQ(rows.eras.size(), 2u);
  EXPECT_EQ(rows.eras[0].era_id, 363);
  EXPECT_EQ(rows.eras[0].rewards_status, RewardsStatus::kComplete);
  EXPECT_EQ(rows.eras[0].rewards_source, "era_end");
  EXPECT_EQ(rows.eras[0].next_era_gas_price, 1);
  EXPECT_EQ(rows.eras[1].era_id, 364);
  EXPECT_EQ(rows.eras[1].first_block_height, 3992);

  ASSERT_EQ(rows.validator_rewards.size(), 10u);  // 5 validators x 2 amounts
  const ValidatorRewardRow& r0 = rows.validator_rewards[0];
  EXPECT_EQ(r0.era_id, 363);
  EXPECT_EQ(r0.public_key, "01195daa7ad97ae97c2e0905cedf14e6694c48a12e881e22b26cd0a06e4f205542");
  EXPECT_EQ(r0.reward_index, 0);
  EXPECT_EQ(r0.amount, "18962280550448167");
  EXPECT_EQ(r0.source, "era_end");
  EXPECT_EQ(rows.validator_rewards[1].reward_index, 1);
  EXPECT_EQ(rows.validator_rewards[1].amount, "396465350509333");

  ASSERT_EQ(rows.era_validators.size(), 5u);
  for (const auto& v : rows.era_validators) {
    EXPECT_EQ(v.era_id, 364);
    EXPECT_FALSE(v.is_equivocator);
    EXPECT_FALSE(v.is_inactive);
  }
  EXPECT_EQ(rows.era_validators[0].public_key, "01195daa7ad97ae97c2e0905cedf14e6694c48a12e881e22b26cd0a06e4f205542");
  EXPECT_EQ(rows.era_validators[0].weight, "5929074306476323385");  // > 2^53, kept exact
}

TEST(ModelBlockAdded, V2BlockListsItsTransactionsByLane) {
  Rows rows = ParseOk(Event("v2/events/BlockAdded.with_deploy.json"), "BlockAdded");
  ASSERT_EQ(rows.blocks.size(), 1u);
  EXPECT_EQ(rows.blocks[0].height, 4139);
  EXPECT_EQ(rows.blocks[0].transaction_count, 1);
  EXPECT_EQ(rows.blocks[0].deploy_count, 1);
  EXPECT_EQ(rows.blocks[0].transfer_count, 0);
  ASSERT_EQ(rows.block_transactions.size(), 1u);
  const BlockTransactionRow& t = rows.block_transactions[0];
  EXPECT_EQ(t.block_hash, "3ad051b1df071e4d539eab28986bb55ec4fb5fd31f63942ed788738186709303");
  EXPECT_EQ(t.position, 0);
  EXPECT_EQ(t.transaction_hash, "cb04018ad3a09fc15fda0e5c18def392a135652c73c864c25968be9b2376c139");
  EXPECT_EQ(t.transaction_kind, "deploy");
  EXPECT_EQ(t.lane, 3);
  EXPECT_FALSE(t.native_transfer);

  Rows empty = ParseOk(Event("v2/events/BlockAdded.json"), "BlockAdded");
  EXPECT_EQ(empty.blocks[0].height, 54);
  EXPECT_EQ(empty.blocks[0].era_id, 5);
  EXPECT_EQ(empty.blocks[0].transaction_count, 0);  // lanes "0".."3" all empty
  EXPECT_TRUE(empty.block_transactions.empty());
}

TEST(ModelBlockAdded, V1DeployAndTransferHashesKeepTheirCategory) {
  const std::string payload =
      R"({"BlockAdded":{"block_hash":"aa00000000000000000000000000000000000000000000000000000000000000","block":{)"
      R"("hash":"aa00000000000000000000000000000000000000000000000000000000000000","header":{)"
      R"("parent_hash":"bb00000000000000000000000000000000000000000000000000000000000000",)"
      R"("state_root_hash":"cc00000000000000000000000000000000000000000000000000000000000000",)"
      R"("body_hash":"dd00000000000000000000000000000000000000000000000000000000000000","random_bit":false,)"
      R"("accumulated_seed":"ee00000000000000000000000000000000000000000000000000000000000000","era_end":null,)"
      R"("timestamp":"2022-08-10T08:22:57.280Z","era_id":1,"height":2,"protocol_version":"1.5.8"},)"
      R"("body":{"proposer":"017d96b9a63abcb61c870a4f55187a0a7ac24096bdb5fc585c12a686a4d892009e",)"
      R"("deploy_hashes":["1100000000000000000000000000000000000000000000000000000000000000"],)"
      R"("transfer_hashes":["2200000000000000000000000000000000000000000000000000000000000000",)"
      R"("3300000000000000000000000000000000000000000000000000000000000000"]},"proofs":[]}}})";
  Rows rows = ParseOk(payload, "BlockAdded");
  EXPECT_EQ(rows.blocks[0].deploy_count, 1);
  EXPECT_EQ(rows.blocks[0].transfer_count, 2);
  EXPECT_EQ(rows.blocks[0].transaction_count, 3);
  ASSERT_EQ(rows.block_transactions.size(), 3u);
  EXPECT_FALSE(rows.block_transactions[0].native_transfer);
  EXPECT_TRUE(rows.block_transactions[1].native_transfer);
  EXPECT_EQ(rows.block_transactions[2].position, 2);
  EXPECT_FALSE(rows.block_transactions[2].lane.has_value());
}

TEST(ModelBlockAdded, Pre14RewardMapsAreAccepted) {
  // casper-sidecar USAGE.md: a 2021 node sends era_report.rewards and the weights as maps.
  std::ifstream in(kData / "v1/raw/casper-sidecar/usage-1.5.2-shutdown-restart.stream");
  std::string line, payload;
  while (std::getline(in, line)) {
    if (line.rfind("data:{\"BlockAdded\"", 0) == 0) {
      payload = line.substr(5);
      break;
    }
  }
  ASSERT_FALSE(payload.empty());
  Rows rows = ParseOk(payload, "BlockAdded");
  EXPECT_TRUE(rows.blocks[0].is_switch_block);
  bool found = false;
  for (const auto& v : rows.era_validators) {
    if (v.public_key == "01026ca707c348ed8012ac6a1f28db031fadd6eb67203501a353b867a08c8b9a80" && v.weight) {
      EXPECT_EQ(*v.weight, "50538244651768072");
      found = true;
    }
    if (v.public_key == "01026ca707c348ed8012ac6a1f28db031fadd6eb67203501a353b867a08c8b9a80" && v.era_report_reward) {
      EXPECT_EQ(*v.era_report_reward, "1559401400039");
    }
  }
  EXPECT_TRUE(found);
}

// ---------------------------------------------------------------------------------------------
// Accepted

TEST(ModelAccepted, V1DeployAccepted) {
  Rows rows = ParseOk(Event("v1/events/DeployAccepted.json"), "DeployAccepted");
  ASSERT_EQ(rows.transactions.size(), 1u);
  const TransactionRow& t = rows.transactions[0];
  EXPECT_EQ(t.transaction_hash, "5743fd31a1440353ab407617700bcf871b1dbde05f3d1e2cb9187ba4756a7d1d");
  EXPECT_EQ(t.kind, "deploy");
  EXPECT_EQ(t.status, TxStatus::kAccepted);
  EXPECT_TRUE(t.accepted);
  EXPECT_EQ(t.initiator_public_key, "01ff85d8d335d2e5e1a8ba3554b447e2a61853971fc2a5bf9f1302557ef5eb2d4f");
  EXPECT_EQ(t.timestamp, "2022-09-21T13:28:46.812Z");
  EXPECT_EQ(t.ttl_ms, 30 * 60 * 1000);
  EXPECT_EQ(t.gas_price, 1);
  EXPECT_EQ(t.chain_name, "casper-test");
  EXPECT_EQ(t.pricing_mode, "classic");
  EXPECT_EQ(t.payment_amount, "1500000000");
  EXPECT_EQ(t.target, "StoredContractByHash");
  EXPECT_EQ(t.target_id, "aa769fb091e3617e8cfaf336b803bcc13b2e08ca60de7cd427949af38d69f549");
  EXPECT_EQ(t.entry_point, "mint");
  EXPECT_EQ(t.approvals_count, 1);
  EXPECT_FALSE(t.block_hash.has_value());
  EXPECT_FALSE(t.cost.has_value());
}

TEST(ModelAccepted, V2LegacyDeployAccepted) {
  Rows rows = ParseOk(Event("v2/events/TransactionAccepted.Deploy.json"), "TransactionAccepted");
  ASSERT_EQ(rows.transactions.size(), 1u);
  const TransactionRow& t = rows.transactions[0];
  EXPECT_EQ(t.transaction_hash, "cb04018ad3a09fc15fda0e5c18def392a135652c73c864c25968be9b2376c139");
  EXPECT_EQ(t.kind, "deploy");
  EXPECT_EQ(t.target, "Transfer");
  EXPECT_EQ(t.payment_amount, "100000000");
  EXPECT_EQ(t.chain_name, "casper-net-1");
  EXPECT_EQ(t.initiator_public_key, "010b42b381f087e65a1b6d4c9538027502307ebeff02044c9507f30ddffdb02ebd");
}

TEST(ModelAccepted, V2TransactionV1Accepted) {
  Rows rows = ParseOk(Event("v2/events/TransactionAccepted.Version1.json"), "TransactionAccepted");
  ASSERT_EQ(rows.transactions.size(), 1u);
  const TransactionRow& t = rows.transactions[0];
  EXPECT_EQ(t.transaction_hash, "446f9511258112c6e5150ee13d57c421da2bc30e0058db6165855a9d1ba4b868");
  EXPECT_EQ(t.kind, "version1");
  EXPECT_EQ(t.initiator_public_key, "0184f6d260f4ee6869ddb36affe15456de6ae045278fa2f467bb677561ce0dad55");
  EXPECT_FALSE(t.initiator_account_hash.has_value());
  EXPECT_EQ(t.timestamp, "2024-11-27T17:24:10.516Z");
  EXPECT_EQ(t.pricing_mode, "fixed");
  EXPECT_EQ(t.gas_price_tolerance, 1);
  EXPECT_EQ(t.entry_point, "Transfer");
  EXPECT_EQ(t.target, "Native");
  EXPECT_EQ(t.chain_name, "casper-net-1");
  EXPECT_EQ(t.approvals_count, 1);
}

TEST(ModelAccepted, V1StoredTargetAndPaymentLimitedPricing) {
  const std::string payload =
      R"({"TransactionAccepted":{"Version1":{"hash":"9900000000000000000000000000000000000000000000000000000000000000",)"
      R"("payload":{"initiator_addr":{"AccountHash":"account-hash-7C95dcbaa72f1fc533e3a9ff38816bfd658a8d9364fc214afc31aca75efc2f3a"},)"
      R"("timestamp":"2025-01-01T00:00:00.000Z","ttl":"1h 30m","chain_name":"c",)"
      R"("pricing_mode":{"PaymentLimited":{"payment_amount":18446744073709551615,"gas_price_tolerance":5,"standard_payment":true}},)"
      R"("fields":{"args":{"Named":[]},"entry_point":{"Custom":"swap"},"scheduling":"Standard",)"
      R"("target":{"Stored":{"id":{"ByHash":"AB00000000000000000000000000000000000000000000000000000000000000"},"runtime":"VmCasperV1"}}}},)"
      R"("approvals":[]}}})";
  Rows rows = ParseOk(payload, "TransactionAccepted");
  const TransactionRow& t = rows.transactions[0];
  EXPECT_EQ(t.initiator_account_hash, "7c95dcbaa72f1fc533e3a9ff38816bfd658a8d9364fc214afc31aca75efc2f3a");
  EXPECT_EQ(t.ttl_ms, 90 * 60 * 1000);
  EXPECT_EQ(t.pricing_mode, "payment_limited");
  EXPECT_EQ(t.payment_amount, "18446744073709551615");  // u64 max, exact
  EXPECT_EQ(t.gas_price_tolerance, 5);
  EXPECT_EQ(t.entry_point, "swap");
  EXPECT_EQ(t.target, "Stored");
  EXPECT_EQ(t.target_id, "ab00000000000000000000000000000000000000000000000000000000000000");
  EXPECT_EQ(t.approvals_count, 0);
}

// ---------------------------------------------------------------------------------------------
// Processed

TEST(ModelProcessed, V1TransferDeploy) {
  Rows rows = ParseOk(Event("v1/events/DeployProcessed.transfer.json"), "DeployProcessed");
  ASSERT_EQ(rows.transactions.size(), 1u);
  const TransactionRow& t = rows.transactions[0];
  EXPECT_EQ(t.transaction_hash, "fe7a6df71130f67a57bce91b8e21fb9df5b9b90629c9d30d7c6a500f7c47cec5");
  EXPECT_EQ(t.kind, "deploy");
  EXPECT_EQ(t.status, TxStatus::kProcessed);
  EXPECT_FALSE(t.accepted);
  EXPECT_EQ(t.block_hash, "d99a71ad63708b0f0d5cd58add988e5d0fd192fa3830272631e4964d857d8a46");
  EXPECT_EQ(t.initiator_public_key, "018afa98ca4be12d613617f7339a2d576950a2f9a92102ca4d6508ee31b54d2c02");
  EXPECT_EQ(t.timestamp, "2022-11-17T10:29:58.454Z");
  EXPECT_EQ(t.execution_version, 1);
  EXPECT_EQ(t.success, true);
  EXPECT_FALSE(t.error_message.has_value());
  EXPECT_EQ(t.cost, "2668483540");
  EXPECT_EQ(t.transfer_count, 1);

  ASSERT_EQ(rows.transfers.size(), 1u);
  const TransferRow& x = rows.transfers[0];
  EXPECT_EQ(x.transaction_hash, t.transaction_hash);
  EXPECT_EQ(x.transfer_index, 0);
  EXPECT_EQ(x.version, 1);
  EXPECT_EQ(x.transfer_addr, "32e5ca0ca07ec3fc4f47f66d98ad95f4f92c4b665f12dd2d3780dacd1b513e95");
  EXPECT_EQ(x.block_hash, "d99a71ad63708b0f0d5cd58add988e5d0fd192fa3830272631e4964d857d8a46");
  EXPECT_EQ(x.from_account_hash, "b383c7cc23d18bc1b42406a1b2d29fc8dba86425197b6f553d7fd61375b5e446");
  EXPECT_EQ(x.to_account_hash, "03f447795e9a598b0d80be9162c91cbbe1b278f3c48f9e18d4bbfe6427e9cebd");
  EXPECT_EQ(x.source_purse, "uref-b06a1ab0cfb52b5d4f9a08b68a5dbe78e999de0b0484c03e64f5c03897cf637b-007");
  EXPECT_EQ(x.target_purse, "uref-c419ad2d20fda62e1abd905d0f362e6e62745f9e227187774b666a69d14026c6-004");
  EXPECT_EQ(x.amount, "1000000000000");
  EXPECT_EQ(x.gas, "0");
  EXPECT_FALSE(x.transfer_id.has_value());
  EXPECT_EQ(x.timestamp, "2022-11-17T10:29:58.454Z");
}

TEST(ModelProcessed, V1FailedDeployKeepsItsErrorAndCost) {
  Rows rows = ParseOk(Event("v1/events/DeployProcessed.failure.json"), "DeployProcessed");
  ASSERT_EQ(rows.transactions.size(), 1u);
  const TransactionRow& t = rows.transactions[0];
  EXPECT_EQ(t.transaction_hash, "c7d0840f2275a18efcd716f425c06691f2ca1a0e6d7d7ecff49cab06c2428ee8");
  EXPECT_EQ(t.success, false);
  EXPECT_EQ(t.error_message, "ApiError::InvalidArgument [3]");
  EXPECT_EQ(t.cost, "1389380");
  EXPECT_EQ(t.transfer_count, 0);
  EXPECT_TRUE(rows.transfers.empty());
}

TEST(ModelProcessed, V1WriteBidAndWriteWithdraw) {
  Rows rows = ParseOk(Event("v1/events/DeployProcessed.withdraw_bid.json"), "DeployProcessed");
  const std::string tx = "fb81219f33aa58a2c2f50f7eea20c3065963f61bc3c74810729f10dc21981087";
  ASSERT_EQ(rows.withdrawals.size(), 2u);
  const WithdrawalRow& w = rows.withdrawals[0];
  EXPECT_EQ(w.transaction_hash, tx);
  EXPECT_EQ(w.withdrawal_key, "withdraw-080ef8dd1d2479776d9058cd08d5df91e37980b89124b4878ff79bb0f0c32e63");
  EXPECT_EQ(w.kind, "withdraw");
  EXPECT_EQ(w.entry_index, 0);
  EXPECT_EQ(w.amount, "121223797933712");
  EXPECT_EQ(w.bonding_purse, "uref-96eb5207292608409181c8f8f963f8cdac7efc3ceb11f468300150721cd95fa8-007");
  EXPECT_EQ(w.era_of_creation, 7038);
  EXPECT_EQ(w.unbonder_public_key, "01c574e2bb199bb29eaf13c69ed3cd34312eb2da1b3b14dc88f97ce10e5e38710e");
  EXPECT_EQ(w.validator_public_key, "0138e64f04c03346e94471e340ca7b94ba3581e5697f4d1e59f5a31c0da720de45");
  EXPECT_EQ(rows.withdrawals[1].entry_index, 1);
  EXPECT_EQ(rows.withdrawals[1].unbonder_public_key,
            "0203e7095eaff349603249b32cd09d9c5413bcf30c4aec9eb01489309a66253ca448");

  ASSERT_EQ(rows.bids.size(), 517u);  // the validator + 516 delegators
  const BidRow& v = rows.bids[0];
  EXPECT_EQ(v.kind, "validator");
  EXPECT_EQ(v.bid_key, "bid-080ef8dd1d2479776d9058cd08d5df91e37980b89124b4878ff79bb0f0c32e63");
  EXPECT_EQ(v.validator_public_key, "0138e64f04c03346e94471e340ca7b94ba3581e5697f4d1e59f5a31c0da720de45");
  EXPECT_EQ(v.bonding_purse, "uref-ec2c8b244abb16efd48fcb25740863bfd305ed4b8be1ee9466fff998b93e3a9c-007");
  EXPECT_EQ(v.staked_amount, "12005548678314");
  EXPECT_EQ(v.delegation_rate, 5);
  EXPECT_EQ(v.inactive, false);
  EXPECT_EQ(v.entry_index, 0);
  const BidRow& d = rows.bids[1];
  EXPECT_EQ(d.kind, "delegator");
  EXPECT_EQ(d.entry_index, 1);
  EXPECT_EQ(d.effect_index, v.effect_index);
  EXPECT_EQ(d.delegator_public_key, "0101b57c4bf013a837995365e25036f1ddf83f3acd690763b3736101dd35df934b");
  EXPECT_EQ(d.validator_public_key, "0138e64f04c03346e94471e340ca7b94ba3581e5697f4d1e59f5a31c0da720de45");
  EXPECT_EQ(d.staked_amount, "3421190092158");
  EXPECT_EQ(d.bonding_purse, "uref-6aaa40d3489646e72c73a65e36c3a8cdfa38b20ec65d7bb40e9701b780f206d7-007");
  EXPECT_EQ(d.block_hash, "5ae463abe56ebd37044600b90236d91fa93e3ff88d47f12a9c616d8b16ae9100");
}

TEST(ModelProcessed, V2TransactionWithTwoTransfers) {
  Rows rows = ParseOk(Event("v2/events/TransactionProcessed.Version1.json"), "TransactionProcessed");
  ASSERT_EQ(rows.transactions.size(), 1u);
  const TransactionRow& t = rows.transactions[0];
  EXPECT_EQ(t.transaction_hash, "968fafb41be4d4fb1c4b3c3647bb4803de12bff05bbaa8d16d1ef3b18fc47ee1");
  EXPECT_EQ(t.kind, "version1");
  EXPECT_EQ(t.block_hash, "af8368436128df76e24fd1552544ebe4ddcf2301af4d42f1764e93fa2887557f");
  EXPECT_EQ(t.initiator_public_key, "0118ea8b6ed62393f8d36cb1a96b9ee62b48e35317bd2ea3ceb533a6f7ff212ad6");
  EXPECT_EQ(t.execution_version, 2);
  EXPECT_EQ(t.success, true);
  EXPECT_EQ(t.current_price, 1);
  EXPECT_EQ(t.gas_limit, "10000000000");
  EXPECT_EQ(t.consumed, "831710358");
  EXPECT_EQ(t.cost, "10000000000");
  EXPECT_EQ(t.refund, "6876217231");
  EXPECT_EQ(t.size_estimate, 88328);
  EXPECT_EQ(t.transfer_count, 2);
  ASSERT_EQ(rows.transfers.size(), 2u);
  const TransferRow& x = rows.transfers[0];
  EXPECT_EQ(x.version, 2);
  EXPECT_EQ(x.transfer_index, 0);
  EXPECT_FALSE(x.transfer_addr.has_value());
  EXPECT_EQ(x.from_account_hash, "7c95dcbaa72f1fc533e3a9ff38816bfd658a8d9364fc214afc31aca75efc2f3a");
  EXPECT_FALSE(x.to_account_hash.has_value());
  EXPECT_EQ(x.source_purse, "uref-b421130b5d137cb9348eeaabad2b348d0061c16340eab9536a31453fda147f26-007");
  EXPECT_EQ(x.target_purse, "uref-e673a8125de4cb0e1f150cfd8806c3c0d9b5692cac0393075f07891379a80339-007");
  EXPECT_EQ(x.amount, "3");
  EXPECT_EQ(x.gas, "100000000");
  EXPECT_EQ(rows.transfers[1].transfer_index, 1);
  EXPECT_EQ(rows.transfers[1].target_purse,
            "uref-47acc407ab36b1f4833b8a22b623d052ad9d4c63a41151c891cef08c5c50f601-007");
}

TEST(ModelProcessed, V2FailedLegacyDeployWithCreditBid) {
  Rows rows = ParseOk(Event("v2/events/TransactionProcessed.Deploy.json"), "TransactionProcessed");
  ASSERT_EQ(rows.transactions.size(), 1u);
  const TransactionRow& t = rows.transactions[0];
  EXPECT_EQ(t.transaction_hash, "cb04018ad3a09fc15fda0e5c18def392a135652c73c864c25968be9b2376c139");
  EXPECT_EQ(t.kind, "deploy");
  EXPECT_EQ(t.success, false);
  EXPECT_EQ(t.error_message, "unsupported mode for deploy-hash(cb04..c139) attempting transfer");
  EXPECT_EQ(t.gas_limit, "10000");
  EXPECT_EQ(t.consumed, "0");
  EXPECT_EQ(t.cost, "10000");
  EXPECT_FALSE(t.refund.has_value());         // pre-release shape: no refund
  EXPECT_FALSE(t.current_price.has_value());  // nor current_price
  EXPECT_EQ(t.size_estimate, 366);
  ASSERT_EQ(rows.bids.size(), 1u);
  const BidRow& b = rows.bids[0];
  EXPECT_EQ(b.kind, "credit");
  EXPECT_EQ(b.bid_key, "bid-addr-043bb47b19ea663fe884d9e474f6420c2fd681d3b60d18ace600067f9b8d8fd0867901000000000000");
  EXPECT_EQ(b.validator_public_key, "01284a8cd097808afdea9876ccb91f28702143c04266dea057cc19b8fc382cc258");
  EXPECT_EQ(b.era_id, 377);
  EXPECT_EQ(b.staked_amount, "10000");
  EXPECT_EQ(b.transaction_hash, t.transaction_hash);
}

TEST(ModelProcessed, V2PrereleaseContractCall) {
  Rows rows = ParseOk(Event("v2/events/TransactionProcessed.Version1_prerelease.json"), "TransactionProcessed");
  const TransactionRow& t = rows.transactions[0];
  EXPECT_EQ(t.transaction_hash, "9749ce1dc5dbd0d9a611088f934fd81c2c8429dbab0a3a7d281359be0a92d29a");
  EXPECT_EQ(t.success, true);
  EXPECT_EQ(t.consumed, "520224703");
  EXPECT_EQ(t.cost, "100000000000");
  EXPECT_EQ(t.transfer_count, 0);
  ASSERT_EQ(rows.bids.size(), 1u);
  EXPECT_EQ(rows.bids[0].kind, "credit");
  EXPECT_EQ(rows.bids[0].era_id, 12);
}

TEST(ModelProcessed, V2DelegatorUnbondAndWithdrawEffects) {
  const std::string pk = "0118ea8b6ed62393f8d36cb1a96b9ee62b48e35317bd2ea3ceb533a6f7ff212ad6";
  const std::string purse = "uref-b421130b5d137cb9348eeaabad2b348d0061c16340eab9536a31453fda147f26-007";
  const std::string payload =
      R"({"TransactionProcessed":{"transaction_hash":{"Version1":"7700000000000000000000000000000000000000000000000000000000000000"},)"
      R"("initiator_addr":{"PublicKey":")" + pk + R"("},"timestamp":"2025-01-01T00:00:00.000Z","ttl":"30m",)"
      R"("block_hash":"8800000000000000000000000000000000000000000000000000000000000000",)"
      R"("execution_result":{"Version2":{"initiator":{"PublicKey":")" + pk + R"("},"error_message":null,)"
      R"("current_price":1,"limit":"1","consumed":"1","cost":"1","refund":"0","transfers":[],"size_estimate":1,"effects":[)"
      R"({"key":"bid-addr-01","kind":{"Write":{"BidKind":{"Delegator":{"delegator_kind":{"PublicKey":")" + pk + R"("},)"
      R"("staked_amount":"500000000000","bonding_purse":")" + purse + R"(","validator_public_key":")" + pk + R"(",)"
      R"("vesting_schedule":null}}}}},)"
      R"({"key":"bid-addr-02","kind":{"Write":{"BidKind":{"Unbond":{"validator_public_key":")" + pk + R"(",)"
      R"("unbond_kind":{"DelegatedPublicKey":")" + pk + R"("},"eras":[{"bonding_purse":")" + purse + R"(",)"
      R"("era_of_creation":12,"amount":"7","new_validator":null}]}}}}},)"
      R"({"key":"withdraw-03","kind":{"Write":{"Withdraw":[{"bonding_purse":")" + purse + R"(","validator_public_key":")" +
      pk + R"(","unbonder_public_key":")" + pk + R"(","era_of_creation":3,"amount":"9"}]}}},)"
      R"({"key":"balance-04","kind":"Identity"},{"key":"balance-05","kind":{"AddUInt512":"100"}}]}},"messages":[]}})";
  Rows rows = ParseOk(payload, "TransactionProcessed");
  ASSERT_EQ(rows.bids.size(), 1u);
  EXPECT_EQ(rows.bids[0].kind, "delegator");
  EXPECT_EQ(rows.bids[0].delegator_public_key, pk);
  EXPECT_EQ(rows.bids[0].staked_amount, "500000000000");
  EXPECT_EQ(rows.bids[0].bid_key, "bid-addr-01");
  EXPECT_EQ(rows.bids[0].effect_index, 0);
  ASSERT_EQ(rows.withdrawals.size(), 2u);
  EXPECT_EQ(rows.withdrawals[0].kind, "unbond");
  EXPECT_EQ(rows.withdrawals[0].effect_index, 1);
  EXPECT_EQ(rows.withdrawals[0].unbonder_public_key, pk);
  EXPECT_EQ(rows.withdrawals[0].amount, "7");
  EXPECT_EQ(rows.withdrawals[0].era_of_creation, 12);
  EXPECT_EQ(rows.withdrawals[1].kind, "withdraw");
  EXPECT_EQ(rows.withdrawals[1].effect_index, 2);
  EXPECT_EQ(rows.withdrawals[1].withdrawal_key, "withdraw-03");
  EXPECT_EQ(rows.withdrawals[1].amount, "9");
}

// ---------------------------------------------------------------------------------------------
// Expired, signatures, faults, steps, ignored

TEST(ModelExpired, V1AndV2) {
  Rows v1 = ParseOk(Event("v1/events/DeployExpired.json"), "DeployExpired");
  ASSERT_EQ(v1.transactions.size(), 1u);
  EXPECT_EQ(v1.transactions[0].transaction_hash, "7ecf22fc284526c6db16fb6455f489e0a9cbf782834131c010cf3078fb9be353");
  EXPECT_EQ(v1.transactions[0].kind, "deploy");
  EXPECT_EQ(v1.transactions[0].status, TxStatus::kExpired);
  Rows v2 = ParseOk(Event("v2/events/TransactionExpired.json"), "TransactionExpired");
  EXPECT_EQ(v2.transactions[0].transaction_hash, "f5582cb81a5abda63ebaa4edb3b05210ecbd63ffb8dd17bfbeb3b867f4014468");
  EXPECT_EQ(v2.transactions[0].kind, "version1");
  EXPECT_EQ(v2.transactions[0].status, TxStatus::kExpired);
}

TEST(ModelFinalitySignature, V1Flat) {
  Rows rows = ParseOk(Event("v1/events/FinalitySignature.json"), "FinalitySignature");
  ASSERT_EQ(rows.finality_signatures.size(), 1u);
  const FinalitySignatureRow& s = rows.finality_signatures[0];
  EXPECT_EQ(s.block_hash, "d800de72aa40c6df064c714d3a6d8b6fab73f68742d8468b84efd6616bbb10bb");
  EXPECT_EQ(s.era_id, 13859);
  EXPECT_EQ(s.public_key, "01b71b2d746681b4e0f44ef137d72ee0d42122b08ef569dc65bb0395cb624f99e5");
  EXPECT_EQ(s.signature.substr(0, 16), "01221b61b83b8898");
  EXPECT_EQ(s.version, 1);
  EXPECT_FALSE(s.block_height.has_value());
}

// A document larger than what a parser keeps between events (a 1.x era's Step can be megabytes): the
// parser gives that memory back afterwards and parses what follows as before, large or small.
TEST(ModelFinalitySignature, ParserGoesOnAfterALargeDocument) {
  const std::string small = Event("v1/events/FinalitySignature.json");
  const std::string large = small + std::string(1 << 20, ' ');  // trailing whitespace: still one document
  Parser parser;
  for (const std::string* payload : {&small, &large, &small, &large, &large, &small}) {
    Rows rows;
    ParseResult r = parser.Parse(*payload, rows);
    ASSERT_EQ(r.outcome, Outcome::kStored) << r.reason;
    ASSERT_EQ(rows.finality_signatures.size(), 1u);
    EXPECT_EQ(rows.finality_signatures[0].era_id, 13859);
  }
  Rows rows;
  EXPECT_EQ(parser.Parse("{\"FinalitySignature\": " + std::string(300 * 1024, ' '), rows).outcome,
            Outcome::kRejected);  // a large truncated document is rejected, and the next one parses
  EXPECT_EQ(parser.Parse(small, rows).outcome, Outcome::kStored);
}

TEST(ModelFinalitySignature, V2WithHeightAndChainNameHash) {
  Rows rows = ParseOk(Event("v2/events/FinalitySignature.json"), "FinalitySignature");
  const FinalitySignatureRow& s = rows.finality_signatures[0];
  EXPECT_EQ(s.block_hash, "e46d0c3b614685f21abc6af9b714f09aff8d041128cc1614bcfa126219ce9ec8");
  EXPECT_EQ(s.block_height, 3981);
  EXPECT_EQ(s.era_id, 363);
  EXPECT_EQ(s.chain_name_hash, "8a09603fc862b15412b60a050d71f69c57601b6da7382dd56b9a3f300822bb75");
  EXPECT_EQ(s.public_key, "013b04e480554a5ab0ad31f4be55cce335736df867747ff393ac7f341fba58325a");
  EXPECT_EQ(s.version, 2);
}

TEST(ModelFinalitySignature, V1InsideA2xStreamAndAnyKeyOrder) {
  const std::string payload =
      R"({"FinalitySignature":{"V1":{"public_key":"013b04e480554a5ab0ad31f4be55cce335736df867747ff393ac7f341fba58325a",)"
      R"("signature":"01c636f142c4530ff69f6fc80e72067ff3332ccb501bfc03ad7ff51843092b786615284292d988ce64e3357c2cf3b2ef05af705586187cad5f8518d0b559fc070c",)"
      R"("era_id":12,"block_hash":"E46D0C3B614685F21ABC6AF9B714F09AFF8D041128CC1614BCFA126219CE9EC8"}}})";
  Rows rows = ParseOk(payload, "FinalitySignature");
  EXPECT_EQ(rows.finality_signatures[0].version, 1);
  EXPECT_EQ(rows.finality_signatures[0].era_id, 12);
  EXPECT_EQ(rows.finality_signatures[0].block_hash,
            "e46d0c3b614685f21abc6af9b714f09aff8d041128cc1614bcfa126219ce9ec8");  // lower-cased
}

TEST(ModelFault, V1AndV2) {
  Rows v1 = ParseOk(Event("v1/events/Fault.json"), "Fault");
  EXPECT_EQ(v1.faults[0].era_id, 45914488);
  EXPECT_EQ(v1.faults[0].public_key, "012fa85eb06279da42e68530e1116be04bfd2aaa5ed8d63401ebff4d9153a609a9");
  EXPECT_EQ(v1.faults[0].timestamp, "2020-08-07T01:26:58.364Z");
  Rows v2 = ParseOk(Event("v2/events/Fault.json"), "Fault");
  EXPECT_EQ(v2.faults[0].era_id, 769794);
  EXPECT_EQ(v2.faults[0].public_key, "02034ce1acbceeb5eb2b20eeeef9965e3ca8e7a95655f2089342bcbb51319a0d70d1");
}

TEST(ModelFault, EraIdAbove2To53IsExact) {
  Rows rows = ParseOk(
      R"({"Fault":{"era_id":4591448806312642506,"public_key":"012fa85eb06279da42e68530e1116be04bfd2aaa5ed8d63401ebff4d9153a609a9","timestamp":"2020-08-07T01:26:58.364Z"}})",
      "Fault");
  EXPECT_EQ(rows.faults[0].era_id, 4591448806312642506);
}

TEST(ModelStep, V1EffectSizeWithoutMaterialisingIt) {
  Rows rows = ParseOk(Event("v1/events/Step.json"), "Step");
  ASSERT_EQ(rows.steps.size(), 1u);
  EXPECT_EQ(rows.steps[0].era_id, 1);
  EXPECT_EQ(rows.steps[0].format, 1);
  EXPECT_EQ(rows.steps[0].effect_count, 46);
  EXPECT_EQ(rows.steps[0].effect_bytes, 9359);
  // The corrupted WriteBid of this fixture is inside the skipped effects: no rows, no rejection.
  EXPECT_TRUE(rows.bids.empty());
}

TEST(ModelStep, V2) {
  Rows rows = ParseOk(Event("v2/events/Step.json"), "Step");
  EXPECT_EQ(rows.steps[0].era_id, 363);
  EXPECT_EQ(rows.steps[0].format, 2);
  EXPECT_EQ(rows.steps[0].effect_count, 37);
  EXPECT_EQ(rows.steps[0].effect_bytes, 8138);
}

TEST(ModelStep, MultiMegabyteStep) {
  std::string entry = R"({"key":"hash-e629178843b4ed182d51db1fa07f43fb5d21fc43c95d547dfd84b82c8b517d1b","kind":{"Write":{"CLValue":{"cl_type":"U512","bytes":"0400e1f505","parsed":"100000000"}}}})";
  std::string effects = "[";
  std::size_t n = 0;
  while (effects.size() < 8u * 1024u * 1024u) {
    if (n++) effects += ",";
    effects += entry;
  }
  effects += "]";
  Rows rows = ParseOk(R"({"Step":{"era_id":400,"execution_effects":)" + effects + "}}", "Step");
  EXPECT_EQ(rows.steps[0].effect_count, static_cast<std::int64_t>(n));
  EXPECT_EQ(rows.steps[0].effect_bytes, static_cast<std::int64_t>(effects.size()));
}

TEST(ModelIgnored, ApiVersionAndShutdown) {
  for (const char* file : {"v1/events/ApiVersion.json", "v2/events/ApiVersion.json", "v1/events/Shutdown.json",
                           "v2/events/Shutdown.json"}) {
    Parser parser;
    Rows rows;
    ParseResult r = parser.Parse(Event(file), rows);
    EXPECT_EQ(r.outcome, Outcome::kIgnored) << file << " " << r.reason;
    EXPECT_EQ(rows.Count(), 0u);
  }
}

// ---------------------------------------------------------------------------------------------
// Rejections: a reason, never a crash, never partial rows

TEST(ModelRejected, UnknownTypesAndShapes) {
  EXPECT_NE(ParseRejected(R"({"NewEventType":{"x":1}})").reason.find("unknown event type NewEventType"), std::string::npos);
  ParseRejected("not json");
  ParseRejected("");
  ParseRejected("[1,2]");
  ParseRejected("{}");
  ParseRejected(R"("Restart")");
  ParseRejected(R"({"Fault":{"era_id":1,"public_key":"01ab"}})");  // bad key, no timestamp
  ParseRejected(R"({"Fault":{"era_id":-1,"public_key":"012fa85eb06279da42e68530e1116be04bfd2aaa5ed8d63401ebff4d9153a609a9","timestamp":"2020-08-07T01:26:58.364Z"}})");
  ParseRejected(R"({"Fault":{"era_id":18446744073709551615,"public_key":"012fa85eb06279da42e68530e1116be04bfd2aaa5ed8d63401ebff4d9153a609a9","timestamp":"2020-08-07T01:26:58.364Z"}})");
  ParseRejected(R"({"Fault":{"era_id":1,"public_key":"012fa85eb06279da42e68530e1116be04bfd2aaa5ed8d63401ebff4d9153a609a9","timestamp":"2020-02-30T01:26:58.364Z"}})");
  ParseRejected(R"({"DeployExpired":{"deploy_hash":"xyz"}})");
  ParseRejected(R"({"TransactionExpired":{"transaction_hash":{"Version9":"f5582cb81a5abda63ebaa4edb3b05210ecbd63ffb8dd17bfbeb3b867f4014468"}}})");
  ParseRejected(R"({"FinalitySignature":{"V3":{}}})");
  ParseRejected(R"({"Step":{"era_id":1}})");
  ParseRejected(R"({"BlockAdded":{"block_hash":"5a91486c973deea304e26138206723278d9d269f4fe03bfc9e5fdb93e927236e","block":{"Version3":{}}}})");
  ParseRejected(R"({"Fault":{"era_id":1},"Step":{"era_id":1}})");
}

TEST(ModelRejected, TruncatedAndCorruptedRecordingsNeverCrash) {
  Parser parser;
  for (const char* file : {"v1/events/BlockAdded.era_end.json", "v1/events/DeployProcessed.transfer.json",
                           "v2/events/TransactionProcessed.Version1.json", "v2/events/BlockAdded.era_end.json",
                           "v1/events/Step.json"}) {
    const std::string full = Event(file);
    for (std::size_t cut = 0; cut < full.size(); cut += 97) {
      Rows rows;
      ParseResult r = parser.Parse(std::string_view(full).substr(0, cut), rows);
      if (r.outcome == Outcome::kRejected) {
        EXPECT_EQ(rows.Count(), 0u);
      }
    }
    std::string mangled = full;
    for (std::size_t i = 10; i < mangled.size(); i += 131) mangled[i] = '"';
    Rows rows;
    parser.Parse(mangled, rows);
  }
}

TEST(ModelRejected, MismatchedFieldTypeNamesTheField) {
  std::string payload = Event("v2/events/BlockAdded.json");
  const std::string from = "\"height\":54";
  payload.replace(payload.find(from), from.size(), "\"height\":\"54\"");
  ParseResult r = ParseRejected(payload);
  EXPECT_NE(r.reason.find("header.height"), std::string::npos) << r.reason;
  EXPECT_EQ(r.event_type, "BlockAdded");
}

TEST(ModelRejected, ARejectedEventLeavesEarlierRowsAlone) {
  Parser parser;
  Rows rows;
  ASSERT_EQ(parser.Parse(Event("v2/events/FinalitySignature.json"), rows).outcome, Outcome::kStored);
  std::string bad = Event("v2/events/BlockAdded.era_end.json");
  bad.replace(bad.find("\"era_id\":363"), 12, "\"era_id\":true");
  EXPECT_EQ(parser.Parse(bad, rows).outcome, Outcome::kRejected);
  EXPECT_EQ(rows.Count(), 1u);
  EXPECT_EQ(rows.finality_signatures.size(), 1u);
  EXPECT_TRUE(rows.era_validators.empty());
}

// ---------------------------------------------------------------------------------------------
// Merging the lifecycle of one transaction

TEST(ModelMerge, TransactionStatusPrecedenceAndFillInAnyOrder) {
  Parser parser;
  Rows accepted, processed, expired;
  parser.Parse(Event("v2/events/TransactionAccepted.Deploy.json"), accepted);
  parser.Parse(Event("v2/events/TransactionProcessed.Deploy.json"), processed);
  TransactionRow exp;
  exp.transaction_hash = accepted.transactions[0].transaction_hash;
  exp.kind = "deploy";
  exp.status = TxStatus::kExpired;

  TransactionRow a = accepted.transactions[0];
  Merge(a, processed.transactions[0]);
  TransactionRow b = processed.transactions[0];
  Merge(b, accepted.transactions[0]);
  for (const TransactionRow* t : {&a, &b}) {
    EXPECT_EQ(t->status, TxStatus::kProcessed);
    EXPECT_TRUE(t->accepted);
    EXPECT_EQ(t->payment_amount, "100000000");  // from the accepted event
    EXPECT_EQ(t->cost, "10000");                // from the processed event
    EXPECT_EQ(t->block_hash, "3ad051b1df071e4d539eab28986bb55ec4fb5fd31f63942ed788738186709303");
  }
  TransactionRow c = exp;
  Merge(c, accepted.transactions[0]);
  EXPECT_EQ(c.status, TxStatus::kExpired);
  EXPECT_TRUE(c.accepted);
}

// ---------------------------------------------------------------------------------------------
// Node RPC: chain_get_era_info_by_switch_block (1.x rewards)

TEST(ModelEraInfo, SeigniorageAllocationsBecomeRewardRows) {
  // The example response of the 1.5.8 OpenRPC schema.
  const std::string response =
      R"({"jsonrpc":"2.0","id":1,"result":{"api_version":"1.5.8","era_summary":{)"
      R"("block_hash":"13c2d7a68ecdd4b74bf4393c88915c836c863fc4bf11d7f2bd930a1bbccacdcb","era_id":42,)"
      R"("stored_value":{"EraInfo":{"seigniorage_allocations":[)"
      R"({"Delegator":{"delegator_public_key":"01e1b46a25baa8a5c28beb3c9cfb79b572effa04076f00befa57eb70b016153f18",)"
      R"("validator_public_key":"012a1732addc639ea43a89e25d3ad912e40232156dcaa4b9edfc709f43d2fb0876","amount":"1000"}},)"
      R"({"Validator":{"validator_public_key":"012a1732addc639ea43a89e25d3ad912e40232156dcaa4b9edfc709f43d2fb0876","amount":"2000"}}]}},)"
      R"("state_root_hash":"0808080808080808080808080808080808080808080808080808080808080808","merkle_proof":"01"}}})";
  Parser parser;
  Rows rows;
  std::string error;
  ASSERT_TRUE(parser.ParseEraInfoResponse(response, 42, "13c2d7a68ecdd4b74bf4393c88915c836c863fc4bf11d7f2bd930a1bbccacdcb",
                                          rows, error))
      << error;
  ASSERT_EQ(rows.validator_rewards.size(), 1u);
  EXPECT_EQ(rows.validator_rewards[0].era_id, 42);
  EXPECT_EQ(rows.validator_rewards[0].public_key, "012a1732addc639ea43a89e25d3ad912e40232156dcaa4b9edfc709f43d2fb0876");
  EXPECT_EQ(rows.validator_rewards[0].amount, "2000");
  EXPECT_EQ(rows.validator_rewards[0].source, "rpc");
  ASSERT_EQ(rows.delegator_rewards.size(), 1u);
  EXPECT_EQ(rows.delegator_rewards[0].delegator_public_key,
            "01e1b46a25baa8a5c28beb3c9cfb79b572effa04076f00befa57eb70b016153f18");
  EXPECT_EQ(rows.delegator_rewards[0].amount, "1000");

  Rows none;
  EXPECT_FALSE(parser.ParseEraInfoResponse(response, 43, "", none, error));  // another era
  EXPECT_FALSE(parser.ParseEraInfoResponse(R"({"jsonrpc":"2.0","id":1,"result":{"api_version":"1.5.8","era_summary":null}})",
                                           42, "", none, error));
  EXPECT_NE(error.find("era_summary"), std::string::npos);
  EXPECT_FALSE(parser.ParseEraInfoResponse(R"({"jsonrpc":"2.0","id":1,"error":{"code":-32001,"message":"no block"}})", 42,
                                           "", none, error));
  EXPECT_NE(error.find("no block"), std::string::npos);
  EXPECT_FALSE(parser.ParseEraInfoResponse("<html>", 42, "", none, error));
  EXPECT_EQ(none.Count(), 0u);
}

}  // namespace
}  // namespace ces::model
