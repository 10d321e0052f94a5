// ces::http::AsyncServer over real loopback sockets: routing with parameters, server-made responses
// (404/405/OPTIONS/413/431/429/503), CORS, gzip, ETag, keep-alive and pipelining, blocking and
// detached streams, graceful stop and thousands of idle connections.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "ces/common/metrics.hpp"
#include "ces/common/status.hpp"
#include "ces/http/async_server.hpp"
#include "gunzip.hpp"
#include "raw_http_client.hpp"

namespace ces::http {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using test::Gunzip;
using test::RawClient;

std::string Get(const std::string& target, const std::string& extra = "", const std::string& method = "GET") {
  return method + " " + target + " HTTP/1.1\r\nHost: test\r\n" + extra + "\r\n";
}

std::string BigJson() {
  std::string body = "[";
  for (int i = 0; i < 500; ++i) body += (i ? "," : "") + std::string("{\"height\":") + std::to_string(i) + ",\"hash\":\"ab\"}";
  return body + "]";
}

// A one-shot gate handlers can wait on.
class Gate {
 public:
  void Open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    cv_.notify_all();
  }
  bool Wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
};

class AsyncServerTest : public ::testing::Test {
 protected:
  // Starts a server whose GET /events/{who} detaches each stream (64 MiB sink limit) and keeps its
  // sink under {who}; `closed` (if given) counts the sinks' OnClose calls.
  void StartNamedStreams(std::atomic<int>* closed = nullptr) {
    AsyncServerOptions options;
    options.registry = &registry_;
    server_ = std::make_unique<AsyncServer>(options);
    server_->Route("GET", "/events/{who}", [this, closed](const Request& r, AsyncResponseWriter& w) {
      w.StartStream(200, "text/event-stream", {});
      auto sink = w.Detach(64u * 1024 * 1024);
      ASSERT_NE(sink, nullptr);
      if (closed) sink->OnClose([closed] { closed->fetch_add(1); });
      std::lock_guard lock(named_mutex_);
      named_[*r.Param("who")] = sink;
    });
    server_->Start();
  }
  // The sink of /events/{who} once its request was handled (null if that takes over 3 s).
  std::shared_ptr<StreamSink> NamedSink(const std::string& who) {
    for (int i = 0; i < 300; ++i) {
      {
        std::lock_guard lock(named_mutex_);
        auto it = named_.find(who);
        if (it != named_.end()) return it->second;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return nullptr;
  }

  void StartServer(AsyncServerOptions options = {}) {
    options.registry = &registry_;
    server_ = std::make_unique<AsyncServer>(std::move(options));
    AddRoutes(*server_);
    server_->Start();
    port_ = server_->Port();
  }

  virtual void AddRoutes(AsyncServer& server) {
    server.Route("GET", "/x", [](const Request&, AsyncResponseWriter& w) { w.Send(200, "application/json", "{\"ok\":true}"); });
    server.Route("GET", "/blocks/{hash}", [](const Request& r, AsyncResponseWriter& w) {
      w.Send(200, "text/plain", "param:" + *r.Param("hash") + " route:" + r.route + " path:" + r.path);
    });
    server.Route("GET", "/blocks/latest", [](const Request& r, AsyncResponseWriter& w) {
      w.Send(200, "text/plain", "latest route:" + r.route);
    });
    server.Route("GET", "/a/{x}/c", [](const Request&, AsyncResponseWriter& w) { w.Send(200, "text/plain", "a-x-c"); });
    server.Route("GET", "/a/b/{y}", [](const Request& r, AsyncResponseWriter& w) {
      w.Send(200, "text/plain", "a-b-y:" + *r.Param("y"));
    });
    server.Route("POST", "/echo", [](const Request& r, AsyncResponseWriter& w) {
      const std::string* q = r.QueryValue("q");
      w.Send(200, "text/plain", r.body + "|" + (q ? *q : std::string("-")));
    });
    server.Route("GET", "/big", [](const Request&, AsyncResponseWriter& w) {
      w.Send(200, "application/json", BigJson(), {{"Cache-Control", "max-age=5"}});
    });
    // Large documents with an ETag (compressed once, then from the cache); {v} picks the content, the
    // ETag is the same for all of them (a cache keyed by the ETag alone would mix them up).
    server.Route("GET", "/doc/{v}", [](const Request& r, AsyncResponseWriter& w) {
      w.Send(200, "application/json", BigJson() + std::string(10000, r.Param("v")->front()), {{"ETag", "\"shared\""}});
    });
    server.Route("GET", "/etag", [](const Request&, AsyncResponseWriter& w) {
      w.Send(200, "application/json", "{\"v\":1}", {{"ETag", "\"v1\""}, {"Cache-Control", "max-age=60"}});
    });
    server.Route("GET", "/own-cors", [](const Request&, AsyncResponseWriter& w) {
      w.Send(200, "application/json", "{}", {{"Access-Control-Allow-Origin", "https://evil.example"}});
    });
    // A plain ResponseWriter handler (the adapter).
    server.Route("GET", "/plain", [](const Request&, ResponseWriter& w) { w.Send(200, "text/plain", "plain"); });
    AddObservabilityRoutes(server, registry_, [](std::string& reason) {
      reason = "warming up";
      return false;
    });
  }

  void TearDown() override {
    if (server_) server_->Stop();
  }

  metrics::Registry registry_;
  std::mutex named_mutex_;  // before server_: its handlers use them until it is gone
  std::map<std::string, std::shared_ptr<StreamSink>> named_;
  std::unique_ptr<AsyncServer> server_;
  std::uint16_t port_ = 0;
};

TEST_F(AsyncServerTest, RoutesWithParametersAndPrecedence) {
  StartServer();
  RawClient c(port_);
  c.Send(Get("/blocks/abc"));
  auto r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "param:abc route:/blocks/{hash} path:/blocks/abc");
  c.Send(Get("/blocks/latest"));
  EXPECT_EQ(c.Read().body, "latest route:/blocks/latest");
  c.Send(Get("/blocks/ab%2Fcd%20e?x=1"));
  EXPECT_EQ(c.Read().body, "param:ab/cd e route:/blocks/{hash} path:/blocks/ab/cd e");
  c.Send(Get("/a/b/c"));  // exact "b" in the second segment wins over {x}
  EXPECT_EQ(c.Read().body, "a-b-y:c");
  c.Send(Get("/a/z/c"));
  EXPECT_EQ(c.Read().body, "a-x-c");
  c.Send("POST /echo?q=a%20b HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(c.Read().body, "hello|a b");
  c.Send(Get("/plain"));
  EXPECT_EQ(c.Read().body, "plain");
  c.Send(Get("/healthz"));
  EXPECT_EQ(c.Read().body, "ok\n");
  c.Send(Get("/readyz"));
  auto ready = c.Read();
  EXPECT_EQ(ready.status, 503);
  EXPECT_EQ(ready.body, "warming up\n");

  auto routes = server_->Routes();
  EXPECT_EQ(routes.size(), 14u);
  EXPECT_EQ(routes[1].pattern, "/blocks/{hash}");
}

TEST_F(AsyncServerTest, NotFoundAndMethodNotAllowedAreJson) {
  StartServer();
  RawClient c(port_);
  c.Send(Get("/nope"));
  auto r = c.Read();
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.Header("content-type"), "application/json");
  EXPECT_EQ(r.body, "{\"code\":404,\"message\":\"no such path: /nope\"}");
  c.Send(Get("/blocks/"));  // an empty segment does not fill a parameter
  EXPECT_EQ(c.Read().status, 404);
  c.Send(Get("/blocks/abc", "", "DELETE"));
  r = c.Read();
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.Header("allow"), "GET, HEAD, OPTIONS");
  EXPECT_NE(r.body.find("\"code\":405"), std::string::npos);
  c.Send("GET /echo HTTP/1.1\r\nHost: t\r\n\r\n");
  r = c.Read();
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.Header("allow"), "POST, OPTIONS");
  EXPECT_EQ(common::ErrorJson(400, "bad \"x\"", "limit"), "{\"code\":400,\"message\":\"bad \\\"x\\\"\",\"parameter\":\"limit\"}");
}

TEST_F(AsyncServerTest, CustomNotFound) {
  AsyncServerOptions options;
  options.registry = &registry_;
  server_ = std::make_unique<AsyncServer>(options);
  server_->SetNotFound([](const Request& r, AsyncResponseWriter& w) { w.Send(404, "text/plain", "custom " + r.path); });
  server_->Start();
  RawClient c(server_->Port());
  c.Send(Get("/q"));
  EXPECT_EQ(c.Read().body, "custom /q");
}

TEST_F(AsyncServerTest, HeadHasHeadersButNoBody) {
  StartServer();
  RawClient c(port_);
  c.Send(Get("/x", "", "HEAD"));
  auto r = c.Read(true);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-length"), "11");
  c.Send(Get("/x"));  // the connection is still in sync: no body was sent
  r = c.Read();
  EXPECT_EQ(r.body, "{\"ok\":true}");
}

TEST_F(AsyncServerTest, OptionsAndCors) {
  AsyncServerOptions options;
  options.cors_origins = {"https://app.example"};
  StartServer(options);
  RawClient c(port_);
  c.Send(Get("/blocks/abc", "Origin: https://app.example\r\nAccess-Control-Request-Method: GET\r\n", "OPTIONS"));
  auto r = c.Read();
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.Header("allow"), "GET, HEAD, OPTIONS");
  EXPECT_EQ(r.Header("access-control-allow-origin"), "https://app.example");
  EXPECT_EQ(r.Header("access-control-allow-methods"), "GET, HEAD, OPTIONS");
  EXPECT_FALSE(r.Header("access-control-allow-headers").empty());
  EXPECT_EQ(r.Header("access-control-max-age"), "86400");
  EXPECT_EQ(r.headers.count("content-length"), 0u);

  c.Send(Get("/blocks/abc", "Origin: https://other.example\r\nAccess-Control-Request-Method: GET\r\n", "OPTIONS"));
  r = c.Read();
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.headers.count("access-control-allow-origin"), 0u);
  EXPECT_EQ(r.headers.count("access-control-allow-methods"), 0u);

  c.Send(Get("/x", "Origin: https://app.example\r\n"));
  r = c.Read();
  EXPECT_EQ(r.Header("access-control-allow-origin"), "https://app.example");
  EXPECT_EQ(r.Header("access-control-expose-headers"), "ETag");
  EXPECT_EQ(r.Header("vary"), "Origin");
  c.Send(Get("/x", "Origin: https://other.example\r\n"));
  r = c.Read();
  EXPECT_EQ(r.headers.count("access-control-allow-origin"), 0u);
  // The handler's own header is replaced by the server's (one header, the allowed origin).
  c.Send(Get("/own-cors", "Origin: https://app.example\r\n"));
  r = c.Read();
  EXPECT_EQ(r.Header("access-control-allow-origin"), "https://app.example");
  c.Send(Get("/nope", "", "OPTIONS"));
  EXPECT_EQ(c.Read().status, 404);
}

TEST_F(AsyncServerTest, CorsAnyOrigin) {
  AsyncServerOptions options;
  options.cors_origins = {"*"};
  StartServer(options);
  RawClient c(port_);
  c.Send(Get("/x", "Origin: https://anything.example\r\n"));
  EXPECT_EQ(c.Read().Header("access-control-allow-origin"), "https://anything.example");
}

TEST_F(AsyncServerTest, GzipWhenAccepted) {
  StartServer();
  RawClient c(port_);
  c.Send(Get("/big", "Accept-Encoding: deflate, gzip;q=0.8\r\n"));
  auto r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-encoding"), "gzip");
  EXPECT_EQ(r.Header("vary"), "Accept-Encoding");
  EXPECT_LT(r.body.size(), BigJson().size() / 4);
  EXPECT_EQ(Gunzip(r.body), BigJson());
  c.Send(Get("/big"));
  r = c.Read();
  EXPECT_EQ(r.headers.count("content-encoding"), 0u);
  EXPECT_EQ(r.body, BigJson());
  c.Send(Get("/big", "Accept-Encoding: gzip;q=0\r\n"));
  EXPECT_EQ(c.Read().headers.count("content-encoding"), 0u);
  c.Send(Get("/x", "Accept-Encoding: gzip\r\n"));  // below gzip_min_bytes
  r = c.Read();
  EXPECT_EQ(r.headers.count("content-encoding"), 0u);
  EXPECT_EQ(r.body, "{\"ok\":true}");
  c.Send(Get("/big", "Accept-Encoding: gzip\r\n", "HEAD"));
  r = c.Read(true);
  EXPECT_EQ(r.Header("content-encoding"), "gzip");
  EXPECT_LT(std::stoul(r.Header("content-length")), BigJson().size() / 4);
}

// Large bodies with an ETag are compressed once and then served from the cache: every answer still
// decompresses to its own body, also when two resources share an ETag.
TEST_F(AsyncServerTest, GzipOfDocumentsWithAnEtagIsCachedPerBody) {
  StartServer();
  RawClient c(port_);
  for (int round = 0; round < 3; ++round) {
    for (const std::string v : {"a", "b"}) {
      c.Send(Get("/doc/" + v, "Accept-Encoding: gzip\r\n"));
      auto r = c.Read();
      EXPECT_EQ(r.status, 200);
      EXPECT_EQ(r.Header("content-encoding"), "gzip");
      EXPECT_EQ(r.Header("etag"), "\"shared\"");
      EXPECT_EQ(Gunzip(r.body), BigJson() + std::string(10000, v[0])) << "round " << round << " doc " << v;
    }
  }
  c.Send(Get("/doc/a"));
  auto r = c.Read();
  EXPECT_EQ(r.headers.count("content-encoding"), 0u);
  EXPECT_EQ(r.body, BigJson() + std::string(10000, 'a'));
}

TEST_F(AsyncServerTest, IfNoneMatchGives304) {
  StartServer();
  RawClient c(port_);
  c.Send(Get("/etag"));
  auto r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("etag"), "\"v1\"");
  for (std::string inm : {"\"v1\"", "\"v0\", W/\"v1\"", "*"}) {
    c.Send(Get("/etag", "If-None-Match: " + inm + "\r\n"));
    r = c.Read();
    EXPECT_EQ(r.status, 304) << inm;
    EXPECT_EQ(r.Header("etag"), "\"v1\"");
    EXPECT_EQ(r.Header("cache-control"), "max-age=60");
    EXPECT_EQ(r.headers.count("content-length"), 0u);
    EXPECT_TRUE(r.body.empty());
  }
  c.Send(Get("/etag", "If-None-Match: \"v0\"\r\n"));
  r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"v\":1}");
}

TEST_F(AsyncServerTest, TooLargeBodyAndHeaders) {
  AsyncServerOptions options;
  options.max_body_bytes = 1000;
  options.max_header_bytes = 2000;
  StartServer(options);
  {
    RawClient c(port_);
    c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n");
    auto r = c.Read();
    EXPECT_EQ(r.status, 413);
    EXPECT_EQ(r.Header("connection"), "close");
    EXPECT_TRUE(c.ClosedWithin(2s));
  }
  {
    RawClient c(port_);
    c.Send("GET /x HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(3000, 'a') + "\r\n\r\n");
    EXPECT_EQ(c.Read().status, 431);
    EXPECT_TRUE(c.ClosedWithin(2s));
  }
  {
    RawClient c(port_);  // no end of headers yet, but already too long
    c.Send("GET /x HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(3000, 'a'));
    EXPECT_EQ(c.Read().status, 431);
  }
  {
    RawClient c(port_);
    c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    EXPECT_EQ(c.Read().status, 411);
  }
  {
    RawClient c(port_);
    c.Send("garbage\r\n\r\n");
    EXPECT_EQ(c.Read().status, 400);
  }
  std::string text = registry_.Render();
  EXPECT_NE(text.find("ces_api_http_rejected_total{reason=\"too_large\"} 1"), std::string::npos);
  EXPECT_NE(text.find("ces_api_http_rejected_total{reason=\"header_too_large\"} 2"), std::string::npos);
}

TEST_F(AsyncServerTest, FullQueueGives503) {
  Gate release;
  std::atomic<int> started{0};
  AsyncServerOptions options;
  options.worker_threads = 1;
  options.max_queued_requests = 1;
  options.registry = &registry_;
  server_ = std::make_unique<AsyncServer>(options);
  server_->Route("GET", "/slow", [&](const Request&, AsyncResponseWriter& w) {
    started.fetch_add(1);
    release.Wait(10s);
    w.Send(200, "text/plain", "done");
  });
  server_->Start();
  RawClient a(server_->Port()), b(server_->Port()), c(server_->Port());
  a.Send(Get("/slow"));
  ASSERT_TRUE([&] {
    for (int i = 0; i < 200 && started.load() == 0; ++i) std::this_thread::sleep_for(10ms);
    return started.load() == 1;
  }());
  b.Send(Get("/slow"));  // queued
  std::this_thread::sleep_for(100ms);
  c.Send(Get("/slow"));  // queue full
  auto r = c.Read();
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.Header("retry-after"), "1");
  EXPECT_EQ(r.Header("content-type"), "application/json");
  release.Open();
  EXPECT_EQ(a.Read().body, "done");
  EXPECT_EQ(b.Read().body, "done");
  c.Send(Get("/slow"));  // the connection stays usable after a 503
  EXPECT_EQ(c.Read().body, "done");
  EXPECT_NE(registry_.Render().find("ces_api_http_rejected_total{reason=\"queue_full\"} 1"), std::string::npos);
}

TEST_F(AsyncServerTest, RateLimitGives429) {
  AsyncServerOptions options;
  options.rate_limit_per_client = 1;  // burst 2
  StartServer(options);
  RawClient c(port_);
  c.Send(Get("/x"));
  EXPECT_EQ(c.Read().status, 200);
  c.Send(Get("/x"));
  EXPECT_EQ(c.Read().status, 200);
  c.Send(Get("/x"));
  auto r = c.Read();
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.Header("retry-after"), "1");
  std::this_thread::sleep_for(1100ms);
  c.Send(Get("/x"));
  EXPECT_EQ(c.Read().status, 200);
}

TEST_F(AsyncServerTest, KeepAliveAndPipelining) {
  StartServer();
  RawClient c(port_);
  for (int i = 0; i < 20; ++i) {
    c.Send(Get("/blocks/" + std::to_string(i)));
    EXPECT_EQ(c.Read().body, "param:" + std::to_string(i) + " route:/blocks/{hash} path:/blocks/" + std::to_string(i));
  }
  std::string batch;
  for (int i = 0; i < 10; ++i) batch += Get("/blocks/p" + std::to_string(i));
  batch += "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc";
  batch += Get("/x", "Connection: close\r\n");
  c.Send(batch);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(c.Read().body, "param:p" + std::to_string(i) + " route:/blocks/{hash} path:/blocks/p" + std::to_string(i));
  }
  EXPECT_EQ(c.Read().body, "abc|-");
  auto last = c.Read();
  EXPECT_EQ(last.Header("connection"), "close");
  EXPECT_TRUE(c.ClosedWithin(2s));
  EXPECT_TRUE([&] {
    for (int i = 0; i < 200 && server_->OpenConnections() > 0; ++i) std::this_thread::sleep_for(5ms);
    return server_->OpenConnections() == 0;
  }());

  RawClient old(port_);  // HTTP/1.0 closes unless asked to keep alive
  old.Send("GET /x HTTP/1.0\r\n\r\n");
  EXPECT_EQ(old.Read().status, 200);
  EXPECT_TRUE(old.ClosedWithin(2s));

  std::string text = registry_.Render();
  EXPECT_NE(text.find("ces_api_http_requests_total{route=\"/blocks/{hash}\",method=\"GET\",status=\"200\"} 30"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("ces_api_http_request_seconds_count{route=\"/blocks/{hash}\"} 30"), std::string::npos);
}

TEST_F(AsyncServerTest, IdleTimeoutClosesConnection) {
  AsyncServerOptions options;
  options.idle_timeout = 200ms;
  options.request_timeout = 300ms;
  StartServer(options);
  RawClient idle(port_);
  EXPECT_TRUE(idle.ClosedWithin(3s));
  RawClient partial(port_);
  partial.Send("GET /x HTTP/1.1\r\n");
  EXPECT_TRUE(partial.ClosedWithin(3s));
  EXPECT_TRUE([&] {
    for (int i = 0; i < 100 && server_->OpenConnections() > 0; ++i) std::this_thread::sleep_for(10ms);
    return server_->OpenConnections() == 0;
  }());
}

// Blocking streams: backpressure, then Cancelled() once the client hangs up.
TEST_F(AsyncServerTest, BlockingStreamBackpressureAndCancel) {
  std::atomic<std::size_t> written{0};
  std::atomic<bool> saw_cancel{false};
  std::atomic<bool> returned{false};
  std::atomic<long long> longest_write_ms{0};
  AsyncServerOptions options;
  options.stream_write_buffer = 64 * 1024;
  options.registry = &registry_;
  server_ = std::make_unique<AsyncServer>(options);
  server_->Route(
      "GET", "/stream",
      [&](const Request&, AsyncResponseWriter& w) {
        w.StartStream(200, "text/event-stream");
        const std::string chunk(16 * 1024, 'x');
        while (!w.Cancelled()) {
          auto start = Clock::now();
          if (!w.WriteChunk(chunk)) break;
          auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
          if (ms > longest_write_ms.load()) longest_write_ms.store(ms);
          written.fetch_add(chunk.size());
        }
        saw_cancel.store(true);
        returned.store(true);
      },
      RouteKind::kDedicated);
  server_->Start();
  {
    RawClient c(server_->Port(), 32 * 1024);
    c.Send(Get("/stream"));
    ASSERT_TRUE(c.Fill());
    // The client does not read: the handler blocks once the kernel buffers and 64 KiB are full.
    std::this_thread::sleep_for(500ms);
    std::size_t stalled = written.load();
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(written.load(), stalled);
    EXPECT_LT(stalled, 16u * 1024 * 1024);
    EXPECT_EQ(registry_.Render().find("ces_api_http_streams 1") != std::string::npos, true);
    // Reading resumes the writer (once the kernel's socket buffers, which may hold megabytes on
    // loopback, have drained).
    for (int i = 0; i < 5000 && written.load() == stalled; ++i) {
      c.Fill(100);
      c.buffer().clear();
    }
    EXPECT_GT(written.load(), stalled);
    EXPECT_FALSE(returned.load());
  }
  EXPECT_TRUE([&] {
    for (int i = 0; i < 300 && !returned.load(); ++i) std::this_thread::sleep_for(10ms);
    return returned.load();
  }());
  EXPECT_TRUE(saw_cancel.load());
  EXPECT_GE(longest_write_ms.load(), 200);
}

class Recorder {
 public:
  void Add(std::shared_ptr<StreamSink> sink) {
    std::lock_guard lock(mutex_);
    sinks_.push_back(std::move(sink));
  }
  std::vector<std::shared_ptr<StreamSink>> Sinks() {
    std::lock_guard lock(mutex_);
    return sinks_;
  }
  std::size_t Count() {
    std::lock_guard lock(mutex_);
    return sinks_.size();
  }

 private:
  std::mutex mutex_;
  std::vector<std::shared_ptr<StreamSink>> sinks_;
};

TEST_F(AsyncServerTest, DetachedSinksFanOutAndDropSlowClients) {
  Recorder sinks;
  std::atomic<int> closed{0};
  AsyncServerOptions options;
  options.registry = &registry_;
  server_ = std::make_unique<AsyncServer>(options);
  std::shared_ptr<StreamSink> fast_sink;
  std::shared_ptr<StreamSink> slow_sink;
  server_->Route("GET", "/events/{who}", [&](const Request& r, AsyncResponseWriter& w) {
    w.StartStream(200, "text/event-stream", {{"Cache-Control", "no-cache"}});
    auto sink = w.Detach(256 * 1024);
    ASSERT_NE(sink, nullptr);
    sink->OnClose([&] { closed.fetch_add(1); });
    sink->Offer(std::string(": hello\n\n"));
    (*r.Param("who") == "fast" ? fast_sink : slow_sink) = sink;
    sinks.Add(sink);
  });
  server_->Start();

  RawClient fast(server_->Port());
  RawClient slow(server_->Port(), 16 * 1024);
  fast.Send(Get("/events/fast"));
  slow.Send(Get("/events/slow"));
  ASSERT_TRUE([&] {
    for (int i = 0; i < 300 && sinks.Count() < 2; ++i) std::this_thread::sleep_for(10ms);
    return sinks.Count() == 2;
  }());
  EXPECT_EQ(server_->OpenConnections(), 2u);

  // A reader thread drains the fast client.
  std::atomic<std::size_t> fast_bytes{0};
  std::atomic<bool> fast_done{false};
  std::thread reader([&] {
    auto r = fast.Read(false, [&](const std::string& chunk) {
      fast_bytes.fetch_add(chunk.size());
      return true;
    });
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.Header("cache-control"), "no-cache");
    EXPECT_TRUE(r.complete);
    EXPECT_NE(r.body.find("bye"), std::string::npos);
    fast_done.store(true);
  });

  auto frame = std::make_shared<const std::string>("data: " + std::string(32 * 1024, 'e') + "\n\n");
  std::size_t offered_fast = 0;
  std::vector<std::shared_ptr<StreamSink>> all = {fast_sink, slow_sink};
  bool slow_dropped = false;
  for (int i = 0; i < 2000; ++i) {
    for (auto& sink : all) {
      bool ok = sink->Offer(frame);
      if (sink == all[0] && ok) offered_fast += frame->size();
    }
    // Let the fast reader keep up (the sink never blocks: Offer beyond 256 KiB drops).
    for (int wait = 0; wait < 5000 && all[0]->Buffered() > 128 * 1024; ++wait) std::this_thread::sleep_for(1ms);
    if (all[1]->Closed()) {
      slow_dropped = true;
      if (i > 100) break;
    }
  }
  EXPECT_TRUE(slow_dropped);
  EXPECT_FALSE(all[0]->Closed());
  EXPECT_FALSE(all[1]->Offer(frame));
  EXPECT_TRUE(slow.ClosedWithin(5s));
  EXPECT_TRUE([&] {
    for (int i = 0; i < 300 && closed.load() < 1; ++i) std::this_thread::sleep_for(10ms);
    return closed.load() == 1;
  }());
  all[0]->Close("data: bye\n\n");
  reader.join();
  EXPECT_TRUE(fast_done.load());
  EXPECT_GE(fast_bytes.load(), offered_fast);
  EXPECT_TRUE([&] {
    for (int i = 0; i < 300 && closed.load() < 2; ++i) std::this_thread::sleep_for(10ms);
    return closed.load() == 2;
  }());
  // OnClose set after the close runs at once.
  bool late = false;
  all[0]->OnClose([&] { late = true; });
  EXPECT_TRUE(late);
  EXPECT_NE(registry_.Render().find("ces_api_http_rejected_total{reason=\"slow_client\"} 1"), std::string::npos);
}

// The publisher's offers to many detached sinks are flushed in batches by the I/O threads (written at
// once when the socket takes them, through the socket's readiness when it does not): every client
// gets every frame, in order and byte-exact, small frames and frames larger than a socket buffer.
TEST_F(AsyncServerTest, DetachedSinksGetEveryFrameInOrderWhenFlushedInBatches) {
  constexpr int kClients = 48;
  constexpr int kFrames = 300;
  Recorder sinks;
  AsyncServerOptions options;
  options.registry = &registry_;
  options.io_threads = 2;
  server_ = std::make_unique<AsyncServer>(options);
  server_->Route("GET", "/events", [&](const Request&, AsyncResponseWriter& w) {
    w.StartStream(200, "text/event-stream", {{"Cache-Control", "no-cache"}});
    auto sink = w.Detach(64u * 1024u * 1024u);
    ASSERT_NE(sink, nullptr);
    sinks.Add(sink);
  });
  server_->Start();

  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<RawClient>(server_->Port(), i % 3 == 0 ? 8 * 1024 : 0));
    clients.back()->Send(Get("/events"));
  }
  ASSERT_TRUE([&] {
    for (int i = 0; i < 500 && sinks.Count() < kClients; ++i) std::this_thread::sleep_for(10ms);
    return sinks.Count() == static_cast<std::size_t>(kClients);
  }());
  std::vector<RawClient::Response> got(kClients);
  std::vector<std::thread> readers;
  for (int i = 0; i < kClients; ++i) readers.emplace_back([&, i] { got[static_cast<std::size_t>(i)] = clients[static_cast<std::size_t>(i)]->Read(); });

  std::string expected;
  const auto all = sinks.Sinks();
  for (int f = 0; f < kFrames; ++f) {
    const std::size_t size = f % 50 == 7 ? 200 * 1024 : 40 + static_cast<std::size_t>(f % 13) * 31;
    auto frame = std::make_shared<const std::string>("id:" + std::to_string(f) + "\n" + std::string(size, static_cast<char>('a' + f % 26)) + "\n\n");
    expected += *frame;
    for (const auto& sink : all) ASSERT_TRUE(sink->Offer(frame));
    if (f % 20 == 0) std::this_thread::sleep_for(1ms);  // let some flushes find a single frame
  }
  for (const auto& sink : all) sink->Close("data: bye\n\n");
  expected += "data: bye\n\n";
  for (auto& t : readers) t.join();
  for (int i = 0; i < kClients; ++i) {
    const auto& r = got[static_cast<std::size_t>(i)];
    EXPECT_EQ(r.status, 200) << "client " << i;
    EXPECT_TRUE(r.complete) << "client " << i;
    EXPECT_EQ(r.body.size(), expected.size()) << "client " << i;
    EXPECT_TRUE(r.body == expected) << "client " << i << " got other bytes";
  }
  for (const auto& sink : all) EXPECT_EQ(sink->Buffered(), 0u);
}

// Abort() on a client that stopped reading: the queue is released at once and the server closes the
// socket now (the client sees EOF or a reset when it reads), while Close() on the same kind of client
// keeps the connection until everything queued is written.
TEST_F(AsyncServerTest, AbortClosesANonReadingClientAtOnce) {
  std::atomic<int> closed{0};
  StartNamedStreams(&closed);
  RawClient aborted(server_->Port(), 16 * 1024);
  RawClient graceful(server_->Port(), 16 * 1024);
  aborted.Send(Get("/events/aborted"));
  graceful.Send(Get("/events/graceful"));
  std::shared_ptr<StreamSink> abort_sink = NamedSink("aborted");
  std::shared_ptr<StreamSink> close_sink = NamedSink("graceful");
  ASSERT_TRUE(abort_sink && close_sink);

  // Neither client reads: once the kernel buffers are full, the sinks' queues grow. The graceful one
  // queues more than a socket's send buffer can ever take (tcp_wmem's maximum, 4 MiB by default):
  // otherwise the kernel could absorb its queue, and Close() end the connection at once.
  constexpr std::size_t kGracefulQueue = 6u * 1024u * 1024u;
  auto frame = std::make_shared<const std::string>("data: " + std::string(32 * 1024, 'e') + "\n\n");
  for (int i = 0; i < 2000 && (abort_sink->Buffered() < 1024 * 1024 || close_sink->Buffered() < kGracefulQueue); ++i) {
    ASSERT_TRUE(abort_sink->Offer(frame));
    ASSERT_TRUE(close_sink->Offer(frame));
    if (i % 16 == 15) std::this_thread::sleep_for(1ms);
  }
  ASSERT_GE(abort_sink->Buffered(), 1024u * 1024u);
  ASSERT_GE(close_sink->Buffered(), kGracefulQueue);

  close_sink->Close("data: bye\n\n");
  const auto aborted_at = Clock::now();
  abort_sink->Abort();
  EXPECT_TRUE(abort_sink->Closed());
  EXPECT_EQ(abort_sink->Buffered(), 0u);
  EXPECT_FALSE(abort_sink->Offer(frame));
  abort_sink->Abort();  // idempotent
  abort_sink->Close();  // no effect after Abort

  // The server side closes now: OnClose has run and the connection is no longer held.
  ASSERT_TRUE([&] {
    for (int i = 0; i < 200 && (closed.load() < 1 || server_->OpenConnections() > 1); ++i) std::this_thread::sleep_for(5ms);
    return closed.load() == 1 && server_->OpenConnections() == 1;
  }()) << "closed " << closed.load() << ", open " << server_->OpenConnections();
  const auto closed_after = Clock::now() - aborted_at;
  EXPECT_LT(closed_after, 1s);
  RecordProperty("server_closed_us",
                 static_cast<int>(std::chrono::duration_cast<std::chrono::microseconds>(closed_after).count()));
  RecordProperty("buffered_before_abort", static_cast<int>(close_sink->Buffered()));
  // The client sees the end (EOF or reset) once it reads, without draining megabytes first.
  EXPECT_TRUE(aborted.ClosedWithin(2s));

  // The gracefully closed one still holds its connection and queue: its client has not read it.
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(closed.load(), 1);
  EXPECT_EQ(server_->OpenConnections(), 1u);
  EXPECT_GT(close_sink->Buffered(), 0u);
  // Reading it all ends it normally (with the final data).
  auto r = graceful.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.complete);
  EXPECT_NE(r.body.find("bye"), std::string::npos);
  EXPECT_TRUE([&] {
    for (int i = 0; i < 300 && closed.load() < 2; ++i) std::this_thread::sleep_for(10ms);
    return closed.load() == 2;
  }());
  // Abort is a deliberate drop, not the sink's own over-limit path: no slow_client rejection counted.
  EXPECT_EQ(registry_.Render().find("ces_api_http_rejected_total{reason=\"slow_client\"} 1"), std::string::npos);
}

// OfferOrDrop, the fan-out's one-step offer: a frame to a client with nothing unwritten is written
// (even one larger than the slow limit); a client with a backlog that the frame would take past the
// slow limit is dropped at once (kDropped, its queue released, counted as a slow client); a closed
// one answers kClosed.
TEST_F(AsyncServerTest, OfferOrDropWritesToIdleClientsAndDropsBackloggedOnes) {
  StartNamedStreams();
  RawClient reading(server_->Port());
  RawClient stalled(server_->Port(), 16 * 1024);
  reading.Send(Get("/events/reading"));
  stalled.Send(Get("/events/stalled"));
  std::shared_ptr<StreamSink> reading_sink = NamedSink("reading");
  std::shared_ptr<StreamSink> stalled_sink = NamedSink("stalled");
  ASSERT_TRUE(reading_sink && stalled_sink);
  // The response heads are written before the frames below (whatever path a frame takes).
  for (int i = 0; i < 300 && (reading_sink->Buffered() > 0 || stalled_sink->Buffered() > 0); ++i) std::this_thread::sleep_for(1ms);

  constexpr std::size_t kSlowLimit = 64 * 1024;
  auto big = std::make_shared<const std::string>("data: " + std::string(100 * 1024, 'b') + "\n\n");
  auto small = std::make_shared<const std::string>("data: " + std::string(8 * 1024, 's') + "\n\n");
  std::string expected;
  std::thread reader;
  RawClient::Response got;
  reader = std::thread([&] { got = reading.Read(); });
  // Larger than the slow limit, to an idle client: taken.
  EXPECT_EQ(reading_sink->OfferOrDrop(big, kSlowLimit), StreamSink::OfferResult::kQueued);
  expected += *big;
  for (int i = 0; i < 50; ++i) {
    for (int wait = 0; wait < 2000 && reading_sink->Buffered() > 0; ++wait) std::this_thread::sleep_for(1ms);
    ASSERT_EQ(reading_sink->OfferOrDrop(small, kSlowLimit), StreamSink::OfferResult::kQueued) << i;
    expected += *small;
  }
  // The stalled client: frames fill the kernel's buffers, then its queue, until it is dropped.
  StreamSink::OfferResult last = StreamSink::OfferResult::kQueued;
  int offered = 0;
  for (; offered < 10000 && last == StreamSink::OfferResult::kQueued; ++offered) {
    last = stalled_sink->OfferOrDrop(small, kSlowLimit);
  }
  EXPECT_EQ(last, StreamSink::OfferResult::kDropped) << "after " << offered << " frames";
  EXPECT_TRUE(stalled_sink->Closed());
  EXPECT_EQ(stalled_sink->Buffered(), 0u);
  EXPECT_EQ(stalled_sink->OfferOrDrop(small, kSlowLimit), StreamSink::OfferResult::kClosed);
  EXPECT_TRUE(stalled.ClosedWithin(5s));
  reading_sink->Close();
  reader.join();
  EXPECT_TRUE(got.complete);
  EXPECT_TRUE(got.body == expected) << "the reading client got " << got.body.size() << " of " << expected.size() << " bytes";
  EXPECT_NE(registry_.Render().find("ces_api_http_rejected_total{reason=\"slow_client\"} 1"), std::string::npos);
}

TEST_F(AsyncServerTest, StopEndsStreamsWithFinalData) {
  Recorder sinks;
  std::atomic<bool> blocking_started{false};
  AsyncServerOptions options;
  options.stream_final_data = "event: bye\n\n";
  options.drain_timeout = 3000ms;
  server_ = std::make_unique<AsyncServer>(options);
  server_->Route("GET", "/detached", [&](const Request&, AsyncResponseWriter& w) {
    w.StartStream(200, "text/event-stream");
    sinks.Add(w.Detach(1 << 20));
  });
  server_->Route(
      "GET", "/blocking",
      [&](const Request&, AsyncResponseWriter& w) {
        w.StartStream(200, "text/event-stream");
        w.WriteChunk("data: first\n\n");
        blocking_started.store(true);
        while (!w.Cancelled()) std::this_thread::sleep_for(5ms);
      },
      RouteKind::kDedicated);
  server_->Start();
  RawClient a(server_->Port()), b(server_->Port()), idle(server_->Port());
  a.Send(Get("/detached"));
  b.Send(Get("/blocking"));
  ASSERT_TRUE([&] {
    for (int i = 0; i < 300 && (sinks.Count() < 1 || !blocking_started.load()); ++i) std::this_thread::sleep_for(10ms);
    return sinks.Count() == 1 && blocking_started.load();
  }());
  sinks.Sinks()[0]->Offer(std::string("data: one\n\n"));
  std::this_thread::sleep_for(50ms);
  auto start = Clock::now();
  server_->Stop();
  auto took = Clock::now() - start;
  EXPECT_LT(took, 1500ms);
  auto ra = a.Read();
  EXPECT_TRUE(ra.complete);
  EXPECT_EQ(ra.body, "data: one\n\nevent: bye\n\n");
  auto rb = b.Read();
  EXPECT_TRUE(rb.complete);
  EXPECT_EQ(rb.body, "data: first\n\nevent: bye\n\n");
  EXPECT_TRUE(idle.ClosedWithin(1s));
  EXPECT_TRUE(sinks.Sinks()[0]->Closed());
  EXPECT_FALSE(sinks.Sinks()[0]->Offer(std::string("late")));
  server_.reset();
  EXPECT_FALSE(sinks.Sinks()[0]->Offer(std::string("after the server is gone")));
}

TEST_F(AsyncServerTest, StopAnswersQueuedRequestsWith503) {
  Gate release;
  std::atomic<int> started{0};
  AsyncServerOptions options;
  options.worker_threads = 1;
  options.drain_timeout = 2000ms;
  server_ = std::make_unique<AsyncServer>(options);
  server_->Route("GET", "/slow", [&](const Request&, AsyncResponseWriter& w) {
    started.fetch_add(1);
    release.Wait(1s);
    w.Send(200, "text/plain", "done");
  });
  server_->Start();
  RawClient a(server_->Port()), b(server_->Port());
  a.Send(Get("/slow"));
  while (started.load() == 0) std::this_thread::sleep_for(5ms);
  b.Send(Get("/slow"));
  std::this_thread::sleep_for(100ms);
  std::thread stopper([&] { server_->Stop(); });
  auto rb = b.Read();
  EXPECT_EQ(rb.status, 503);
  release.Open();
  auto ra = a.Read();
  EXPECT_EQ(ra.status, 200);
  EXPECT_EQ(ra.Header("connection"), "close");
  stopper.join();
}

TEST_F(AsyncServerTest, HoldsTwoThousandIdleConnections) {
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_cur < 4200 && limit.rlim_max >= 4200) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  ::getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < 4200) GTEST_SKIP() << "open file limit " << limit.rlim_cur << " is below 4200";
  StartServer();
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 2000; ++i) clients.push_back(std::make_unique<RawClient>(port_));
  EXPECT_TRUE([&] {
    for (int i = 0; i < 500 && server_->OpenConnections() < 2000; ++i) std::this_thread::sleep_for(10ms);
    return server_->OpenConnections() == 2000;
  }());
  RawClient c(port_);
  c.Send(Get("/x"));
  EXPECT_EQ(c.Read().status, 200);
  for (int i = 0; i < 2000; i += 97) {
    clients[static_cast<std::size_t>(i)]->Send(Get("/x"));
    EXPECT_EQ(clients[static_cast<std::size_t>(i)]->Read().status, 200);
  }
  EXPECT_NE(registry_.Render().find("ces_api_http_connections 2001"), std::string::npos);
  clients.clear();
  EXPECT_TRUE([&] {
    for (int i = 0; i < 500 && server_->OpenConnections() > 1; ++i) std::this_thread::sleep_for(10ms);
    return server_->OpenConnections() == 1;
  }());
}

TEST_F(AsyncServerTest, MaxConnectionsRefusesExtra) {
  AsyncServerOptions options;
  options.max_connections = 2;
  StartServer(options);
  RawClient a(port_), b(port_);
  a.Send(Get("/x"));
  EXPECT_EQ(a.Read().status, 200);
  b.Send(Get("/x"));
  EXPECT_EQ(b.Read().status, 200);
  RawClient c(port_);
  EXPECT_TRUE(c.ClosedWithin(2s));
  EXPECT_NE(registry_.Render().find("ces_api_http_rejected_total{reason=\"connections\"} 1"), std::string::npos);
}

TEST_F(AsyncServerTest, HandlerExceptionGives500) {
  AsyncServerOptions options;
  server_ = std::make_unique<AsyncServer>(options);
  server_->Route("GET", "/throw", [](const Request&, AsyncResponseWriter&) { throw std::runtime_error("boom"); });
  server_->Route("GET", "/silent", [](const Request&, AsyncResponseWriter&) {});
  server_->Start();
  RawClient c(server_->Port());
  c.Send(Get("/throw"));
  EXPECT_EQ(c.Read().status, 500);
  c.Send(Get("/silent"));
  EXPECT_EQ(c.Read().status, 500);
}

TEST(AsyncServerStart, BindFailureThrows) {
  AsyncServerOptions options;
  AsyncServer first(options);
  first.Start();
  options.port = first.Port();
  AsyncServer second(options);
  EXPECT_THROW(second.Start(), std::runtime_error);
}

}  // namespace
}  // namespace ces::http
