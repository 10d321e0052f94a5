// emit (fake node replaying real recordings) -> produce -> Kafka, against the local stack's broker.
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <set>

#include "ces/casper/event.hpp"
#include "ces/ingest/record.hpp"
#include "ces/kafka/client.hpp"
#include "test_support.hpp"

namespace ces::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct Emit {
  std::uint16_t port;
  std::unique_ptr<Process> process;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

Emit StartEmit(const std::string& dir, std::vector<std::string> args, std::uint16_t port = 0) {
  Emit emit;
  emit.port = port ? port : FreePort();
  std::vector<std::string> all = {"emit", "--listen", "127.0.0.1:" + std::to_string(emit.port), "--keepalive", "1"};
  all.insert(all.end(), args.begin(), args.end());
  emit.process = std::make_unique<Process>(all, dir + "/emit.log");
  EXPECT_TRUE(WaitUntil([&] { return HttpGet(emit.url() + "/status").first == 200; }, seconds(20)))
      << emit.process->Log();
  return emit;
}

struct Produce {
  std::uint16_t port;
  std::unique_ptr<Process> process;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

Produce StartProduce(const std::string& dir, const std::string& prefix, const std::vector<std::string>& nodes,
                     std::vector<std::string> extra = {}) {
  Produce p;
  p.port = FreePort();
  std::vector<std::string> args = {"produce", "--kafka", RequireEnv("KAFKA_BOOTSTRAP"), "--topic-prefix", prefix,
                                   "--listen", "127.0.0.1:" + std::to_string(p.port), "--backoff-initial", "0.1",
                                   "--backoff-max", "1"};
  for (const auto& n : nodes) {
    args.push_back("--node");
    args.push_back(n);
  }
  args.insert(args.end(), extra.begin(), extra.end());
  p.process = std::make_unique<Process>(args, dir + "/produce.log");
  EXPECT_TRUE(WaitUntil([&] { return HttpGet(p.url() + "/readyz").first == 200; }, seconds(60))) << p.process->Log();
  return p;
}

std::vector<kafka::Message> Topic(const std::string& prefix, std::string_view name) {
  return kafka::ReadAll(RequireEnv("KAFKA_BOOTSTRAP"), {}, prefix + std::string(name));
}

std::vector<kafka::Message> AllEvents(const std::string& prefix) {
  std::vector<kafka::Message> all;
  for (auto name : {"main", "deploys", "sigs"}) {
    auto part = Topic(prefix, name);
    all.insert(all.end(), part.begin(), part.end());
  }
  return all;
}

std::size_t CountWithId(const std::vector<kafka::Message>& records) {
  std::size_t n = 0;
  for (const auto& r : records) n += r.HeaderValue(ingest::header::kEventId) != nullptr;
  return n;
}

std::set<std::uint32_t> Ids(const std::vector<kafka::Message>& records) {
  std::set<std::uint32_t> ids;
  for (const auto& r : records) {
    if (const auto* id = r.HeaderValue(ingest::header::kEventId)) ids.insert(static_cast<std::uint32_t>(std::stoul(*id)));
  }
  return ids;
}

void StopGracefully(Produce& p) {
  p.process->Signal(SIGTERM);
  auto status = p.process->Wait(seconds(60));
  ASSERT_TRUE(status.has_value()) << "produce did not exit after SIGTERM\n" << p.process->Log();
  EXPECT_EQ(*status, 0) << p.process->Log();
}

std::string ClassifyType(const std::string& payload) {
  casper::Classifier c;
  return c.Classify(payload).event_type;
}

// Every recorded event with an id is in `topic_of(type)` exactly as the node sent it, with full headers.
void ExpectRecordingInKafka(const std::vector<RecordedEvent>& recording, const std::vector<kafka::Message>& records,
                            const std::string& prefix, const std::string& node, const std::string& stream,
                            const std::function<std::string(const std::string&)>& topic_of) {
  std::string api_version;
  std::map<std::uint32_t, const kafka::Message*> by_id;
  for (const auto& r : records) {
    const auto* stream_header = r.HeaderValue(ingest::header::kStream);
    const auto* id = r.HeaderValue(ingest::header::kEventId);
    if (!stream_header || *stream_header != stream || !id) continue;
    by_id[static_cast<std::uint32_t>(std::stoul(*id))] = &r;
  }
  for (const auto& ev : recording) {
    const std::string type = ClassifyType(ev.data);
    if (!ev.id) {
      ASSERT_EQ(type, "ApiVersion");
      api_version = ev.data.substr(15, ev.data.size() - 17);
      continue;
    }
    auto it = by_id.find(*ev.id);
    ASSERT_NE(it, by_id.end()) << "event id " << *ev.id << " (" << type << ") missing from Kafka";
    const kafka::Message& m = *it->second;
    EXPECT_EQ(m.topic, prefix + topic_of(type)) << "event " << *ev.id;
    EXPECT_EQ(m.value, ev.data) << "payload of event " << *ev.id << " is not byte-identical";
    ASSERT_TRUE(m.key.has_value());
    EXPECT_EQ(*m.key, node + " " + stream);
    EXPECT_EQ(*m.HeaderValue(ingest::header::kSource), node);
    EXPECT_EQ(*m.HeaderValue(ingest::header::kEventType), type);
    EXPECT_EQ(*m.HeaderValue(ingest::header::kApiVersion), api_version);
    const auto* received = m.HeaderValue(ingest::header::kReceivedAt);
    ASSERT_NE(received, nullptr);
    EXPECT_EQ(received->size(), 24u) << *received;  // 2024-06-12T09:26:25.460Z
  }
  // The ApiVersion message itself is kept too (it marks protocol versions and reconnects).
  bool api_version_seen = false;
  for (const auto& r : records) {
    const auto* t = r.HeaderValue(ingest::header::kEventType);
    const auto* s = r.HeaderValue(ingest::header::kStream);
    if (t && *t == "ApiVersion" && s && *s == stream) {
      api_version_seen = true;
      EXPECT_EQ(r.HeaderValue(ingest::header::kEventId), nullptr);
      EXPECT_EQ(r.topic, prefix + topic_of("ApiVersion"));
    }
  }
  EXPECT_TRUE(api_version_seen);
}

std::uint32_t StoredPosition(const std::string& prefix, const std::string& key) {
  std::optional<std::uint32_t> pos;
  for (const auto& r : Topic(prefix, ingest::kPositionsTopic)) {
    if (r.key && *r.key == key) pos = static_cast<std::uint32_t>(std::stoul(*r.HeaderValue(ingest::header::kEventId)));
  }
  EXPECT_TRUE(pos.has_value()) << "no position stored for " << key;
  return pos.value_or(0);
}

TEST(ProduceIntegration, V2RecordingArrivesByteExactAndRoutedByType) {
  const std::string dir = TempDir();
  const std::string prefix = UniquePrefix();
  const std::string file = RecordingsDir() + "/v2/events.stream";
  const auto recording = ReadRecording(file);
  ASSERT_EQ(recording.size(), 19u);
  Emit emit = StartEmit(dir, {"--stream", file});
  // A second node that is down must not hold back the first.
  const std::string dead_node = "http://127.0.0.1:" + std::to_string(FreePort());
  Produce produce = StartProduce(dir, prefix, {emit.url(), dead_node});
  ASSERT_TRUE(WaitUntil([&] { return CountWithId(AllEvents(prefix)) >= 18; }, seconds(60))) << produce.process->Log();
  StopGracefully(produce);
  const auto records = AllEvents(prefix);
  ExpectRecordingInKafka(recording, records, prefix, emit.url(), "events", [](const std::string& type) {
    return std::string(casper::StreamName(casper::RouteByType(type)));
  });
  EXPECT_EQ(Ids(records).size(), 18u);
  EXPECT_EQ(StoredPosition(prefix, emit.url() + " events"), 17u);
  EXPECT_TRUE(Topic(prefix, ingest::kDeadLetterTopic).empty());
}

TEST(ProduceIntegration, V1StreamsGoToTheirTopics) {
  const std::string dir = TempDir();
  const std::string prefix = UniquePrefix();
  const std::string v1 = RecordingsDir() + "/v1/";
  Emit emit = StartEmit(dir, {"--stream", v1 + "main.stream", "--stream", v1 + "deploys.stream", "--stream",
                              v1 + "sigs.stream"});
  Produce produce = StartProduce(dir, prefix, {emit.url()});
  std::size_t expected = 0;
  std::map<std::string, std::vector<RecordedEvent>> recordings;
  for (std::string stream : {"main", "deploys", "sigs"}) {
    recordings[stream] = ReadRecording(v1 + stream + ".stream");
    for (const auto& e : recordings[stream]) expected += e.id.has_value();
  }
  ASSERT_TRUE(WaitUntil([&] { return CountWithId(AllEvents(prefix)) >= expected; }, seconds(60)))
      << produce.process->Log();
  StopGracefully(produce);
  const auto records = AllEvents(prefix);
  for (const auto& [stream, recording] : recordings) {
    SCOPED_TRACE(stream);
    ExpectRecordingInKafka(recording, records, prefix, emit.url(), stream,
                           [s = stream](const std::string&) { return s; });
    EXPECT_EQ(StoredPosition(prefix, emit.url() + " " + stream), recording.back().id.value());
  }
}

TEST(ProduceIntegration, KillNineMidStreamLosesNothing) {
  const std::string dir = TempDir();
  const std::string prefix = UniquePrefix();
  Emit emit = StartEmit(dir, {"--stream", RecordingsDir() + "/v2/events.stream", "--loop", "--rate", "2000"});
  {
    Produce first = StartProduce(dir, prefix, {emit.url()});
    ASSERT_TRUE(WaitUntil([&] { return CountWithId(AllEvents(prefix)) >= 1500; }, seconds(60))) << first.process->Log();
    first.process->Kill9();
  }
  const std::size_t before_restart = CountWithId(AllEvents(prefix));
  Produce second = StartProduce(dir, prefix, {emit.url()});
  ASSERT_TRUE(WaitUntil([&] { return CountWithId(AllEvents(prefix)) >= before_restart + 2000; }, seconds(60)))
      << second.process->Log();
  StopGracefully(second);
  const auto ids = Ids(AllEvents(prefix));
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(*ids.begin(), 0u);
  // Contiguous: every id from the first to the last is present (duplicates are allowed, gaps are not).
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(*ids.rbegin() - *ids.begin() + 1))
      << "missing ids between " << *ids.begin() << " and " << *ids.rbegin();
  EXPECT_GE(StoredPosition(prefix, emit.url() + " events"), *ids.rbegin() - 0u);
  EXPECT_TRUE(Topic(prefix, ingest::kGapsTopic).empty());
}

TEST(ProduceIntegration, NodeDropsAndRestartsAreReconnects) {
  const std::string dir = TempDir();
  const std::string prefix = UniquePrefix();
  const std::string file = RecordingsDir() + "/v2/events.stream";
  auto emit = std::make_unique<Emit>(StartEmit(dir, {"--stream", file, "--drop-after", "4"}));
  const std::string node = emit->url();
  const std::uint16_t port = emit->port;
  Produce produce = StartProduce(dir, prefix, {node});
  ASSERT_TRUE(WaitUntil([&] { return Ids(AllEvents(prefix)).size() >= 18; }, seconds(60))) << produce.process->Log();
  auto count_api_versions = [&] {
    std::size_t n = 0;
    for (const auto& r : Topic(prefix, "main")) {
      const auto* t = r.HeaderValue(ingest::header::kEventType);
      n += t && *t == "ApiVersion";
    }
    return n;
  };
  EXPECT_GE(count_api_versions(), 5u) << "each reconnect starts with an ApiVersion";
  // The node process dies and comes back on the same address.
  emit->process->Kill9();
  emit.reset();
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_EQ(HttpGet(produce.url() + "/healthz").first, 200);
  const std::size_t before = count_api_versions();
  Emit again = StartEmit(dir, {"--stream", file}, port);
  ASSERT_TRUE(WaitUntil([&] { return count_api_versions() > before; }, seconds(30))) << produce.process->Log();
  const auto metrics = HttpGet(produce.url() + "/metrics").second;
  EXPECT_NE(metrics.find("ces_produce_connection_ends_total"), std::string::npos);
  StopGracefully(produce);
  EXPECT_EQ(Ids(AllEvents(prefix)).size(), 18u);
  EXPECT_TRUE(Topic(prefix, ingest::kGapsTopic).empty());
}

TEST(ProduceIntegration, A32MiBEventPasses) {
  const std::string dir = TempDir();
  const std::string prefix = UniquePrefix();
  std::string payload = "{\"Step\":{\"era_id\":7,\"execution_effects\":[";
  const std::string entry =
      "{\"key\":\"hash-2c4a6ce0da5d175e9638ec0830e01dd6cf5f4b1fbb0724f7d2d9de12b1e0f81d\",\"kind\":\"Identity\"}";
  while (payload.size() < 32u * 1024 * 1024) payload += entry + ",";
  payload += entry + "]}}";
  const std::string file = dir + "/large.stream";
  WriteFile(file, "data:{\"ApiVersion\":\"2.0.0\"}\n\ndata:" + payload + "\nid:1\n\n");
  Emit emit = StartEmit(dir, {"--stream", file});
  Produce produce = StartProduce(dir, prefix, {emit.url()});
  ASSERT_TRUE(WaitUntil([&] { return CountWithId(Topic(prefix, "main")) >= 1; }, seconds(120))) << produce.process->Log();
  StopGracefully(produce);
  const auto records = Topic(prefix, "main");
  bool found = false;
  for (const auto& r : records) {
    if (r.HeaderValue(ingest::header::kEventId)) {
      found = true;
      EXPECT_EQ(r.value.size(), payload.size());
      EXPECT_TRUE(r.value == payload);
      EXPECT_EQ(*r.HeaderValue(ingest::header::kEventType), "Step");
    }
  }
  EXPECT_TRUE(found);
}

TEST(ProduceIntegration, MalformedEventsGoToTheDeadLetterTopic) {
  const std::string dir = TempDir();
  const std::string prefix = UniquePrefix();
  // Served verbatim by a bare socket server: frames no well-behaved node sends, mixed with good ones,
  // in CRLF and LF, id before and after data.
  RawNode node(
      "data:{\"ApiVersion\":\"2.0.0\"}\r\n\r\n"
      "data:{\"BlockAdded\":{\"block_hash\":\"aa\"}}\r\nid:1\r\n\r\n"
      "data:{\"BlockAdded\":{\"block_hash\":\nid:2\n\n"   // truncated JSON
      "id:3\n\n"                                              // no data
      "data:[1,2,3]\nid:4\n\n"                                // JSON, but not an event
      "id:5\ndata:{\"Step\":{\"era_id\":1}}\n\n"            // id before data
      "data:{\"Step\":{}}\nid:-7\n\n"                         // not a u32 id
      "data:{\"NewFancyEvent\":\n"                              // unknown type, multi-line data
      "data:{\"x\":1}}\nid:6\n\n");
  Produce produce = StartProduce(dir, prefix, {node.url()});
  ASSERT_TRUE(WaitUntil([&] { return Topic(prefix, ingest::kDeadLetterTopic).size() >= 4 &&
                                     CountWithId(Topic(prefix, "main")) >= 3; },
                        seconds(60)))
      << produce.process->Log();
  StopGracefully(produce);
  const auto main = Topic(prefix, "main");
  EXPECT_EQ(Ids(main), (std::set<std::uint32_t>{1, 5, 6}));
  for (const auto& r : main) {
    if (const auto* id = r.HeaderValue(ingest::header::kEventId); id && *id == "6") {
      EXPECT_EQ(r.value, "{\"NewFancyEvent\":\n{\"x\":1}}");
      EXPECT_EQ(*r.HeaderValue(ingest::header::kEventType), "NewFancyEvent");
    }
  }
  const auto dead = Topic(prefix, ingest::kDeadLetterTopic);
  std::map<std::string, const kafka::Message*> by_id;
  for (const auto& r : dead) {
    const auto* id = r.HeaderValue(ingest::header::kEventId);
    by_id[id ? *id : "none"] = &r;
    EXPECT_EQ(*r.HeaderValue(ingest::header::kSource), node.url());
  }
  ASSERT_EQ(by_id.size(), 4u);
  EXPECT_EQ(by_id["2"]->value, "{\"BlockAdded\":{\"block_hash\":");
  EXPECT_NE(by_id["2"]->HeaderValue(ingest::header::kReason)->find("invalid JSON"), std::string::npos);
  EXPECT_NE(by_id["3"]->HeaderValue(ingest::header::kReason)->find("without data"), std::string::npos);
  EXPECT_EQ(by_id["4"]->value, "[1,2,3]");
  EXPECT_NE(by_id["none"]->HeaderValue(ingest::header::kReason)->find("unsigned 32-bit"), std::string::npos);
  EXPECT_EQ(by_id["none"]->value, "data:{\"Step\":{}}\nid:-7\n");
  // Dead-lettered events count as handled: the position moves past them.
  EXPECT_EQ(StoredPosition(prefix, node.url() + " events"), 6u);
}

TEST(ProduceIntegration, ResumingPastTheNodeBufferRecordsAGap) {
  const std::string dir = TempDir();
  const std::string prefix = UniquePrefix();
  const std::string file = RecordingsDir() + "/v2/events.stream";  // ids 0..17
  Emit emit = StartEmit(dir, {"--stream", file, "--buffer", "5"});   // the node still holds ids 13..17
  {
    // A position from an earlier run: event 2 was the last one stored.
    kafka::EnsureTopics(RequireEnv("KAFKA_BOOTSTRAP"), {}, {{prefix + "producer-positions", 1, -1, {{"cleanup.policy", "compact"}}}});
    kafka::Producer producer(RequireEnv("KAFKA_BOOTSTRAP"));
    producer.Produce(prefix + "producer-positions", emit.url() + " events", "{}", {{"event-id", "2"}}, {});
    ASSERT_TRUE(producer.Flush(seconds(30)));
  }
  Produce produce = StartProduce(dir, prefix, {emit.url()});
  ASSERT_TRUE(WaitUntil([&] { return !Topic(prefix, ingest::kGapsTopic).empty(); }, seconds(60)))
      << produce.process->Log();
  ASSERT_TRUE(WaitUntil([&] { return Ids(AllEvents(prefix)).size() >= 5; }, seconds(60)));
  StopGracefully(produce);
  const auto gaps = Topic(prefix, ingest::kGapsTopic);
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_NE(gaps[0].value.find("\"from_id\":3,\"to_id\":12"), std::string::npos) << gaps[0].value;
  EXPECT_EQ(Ids(AllEvents(prefix)), (std::set<std::uint32_t>{13, 14, 15, 16, 17}));
  const auto metrics = produce.process->Log();
  EXPECT_NE(metrics.find("gap"), std::string::npos);
}

TEST(ProduceIntegration, NodeUpgradedFrom1xTo2xIsDetectedAgain) {
  const std::string dir = TempDir();
  const std::string prefix = UniquePrefix();
  const std::string v1 = RecordingsDir() + "/v1/";
  auto emit = std::make_unique<Emit>(StartEmit(dir, {"--stream", v1 + "main.stream", "--stream",
                                                     v1 + "deploys.stream", "--stream", v1 + "sigs.stream"}));
  const std::uint16_t port = emit->port;
  const std::string node = emit->url();
  Produce produce = StartProduce(dir, prefix, {node});
  auto count_stream = [&](const std::string& stream) {
    std::size_t n = 0;
    for (const auto& r : AllEvents(prefix)) {
      const auto* s = r.HeaderValue(ingest::header::kStream);
      n += s && *s == stream && r.HeaderValue(ingest::header::kEventId);
    }
    return n;
  };
  ASSERT_TRUE(WaitUntil([&] { return count_stream("sigs") >= 7; }, seconds(60))) << produce.process->Log();
  emit->process->Kill9();
  emit.reset();
  Emit upgraded = StartEmit(dir, {"--stream", RecordingsDir() + "/v2/events.stream"}, port);
  ASSERT_TRUE(WaitUntil([&] { return count_stream("events") >= 18; }, seconds(60))) << produce.process->Log();
  StopGracefully(produce);
  EXPECT_EQ(StoredPosition(prefix, node + " events"), 17u);
}

TEST(ProduceIntegration, HelpListsEveryFlagWithItsEnvironmentVariable) {
  const std::string dir = TempDir();
  Process help({"produce", "--help"}, dir + "/help.log");
  ASSERT_EQ(help.Wait(seconds(10)), 0);
  const std::string text = help.Log();
  for (const char* flag : {"--node", "--kafka", "--topic-prefix", "--listen", "CES_NODE", "CES_KAFKA",
                           "CES_TOPIC_PREFIX", "CES_LISTEN"}) {
    EXPECT_NE(text.find(flag), std::string::npos) << flag;
  }
}

}  // namespace
}  // namespace ces::test
