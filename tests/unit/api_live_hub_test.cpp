// The live hub without servers: records are published directly, subscribers are in-memory sinks
// (and, for the slow-client drop, a real AsyncServer connection on loopback).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <optional>
#include <mutex>
#include <thread>

#include "ces/audit/query.hpp"
#include "ces/common/metrics.hpp"
#include "ces/common/time.hpp"
#include "ces/live/hub.hpp"

namespace ces::live {
namespace {

// A StreamSink that keeps what it is offered. `draining`: the client reads everything at once;
// otherwise the bytes stay buffered (a client that stopped reading).
class TestSink : public http::StreamSink {
 public:
  explicit TestSink(bool draining = true, std::size_t limit = 1u << 30) : draining_(draining), limit_(limit) {}
  bool Offer(std::shared_ptr<const std::string> data) override {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    if (buffered_ + data->size() > limit_) {
      CloseLocked();
      return false;
    }
    frames_.push_back(data);
    if (!draining_) buffered_ += data->size();
    return true;
  }
  using http::StreamSink::Offer;
  bool Closed() const override {
    std::lock_guard lock(mutex_);
    return closed_;
  }
  void Close(std::string final_data) override {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    final_ = final_data;
    closed_by_server_ = true;
    CloseLocked();
  }
  void Abort() override {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    aborted_ = true;
    buffered_ = 0;  // the queue is discarded
    CloseLocked();
  }
  void OnClose(std::function<void()> callback) override {
    std::unique_lock lock(mutex_);
    if (closed_) {
      lock.unlock();
      callback();
      return;
    }
    on_close_ = std::move(callback);
  }
  std::size_t Buffered() const override {
    std::lock_guard lock(mutex_);
    return buffered_;
  }
  // The client goes away.
  void Disconnect() {
    std::lock_guard lock(mutex_);
    CloseLocked();
  }
  std::string Text() const {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& f : frames_) out += *f;
    return out;
  }
  std::vector<std::shared_ptr<const std::string>> Frames() const {
    std::lock_guard lock(mutex_);
    return frames_;
  }
  bool closed_by_server() const {
    std::lock_guard lock(mutex_);
    return closed_by_server_;
  }
  bool aborted() const {
    std::lock_guard lock(mutex_);
    return aborted_;
  }

 private:
  void CloseLocked() {
    closed_ = true;
    if (on_close_) {
      auto cb = std::move(on_close_);
      on_close_ = nullptr;
      cb();
    }
  }
  mutable std::mutex mutex_;
  bool draining_;
  std::size_t limit_;
  bool closed_ = false;
  bool closed_by_server_ = false;
  bool aborted_ = false;
  std::size_t buffered_ = 0;
  std::string final_;
  std::vector<std::shared_ptr<const std::string>> frames_;
  std::function<void()> on_close_;
};

const std::string kSource = "http://10.0.0.5:9999";
const std::string kHashA = std::string(64, 'a');
const std::string kHashB = std::string(64, 'b');
const std::string kKey1 = "01" + std::string(64, '1');
const std::string kKey2 = "01" + std::string(64, '2');

std::string BlockAdded(const std::string& hash, int height, const std::string& proposer) {
  return R"({"BlockAdded":{"block_hash":")" + hash + R"(","block":{"Version2":{"hash":")" + hash +
         R"(","header":{"height":)" + std::to_string(height) + R"(,"proposer":")" + proposer + R"("}}}}})";
}
std::string DeployAccepted(const std::string& hash, const std::string& account) {
  return R"({"DeployAccepted":{"hash":")" + hash + R"(","header":{"account":")" + account + R"("}}})";
}
std::string FinalitySignature(const std::string& block_hash, const std::string& signer) {
  return R"({"FinalitySignature":{"V2":{"block_hash":")" + block_hash + R"(","block_height":7,"public_key":")" +
         signer + R"(","signature":"01ff"}}})";
}

// Every test runs with the publishing thread delivering (0) and with two fan-out threads (2).
class LiveHubTest : public ::testing::TestWithParam<std::size_t> {
 protected:
  LiveHubTest() {
    options_.keepalive = std::chrono::milliseconds(50);
    options_.max_subscribers = 100;
    options_.fanout_threads = GetParam();
  }

  // Publishes and waits until the fan-out threads (if any) have offered it to every subscriber.
  void Publish(const kafka::Message& message) {
    Hub().Publish(message);
    Hub().Flush();
  }

  LiveHub& Hub() {
    if (!hub_) hub_ = std::make_unique<LiveHub>(options_, registry_);
    return *hub_;
  }

  kafka::Message Record(const std::string& route, std::int64_t offset, const std::string& type,
                        std::optional<std::uint32_t> id, const std::string& payload,
                        const std::string& source = kSource, const std::string& version = "2.0.0") {
    kafka::Message m;
    m.topic = route;
    m.partition = 0;
    m.offset = offset;
    m.timestamp_ms = time::UnixMillis(time::Now());
    m.key = source + " events";
    m.value = payload;
    m.headers = {{"source", source}, {"stream", "events"}, {"api-version", version}, {"event-type", type},
                 {"received-at", time::FormatRfc3339(time::Now())}};
    if (id) m.headers.push_back({"event-id", std::to_string(*id)});
    return m;
  }

  std::shared_ptr<TestSink> Subscribe(const std::vector<std::pair<std::string, std::string>>& params,
                                      std::vector<std::string> routes = {}, bool draining = true,
                                      bool legacy = false, bool api_versions = true) {
    auto parsed = audit::ParseReplayQuery(params, audit::QueryKind::kStream, std::move(routes));
    EXPECT_TRUE(parsed.query) << parsed.error.message;
    auto sink = std::make_shared<TestSink>(draining);
    auto ticket = Hub().Admit();
    EXPECT_TRUE(ticket);
    LiveHub::Subscription sub;
    sub.query = *parsed.query;
    sub.legacy = legacy;
    sub.api_versions = api_versions;
    Hub().Subscribe(std::move(ticket), sink, std::move(sub));
    return sink;
  }

  static std::string Frame(const std::string& payload, std::uint32_t id) {
    return "data:" + payload + "\nid:" + std::to_string(id) + "\n\n";
  }

  metrics::Registry registry_;
  LiveHubOptions options_;
  std::unique_ptr<LiveHub> hub_;
};

TEST_P(LiveHubTest, FramesAreNodeFormatSharedAndPrecededByApiVersion) {
  Publish(Record("main", 0, "ApiVersion", std::nullopt, R"({"ApiVersion":"2.0.0"})"));
  auto a = Subscribe({});
  auto b = Subscribe({});
  const std::string payload = BlockAdded(kHashA, 5, kKey1);
  Publish(Record("main", 1, "BlockAdded", 17, payload));
  const std::string expected = "data:{\"ApiVersion\":\"2.0.0\"}\n\n" + Frame(payload, 17);
  EXPECT_EQ(a->Text(), expected);
  EXPECT_EQ(b->Text(), expected);
  // One frame object for every subscriber: queued without copying.
  ASSERT_EQ(a->Frames().size(), 2u);
  ASSERT_EQ(b->Frames().size(), 2u);
  EXPECT_EQ(a->Frames()[1].get(), b->Frames()[1].get());
  EXPECT_EQ(a->Frames()[0].get(), b->Frames()[0].get());
}

TEST_P(LiveHubTest, NewVersionIsAnnouncedBeforeTheEvent) {
  auto a = Subscribe({});
  const std::string p1 = BlockAdded(kHashA, 5, kKey1);
  const std::string p2 = BlockAdded(kHashB, 6, kKey1);
  Publish(Record("main", 0, "BlockAdded", 1, p1, kSource, "2.0.0"));
  Publish(Record("main", 1, "BlockAdded", 2, p2, kSource, "2.0.1"));
  EXPECT_EQ(a->Text(), "data:{\"ApiVersion\":\"2.0.0\"}\n\n" + Frame(p1, 1) + "data:{\"ApiVersion\":\"2.0.1\"}\n\n" +
                           Frame(p2, 2));
}

TEST_P(LiveHubTest, FiltersByRouteSourceTypeAndPayloadKeys) {
  auto all = Subscribe({});
  auto sigs = Subscribe({}, {"sigs"});
  auto deploys_route = Subscribe({}, {"deploys"});
  auto by_type = Subscribe({{"type", "DeployAccepted"}, {"type", "FinalitySignature"}});
  auto by_account = Subscribe({{"account", kKey2}});
  auto by_block = Subscribe({{"block_hash", kHashA}});
  auto by_deploy = Subscribe({{"deploy_hash", kHashB}});
  auto by_source = Subscribe({{"source", "http://other:9999"}});
  auto by_signer = Subscribe({{"public_key", kKey2}});

  const std::string block = BlockAdded(kHashA, 5, kKey1);
  const std::string deploy = DeployAccepted(kHashB, kKey2);
  const std::string sig = FinalitySignature(kHashA, kKey2);
  const std::string other = BlockAdded(kHashB, 9, kKey1);
  Publish(Record("main", 0, "BlockAdded", 1, block));
  Publish(Record("deploys", 0, "DeployAccepted", 2, deploy));
  Publish(Record("sigs", 0, "FinalitySignature", 3, sig));
  Publish(Record("main", 1, "BlockAdded", 4, other, "http://other:9999"));

  auto events = [](const TestSink& s) {
    std::string out;
    for (const auto& f : s.Frames()) {
      if (f->find("ApiVersion") == std::string::npos) out += *f;
    }
    return out;
  };
  EXPECT_EQ(events(*all), Frame(block, 1) + Frame(deploy, 2) + Frame(sig, 3) + Frame(other, 4));
  EXPECT_EQ(events(*sigs), Frame(sig, 3));
  EXPECT_EQ(events(*deploys_route), Frame(deploy, 2));
  EXPECT_EQ(events(*by_type), Frame(deploy, 2) + Frame(sig, 3));
  EXPECT_EQ(events(*by_account), Frame(deploy, 2));
  EXPECT_EQ(events(*by_block), Frame(block, 1) + Frame(sig, 3));
  EXPECT_EQ(events(*by_deploy), Frame(deploy, 2));
  EXPECT_EQ(events(*by_source), Frame(other, 4));
  EXPECT_EQ(events(*by_signer), Frame(sig, 3));
}

TEST_P(LiveHubTest, LegacySubscribersGetTheOneXFormAndNothingWithoutOne) {
  auto legacy_sigs = Subscribe({}, {"sigs"}, true, true);
  auto legacy_main = Subscribe({{"max_events", "2"}}, {"main"}, true, true);
  auto native = Subscribe({}, {"sigs"});
  auto no_versions = Subscribe({{"type", "Shutdown"}}, {}, true, false, false);
  const std::string flat = R"({"FinalitySignature":{"block_hash":")" + kHashA + R"(","era_id":1,"signature":"01ff",)"
                           R"("public_key":")" + kKey2 + R"("}})";
  const std::string sig_v1 = R"({"FinalitySignature":{"V1":{"block_hash":")" + kHashA + R"(","era_id":1,)"
                             R"("signature":"01ff","public_key":")" + kKey2 + R"("}}})";
  const std::string step = R"({"Step":{"era_id":1,"execution_effects":[]}})";
  const std::string fault = R"({"Fault":{"era_id":1,"public_key":")" + kKey1 + R"(","timestamp":"T"}})";
  Publish(Record("sigs", 0, "FinalitySignature", 1, sig_v1));
  Publish(Record("main", 0, "Step", 2, step));  // no 1.x form: not sent, not counted
  Publish(Record("main", 1, "Fault", 3, fault));
  Publish(Record("main", 2, "Shutdown", 4, "\"Shutdown\""));
  Publish(Record("main", 3, "Fault", 5, fault));
  EXPECT_EQ(legacy_sigs->Text(), "data:{\"ApiVersion\":\"2.0.0\"}\n\n" + Frame(flat, 1));
  EXPECT_EQ(native->Text(), "data:{\"ApiVersion\":\"2.0.0\"}\n\n" + Frame(sig_v1, 1));
  EXPECT_EQ(legacy_main->Text(), "data:{\"ApiVersion\":\"2.0.0\"}\n\n" + Frame(fault, 3) + Frame("\"Shutdown\"", 4));
  EXPECT_TRUE(legacy_main->closed_by_server());
  ASSERT_EQ(legacy_main->Frames().size(), 3u);
  // No ApiVersion lines when asked for none (/events/sidecar).
  EXPECT_EQ(no_versions->Text(), Frame("\"Shutdown\"", 4));
}

TEST_P(LiveHubTest, MaxEventsEndsTheStreamAfterExactlyN) {
  auto a = Subscribe({{"max_events", "2"}});
  for (std::uint32_t i = 0; i < 5; ++i) Publish(Record("main", i, "BlockAdded", i, BlockAdded(kHashA, 1, kKey1)));
  EXPECT_TRUE(a->closed_by_server());
  std::size_t events = 0;
  for (const auto& f : a->Frames()) events += f->find("\nid:") != std::string::npos;
  EXPECT_EQ(events, 2u);
  EXPECT_EQ(Hub().Subscribers(), 0u);
}

TEST_P(LiveHubTest, SlowSubscriberIsDroppedWhileOthersKeepReceiving) {
  options_.subscriber_buffer_bytes = 4096;
  auto fast = Subscribe({});
  auto slow = Subscribe({}, {}, /*draining=*/false);
  const std::string payload = BlockAdded(kHashA, 1, kKey1);
  for (std::uint32_t i = 0; i < 200; ++i) Publish(Record("main", i, "BlockAdded", i, payload));
  EXPECT_TRUE(slow->Closed());
  // Dropped with Abort (queue discarded), not Close (which would flush to a client that does not read).
  EXPECT_TRUE(slow->aborted());
  EXPECT_FALSE(slow->closed_by_server());
  EXPECT_EQ(slow->Buffered(), 0u);
  std::size_t events = 0;
  for (const auto& f : fast->Frames()) events += f->find("\nid:") != std::string::npos;
  EXPECT_EQ(events, 200u);
  EXPECT_FALSE(fast->Closed());
  EXPECT_EQ(Hub().Subscribers(), 1u);
  EXPECT_NE(registry_.Render().find("ces_api_sse_dropped_subscribers_total{reason=\"slow\"} 1"), std::string::npos)
      << registry_.Render();
}

TEST_P(LiveHubTest, OneLargeFrameStillReachesAnIdleClient) {
  options_.subscriber_buffer_bytes = 1024;
  auto a = Subscribe({});
  const std::string big = DeployAccepted(kHashA, kKey1).insert(14, "\"x\":\"" + std::string(10000, 'x') + "\",");
  Publish(Record("deploys", 0, "DeployAccepted", 1, big));
  EXPECT_FALSE(a->Closed());
  EXPECT_NE(a->Text().find(Frame(big, 1)), std::string::npos);
}

TEST_P(LiveHubTest, SubscriberLimit) {
  options_.max_subscribers = 2;
  auto t1 = Hub().Admit();
  auto t2 = Hub().Admit();
  EXPECT_TRUE(t1);
  EXPECT_TRUE(t2);
  EXPECT_FALSE(Hub().Admit());
  { auto released = std::move(t1); }
  auto t3 = Hub().Admit();
  EXPECT_TRUE(t3);
  // A subscriber holds its place until its connection closes.
  auto sink = std::make_shared<TestSink>();
  Hub().Subscribe(std::move(t3), sink, {});
  EXPECT_FALSE(Hub().Admit());
  sink->Disconnect();
  Hub().Maintain();
  EXPECT_EQ(Hub().Subscribers(), 0u);
  EXPECT_TRUE(Hub().Admit());
}

TEST_P(LiveHubTest, KeepAliveToIdleSubscribersAndClosedOnesRemoved) {
  auto a = Subscribe({});
  auto b = Subscribe({});
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  b->Disconnect();
  Hub().Maintain();
  EXPECT_EQ(a->Text(), ":\n\n");
  EXPECT_EQ(Hub().Subscribers(), 1u);
}

TEST_P(LiveHubTest, ResentRecordIsNotSentTwice) {
  auto a = Subscribe({});
  const std::string payload = BlockAdded(kHashA, 1, kKey1);
  Publish(Record("main", 0, "BlockAdded", 8, payload));
  Publish(Record("main", 1, "BlockAdded", 8, payload));
  Publish(Record("main", 2, "BlockAdded", 9, payload));
  EXPECT_EQ(a->Text(), "data:{\"ApiVersion\":\"2.0.0\"}\n\n" + Frame(payload, 8) + Frame(payload, 9));
}

TEST_P(LiveHubTest, HandOverSendsTheRingFromTheReplaysOffsetsThenLive) {
  options_.ring_events = 4;
  Hub().OnAssigned({{{"main", 0}, 10}, {{"sigs", 0}, 0}});
  const std::string p = BlockAdded(kHashA, 1, kKey1);
  for (std::uint32_t i = 0; i < 3; ++i) Publish(Record("main", 10 + i, "BlockAdded", 100 + i, p));
  // The replay sent offsets < 11 of main/0 and nothing of sigs/0.
  auto sink = std::make_shared<TestSink>();
  auto ticket = Hub().Admit();
  LiveHub::Subscription sub;
  sub.announced = "2.0.0";
  sub.sent = 5;
  sub.query.max_events = 8;
  EXPECT_EQ(Hub().Attach(ticket, sink, sub, {{{"main", 0}, 11}}), LiveHub::AttachResult::kAttached);
  EXPECT_EQ(sink->Text(), Frame(p, 101) + Frame(p, 102));
  Publish(Record("main", 13, "BlockAdded", 103, p));
  Publish(Record("main", 14, "BlockAdded", 104, p));
  EXPECT_EQ(sink->Text(), Frame(p, 101) + Frame(p, 102) + Frame(p, 103));
  EXPECT_TRUE(sink->closed_by_server());  // 5 replayed + 3 live = max_events

  // The ring (4 records) no longer reaches back to offset 10: the replay must read on.
  auto late = std::make_shared<TestSink>();
  auto t2 = Hub().Admit();
  EXPECT_EQ(Hub().Attach(t2, late, {}, {{{"main", 0}, 10}}), LiveHub::AttachResult::kNotCovered);
  EXPECT_EQ(Hub().Attach(t2, late, {}, {{{"main", 0}, 12}}), LiveHub::AttachResult::kAttached);
  // A partition the hub does not read: not covered.
  auto other = std::make_shared<TestSink>();
  auto t3 = Hub().Admit();
  EXPECT_EQ(Hub().Attach(t3, other, {}, {{{"main", 0}, 15}, {{"main", 1}, 0}}), LiveHub::AttachResult::kNotCovered);
  // The store ahead of the hub: records before the replay's offset are not sent twice.
  EXPECT_EQ(Hub().Attach(t3, other, {}, {{{"main", 0}, 16}}), LiveHub::AttachResult::kAttached);
  Publish(Record("main", 15, "BlockAdded", 105, p));
  Publish(Record("main", 16, "BlockAdded", 106, p));
  EXPECT_EQ(other->Text(), "data:{\"ApiVersion\":\"2.0.0\"}\n\n" + Frame(p, 106));
}

// A subscriber on a real connection that never reads: the hub drops it once its buffer passes the
// limit, and the server side closes the socket at once (the client then sees EOF or a reset), rather
// than keeping it and the queued bytes until the client reads or TCP gives up.
TEST_P(LiveHubTest, SlowSubscriberOnARealConnectionIsClosedAtOnce) {
  using namespace std::chrono_literals;
  options_.subscriber_buffer_bytes = 256 * 1024;
  LiveHub& hub = Hub();
  std::shared_ptr<http::StreamSink> sink;
  std::mutex sink_mutex;
  http::AsyncServerOptions server_options;
  server_options.io_threads = 1;
  server_options.worker_threads = 1;
  http::AsyncServer server(server_options);
  server.Route("GET", "/events", [&](const http::Request&, http::AsyncResponseWriter& w) {
    auto ticket = hub.Admit();
    w.StartStream(200, "text/event-stream", {{"Cache-Control", "no-cache"}});
    auto detached = w.Detach(hub.SinkLimit());
    ASSERT_NE(detached, nullptr);
    auto parsed = audit::ParseReplayQuery({}, audit::QueryKind::kStream, {});
    LiveHub::Subscription sub;
    sub.query = *parsed.query;
    {
      std::lock_guard lock(sink_mutex);
      sink = detached;
    }
    hub.Subscribe(std::move(ticket), detached, std::move(sub));
  });
  server.Start();

  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  const int rcvbuf = 16 * 1024;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server.Port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string request = "GET /events HTTP/1.1\r\nHost: test\r\n\r\n";
  ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
  for (int i = 0; i < 500 && hub.Subscribers() < 1; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(hub.Subscribers(), 1u);

  // 16 KiB events until the hub drops the subscriber (kernel buffers fill first, then the sink's queue).
  const std::string payload = DeployAccepted(kHashA, kKey1).insert(14, "\"x\":\"" + std::string(16 * 1024, 'x') + "\",");
  std::uint32_t published = 0;
  for (; published < 4000 && hub.Subscribers() > 0; ++published) {
    hub.Publish(Record("deploys", published, "DeployAccepted", published, payload));
    if (published % 64 == 63) std::this_thread::sleep_for(1ms);  // let the I/O thread fill the socket
  }
  ASSERT_EQ(hub.Subscribers(), 0u) << "never dropped after " << published << " events";
  const auto dropped_at = std::chrono::steady_clock::now();
  std::shared_ptr<http::StreamSink> dropped;
  {
    std::lock_guard lock(sink_mutex);
    dropped = sink;
  }
  EXPECT_TRUE(dropped->Closed());
  EXPECT_EQ(dropped->Buffered(), 0u);  // the queue is released at once
  EXPECT_FALSE(dropped->Offer(std::string("data: late\n\n")));

  // The server's side of the connection is gone promptly...
  for (int i = 0; i < 200 && server.OpenConnections() > 0; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(server.OpenConnections(), 0u);
  const auto server_closed_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - dropped_at).count();
  EXPECT_LT(server_closed_ms, 1000);
  RecordProperty("server_closed_ms", static_cast<int>(server_closed_ms));
  // ...and the client, once it reads, sees the end (EOF or reset) right after what was in flight.
  bool ended = false;
  std::size_t received = 0;
  const auto read_deadline = std::chrono::steady_clock::now() + 3s;
  while (!ended && std::chrono::steady_clock::now() < read_deadline) {
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, 100) <= 0) continue;
    char chunk[65536];
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) {
      ended = n == 0 || errno == ECONNRESET;
    } else {
      received += static_cast<std::size_t>(n);
    }
  }
  ::close(fd);
  RecordProperty("client_received_bytes", static_cast<int>(received));
  RecordProperty("events_published", static_cast<int>(published));
  EXPECT_TRUE(ended) << "received " << received << " bytes and no end";
  // Far less than everything published: the queued frames were discarded, not flushed.
  EXPECT_LT(received, static_cast<std::size_t>(published) * payload.size());
  EXPECT_NE(registry_.Render().find("ces_api_sse_dropped_subscribers_total{reason=\"slow\"} 1"), std::string::npos);
  server.Stop();
}

// Events published on one thread while subscribers join on another, live and by hand-over from
// replayed offsets: each gets every event from where it joined, in order, none twice, none missing.
TEST_P(LiveHubTest, JoiningWhilePublishingNeitherLosesNorRepeats) {
  options_.ring_events = 100000;
  options_.ring_bytes = std::size_t{1} << 30;  // every event stays in the ring: joins at any offset hand over
  options_.max_subscribers = 1000;
  Hub().OnAssigned({{{"main", 0}, 0}});
  const std::string p = BlockAdded(kHashA, 1, kKey1);
  constexpr std::uint32_t kEvents = 3000;
  std::atomic<std::uint32_t> published{0};
  std::thread publisher([&] {
    for (std::uint32_t i = 0; i < kEvents; ++i) {
      Hub().Publish(Record("main", i, "BlockAdded", i, p));
      published = i + 1;
      if (i % 100 == 0) std::this_thread::yield();
    }
  });
  struct Joined {
    std::shared_ptr<TestSink> sink;
    std::optional<std::uint32_t> first;  // hand-over from this offset; live: whatever came first
  };
  std::vector<Joined> joined;
  for (int i = 0; published < kEvents && i < 300; ++i) {
    auto sink = std::make_shared<TestSink>();
    auto ticket = Hub().Admit();
    ASSERT_TRUE(ticket);
    if (i % 2 == 0) {
      const std::uint32_t from = published / 2 + static_cast<std::uint32_t>(i);
      ASSERT_EQ(Hub().Attach(ticket, sink, {}, {{{"main", 0}, from}}), LiveHub::AttachResult::kAttached);
      joined.push_back({sink, from});
    } else {
      Hub().Subscribe(std::move(ticket), sink, {});
      joined.push_back({sink, std::nullopt});
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  publisher.join();
  Hub().Flush();
  ASSERT_GT(joined.size(), 2u);
  std::size_t live_with_events = 0;
  for (const auto& j : joined) {
    std::vector<std::uint32_t> ids;
    for (const auto& f : j.sink->Frames()) {
      const auto pos = f->find("\nid:");
      if (pos != std::string::npos) ids.push_back(static_cast<std::uint32_t>(std::stoul(f->substr(pos + 4))));
    }
    if (j.first && *j.first >= kEvents) {
      EXPECT_TRUE(ids.empty());
      continue;
    }
    // A live subscriber that joined after the last event (the publisher can finish between the loop's
    // check and the join) has nothing; every other one has a run ending at the last event.
    if (!j.first && ids.empty()) continue;
    live_with_events += j.first ? 0 : 1;
    ASSERT_FALSE(ids.empty());
    if (j.first) {
      EXPECT_EQ(ids.front(), *j.first);
    }
    EXPECT_EQ(ids.back(), kEvents - 1);
    for (std::size_t k = 1; k < ids.size(); ++k) ASSERT_EQ(ids[k], ids[k - 1] + 1) << "gap or repeat at " << k;
  }
  EXPECT_GT(live_with_events, 0u);
}

INSTANTIATE_TEST_SUITE_P(FanOut, LiveHubTest, ::testing::Values(std::size_t{0}, std::size_t{2}),
                         [](const ::testing::TestParamInfo<std::size_t>& param) {
                           return param.param == 0 ? std::string("OnPublisher") : std::to_string(param.param) + "Threads";
                         });

}  // namespace
}  // namespace ces::live
