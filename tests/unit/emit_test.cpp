// emit internals: the recording loader, the timeline/replay math of the fake node, wire frames,
// synthetic hash rewriting, the `generate` writer, and chains whose blocks the fake node's JSON-RPC
// serves so that backfill rebuilds their events.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ces/backfill/events.hpp"
#include "ces/emit/node.hpp"
#include "ces/emit/recording.hpp"
#include "ces/emit/rpc.hpp"
#include "ces/emit/synthetic.hpp"
#include "ces/rpc/answers.hpp"

namespace ces::emit {
namespace {

using namespace std::chrono_literals;

const std::string kRecordings = CES_RECORDINGS_DIR;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::filesystem::path TempRoot() {
  return std::filesystem::temp_directory_path() / ("ces-emit-test-" + std::to_string(::getpid()));
}

std::string TempPath(const std::string& name) {
  std::filesystem::create_directories(TempRoot());
  return (TempRoot() / name).string();
}

// Removes the files the tests wrote once all tests ran.
class TempCleanup : public ::testing::Environment {
 public:
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(TempRoot(), ignored);
  }
};
[[maybe_unused]] ::testing::Environment* const kTempCleanup = ::testing::AddGlobalTestEnvironment(new TempCleanup);

// A small 2.x stream: ids 10, 11, 13, 14 and a Shutdown at 15.
std::string SmallStream() {
  return ": a comment\n"
         "data:{\"ApiVersion\":\"2.0.1\"}\n\n"
         ":\n\n"
         "data:{\"BlockAdded\":{\"block_hash\":\"" + std::string(64, 'a') + "\",\"height\":1}}\nid:10\n\n"
         "id:11\ndata:{\"FinalitySignature\":{\"block_hash\":\"" + std::string(64, 'a') + "\"}}\n\n"
         "data:{\"Step\":{\"era_id\":1,\r\ndata:\"x\":2}}\nid:13\n\n"
         "data:{\"ApiVersion\":\"2.0.2\"}\n\n"
         "data:{\"Fault\":{\"era_id\":1}}\nid:14\n\n"
         "data:\"Shutdown\"\nid:15\n\n";
}

std::vector<NodeStream> SmallNode() {
  std::vector<NodeStream> streams;
  streams.push_back({"/events", Recording::Parse(SmallStream(), "small.stream")});
  return streams;
}

// ------------------------------------------------------------------------------------------ recordings

TEST(RecordingTest, ParsesApiVersionEventsAndPayloads) {
  Recording r = Recording::Parse(SmallStream(), "small.stream");
  EXPECT_EQ(r.api_version(), "2.0.1");
  EXPECT_EQ(r.api_version_payload(), "{\"ApiVersion\":\"2.0.1\"}");
  EXPECT_EQ(r.api_major(), 2);
  ASSERT_EQ(r.events().size(), 5u);
  EXPECT_EQ(r.events()[0].id, 10u);
  EXPECT_EQ(r.events()[1].id, 11u);  // id before data is accepted too
  EXPECT_EQ(r.Payload(r.events()[1]), "{\"FinalitySignature\":{\"block_hash\":\"" + std::string(64, 'a') + "\"}}");
  EXPECT_TRUE(r.events()[2].joined);
  EXPECT_EQ(r.Payload(r.events()[2]), "{\"Step\":{\"era_id\":1,\n\"x\":2}}");
  EXPECT_EQ(r.events()[3].id, 14u);
  EXPECT_TRUE(r.events()[4].shutdown);
  EXPECT_FALSE(r.events()[3].shutdown);
  EXPECT_EQ(r.skipped_frames(), 1u);  // the second ApiVersion
  EXPECT_EQ(r.comments(), 2u);
}

TEST(RecordingTest, RejectsBrokenStreams) {
  EXPECT_THROW(Recording::Parse("data:{\"BlockAdded\":{}}\nid:1\n\n", "x"), std::runtime_error);
  EXPECT_THROW(Recording::Parse("data:{\"ApiVersion\":\"2.0.0\"}\n\n", "x"), std::runtime_error);
  EXPECT_THROW(Recording::Parse("data:{\"ApiVersion\":\"2.0.0\"}\n\ndata:1\nid:5\n\ndata:2\nid:5\n\n", "x"),
               std::runtime_error);
  EXPECT_THROW(Recording::Parse("data:{\"ApiVersion\":\"2.0.0\"}\n\ndata:1\nid:x\n\n", "x"), std::runtime_error);
  EXPECT_THROW(Recording::Load("/nonexistent/file.stream"), std::runtime_error);
}

// Every file the node would serve, checked against a plain line-by-line reading of the file.
TEST(RecordingTest, LoadsTheSharedRecordingsByteForByte) {
  for (const char* file : {"v1/main.stream", "v1/deploys.stream", "v1/sigs.stream", "v2/events.stream"}) {
    const std::string path = kRecordings + "/" + file;
    Recording r = Recording::Load(path);
    std::vector<std::pair<std::uint64_t, std::string>> expected;
    std::istringstream lines(ReadFile(path));
    std::string line;
    std::string data;
    while (std::getline(lines, line)) {
      if (line.rfind("data:", 0) == 0) data = line.substr(5);
      if (line.rfind("id:", 0) == 0) expected.emplace_back(std::stoull(line.substr(3)), data);
    }
    ASSERT_EQ(r.events().size(), expected.size()) << file;
    for (std::size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(r.events()[i].id, expected[i].first) << file;
      EXPECT_EQ(r.Payload(r.events()[i]), expected[i].second) << file << " event " << i;
    }
    EXPECT_TRUE(r.events().back().shutdown) << file;
  }
  EXPECT_EQ(Recording::Load(kRecordings + "/v1/main.stream").api_version(), "1.4.8");
  EXPECT_EQ(Recording::Load(kRecordings + "/v2/events.stream").api_version(), "2.0.0");
}

TEST(RecordingTest, EndpointsFollowVersionAndFileName) {
  Recording v1 = Recording::Load(kRecordings + "/v1/sigs.stream");
  EXPECT_EQ(EndpointFor(v1, "/x/main.stream"), "/events/main");
  EXPECT_EQ(EndpointFor(v1, "deploys.stream"), "/events/deploys");
  EXPECT_EQ(EndpointFor(v1, "a/b/sigs.events.stream"), "/events/sigs");
  EXPECT_THROW(EndpointFor(v1, "events.stream"), std::invalid_argument);
  EXPECT_THROW(EndpointFor(v1, "mainnet.stream"), std::invalid_argument);
  Recording v2 = Recording::Load(kRecordings + "/v2/events.stream");
  EXPECT_EQ(EndpointFor(v2, "anything.stream"), "/events");
  Recording v0 = Recording::Parse("data:{\"ApiVersion\":\"0.9.0\"}\n\ndata:1\nid:1\n\n", "old");
  EXPECT_THROW(EndpointFor(v0, "main.stream"), std::invalid_argument);
}

// ------------------------------------------------------------------------------------- timeline math

TEST(TimelineTest, MergesTheV1StreamsIntoOneIdSequence) {
  std::vector<Recording> recordings;
  for (const char* name : {"main", "deploys", "sigs"}) {
    recordings.push_back(Recording::Load(kRecordings + "/v1/" + name + ".stream"));
  }
  std::vector<const Recording*> pointers = {&recordings[0], &recordings[1], &recordings[2]};
  Timeline timeline(pointers, /*loop=*/false);
  EXPECT_EQ(timeline.cycle_length(), 31u);  // ids 0..30, Shutdown (30) shared by all three
  EXPECT_EQ(timeline.span(), 31u);
  EXPECT_EQ(timeline.IdAt(0), 0u);
  EXPECT_EQ(timeline.IdAt(30), 30u);
  EXPECT_EQ(timeline.FirstIndexAtOrAfter(19), 19u);
  EXPECT_EQ(timeline.FirstIndexAtOrAfter(31), 31u);  // past the end

  // sigs: ids 20..25 and 30; seeking to index 26 lands on the Shutdown.
  Timeline::Cursor c = timeline.Seek(2, 0);
  ASSERT_TRUE(c.valid);
  EXPECT_EQ(timeline.IdAt(c), 20u);
  c = timeline.Seek(2, 26);
  ASSERT_TRUE(c.valid);
  EXPECT_EQ(timeline.IdAt(c), 30u);
  EXPECT_TRUE(timeline.EventAt(2, c).shutdown);
  timeline.Advance(2, c);
  EXPECT_FALSE(c.valid);
  EXPECT_FALSE(timeline.Seek(2, 31).valid);
  // deploys: 18, 19, 30.
  std::vector<std::uint64_t> ids;
  for (c = timeline.Seek(1, 0); c.valid; timeline.Advance(1, c)) ids.push_back(timeline.IdAt(c));
  EXPECT_EQ(ids, (std::vector<std::uint64_t>{18, 19, 30}));
}

TEST(TimelineTest, LoopRepeatsWithIncreasingIdsWithoutShutdown) {
  Recording r = Recording::Parse(SmallStream(), "small");
  Timeline timeline({&r}, /*loop=*/true);
  EXPECT_EQ(timeline.size(), kUnbounded);
  EXPECT_EQ(timeline.cycle_length(), 4u);  // 10, 11, 13, 14 (Shutdown 15 left out)
  EXPECT_EQ(timeline.span(), 5u);          // 14 - 10 + 1: the left-out Shutdown leaves no hole
  std::vector<std::uint64_t> ids;
  Timeline::Cursor c = timeline.Seek(0, 0);
  for (int i = 0; i < 10; ++i, timeline.Advance(0, c)) {
    ASSERT_TRUE(c.valid);
    EXPECT_FALSE(timeline.EventAt(0, c).shutdown);
    ids.push_back(timeline.IdAt(c));
  }
  EXPECT_EQ(ids, (std::vector<std::uint64_t>{10, 11, 13, 14, 15, 16, 18, 19, 20, 21}));
  EXPECT_EQ(c.cycle, 2u);
  // start_from math across cycles: 12 -> 13, 15 -> 15 (cycle 1), 17 (a recorded gap) -> 18.
  EXPECT_EQ(timeline.FirstIndexAtOrAfter(0), 0u);
  EXPECT_EQ(timeline.IdAt(timeline.FirstIndexAtOrAfter(12)), 13u);
  EXPECT_EQ(timeline.FirstIndexAtOrAfter(15), 4u);
  EXPECT_EQ(timeline.IdAt(timeline.FirstIndexAtOrAfter(17)), 18u);
  EXPECT_EQ(timeline.IdAt(timeline.FirstIndexAtOrAfter(6'000'000'010)), 6'000'000'010u);
  EXPECT_EQ(timeline.FirstIndexAtOrAfter(6'000'000'010), 4'800'000'000u);
  c = timeline.Seek(0, timeline.FirstIndexAtOrAfter(1'000'000'000));
  EXPECT_GE(timeline.IdAt(c), 1'000'000'000u);
  EXPECT_EQ(c.cycle, (1'000'000'000u - 10) / 5);
}

TEST(NodeTest, StartIndexFollowsTheReplayBuffer) {
  NodeConfig config;
  config.buffer = 2;
  Node node(SmallNode(), config);
  const auto now = std::chrono::steady_clock::now();
  const Timeline& t = node.timeline();
  EXPECT_EQ(node.Published(now), 5u);  // all published at start
  EXPECT_EQ(node.Limit(now), 5u);
  EXPECT_EQ(node.StartIndex(std::nullopt, now), 5u);  // live: nothing recorded is new
  EXPECT_EQ(t.IdAt(node.StartIndex(14, now)), 14u);
  EXPECT_EQ(t.IdAt(node.StartIndex(0, now)), 14u);   // older than the buffer: its oldest entry
  EXPECT_EQ(t.IdAt(node.StartIndex(11, now)), 14u);
  EXPECT_EQ(node.StartIndex(16, now), 5u);            // future id: past the end, waits

  NodeConfig big;
  big.buffer = 5000;
  Node whole(SmallNode(), big);
  EXPECT_EQ(whole.StartIndex(0, now), 0u);
  EXPECT_EQ(whole.timeline().IdAt(whole.StartIndex(12, now)), 13u);
}

TEST(NodeTest, RateReleasesEventsOverTime) {
  NodeConfig config;
  config.rate = 2;  // events per second
  config.buffer = 1;
  Node node(SmallNode(), config);
  const auto start = std::chrono::steady_clock::now();
  node.ResetClock(start);
  EXPECT_EQ(node.Published(start), 0u);
  EXPECT_EQ(node.Published(start + 499ms), 0u);
  EXPECT_EQ(node.Published(start + 500ms), 1u);
  EXPECT_EQ(node.Published(start + 1600ms), 3u);
  EXPECT_EQ(node.Published(start + 100s), 5u);  // capped: no loop
  EXPECT_EQ(node.StartIndex(std::nullopt, start + 1600ms), 3u);
  EXPECT_EQ(node.StartIndex(0, start + 1600ms), 2u);   // buffer of one: index 2 (id 13)
  EXPECT_EQ(node.StartIndex(14, start + 1600ms), 3u);  // future at that time: starts there, waits

  NodeConfig looped = config;
  looped.loop = true;
  Node forever(SmallNode(), looped);
  forever.ResetClock(start);
  EXPECT_EQ(forever.Published(start + 100s), 200u);  // no cap
  EXPECT_EQ(forever.Limit(start + 100s), 200u);
}

TEST(NodeTest, LoopWithoutRateIsUnbounded) {
  NodeConfig config;
  config.loop = true;
  config.buffer = 3;
  Node node(SmallNode(), config);
  const auto now = std::chrono::steady_clock::now();
  EXPECT_EQ(node.Limit(now), kUnbounded);
  EXPECT_EQ(node.Published(now), 4u);  // one full cycle is published at start
  EXPECT_EQ(node.StartIndex(std::nullopt, now), 4u);
  EXPECT_EQ(node.StartIndex(0, now), 1u);  // older than published - buffer
  EXPECT_EQ(node.timeline().IdAt(node.StartIndex(1000, now)), 1000u);
}

TEST(NodeTest, ParseStartFromLikeTheNode) {
  using Query = std::vector<std::pair<std::string, std::string>>;
  std::optional<std::uint64_t> v;
  EXPECT_TRUE(Node::ParseStartFrom({}, v));
  EXPECT_FALSE(v.has_value());
  EXPECT_TRUE(Node::ParseStartFrom(Query{{"start_from", "42"}}, v));
  EXPECT_EQ(v, 42u);
  EXPECT_TRUE(Node::ParseStartFrom(Query{{"start_from", "4294967295"}}, v));
  EXPECT_EQ(v, 4294967295u);
  EXPECT_TRUE(Node::ParseStartFrom(Query{{"start_from", "+7"}}, v));
  EXPECT_EQ(v, 7u);
  for (const Query& bad : {Query{{"start_from", "4294967296"}}, Query{{"start_from", "-1"}},
                           Query{{"start_from", ""}}, Query{{"start_from", "1x"}}, Query{{"start_from", " 1"}},
                           Query{{"from", "1"}}, Query{{"start_from", "1"}, {"start_from", "2"}},
                           Query{{"start_from", "1"}, {"x", "2"}}}) {
    EXPECT_FALSE(Node::ParseStartFrom(bad, v));
  }
}

TEST(NodeTest, FramesPutDataBeforeId) {
  NodeConfig config;
  Node node(SmallNode(), config);
  const Timeline& t = node.timeline();
  std::string out;
  std::string scratch;
  node.AppendFrame(0, t.Seek(0, 0), out, scratch);
  EXPECT_EQ(out, "data:{\"BlockAdded\":{\"block_hash\":\"" + std::string(64, 'a') + "\",\"height\":1}}\nid:10\n\n");
  out.clear();
  node.AppendFrame(0, t.Seek(0, 2), out, scratch);
  EXPECT_EQ(out, "data:{\"Step\":{\"era_id\":1,\ndata:\"x\":2}}\nid:13\n\n");
  out.clear();
  node.AppendFrame(0, t.Seek(0, 4), out, scratch);
  EXPECT_EQ(out, "data:\"Shutdown\"\nid:15\n\n");
  EXPECT_EQ(node.chainspec_name(), "emit-recording");
  EXPECT_THROW(Node({}, config), std::invalid_argument);
}

TEST(NodeTest, SyntheticLoopsGetNewHashesOfTheSameLength) {
  NodeConfig config;
  config.loop = true;
  config.synthetic = true;
  Node node(SmallNode(), config);
  EXPECT_EQ(node.chainspec_name(), "emit-synthetic");
  const Timeline& t = node.timeline();
  std::string cycle0, cycle1, cycle1_again, cycle2, scratch;
  node.AppendFrame(0, t.Seek(0, 0), cycle0, scratch);
  node.AppendFrame(0, t.Seek(0, 4), cycle1, scratch);
  node.AppendFrame(0, t.Seek(0, 4), cycle1_again, scratch);
  node.AppendFrame(0, t.Seek(0, 8), cycle2, scratch);
  EXPECT_NE(cycle0.find(std::string(64, 'a')), std::string::npos);  // cycle 0 is the recording
  EXPECT_EQ(cycle1.find(std::string(64, 'a')), std::string::npos);
  EXPECT_NE(cycle1.find("\nid:15\n"), std::string::npos);
  EXPECT_EQ(cycle1.size(), cycle0.size());  // ids 10 and 15 have the same length
  EXPECT_EQ(cycle1, cycle1_again);
  EXPECT_NE(cycle1, cycle2);
}

// ------------------------------------------------------------------------------------ synthetic data

TEST(SyntheticTest, DeriveHex64IsDeterministicLowercaseHex) {
  const std::string h = DeriveHex64(std::string(64, 'a'), 1);
  EXPECT_TRUE(IsHex64(h));
  EXPECT_EQ(h.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(h, DeriveHex64(std::string(64, 'a'), 1));
  EXPECT_EQ(h, DeriveHex64(std::string(64, 'A'), 1));  // case does not matter
  EXPECT_NE(h, DeriveHex64(std::string(64, 'a'), 2));
  EXPECT_NE(h, DeriveHex64(std::string(63, 'a') + "b", 1));
  EXPECT_FALSE(IsHex64(std::string(63, 'a')));
  EXPECT_FALSE(IsHex64(std::string(63, 'a') + "g"));
}

TEST(SyntheticTest, RewriteHashValuesKeepsLengthAndJson) {
  for (const char* file : {"v1/main.stream", "v1/deploys.stream", "v1/sigs.stream", "v2/events.stream"}) {
    Recording r = Recording::Load(kRecordings + "/" + file);
    std::string out;
    for (const RecordedEvent& e : r.events()) {
      const std::string_view payload = r.Payload(e);
      RewriteHashValues(payload, 7, out);
      ASSERT_EQ(out.size(), payload.size()) << file;
      auto before = nlohmann::json::parse(payload);
      auto after = nlohmann::json::parse(out);  // throws if the rewrite broke the JSON
      EXPECT_EQ(before.type(), after.type());
      if (before.is_object()) {
        EXPECT_EQ(before.begin().key(), after.begin().key());
      }
    }
  }
  std::string out;
  const std::string hash(64, 'c');
  RewriteHashValues("{\"" + hash + "\":\"" + hash + "\",\"k\":[\"" + hash + "\",\"01" + hash + "\"],\"n\":1}", 3, out);
  const std::string derived = DeriveHex64(hash, 3);
  EXPECT_EQ(out, "{\"" + hash + "\":\"" + derived + "\",\"k\":[\"" + derived + "\",\"01" + hash + "\"],\"n\":1}");
}

TEST(SyntheticTest, RewriteHexRunsOnlyTouches64DigitRuns) {
  const std::string hash(64, 'd');
  std::string out;
  RewriteHexRuns("hash-" + hash + " uref-" + hash + "-007 01" + hash + " abc", 5, out);
  const std::string derived = DeriveHex64(hash, 5);
  EXPECT_EQ(out, "hash-" + derived + " uref-" + derived + "-007 01" + hash + " abc");
}

TEST(SyntheticTest, EnlargeArrayMakesValidJsonOfTheSameShape) {
  for (const auto& [file, key] : {std::pair<std::string, std::string>{"v1/main.stream", "transforms"},
                                  {"v2/events.stream", "execution_effects"}}) {
    Recording r = Recording::Load(kRecordings + "/" + file);
    std::string step;
    for (const RecordedEvent& e : r.events()) {
      if (r.Payload(e).rfind("{\"Step\"", 0) == 0) step = std::string(r.Payload(e));
    }
    ASSERT_FALSE(step.empty()) << file;
    const std::size_t target = 2 * 1024 * 1024;
    const std::string big = EnlargeArray(step, key, target);
    EXPECT_GE(big.size(), target);
    EXPECT_LT(big.size(), target + step.size());
    auto small_json = nlohmann::json::parse(step);
    auto big_json = nlohmann::json::parse(big);
    const auto& small_effects = file[1] == '1' ? small_json["Step"]["execution_effect"]["transforms"]
                                               : small_json["Step"]["execution_effects"];
    const auto& big_effects = file[1] == '1' ? big_json["Step"]["execution_effect"]["transforms"]
                                             : big_json["Step"]["execution_effects"];
    EXPECT_EQ(big_effects.size() % small_effects.size(), 0u);
    EXPECT_GT(big_effects.size(), small_effects.size());
    EXPECT_EQ(big_effects[0], small_effects[0]);
    EXPECT_EQ(big_json["Step"]["era_id"], small_json["Step"]["era_id"]);
  }
  EXPECT_THROW(EnlargeArray("{\"Step\":{\"transforms\":[]}}", "transforms", 100), std::invalid_argument);
  EXPECT_THROW(EnlargeArray("{\"Step\":{}}", "transforms", 100), std::invalid_argument);
}

TEST(SyntheticTest, ParseMixPresetsAndKeys) {
  Mix mix = ParseMix("");
  EXPECT_EQ(mix.signatures, 100u);
  mix = ParseMix("steps");
  EXPECT_EQ(mix.signatures, 0u);
  EXPECT_EQ(mix.transactions, 0u);
  EXPECT_EQ(mix.era_blocks, 1u);
  mix = ParseMix("signatures=5,transactions=2,era_blocks=7,expired=2.5");
  EXPECT_EQ(mix.signatures, 5u);
  EXPECT_EQ(mix.transactions, 2u);
  EXPECT_EQ(mix.era_blocks, 7u);
  EXPECT_DOUBLE_EQ(mix.expired_percent, 2.5);
  for (const char* bad : {"nope", "signatures=x", "era_blocks=0", "expired=101", "color=1", "signatures=-1"}) {
    EXPECT_THROW(ParseMix(bad), std::invalid_argument) << bad;
  }
}

struct GeneratedEvent {
  std::uint64_t id;
  nlohmann::json json;
};

std::vector<GeneratedEvent> ReadGenerated(const std::string& path) {
  Recording r = Recording::Load(path);
  std::vector<GeneratedEvent> out;
  for (const RecordedEvent& e : r.events()) out.push_back({e.id, nlohmann::json::parse(r.Payload(e))});
  return out;
}

TEST(GenerateTest, WritesAV2StreamThatEmitCanServe) {
  GenerateOptions options;
  options.recordings_dir = kRecordings;
  options.out = TempPath("v2.stream");
  options.events = 3000;
  options.mix = "signatures=20,era_blocks=5";
  options.first_id = 100;
  GenerateStats stats = Generate(options);
  EXPECT_EQ(stats.events, 3000u);
  const std::string text = ReadFile(options.out);
  EXPECT_EQ(text.rfind(": synthetic stream generated by casper-event-store generate from " + kRecordings +
                           " recordings\ndata:{\"ApiVersion\":\"2.0.0\"}\n\n",
                       0),
            0u);
  auto events = ReadGenerated(options.out);
  ASSERT_EQ(events.size(), 3000u);
  std::map<std::string, std::uint64_t> block_heights;
  std::uint64_t steps = 0, signatures = 0;
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].id, 100 + i);
    const auto& j = events[i].json;
    const std::string type = j.begin().key();
    if (type == "BlockAdded") {
      const auto& block = j["BlockAdded"]["block"]["Version2"];
      EXPECT_EQ(block["hash"], j["BlockAdded"]["block_hash"]);
      block_heights[j["BlockAdded"]["block_hash"]] = block["header"]["height"];
    } else if (type == "FinalitySignature") {
      const auto& sig = j["FinalitySignature"]["V2"];
      ASSERT_TRUE(block_heights.count(sig["block_hash"])) << "signature before its block";
      EXPECT_EQ(block_heights[sig["block_hash"]], sig["block_height"]);
      ++signatures;
    } else if (type == "Step") {
      ++steps;
    }
  }
  EXPECT_GT(signatures, 2000u);
  EXPECT_GT(steps, 0u);
  // Same seed, same file.
  GenerateOptions again = options;
  again.out = TempPath("v2-again.stream");
  Generate(again);
  EXPECT_EQ(ReadFile(again.out), text);
}

TEST(GenerateTest, WritesV1TriplesAndLargeSteps) {
  GenerateOptions options;
  options.recordings_dir = kRecordings;
  options.out = TempPath("v1-dir");
  options.protocol = 1;
  options.events = 400;
  options.mix = "signatures=10,era_blocks=3";
  options.large_step_mb = 1;
  GenerateStats stats = Generate(options);
  EXPECT_EQ(stats.events, 400u);
  std::uint64_t total = 0;
  std::uint64_t previous_max = 0;
  for (const char* name : {"main", "deploys", "sigs"}) {
    const std::string path = options.out + "/" + name + ".stream";
    Recording r = Recording::Load(path);
    EXPECT_EQ(EndpointFor(r, path), std::string("/events/") + name);
    EXPECT_EQ(r.api_major(), 1);
    total += r.events().size();
    previous_max = std::max(previous_max, r.events().back().id);
    for (const RecordedEvent& e : r.events()) {
      auto j = nlohmann::json::parse(r.Payload(e));
      const std::string type = j.begin().key();
      if (std::string(name) == "sigs") {
        EXPECT_EQ(type, "FinalitySignature");
      } else if (std::string(name) == "deploys") {
        EXPECT_EQ(type, "DeployAccepted");
      }
      if (type == "Step") {
        EXPECT_GE(e.length, 1024u * 1024u);
        EXPECT_TRUE(j["Step"]["execution_effect"]["transforms"].is_array());
      }
    }
  }
  EXPECT_EQ(total, 400u);
  EXPECT_EQ(previous_max, 399u);  // one id sequence over the three files
}

// A generated chain's transactions: each one's events and the block that lists it agree. Returns the
// number of transactions the blocks list.
std::size_t ExpectTransactionsAgree(const std::vector<std::string>& files, int protocol) {
  std::map<std::string, nlohmann::json> accepted;                 // hash -> body
  std::map<std::string, std::string> processed_in, expired;       // hash -> block hash
  std::map<std::string, std::vector<std::string>> block_lists;    // block hash -> listed hashes
  std::vector<GeneratedEvent> events;                             // of all files, in id order
  for (const std::string& file : files) {
    for (GeneratedEvent& e : ReadGenerated(file)) events.push_back(std::move(e));
  }
  std::sort(events.begin(), events.end(), [](const GeneratedEvent& a, const GeneratedEvent& b) { return a.id < b.id; });
  for (const GeneratedEvent& e : events) {
    const std::string type = e.json.begin().key();
    const nlohmann::json& v = e.json.begin().value();
    if (type == "TransactionAccepted") {
      accepted[v.begin().value().at("hash").get<std::string>()] = v.begin().value();
    } else if (type == "DeployAccepted") {
      accepted[v.at("hash").get<std::string>()] = v;
    } else if (type == "TransactionProcessed" || type == "DeployProcessed") {
      const std::string hash = (protocol == 2 ? v.at("transaction_hash").begin().value() : v.at("deploy_hash")).get<std::string>();
      if (!accepted.count(hash)) {
        ADD_FAILURE() << "processed before accepted: " << hash;
        continue;
      }
      const nlohmann::json& body = accepted[hash];
      if (protocol == 2 && body.contains("payload")) {
        EXPECT_EQ(v.at("initiator_addr"), body.at("payload").at("initiator_addr"));
        EXPECT_EQ(v.at("timestamp"), body.at("payload").at("timestamp"));
        EXPECT_EQ(v.at("ttl"), body.at("payload").at("ttl"));
      } else {
        EXPECT_EQ(protocol == 2 ? v.at("initiator_addr").at("PublicKey") : v.at("account"), body.at("header").at("account"));
        EXPECT_EQ(v.at("timestamp"), body.at("header").at("timestamp"));
        EXPECT_EQ(v.at("ttl"), body.at("header").at("ttl"));
      }
      processed_in[hash] = v.at("block_hash").get<std::string>();
    } else if (type == "TransactionExpired" || type == "DeployExpired") {
      const std::string hash = (protocol == 2 ? v.at("transaction_hash").begin().value() : v.at("deploy_hash")).get<std::string>();
      EXPECT_TRUE(accepted.count(hash)) << "expired before accepted: " << hash;
      expired[hash] = "";
    } else if (type == "BlockAdded") {
      auto& list = block_lists[v.at("block_hash").get<std::string>()];
      if (protocol == 2) {
        for (const auto& [lane, hashes] : v.at("block").at("Version2").at("body").at("transactions").items()) {
          for (const auto& h : hashes) list.push_back(h.begin().value().get<std::string>());
        }
      } else {
        for (const char* key : {"deploy_hashes", "transfer_hashes"}) {
          for (const auto& h : v.at("block").at("body").at(key)) list.push_back(h.get<std::string>());
        }
      }
    }
  }
  std::size_t listed = 0;
  for (const auto& [block_hash, hashes] : block_lists) {
    for (const std::string& hash : hashes) {
      ++listed;
      const auto processed = processed_in.find(hash);
      EXPECT_TRUE(processed != processed_in.end() && processed->second == block_hash)
          << hash << " is listed by a block it was not processed in";
      EXPECT_FALSE(expired.count(hash)) << hash;
    }
  }
  // Every processed transaction of a block that was written is listed by it.
  std::size_t processed_in_blocks = 0;
  for (const auto& [hash, block_hash] : processed_in) processed_in_blocks += block_lists.count(block_hash);
  EXPECT_EQ(listed, processed_in_blocks);
  return listed;
}

// A chain generated into a temporary file (2.x) or directory (1.x), and its stream files.
struct GeneratedChain {
  GenerateStats stats;
  std::vector<std::string> files;
};

GeneratedChain GenerateInto(const std::string& name, int protocol, std::uint64_t events, const std::string& mix) {
  GenerateOptions options;
  options.recordings_dir = kRecordings;
  options.protocol = protocol;
  options.out = TempPath(name + "-v" + std::to_string(protocol) + (protocol == 2 ? ".stream" : ""));
  options.events = events;
  options.mix = mix;
  GeneratedChain chain{Generate(options), {options.out}};
  if (protocol == 1) chain.files = {options.out + "/main.stream", options.out + "/deploys.stream", options.out + "/sigs.stream"};
  return chain;
}

TEST(GenerateTest, BlocksListTheTransactionsProcessedInThem) {
  for (int protocol : {2, 1}) {
    const GeneratedChain chain = GenerateInto("listed", protocol, 4000, "signatures=10,transactions=10,expired=20,era_blocks=7");
    const std::size_t listed = ExpectTransactionsAgree(chain.files, protocol);
    // About 10 per block, a fifth of them expired.
    EXPECT_GT(listed, chain.stats.blocks * 6) << "protocol " << protocol;
    EXPECT_LT(listed, chain.stats.blocks * 10) << "protocol " << protocol;
  }
}

// The streamed events as the fake node's JSON-RPC lets backfill rebuild them: each payload as parsed
// JSON text, a 2.x TransactionProcessed without its contract messages (which the RPC cannot give).
std::string Comparable(const std::string& payload) {
  nlohmann::json j = nlohmann::json::parse(payload);
  if (j.contains("TransactionProcessed")) j["TransactionProcessed"].erase("messages");
  return j.dump();
}

// Serves a generated chain through the fake node's JSON-RPC, rebuilds every block's events with
// backfill, and checks that they are the streamed events.
void ExpectBackfillRebuildsTheStream(const std::vector<std::string>& files, int protocol) {
  std::multiset<std::string> streamed;
  for (const std::string& file : files) {
    Recording r = Recording::Load(file);
    for (const RecordedEvent& e : r.events()) {
      const std::string payload(r.Payload(e));
      if (payload.rfind("{\"Step\":", 0) != 0 && payload.rfind("{\"ApiVersion\":", 0) != 0) {
        streamed.insert(Comparable(payload));
      }
    }
  }
  Node node(LoadStreams(files), NodeConfig{});
  RpcNode rpc_node(node);
  const auto now = std::chrono::steady_clock::now();
  auto status = rpc::ParseStatus(rpc_node.Answer(rpc::StatusRequest(1), now));
  ASSERT_TRUE(status) << status.error().message;
  ASSERT_TRUE(status->available_block_range);
  std::size_t transactions = 0;
  for (std::uint64_t height = status->available_block_range->low; height <= status->available_block_range->high; ++height) {
    auto block = rpc::ParseBlock(rpc_node.Answer(rpc::BlockRequest(1, rpc::kGetBlock, height), now), height);
    ASSERT_TRUE(block) << block.error().message;
    std::vector<rpc::Transaction> answers;
    for (const rpc::TransactionId& id : block->transactions) {
      const std::string request = protocol == 2 ? rpc::TransactionRequest(1, id) : rpc::DeployRequest(1, id.hash);
      auto tx = rpc::ParseTransaction(rpc_node.Answer(request, now), protocol == 2 ? rpc::kGetTransaction : rpc::kGetDeploy, id);
      ASSERT_TRUE(tx) << tx.error().message;
      answers.push_back(std::move(*tx));
    }
    transactions += answers.size();
    auto events = backfill::Reconstruct({&*block, answers, status->chainspec_name});
    ASSERT_TRUE(events) << events.error().message;
    for (const backfill::Event& e : *events) {
      auto it = streamed.find(Comparable(e.payload));
      ASSERT_NE(it, streamed.end()) << "rebuilt but not streamed: " << e.payload.substr(0, 400);
      streamed.erase(it);
    }
  }
  EXPECT_GT(transactions, 100u);
  // What is left: the transactions of the block the event budget cut before its BlockAdded.
  for (const std::string& left : streamed) {
    EXPECT_TRUE(left.find("Accepted") != std::string::npos || left.find("Processed") != std::string::npos) << left.substr(0, 300);
  }
  EXPECT_LE(streamed.size(), 2u * 2 * 10);
}

TEST(GenerateTest, BackfillRebuildsAChainWithTransactionsFromTheFakeNodesRpc) {
  for (int protocol : {2, 1}) {
    SCOPED_TRACE("protocol " + std::to_string(protocol));
    const GeneratedChain chain = GenerateInto("rpc", protocol, 3000, "signatures=5,transactions=10,expired=0,era_blocks=20");
    ExpectBackfillRebuildsTheStream(chain.files, protocol);
  }
}

TEST(GenerateTest, FailsCleanly) {
  GenerateOptions options;
  options.recordings_dir = "/nonexistent";
  options.out = TempPath("never.stream");
  EXPECT_THROW(Generate(options), std::runtime_error);
  options.recordings_dir = kRecordings;
  options.mix = "bogus=1";
  EXPECT_THROW(Generate(options), std::invalid_argument);
  options.mix = "";
  options.out = "/nonexistent/dir/out.stream";
  EXPECT_THROW(Generate(options), std::runtime_error);
}

TEST(UptimeTest, FormatsLikeHumantime) {
  EXPECT_EQ(FormatUptime(0ms), "0s");
  EXPECT_EQ(FormatUptime(525ms), "525ms");
  EXPECT_EQ(FormatUptime(61001ms), "1m 1s 1ms");
  EXPECT_EQ(FormatUptime(std::chrono::hours(24) + 2h + 3s), "1day 2h 3s");
  EXPECT_EQ(FormatUptime(std::chrono::hours(72)), "3days");
}

}  // namespace
}  // namespace ces::emit
