// Live SSE fan-out against the local stack: records produced into Kafka reach several SSE clients of a
// real server (AsyncServer + LiveHub + ReplayApi, in process) byte for byte in the node's framing; the
// filters; a client that stops reading is disconnected while the others get everything; 503 at the
// subscriber limit; and a start_from replay from the audit store (filled by audit-consume) handed over
// to the hub without a gap or a duplicate. Clients parse the streams with our own SSE parser.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "ces/api/replay_api.hpp"
#include "ces/audit/keys.hpp"
#include "ces/audit/record.hpp"
#include "ces/casper/event.hpp"
#include "ces/common/metrics.hpp"
#include "ces/common/time.hpp"
#include "ces/http/async_server.hpp"
#include "ces/ingest/record.hpp"
#include "ces/kafka/client.hpp"
#include "ces/kafka/topics.hpp"
#include "ces/legacy/translate.hpp"
#include "ces/live/hub.hpp"
#include "ces/mongo/audit_store.hpp"
#include "ces/sse/client.hpp"
#include "test_support.hpp"

namespace ces::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using live::LiveHub;
using live::LiveHubOptions;
using api::ReplayApi;
using api::ReplayApiOptions;

constexpr std::size_t kMaxSubscribers = 8;

struct Rec {
  std::string source;
  std::uint32_t id = 0;
  std::string type;
  std::string payload;
  mongo::FilterKeys keys;
  std::string Route() const { return std::string(casper::StreamName(casper::RouteByType(type))); }
};

struct Frame {
  std::string data;
  std::optional<std::string> id;
};

// An SSE client on its own thread.
class Client : public sse::Handler {
 public:
  explicit Client(std::string url) : url_(std::move(url)) {
    thread_ = std::thread([this] {
      sse::ClientOptions options;
      options.idle_timeout = seconds(30);
      auto result = sse::Stream(url_, *this, options, [this] { return stop_.load(); });
      std::lock_guard lock(mutex_);
      result_ = result;
      done_ = true;
    });
  }
  ~Client() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  void OnEvent(const sse::Event& e) override {
    std::lock_guard lock(mutex_);
    frames_.push_back({std::string(e.data), e.id ? std::optional<std::string>(std::string(*e.id)) : std::nullopt});
  }
  std::vector<Frame> Frames() const {
    std::lock_guard lock(mutex_);
    return frames_;
  }
  std::vector<Frame> Events() const {
    std::vector<Frame> out;
    for (auto& f : Frames()) {
      if (f.id) out.push_back(f);
    }
    return out;
  }
  bool Done() const {
    std::lock_guard lock(mutex_);
    return done_;
  }
  sse::StreamResult Result() const {
    std::lock_guard lock(mutex_);
    return result_;
  }

 private:
  std::string url_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::vector<Frame> frames_;
  sse::StreamResult result_;
  bool done_ = false;
  std::thread thread_;
};

class LiveApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = TempDir();
    prefix_ = UniquePrefix();
    db_ = "api_live_" + prefix_.substr(0, prefix_.size() - 1);
    kafka::EnsureTopics(RequireEnv("KAFKA_BOOTSTRAP"), {}, kafka::EventTopicSpecs(prefix_, {2, -1, std::nullopt}));
    producer_ = std::make_unique<kafka::Producer>(RequireEnv("KAFKA_BOOTSTRAP"));

    casper::Classifier classifier;
    for (const auto& e : ReadRecording(RecordingsDir() + "/v2/events.stream")) {
      if (!e.id) continue;
      const std::string type = classifier.Classify(e.data).event_type;
      recording_.push_back({"", 0, type, e.data, audit::ExtractFilterKeys(type, e.data)});
    }
    ASSERT_GE(recording_.size(), 10u);

    consume_port_ = FreePort();
    consume_ = std::make_unique<Process>(
        std::vector<std::string>{"audit-consume", "--kafka", RequireEnv("KAFKA_BOOTSTRAP"), "--topic-prefix", prefix_,
                                 "--mongo", MongoDatabaseUri(db_), "--listen", "127.0.0.1:" + std::to_string(consume_port_),
                                 "--group", prefix_ + "audit", "--batch-linger", "0.05", "--kafka-setting",
                                 "session.timeout.ms=6000", "--link-events", "16", "--segment-events", "64", "--segment-bytes", "4000000"},
        dir_ + "/consume.log");

    registry_ = std::make_unique<metrics::Registry>();
    mongo::StoreOptions store_options;
    store_options.uri = MongoDatabaseUri(db_);
    store_ = std::make_unique<mongo::AuditStore>(store_options);
    LiveHubOptions hub_options;
    hub_options.kafka_bootstrap = RequireEnv("KAFKA_BOOTSTRAP");
    hub_options.topic_prefix = prefix_;
    hub_options.kafka_settings = {{"session.timeout.ms", "6000"}};
    hub_options.keepalive = seconds(1);
    hub_options.max_subscribers = kMaxSubscribers;
    hub_options.subscriber_buffer_bytes = 1024 * 1024;
    hub_ = std::make_unique<LiveHub>(hub_options, *registry_);
    ReplayApiOptions replay_options;
    replay_options.topic_prefix = prefix_;
    replay_options.all_prefixes = false;
    replay_options.keepalive = seconds(1);
    replay_options.poll_interval = milliseconds(50);
    replay_ = std::make_unique<ReplayApi>(*store_, replay_options, *registry_, hub_.get());
    http::AsyncServerOptions server_options;
    server_options.registry = registry_.get();
    server_ = std::make_unique<http::AsyncServer>(server_options);
    http::AddObservabilityRoutes(*server_, *registry_, [](std::string& reason) {
      return hub_->Ready(reason) && replay_->Ready(reason);
    });
    replay_->Register(*server_);
    hub_->Start();
    replay_->Start();
    server_->Start();
    ASSERT_TRUE(WaitUntil([] { return HttpGet(Url("/readyz")).first == 200; }, seconds(60)))
        << HttpGet(Url("/readyz")).second;
  }

  static void TearDownTestSuite() {
    server_->Stop();
    hub_->Stop();
    replay_->Stop();
    server_.reset();
    replay_.reset();
    hub_.reset();
    store_.reset();
    consume_.reset();
    producer_.reset();
  }

  void SetUp() override {
    // Subscribers of the previous test are gone.
    ASSERT_TRUE(WaitUntil([] { return hub_->Subscribers() == 0; }, seconds(10)));
  }

  static std::string Url(const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(server_->Port()) + path;
  }

  static void Produce(const Rec& r, std::int64_t received_ms) {
    ingest::EventMeta meta{r.source, "events", r.id, "2.0.0", r.type, time::FormatRfc3339Millis(received_ms)};
    ASSERT_TRUE(producer_->Produce(prefix_ + r.Route(), ingest::RecordKey(r.source, "events"), r.payload,
                                   ingest::RecordHeaders(meta), [](const kafka::DeliveryReport& d) {
                                     if (!d.ok) failed_ = true;
                                   }));
  }
  static void Flush() {
    ASSERT_TRUE(producer_->Flush(seconds(60)));
    ASSERT_FALSE(failed_.load());
  }

  // `count` records of the recording under `source` with ids from `first_id`.
  static std::vector<Rec> Records(const std::string& source, std::uint32_t first_id, std::size_t count) {
    std::vector<Rec> out;
    for (std::size_t i = 0; i < count; ++i) {
      Rec r = recording_[i % recording_.size()];
      r.source = source;
      r.id = first_id + static_cast<std::uint32_t>(i);
      out.push_back(std::move(r));
    }
    return out;
  }

  static double Metric(const std::string& line_prefix) {
    const std::string text = registry_->Render();
    const auto pos = text.find("\n" + line_prefix + " ");
    if (pos == std::string::npos) return 0;
    return std::stod(text.substr(pos + line_prefix.size() + 2));
  }

  static inline std::string dir_;
  static inline std::string prefix_;
  static inline std::string db_;
  static inline std::vector<Rec> recording_;
  static inline std::unique_ptr<kafka::Producer> producer_;
  static inline std::atomic<bool> failed_{false};
  static inline std::uint16_t consume_port_ = 0;
  static inline std::unique_ptr<Process> consume_;
  static inline std::unique_ptr<metrics::Registry> registry_;
  static inline std::unique_ptr<mongo::AuditStore> store_;
  static inline std::unique_ptr<LiveHub> hub_;
  static inline std::unique_ptr<ReplayApi> replay_;
  static inline std::unique_ptr<http::AsyncServer> server_;
};

TEST_F(LiveApi, EventsReachEverySubscriberByteExactWithFilters) {
  const std::string source = "http://fanout:7777";
  const auto records = Records(source, 500, 60);
  std::optional<std::string> account;
  std::optional<std::string> block_hash;
  for (const auto& r : records) {
    if (!account && r.keys.account) account = r.keys.account;
    if (!block_hash && r.keys.block_hash) block_hash = r.keys.block_hash;
  }
  ASSERT_TRUE(account && block_hash);
  const std::string src = "source=" + UrlEncode(source);
  std::vector<std::unique_ptr<Client>> all;
  for (int i = 0; i < 3; ++i) all.push_back(std::make_unique<Client>(Url("/events?" + src)));
  Client sigs(Url("/events/sigs?" + src));
  Client by_type(Url("/events?" + src + "&type=BlockAdded&type=TransactionAccepted"));
  Client by_account(Url("/events?" + src + "&account=" + *account));
  Client by_block(Url("/events?" + src + "&block_hash=" + *block_hash));
  ASSERT_TRUE(WaitUntil([] { return hub_->Subscribers() == 7; }, seconds(10)));

  const auto t0 = time::UnixMillis(time::Now());
  for (const auto& r : records) Produce(r, t0);
  Flush();

  // `legacy`: a 1.x stream, whose events are the 1.x form of the node's (ces::legacy).
  auto expect = [&](const Client& c, const std::function<bool(const Rec&)>& want, const char* name,
                    bool legacy = false) {
    std::vector<const Rec*> wanted;
    for (const auto& r : records) {
      if (want(r)) wanted.push_back(&r);
    }
    ASSERT_FALSE(wanted.empty()) << name;
    ASSERT_TRUE(WaitUntil([&] { return c.Events().size() >= wanted.size(); }, seconds(30)))
        << name << ": " << c.Events().size() << " of " << wanted.size();
    std::this_thread::sleep_for(milliseconds(200));
    const auto events = c.Events();
    ASSERT_EQ(events.size(), wanted.size()) << name;
    // Order per partition is Kafka's; across topics it is arrival order: compare as a set keyed by id.
    std::map<std::string, std::string> by_id;
    for (const auto& e : events) by_id[*e.id] = e.data;
    ASSERT_EQ(by_id.size(), wanted.size()) << name << ": duplicates";
    for (const Rec* r : wanted) {
      const std::string sent = legacy ? legacy::ToLegacy(r->payload).payload : r->payload;
      EXPECT_EQ(by_id[std::to_string(r->id)], sent) << name << " id " << r->id;
    }
    const auto frames = c.Frames();
    ASSERT_FALSE(frames.empty());
    EXPECT_EQ(frames.front().data, R"({"ApiVersion":"2.0.0"})") << name;
    EXPECT_FALSE(frames.front().id) << name;
  };
  for (auto& c : all) expect(*c, [](const Rec&) { return true; }, "all");
  expect(sigs, [](const Rec& r) { return r.Route() == "sigs"; }, "sigs", true);
  expect(by_type, [](const Rec& r) { return r.type == "BlockAdded" || r.type == "TransactionAccepted"; }, "type");
  expect(by_account, [&](const Rec& r) { return r.keys.account == account; }, "account");
  expect(by_block, [&](const Rec& r) { return r.keys.block_hash == block_hash; }, "block_hash");
  // Same route events of one partition arrive in offset order.
  std::vector<std::uint32_t> sig_ids;
  for (const auto& e : sigs.Events()) sig_ids.push_back(static_cast<std::uint32_t>(std::stoul(*e.id)));
  EXPECT_TRUE(std::is_sorted(sig_ids.begin(), sig_ids.end()));
}

TEST_F(LiveApi, MaxEventsEndsTheStream) {
  const std::string source = "http://max:7777";
  Client c(Url("/events?source=" + UrlEncode(source) + "&max_events=5"));
  ASSERT_TRUE(WaitUntil([] { return hub_->Subscribers() == 1; }, seconds(10)));
  for (const auto& r : Records(source, 1, 12)) Produce(r, time::UnixMillis(time::Now()));
  Flush();
  ASSERT_TRUE(WaitUntil([&] { return c.Done(); }, seconds(30)));
  EXPECT_EQ(c.Events().size(), 5u);
  EXPECT_EQ(c.Result().end, sse::StreamEnd::kClosed);
}

TEST_F(LiveApi, ClientThatStopsReadingIsDisconnectedOthersGetEverything) {
  const std::string source = "http://slow:7777";
  const double dropped_before = Metric("ces_api_sse_dropped_subscribers_total{reason=\"slow\"}");
  // A client that sends its request and never reads (small receive buffer).
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  int small = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server_->Port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const std::string request = "GET /events HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  Client fast(Url("/events?source=" + UrlEncode(source)));
  ASSERT_TRUE(WaitUntil([] { return hub_->Subscribers() == 2; }, seconds(10)));

  // ~16 MB of events at ~32 MB/s: far more than the socket buffers and the 1 MiB subscriber buffer,
  // easily read by a client that reads.
  std::vector<Rec> records;
  const std::string filler(32 * 1024, 'f');
  for (std::uint32_t i = 0; i < 500; ++i) {
    Rec r{source, 9000 + i, "Step", R"({"Step":{"era_id":)" + std::to_string(i) + R"(,"filler":")" + filler + "\"}}", {}};
    records.push_back(r);
  }
  for (const auto& r : records) {
    Produce(r, time::UnixMillis(time::Now()));
    std::this_thread::sleep_for(milliseconds(1));
  }
  Flush();
  ASSERT_TRUE(WaitUntil([&] { return fast.Events().size() >= records.size(); }, seconds(60)))
      << fast.Events().size();
  const auto events = fast.Events();
  ASSERT_EQ(events.size(), records.size());
  for (std::size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(events[i].data, records[i].payload);
    EXPECT_EQ(*events[i].id, std::to_string(records[i].id));
  }
  EXPECT_TRUE(WaitUntil(
      [&] { return Metric("ces_api_sse_dropped_subscribers_total{reason=\"slow\"}") >= dropped_before + 1; },
      seconds(10)));
  EXPECT_TRUE(WaitUntil([] { return hub_->Subscribers() == 1; }, seconds(10)));
  close(fd);
}

TEST_F(LiveApi, SubscriberLimitAnswers503) {
  std::vector<std::unique_ptr<Client>> clients;
  for (std::size_t i = 0; i < kMaxSubscribers; ++i) clients.push_back(std::make_unique<Client>(Url("/events")));
  ASSERT_TRUE(WaitUntil([] { return hub_->Subscribers() == kMaxSubscribers; }, seconds(10)));
  auto [status, body] = HttpGet(Url("/events/main"));
  EXPECT_EQ(status, 503);
  EXPECT_NE(body.find("\"code\":503"), std::string::npos) << body;
  clients.clear();
  ASSERT_TRUE(WaitUntil([] { return hub_->Subscribers() == 0; }, seconds(10)));
  // A place is free again.
  Client again(Url("/events"));
  EXPECT_TRUE(WaitUntil([] { return hub_->Subscribers() == 1; }, seconds(10)));
}

TEST_F(LiveApi, StartFromReplaysTheStoreThenHandsOverWithoutGapOrDuplicate) {
  const std::string source = "http://handover:7777";
  const double handovers_before = Metric("ces_api_sse_handovers_total");
  const auto history = Records(source, 1000, 120);
  auto t = time::UnixMillis(time::Now());
  for (const auto& r : history) Produce(r, t++);
  Flush();
  // Stored by audit-consume.
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto [status, body] = HttpGet(Url("/api/v1/events?limit=500&source=" + UrlEncode(source)));
        return status == 200 && body.find("\"event_id\":1119") != std::string::npos;
      },
      seconds(60)))
      << consume_->Log();

  const std::size_t total = 420;
  Client c(Url("/events?source=" + UrlEncode(source) + "&start_from=1000&max_events=" + std::to_string(total)));
  // Meanwhile the node keeps sending.
  const auto live = Records(source, 1120, total - history.size());
  std::thread writer([&] {
    auto ms = time::UnixMillis(time::Now());
    for (const auto& r : live) {
      Produce(r, std::max(ms++, time::UnixMillis(time::Now())));
      std::this_thread::sleep_for(milliseconds(5));
    }
    Flush();
  });
  writer.join();
  ASSERT_TRUE(WaitUntil([&] { return c.Done(); }, seconds(60))) << c.Events().size() << " events";
  const auto events = c.Events();
  ASSERT_EQ(events.size(), total);
  std::set<std::uint32_t> ids;
  std::map<std::uint32_t, std::string> payload_by_id;
  for (const auto& e : events) {
    const auto id = static_cast<std::uint32_t>(std::stoul(*e.id));
    EXPECT_TRUE(ids.insert(id).second) << "duplicate " << id;
    payload_by_id[id] = e.data;
  }
  EXPECT_EQ(*ids.begin(), 1000u);
  EXPECT_EQ(*ids.rbegin(), 1000u + total - 1);
  for (const auto& r : history) EXPECT_EQ(payload_by_id[r.id], r.payload);
  for (const auto& r : live) EXPECT_EQ(payload_by_id[r.id], r.payload);
  EXPECT_GE(Metric("ces_api_sse_handovers_total"), handovers_before + 1) << "the stream never left the store";
}

}  // namespace
}  // namespace ces::test
