// ces::casper: payload classification (simdjson validation + event type), topic routing, ApiMajor,
// stream names. Uses the single-event samples and assembled streams in tests/data/casper.

#include "ces/casper/event.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace ces::casper {
namespace {

namespace fs = std::filesystem;
using namespace std::string_literals;

const fs::path kDataDir = fs::path(CES_RECORDINGS_DIR);

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// "BlockAdded.era_end.json" -> "BlockAdded"
std::string TypeFromFileName(const fs::path& path) {
  const std::string name = path.filename().string();
  return name.substr(0, name.find('.'));
}

std::vector<fs::path> SingleEventFiles(const char* version) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(kDataDir / version / "events")) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Payloads of the `data:` lines of a recorded stream (the recordings are LF-only, one line per payload).
std::vector<std::string> DataLines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    if (line.starts_with("data:")) out.emplace_back(line.substr(5));
    pos = end + 1;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Classifier on real payloads

TEST(Classifier, EverySingleEventFile) {
  Classifier classifier;
  std::map<std::string, int> seen;
  for (const char* version : {"v1", "v2"}) {
    const auto files = SingleEventFiles(version);
    ASSERT_FALSE(files.empty()) << kDataDir;
    for (const fs::path& path : files) {
      SCOPED_TRACE(path.string());
      const std::string payload = ReadFile(path);  // ends with a newline: JSON whitespace
      const Classification c = classifier.Classify(payload);
      ASSERT_TRUE(c.ok) << c.error;
      EXPECT_EQ(c.event_type, TypeFromFileName(path));
      EXPECT_TRUE(c.error.empty());
      if (c.event_type != "ApiVersion") {
        EXPECT_TRUE(c.api_version.empty());
      }
      ++seen[std::string(version) + "/" + c.event_type];
    }
  }
  const std::map<std::string, int> expected = {
      {"v1/ApiVersion", 1},        {"v1/BlockAdded", 2},          {"v1/DeployAccepted", 1},
      {"v1/DeployExpired", 1},     {"v1/DeployProcessed", 4},     {"v1/Fault", 1},
      {"v1/FinalitySignature", 1}, {"v1/Shutdown", 1},            {"v1/Step", 1},
      {"v2/ApiVersion", 1},        {"v2/BlockAdded", 3},          {"v2/Fault", 1},
      {"v2/FinalitySignature", 1}, {"v2/Shutdown", 1},            {"v2/Step", 1},
      {"v2/TransactionAccepted", 2}, {"v2/TransactionExpired", 1}, {"v2/TransactionProcessed", 3}};
  EXPECT_EQ(seen, expected);
}

TEST(Classifier, ApiVersionSamples) {
  Classifier classifier;
  const Classification v1 = classifier.Classify(ReadFile(kDataDir / "v1" / "events" / "ApiVersion.json"));
  ASSERT_TRUE(v1.ok) << v1.error;
  EXPECT_EQ(v1.event_type, "ApiVersion");
  EXPECT_EQ(v1.api_version, "1.4.8");
  EXPECT_EQ(ApiMajor(v1.api_version), 1);
  const Classification v2 = classifier.Classify(ReadFile(kDataDir / "v2" / "events" / "ApiVersion.json"));
  ASSERT_TRUE(v2.ok) << v2.error;
  EXPECT_EQ(v2.api_version, "2.0.0");
  EXPECT_EQ(ApiMajor(v2.api_version), 2);
}

TEST(Classifier, SingleEventFilesWithoutTrailingNewline) {
  Classifier classifier;
  for (const char* version : {"v1", "v2"}) {
    for (const fs::path& path : SingleEventFiles(version)) {
      std::string payload = ReadFile(path);
      payload.pop_back();
      const Classification c = classifier.Classify(payload);
      EXPECT_TRUE(c.ok) << path << ": " << c.error;
      EXPECT_EQ(c.event_type, TypeFromFileName(path));
    }
  }
}

TEST(Classifier, EveryPayloadOfTheRecordedStreams) {
  Classifier classifier;
  const std::map<std::string, std::map<std::string, int>> expected = {
      {"v1/main.stream",
       {{"ApiVersion", 1}, {"BlockAdded", 12}, {"DeployProcessed", 7}, {"DeployExpired", 1}, {"Fault", 1},
        {"Step", 1}, {"Shutdown", 1}}},
      {"v1/deploys.stream", {{"ApiVersion", 1}, {"DeployAccepted", 2}, {"Shutdown", 1}}},
      {"v1/sigs.stream", {{"ApiVersion", 1}, {"FinalitySignature", 6}, {"Shutdown", 1}}},
      {"v2/events.stream",
       {{"ApiVersion", 1}, {"FinalitySignature", 5}, {"BlockAdded", 4}, {"Step", 1}, {"TransactionAccepted", 2},
        {"TransactionProcessed", 3}, {"TransactionExpired", 1}, {"Fault", 1}, {"Shutdown", 1}}},
      {"v2/raw/casper-java-sdk/events-with-deploy.txt",
       {{"ApiVersion", 1}, {"FinalitySignature", 799}, {"BlockAdded", 160}, {"Step", 14}, {"TransactionAccepted", 1},
        {"TransactionProcessed", 1}}},
      {"v1/raw/casper-sidecar/usage-1.5.2-shutdown-restart.stream",
       {{"ApiVersion", 2}, {"BlockAdded", 2}, {"Shutdown", 1}}},
  };
  for (const auto& [file, counts] : expected) {
    SCOPED_TRACE(file);
    std::map<std::string, int> seen;
    for (const std::string& payload : DataLines(ReadFile(kDataDir / file))) {
      const Classification c = classifier.Classify(payload);
      ASSERT_TRUE(c.ok) << c.error << ": " << payload.substr(0, 80);
      ++seen[c.event_type];
      if (c.event_type == "ApiVersion") {
        EXPECT_TRUE(ApiMajor(c.api_version).has_value()) << c.api_version;
      }
    }
    EXPECT_EQ(seen, counts);
  }
}

TEST(Classifier, LargeU64NumbersAreAccepted) {
  Classifier classifier;
  // Fault.era_id in a fixture is above 2^53; u64 max must pass too.
  const Classification c = classifier.Classify(
      R"({"Fault":{"era_id":18446744073709551615,"public_key":"01","timestamp":"2020-08-07T01:30:25.521Z"}})");
  ASSERT_TRUE(c.ok) << c.error;
  EXPECT_EQ(c.event_type, "Fault");
}

// ---------------------------------------------------------------------------------------------------
// Rejections

TEST(Classifier, InvalidJsonIsRejected) {
  Classifier classifier;
  const std::vector<std::string> bad = {
      "",
      " ",
      "\n",
      "{",
      "}",
      R"({"BlockAdded":)",
      R"({"BlockAdded":})",
      R"({"BlockAdded":{}})" "x",
      R"({"BlockAdded":{}}{"Step":{}})",
      R"({"BlockAdded":{},})",
      R"({BlockAdded:{}})",
      R"({'BlockAdded':{}})",
      R"("Shutdown)",
      "Shutdown",
      "nul",
      "[1,2",
      "\"\xff\xfe\"",                    // invalid UTF-8
      "{\"Block\xc3\x28\":{}}",          // invalid UTF-8 in a key
      "{\"a\":\"\x01\"}",                // unescaped control character
      R"({"a":1.})",
      R"({"a":01})",
      std::string("{\"a\":\0}", 7),
  };
  for (const std::string& payload : bad) {
    const Classification c = classifier.Classify(payload);
    EXPECT_FALSE(c.ok) << "accepted: " << payload;
    EXPECT_FALSE(c.error.empty()) << payload;
  }
}

TEST(Classifier, EveryTruncationOfARealEventIsRejected) {
  Classifier classifier;
  std::string payload = ReadFile(kDataDir / "v2" / "events" / "TransactionAccepted.Version1.json");
  payload.pop_back();
  for (std::size_t size = 0; size < payload.size(); ++size) {
    const Classification c = classifier.Classify(std::string_view(payload).substr(0, size));
    ASSERT_FALSE(c.ok) << "accepted a prefix of " << size << " bytes";
  }
  EXPECT_TRUE(classifier.Classify(payload).ok);
}

TEST(Classifier, DeepNestingIsRejectedWithoutCrashing) {
  Classifier classifier;
  const std::string deep = "{\"Step\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  const Classification c = classifier.Classify(deep);
  EXPECT_FALSE(c.ok);
  EXPECT_FALSE(c.error.empty());
}

TEST(Classifier, BareStrings) {
  Classifier classifier;
  {
    const Classification c = classifier.Classify(R"("Shutdown")");
    ASSERT_TRUE(c.ok) << c.error;
    EXPECT_EQ(c.event_type, "Shutdown");
    EXPECT_TRUE(c.api_version.empty());
  }
  {
    const Classification c = classifier.Classify(" \"Shutdown\"\n");
    EXPECT_TRUE(c.ok) << c.error;
    EXPECT_EQ(c.event_type, "Shutdown");
  }
  for (const char* other : {R"("shutdown")", R"("Shutdown ")", R"("")", R"("BlockAdded")", R"("ApiVersion")"}) {
    const Classification c = classifier.Classify(other);
    EXPECT_FALSE(c.ok) << other;
    EXPECT_FALSE(c.error.empty()) << other;
  }
}

TEST(Classifier, ScalarsAndArraysAreRejected) {
  Classifier classifier;
  for (const char* payload : {"42", "-1", "1.5", "true", "false", "null", "[]", R"(["Shutdown"])",
                              R"([{"BlockAdded":{}}])"}) {
    const Classification c = classifier.Classify(payload);
    EXPECT_FALSE(c.ok) << payload;
    EXPECT_FALSE(c.error.empty()) << payload;
  }
}

TEST(Classifier, EmptyObjectIsRejected) {
  Classifier classifier;
  for (const char* payload : {"{}", " { } "}) {
    const Classification c = classifier.Classify(payload);
    EXPECT_FALSE(c.ok) << payload;
    EXPECT_FALSE(c.error.empty());
  }
}

TEST(Classifier, ApiVersionMustBeAString) {
  Classifier classifier;
  for (const char* payload : {R"({"ApiVersion":2})", R"({"ApiVersion":null})", R"({"ApiVersion":{"major":2}})",
                              R"({"ApiVersion":["2.0.0"]})"}) {
    const Classification c = classifier.Classify(payload);
    EXPECT_FALSE(c.ok) << payload;
    EXPECT_FALSE(c.error.empty()) << payload;
  }
  const Classification c = classifier.Classify(R"({"ApiVersion":"2.1.3"})");
  ASSERT_TRUE(c.ok);
  EXPECT_EQ(c.api_version, "2.1.3");
}

TEST(Classifier, UnknownTypesPassThrough) {
  Classifier classifier;
  const Classification c = classifier.Classify(R"({"SomethingNew":{"x":1}})");
  ASSERT_TRUE(c.ok) << c.error;
  EXPECT_EQ(c.event_type, "SomethingNew");
  EXPECT_EQ(RouteByType(c.event_type), Stream::kMain);
}

TEST(Classifier, EscapedKeyIsUnescaped) {
  Classifier classifier;
  const Classification c = classifier.Classify(R"({"Block\u0041dded":{}})");
  ASSERT_TRUE(c.ok) << c.error;
  EXPECT_EQ(c.event_type, "BlockAdded");
}

TEST(Classifier, ReusableAfterErrorsAndAcrossSizes) {
  Classifier classifier;
  std::string big = ReadFile(kDataDir / "v1" / "events" / "DeployProcessed.withdraw_bid.json");
  for (int round = 0; round < 3; ++round) {
    EXPECT_FALSE(classifier.Classify("{").ok);
    const Classification large = classifier.Classify(big);
    EXPECT_TRUE(large.ok) << large.error;
    EXPECT_EQ(large.event_type, "DeployProcessed");
    const Classification small = classifier.Classify(R"("Shutdown")");
    EXPECT_TRUE(small.ok);
    EXPECT_EQ(small.event_type, "Shutdown");
    EXPECT_TRUE(small.error.empty());
  }
}

TEST(Classifier, PayloadIsNotReadPastItsEnd) {
  // A view into a larger buffer: only the view is parsed.
  Classifier classifier;
  const std::string buffer = R"("Shutdown"garbage)";
  const Classification c = classifier.Classify(std::string_view(buffer).substr(0, 10));
  EXPECT_TRUE(c.ok) << c.error;
  const std::string buffer2 = R"({"Step":{}}})";
  EXPECT_TRUE(classifier.Classify(std::string_view(buffer2).substr(0, 11)).ok);
  EXPECT_FALSE(classifier.Classify(buffer2).ok);
}

// ---------------------------------------------------------------------------------------------------
// Routing, versions, stream names

TEST(RouteByType, EveryKnownType) {
  const std::map<std::string, Stream> expected = {
      {"ApiVersion", Stream::kMain},
      {"BlockAdded", Stream::kMain},
      {"Step", Stream::kMain},
      {"Fault", Stream::kMain},
      {"Shutdown", Stream::kMain},
      {"DeployProcessed", Stream::kMain},
      {"DeployExpired", Stream::kMain},
      {"TransactionProcessed", Stream::kMain},
      {"TransactionExpired", Stream::kMain},
      {"DeployAccepted", Stream::kDeploys},
      {"TransactionAccepted", Stream::kDeploys},
      {"FinalitySignature", Stream::kSigs},
  };
  for (const auto& [type, stream] : expected) EXPECT_EQ(RouteByType(type), stream) << type;
}

TEST(RouteByType, UnknownTypesGoToMain) {
  for (const char* type : {"", "Unknown", "blockadded", "finalitysignature", "FinalitySignatures", "DeployAccepted ",
                           "Transaction", "Deploy"}) {
    EXPECT_EQ(RouteByType(type), Stream::kMain) << type;
  }
}

TEST(RouteByType, SingleEventFilesRouteLike1xEndpoints) {
  Classifier classifier;
  for (const char* version : {"v1", "v2"}) {
    for (const fs::path& path : SingleEventFiles(version)) {
      const Classification c = classifier.Classify(ReadFile(path));
      ASSERT_TRUE(c.ok);
      const std::string& t = c.event_type;
      const Stream expected = (t == "DeployAccepted" || t == "TransactionAccepted") ? Stream::kDeploys
                              : t == "FinalitySignature"                            ? Stream::kSigs
                                                                                    : Stream::kMain;
      EXPECT_EQ(RouteByType(t), expected) << path;
    }
  }
}

TEST(ApiMajor, ParsesTheMajorVersion) {
  EXPECT_EQ(ApiMajor("1.4.8"), 1);
  EXPECT_EQ(ApiMajor("1.5.2"), 1);
  EXPECT_EQ(ApiMajor("2.0.0"), 2);
  EXPECT_EQ(ApiMajor("2.0.0-rc.5"), 2);
  EXPECT_EQ(ApiMajor("10.1.0"), 10);
  EXPECT_EQ(ApiMajor("2"), 2);
  EXPECT_EQ(ApiMajor("0.9"), 0);
}

TEST(ApiMajor, RejectsWhatIsNotAVersion) {
  for (const char* version : {"", "x", "v2.0.0", ".1", " 2.0.0", "-1.0.0", "+2.0.0", "2x", "2-0", "2 .0",
                              "99999999999999999999.0.0"}) {
    EXPECT_EQ(ApiMajor(version), std::nullopt) << "'" << version << "'";
  }
}

TEST(StreamName, NamesAndParseRoundTrip) {
  EXPECT_EQ(StreamName(Stream::kMain), "main");
  EXPECT_EQ(StreamName(Stream::kDeploys), "deploys");
  EXPECT_EQ(StreamName(Stream::kSigs), "sigs");
  for (Stream stream : {Stream::kMain, Stream::kDeploys, Stream::kSigs}) {
    EXPECT_EQ(ParseStream(StreamName(stream)), stream);
  }
}

TEST(ParseStream, RejectsOtherNames) {
  for (const char* name : {"", "Main", "MAIN", "main ", " main", "events", "deploy", "sig", "events/main"}) {
    EXPECT_EQ(ParseStream(name), std::nullopt) << "'" << name << "'";
  }
}

}  // namespace
}  // namespace ces::casper
