// Audit store, pure parts: filter keys of every recorded sample, Kafka record -> stored record, and the
// JSON -> BSON conversion of the queryable form (exact integers, FerretDB's nested-array rule).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "ces/audit/keys.hpp"
#include "ces/audit/record.hpp"
#include "ces/ingest/record.hpp"
#include "ces/mongo/json_bson.hpp"

namespace ces::audit {
namespace {

std::string Sample(const std::string& relative) {
  std::ifstream in(std::string(CES_RECORDINGS_DIR) + "/" + relative, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

struct KeysCase {
  const char* file;
  const char* type;
  const char* block_hash;
  std::optional<std::uint64_t> height;
  const char* transaction_hash;
  const char* public_key;
  const char* account;
};

std::optional<std::string> Opt(const char* s) { return s ? std::optional<std::string>(s) : std::nullopt; }

TEST(AuditKeys, EveryRecordedSample) {
  const KeysCase cases[] = {
      {"v1/events/BlockAdded.era_end.json", "BlockAdded", "153d7a0d0313033cf4636187c02f44d9c68de5c273fa075f8a0e479700a7f4ee",
       1239489, nullptr, "0106ca7c39cd272dbf21a86eeb3b36b7c26e2e9b94af64292419f7862936bca2ca", nullptr},
      {"v1/events/BlockAdded.json", "BlockAdded", "5a91486c973deea304e26138206723278d9d269f4fe03bfc9e5fdb93e927236e",
       1002230, nullptr, "017d96b9a63abcb61c870a4f55187a0a7ac24096bdb5fc585c12a686a4d892009e", nullptr},
      {"v1/events/DeployAccepted.json", "DeployAccepted", nullptr, std::nullopt,
       "5743fd31a1440353ab407617700bcf871b1dbde05f3d1e2cb9187ba4756a7d1d", nullptr,
       "01ff85d8d335d2e5e1a8ba3554b447e2a61853971fc2a5bf9f1302557ef5eb2d4f"},
      {"v1/events/DeployExpired.json", "DeployExpired", nullptr, std::nullopt,
       "7ecf22fc284526c6db16fb6455f489e0a9cbf782834131c010cf3078fb9be353", nullptr, nullptr},
      {"v1/events/DeployProcessed.failure.json", "DeployProcessed",
       "497405e6d478a1c1778b1d2cd1547437d41d5b36607221c3c3be05bcef757752", std::nullopt,
       "c7d0840f2275a18efcd716f425c06691f2ca1a0e6d7d7ecff49cab06c2428ee8", nullptr,
       "015c3b6de747e61d6cf9e2ea6593f68f34947277219c3cb5813e79634d300c0a4f"},
      {"v1/events/DeployProcessed.transfer.json", "DeployProcessed",
       "d99a71ad63708b0f0d5cd58add988e5d0fd192fa3830272631e4964d857d8a46", std::nullopt,
       "fe7a6df71130f67a57bce91b8e21fb9df5b9b90629c9d30d7c6a500f7c47cec5", nullptr,
       "018afa98ca4be12d613617f7339a2d576950a2f9a92102ca4d6508ee31b54d2c02"},
      {"v1/events/Fault.json", "Fault", nullptr, std::nullopt, nullptr,
       "012fa85eb06279da42e68530e1116be04bfd2aaa5ed8d63401ebff4d9153a609a9", nullptr},
      {"v1/events/FinalitySignature.json", "FinalitySignature",
       "d800de72aa40c6df064c714d3a6d8b6fab73f68742d8468b84efd6616bbb10bb", std::nullopt, nullptr,
       "01b71b2d746681b4e0f44ef137d72ee0d42122b08ef569dc65bb0395cb624f99e5", nullptr},
      {"v1/events/Step.json", "Step", nullptr, std::nullopt, nullptr, nullptr, nullptr},
      {"v2/events/BlockAdded.json", "BlockAdded", "13a5603c1dad7d4e4d2ce81313c35043172e1535363c3ec428f559dff5704ea5", 54,
       nullptr, "01509254f22690fbe7fb6134be574c4fbdb060dfa699964653b99753485e518ea6", nullptr},
      {"v2/events/BlockAdded.era_end.json", "BlockAdded",
       "22ea09946b4e651d997d5e84c139a1e31c21996d011f4834f28827acf76cc8d7", 3991, nullptr,
       "0169ecf91081889e013cf8c5bcd49679dd388eace2a532a1a32c381fc02c09a57b", nullptr},
      {"v2/events/Fault.json", "Fault", nullptr, std::nullopt, nullptr,
       "02034ce1acbceeb5eb2b20eeeef9965e3ca8e7a95655f2089342bcbb51319a0d70d1", nullptr},
      {"v2/events/FinalitySignature.json", "FinalitySignature",
       "e46d0c3b614685f21abc6af9b714f09aff8d041128cc1614bcfa126219ce9ec8", 3981, nullptr,
       "013b04e480554a5ab0ad31f4be55cce335736df867747ff393ac7f341fba58325a", nullptr},
      {"v2/events/TransactionAccepted.Deploy.json", "TransactionAccepted", nullptr, std::nullopt,
       "cb04018ad3a09fc15fda0e5c18def392a135652c73c864c25968be9b2376c139", nullptr,
       "010b42b381f087e65a1b6d4c9538027502307ebeff02044c9507f30ddffdb02ebd"},
      {"v2/events/TransactionAccepted.Version1.json", "TransactionAccepted", nullptr, std::nullopt,
       "446f9511258112c6e5150ee13d57c421da2bc30e0058db6165855a9d1ba4b868", nullptr,
       "0184f6d260f4ee6869ddb36affe15456de6ae045278fa2f467bb677561ce0dad55"},
      {"v2/events/TransactionExpired.json", "TransactionExpired", nullptr, std::nullopt,
       "f5582cb81a5abda63ebaa4edb3b05210ecbd63ffb8dd17bfbeb3b867f4014468", nullptr, nullptr},
      {"v2/events/TransactionProcessed.Deploy.json", "TransactionProcessed",
       "3ad051b1df071e4d539eab28986bb55ec4fb5fd31f63942ed788738186709303", std::nullopt,
       "cb04018ad3a09fc15fda0e5c18def392a135652c73c864c25968be9b2376c139", nullptr,
       "010b42b381f087e65a1b6d4c9538027502307ebeff02044c9507f30ddffdb02ebd"},
      {"v2/events/TransactionProcessed.Version1.json", "TransactionProcessed",
       "af8368436128df76e24fd1552544ebe4ddcf2301af4d42f1764e93fa2887557f", std::nullopt,
       "968fafb41be4d4fb1c4b3c3647bb4803de12bff05bbaa8d16d1ef3b18fc47ee1", nullptr,
       "0118ea8b6ed62393f8d36cb1a96b9ee62b48e35317bd2ea3ceb533a6f7ff212ad6"},
      {"v2/events/Step.json", "Step", nullptr, std::nullopt, nullptr, nullptr, nullptr},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    const std::string payload = Sample(c.file);
    ASSERT_FALSE(payload.empty());
    const mongo::FilterKeys keys = ExtractFilterKeys(c.type, payload);
    EXPECT_EQ(keys.block_hash, Opt(c.block_hash));
    EXPECT_EQ(keys.block_height, c.height);
    EXPECT_EQ(keys.transaction_hash, Opt(c.transaction_hash));
    EXPECT_EQ(keys.public_key, Opt(c.public_key));
    EXPECT_EQ(keys.account, Opt(c.account));
  }
}

TEST(AuditKeys, AccountHashInitiatorAndUpperCaseHex) {
  const std::string payload =
      R"({"TransactionProcessed":{"transaction_hash":{"Deploy":"ABCDEF0000000000000000000000000000000000000000000000000000000000"},)"
      R"("initiator_addr":{"AccountHash":"account-hash-00AA000000000000000000000000000000000000000000000000000000000000"},)"
      R"("block_hash":"1111111111111111111111111111111111111111111111111111111111111111"}})";
  const auto keys = ExtractFilterKeys("TransactionProcessed", payload);
  EXPECT_EQ(keys.transaction_hash, "abcdef0000000000000000000000000000000000000000000000000000000000");
  EXPECT_EQ(keys.account, "account-hash-00aa000000000000000000000000000000000000000000000000000000000000");
  EXPECT_EQ(keys.block_hash, "1111111111111111111111111111111111111111111111111111111111111111");
}

TEST(AuditKeys, MalformedPayloadsYieldNoKeys) {
  EXPECT_EQ(ExtractFilterKeys("BlockAdded", "not json"), mongo::FilterKeys{});
  EXPECT_EQ(ExtractFilterKeys("BlockAdded", R"({"BlockAdded":{"block":7}})"), mongo::FilterKeys{});
  EXPECT_EQ(ExtractFilterKeys("Shutdown", R"("Shutdown")"), mongo::FilterKeys{});
  EXPECT_EQ(ExtractFilterKeys("BlockAdded", R"({"BlockAdded":{"block_hash":12}})"), mongo::FilterKeys{});
}

kafka::Message Record(std::string value, std::vector<kafka::Header> headers) {
  kafka::Message m;
  m.topic = "p-main";
  m.partition = 2;
  m.offset = 41;
  m.timestamp_ms = 1718184385000;
  m.key = "http://n:9999 events";
  m.value = std::move(value);
  m.headers = std::move(headers);
  return m;
}

TEST(AuditRecord, RebuiltEventsKeepTheirOriginAndAreNamedByTypeBlockAndSubject) {
  ingest::EventMeta meta{"http://n:9999", "events", std::nullopt, "2.0.0", "FinalitySignature", "2024-06-12T09:26:25.460Z"};
  auto headers = ingest::RecordHeaders(meta);
  headers.push_back({"origin", "rpc"});
  headers.push_back({"rpc-method", "chain_get_block"});
  headers.push_back({"subject", "aa bb"});
  const BuiltRecord built = BuildRecord(Record(R"({"FinalitySignature":{}})", headers));
  EXPECT_TRUE(built.problem.empty()) << built.problem;
  EXPECT_EQ(built.record.origin, "rpc");
  EXPECT_EQ(built.record.id, "http://n:9999 events rpc FinalitySignature aa bb");
  // Without its subject a rebuilt event falls back to its Kafka position, reported.
  headers.pop_back();
  const BuiltRecord bare = BuildRecord(Record(R"({"FinalitySignature":{}})", headers));
  EXPECT_FALSE(bare.problem.empty());
  EXPECT_EQ(bare.record.id, "http://n:9999 events @p-main/2/41");
}

TEST(AuditRecord, BuildsIdentityMetadataAndDigest) {
  const std::string payload = Sample("v2/events/BlockAdded.json");
  ingest::EventMeta meta{"http://n:9999", "events", 17u, "2.0.0", "BlockAdded", "2024-06-12T09:26:25.460Z"};
  const BuiltRecord built = BuildRecord(Record(payload, ingest::RecordHeaders(meta)));
  EXPECT_TRUE(built.problem.empty()) << built.problem;
  const auto& r = built.record;
  EXPECT_EQ(r.id, "http://n:9999 events 17");
  EXPECT_EQ(r.source, "http://n:9999");
  EXPECT_EQ(r.stream, "events");
  EXPECT_EQ(r.event_id, 17u);
  EXPECT_EQ(r.type, "BlockAdded");
  EXPECT_EQ(r.api_version, "2.0.0");
  EXPECT_EQ(r.received_at, "2024-06-12T09:26:25.460Z");
  EXPECT_EQ(r.received_ms, 1718184385460);
  EXPECT_EQ(r.topic, "p-main");
  EXPECT_EQ(r.partition, 2);
  EXPECT_EQ(r.offset, 41);
  EXPECT_EQ(r.payload, payload);
  EXPECT_EQ(r.size, static_cast<std::int64_t>(payload.size()));
  EXPECT_EQ(r.sha256, Sha256Hex(payload));
  EXPECT_EQ(r.keys.block_height, 54u);
  EXPECT_FALSE(r.payload_in_gridfs);
}

TEST(AuditRecord, ApiVersionIsIdentifiedByItsKafkaPosition) {
  ingest::EventMeta meta{"http://n:9999", "events", std::nullopt, "2.0.0", "ApiVersion", "2024-06-12T09:26:25.460Z"};
  const BuiltRecord built = BuildRecord(Record(R"({"ApiVersion":"2.0.0"})", ingest::RecordHeaders(meta)));
  EXPECT_TRUE(built.problem.empty());
  EXPECT_EQ(built.record.id, "http://n:9999 events @p-main/2/41");
  EXPECT_FALSE(built.record.event_id.has_value());
}

TEST(AuditRecord, MissingHeadersFallBackAndAreReported) {
  const BuiltRecord built = BuildRecord(Record(R"({"BlockAdded":{}})", {}));
  EXPECT_FALSE(built.problem.empty());
  EXPECT_EQ(built.record.source, "http://n:9999");  // from the record key
  EXPECT_EQ(built.record.stream, "events");
  EXPECT_EQ(built.record.type, "unknown");
  EXPECT_EQ(built.record.id, "http://n:9999 events @p-main/2/41");
  EXPECT_EQ(built.record.received_ms, 1718184385000);  // the Kafka timestamp
  EXPECT_EQ(built.record.received_at, "2024-06-12T09:26:25.000Z");
}

TEST(AuditRecord, Sha256MatchesAKnownDigest) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(AuditRecord, RouteOfTopic) {
  EXPECT_EQ(RouteOfTopic("prod.main", "prod."), "main");
  EXPECT_EQ(RouteOfTopic("sigs", ""), "sigs");
  EXPECT_EQ(RouteOfTopic("other.sigs", "prod."), "other.sigs");
}

std::string Json(const std::string& json, mongo::NestedArrays nested = mongo::NestedArrays::kKeep) {
  mongo::JsonToBsonOptions options;
  options.nested_arrays = nested;
  auto converted = mongo::ConvertJson(json, options);
  EXPECT_TRUE(converted.ok) << converted.error;
  return mongo::BsonToJson(converted.bson);
}

TEST(AuditJsonToBson, IntegersKeepEveryDigit) {
  // 2^53 + 1 is not a double; u64 max is not an int64: neither may lose precision.
  EXPECT_EQ(Json(R"({"a":9007199254740993,"b":18446744073709551615,"c":-9223372036854775808,"d":1.5,"e":1e3})"),
            R"({ "data" : { "a" : 9007199254740993, "b" : "18446744073709551615", "c" : -9223372036854775808, )"
            R"("d" : 1.5, "e" : 1000.0 } })");
  // The fixture value from the recordings (> 2^53).
  EXPECT_EQ(Json(R"({"Fault":{"era_id":4591448806312642506}})"), R"({ "data" : { "Fault" : { "era_id" : 4591448806312642506 } } })");
}

TEST(AuditJsonToBson, ScalarsStringsAndTheShutdownString) {
  EXPECT_EQ(Json(R"("Shutdown")"), R"({ "data" : "Shutdown" })");
  EXPECT_EQ(Json(R"({"t":true,"f":false,"n":null,"s":"x\"y\u00e9"})"),
            "{ \"data\" : { \"t\" : true, \"f\" : false, \"n\" : null, \"s\" : \"x\\\"y\xc3\xa9\" } }");
}

TEST(AuditJsonToBson, NestedArraysForFerretDb) {
  const std::string json = R"({"args":[["amount",{"parsed":"1"}],["id",[1,[2]]]]})";
  EXPECT_EQ(Json(json), R"({ "data" : { "args" : [ [ "amount", { "parsed" : "1" } ], [ "id", [ 1, [ 2 ] ] ] ] } })");
  EXPECT_EQ(Json(json, mongo::NestedArrays::kAsDocuments),
            R"({ "data" : { "args" : [ { "0" : "amount", "1" : { "parsed" : "1" } }, )"
            R"({ "0" : "id", "1" : [ 1, { "0" : 2 } ] } ] } })");
}

TEST(AuditJsonToBson, RefusesKeysTheServerCannotStore) {
  for (const char* bad : {R"({"$where":1})", R"({"a.b":1})", R"({"a":1,"a":2})", "{\"a\\u0000b\":1}", "[1,", "nope"}) {
    SCOPED_TRACE(bad);
    auto converted = mongo::ConvertJson(bad);
    EXPECT_FALSE(converted.ok);
    EXPECT_FALSE(converted.error.empty());
  }
  mongo::JsonToBsonOptions shallow;
  shallow.max_depth = 3;
  EXPECT_FALSE(mongo::ConvertJson(R"({"a":{"b":{"c":{"d":1}}}})", shallow).ok);
  EXPECT_TRUE(mongo::ConvertJson(R"({"a":{"b":{"c":1}}})", shallow).ok);
}

TEST(AuditJsonToBson, EveryRecordedSampleConverts) {
  for (const char* file :
       {"v1/events/BlockAdded.era_end.json", "v1/events/DeployAccepted.json", "v1/events/DeployProcessed.withdraw_bid.json",
        "v1/events/Step.json", "v2/events/BlockAdded.era_end.json", "v2/events/TransactionAccepted.Version1.json",
        "v2/events/TransactionProcessed.Version1.json", "v2/events/Step.json", "v1/events/Shutdown.json"}) {
    SCOPED_TRACE(file);
    for (auto nested : {mongo::NestedArrays::kKeep, mongo::NestedArrays::kAsDocuments}) {
      mongo::JsonToBsonOptions options;
      options.nested_arrays = nested;
      auto converted = mongo::ConvertJson(Sample(file), options);
      EXPECT_TRUE(converted.ok) << converted.error;
    }
  }
}

TEST(AuditJsonToBson, ValidJsonCheck) {
  EXPECT_TRUE(IsValidJson(R"({"a":[1,2]})"));
  EXPECT_TRUE(IsValidJson(R"("Shutdown")"));
  EXPECT_FALSE(IsValidJson(R"({"a":)"));
  EXPECT_FALSE(IsValidJson(""));
}

}  // namespace
}  // namespace ces::audit
