// The replay API (`api --mongo`) against the local stack: a dataset written to Kafka with known
// sources, ids, types, versions and receive times is stored by audit-consume, then read back over SSE
// (framing checked with our SSE parser as the client) and JSON: start_from, every filter, max_events,
// ApiVersion injection, the live hand-over, cursor pagination during inserts, payloads by id, limits.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "ces/audit/keys.hpp"
#include "ces/audit/record.hpp"
#include "ces/casper/event.hpp"
#include "ces/common/time.hpp"
#include "ces/ingest/record.hpp"
#include "ces/kafka/client.hpp"
#include "ces/kafka/topics.hpp"
#include "ces/sse/client.hpp"
#include "test_support.hpp"

namespace ces::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::int64_t kT0 = 1718182800000;  // 2024-06-12T09:00:00Z
const std::string kA = "http://node-a:9999";
const std::string kB = "http://node-b:7777";

struct Rec {
  std::string source;
  std::string stream;
  std::optional<std::uint32_t> id;
  std::string type;
  std::string api;
  std::int64_t ms = 0;
  std::string payload;
  mongo::FilterKeys keys;
  std::string Route() const {
    if (stream != "events") return stream;
    return std::string(casper::StreamName(casper::RouteByType(type)));
  }
};

class Writer {
 public:
  explicit Writer(std::string prefix) : prefix_(std::move(prefix)), producer_(RequireEnv("KAFKA_BOOTSTRAP")) {}
  void Write(const Rec& r) {
    ingest::EventMeta meta{r.source, r.stream, r.id, r.api, r.type, time::FormatRfc3339Millis(r.ms)};
    ASSERT_TRUE(producer_.Produce(prefix_ + r.Route(), ingest::RecordKey(r.source, r.stream), r.payload,
                                  ingest::RecordHeaders(meta), [this](const kafka::DeliveryReport& d) {
                                    if (!d.ok) failed_ = true;
                                  }));
  }
  void Flush() {
    ASSERT_TRUE(producer_.Flush(seconds(60)));
    ASSERT_FALSE(failed_);
  }

 private:
  std::string prefix_;
  kafka::Producer producer_;
  std::atomic<bool> failed_{false};
};

struct Service {
  std::uint16_t port = 0;
  std::unique_ptr<Process> process;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

// One SSE frame as our parser saw it.
struct Frame {
  std::string data;
  std::optional<std::string> id;
  std::string raw;
};

struct SseResult {
  std::vector<Frame> frames;
  int comments = 0;
  sse::StreamResult result;
  std::vector<Frame> Events() const {
    std::vector<Frame> out;
    for (const auto& f : frames) {
      if (f.id) out.push_back(f);
    }
    return out;
  }
};

class FrameCollector : public sse::Handler {
 public:
  explicit FrameCollector(SseResult& out, std::mutex* mutex = nullptr) : out_(out), mutex_(mutex) {}
  void OnEvent(const sse::Event& e) override {
    Frame f{std::string(e.data), e.id ? std::optional<std::string>(std::string(*e.id)) : std::nullopt,
            std::string(e.raw)};
    if (mutex_) {
      std::lock_guard lock(*mutex_);
      out_.frames.push_back(std::move(f));
    } else {
      out_.frames.push_back(std::move(f));
    }
  }
  void OnComment(std::string_view) override { ++out_.comments; }

 private:
  SseResult& out_;
  std::mutex* mutex_;
};

class AuditApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = TempDir();
    prefix_ = UniquePrefix();
    db_ = "audit_api_" + prefix_.substr(0, prefix_.size() - 1);
    kafka::EnsureTopics(RequireEnv("KAFKA_BOOTSTRAP"), {}, kafka::EventTopicSpecs(prefix_));
    BuildDataset();
    // Written in receive-time order, as producers do (each partition is then in time order).
    std::vector<const Rec*> ordered;
    for (const auto& r : dataset_) ordered.push_back(&r);
    std::stable_sort(ordered.begin(), ordered.end(), [](const Rec* a, const Rec* b) { return a->ms < b->ms; });
    Writer writer(prefix_);
    for (const Rec* r : ordered) writer.Write(*r);
    writer.Flush();

    consume_.port = FreePort();
    consume_.process = std::make_unique<Process>(
        std::vector<std::string>{"audit-consume", "--kafka", RequireEnv("KAFKA_BOOTSTRAP"), "--topic-prefix", prefix_,
                                 "--mongo", MongoDatabaseUri(db_), "--listen", "127.0.0.1:" + std::to_string(consume_.port),
                                 "--group", prefix_ + "audit", "--batch-linger", "0.05", "--kafka-setting",
                                 "session.timeout.ms=6000",
                                 // small links and segments: every test crosses many of both
                                 "--link-events", "16", "--segment-events", "40", "--segment-bytes", "1000000"},
        dir_ + "/consume.log");
    api_.port = FreePort();
    api_.process = std::make_unique<Process>(
        std::vector<std::string>{"api", "--events", "node", "--mongo", MongoDatabaseUri(db_), "--listen", "127.0.0.1:" + std::to_string(api_.port),
                                 "--keepalive", "1", "--max-streams", "4", "--max-page-size", "500", "--poll-interval",
                                 "0.05"},
        dir_ + "/api.log");
    ASSERT_TRUE(WaitUntil([] { return HttpGet(api_.url() + "/readyz").first == 200; }, seconds(30)))
        << api_.process->Log();
    // Everything stored: the JSON list reaches the end with every dataset record.
    ASSERT_TRUE(WaitUntil([] { return ListAll("").size() >= dataset_.size(); }, seconds(120)))
        << consume_.process->Log();
  }

  static void TearDownTestSuite() {
    api_.process.reset();
    consume_.process.reset();
  }

  static void BuildDataset() {
    casper::Classifier classifier;
    std::vector<RecordedEvent> v2;
    for (const auto& e : ReadRecording(RecordingsDir() + "/v2/events.stream")) {
      if (e.id) v2.push_back(e);
    }
    dataset_.push_back({kA, "events", std::nullopt, "ApiVersion", "2.0.0", kT0 - 1, R"({"ApiVersion":"2.0.0"})", {}});
    for (std::uint32_t id = 0; id < 200; ++id) {
      const auto& e = v2[id % v2.size()];
      const std::string type = classifier.Classify(e.data).event_type;
      dataset_.push_back({kA, "events", id, type, id < 100 ? "2.0.0" : "2.0.1", kT0 + 10 * id, e.data,
                          audit::ExtractFilterKeys(type, e.data)});
      if (id == 99) {
        dataset_.push_back({kA, "events", std::nullopt, "ApiVersion", "2.0.1", kT0 + 10 * id + 5,
                            R"({"ApiVersion":"2.0.1"})", {}});
      }
    }
    for (std::string stream : {"main", "deploys", "sigs"}) {
      const auto recording = ReadRecording(RecordingsDir() + "/v1/" + stream + ".stream");
      std::string api;
      for (const auto& e : recording) {
        const std::string type = classifier.Classify(e.data).event_type;
        if (!e.id) {
          api = classifier.Classify(e.data).api_version;
          dataset_.push_back({kB, stream, std::nullopt, type, api, kT0 - 2, e.data, {}});
          continue;
        }
        dataset_.push_back({kB, stream, *e.id, type, api, kT0 + 5 + 10 * static_cast<std::int64_t>(*e.id), e.data,
                            audit::ExtractFilterKeys(type, e.data)});
      }
    }
  }

  // Every event of the JSON list for `query`, following the cursor to the end.
  static std::vector<nlohmann::json> ListAll(const std::string& query, int limit = 500) {
    std::vector<nlohmann::json> out;
    std::string cursor;
    for (int page = 0; page < 1000; ++page) {
      std::string url = api_.url() + "/api/v1/events?limit=" + std::to_string(limit) + query;
      if (!cursor.empty()) url += "&cursor=" + cursor;
      auto [status, body] = HttpGet(url);
      if (status != 200) {
        ADD_FAILURE() << url << " -> " << status << " " << body;
        return out;
      }
      auto j = nlohmann::json::parse(body);
      for (auto& e : j["events"]) out.push_back(e);
      cursor = j["next_cursor"].get<std::string>();
      if (j["caught_up"].get<bool>()) break;
    }
    return out;
  }

  // Ids (source|stream|id) of dataset records matching `pred`, in the replay order (receive time).
  static std::vector<std::string> Expected(const std::function<bool(const Rec&)>& pred) {
    std::vector<const Rec*> matching;
    for (const auto& r : dataset_) {
      if (r.id && pred(r)) matching.push_back(&r);
    }
    // The replay order: receive time, then source, stream and id.
    std::sort(matching.begin(), matching.end(), [](const Rec* a, const Rec* b) {
      return std::tie(a->ms, a->source, a->stream, *a->id) < std::tie(b->ms, b->source, b->stream, *b->id);
    });
    std::vector<std::string> out;
    for (const Rec* r : matching) out.push_back(r->source + "|" + r->stream + "|" + std::to_string(*r->id));
    return out;
  }

  static std::vector<std::string> Keys(const std::vector<nlohmann::json>& events, bool with_api_versions = false) {
    std::vector<std::string> out;
    for (const auto& e : events) {
      if (e["event_id"].is_null() && !with_api_versions) continue;
      out.push_back(e["source"].get<std::string>() + "|" + e["stream"].get<std::string>() + "|" +
                    (e["event_id"].is_null() ? "-" : std::to_string(e["event_id"].get<std::uint64_t>())));
    }
    return out;
  }

  static SseResult Stream(const std::string& path_and_query, std::chrono::milliseconds idle = seconds(5),
                          const std::function<bool(const SseResult&)>& stop = {}) {
    SseResult result;
    std::mutex mutex;
    FrameCollector collector(result, &mutex);
    sse::ClientOptions options;
    options.idle_timeout = idle;
    result.result = sse::Stream(api_.url() + path_and_query, collector, options, [&] {
      if (!stop) return false;
      std::lock_guard lock(mutex);
      return stop(result);
    });
    return result;
  }

  static const Rec& Find(const std::string& source, std::uint32_t id, const std::string& stream = "events") {
    for (const auto& r : dataset_) {
      if (r.source == source && r.stream == stream && r.id == id) return r;
    }
    throw std::runtime_error("no such record");
  }

  static inline std::string dir_;
  static inline std::string prefix_;
  static inline std::string db_;
  static inline Service consume_;
  static inline Service api_;
  static inline std::vector<Rec> dataset_;
};

TEST_F(AuditApi, SseReplayFramingAndApiVersionInjection) {
  SseResult r = Stream("/events?source=" + UrlEncode(kA) + "&max_events=200");
  EXPECT_EQ(r.result.end, sse::StreamEnd::kClosed) << sse::ToString(r.result.end);
  ASSERT_GE(r.frames.size(), 202u);
  // A node's stream: ApiVersion first (no id), then data-then-id frames.
  EXPECT_EQ(r.frames[0].data, R"({"ApiVersion":"2.0.0"})");
  EXPECT_FALSE(r.frames[0].id);
  std::uint32_t expect = 0;
  bool injected = false;
  for (std::size_t i = 1; i < r.frames.size(); ++i) {
    const Frame& f = r.frames[i];
    if (!f.id) {
      EXPECT_EQ(f.data, R"({"ApiVersion":"2.0.1"})") << "frame " << i;
      EXPECT_EQ(expect, 100u) << "ApiVersion injected where the protocol version changes";
      injected = true;
      continue;
    }
    ASSERT_EQ(*f.id, std::to_string(expect));
    EXPECT_EQ(f.data, Find(kA, expect).payload) << "payload of " << expect << " is not byte-identical";
    EXPECT_EQ(f.raw, "data:" + f.data + "\nid:" + *f.id + "\n");
    ++expect;
  }
  EXPECT_TRUE(injected);
  EXPECT_EQ(expect, 200u);
  EXPECT_EQ(r.frames.size(), 202u);
}

TEST_F(AuditApi, MaxEventsIsExact) {
  for (std::uint64_t n : {1u, 7u, 64u, 199u}) {
    SCOPED_TRACE(n);
    SseResult r = Stream("/events?source=" + UrlEncode(kA) + "&max_events=" + std::to_string(n));
    EXPECT_EQ(r.result.end, sse::StreamEnd::kClosed);
    EXPECT_EQ(r.Events().size(), n);
    EXPECT_EQ(r.comments, 0);
  }
  // Across sources and without a source filter too.
  SseResult all = Stream("/events?max_events=150&to_time=" + time::FormatRfc3339Millis(kT0 + 5000));
  EXPECT_EQ(all.Events().size(), 150u);
}

TEST_F(AuditApi, StartFromForOneSource) {
  SseResult r = Stream("/events?source=" + UrlEncode(kA) + "&start_from=150&max_events=10");
  ASSERT_EQ(r.Events().size(), 10u);
  EXPECT_EQ(r.frames.front().data, R"({"ApiVersion":"2.0.1"})");
  for (std::uint32_t i = 0; i < 10; ++i) EXPECT_EQ(*r.Events()[i].id, std::to_string(150 + i));
  // A 1.x endpoint: the node-wide id sequence filtered to main.
  auto expected = Expected([](const Rec& x) { return x.source == kB && x.stream == "main" && *x.id >= 10; });
  SseResult main = Stream("/events/main?source=" + UrlEncode(kB) + "&start_from=10&max_events=" +
                          std::to_string(expected.size()));
  std::vector<std::string> got;
  for (const auto& f : main.Events()) got.push_back(kB + "|main|" + *f.id);
  EXPECT_EQ(got, expected);
  // JSON too.
  auto json = Keys(ListAll("&source=" + UrlEncode(kA) + "&start_from=190"));
  EXPECT_EQ(json, Expected([](const Rec& x) { return x.source == kA && *x.id >= 190; }));
  // Ids are per node: with several sources, start_from needs one.
  auto [status, body] = HttpGet(api_.url() + "/events?start_from=5");
  EXPECT_EQ(status, 400);
  EXPECT_EQ(nlohmann::json::parse(body)["parameter"], "start_from") << body;
  auto [status2, body2] = HttpGet(api_.url() + "/events?start_from=5&source=a&source=b");
  EXPECT_EQ(status2, 400);
  EXPECT_NE(body2.find("start_from"), std::string::npos);
}

TEST_F(AuditApi, EveryFilter) {
  const std::string a = "&source=" + UrlEncode(kA);
  const std::string b = "&source=" + UrlEncode(kB);
  const std::string to_2024 = "&to_time=" + time::FormatRfc3339Millis(kT0 + 100000);
  // source (repeatable) and type (repeatable)
  EXPECT_EQ(Keys(ListAll(b)), Expected([](const Rec& x) { return x.source == kB; }));
  EXPECT_EQ(Keys(ListAll(a + b + to_2024)), Expected([](const Rec&) { return true; }));
  EXPECT_EQ(Keys(ListAll(a + "&type=BlockAdded&type=Step")),
            Expected([](const Rec& x) { return x.source == kA && (x.type == "BlockAdded" || x.type == "Step"); }));
  // from_time / to_time (inclusive)
  EXPECT_EQ(Keys(ListAll("&from_time=" + time::FormatRfc3339Millis(kT0 + 500) +
                         "&to_time=" + time::FormatRfc3339Millis(kT0 + 800))),
            Expected([](const Rec& x) { return x.ms >= kT0 + 500 && x.ms <= kT0 + 800; }));
  // payload keys, each against the dataset
  auto first_with = [](const std::function<bool(const Rec&)>& pred) -> const Rec& {
    for (const auto& r : dataset_) {
      if (r.id && pred(r)) return r;
    }
    throw std::runtime_error("dataset lacks a record for this filter");
  };
  const Rec& block = first_with([](const Rec& x) { return x.type == "BlockAdded" && x.source == kA; });
  EXPECT_EQ(Keys(ListAll("&block_hash=" + *block.keys.block_hash + to_2024)),
            Expected([&](const Rec& x) { return x.keys.block_hash == block.keys.block_hash; }));
  EXPECT_EQ(Keys(ListAll("&block_height=" + std::to_string(*block.keys.block_height) + to_2024)),
            Expected([&](const Rec& x) { return x.keys.block_height == block.keys.block_height; }));
  const Rec& sig = first_with([](const Rec& x) { return x.type == "FinalitySignature" && x.keys.public_key; });
  EXPECT_EQ(Keys(ListAll("&public_key=" + *sig.keys.public_key + to_2024)),
            Expected([&](const Rec& x) { return x.keys.public_key == sig.keys.public_key; }));
  const Rec& deploy = first_with([](const Rec& x) { return x.type == "DeployAccepted"; });
  const auto by_deploy = Expected([&](const Rec& x) { return x.keys.transaction_hash == deploy.keys.transaction_hash; });
  EXPECT_EQ(Keys(ListAll("&deploy_hash=" + *deploy.keys.transaction_hash + to_2024)), by_deploy);
  EXPECT_EQ(Keys(ListAll("&transaction_hash=" + *deploy.keys.transaction_hash + to_2024)), by_deploy);
  const Rec& txn = first_with([](const Rec& x) { return x.type == "TransactionAccepted" && x.keys.account; });
  EXPECT_EQ(Keys(ListAll("&account=" + *txn.keys.account + to_2024)),
            Expected([&](const Rec& x) { return x.keys.account == txn.keys.account; }));
  // The same filters over SSE (1.x-style paths select a topic).
  const auto sigs = Expected([](const Rec& x) { return x.source == kA && x.Route() == "sigs"; });
  SseResult r = Stream("/events/sigs?source=" + UrlEncode(kA) + "&max_events=" + std::to_string(sigs.size()));
  std::vector<std::string> got;
  for (const auto& f : r.Events()) got.push_back(kA + "|events|" + *f.id);
  EXPECT_EQ(got, sigs);
  const auto blocks = Expected([&](const Rec& x) { return x.keys.block_hash == block.keys.block_hash; });
  SseResult rb = Stream("/events?block_hash=" + *block.keys.block_hash + "&max_events=" + std::to_string(blocks.size()));
  EXPECT_EQ(rb.Events().size(), blocks.size());
  // Stored ApiVersion messages are records of the JSON list.
  auto with_versions = Keys(ListAll(a + "&type=ApiVersion"), true);
  EXPECT_EQ(with_versions.size(), 2u);
}

TEST_F(AuditApi, BadParametersAndPathsAreJsonErrors) {
  for (const std::string query : {"/events?nope=1", "/events?max_events=0", "/events?type=Bad-Type",
                                  "/events?block_hash=xyz", "/events?from_time=yesterday", "/api/v1/events?limit=501",
                                  "/api/v1/events?cursor=garbage", "/events/main?start_from=abc&source=x"}) {
    SCOPED_TRACE(query);
    auto [status, body] = HttpGet(api_.url() + query);
    EXPECT_EQ(status, 400);
    auto j = nlohmann::json::parse(body);
    EXPECT_EQ(j["code"], 400);
    const std::string parameter = j["parameter"].get<std::string>();
    EXPECT_NE(j["message"].get<std::string>().find(parameter), std::string::npos) << body;
  }
  auto [status, body] = HttpGet(api_.url() + "/events/other");
  EXPECT_EQ(status, 404);
  EXPECT_EQ(nlohmann::json::parse(body)["code"], 404);
  // A cursor only continues the query it came from.
  auto page = nlohmann::json::parse(HttpGet(api_.url() + "/api/v1/events?limit=3&type=Step").second);
  auto [s2, b2] = HttpGet(api_.url() + "/api/v1/events?limit=3&type=Fault&cursor=" + page["next_cursor"].get<std::string>());
  EXPECT_EQ(s2, 400) << b2;
}

TEST_F(AuditApi, PayloadByIdIsByteExact) {
  for (std::uint32_t id : {0u, 17u, 150u}) {
    const Rec& r = Find(kA, id);
    auto [status, body] = HttpGet(api_.url() + "/api/v1/events/" + UrlEncode(kA) + "/events/" + std::to_string(id));
    EXPECT_EQ(status, 200);
    EXPECT_EQ(body, r.payload);
  }
  const Rec& b = Find(kB, 20, "sigs");
  EXPECT_EQ(HttpGet(api_.url() + "/api/v1/events/" + UrlEncode(kB) + "/sigs/20").second, b.payload);
  auto [s404, b404] = HttpGet(api_.url() + "/api/v1/events/" + UrlEncode(kA) + "/events/4000000");
  EXPECT_EQ(s404, 404);
  EXPECT_EQ(nlohmann::json::parse(b404)["code"], 404);
  auto [s400, b400] = HttpGet(api_.url() + "/api/v1/events/" + UrlEncode(kA) + "/events/x1");
  EXPECT_EQ(s400, 400);
  EXPECT_EQ(nlohmann::json::parse(b400)["parameter"], "id");
  // The JSON list embeds the same bytes, with the sha256 of the original.
  auto listed = ListAll("&source=" + UrlEncode(kA) + "&start_from=17", 1);
  ASSERT_FALSE(listed.empty());
  EXPECT_EQ(listed.front()["payload"].dump(), nlohmann::json::parse(Find(kA, 17).payload).dump());
  EXPECT_EQ(listed.front()["sha256"], audit::Sha256Hex(Find(kA, 17).payload));
}

TEST_F(AuditApi, LiveHandOverHasNoGapAndNoDuplicate) {
  const std::string source = "http://live-" + prefix_;
  casper::Classifier classifier;
  const auto sig = ReadRecording(RecordingsDir() + "/v2/events.stream")[1];  // a FinalitySignature
  ASSERT_EQ(classifier.Classify(sig.data).event_type, "FinalitySignature");
  Writer writer(prefix_);
  auto write = [&](std::uint32_t from, std::uint32_t to) {
    for (std::uint32_t id = from; id < to; ++id) {
      writer.Write({source, "events", id, "FinalitySignature", "2.0.0",
                    time::UnixMillis(time::Now()), sig.data, {}});
    }
    writer.Flush();
  };
  write(0, 100);
  constexpr std::size_t kTotal = 600;
  std::thread feeder([&] {
    // Keep writing while the stream replays history and goes live.
    for (std::uint32_t id = 100; id < kTotal; id += 25) {
      write(id, id + 25);
      std::this_thread::sleep_for(milliseconds(40));
    }
  });
  SseResult r = Stream("/events?source=" + UrlEncode(source), seconds(10),
                       [](const SseResult& s) { return s.Events().size() >= kTotal; });
  feeder.join();
  const auto events = r.Events();
  ASSERT_EQ(events.size(), kTotal) << sse::ToString(r.result.end);
  for (std::size_t i = 0; i < kTotal; ++i) ASSERT_EQ(*events[i].id, std::to_string(i)) << "at " << i;
  // Keep-alives while idle (the server was started with --keepalive 1).
  SseResult idle = Stream("/events?source=" + UrlEncode(source) + "&start_from=" + std::to_string(kTotal), seconds(5),
                          [](const SseResult& s) { return s.comments >= 2; });
  EXPECT_GE(idle.comments, 2);
  EXPECT_TRUE(idle.Events().empty());
}

TEST_F(AuditApi, LiveMaxEventsEndsExactlyAfterNewEvents) {
  const std::string source = "http://livemax-" + prefix_;
  const auto sig = ReadRecording(RecordingsDir() + "/v2/events.stream")[1];
  std::thread feeder([&] {
    std::this_thread::sleep_for(milliseconds(500));
    Writer writer(prefix_);
    for (std::uint32_t id = 0; id < 50; ++id) {
      writer.Write({source, "events", id, "FinalitySignature", "2.0.0", time::UnixMillis(time::Now()), sig.data, {}});
    }
    writer.Flush();
  });
  SseResult r = Stream("/events?source=" + UrlEncode(source) + "&max_events=30", seconds(30));
  feeder.join();
  EXPECT_EQ(r.result.end, sse::StreamEnd::kClosed);
  ASSERT_EQ(r.Events().size(), 30u);
  EXPECT_EQ(*r.Events().back().id, "29");
}

TEST_F(AuditApi, CursorPaginationIsStableUnderConcurrentInserts) {
  const std::string source = "http://pages-" + prefix_;
  const auto sig = ReadRecording(RecordingsDir() + "/v2/events.stream")[1];
  Writer writer(prefix_);
  auto write = [&](std::uint32_t from, std::uint32_t to) {
    for (std::uint32_t id = from; id < to; ++id) {
      writer.Write({source, "events", id, "FinalitySignature", "2.0.0", time::UnixMillis(time::Now()), sig.data, {}});
    }
    writer.Flush();
  };
  write(0, 300);
  ASSERT_TRUE(WaitUntil([&] { return ListAll("&source=" + UrlEncode(source)).size() >= 300; }, seconds(60)));
  std::atomic<bool> writing{true};
  std::thread feeder([&] {
    for (std::uint32_t id = 300; id < 600; id += 30) {
      write(id, id + 30);
      std::this_thread::sleep_for(milliseconds(30));
    }
    writing = false;
  });
  std::vector<std::string> ids;
  std::string cursor;
  for (int page = 0; page < 2000; ++page) {
    std::string url = api_.url() + "/api/v1/events?limit=17&source=" + UrlEncode(source);
    if (!cursor.empty()) url += "&cursor=" + cursor;
    auto [status, body] = HttpGet(url);
    ASSERT_EQ(status, 200) << body;
    auto j = nlohmann::json::parse(body);
    for (auto& e : j["events"]) ids.push_back(std::to_string(e["event_id"].get<std::uint64_t>()));
    cursor = j["next_cursor"].get<std::string>();
    if (j["caught_up"].get<bool>() && !writing && ids.size() >= 600) break;
    if (j["caught_up"].get<bool>()) std::this_thread::sleep_for(milliseconds(50));
  }
  feeder.join();
  ASSERT_EQ(ids.size(), 600u);
  for (std::size_t i = 0; i < ids.size(); ++i) ASSERT_EQ(ids[i], std::to_string(i)) << "at " << i;
}

TEST_F(AuditApi, ConcurrentStreamLimitAnswers503) {
  const std::string idle = "/events?source=" + UrlEncode("http://nobody:1");
  std::atomic<bool> stop{false};
  std::vector<std::thread> streams;
  for (int i = 0; i < 4; ++i) {
    streams.emplace_back([&] { Stream(idle, seconds(30), [&](const SseResult&) { return stop.load(); }); });
  }
  auto open_streams = [] {
    auto [status, body] = HttpGet(api_.url() + "/metrics");
    auto pos = body.find("\nces_api_replay_streams ");
    return pos == std::string::npos ? -1.0 : std::stod(body.substr(pos + 24));
  };
  ASSERT_TRUE(WaitUntil([&] { return open_streams() >= 4; }, seconds(10)));
  auto [status, body] = HttpGet(api_.url() + idle);
  EXPECT_EQ(status, 503);
  EXPECT_EQ(nlohmann::json::parse(body)["code"], 503) << body;
  stop = true;
  for (auto& t : streams) t.join();
  ASSERT_TRUE(WaitUntil([&] { return open_streams() == 0; }, seconds(10)));
  EXPECT_EQ(HttpGet(api_.url() + "/api/v1/sources").first, 200);
}

}  // namespace
}  // namespace ces::test
