// ces::chain identity keys: every recorded event (1.x and 2.x, tests/data/casper) has a content key of
// the documented shape, distinct events have distinct keys, and the key ignores what differs between
// two nodes delivering the same event (nothing in the payload differs; only case of hex could).

#include "ces/chain/identity.hpp"

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>

namespace ces::chain {
namespace {

namespace fs = std::filesystem;
const fs::path kData = fs::path(CES_RECORDINGS_DIR);

std::string TypeOf(const fs::path& path) {
  const std::string name = path.filename().string();
  return name.substr(0, name.find('.'));
}

std::string TopKey(const std::string& payload) {
  const auto a = payload.find('"');
  const auto b = payload.find('"', a + 1);
  return payload.substr(a + 1, b - a - 1);
}

TEST(ChainIdentity, EveryRecordedEventHasItsDocumentedKey) {
  for (const char* version : {"v1", "v2"}) {
    for (const auto& entry : fs::directory_iterator(kData / version / "events")) {
      const std::string type = TypeOf(entry.path());
      const std::string payload =
          test::RecordedPayload(std::string(version) + "/events/" + entry.path().filename().string());
      const auto key = IdentityKey(type, payload);
      SCOPED_TRACE(entry.path().string());
      if (type == "Shutdown" || type == "ApiVersion") {
        EXPECT_FALSE(key);
        continue;
      }
      ASSERT_TRUE(key);
      EXPECT_EQ(key->find("sha256:"), std::string::npos) << "fell back to the payload hash: " << *key;
      if (type == "BlockAdded") {
        EXPECT_EQ(key->rfind("block ", 0), 0u);
        EXPECT_EQ(key->size(), 6u + 64u);
      } else if (type == "FinalitySignature") {
        EXPECT_EQ(key->rfind("sig ", 0), 0u);
        EXPECT_GT(key->size(), 4u + 64u + 1u + 64u);
      } else if (type == "Step") {
        EXPECT_EQ(key->rfind("step ", 0), 0u);
      } else if (type == "Fault") {
        EXPECT_EQ(key->rfind("fault ", 0), 0u);
      } else {
        EXPECT_EQ(key->rfind(type + " ", 0), 0u);
        EXPECT_EQ(key->size(), type.size() + 1 + 64u);
      }
    }
  }
}

TEST(ChainIdentity, KnownValues) {
  EXPECT_EQ(IdentityKey("Step", R"({"Step":{"era_id":363,"execution_effects":[]}})"), "step 363");
  EXPECT_EQ(IdentityKey("Fault", R"({"Fault":{"era_id":7,"public_key":"01AB","timestamp":"x"}})"), "fault 7 01ab");
  EXPECT_EQ(IdentityKey("BlockAdded", R"({"BlockAdded":{"block_hash":"AA11","block":{}}})"), "block aa11");
  EXPECT_EQ(IdentityKey("FinalitySignature",
                        R"({"FinalitySignature":{"V2":{"block_hash":"bb","public_key":"01CC","era_id":1}}})"),
            "sig bb 01cc");
  EXPECT_EQ(IdentityKey("TransactionProcessed", R"({"TransactionProcessed":{"transaction_hash":{"Deploy":"DD"}}})"),
            "TransactionProcessed dd");
  EXPECT_EQ(IdentityKey("DeployAccepted", R"({"DeployAccepted":{"hash":"ee"}})"), "DeployAccepted ee");
  EXPECT_FALSE(IdentityKey("Shutdown", "\"Shutdown\""));
  EXPECT_FALSE(IdentityKey("ApiVersion", R"({"ApiVersion":"2.0.0"})"));
}

TEST(ChainIdentity, KindIsPartOfTheTransactionKey) {
  // Accepted and Processed of one transaction are two events of the chain.
  EXPECT_NE(IdentityKey("DeployAccepted", R"({"DeployAccepted":{"hash":"ee"}})"),
            IdentityKey("DeployProcessed", R"({"DeployProcessed":{"deploy_hash":"ee"}})"));
}

TEST(ChainIdentity, UnknownTypesAndIncompletePayloadsAreKeptByContent) {
  const auto a = IdentityKey("NewThing", R"({"NewThing":{"x":1}})");
  const auto b = IdentityKey("NewThing", R"({"NewThing":{"x":2}})");
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
  EXPECT_EQ(a->rfind("NewThing sha256:", 0), 0u);
  EXPECT_EQ(IdentityKey("BlockAdded", "not json")->rfind("BlockAdded sha256:", 0), 0u);
  EXPECT_EQ(IdentityKey("Step", R"({"Step":{}})")->rfind("Step sha256:", 0), 0u);
}

TEST(ChainIdentity, RecordedStreamsShareKeysOnlyForTheSameEntity) {
  // Two payloads of a recording share a key only when they name the same block/transaction (the 1.x
  // main stream was assembled from samples and processes one deploy twice, with different effects:
  // the chain stage keeps the first and counts the second as a conflict).
  for (const fs::path& stream : {kData / "v2" / "events.stream", kData / "v1" / "main.stream",
                                 kData / "v1" / "deploys.stream", kData / "v1" / "sigs.stream"}) {
    std::map<std::string, std::string> seen;
    for (const auto& event : test::ReadRecording(stream.string())) {
      const std::string& payload = event.data;
      const std::string type = TopKey(payload);
      const auto key = IdentityKey(type, payload);
      if (!key) continue;
      auto [it, inserted] = seen.emplace(*key, payload);
      if (!inserted) {
        const std::string hash = key->substr(key->rfind(' ') + 1);
        EXPECT_NE(payload.find(hash), std::string::npos) << *key;
        EXPECT_NE(it->second.find(hash), std::string::npos) << *key;
      }
    }
    EXPECT_GE(seen.size(), 2u) << stream;
  }
}

TEST(ChainIdentity, DigestIsStableAndDistinguishes) {
  EXPECT_EQ(DigestOf("block aa"), DigestOf("block aa"));
  EXPECT_NE(DigestOf("block aa"), DigestOf("block ab"));
  std::set<Digest> digests;
  for (int i = 0; i < 10000; ++i) digests.insert(DigestOf("step " + std::to_string(i)));
  EXPECT_EQ(digests.size(), 10000u);
}

}  // namespace
}  // namespace ces::chain
