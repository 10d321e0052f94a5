// The JSON-RPC answer readers of ces::rpc: the OpenRPC examples of casper-node 1.5 and casper-sidecar
// 2.0 parse, the parts handed on are the answer's own bytes, and every malformed or partial answer is
// an error naming the method and the height or hash.
#include "ces/rpc/answers.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

#include "rpc_test_answers.hpp"

namespace ces::rpc {
namespace {

using nlohmann::ordered_json;
using test::Envelope;
using test::ErrorEnvelope;

using test::ExampleResult;
using test::kV1Schema;
using test::kV2Schema;

TEST(RpcAnswers, StatusExamplesOfBothGenerations) {
  auto v1 = ParseStatus(Envelope(ExampleResult(kV1Schema, "info_get_status")));
  ASSERT_TRUE(v1) << v1.error().message;
  EXPECT_EQ(v1->generation, Generation::kV1);
  EXPECT_EQ(v1->api_version, "1.5.8");
  EXPECT_EQ(v1->chainspec_name, "casper-example");
  ASSERT_TRUE(v1->available_block_range);
  EXPECT_EQ(v1->available_block_range->low, 0u);
  ASSERT_TRUE(v1->last_added_block);
  EXPECT_EQ(v1->last_added_block->height, 10u);
  EXPECT_EQ(v1->last_added_block->hash, "13c2d7a68ecdd4b74bf4393c88915c836c863fc4bf11d7f2bd930a1bbccacdcb");

  auto v2 = ParseStatus(Envelope(ExampleResult(kV2Schema, "info_get_status")));
  ASSERT_TRUE(v2) << v2.error().message;
  EXPECT_EQ(v2->generation, Generation::kV2);
  EXPECT_EQ(v2->last_added_block->era_id, 1u);
  EXPECT_EQ(v2->last_added_block->timestamp, "2020-11-17T00:39:24.072Z");
}

TEST(RpcAnswers, BlockExampleV2KeepsTheVersionedBlockBytes) {
  const std::string result = ExampleResult(kV2Schema, "chain_get_block");
  auto block = ParseBlock(Envelope(result), 10);
  ASSERT_TRUE(block) << block.error().message;
  EXPECT_EQ(block->generation, Generation::kV2);
  EXPECT_EQ(block->version, 2);
  EXPECT_EQ(block->hash, "1f8187a82bd4b28948add6f8c0ea15a8aac6160088dbc281499fdcf2f0d95a79");
  EXPECT_EQ(block->era_id, 1u);
  EXPECT_TRUE(block->switch_block);
  EXPECT_EQ(block->block_json, test::RawAt(result, {"block_with_signatures", "block"}));
  EXPECT_EQ(block->header_json, test::RawAt(result, {"block_with_signatures", "block", "Version2", "header"}));
  ASSERT_EQ(block->proofs.size(), 1u);
  EXPECT_EQ(block->proofs[0].public_key, "01d9bf2148748a85c89da5aad8ee0b0fc2d105fd39d41a4c796536354f0ae2900c");
  ASSERT_EQ(block->transactions.size(), 3u);  // lanes "0", "1", "2", in order
  EXPECT_EQ(block->transactions[0],
            (TransactionId{HashKind::kVersion1, "1414141414141414141414141414141414141414141414141414141414141414"}));
  EXPECT_EQ(block->transactions[2].hash, "1616161616161616161616161616161616161616161616161616161616161616");
}

TEST(RpcAnswers, BlockExampleV1HasProofsInsideTheBlock) {
  const std::string result = ExampleResult(kV1Schema, "chain_get_block");
  auto block = ParseBlock(Envelope(result), 10);
  ASSERT_TRUE(block) << block.error().message;
  EXPECT_EQ(block->generation, Generation::kV1);
  EXPECT_EQ(block->version, 0);
  EXPECT_EQ(block->block_json, test::RawAt(result, {"block"}));
  EXPECT_EQ(block->body_json, test::RawAt(result, {"block", "body"}));
  ASSERT_EQ(block->proofs.size(), 1u);
  ASSERT_EQ(block->transactions.size(), 1u);  // transfer_hashes count too
  EXPECT_EQ(block->transactions[0].kind, HashKind::kDeploy);
  EXPECT_EQ(block->transactions[0].hash, "5c9b3b099c1378aa8e4a5f07f59ff1fcdc69a83179427c7e67ae0377d94d93fa");
}

TEST(RpcAnswers, TransactionExamples) {
  const std::string v2 = ExampleResult(kV2Schema, "info_get_transaction");
  const TransactionId id{HashKind::kVersion1, "e6bc93a30584fefced99be08c1861164b357c74e4904b5d2e7146896aaaaf843"};
  auto tx = ParseTransaction(Envelope(v2), kGetTransaction, id);
  ASSERT_TRUE(tx) << tx.error().message;
  EXPECT_EQ(tx->generation, Generation::kV2);
  EXPECT_EQ(tx->method, kGetTransaction);
  EXPECT_EQ(tx->body_json, test::RawAt(v2, {"transaction", "Version1"}));
  EXPECT_EQ(tx->initiator_addr_json,
            "{\"PublicKey\":\"01d9bf2148748a85c89da5aad8ee0b0fc2d105fd39d41a4c796536354f0ae2900c\"}");
  EXPECT_EQ(tx->ttl, "1h");
  ASSERT_EQ(tx->executions.size(), 1u);
  EXPECT_EQ(tx->executions[0].block_height, 10u);
  EXPECT_EQ(tx->executions[0].result_json, test::RawAt(v2, {"execution_info", "execution_result"}));
  EXPECT_EQ(tx->message_writes, 0u);

  const std::string deploy_hash = "5c9b3b099c1378aa8e4a5f07f59ff1fcdc69a83179427c7e67ae0377d94d93fa";
  const std::string v1 = ExampleResult(kV1Schema, "info_get_deploy");
  auto deploy = ParseTransaction(Envelope(v1), kGetDeploy, {HashKind::kDeploy, deploy_hash});
  ASSERT_TRUE(deploy) << deploy.error().message;
  EXPECT_EQ(deploy->generation, Generation::kV1);
  EXPECT_EQ(deploy->account, "01d9bf2148748a85c89da5aad8ee0b0fc2d105fd39d41a4c796536354f0ae2900c");
  EXPECT_EQ(deploy->dependencies_json, "[\"0101010101010101010101010101010101010101010101010101010101010101\"]");
  ASSERT_EQ(deploy->executions.size(), 1u);
  EXPECT_FALSE(deploy->executions[0].block_height);
  EXPECT_EQ(deploy->executions[0].result_json.rfind("{\"Success\":{\"effect\":", 0), 0u);
  EXPECT_NE(v1.find(",\"result\":" + deploy->executions[0].result_json + "}]"), std::string::npos);

  auto deploy_v2 = ParseTransaction(Envelope(ExampleResult(kV2Schema, "info_get_deploy")), kGetDeploy,
                                    {HashKind::kDeploy, deploy_hash});
  ASSERT_TRUE(deploy_v2) << deploy_v2.error().message;
  EXPECT_EQ(deploy_v2->generation, Generation::kV2);
  ASSERT_EQ(deploy_v2->executions.size(), 1u);
}

TEST(RpcAnswers, EraAndRewardExamples) {
  auto summary = ParseEraSummary(Envelope(ExampleResult(kV2Schema, "chain_get_era_summary")), 10);
  ASSERT_TRUE(summary) << summary.error().message;
  EXPECT_EQ(summary->era_id, 42u);
  EXPECT_EQ(summary->stored_value_json.rfind("{\"EraInfo\":{\"seigniorage_allocations\":[", 0), 0u);

  auto by_switch = ParseEraInfoBySwitchBlock(Envelope(ExampleResult(kV1Schema, "chain_get_era_info_by_switch_block")), 10);
  ASSERT_TRUE(by_switch) << by_switch.error().message;
  ASSERT_TRUE(by_switch->has_value());
  EXPECT_EQ((*by_switch)->block_hash, "13c2d7a68ecdd4b74bf4393c88915c836c863fc4bf11d7f2bd930a1bbccacdcb");
  auto not_switch = ParseEraInfoBySwitchBlock(Envelope("{\"api_version\":\"1.5.8\",\"era_summary\":null}"), 11);
  ASSERT_TRUE(not_switch);
  EXPECT_FALSE(not_switch->has_value());

  RewardQuery query{"01d9bf2148748a85c89da5aad8ee0b0fc2d105fd39d41a4c796536354f0ae2900c", std::nullopt, 1};
  auto reward = ParseReward(Envelope(ExampleResult(kV2Schema, "info_get_reward")), query);
  ASSERT_TRUE(reward) << reward.error().message;
  EXPECT_EQ(reward->reward_amount, "42");
  EXPECT_EQ(reward->delegation_rate, 20u);
  query.era_id = 2;
  auto other_era = ParseReward(Envelope(ExampleResult(kV2Schema, "info_get_reward")), query);
  ASSERT_FALSE(other_era);
  EXPECT_EQ(other_era.error().kind, ErrorKind::kMalformed);
}

TEST(RpcAnswers, NotFoundCodesOfTheNode) {
  struct Case {
    std::int64_t code;
    ErrorKind kind;
  };
  for (Case c : {Case{-32001, ErrorKind::kNotFound}, Case{-32000, ErrorKind::kNode}, Case{-32602, ErrorKind::kNode}}) {
    auto block = ParseBlock(ErrorEnvelope(c.code, "No such block"), 7);
    ASSERT_FALSE(block);
    EXPECT_EQ(block.error().kind, c.kind) << c.code;
    EXPECT_EQ(block.error().rpc_code, c.code);
    EXPECT_NE(block.error().message.find("chain_get_block height 7: JSON-RPC error"), std::string::npos)
        << block.error().message;
  }
  const TransactionId tx{HashKind::kVersion1, std::string(64, 'a')};
  auto missing_tx = ParseTransaction(ErrorEnvelope(-32014, "No such transaction"), kGetTransaction, tx);
  ASSERT_FALSE(missing_tx);
  EXPECT_EQ(missing_tx.error().kind, ErrorKind::kNotFound);
  EXPECT_NE(missing_tx.error().message.find("info_get_transaction Version1 " + tx.hash), std::string::npos);
  auto missing_deploy = ParseTransaction(ErrorEnvelope(-32000, "No such deploy"), kGetDeploy, {HashKind::kDeploy, tx.hash});
  ASSERT_FALSE(missing_deploy);
  EXPECT_EQ(missing_deploy.error().kind, ErrorKind::kNotFound);
  auto missing_era = ParseEraSummary(ErrorEnvelope(-32003, "Query failed"), 3);
  EXPECT_EQ(missing_era.error().kind, ErrorKind::kNotFound);
  RewardQuery query{"01d9bf2148748a85c89da5aad8ee0b0fc2d105fd39d41a4c796536354f0ae2900c", std::nullopt, 4};
  EXPECT_EQ(ParseReward(ErrorEnvelope(-32022, "No rewards found"), query).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(ParseReward(ErrorEnvelope(-32023, "Switch block not found"), query).error().kind, ErrorKind::kNotFound);
  // A null block (the 1.x schema allows it) is "not found" too.
  auto null_block = ParseBlock(Envelope("{\"api_version\":\"1.5.8\",\"block\":null}"), 7);
  EXPECT_EQ(null_block.error().kind, ErrorKind::kNotFound);
  auto null_v2 = ParseBlock(Envelope("{\"api_version\":\"2.0.0\",\"block_with_signatures\":null}"), 7);
  EXPECT_EQ(null_v2.error().kind, ErrorKind::kNotFound);
}

TEST(RpcAnswers, MalformedAnswersAreErrorsWithMethodAndHeight) {
  const std::string good = Envelope(ExampleResult(kV2Schema, "chain_get_block"));
  ASSERT_TRUE(ParseBlock(good, 10));

  auto expect_malformed = [](const Result<Block>& r, const std::string& fragment, bool transient) {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, ErrorKind::kMalformed);
    EXPECT_EQ(r.error().transient, transient);
    EXPECT_NE(r.error().message.find("chain_get_block height 10: "), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find(fragment), std::string::npos) << r.error().message;
  };
  // Truncated anywhere: invalid JSON, worth another attempt.
  for (std::size_t cut : {std::size_t{1}, good.size() / 3, good.size() / 2, good.size() - 1}) {
    expect_malformed(ParseBlock(good.substr(0, cut), 10), "invalid JSON", true);
  }
  expect_malformed(ParseBlock("", 10), "invalid JSON", true);
  // Another height than asked.
  auto other_height = ParseBlock(good, 11);
  ASSERT_FALSE(other_height);
  EXPECT_EQ(other_height.error().kind, ErrorKind::kMalformed);
  EXPECT_EQ(other_height.error().message,
            "chain_get_block height 11: the answer holds block "
            "1f8187a82bd4b28948add6f8c0ea15a8aac6160088dbc281499fdcf2f0d95a79 at height 10");
  // Missing and mistyped fields.
  auto edit = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const auto pos = s.find(from);
    EXPECT_NE(pos, std::string::npos) << from;
    return s.replace(pos, from.size(), to);
  };
  expect_malformed(ParseBlock(edit("\"height\":10", "\"height\":\"10\""), 10),
                   "result.block_with_signatures.block.Version2.header.height: expected an unsigned integer", false);
  expect_malformed(ParseBlock(edit("\"height\":10,", ""), 10), "header.height: missing", false);
  expect_malformed(ParseBlock(edit("\"era_id\":1", "\"era_id\":-1"), 10), "header.era_id", false);
  expect_malformed(ParseBlock(edit("{\"Version2\":", "{\"Version3\":"), 10), "expected one of {Version1|Version2}", false);
  expect_malformed(ParseBlock(edit("\"proofs\":[", "\"proofs\":[1,"), 10), "proofs[0]", false);
  expect_malformed(ParseBlock(edit("\"hash\":\"1f8187a8", "\"hash\":\"zz8187a8"), 10), "hash: expected 64 hex digits", false);
  expect_malformed(ParseBlock(edit("{\"Version1\":\"1414", "{\"Version1\":\"14"), 10), "expected 64 hex digits", false);
  expect_malformed(ParseBlock(edit(",\"proofs\":[", ",\"proofz\":["), 10), "proofs: missing", false);
  expect_malformed(ParseBlock(Envelope("{\"api_version\":\"2.0.0\"}"), 10), "neither block_with_signatures", false);
  expect_malformed(ParseBlock("[1,2]", 10), "JSON-RPC response object", false);
  expect_malformed(ParseBlock("{\"jsonrpc\":\"2.0\",\"id\":1}", 10), "response.result: missing", false);
  expect_malformed(ParseBlock(edit("\"jsonrpc\":\"2.0\"", "\"jsonrpc\":\"1.0\""), 10), "jsonrpc", false);
  // The id must be the request's.
  expect_malformed(ParseBlock(good, 10, 2), "response.id: expected 2", false);
  EXPECT_TRUE(ParseBlock(good, 10, 1));
}

TEST(RpcAnswers, TransactionAnswerMustBeForTheHashAsked) {
  const std::string v2 = Envelope(ExampleResult(kV2Schema, "info_get_transaction"));
  const std::string hash = "e6bc93a30584fefced99be08c1861164b357c74e4904b5d2e7146896aaaaf843";
  auto other = ParseTransaction(v2, kGetTransaction, {HashKind::kVersion1, std::string(64, 'b')});
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().kind, ErrorKind::kMalformed);
  EXPECT_NE(other.error().message.find("holds transaction " + hash), std::string::npos) << other.error().message;
  auto wrong_kind = ParseTransaction(v2, kGetTransaction, {HashKind::kDeploy, hash});
  ASSERT_FALSE(wrong_kind);
  EXPECT_NE(wrong_kind.error().message.find("a Version1 where Deploy"), std::string::npos) << wrong_kind.error().message;
  auto not_deploy = ParseTransaction(v2, kGetDeploy, {HashKind::kVersion1, hash});
  EXPECT_EQ(not_deploy.error().kind, ErrorKind::kInvalidArgument);
}

TEST(RpcAnswers, PrettyAnswersGiveCompactParts) {
  const std::string result = ExampleResult(kV2Schema, "chain_get_block");
  const std::string pretty = ordered_json::parse(Envelope(result)).dump(2);
  ASSERT_NE(pretty.find("\n  "), std::string::npos);
  auto block = ParseBlock(pretty, 10);
  ASSERT_TRUE(block) << block.error().message;
  EXPECT_EQ(block->block_json, test::RawAt(result, {"block_with_signatures", "block"}));
}

TEST(RpcAnswers, RequestsInTheNodesParameterShapes) {
  EXPECT_EQ(StatusRequest(3), R"({"jsonrpc":"2.0","id":3,"method":"info_get_status","params":[]})");
  EXPECT_EQ(BlockRequest(4, kGetBlock, 12),
            R"({"jsonrpc":"2.0","id":4,"method":"chain_get_block","params":{"block_identifier":{"Height":12}}})");
  const std::string h(64, 'a');
  EXPECT_EQ(TransactionRequest(5, {HashKind::kVersion1, h}),
            R"({"jsonrpc":"2.0","id":5,"method":"info_get_transaction","params":{"transaction_hash":{"Version1":")" + h +
                R"("}}})");
  EXPECT_EQ(DeployRequest(6, h), R"({"jsonrpc":"2.0","id":6,"method":"info_get_deploy","params":{"deploy_hash":")" + h + R"("}})");
  EXPECT_EQ(RewardRequest(7, {"01ab", std::string("02cd"), 9}),
            R"({"jsonrpc":"2.0","id":7,"method":"info_get_reward","params":{"validator":"01ab","era_identifier":{"Era":9},"delegator":"02cd"}})");
  EXPECT_EQ(DeployRequest(8, "xyz"), "");
  EXPECT_EQ(TransactionRequest(8, {HashKind::kDeploy, "\"}"}), "");
  // Every request is one the node's own parser accepts as JSON.
  for (const std::string& request : {StatusRequest(1), BlockRequest(1, kGetEraSummary, 0), DeployRequest(1, h)}) {
    EXPECT_TRUE(nlohmann::json::accept(request)) << request;
  }
}

}  // namespace
}  // namespace ces::rpc
