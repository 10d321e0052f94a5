// ces::http::Server over real loopback sockets: routing, request parsing, keep-alive, chunked
// streams, cancellation (DropConnections, Stop, Abort) and the observability routes.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <functional>
#include <memory>
#include <vector>
#include <chrono>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "ces/common/metrics.hpp"
#include "ces/http/server.hpp"
#include "raw_http_client.hpp"

namespace ces::http {
namespace {

using namespace std::chrono_literals;

using test::RawClient;

std::string Get(const std::string& target, const std::string& extra = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: test\r\n" + extra + "\r\n";
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<Server>("127.0.0.1", 0);
    server_->Route("GET", "/hello", [](const Request&, ResponseWriter& w) { w.Send(200, "text/plain", "hello\n"); });
    server_->Route("POST", "/echo", [](const Request& r, ResponseWriter& w) {
      w.Send(201, "application/octet-stream", r.body, {{"X-Method", r.method}});
    });
    server_->Route("GET", "/query", [](const Request& r, ResponseWriter& w) {
      std::string out = r.path + "|";
      for (const auto& [k, v] : r.query) out += "[" + k + "=" + v + "]";
      const std::string* a = r.QueryValue("a");
      out += "|a=" + (a ? *a : std::string("none"));
      w.Send(200, "text/plain", out);
    });
  }
  void Start() {
    server_->Start();
    ASSERT_NE(server_->Port(), 0);
  }
  std::unique_ptr<Server> server_;
};

TEST(ParseHostPortTest, AcceptsHostsAndPorts) {
  EXPECT_EQ(ParseHostPort("127.0.0.1:8080"), (std::pair<std::string, std::uint16_t>{"127.0.0.1", 8080}));
  EXPECT_EQ(ParseHostPort("localhost:0"), (std::pair<std::string, std::uint16_t>{"localhost", 0}));
  EXPECT_EQ(ParseHostPort("[::1]:65535"), (std::pair<std::string, std::uint16_t>{"::1", 65535}));
  EXPECT_EQ(ParseHostPort("0.0.0.0:18101"), (std::pair<std::string, std::uint16_t>{"0.0.0.0", 18101}));
}

TEST(ParseHostPortTest, RejectsBadInput) {
  for (const char* bad : {"", "localhost", ":80", "host:", "host:65536", "host:-1", "host:8x", "::1:80", "[::1]80",
                          "[::1]", "host:1 "}) {
    EXPECT_THROW(ParseHostPort(bad), std::invalid_argument) << bad;
  }
}

TEST(QueryTest, PercentDecoding) {
  EXPECT_EQ(PercentDecode("a%20b%2Fc", false), "a b/c");
  EXPECT_EQ(PercentDecode("a+b", false), "a+b");
  EXPECT_EQ(PercentDecode("a+b", true), "a b");
  EXPECT_EQ(PercentDecode("100%", true), "100%");
  EXPECT_EQ(PercentDecode("%zz%4", true), "%zz%4");
  EXPECT_EQ(PercentDecode("%e2%82%AC", true), "\xe2\x82\xac");
}

TEST(QueryTest, SplitsPairsInOrder) {
  auto q = ParseQuery("start_from=5&x=a%26b&&flag&k=v=w&x=2");
  ASSERT_EQ(q.size(), 5u);
  EXPECT_EQ(q[0], (std::pair<std::string, std::string>{"start_from", "5"}));
  EXPECT_EQ(q[1], (std::pair<std::string, std::string>{"x", "a&b"}));
  EXPECT_EQ(q[2], (std::pair<std::string, std::string>{"flag", ""}));
  EXPECT_EQ(q[3], (std::pair<std::string, std::string>{"k", "v=w"}));
  EXPECT_EQ(q[4], (std::pair<std::string, std::string>{"x", "2"}));
  EXPECT_TRUE(ParseQuery("").empty());
  EXPECT_TRUE(ParseQuery("&&").empty());
}

TEST_F(ServerTest, RoutesByMethodAndPath) {
  Start();
  RawClient c(server_->Port());
  c.Send(Get("/hello"));
  auto r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "text/plain");
  EXPECT_EQ(r.body, "hello\n");

  c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world");
  r = c.Read();
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, "hello world");
  EXPECT_EQ(r.headers["x-method"], "POST");

  c.Send("POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  r = c.Read();
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["allow"], "GET, HEAD");

  c.Send("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  r = c.Read(/*head=*/true);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-length"], "6");
  c.Send(Get("/hello"));  // the HEAD response carried no body: the next response follows directly
  EXPECT_EQ(c.Read().body, "hello\n");
}

TEST_F(ServerTest, DecodesPathAndQuery) {
  Start();
  RawClient c(server_->Port());
  c.Send(Get("/qu%65ry?a=1%202&b=x+y&a=3&empty=&%73tart=%2B5"));
  auto r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "/query|[a=1 2][b=x y][a=3][empty=][start=+5]|a=1 2");
}

TEST_F(ServerTest, NotFoundFallback) {
  Start();
  {
    RawClient c(server_->Port());
    c.Send(Get("/nope?x=1"));
    auto r = c.Read();
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.body, "not found\n");
  }
  server_->SetNotFound([](const Request& r, ResponseWriter& w) { w.Send(404, "text/plain", "no " + r.path); });
  RawClient c(server_->Port());
  c.Send(Get("/elsewhere"));
  auto r = c.Read();
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "no /elsewhere");
}

TEST_F(ServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  Start();
  RawClient c(server_->Port());
  for (int i = 0; i < 5; ++i) {
    c.Send(Get("/hello"));
    auto r = c.Read();
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "hello\n");
  }
  // Two pipelined requests in one write.
  c.Send(Get("/hello") + Get("/query?a=z"));
  EXPECT_EQ(c.Read().body, "hello\n");
  EXPECT_EQ(c.Read().body, "/query|[a=z]|a=z");
}

TEST_F(ServerTest, ConnectionCloseAndHttp10EndTheConnection) {
  Start();
  {
    RawClient c(server_->Port());
    c.Send(Get("/hello", "Connection: close\r\n"));
    auto r = c.Read();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.headers["connection"], "close");
    EXPECT_TRUE(c.ClosedWithin(2s));
  }
  {
    RawClient c(server_->Port());
    c.Send("GET /hello HTTP/1.0\r\n\r\n");
    auto r = c.Read();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "hello\n");
    EXPECT_TRUE(c.ClosedWithin(2s));
  }
  {
    RawClient c(server_->Port());
    c.Send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    EXPECT_EQ(c.Read().headers["connection"], "keep-alive");
    c.Send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    EXPECT_EQ(c.Read().body, "hello\n");
  }
}

TEST_F(ServerTest, MalformedRequestsGet4xx) {
  Start();
  {
    RawClient c(server_->Port());
    c.Send("NONSENSE\r\n\r\n");
    EXPECT_EQ(c.Read().status, 400);
  }
  {
    RawClient c(server_->Port());
    c.Send("GET /hello HTTP/2.0\r\n\r\n");
    EXPECT_EQ(c.Read().status, 505);
  }
  {
    RawClient c(server_->Port());
    c.Send("POST /echo HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n");
    EXPECT_EQ(c.Read().status, 413);
  }
}

TEST_F(ServerTest, HandlerExceptionsBecome500) {
  server_->Route("GET", "/throw", [](const Request&, ResponseWriter&) { throw std::runtime_error("boom"); });
  server_->Route("GET", "/silent", [](const Request&, ResponseWriter&) {});
  Start();
  RawClient c(server_->Port());
  c.Send(Get("/throw"));
  EXPECT_EQ(c.Read().status, 500);
  c.Send(Get("/silent"));
  EXPECT_EQ(c.Read().status, 500);
  c.Send(Get("/hello"));  // the connection survives both
  EXPECT_EQ(c.Read().status, 200);
}

TEST_F(ServerTest, StreamsWithChunkedEncoding) {
  server_->Route("GET", "/stream", [](const Request&, ResponseWriter& w) {
    ASSERT_TRUE(w.StartStream(200, "text/event-stream", {{"Cache-Control", "no-cache"}}));
    EXPECT_TRUE(w.WriteChunk("data:1\n\n"));
    EXPECT_TRUE(w.WriteChunk(""));  // ignored: an empty chunk would end the body
    EXPECT_TRUE(w.WriteChunk(std::string(100000, 'x')));
    EXPECT_TRUE(w.WriteChunk(":\n\n"));
    EXPECT_FALSE(w.Cancelled());
  });
  Start();
  RawClient c(server_->Port());
  c.Send(Get("/stream"));
  std::vector<std::string> chunks;
  auto r = c.Read(false, [&](const std::string& chunk) {
    chunks.push_back(chunk);
    return true;
  });
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["transfer-encoding"], "chunked");
  EXPECT_EQ(r.headers["content-type"], "text/event-stream");
  EXPECT_EQ(r.headers["cache-control"], "no-cache");
  EXPECT_TRUE(r.complete);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0], "data:1\n\n");
  EXPECT_EQ(chunks[1].size(), 100000u);
  EXPECT_EQ(chunks[2], ":\n\n");
  EXPECT_TRUE(c.ClosedWithin(2s));  // a stream ends its connection
}

TEST_F(ServerTest, DropConnectionsCancelsStreams) {
  std::atomic<int> started{0};
  std::atomic<bool> saw_cancelled{false};
  std::atomic<bool> write_failed{false};
  server_->Route("GET", "/stream", [&](const Request&, ResponseWriter& w) {
    w.StartStream(200, "text/event-stream");
    w.WriteChunk("data:first\n\n");
    started.fetch_add(1);
    while (!w.Cancelled()) std::this_thread::sleep_for(5ms);
    saw_cancelled = true;
    write_failed = !w.WriteChunk("data:late\n\n");
  });
  Start();
  RawClient a(server_->Port());
  RawClient b(server_->Port());
  a.Send(Get("/stream"));
  b.Send(Get("/stream"));
  std::atomic<bool> a_complete{true};
  std::string a_body;
  std::thread reader([&] {
    auto r = a.Read();
    a_complete = r.complete;
    a_body = r.body;
  });
  for (int i = 0; i < 200 && started.load() < 2; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(started.load(), 2);
  EXPECT_EQ(server_->OpenConnections(), 2u);
  server_->DropConnections();
  reader.join();
  for (int i = 0; i < 200 && !saw_cancelled.load(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(saw_cancelled.load());
  EXPECT_TRUE(write_failed.load());
  EXPECT_FALSE(a_complete.load());  // cut off: no terminating chunk
  EXPECT_EQ(a_body, "data:first\n\n");
  for (int i = 0; i < 200 && server_->OpenConnections() > 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(server_->OpenConnections(), 0u);

  RawClient c(server_->Port());  // still listening
  c.Send(Get("/hello"));
  EXPECT_EQ(c.Read().status, 200);
}

TEST_F(ServerTest, StreamsNoticeAClientThatHungUp) {
  std::atomic<bool> started{false};
  std::atomic<bool> ended{false};
  server_->Route("GET", "/idle", [&](const Request&, ResponseWriter& w) {
    w.StartStream(200, "text/event-stream");
    started = true;
    while (!w.Cancelled()) std::this_thread::sleep_for(5ms);  // never writes again
    ended = true;
  });
  Start();
  {
    RawClient c(server_->Port());
    c.Send(Get("/idle"));
    for (int i = 0; i < 200 && !started.load(); ++i) std::this_thread::sleep_for(10ms);
    ASSERT_TRUE(started.load());
  }  // closes the client socket
  for (int i = 0; i < 200 && !ended.load(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(ended.load());
}

TEST_F(ServerTest, AbortCutsTheStream) {
  server_->Route("GET", "/stream", [](const Request&, ResponseWriter& w) {
    w.StartStream(200, "text/event-stream");
    w.WriteChunk("data:1\n\n");
    w.Abort();
    EXPECT_TRUE(w.Cancelled());
    EXPECT_FALSE(w.WriteChunk("data:2\n\n"));
  });
  Start();
  RawClient c(server_->Port());
  c.Send(Get("/stream"));
  auto r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "data:1\n\n");
  EXPECT_FALSE(r.complete);
}

TEST_F(ServerTest, StopDoesNotHangOnStreams) {
  std::atomic<int> started{0};
  // One handler waits for Cancelled(), one keeps writing into a client that never reads.
  server_->Route("GET", "/idle", [&](const Request&, ResponseWriter& w) {
    w.StartStream(200, "text/event-stream");
    started.fetch_add(1);
    while (!w.Cancelled()) std::this_thread::sleep_for(5ms);
  });
  server_->Route("GET", "/flood", [&](const Request&, ResponseWriter& w) {
    w.StartStream(200, "text/event-stream");
    started.fetch_add(1);
    const std::string block(64 * 1024, 'x');
    while (w.WriteChunk(block)) {
    }
  });
  Start();
  RawClient idle(server_->Port());
  RawClient flood(server_->Port());
  RawClient keep_alive(server_->Port());
  idle.Send(Get("/idle"));
  flood.Send(Get("/flood"));
  keep_alive.Send(Get("/hello"));
  EXPECT_EQ(keep_alive.Read().status, 200);
  for (int i = 0; i < 200 && started.load() < 2; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(started.load(), 2);
  std::this_thread::sleep_for(100ms);  // the flood fills the socket buffers and blocks in send()
  const auto before = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, 3s);
  EXPECT_EQ(server_->OpenConnections(), 0u);
  EXPECT_TRUE(keep_alive.ClosedWithin(2s));
}

TEST(ServerLifecycleTest, BindFailureThrows) {
  Server first("127.0.0.1", 0);
  first.Start();
  Server second("127.0.0.1", first.Port());
  EXPECT_THROW(second.Start(), std::runtime_error);
  Server unresolvable("no-such-host.invalid", 0);
  EXPECT_THROW(unresolvable.Start(), std::runtime_error);
  Server never_started("127.0.0.1", 0);
  never_started.Stop();  // harmless
}

TEST(ObservabilityTest, HealthReadyAndMetrics) {
  metrics::Registry registry;
  registry.GetCounter("test_requests_total", "Requests").Inc(3);
  std::atomic<bool> ready{false};
  Server server("127.0.0.1", 0);
  AddObservabilityRoutes(server, registry, [&](std::string& reason) {
    if (!ready.load()) reason = "still warming up";
    return ready.load();
  });
  server.Start();
  RawClient c(server.Port());
  c.Send(Get("/healthz"));
  EXPECT_EQ(c.Read().status, 200);
  c.Send(Get("/readyz"));
  auto r = c.Read();
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "still warming up\n");
  ready = true;
  c.Send(Get("/readyz"));
  EXPECT_EQ(c.Read().status, 200);
  c.Send(Get("/metrics"));
  r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "text/plain; version=0.0.4");
  EXPECT_NE(r.body.find("test_requests_total 3"), std::string::npos);
}

}  // namespace
}  // namespace ces::http
