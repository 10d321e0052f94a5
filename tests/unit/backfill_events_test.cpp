// ces::backfill rebuilds the SSE events of a block from JSON-RPC answers. Each test builds the answers
// a node would give (following the OpenRPC schemas) out of real recorded events, reads them with
// ces::rpc, reconstructs, and compares with the recorded events byte for byte.
#include "ces/backfill/events.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "rpc_test_answers.hpp"
#include "test_support.hpp"

namespace ces::backfill {
namespace {

using rpc::test::BlockAnswerV1;
using rpc::test::BlockAnswerV2;
using rpc::test::DeployAnswerV1;
using rpc::test::DeployAnswerV2;
using rpc::test::Proofs;
using rpc::test::RawAt;
using rpc::test::StringAt;
using rpc::test::TransactionAnswerV2;

std::string Recorded(const std::string& relative) { return ces::test::RecordedPayload(relative); }

std::vector<std::string> RecordedStream(const std::string& relative) {
  std::vector<std::string> out;
  for (const auto& e : ces::test::ReadRecording(ces::test::RecordingsDir() + "/" + relative)) out.push_back(e.data);
  return out;
}

bool IsType(const std::string& payload, const std::string& type) { return payload.rfind("{\"" + type + "\":", 0) == 0; }

// Every occurrence of `from` replaced (there must be one).
std::string Replace(std::string text, const std::string& from, const std::string& to) {
  std::size_t pos = text.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  while (pos != std::string::npos) {
    text.replace(pos, from.size(), to);
    pos = text.find(from, pos + to.size());
  }
  return text;
}

std::uint64_t U64At(const std::string& json, std::initializer_list<std::string_view> path) {
  return std::stoull(RawAt(json, path));
}

rpc::Block ReadBlock(const std::string& answer, std::uint64_t height) {
  auto block = rpc::ParseBlock(answer, height);
  EXPECT_TRUE(block) << block.error().message;
  return block ? std::move(block).value() : rpc::Block{};
}

rpc::Transaction ReadTransaction(const std::string& answer, std::string_view method, const rpc::TransactionId& id) {
  auto tx = rpc::ParseTransaction(answer, method, id);
  EXPECT_TRUE(tx) << tx.error().message;
  return tx ? std::move(tx).value() : rpc::Transaction{};
}

const std::string kNet1 = "casper-net-1";  // the chain of the 2.x NCTL captures

// ---- 2.x -------------------------------------------------------------------------------------

// The java-sdk capture holds 160 blocks with their finality signatures (799): chain_get_block answers
// built from each block and its signatures give back every one of those events.
TEST(BackfillV2, EveryCapturedBlockAndSignature) {
  const std::vector<std::string> events = RecordedStream("v2/raw/casper-java-sdk/events-with-deploy.txt");
  std::map<std::string, std::vector<std::string>> sigs;  // block hash -> recorded FinalitySignature payloads
  for (const std::string& p : events) {
    if (IsType(p, "FinalitySignature")) sigs[StringAt(p, {"FinalitySignature", "V2", "block_hash"})].push_back(p);
  }
  std::size_t blocks = 0, signatures = 0;
  for (const std::string& recorded : events) {
    if (!IsType(recorded, "BlockAdded")) continue;
    const std::string hash = StringAt(recorded, {"BlockAdded", "block_hash"});
    const std::uint64_t height = U64At(recorded, {"BlockAdded", "block", "Version2", "header", "height"});
    std::map<std::string, std::string> by_signer;
    Proofs proofs;
    for (const std::string& s : sigs[hash]) {
      const std::string key = StringAt(s, {"FinalitySignature", "V2", "public_key"});
      by_signer[key] = s;
      proofs.emplace_back(key, StringAt(s, {"FinalitySignature", "V2", "signature"}));
    }
    const rpc::Block block = ReadBlock(BlockAnswerV2(RawAt(recorded, {"BlockAdded", "block"}), proofs), height);
    const Event added = BlockAdded(block);
    EXPECT_EQ(added.payload, recorded) << "height " << height;
    EXPECT_EQ(added.type, "BlockAdded");
    EXPECT_EQ(added.subject, hash);
    EXPECT_EQ(added.height, height);
    EXPECT_EQ(added.rpc_method, rpc::kGetBlock);
    const std::vector<Event> rebuilt = FinalitySignatures(block, kNet1);
    ASSERT_EQ(rebuilt.size(), proofs.size());
    for (const Event& e : rebuilt) {
      EXPECT_EQ(e.type, "FinalitySignature");
      EXPECT_EQ(e.payload, by_signer[e.subject]) << "height " << height;
      EXPECT_EQ(e.generation, rpc::Generation::kV2);
      EXPECT_TRUE(e.missing.empty());
      ++signatures;
    }
    ++blocks;
  }
  EXPECT_EQ(blocks, 160u);
  EXPECT_EQ(signatures, 799u);
}

// Block 4139 with its legacy Deploy: TransactionAccepted, BlockAdded, TransactionProcessed and the
// block's five signatures, all as the node streamed them — from info_get_transaction or info_get_deploy.
TEST(BackfillV2, BlockWithDeployEndToEnd) {
  const std::string added = Recorded("v2/events/BlockAdded.with_deploy.json");
  const std::string accepted = Recorded("v2/events/TransactionAccepted.Deploy.json");
  const std::string processed = Recorded("v2/events/TransactionProcessed.Deploy.json");
  const std::string block_hash = StringAt(added, {"BlockAdded", "block_hash"});
  std::map<std::string, std::string> sigs;
  Proofs proofs;
  for (const std::string& p : RecordedStream("v2/raw/casper-java-sdk/events-with-deploy.txt")) {
    if (IsType(p, "FinalitySignature") && StringAt(p, {"FinalitySignature", "V2", "block_hash"}) == block_hash) {
      const std::string key = StringAt(p, {"FinalitySignature", "V2", "public_key"});
      sigs[key] = p;
      proofs.emplace_back(key, StringAt(p, {"FinalitySignature", "V2", "signature"}));
    }
  }
  ASSERT_EQ(proofs.size(), 5u);
  const rpc::Block block = ReadBlock(BlockAnswerV2(RawAt(added, {"BlockAdded", "block"}), proofs), 4139);
  ASSERT_EQ(block.transactions.size(), 1u);
  const rpc::TransactionId id = block.transactions[0];
  EXPECT_EQ(id.kind, rpc::HashKind::kDeploy);

  const std::string deploy = RawAt(accepted, {"TransactionAccepted", "Deploy"});
  const std::string result = RawAt(processed, {"TransactionProcessed", "execution_result"});
  const std::vector<rpc::Transaction> answers[] = {
      {ReadTransaction(TransactionAnswerV2("Deploy", deploy, block_hash, 4139, result), rpc::kGetTransaction, id)},
      {ReadTransaction(DeployAnswerV2(deploy, block_hash, 4139, result), rpc::kGetDeploy, id)}};
  for (const auto& transactions : answers) {
    auto events = Reconstruct({&block, transactions, kNet1});
    ASSERT_TRUE(events) << events.error().message;
    ASSERT_EQ(events->size(), 8u);
    EXPECT_EQ((*events)[0].type, "TransactionAccepted");
    EXPECT_EQ((*events)[0].payload, accepted);
    EXPECT_EQ((*events)[0].subject, "Deploy " + id.hash);
    EXPECT_EQ((*events)[0].rpc_method, transactions[0].method);
    EXPECT_EQ((*events)[1].payload, added);
    EXPECT_EQ((*events)[2].type, "TransactionProcessed");
    EXPECT_EQ((*events)[2].payload, processed);
    EXPECT_TRUE((*events)[2].missing.empty());
    for (std::size_t i = 3; i < 8; ++i) EXPECT_EQ((*events)[i].payload, sigs[(*events)[i].subject]);
  }
}

// A block with hash `hash` holding the given Version1 transaction, made from the recorded height-54
// block (only its hash, height and lanes matter to the transaction's events).
rpc::Block BlockHolding(const std::string& hash, const std::string& tx_hash) {
  std::string block = RawAt(Recorded("v2/events/BlockAdded.json"), {"BlockAdded", "block"});
  block = Replace(block, "13a5603c1dad7d4e4d2ce81313c35043172e1535363c3ec428f559dff5704ea5", hash);
  block = Replace(block, "\"0\":[]", "\"0\":[{\"Version1\":\"" + tx_hash + "\"}]");
  return ReadBlock(BlockAnswerV2(block, {}), 54);
}

// A TransactionV1 with the payload fields TransactionProcessed repeats; the rest are placeholders
// (they do not appear in TransactionProcessed).
std::string TransactionV1(const std::string& hash, const std::string& initiator, const std::string& timestamp,
                          const std::string& ttl) {
  return "{\"hash\":\"" + hash + "\",\"payload\":{\"initiator_addr\":" + initiator + ",\"timestamp\":\"" + timestamp +
         "\",\"ttl\":\"" + ttl +
         "\",\"chain_name\":\"casper-net-1\",\"pricing_mode\":{\"Fixed\":{\"additional_computation_factor\":0,"
         "\"gas_price_tolerance\":1}},\"fields\":{}},\"approvals\":[]}";
}

// TransactionProcessed of Version1 transactions (final 2.0 and pre-release shapes). Their contract
// messages are not in any RPC answer: the event comes back with "messages":[] and says so.
TEST(BackfillV2, TransactionProcessedVersion1WithoutItsMessages) {
  for (const char* file : {"v2/events/TransactionProcessed.Version1.json",
                           "v2/events/TransactionProcessed.Version1_prerelease.json"}) {
    SCOPED_TRACE(file);
    const std::string recorded = Recorded(file);
    const std::string hash = StringAt(recorded, {"TransactionProcessed", "transaction_hash", "Version1"});
    const std::string block_hash = StringAt(recorded, {"TransactionProcessed", "block_hash"});
    const rpc::Block block = BlockHolding(block_hash, hash);
    const std::string body = TransactionV1(hash, RawAt(recorded, {"TransactionProcessed", "initiator_addr"}),
                                           StringAt(recorded, {"TransactionProcessed", "timestamp"}),
                                           StringAt(recorded, {"TransactionProcessed", "ttl"}));
    const rpc::TransactionId id{rpc::HashKind::kVersion1, hash};
    const rpc::Transaction tx = ReadTransaction(
        TransactionAnswerV2("Version1", body, block_hash, 54, RawAt(recorded, {"TransactionProcessed", "execution_result"})),
        rpc::kGetTransaction, id);
    EXPECT_GT(tx.message_writes, 0u);
    auto event = Processed(block, tx);
    ASSERT_TRUE(event) << event.error().message;
    const std::string messages = RawAt(recorded, {"TransactionProcessed", "messages"});
    ASSERT_NE(messages, "[]");
    EXPECT_EQ(event->payload, Replace(recorded, "\"messages\":" + messages, "\"messages\":[]"));
    EXPECT_EQ(event->missing, std::vector<std::string>{"messages"});
  }
}

TEST(BackfillV2, TransactionAcceptedVersion1) {
  const std::string recorded = Recorded("v2/events/TransactionAccepted.Version1.json");
  const std::string hash = StringAt(recorded, {"TransactionAccepted", "Version1", "hash"});
  const std::string block_hash(64, 'c');
  const rpc::Block block = BlockHolding(block_hash, hash);
  const std::string result = RawAt(Recorded("v2/events/TransactionProcessed.Version1.json"),
                                   {"TransactionProcessed", "execution_result"});
  const rpc::Transaction tx =
      ReadTransaction(TransactionAnswerV2("Version1", RawAt(recorded, {"TransactionAccepted", "Version1"}), block_hash,
                                          54, result),
                      rpc::kGetTransaction, {rpc::HashKind::kVersion1, hash});
  EXPECT_EQ(Accepted(block, tx).payload, recorded);
  auto events = Reconstruct({&block, {&tx, 1}, kNet1});
  ASSERT_TRUE(events) << events.error().message;
  EXPECT_EQ(events->front().payload, recorded);
}

TEST(BackfillV2, SignaturesOfAVersion1BlockAreV1) {
  // A 2.x node keeps pre-upgrade blocks as {"Version1":…}; their signatures are FinalitySignatureV1.
  std::string v1_block = RawAt(Recorded("v1/events/BlockAdded.json"), {"BlockAdded", "block"});
  v1_block = Replace(v1_block, ",\"proofs\":[]", "");
  const rpc::Block block = ReadBlock(BlockAnswerV2("{\"Version1\":" + v1_block + "}", {{"01ab", "01cd"}}), 1002230);
  EXPECT_EQ(block.version, 1);
  const auto sigs = FinalitySignatures(block, kNet1);
  ASSERT_EQ(sigs.size(), 1u);
  EXPECT_EQ(sigs[0].payload,
            "{\"FinalitySignature\":{\"V1\":{\"block_hash\":\"5a91486c973deea304e26138206723278d9d269f4fe03bfc9e5fdb93e927236e\","
            "\"era_id\":5849,\"signature\":\"01cd\",\"public_key\":\"01ab\"}}}");
  EXPECT_EQ(BlockAdded(block).payload,
            "{\"BlockAdded\":{\"block_hash\":\"5a91486c973deea304e26138206723278d9d269f4fe03bfc9e5fdb93e927236e\","
            "\"block\":{\"Version1\":" + v1_block + "}}}");
}

TEST(BackfillV2, ChainNameHashIsBlake2b256) {
  EXPECT_EQ(ChainNameHash(kNet1),
            StringAt(Recorded("v2/events/FinalitySignature.json"), {"FinalitySignature", "V2", "chain_name_hash"}));
  EXPECT_EQ(ChainNameHash(""), "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
}

// ---- 1.x -------------------------------------------------------------------------------------

// Every recorded 1.x BlockAdded: chain_get_block returns the block with its proofs, the stream carried
// it with "proofs":[].
TEST(BackfillV1, EveryRecordedBlockAdded) {
  std::vector<std::string> blocks;
  // (Not v1/raw/casper-sidecar/usage-1.5.2-shutdown-restart.stream: its 2021 BlockAdded, re-streamed by
  // casper-sidecar, has no "proofs" member; 1.4 and 1.5 nodes send "proofs":[], see docs/backfill.md.)
  for (const char* file : {"v1/main.stream", "v1/raw/cspr-events-store/main.events.stream"}) {
    for (const std::string& p : RecordedStream(file)) {
      if (IsType(p, "BlockAdded")) blocks.push_back(p);
    }
  }
  blocks.push_back(Recorded("v1/events/BlockAdded.json"));
  blocks.push_back(Recorded("v1/events/BlockAdded.era_end.json"));
  const std::string sig = Recorded("v1/events/FinalitySignature.json");
  const Proofs proofs = {{StringAt(sig, {"FinalitySignature", "public_key"}), StringAt(sig, {"FinalitySignature", "signature"})}};
  for (const std::string& recorded : blocks) {
    const std::uint64_t height = U64At(recorded, {"BlockAdded", "block", "header", "height"});
    const rpc::Block block = ReadBlock(BlockAnswerV1(RawAt(recorded, {"BlockAdded", "block"}), proofs), height);
    EXPECT_EQ(block.generation, rpc::Generation::kV1);
    ASSERT_EQ(block.proofs.size(), 1u);
    EXPECT_EQ(BlockAdded(block).payload, recorded) << "height " << height;
    EXPECT_EQ(block.switch_block, recorded.find("\"era_end\":null") == std::string::npos);
  }
  EXPECT_EQ(blocks.size(), 16u);  // 12 + 2 complete frames of main.events.stream (its last has no blank line) + 2
}

// Every recorded 1.x FinalitySignature, from a block answer with that block's hash, era and one proof.
TEST(BackfillV1, EveryRecordedFinalitySignature) {
  std::vector<std::string> sigs = RecordedStream("v1/raw/cspr-events-store/sigs.events.stream");
  sigs.push_back(Recorded("v1/events/FinalitySignature.json"));
  const std::string template_block = RawAt(Recorded("v1/events/BlockAdded.json"), {"BlockAdded", "block"});
  for (const std::string& recorded : sigs) {
    if (!IsType(recorded, "FinalitySignature")) continue;
    std::string block = Replace(template_block, "5a91486c973deea304e26138206723278d9d269f4fe03bfc9e5fdb93e927236e",
                                StringAt(recorded, {"FinalitySignature", "block_hash"}));
    block = Replace(block, "\"era_id\":5849", "\"era_id\":" + RawAt(recorded, {"FinalitySignature", "era_id"}));
    const rpc::Block parsed =
        ReadBlock(BlockAnswerV1(block, {{StringAt(recorded, {"FinalitySignature", "public_key"}),
                                         StringAt(recorded, {"FinalitySignature", "signature"})}}),
                  1002230);
    const auto rebuilt = FinalitySignatures(parsed, "casper-test");
    ASSERT_EQ(rebuilt.size(), 1u);
    EXPECT_EQ(rebuilt[0].payload, recorded);
    EXPECT_EQ(rebuilt[0].generation, rpc::Generation::kV1);
  }
}

rpc::Block V1BlockHolding(const std::string& hash, const std::string& deploy_hash) {
  std::string block = RawAt(Recorded("v1/events/BlockAdded.json"), {"BlockAdded", "block"});
  block = Replace(block, "5a91486c973deea304e26138206723278d9d269f4fe03bfc9e5fdb93e927236e", hash);
  block = Replace(block, "\"deploy_hashes\":[]", "\"deploy_hashes\":[\"" + deploy_hash + "\"]");
  return ReadBlock(BlockAnswerV1(block, {}), 1002230);
}

const std::string kOtherBlock(64, 'e');
const std::string kFailure =
    "{\"Failure\":{\"effect\":{\"operations\":[],\"transforms\":[]},\"transfers\":[],\"cost\":\"1\",\"error_message\":\"x\"}}";

TEST(BackfillV1, EveryRecordedDeployAccepted) {
  std::vector<std::string> accepted = RecordedStream("v1/deploys.stream");
  accepted.push_back(Recorded("v1/events/DeployAccepted.json"));
  std::size_t n = 0;
  for (const std::string& recorded : accepted) {
    if (!IsType(recorded, "DeployAccepted")) continue;
    const std::string hash = StringAt(recorded, {"DeployAccepted", "hash"});
    const rpc::Block block = V1BlockHolding(std::string(64, 'd'), hash);
    const rpc::Transaction tx = ReadTransaction(
        DeployAnswerV1(RawAt(recorded, {"DeployAccepted"}), {{block.hash, kFailure}}), rpc::kGetDeploy,
        {rpc::HashKind::kDeploy, hash});
    const Event e = Accepted(block, tx);
    EXPECT_EQ(e.type, "DeployAccepted");
    EXPECT_EQ(e.payload, recorded);
    EXPECT_EQ(e.rpc_method, rpc::kGetDeploy);
    ++n;
  }
  EXPECT_EQ(n, 3u);
}

// A Deploy with the header fields DeployProcessed repeats; payment, session, approvals and the other
// header fields are placeholders (they do not appear in DeployProcessed).
std::string DeployFor(const std::string& processed) {
  return "{\"hash\":\"" + StringAt(processed, {"DeployProcessed", "deploy_hash"}) + "\",\"header\":{\"account\":\"" +
         StringAt(processed, {"DeployProcessed", "account"}) + "\",\"timestamp\":\"" +
         StringAt(processed, {"DeployProcessed", "timestamp"}) + "\",\"ttl\":\"" +
         StringAt(processed, {"DeployProcessed", "ttl"}) + "\",\"gas_price\":1,\"body_hash\":\"" + std::string(64, '0') +
         "\",\"dependencies\":" + RawAt(processed, {"DeployProcessed", "dependencies"}) +
         ",\"chain_name\":\"casper-test\"},\"payment\":{\"ModuleBytes\":{\"module_bytes\":\"\",\"args\":[]}},"
         "\"session\":{\"Transfer\":{\"args\":[]}},\"approvals\":[]}";
}

// Every recorded 1.x DeployProcessed (success, failure, transfer, bids): info_get_deploy lists the
// execution results per block; the one of the block being rebuilt is chosen.
TEST(BackfillV1, EveryRecordedDeployProcessed) {
  std::vector<std::string> processed;
  for (const std::string& p : RecordedStream("v1/main.stream")) {
    if (IsType(p, "DeployProcessed")) processed.push_back(p);
  }
  for (const char* f : {"failure", "success", "transfer", "withdraw_bid"}) {
    processed.push_back(Recorded(std::string("v1/events/DeployProcessed.") + f + ".json"));
  }
  for (const std::string& recorded : processed) {
    const std::string hash = StringAt(recorded, {"DeployProcessed", "deploy_hash"});
    const std::string block_hash = StringAt(recorded, {"DeployProcessed", "block_hash"});
    const rpc::Block block = V1BlockHolding(block_hash, hash);
    const rpc::Transaction tx = ReadTransaction(
        DeployAnswerV1(DeployFor(recorded),
                       {{kOtherBlock, kFailure}, {block_hash, RawAt(recorded, {"DeployProcessed", "execution_result"})}}),
        rpc::kGetDeploy, {rpc::HashKind::kDeploy, hash});
    auto event = Processed(block, tx);
    ASSERT_TRUE(event) << event.error().message;
    EXPECT_EQ(event->payload, recorded);
    EXPECT_EQ(event->type, "DeployProcessed");
    EXPECT_EQ(event->subject, "Deploy " + hash);
  }
  EXPECT_EQ(processed.size(), 11u);
}

TEST(BackfillV1, BlockWithDeployEndToEnd) {
  std::string added, processed;
  for (const std::string& p : RecordedStream("v1/main.stream")) {
    if (IsType(p, "BlockAdded") &&
        StringAt(p, {"BlockAdded", "block_hash"}) == "81de1b90f6b609bff5b1c0f37dcc4332be8bc2fd8dba93d0ffea9a2b1c93f99f") {
      added = p;
    }
    if (IsType(p, "DeployProcessed") &&
        StringAt(p, {"DeployProcessed", "deploy_hash"}) == "4857b2ae82ac7d7a290301c21f34badecfcb45aaa77dadc71775a4f2cd6ba47a") {
      processed = p;
    }
  }
  ASSERT_FALSE(added.empty());
  ASSERT_FALSE(processed.empty());
  const std::uint64_t height = U64At(added, {"BlockAdded", "block", "header", "height"});
  const rpc::Block block = ReadBlock(BlockAnswerV1(RawAt(added, {"BlockAdded", "block"}), {{"01aa", "01bb"}, {"02cc", "01dd"}}), height);
  const rpc::Transaction tx = ReadTransaction(
      DeployAnswerV1(DeployFor(processed), {{block.hash, RawAt(processed, {"DeployProcessed", "execution_result"})}}),
      rpc::kGetDeploy, block.transactions.at(0));
  auto events = Reconstruct({&block, {&tx, 1}, "casper-test"});
  ASSERT_TRUE(events) << events.error().message;
  std::vector<std::string> types;
  for (const Event& e : *events) types.push_back(e.type);
  EXPECT_EQ(types, (std::vector<std::string>{"DeployAccepted", "BlockAdded", "DeployProcessed", "FinalitySignature",
                                             "FinalitySignature"}));
  EXPECT_EQ((*events)[0].payload, "{\"DeployAccepted\":" + DeployFor(processed) + "}");
  EXPECT_EQ((*events)[1].payload, added);
  EXPECT_EQ((*events)[2].payload, processed);
  EXPECT_EQ((*events)[3].payload, "{\"FinalitySignature\":{\"block_hash\":\"" + block.hash + "\",\"era_id\":" +
                                      std::to_string(block.era_id) + ",\"signature\":\"01bb\",\"public_key\":\"01aa\"}}");
  for (const Event& e : *events) {
    EXPECT_EQ(e.height, height);
    EXPECT_EQ(e.block_hash, block.hash);
  }
}

// ---- answers that do not fit together --------------------------------------------------------

TEST(BackfillErrors, AnswersThatDoNotFit) {
  const std::string hash(64, 'a');
  const rpc::Block block = BlockHolding(std::string(64, 'b'), hash);
  const std::string result = RawAt(Recorded("v2/events/TransactionProcessed.Version1.json"),
                                   {"TransactionProcessed", "execution_result"});
  const std::string body = TransactionV1(hash, "{\"PublicKey\":\"01ab\"}", "2024-01-01T00:00:00.000Z", "30m");
  const rpc::TransactionId id{rpc::HashKind::kVersion1, hash};

  auto none = Reconstruct({&block, {}, kNet1});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().kind, rpc::ErrorKind::kMalformed);
  EXPECT_EQ(none.error().message, "block " + block.hash + " at height 54: no answer for Version1 " + hash);

  const rpc::Transaction elsewhere =
      ReadTransaction(TransactionAnswerV2("Version1", body, kOtherBlock, 54, result), rpc::kGetTransaction, id);
  auto wrong_block = Reconstruct({&block, {&elsewhere, 1}, kNet1});
  ASSERT_FALSE(wrong_block);
  EXPECT_NE(wrong_block.error().message.find("at height 54: Version1 " + hash +
                                             ": info_get_transaction has no execution result for this block"),
            std::string::npos)
      << wrong_block.error().message;

  const rpc::Transaction other_height =
      ReadTransaction(TransactionAnswerV2("Version1", body, block.hash, 55, result), rpc::kGetTransaction, id);
  EXPECT_FALSE(Processed(block, other_height));

  rpc::Transaction other_generation = ReadTransaction(
      TransactionAnswerV2("Version1", body, block.hash, 54, result), rpc::kGetTransaction, id);
  other_generation.generation = rpc::Generation::kV1;
  auto mixed = Processed(block, other_generation);
  ASSERT_FALSE(mixed);
  EXPECT_NE(mixed.error().message.find("other protocol generation"), std::string::npos);
}

}  // namespace
}  // namespace ces::backfill
