// Era rewards in the model: a 1.x Step's WriteEraInfo transform (rewards in motes straight from the
// stream), the merge of a Step with the era's switch block in either order, and the node RPC's
// chain_get_era_summary (2.x per-delegator rewards).
//
// No recording in tests/data/casper holds a WriteEraInfo transform (v1/events/Step.json is an
// SDK fixture whose effects were trimmed), so the Step with rewards below is the real v1 Step with
// one transform appended in the node's format (casper-node 1.5 ExecutionEffect: key "era-<n>",
// transform {"WriteEraInfo":{"seigniorage_allocations":[…]}}), using public keys of that Step.
#include "ces/model/parser.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace ces::model {
namespace {

constexpr const char* kValidatorA = "0133eaae2821f090ac3ba0eadc0a897742094c0604df72b465c41d4b773298a7b9";
constexpr const char* kValidatorB = "013d3fb7e3ceac62a900d7e868db0a4c3c8bde6dce873c3f06bf50638d91422857";
constexpr const char* kDelegatorA = "012a241eaa9fa3bd6ccb0e0aaaf4658538f3540e04e2f58973614a168f2f2f813d";
constexpr const char* kDelegatorB = "0134811b4d572d84f289a576f110ad49aa8bb984235b2bf1cb47a0c2f7e4391bef";

std::string Event(const std::string& relative) { return test::RecordedPayload(relative); }

std::string EraInfoTransform(const std::string& key, const std::string& allocations) {
  return R"({"key":")" + key + R"(","transform":{"WriteEraInfo":{"seigniorage_allocations":[)" + allocations + "]}}}";
}

std::string Allocations() {
  return std::string(R"({"Validator":{"validator_public_key":")") + kValidatorA +
         R"(","amount":"1234567890123456789012345678901234567890"}},)" +
         R"({"Delegator":{"delegator_public_key":")" + kDelegatorA + R"(","validator_public_key":")" + kValidatorA +
         R"(","amount":"5000000000"}},)" +
         R"({"Delegator":{"delegator_public_key":")" + kDelegatorB + R"(","validator_public_key":")" + kValidatorA +
         R"(","amount":"1"}},)" +
         R"({"Validator":{"validator_public_key":")" + kValidatorB + R"(","amount":"0"}},)" +
         R"({"Delegator":{"delegator_public_key":")" + kDelegatorA + R"(","validator_public_key":")" + kValidatorB +
         R"(","amount":"77"}})";
}

// The real v1 Step (era 1, 46 transforms) with `transform` appended to its transforms.
std::string StepWith(const std::string& transform) {
  std::string step = Event("v1/events/Step.json");
  const std::string tail = "]}}}";
  EXPECT_EQ(step.substr(step.size() - tail.size()), tail);
  return step.substr(0, step.size() - tail.size()) + "," + transform + tail;
}

Rows ParseOk(const std::string& payload) {
  Parser parser;
  Rows rows;
  ParseResult r = parser.Parse(payload, rows);
  EXPECT_EQ(r.outcome, Outcome::kStored) << r.reason;
  EXPECT_EQ(r.event_type, "Step");
  EXPECT_EQ(r.rows, rows.Count());
  return rows;
}

TEST(ModelStepRewards, WriteEraInfoGivesRewardsInMotes) {
  Rows rows = ParseOk(StepWith(EraInfoTransform("era-1", Allocations())));
  ASSERT_EQ(rows.steps.size(), 1u);
  EXPECT_EQ(rows.steps[0].era_id, 1);
  EXPECT_EQ(rows.steps[0].effect_count, 47);

  ASSERT_EQ(rows.validator_rewards.size(), 2u);
  ASSERT_EQ(rows.delegator_rewards.size(), 3u);
  const ValidatorRewardRow& v0 = rows.validator_rewards[0];
  EXPECT_EQ(v0.era_id, 1);
  EXPECT_EQ(v0.public_key, kValidatorA);
  EXPECT_EQ(v0.reward_index, 0);
  EXPECT_EQ(v0.amount, "1234567890123456789012345678901234567890");  // > u64: kept exact
  EXPECT_EQ(v0.source, "step");
  EXPECT_FALSE(v0.switch_block_hash.has_value());
  EXPECT_EQ(rows.validator_rewards[1].public_key, kValidatorB);
  EXPECT_EQ(rows.validator_rewards[1].amount, "0");
  EXPECT_EQ(rows.validator_rewards[1].reward_index, 0);

  const DelegatorRewardRow& d1 = rows.delegator_rewards[1];
  EXPECT_EQ(d1.era_id, 1);
  EXPECT_EQ(d1.delegator_public_key, kDelegatorB);
  EXPECT_EQ(d1.validator_public_key, kValidatorA);
  EXPECT_EQ(d1.amount, "1");
  EXPECT_EQ(d1.source, "step");
  EXPECT_EQ(rows.delegator_rewards[2].delegator_public_key, kDelegatorA);
  EXPECT_EQ(rows.delegator_rewards[2].validator_public_key, kValidatorB);
  EXPECT_EQ(rows.delegator_rewards[2].amount, "77");

  ASSERT_EQ(rows.eras.size(), 1u);
  EXPECT_EQ(rows.eras[0].era_id, 1);
  EXPECT_EQ(rows.eras[0].rewards_status, RewardsStatus::kComplete);
  EXPECT_EQ(rows.eras[0].rewards_source, "step");
  EXPECT_FALSE(rows.eras[0].last_block_hash.has_value());  // the switch block brings the rest
  // The fixture's corrupted WriteBid stays skipped.
  EXPECT_TRUE(rows.bids.empty());
}

TEST(ModelStepRewards, EraComesFromTheKey) {
  Rows rows = ParseOk(StepWith(EraInfoTransform("era-5849", Allocations())));
  EXPECT_EQ(rows.steps[0].era_id, 1);
  ASSERT_EQ(rows.eras.size(), 1u);
  EXPECT_EQ(rows.eras[0].era_id, 5849);
  for (const auto& r : rows.validator_rewards) EXPECT_EQ(r.era_id, 5849);
  for (const auto& r : rows.delegator_rewards) EXPECT_EQ(r.era_id, 5849);
}

TEST(ModelStepRewards, EmptyAllocationsCompleteTheEra) {
  // NCTL era-0 steps write an EraInfo without allocations: the era has no rewards, and that is final.
  Rows rows = ParseOk(StepWith(EraInfoTransform("era-0", "")));
  EXPECT_TRUE(rows.validator_rewards.empty());
  EXPECT_TRUE(rows.delegator_rewards.empty());
  ASSERT_EQ(rows.eras.size(), 1u);
  EXPECT_EQ(rows.eras[0].era_id, 0);
  EXPECT_EQ(rows.eras[0].rewards_status, RewardsStatus::kComplete);
}

TEST(ModelStepRewards, StepWithoutWriteEraInfo) {
  for (const char* file : {"v1/events/Step.json", "v2/events/Step.json"}) {
    Rows rows = ParseOk(Event(file));
    EXPECT_EQ(rows.steps.size(), 1u) << file;
    EXPECT_TRUE(rows.eras.empty()) << file;
    EXPECT_TRUE(rows.validator_rewards.empty()) << file;
    EXPECT_TRUE(rows.delegator_rewards.empty()) << file;
  }
}

TEST(ModelStepRewards, KeyAfterTransform) {
  std::string transform = R"({"transform":{"WriteEraInfo":{"seigniorage_allocations":[{"Validator":{"validator_public_key":")" +
                          std::string(kValidatorA) + R"(","amount":"9"}}]}},"key":"era-3"})";
  Rows rows = ParseOk(StepWith(transform));
  ASSERT_EQ(rows.validator_rewards.size(), 1u);
  EXPECT_EQ(rows.validator_rewards[0].era_id, 3);
  EXPECT_EQ(rows.validator_rewards[0].amount, "9");
}

TEST(ModelStepRewards, MalformedWriteEraInfoIsRejected) {
  for (const std::string& transform :
       {EraInfoTransform("hash-044a0f52a3e5aa4496bff42382484f9b520831b80443ef89a322c26ae6774603", Allocations()),
        EraInfoTransform("era-x", Allocations()),
        EraInfoTransform("era-1", R"({"Validator":{"validator_public_key":"zz","amount":"1"}})"),
        EraInfoTransform("era-1", R"({"Validator":{"validator_public_key":")" + std::string(kValidatorA) +
                                      R"(","amount":"-1"}})"),
        EraInfoTransform("era-1", R"({"Nobody":{"validator_public_key":")" + std::string(kValidatorA) +
                                      R"(","amount":"1"}})")}) {
    Parser parser;
    Rows rows;
    ParseResult r = parser.Parse(StepWith(transform), rows);
    EXPECT_EQ(r.outcome, Outcome::kRejected) << transform;
    EXPECT_EQ(rows.Count(), 0u);
  }
}

TEST(ModelStepRewards, MultiMegabyteStepWithRewardsAtTheEnd) {
  std::string identity =
      R"({"key":"hash-044a0f52a3e5aa4496bff42382484f9b520831b80443ef89a322c26ae6774603","transform":"Identity"},)";
  std::string transforms;
  std::size_t n = 0;
  while (transforms.size() < 8u * 1024u * 1024u) {
    transforms += identity;
    ++n;
  }
  transforms += EraInfoTransform("era-12", Allocations());
  Rows rows = ParseOk(R"({"Step":{"era_id":12,"execution_effect":{"operations":[],"transforms":[)" + transforms +
                      "]}}}");
  EXPECT_EQ(rows.steps[0].effect_count, static_cast<std::int64_t>(n + 1));
  EXPECT_EQ(rows.validator_rewards.size(), 2u);
  EXPECT_EQ(rows.delegator_rewards.size(), 3u);
}

TEST(ModelStepRewards, SwitchBlockAndStepMergeInEitherOrder) {
  EraRow pending;  // a 1.x switch block
  pending.era_id = 1;
  pending.last_block_hash = "aa";
  pending.rewards_status = RewardsStatus::kPending;
  pending.rewards_source = "rpc";
  pending.delegator_rewards_status = RewardsStatus::kPending;
  EraRow step;
  step.era_id = 1;
  step.rewards_status = RewardsStatus::kComplete;
  step.rewards_source = "step";
  step.delegator_rewards_status = RewardsStatus::kComplete;

  EraRow a = pending;
  Merge(a, step);
  EraRow b = step;
  Merge(b, pending);
  for (const EraRow* r : {&a, &b}) {
    EXPECT_EQ(r->rewards_status, RewardsStatus::kComplete);
    EXPECT_EQ(r->delegator_rewards_status, RewardsStatus::kComplete);
    EXPECT_EQ(r->rewards_source, "step");
    EXPECT_EQ(r->last_block_hash, "aa");
  }
}

TEST(ModelStepRewards, SwitchBlocksLeaveDelegatorRewardsPending) {
  Parser parser;
  Rows rows;
  ASSERT_EQ(parser.Parse(Event("v1/events/BlockAdded.era_end.json"), rows).outcome, Outcome::kStored);
  ASSERT_EQ(parser.Parse(Event("v2/events/BlockAdded.era_end.json"), rows).outcome, Outcome::kStored);
  int ended = 0;
  for (const EraRow& era : rows.eras) {
    if (!era.last_block_hash) {
      EXPECT_EQ(era.delegator_rewards_status, RewardsStatus::kNone);  // the next era, not ended
      continue;
    }
    ++ended;
    EXPECT_EQ(era.delegator_rewards_status, RewardsStatus::kPending) << era.era_id;
    EXPECT_EQ(era.rewards_status, era.rewards_source == "era_end" ? RewardsStatus::kComplete : RewardsStatus::kPending);
  }
  EXPECT_EQ(ended, 2);
  Rows step = ParseOk(StepWith(EraInfoTransform("era-1", Allocations())));
  EXPECT_EQ(step.eras[0].delegator_rewards_status, RewardsStatus::kComplete);
}

TEST(ModelEraSummary, V2DelegatorRewardsFromTheRpcSchemaExample) {
  // chain_get_era_summary example of schema/v2/rpc_schema.json (2.0.0: DelegatorKind allocations).
  const std::string response =
      R"({"jsonrpc":"2.0","id":1,"result":{"api_version":"2.0.0","era_summary":{"block_hash":"1f8187a82bd4b28948add6f8c0ea15a8aac6160088dbc281499fdcf2f0d95a79","era_id":42,"stored_value":{"EraInfo":{"seigniorage_allocations":[{"DelegatorKind":{"delegator_kind":{"PublicKey":"01e1b46a25baa8a5c28beb3c9cfb79b572effa04076f00befa57eb70b016153f18"},"validator_public_key":"012a1732addc639ea43a89e25d3ad912e40232156dcaa4b9edfc709f43d2fb0876","amount":"1000"}},{"Validator":{"validator_public_key":"012a1732addc639ea43a89e25d3ad912e40232156dcaa4b9edfc709f43d2fb0876","amount":"2000"}},{"DelegatorKind":{"delegator_kind":{"Purse":"uref-0d8f5d4e59e0c7fd30b6d0bfb4fbd6d2e1d8b3b0c6f0b2f9c3f5bd6b7d7a8c9e-007"},"validator_public_key":"012a1732addc639ea43a89e25d3ad912e40232156dcaa4b9edfc709f43d2fb0876","amount":"3"}}]}},"state_root_hash":"0808080808080808080808080808080808080808080808080808080808080808","merkle_proof":"01"}}})";
  Parser parser;
  Rows rows;
  std::string error;
  ASSERT_TRUE(parser.ParseEraSummaryResponse(
      response, 42, "1f8187a82bd4b28948add6f8c0ea15a8aac6160088dbc281499fdcf2f0d95a79", rows, error))
      << error;
  EXPECT_TRUE(rows.validator_rewards.empty());  // the switch block's era_end has the validator totals
  ASSERT_EQ(rows.delegator_rewards.size(), 2u);
  EXPECT_EQ(rows.delegator_rewards[0].delegator_public_key,
            "01e1b46a25baa8a5c28beb3c9cfb79b572effa04076f00befa57eb70b016153f18");
  EXPECT_EQ(rows.delegator_rewards[0].validator_public_key,
            "012a1732addc639ea43a89e25d3ad912e40232156dcaa4b9edfc709f43d2fb0876");
  EXPECT_EQ(rows.delegator_rewards[0].amount, "1000");
  EXPECT_EQ(rows.delegator_rewards[0].source, "rpc");
  EXPECT_EQ(rows.delegator_rewards[0].era_id, 42);
  EXPECT_EQ(rows.delegator_rewards[0].switch_block_hash,
            "1f8187a82bd4b28948add6f8c0ea15a8aac6160088dbc281499fdcf2f0d95a79");
  // A purse delegation: the purse URef stands in the delegator column.
  EXPECT_EQ(rows.delegator_rewards[1].delegator_public_key,
            "uref-0d8f5d4e59e0c7fd30b6d0bfb4fbd6d2e1d8b3b0c6f0b2f9c3f5bd6b7d7a8c9e-007");
  EXPECT_EQ(rows.delegator_rewards[1].amount, "3");

  Rows none;
  EXPECT_FALSE(parser.ParseEraSummaryResponse(response, 43, "", none, error));  // another era
  EXPECT_FALSE(parser.ParseEraSummaryResponse(R"({"jsonrpc":"2.0","id":1,"error":{"code":-32001,"message":"x"}})",
                                              42, "", none, error));
  EXPECT_NE(error.find("RPC error"), std::string::npos);
  EXPECT_EQ(none.Count(), 0u);
}

}  // namespace
}  // namespace ces::model
