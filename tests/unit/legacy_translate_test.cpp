// ces::legacy: 2.x -> 1.x translation as casper-sidecar's legacy SSE emulation does it. Contract: every
// fixture pair of the sidecar (tests/data/sidecar/legacy, see its README) gives the sidecar's expected
// bytes. Then the rules one by one on the node recordings and on hand-made payloads.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "ces/legacy/translate.hpp"

namespace ces::legacy {
namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The JSON text without the whitespace outside strings (what a node or the sidecar writes).
std::string Compact(const std::string& text) {
  std::string out;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) {
        out += text[++i];
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
      out += c;
    } else if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
      out += c;
    }
  }
  return out;
}

std::string Fixture(const std::string& name) {
  return Compact(Read(std::string(CES_SOURCE_DIR) + "/tests/data/sidecar/legacy/" + name));
}

std::string Recorded(const std::string& relative) {
  std::string text = Read(std::string(CES_RECORDINGS_DIR) + "/" + relative);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

// The payload a client of a legacy stream receives for `input` ("" when none).
std::string Legacy(const std::string& input) {
  Translation t = ToLegacy(input);
  switch (t.outcome) {
    case Outcome::kUnchanged: return input;
    case Outcome::kTranslated: return t.payload;
    case Outcome::kDropped: return "";
  }
  return "";
}

class SidecarFixture : public ::testing::TestWithParam<const char*> {};

TEST_P(SidecarFixture, GivesTheSidecarsBytes) {
  const std::string name = GetParam();
  const std::string input = Fixture(name + ".input.json");
  const std::string expected = Fixture(name + ".expected.json");
  EXPECT_EQ(Legacy(input), expected) << name;
}

INSTANTIATE_TEST_SUITE_P(Contract, SidecarFixture,
                         ::testing::Values("api_version", "finality_signature_v1", "finality_signature_v2",
                                           "deploy_accepted", "deploy_expired", "fault", "block_added_v1",
                                           "block_added_v2", "deploy_processed"));

TEST(SidecarContract, Version1TransactionsAreDropped) {
  for (const char* name : {"transaction_accepted", "transaction_expired"}) {
    Translation t = ToLegacy(Fixture(std::string(name) + ".input.json"));
    EXPECT_EQ(t.outcome, Outcome::kDropped) << name;
    EXPECT_FALSE(t.reason.empty());
  }
}

TEST(LegacyTranslate, TypesOfTheTranslatedEvents) {
  EXPECT_EQ(ToLegacy(Fixture("deploy_accepted.input.json")).type, "DeployAccepted");
  EXPECT_EQ(ToLegacy(Fixture("deploy_processed.input.json")).type, "DeployProcessed");
  EXPECT_EQ(ToLegacy(Fixture("deploy_expired.input.json")).type, "DeployExpired");
  EXPECT_EQ(ToLegacy(Fixture("block_added_v2.input.json")).type, "BlockAdded");
  EXPECT_EQ(ToLegacy(Fixture("finality_signature_v2.input.json")).type, "FinalitySignature");
}

TEST(LegacyTranslate, OneXEventsPassUnchanged) {
  for (const char* file : {"v1/events/BlockAdded.json", "v1/events/BlockAdded.era_end.json", "v1/events/DeployAccepted.json",
                           "v1/events/DeployProcessed.success.json", "v1/events/DeployProcessed.failure.json",
                           "v1/events/DeployExpired.json", "v1/events/FinalitySignature.json", "v1/events/Fault.json",
                           "v1/events/Step.json", "v1/events/ApiVersion.json", "v1/events/Shutdown.json",
                           "v2/events/ApiVersion.json", "v2/events/Shutdown.json", "v2/events/Fault.json"}) {
    const std::string payload = Recorded(file);
    EXPECT_EQ(ToLegacy(payload).outcome, Outcome::kUnchanged) << file;
  }
}

TEST(LegacyTranslate, RecordedTwoXEvents) {
  // Each 2.x event of the recordings: translated, or dropped exactly where 1.x has no such event.
  struct Case {
    const char* file;
    Outcome outcome;
    const char* type;
  };
  for (const Case& c : {Case{"v2/events/BlockAdded.json", Outcome::kTranslated, "BlockAdded"},
                        Case{"v2/events/BlockAdded.era_end.json", Outcome::kTranslated, "BlockAdded"},
                        Case{"v2/events/BlockAdded.with_deploy.json", Outcome::kTranslated, "BlockAdded"},
                        Case{"v2/events/FinalitySignature.json", Outcome::kTranslated, "FinalitySignature"},
                        Case{"v2/events/TransactionAccepted.Deploy.json", Outcome::kTranslated, "DeployAccepted"},
                        Case{"v2/events/TransactionAccepted.Version1.json", Outcome::kDropped, ""},
                        Case{"v2/events/TransactionProcessed.Deploy.json", Outcome::kTranslated, "DeployProcessed"},
                        Case{"v2/events/TransactionProcessed.Version1.json", Outcome::kDropped, ""},
                        Case{"v2/events/TransactionExpired.json", Outcome::kDropped, ""},
                        Case{"v2/events/Step.json", Outcome::kDropped, ""}}) {
    Translation t = ToLegacy(Recorded(c.file));
    EXPECT_EQ(t.outcome, c.outcome) << c.file;
    EXPECT_EQ(t.type, c.type) << c.file;
  }
}

TEST(LegacyTranslate, BlockV2LanesGiveDeployAndTransferHashes) {
  // Lane 0 (mint) -> transfer_hashes, lanes 1.. in lane order -> deploy_hashes; Version1 hashes dropped.
  const std::string h = "aa00000000000000000000000000000000000000000000000000000000000000";
  auto hash = [&](char c) {
    std::string x = h;
    x[1] = c;
    return x;
  };
  const std::string block =
      R"({"BlockAdded":{"block_hash":"B","block":{"Version2":{"hash":"B","header":{"parent_hash":"P","state_root_hash":"S",)"
      R"("body_hash":"H","random_bit":true,"accumulated_seed":"A","era_end":null,"timestamp":"T","era_id":1,"height":2,)"
      R"("protocol_version":"2.0.0","proposer":"01ab","current_gas_price":1,"last_switch_block_hash":null},)"
      R"("body":{"transactions":{"10":[{"Deploy":")" + hash('4') + R"("}],"2":[{"Deploy":")" + hash('3') +
      R"("},{"Version1":")" + hash('9') + R"("}],"0":[{"Deploy":")" + hash('1') + R"("},{"Version1":")" + hash('8') +
      R"("}],"1":[{"Deploy":")" + hash('2') + R"("}]},"rewarded_signatures":[]}}}}})";
  const std::string expected =
      R"({"BlockAdded":{"block_hash":"B","block":{"hash":"B","header":{"parent_hash":"P","state_root_hash":"S",)"
      R"("body_hash":"H","random_bit":true,"accumulated_seed":"A","era_end":null,"timestamp":"T","era_id":1,"height":2,)"
      R"("protocol_version":"2.0.0"},"body":{"proposer":"01ab","deploy_hashes":[")" + hash('2') + R"(",")" + hash('3') +
      R"(",")" + hash('4') + R"("],"transfer_hashes":[")" + hash('1') + R"("]}}}})";
  EXPECT_EQ(Legacy(block), expected);
}

TEST(LegacyTranslate, EraEndWithARewardOverU64IsNull) {
  const std::string prefix =
      R"({"BlockAdded":{"block_hash":"B","block":{"Version2":{"hash":"B","header":{"parent_hash":"P","state_root_hash":"S",)"
      R"("body_hash":"H","random_bit":false,"accumulated_seed":"A","era_end":{"equivocators":[],"inactive_validators":[],)"
      R"("next_era_validator_weights":[],"rewards":{"01aa":)";
  const std::string suffix =
      R"(},"next_era_gas_price":1},"timestamp":"T","era_id":1,"height":2,"protocol_version":"2.0.0","proposer":"01ab",)"
      R"("current_gas_price":1,"last_switch_block_hash":null},"body":{"transactions":{},"rewarded_signatures":[]}}}}})";
  // Summed per validator: 2^64-1 fits, one more does not (then the whole era_end is null, as in the sidecar).
  const std::string fits = Legacy(prefix + R"(["18446744073709551614","1"])" + suffix);
  // (above 2^53 - 1 as a string, which JavaScript clients parse without losing digits)
  EXPECT_NE(fits.find(R"("rewards":[{"validator":"01aa","amount":"18446744073709551615"}])"), std::string::npos) << fits;
  const std::string safe = Legacy(prefix + R"(["9007199254740990","1"])" + suffix);
  EXPECT_NE(safe.find(R"("amount":9007199254740991})"), std::string::npos) << safe;
  const std::string over = Legacy(prefix + R"(["18446744073709551615","1"])" + suffix);
  EXPECT_NE(over.find(R"("era_end":null)"), std::string::npos) << over;
  const std::string huge = Legacy(prefix + R"(["100000000000000000000"])" + suffix);
  EXPECT_NE(huge.find(R"("era_end":null)"), std::string::npos) << huge;
}

TEST(LegacyTranslate, ExecutionResultV2Effects) {
  const std::string processed_prefix =
      R"({"TransactionProcessed":{"transaction_hash":{"Deploy":"D"},"initiator_addr":{"PublicKey":"01ab"},)"
      R"("timestamp":"T","ttl":"30m","block_hash":"B","execution_result":{"Version2":{"initiator":{"PublicKey":"01ab"},)"
      R"("error_message":null,"limit":"10","consumed":"9","cost":"10","transfers":[{"Version2":{}}],"size_estimate":1,"effects":)";
  const std::string suffix = R"(}},"messages":[]}})";
  const std::string effects =
      R"([{"key":"k1","kind":"Identity"},{"key":"k2","kind":{"Write":{"CLValue":{"cl_type":"U8","bytes":"01","parsed":1}}}},)"
      R"({"key":"k3","kind":{"AddUInt512":"5"}},{"key":"k4","kind":{"Prune":"balance-hold-00"}},)"
      R"({"key":"k5","kind":{"AddKeys":[{"name":"b","key":"hash-2"},{"name":"a","key":"hash-1"}]}},)"
      R"({"key":"k6","kind":{"Write":{"Account":{"account_hash":"account-hash-01","named_keys":[]}}}},)"
      R"({"key":"k7","kind":{"Write":{"ContractPackage":{}}}}])";
  EXPECT_EQ(Legacy(processed_prefix + effects + suffix),
            R"({"DeployProcessed":{"deploy_hash":"D","account":"01ab","timestamp":"T","ttl":"30m","dependencies":[],)"
            R"("block_hash":"B","execution_result":{"Success":{"effect":{"operations":[],"transforms":[)"
            R"({"key":"k1","transform":"Identity"},{"key":"k2","transform":{"WriteCLValue":{"cl_type":"U8","bytes":"01","parsed":1}}},)"
            R"({"key":"k3","transform":{"AddUInt512":"5"}},{"key":"k4","transform":{"Prune":"balance-hold-00"}},)"
            R"({"key":"k5","transform":{"AddKeys":[{"name":"a","key":"hash-1"},{"name":"b","key":"hash-2"}]}},)"
            R"({"key":"k6","transform":{"WriteAccount":"account-hash-01"}},{"key":"k7","transform":"WriteContractPackage"}]},)"
            R"("transfers":[],"cost":"10"}}}})");
  // One write with no 1.x form (a 2.x BidKind): no transforms at all, the event is still sent.
  const std::string with_bid_kind = Legacy(
      processed_prefix + R"([{"key":"k1","kind":"Identity"},{"key":"k2","kind":{"Write":{"BidKind":{}}}}])" + suffix);
  EXPECT_NE(with_bid_kind.find(R"("effect":{"operations":[],"transforms":[]})"), std::string::npos) << with_bid_kind;
  // A deploy initiated by an account hash has no 1.x DeployProcessed.
  std::string by_account = processed_prefix + "[]" + suffix;
  by_account.replace(by_account.find(R"({"PublicKey":"01ab"})"), 20, R"({"AccountHash":"account-hash-01"})");
  EXPECT_EQ(ToLegacy(by_account).outcome, Outcome::kDropped);
}

TEST(LegacyTranslate, Frames) {
  const std::string payload = Recorded("v2/events/FinalitySignature.json");
  const std::string translated = ToLegacy(payload).payload;
  EXPECT_EQ(ToLegacyFrame("data:" + payload + "\nid:42\n\n"), "data:" + translated + "\nid:42\n\n");
  EXPECT_EQ(ToLegacyFrame("data:" + Recorded("v2/events/Step.json") + "\nid:7\n\n"), "");
  const std::string shutdown = "data:\"Shutdown\"\nid:9\n\n";
  EXPECT_EQ(ToLegacyFrame(shutdown), shutdown);
  EXPECT_EQ(ToLegacyFrame(":\n\n"), ":\n\n");
  EXPECT_EQ(ToLegacyFrame("data:{\"ApiVersion\":\"2.0.0\"}\n\n"), "data:{\"ApiVersion\":\"2.0.0\"}\n\n");
}

TEST(LegacyTranslate, MalformedInputNeverThrows) {
  for (const char* text : {"", "{", "[1,2", "{\"BlockAdded\":", "{\"BlockAdded\":{\"block\":{\"Version2\":1}}}",
                           "{\"TransactionProcessed\":{}}", "{\"FinalitySignature\":{\"V2\":{}}}", "\"Shutdown\"",
                           "{\"a\":1,\"b\":2}", "nul", "1e", "\"\\x\""}) {
    Translation t = ToLegacy(text);
    EXPECT_NE(t.outcome, Outcome::kTranslated) << text;
  }
  std::string deep(10000, '[');
  EXPECT_EQ(ToLegacy(deep).outcome, Outcome::kUnchanged);
}

}  // namespace
}  // namespace ces::legacy
