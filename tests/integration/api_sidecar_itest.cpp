// The sidecar-compatible lookups of `api` (docs/api-sidecar.md) over a store filled by the real
// pipeline: emit (recordings of both protocols) -> produce -> Kafka -> audit-consume (FerretDB/MongoDB)
// and store-consume (PostgreSQL); and the event identity columns store-consume fills (migration 2).
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <iostream>
#include <set>

#include "ces/api/sidecar_api.hpp"
#include "ces/common/metrics.hpp"
#include "ces/common/version.hpp"
#include "ces/http/async_server.hpp"
#include "ces/mongo/audit_store.hpp"
#include "store_itest_support.hpp"

namespace ces::test {
namespace {

using api::SidecarApi;
using api::SidecarApiOptions;
using api::SidecarReply;

// MONGO_URI with the database replaced.
Service StartAuditConsume(const std::string& dir, const std::string& prefix, const std::string& database) {
  Service s;
  s.port = FreePort();
  std::vector<std::string> args = {"audit-consume", "--kafka", RequireEnv("KAFKA_BOOTSTRAP"), "--topic-prefix", prefix,
                                   "--mongo", MongoDatabaseUri(database), "--listen", "127.0.0.1:" + std::to_string(s.port),
                                   "--group", prefix + "audit", "--backoff-initial", "0.2", "--backoff-max", "2"};
  s.process = std::make_unique<Process>(args, dir + "/audit-consume.log");
  return s;
}

// A recording's events by id, and the ApiVersion it announces.
struct Recording {
  std::map<std::uint32_t, std::string> events;
  std::string api_version;
};

Recording Read(const std::string& path) {
  Recording r;
  for (const auto& e : ReadRecording(path)) {
    if (e.id) {
      r.events[*e.id] = e.data;
    } else if (e.data.rfind("{\"ApiVersion\":\"", 0) == 0) {
      r.api_version = e.data.substr(15, e.data.size() - 17);
    }
  }
  return r;
}

// The body under the event-type key of a one-line recorded event, as the node sent it.
std::string Body(const std::string& data, const std::string& type) {
  const std::string head = "{\"" + type + "\":";
  EXPECT_EQ(data.rfind(head, 0), 0u) << data.substr(0, 100);
  return data.substr(head.size(), data.size() - head.size() - 1);
}

std::string Envelope(const std::string& api_version, const std::string& body) {
  return "{\"header\":{\"api_version\":\"" + api_version + "\",\"network_name\":\"casper-test\"},\"payload\":" + body +
         "}";
}

std::size_t Occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

constexpr const char* kNoResults = "{\"code\":404,\"message\":\"Query returned no results\"}";
constexpr const char* kInvalidPath = "{\"code\":400,\"message\":\"Invalid request path provided\"}";

// The value of the first "chain_name" in a JSON text.
std::string ChainName(const std::string& body) {
  const std::string key = "\"chain_name\":\"";
  const auto at = body.find(key);
  if (at == std::string::npos) return "";
  return body.substr(at + key.size(), body.find('"', at + key.size()) - at - key.size());
}

// The sidecar's payload of an accepted transaction: {"transaction":{"Deploy"|"Version1":…}} (a 1.x
// node's DeployAccepted body is the Deploy).
std::string Accepted(const std::string& body, bool one_x) {
  return one_x ? "{\"transaction\":{\"Deploy\":" + body + "}}" : "{\"transaction\":" + body + "}";
}

class SidecarApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(TempDir());
    prefix_ = new std::string(UniquePrefix());
    const std::string v1 = RecordingsDir() + "/v1/";
    v2_ = new Recording(Read(RecordingsDir() + "/v2/events.stream"));
    v1_ = new Recording;
    for (const char* f : {"main.stream", "deploys.stream", "sigs.stream"}) {
      Recording r = Read(v1 + f);
      v1_->events.insert(r.events.begin(), r.events.end());
      v1_->api_version = r.api_version;
    }
    pipeline_ = new RecordingsPipeline(StartRecordingsPipeline(*dir_, *prefix_));
    ASSERT_FALSE(HasFailure());
    pg_uri_ = new std::string(CreateDatabase("sidecar"));
    std::string mongo_db = "sidecar_" + *prefix_;
    while (mongo_db.back() == '-') mongo_db.pop_back();
    audit_ = new Service(StartAuditConsume(*dir_, *prefix_, mongo_db));
    store_ = new Service(StartStore(*dir_, "store", *prefix_, *pg_uri_));
    postgres::Connection db(*pg_uri_);
    const auto ends = EndOffsets(*prefix_);
    ASSERT_TRUE(WaitUntil([&] { return CaughtUp(db, "store-consumer", ends); }, seconds(60))) << store_->process->Log();

    mongo::StoreOptions options;
    options.uri = MongoDatabaseUri(mongo_db);
    mongo_uri_ = new std::string(options.uri);
    audit_store_ = new mongo::AuditStore(options);
    registry_ = new metrics::Registry;
    SidecarApiOptions api_options;
    api_options.network_name = "casper-test";
    api_ = new SidecarApi(api_options, *pg_uri_, *audit_store_, *registry_);
    api_->Start();
    // The audit store has everything once the last events of each endpoint are served.
    ASSERT_TRUE(WaitUntil(
        [&] {
          return api_->Block("153d7a0d0313033cf4636187c02f44d9c68de5c273fa075f8a0e479700a7f4ee").status == 200 &&
                 api_->Faults("769794").status == 200 &&
                 api_->Signatures("d800de72aa40c6df064c714d3a6d8b6fab73f68742d8468b84efd6616bbb10bb").status == 200 &&
                 api_->TransactionEvent("accepted", "deploy",
                                        "9c714ba61b0aa917564d7c95c0871c451001ac033d7e569bce07b68752f886ed")
                         .status == 200;
        },
        seconds(60)))
        << audit_->process->Log();
  }

  static void TearDownTestSuite() {
    if (api_) api_->Stop();
    delete api_;
    delete audit_store_;
    delete registry_;
    for (Service* s : {store_, audit_}) delete s;
    delete pipeline_;
  }

  static inline std::string* dir_ = nullptr;
  static inline std::string* prefix_ = nullptr;
  static inline std::string* pg_uri_ = nullptr;
  static inline std::string* mongo_uri_ = nullptr;
  static inline Recording* v1_ = nullptr;
  static inline Recording* v2_ = nullptr;
  static inline RecordingsPipeline* pipeline_ = nullptr;  // emit v2, emit v1, produce
  static inline Service* audit_ = nullptr;
  static inline Service* store_ = nullptr;
  static inline mongo::AuditStore* audit_store_ = nullptr;
  static inline metrics::Registry* registry_ = nullptr;
  static inline SidecarApi* api_ = nullptr;
};

TEST_F(SidecarApiTest, BlockByHashIsTheNodesBodyByteForByte) {
  SidecarReply r = api_->Block("22ea09946b4e651d997d5e84c139a1e31c21996d011f4834f28827acf76cc8d7");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, Envelope("2.0.0", Body(v2_->events.at(7), "BlockAdded")));
  // Upper-case hex is the same block.
  EXPECT_EQ(api_->Block("22EA09946B4E651D997D5E84C139A1E31C21996D011F4834F28827ACF76CC8D7").body, r.body);
  // 1.x: the header carries the 1.x connection's api version.
  r = api_->Block("5a91486c973deea304e26138206723278d9d269f4fe03bfc9e5fdb93e927236e");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, Envelope(v1_->api_version, Body(v1_->events.at(0), "BlockAdded")));
}

TEST_F(SidecarApiTest, BlockByHeightAndLatest) {
  SidecarReply r = api_->Block("3991");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, Envelope("2.0.0", Body(v2_->events.at(7), "BlockAdded")));
  r = api_->LatestBlock();  // the greatest height of both recordings: 1.x block 1239489
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, Envelope(v1_->api_version, Body(v1_->events.at(29), "BlockAdded")));
}

TEST_F(SidecarApiTest, DeployAggregateOf1x) {
  // Accepted only.
  SidecarReply r = api_->Transaction("deploy", "9c714ba61b0aa917564d7c95c0871c451001ac033d7e569bce07b68752f886ed");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{\"transaction_hash\":\"9c714ba61b0aa917564d7c95c0871c451001ac033d7e569bce07b68752f886ed\","
                    "\"transaction_accepted\":" +
                        Envelope(v1_->api_version, Accepted(Body(v1_->events.at(19), "DeployAccepted"), true)) +
                        ",\"transaction_processed\":null,\"transaction_expired\":false}");
  // Processed without an Accepted event: what is known (the sidecar would answer 404).
  r = api_->Transaction("deploy", "c7d0840f2275a18efcd716f425c06691f2ca1a0e6d7d7ecff49cab06c2428ee8");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{\"transaction_hash\":\"c7d0840f2275a18efcd716f425c06691f2ca1a0e6d7d7ecff49cab06c2428ee8\","
                    "\"transaction_accepted\":null,\"transaction_processed\":" +
                        Envelope(v1_->api_version, Body(v1_->events.at(1), "DeployProcessed")) +
                        ",\"transaction_expired\":false}");
  // Expired.
  r = api_->Transaction("deploy", "7ecf22fc284526c6db16fb6455f489e0a9cbf782834131c010cf3078fb9be353");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"transaction_expired\":true}"), std::string::npos) << r.body;
  r = api_->TransactionEvent("expired", "deploy", "7ecf22fc284526c6db16fb6455f489e0a9cbf782834131c010cf3078fb9be353");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, Envelope(v1_->api_version, Body(v1_->events.at(26), "DeployExpired")));
  // The single events.
  r = api_->TransactionEvent("accepted", "deploy", "9c714ba61b0aa917564d7c95c0871c451001ac033d7e569bce07b68752f886ed");
  EXPECT_EQ(r.body, Envelope(v1_->api_version, Accepted(Body(v1_->events.at(19), "DeployAccepted"), true)));
  r = api_->TransactionEvent("processed", "deploy", "c7d0840f2275a18efcd716f425c06691f2ca1a0e6d7d7ecff49cab06c2428ee8");
  EXPECT_EQ(r.body, Envelope(v1_->api_version, Body(v1_->events.at(1), "DeployProcessed")));
  r = api_->TransactionEvent("processed", "deploy", "9c714ba61b0aa917564d7c95c0871c451001ac033d7e569bce07b68752f886ed");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, kNoResults);
}

TEST_F(SidecarApiTest, Version1And2xDeployAggregates) {
  SidecarReply r = api_->Transaction("version1", "446f9511258112c6e5150ee13d57c421da2bc30e0058db6165855a9d1ba4b868");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{\"transaction_hash\":\"446f9511258112c6e5150ee13d57c421da2bc30e0058db6165855a9d1ba4b868\","
                    "\"transaction_accepted\":" +
                        Envelope("2.0.0", Accepted(Body(v2_->events.at(8), "TransactionAccepted"), false)) +
                        ",\"transaction_processed\":null,\"transaction_expired\":false}");
  r = api_->Transaction("version1", "968fafb41be4d4fb1c4b3c3647bb4803de12bff05bbaa8d16d1ef3b18fc47ee1");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{\"transaction_hash\":\"968fafb41be4d4fb1c4b3c3647bb4803de12bff05bbaa8d16d1ef3b18fc47ee1\","
                    "\"transaction_accepted\":null,\"transaction_processed\":" +
                        Envelope("2.0.0", Body(v2_->events.at(12), "TransactionProcessed")) +
                        ",\"transaction_expired\":false}");
  // A 2.x legacy deploy: accepted and processed.
  r = api_->Transaction("deploy", "cb04018ad3a09fc15fda0e5c18def392a135652c73c864c25968be9b2376c139");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{\"transaction_hash\":\"cb04018ad3a09fc15fda0e5c18def392a135652c73c864c25968be9b2376c139\","
                    "\"transaction_accepted\":" +
                        Envelope("2.0.0", Accepted(Body(v2_->events.at(9), "TransactionAccepted"), false)) +
                        ",\"transaction_processed\":" +
                        Envelope("2.0.0", Body(v2_->events.at(11), "TransactionProcessed")) +
                        ",\"transaction_expired\":false}");
  r = api_->TransactionEvent("expired", "version1", "f5582cb81a5abda63ebaa4edb3b05210ecbd63ffb8dd17bfbeb3b867f4014468");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, Envelope("2.0.0", Body(v2_->events.at(15), "TransactionExpired")));
  // The type must match the transaction's kind.
  r = api_->Transaction("deploy", "446f9511258112c6e5150ee13d57c421da2bc30e0058db6165855a9d1ba4b868");
  EXPECT_EQ(r.status, 404) << r.body;
}

TEST_F(SidecarApiTest, FaultsByEraAndKey) {
  const std::string fault = Envelope("2.0.0", Body(v2_->events.at(16), "Fault"));
  SidecarReply r = api_->Faults("769794");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "[" + fault + "]");
  r = api_->Faults("02034ce1acbceeb5eb2b20eeeef9965e3ca8e7a95655f2089342bcbb51319a0d70d1");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "[" + fault + "]");
  r = api_->Faults("012fa85eb06279da42e68530e1116be04bfd2aaa5ed8d63401ebff4d9153a609a9");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "[" + Envelope(v1_->api_version, Body(v1_->events.at(27), "Fault")) + "]");
  EXPECT_EQ(api_->Faults("12345").body, kNoResults);
}

TEST_F(SidecarApiTest, SignaturesOfABlock) {
  SidecarReply r = api_->Signatures("e46d0c3b614685f21abc6af9b714f09aff8d041128cc1614bcfa126219ce9ec8");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Occurrences(r.body, "{\"header\":"), 5u) << r.body;
  for (std::uint32_t id = 0; id < 5; ++id) {
    EXPECT_NE(r.body.find(Envelope("2.0.0", Body(v2_->events.at(id), "FinalitySignature"))), std::string::npos) << id;
  }
  r = api_->Signatures("80b02a31a76554ea9f9f29d5fe8eba125e17a942a6e438d880a29d8b0d95e038");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Occurrences(r.body, "{\"header\":"), 5u) << r.body;
  EXPECT_NE(r.body.find(Envelope(v1_->api_version, Body(v1_->events.at(22), "FinalitySignature"))), std::string::npos);
}

TEST_F(SidecarApiTest, StepByEra) {
  SidecarReply r = api_->Step("363");
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 200);
  // The sidecar keeps a Step's effects under the 1.x key, execution_effect.
  std::string step = Body(v2_->events.at(6), "Step");
  const auto key = step.find("\"execution_effects\":");
  ASSERT_EQ(key, std::string("{\"era_id\":363,").size());
  step.replace(key, 20, "\"execution_effect\":");
  EXPECT_EQ(r.body, Envelope("2.0.0", step));
  r = api_->Step("1");
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 200);
  EXPECT_EQ(r.body, Envelope(v1_->api_version, Body(v1_->events.at(28), "Step")));
}

TEST_F(SidecarApiTest, ErrorsAsTheSidecarGivesThem) {
  auto bad = [](const SidecarReply& r) {
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.body, kInvalidPath);
  };
  bad(api_->Block("22ea09946b4e651d997d5e84c139a1e31c21996d011f4834f28827acf76cc8d"));   // 63 hex
  bad(api_->Block("-1"));
  bad(api_->Block("xyz"));
  bad(api_->Transaction("deploy", "abc"));
  bad(api_->Transaction("version2", "446f9511258112c6e5150ee13d57c421da2bc30e0058db6165855a9d1ba4b868"));
  bad(api_->TransactionEvent("accepted", "deploy", "zz"));
  bad(api_->Faults("02034ce1"));
  bad(api_->Faults("012fa85eb06279da42e68530e1116be04bfd2aaa5ed8d63401ebff4d9153a609a"));  // 65 hex
  bad(api_->Signatures("e46d"));
  bad(api_->Step("era"));
  bad(api_->Deploy("abc"));
  bad(api_->DeployEvent("processed", "zz"));
  EXPECT_EQ(api_->Block("1").body, kNoResults);
  EXPECT_EQ(api_->Block("0000000000000000000000000000000000000000000000000000000000000000").body, kNoResults);
  EXPECT_EQ(api_->Block("18446744073709551615").body, kNoResults);
  EXPECT_EQ(api_->Transaction("version1", std::string(64, 'a')).body, kNoResults);
  EXPECT_EQ(api_->Signatures(std::string(64, 'b')).body, kNoResults);
  EXPECT_EQ(api_->Step("999").body, kNoResults);
  std::string reason;
  EXPECT_TRUE(api_->Ready(reason)) << reason;
}

TEST_F(SidecarApiTest, TransactionTypeIsCaseInsensitive) {
  const std::string hash = "cb04018ad3a09fc15fda0e5c18def392a135652c73c864c25968be9b2376c139";
  const SidecarReply lower = api_->Transaction("deploy", hash);
  ASSERT_EQ(lower.status, 200) << lower.body;
  for (const char* type : {"Deploy", "DEPLOY", "dEpLoY"}) {
    EXPECT_EQ(api_->Transaction(type, hash).body, lower.body) << type;
    EXPECT_EQ(api_->TransactionEvent("accepted", type, hash).status, 200) << type;
  }
  EXPECT_EQ(api_->Transaction("Version1", "446f9511258112c6e5150ee13d57c421da2bc30e0058db6165855a9d1ba4b868").status, 200);
}

TEST_F(SidecarApiTest, OneXSidecarDeployRoutesGiveRawOneXBodies) {
  // A 1.x node's deploy: its bodies as stored; a DeployAccepted as {"deploy":…} (the 1.x sidecar's struct).
  const std::string accepted_1x = "{\"deploy\":" + Body(v1_->events.at(19), "DeployAccepted") + "}";
  SidecarReply r = api_->DeployEvent("accepted", "9c714ba61b0aa917564d7c95c0871c451001ac033d7e569bce07b68752f886ed");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, accepted_1x);
  r = api_->DeployEvent("processed", "c7d0840f2275a18efcd716f425c06691f2ca1a0e6d7d7ecff49cab06c2428ee8");
  EXPECT_EQ(r.body, Body(v1_->events.at(1), "DeployProcessed"));
  r = api_->DeployEvent("expired", "7ecf22fc284526c6db16fb6455f489e0a9cbf782834131c010cf3078fb9be353");
  EXPECT_EQ(r.body, Body(v1_->events.at(26), "DeployExpired"));
  r = api_->Deploy("9c714ba61b0aa917564d7c95c0871c451001ac033d7e569bce07b68752f886ed");
  EXPECT_EQ(r.body, "{\"deploy_hash\":\"9c714ba61b0aa917564d7c95c0871c451001ac033d7e569bce07b68752f886ed\","
                    "\"deploy_accepted\":" + accepted_1x + ",\"deploy_processed\":null,\"deploy_expired\":false}");
  // A 2.x node's Deploy: the 1.x form of its events (ces::legacy).
  const std::string hash = "cb04018ad3a09fc15fda0e5c18def392a135652c73c864c25968be9b2376c139";
  const std::string accepted_2x = "{\"deploy\":" + Body(v2_->events.at(9), "TransactionAccepted").substr(10);
  ASSERT_EQ(accepted_2x.back(), '}');
  r = api_->DeployEvent("accepted", hash);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, accepted_2x);  // {"Deploy":d} -> {"deploy":d}
  r = api_->DeployEvent("processed", hash);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body.rfind("{\"deploy_hash\":\"" + hash + "\",\"account\":", 0), 0u) << r.body;
  EXPECT_NE(r.body.find("\"dependencies\":[]"), std::string::npos) << r.body;
  r = api_->Deploy(hash);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"deploy_accepted\":" + accepted_2x + ",\"deploy_processed\":{\"deploy_hash\""),
            std::string::npos)
      << r.body;
  // A Version1 transaction is not a deploy.
  EXPECT_EQ(api_->Deploy("446f9511258112c6e5150ee13d57c421da2bc30e0058db6165855a9d1ba4b868").body, kNoResults);
  EXPECT_EQ(SidecarApi::Status().body, "{\"version\":\"" + std::string(common::kVersion) + "\"}");
}

TEST_F(SidecarApiTest, NetworkNameIsTheChainNameOfEachNode) {
  // Without --network-name: each node's chainspec name, as the chain_name of the transactions it accepted.
  mongo::StoreOptions options;
  options.uri = *mongo_uri_;
  mongo::AuditStore store(options);
  metrics::Registry registry;
  SidecarApi learned(SidecarApiOptions{}, *pg_uri_, store, registry);
  learned.Start();
  const std::string v2_name = ChainName(Body(v2_->events.at(9), "TransactionAccepted"));
  const std::string v1_name = ChainName(Body(v1_->events.at(19), "DeployAccepted"));
  ASSERT_FALSE(v2_name.empty());
  ASSERT_FALSE(v1_name.empty());
  ASSERT_NE(v2_name, v1_name);  // the recordings come from two networks
  SidecarReply r = learned.Block("3991");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body.rfind("{\"header\":{\"api_version\":\"2.0.0\",\"network_name\":\"" + v2_name + "\"}", 0), 0u)
      << r.body.substr(0, 200);
  r = learned.Step("1");
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 200);
  EXPECT_NE(r.body.find("\"network_name\":\"" + v1_name + "\""), std::string::npos) << r.body.substr(0, 200);
  learned.Stop();
}

TEST_F(SidecarApiTest, RowsKnowTheirEvent) {
  postgres::Connection db(*pg_uri_);
  EXPECT_EQ(Scalar(db, "SELECT event_source || ' ' || event_stream || ' ' || event_id || ' ' || event_api_version "
                       "FROM blocks WHERE height = 3991"),
            pipeline_->emit2.url() + " events 7 2.0.0");
  EXPECT_EQ(Scalar(db, "SELECT accepted_stream || ' ' || accepted_event_id || ' ' || processed_stream || ' ' || "
                       "processed_event_id FROM transactions WHERE transaction_hash = "
                       "'cb04018ad3a09fc15fda0e5c18def392a135652c73c864c25968be9b2376c139'"),
            "events 9 events 11");
  EXPECT_EQ(Scalar(db, "SELECT accepted_stream || ' ' || accepted_event_id FROM transactions WHERE transaction_hash = "
                       "'9c714ba61b0aa917564d7c95c0871c451001ac033d7e569bce07b68752f886ed'"),
            "deploys 19");
  EXPECT_EQ(Scalar(db, "SELECT expired_stream || ' ' || expired_event_id FROM transactions WHERE transaction_hash = "
                       "'7ecf22fc284526c6db16fb6455f489e0a9cbf782834131c010cf3078fb9be353'"),
            "main 26");
  EXPECT_EQ(Scalar(db, "SELECT event_stream || ' ' || event_id FROM finality_signatures WHERE block_hash = "
                       "'d800de72aa40c6df064c714d3a6d8b6fab73f68742d8468b84efd6616bbb10bb'"),
            "sigs 25");
  EXPECT_EQ(Scalar(db, "SELECT event_stream || ' ' || event_id FROM steps WHERE era_id = 1"), "main 28");
  EXPECT_EQ(Scalar(db, "SELECT event_stream || ' ' || event_id FROM faults WHERE era_id = 769794"), "events 16");
  for (const char* table : {"blocks", "faults", "finality_signatures", "steps"}) {
    EXPECT_EQ(Count(db, table, "event_id IS NULL OR event_source IS NULL OR event_api_version IS NULL"), 0) << table;
  }
}

// The same answers over HTTP through the API's server, with the routes' path parameters.
TEST_F(SidecarApiTest, RoutesOnTheAsyncServer) {
  http::AsyncServerOptions options;
  options.port = 0;
  options.gzip = false;
  http::AsyncServer server(options);
  api_->Register(server);
  server.Start();
  const std::string base = "http://127.0.0.1:" + std::to_string(server.Port());
  auto expect = [&](const std::string& path, const SidecarReply& direct) {
    auto [status, body] = HttpGet(base + path);
    EXPECT_EQ(status, direct.status) << path;
    EXPECT_EQ(body, direct.body) << path;
  };
  const std::string block = "22ea09946b4e651d997d5e84c139a1e31c21996d011f4834f28827acf76cc8d7";
  const std::string deploy = "cb04018ad3a09fc15fda0e5c18def392a135652c73c864c25968be9b2376c139";
  auto [status, body] = HttpGet(base + "/block/" + block);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(body, Envelope("2.0.0", Body(v2_->events.at(7), "BlockAdded")));
  EXPECT_EQ(api_->Block(block).headers,
            (http::Headers{{"ETag", "\"sidecar-" + block + "\""}, {"Cache-Control", "public, max-age=31536000, immutable"}}));
  expect("/block", api_->LatestBlock());
  expect("/block/3991", api_->Block("3991"));
  expect("/block/xyz", api_->Block("xyz"));
  expect("/transaction/deploy/" + deploy, api_->Transaction("deploy", deploy));
  expect("/transaction/accepted/deploy/" + deploy, api_->TransactionEvent("accepted", "deploy", deploy));
  expect("/transaction/processed/deploy/" + deploy, api_->TransactionEvent("processed", "deploy", deploy));
  expect("/transaction/expired/deploy/" + deploy, api_->TransactionEvent("expired", "deploy", deploy));
  expect("/transaction/version2/" + deploy, api_->Transaction("version2", deploy));
  expect("/faults/769794", api_->Faults("769794"));
  expect("/signatures/e46d0c3b614685f21abc6af9b714f09aff8d041128cc1614bcfa126219ce9ec8",
         api_->Signatures("e46d0c3b614685f21abc6af9b714f09aff8d041128cc1614bcfa126219ce9ec8"));
  expect("/step/363", api_->Step("363"));
  expect("/step/999", api_->Step("999"));
  server.Stop();
}

// Figures for docs (not a benchmark: one thread, the local stack's FerretDB).
TEST_F(SidecarApiTest, LookupLatency) {
  SidecarApiOptions uncached_options;
  uncached_options.body_cache_bytes = 0;
  metrics::Registry registry;
  SidecarApi uncached(uncached_options, *pg_uri_, *audit_store_, registry);
  uncached.Start();
  auto time = [](const std::string& what, const std::function<SidecarReply()>& call) {
    constexpr int kRuns = 200;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kRuns; ++i) {
      const int status = call().status;
      ASSERT_TRUE(status == 200 || status == 404) << what;
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / kRuns;
    std::cout << "[ figure   ] " << what << ": " << ms << " ms per lookup\n";
  };
  time("postgres only (an era without faults, 404)", [] { return api_->Faults("12345"); });
  time("block by hash", [] { return api_->Block("22ea09946b4e651d997d5e84c139a1e31c21996d011f4834f28827acf76cc8d7"); });
  time("latest block", [] { return api_->LatestBlock(); });
  time("transaction aggregate",
       [] { return api_->Transaction("deploy", "cb04018ad3a09fc15fda0e5c18def392a135652c73c864c25968be9b2376c139"); });
  time("5 signatures", [] { return api_->Signatures("e46d0c3b614685f21abc6af9b714f09aff8d041128cc1614bcfa126219ce9ec8"); });
  time("uncached block by hash (audit store read)", [&] {
    return uncached.Block("22ea09946b4e651d997d5e84c139a1e31c21996d011f4834f28827acf76cc8d7");
  });
  time("uncached 5 signatures (one walk)", [&] {
    return uncached.Signatures("e46d0c3b614685f21abc6af9b714f09aff8d041128cc1614bcfa126219ce9ec8");
  });
  uncached.Stop();
}

// Two nodes with the same events: the rows keep the identity of the copy stored first.
TEST(SidecarIdentity, FirstWriterWinsWithTwoNodes) {
  const std::string dir = TempDir();
  const std::string prefix = UniquePrefix();
  const std::string file = RecordingsDir() + "/v2/events.stream";
  Service a = StartEmit(dir, "emit-a", {"--stream", file});
  Service b = StartEmit(dir, "emit-b", {"--stream", file});
  const std::string uri = CreateDatabase("identity");
  postgres::Connection db(uri);

  // Node a alone first.
  Service produce_a = StartProduce(dir, prefix, {a.url()});
  ASSERT_TRUE(WaitUntil([&] { return Metric(produce_a.url(), "ces_produce_events_total") >= 19; }, seconds(60)))
      << produce_a.process->Log();
  StopGracefully(produce_a);
  Service store = StartStore(dir, "store", prefix, uri);
  auto ends = EndOffsets(prefix);
  ASSERT_TRUE(WaitUntil([&] { return CaughtUp(db, "store-consumer", ends); }, seconds(60))) << store.process->Log();
  const std::string identities_sql =
      "SELECT string_agg(x, ',' ORDER BY x) FROM ("
      " SELECT block_hash || event_source || event_id AS x FROM blocks UNION ALL"
      " SELECT transaction_hash || coalesce(accepted_source || accepted_event_id, '-') ||"
      "  coalesce(processed_source || processed_event_id, '-') || coalesce(expired_source || expired_event_id, '-')"
      "  FROM transactions UNION ALL"
      " SELECT block_hash || public_key || event_source || event_id FROM finality_signatures UNION ALL"
      " SELECT era_id || event_source || event_id FROM steps UNION ALL"
      " SELECT era_id || public_key || event_source || event_id FROM faults) t";
  const std::string first = Scalar(db, identities_sql);
  EXPECT_NE(first.find(a.url()), std::string::npos);
  EXPECT_EQ(first.find(b.url()), std::string::npos);
  EXPECT_EQ(Count(db, "blocks", "event_source = " + postgres::QuoteLiteral(a.url())), 4);

  // Then node b's copies of the same events: nothing changes.
  Service produce_b = StartProduce(dir, prefix, {b.url()});
  ASSERT_TRUE(WaitUntil([&] { return Metric(produce_b.url(), "ces_produce_events_total") >= 19; }, seconds(60)))
      << produce_b.process->Log();
  StopGracefully(produce_b);
  ends = EndOffsets(prefix);
  ASSERT_TRUE(WaitUntil([&] { return CaughtUp(db, "store-consumer", ends); }, seconds(60))) << store.process->Log();
  EXPECT_EQ(Scalar(db, identities_sql), first);
  EXPECT_EQ(Count(db, "blocks"), 4);
  StopGracefully(store);
}

}  // namespace
}  // namespace ces::test
