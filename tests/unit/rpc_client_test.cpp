// ces::rpc::Client against real HTTP servers in the test process: ces::http::Server answering like a
// node (and misbehaving: errors, 5xx, slowness, truncated JSON), and a small socket server for what an
// HTTP server does not do on purpose (cutting a body short on the wire) and to count connections.
#include "ces/rpc/client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <list>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ces/common/metrics.hpp"
#include "ces/http/server.hpp"
#include "rpc_test_answers.hpp"

namespace ces::rpc {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Request {
  std::int64_t id = 0;
  std::string method;
  nlohmann::json params;
};

Request ReadRequest(const std::string& body) {
  const auto j = nlohmann::json::parse(body);
  Request r;
  r.id = j.at("id").get<std::int64_t>();
  r.method = j.at("method").get<std::string>();
  r.params = j.contains("params") ? j["params"] : nlohmann::json();
  return r;
}

// The 2.x chain_get_block answer for `height`: the recorded height-54 block moved to that height.
std::string BlockAnswer(std::uint64_t height, std::int64_t id) {
  static const std::string block =
      test::RawAt(ces::test::RecordedPayload("v2/events/BlockAdded.json"), {"BlockAdded", "block"});
  std::string moved = block;
  moved.replace(moved.find("\"height\":54"), 11, "\"height\":" + std::to_string(height));
  return test::BlockAnswerV2(moved, {{"01ab", "01cd"}}, id);
}

std::uint64_t HeightOf(const Request& r) { return r.params["block_identifier"]["Height"].get<std::uint64_t>(); }

// A node on ces::http::Server: POST /rpc goes to the test's handler.
class FakeNode {
 public:
  using Handler = std::function<void(const Request&, const std::string& body, http::ResponseWriter&)>;

  FakeNode() : server_("127.0.0.1", 0) {
    server_.Route("POST", "/rpc", [this](const http::Request& req, http::ResponseWriter& w) {
      const Request r = ReadRequest(req.body);
      Handler handler;
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(r);
        arrivals_.push_back(Clock::now());
        handler = handler_;
      }
      handler(r, req.body, w);
    });
    server_.Start();
  }
  ~FakeNode() { server_.Stop(); }

  void Handle(Handler handler) {
    std::lock_guard lock(mutex_);
    handler_ = std::move(handler);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.Port()) + "/rpc"; }
  std::vector<Request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  std::vector<Clock::time_point> arrivals() const {
    std::lock_guard lock(mutex_);
    return arrivals_;
  }

  static void Json(http::ResponseWriter& w, const std::string& body) { w.Send(200, "application/json", body); }

 private:
  http::Server server_;
  mutable std::mutex mutex_;
  Handler handler_;
  std::vector<Request> requests_;
  std::vector<Clock::time_point> arrivals_;
};

// Answers chain_get_block for any height.
void ServeBlocks(const Request& r, const std::string&, http::ResponseWriter& w) {
  FakeNode::Json(w, BlockAnswer(HeightOf(r), r.id));
}

class ClientTest : public ::testing::Test {
 protected:
  ClientOptions Options() {
    ClientOptions o;
    o.url = node_.url();
    o.registry = &registry_;
    o.backoff_initial = 10ms;
    o.backoff_max = 50ms;
    o.max_attempts = 3;
    o.timeout = 5000ms;
    return o;
  }
  std::uint64_t Counter(const std::string& name, const metrics::Labels& labels) {
    return registry_.GetCounter(name, "", labels).Value();
  }
  std::uint64_t Requests(const std::string& method) { return Counter("ces_rpc_requests_total", {{"method", method}}); }

  FakeNode node_;
  metrics::Registry registry_;
};

TEST_F(ClientTest, EveryMethodWithTheNodesParameters) {
  node_.Handle([](const Request& r, const std::string&, http::ResponseWriter& w) {
    const char* schema = r.method == "chain_get_era_info_by_switch_block" ? test::kV1Schema : test::kV2Schema;
    FakeNode::Json(w, test::Envelope(test::ExampleResult(schema, r.method), r.id));
  });
  Client client(Options());
  auto status = client.GetStatus();
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_EQ(status->chainspec_name, "casper-example");
  auto block = client.GetBlock(10);
  ASSERT_TRUE(block) << block.error().message;
  EXPECT_EQ(block->height, 10u);
  const TransactionId tx{HashKind::kVersion1, "e6bc93a30584fefced99be08c1861164b357c74e4904b5d2e7146896aaaaf843"};
  auto transaction = client.GetTransaction(tx);
  ASSERT_TRUE(transaction) << transaction.error().message;
  auto deploy = client.GetDeploy("5c9b3b099c1378aa8e4a5f07f59ff1fcdc69a83179427c7e67ae0377d94d93fa");
  ASSERT_TRUE(deploy) << deploy.error().message;
  auto era = client.GetEraSummary(10);
  ASSERT_TRUE(era) << era.error().message;
  auto by_switch = client.GetEraInfoBySwitchBlock(10);
  ASSERT_TRUE(by_switch) << by_switch.error().message;
  EXPECT_TRUE(by_switch->has_value());
  auto reward = client.GetReward({"01d9bf2148748a85c89da5aad8ee0b0fc2d105fd39d41a4c796536354f0ae2900c", std::nullopt, 1});
  ASSERT_TRUE(reward) << reward.error().message;

  const auto requests = node_.requests();
  ASSERT_EQ(requests.size(), 7u);
  EXPECT_EQ(requests[0].method, "info_get_status");
  EXPECT_EQ(requests[0].params, nlohmann::json::array());
  EXPECT_EQ(requests[1].params, nlohmann::json::parse(R"({"block_identifier":{"Height":10}})"));
  EXPECT_EQ(requests[2].params, nlohmann::json::parse(R"({"transaction_hash":{"Version1":")" + tx.hash + R"("}})"));
  EXPECT_EQ(requests[3].method, "info_get_deploy");
  EXPECT_EQ(requests[4].method, "chain_get_era_summary");
  EXPECT_EQ(requests[5].params, nlohmann::json::parse(R"({"block_identifier":{"Height":10}})"));
  EXPECT_EQ(requests[6].params["era_identifier"], nlohmann::json::parse(R"({"Era":1})"));
  std::vector<std::int64_t> ids;
  for (const auto& r : requests) ids.push_back(r.id);
  EXPECT_EQ(std::unique(ids.begin(), ids.end()), ids.end()) << "ids are unique per call";
}

TEST_F(ClientTest, UnknownBlockIsNotFoundAndNotRetried) {
  node_.Handle([](const Request& r, const std::string&, http::ResponseWriter& w) {
    FakeNode::Json(w, test::ErrorEnvelope(-32001, "No such block", r.id));
  });
  Client client(Options());
  auto block = client.GetBlock(99);
  ASSERT_FALSE(block);
  EXPECT_EQ(block.error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(block.error().rpc_code, -32001);
  EXPECT_EQ(block.error().attempts, 1);
  EXPECT_EQ(block.error().message, "chain_get_block height 99: JSON-RPC error -32001 No such block");
  EXPECT_EQ(Requests("chain_get_block"), 1u);
  EXPECT_EQ(Counter("ces_rpc_errors_total", {{"method", "chain_get_block"}, {"kind", "not_found"}}), 1u);
}

TEST_F(ClientTest, ServerErrorsAreRetriedThenSucceed) {
  std::atomic<int> calls{0};
  node_.Handle([&](const Request& r, const std::string& body, http::ResponseWriter& w) {
    if (calls++ < 2) {
      w.Send(500, "text/plain", "busy");
      return;
    }
    ServeBlocks(r, body, w);
  });
  Client client(Options());
  auto block = client.GetBlock(7);
  ASSERT_TRUE(block) << block.error().message;
  EXPECT_EQ(block->height, 7u);
  EXPECT_EQ(Requests("chain_get_block"), 3u);
  EXPECT_EQ(Counter("ces_rpc_retries_total", {{"method", "chain_get_block"}, {"reason", "http_5xx"}}), 2u);
}

TEST_F(ClientTest, ServerErrorsUntilTheAttemptsRunOut) {
  node_.Handle([](const Request&, const std::string&, http::ResponseWriter& w) { w.Send(503, "text/plain", "down"); });
  Client client(Options());
  auto block = client.GetBlock(7);
  ASSERT_FALSE(block);
  EXPECT_EQ(block.error().kind, ErrorKind::kTransport);
  EXPECT_TRUE(block.error().transient);
  EXPECT_EQ(block.error().attempts, 3);
  EXPECT_EQ(block.error().http_status, 503);
  EXPECT_EQ(block.error().message, "chain_get_block height 7: HTTP 503 down (after 3 attempts)");
  EXPECT_EQ(Counter("ces_rpc_errors_total", {{"method", "chain_get_block"}, {"kind", "transport"}}), 1u);
}

TEST_F(ClientTest, TooManyRequestsWaitsForRetryAfter) {
  std::atomic<int> calls{0};
  node_.Handle([&](const Request& r, const std::string& body, http::ResponseWriter& w) {
    if (calls++ == 0) {
      w.Send(429, "text/plain", "slow down", {{"Retry-After", "1"}});
      return;
    }
    ServeBlocks(r, body, w);
  });
  ClientOptions o = Options();
  o.backoff_max = 2000ms;
  Client client(o);
  const auto start = Clock::now();
  auto block = client.GetBlock(3);
  ASSERT_TRUE(block) << block.error().message;
  EXPECT_GE(Clock::now() - start, 950ms);
  EXPECT_EQ(Counter("ces_rpc_retries_total", {{"method", "chain_get_block"}, {"reason", "http_429"}}), 1u);
}

TEST_F(ClientTest, OtherHttpStatusesAreNotRetried) {
  node_.Handle([](const Request&, const std::string&, http::ResponseWriter& w) { w.Send(404, "text/plain", "no"); });
  Client client(Options());
  auto status = client.GetStatus();
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind, ErrorKind::kHttp);
  EXPECT_EQ(status.error().http_status, 404);
  EXPECT_EQ(Requests("info_get_status"), 1u);
}

TEST_F(ClientTest, SlowAnswersTimeOut) {
  node_.Handle([](const Request& r, const std::string& body, http::ResponseWriter& w) {
    const auto until = Clock::now() + 1500ms;
    while (Clock::now() < until && !w.Cancelled()) std::this_thread::sleep_for(10ms);
    ServeBlocks(r, body, w);
  });
  ClientOptions o = Options();
  o.timeout = 200ms;
  o.max_attempts = 2;
  Client client(o);
  const auto start = Clock::now();
  auto block = client.GetBlock(1);
  const auto elapsed = Clock::now() - start;
  ASSERT_FALSE(block);
  EXPECT_EQ(block.error().kind, ErrorKind::kTransport);
  EXPECT_NE(block.error().message.find("timed out"), std::string::npos) << block.error().message;
  EXPECT_EQ(block.error().attempts, 2);
  EXPECT_GE(elapsed, 400ms);
  EXPECT_LT(elapsed, 1400ms);
  EXPECT_EQ(Counter("ces_rpc_retries_total", {{"method", "chain_get_block"}, {"reason", "timeout"}}), 1u);
}

TEST_F(ClientTest, TruncatedJsonIsRetried) {
  std::atomic<int> calls{0};
  node_.Handle([&](const Request& r, const std::string&, http::ResponseWriter& w) {
    const std::string answer = BlockAnswer(HeightOf(r), r.id);
    FakeNode::Json(w, calls++ == 0 ? answer.substr(0, answer.size() / 2) : answer);
  });
  Client client(Options());
  auto block = client.GetBlock(5);
  ASSERT_TRUE(block) << block.error().message;
  EXPECT_EQ(Counter("ces_rpc_retries_total", {{"method", "chain_get_block"}, {"reason", "invalid_json"}}), 1u);

  node_.Handle([](const Request& r, const std::string&, http::ResponseWriter& w) {
    const std::string answer = BlockAnswer(HeightOf(r), r.id);
    FakeNode::Json(w, answer.substr(0, answer.size() - 3));
  });
  auto broken = client.GetBlock(6);
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().kind, ErrorKind::kMalformed);
  EXPECT_TRUE(broken.error().transient);
  EXPECT_EQ(broken.error().attempts, 3);
  EXPECT_NE(broken.error().message.find("chain_get_block height 6: invalid JSON"), std::string::npos)
      << broken.error().message;
}

TEST_F(ClientTest, AnswerForAnotherHeightIsAnErrorNotARetry) {
  node_.Handle([](const Request& r, const std::string&, http::ResponseWriter& w) {
    FakeNode::Json(w, BlockAnswer(HeightOf(r) + 1, r.id));
  });
  Client client(Options());
  auto block = client.GetBlock(20);
  ASSERT_FALSE(block);
  EXPECT_EQ(block.error().kind, ErrorKind::kMalformed);
  EXPECT_FALSE(block.error().transient);
  EXPECT_NE(block.error().message.find("chain_get_block height 20: the answer holds block"), std::string::npos);
  EXPECT_NE(block.error().message.find("at height 21"), std::string::npos);
  EXPECT_EQ(Requests("chain_get_block"), 1u);
  EXPECT_EQ(Counter("ces_rpc_errors_total", {{"method", "chain_get_block"}, {"kind", "malformed"}}), 1u);
}

TEST_F(ClientTest, ConnectionRefused) {
  ClientOptions o = Options();
  o.url = "http://127.0.0.1:" + std::to_string(ces::test::FreePort()) + "/rpc";
  Client client(o);
  auto status = client.GetStatus();
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind, ErrorKind::kTransport);
  EXPECT_EQ(status.error().attempts, 3);
  EXPECT_NE(status.error().message.find("info_get_status of the node: "), std::string::npos);
  EXPECT_EQ(Counter("ces_rpc_retries_total", {{"method", "info_get_status"}, {"reason", "transport"}}), 2u);
}

TEST_F(ClientTest, RateLimitHoldsAcrossConcurrentCalls) {
  node_.Handle(ServeBlocks);
  ClientOptions o = Options();
  o.rate = 25;
  o.max_in_flight = 8;
  Client client(o);
  const auto blocks = client.GetBlocks(0, 24);
  for (const auto& b : blocks) ASSERT_TRUE(b) << b.error().message;
  auto arrivals = node_.arrivals();
  ASSERT_EQ(arrivals.size(), 25u);
  std::sort(arrivals.begin(), arrivals.end());
  const double seconds = std::chrono::duration<double>(arrivals.back() - arrivals.front()).count();
  const double rate = 24 / seconds;  // 25 requests, 24 intervals
  EXPECT_LE(rate, 25 * 1.05) << seconds << " s";
  EXPECT_GE(rate, 25 * 0.5) << seconds << " s";  // limited, not stalled
  // No one-second window holds more than rate + burst requests.
  for (std::size_t i = 0; i < arrivals.size(); ++i) {
    const auto in_window = std::upper_bound(arrivals.begin(), arrivals.end(), arrivals[i] + 1s) - (arrivals.begin() + i);
    EXPECT_LE(in_window, 26);
  }
}

TEST_F(ClientTest, MaxInFlightIsHonoured) {
  std::atomic<int> current{0}, peak{0};
  node_.Handle([&](const Request& r, const std::string& body, http::ResponseWriter& w) {
    const int now = ++current;
    int seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(100ms);
    --current;
    ServeBlocks(r, body, w);
  });
  ClientOptions o = Options();
  o.max_in_flight = 3;
  Client client(o);
  const auto start = Clock::now();
  const auto blocks = client.GetBlocks(100, 111);
  ASSERT_EQ(blocks.size(), 12u);
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    ASSERT_TRUE(blocks[i]) << blocks[i].error().message;
    EXPECT_EQ(blocks[i]->height, 100 + i);
  }
  EXPECT_EQ(peak.load(), 3);
  EXPECT_GE(Clock::now() - start, 390ms);  // 12 calls, 3 at a time, 100 ms each
  EXPECT_EQ(registry_.GetGauge("ces_rpc_in_flight", "").Value(), 0);
}

TEST_F(ClientTest, CancelEndsRunningAndLaterCalls) {
  node_.Handle([](const Request& r, const std::string& body, http::ResponseWriter& w) {
    const auto until = Clock::now() + 2s;
    while (Clock::now() < until && !w.Cancelled()) std::this_thread::sleep_for(10ms);
    ServeBlocks(r, body, w);
  });
  Client client(Options());
  std::promise<Result<Block>> promise;
  client.GetBlockAsync(1, [&](Result<Block> r) { promise.set_value(std::move(r)); });
  std::this_thread::sleep_for(100ms);
  const auto start = Clock::now();
  client.Cancel();
  auto result = promise.get_future().get();
  EXPECT_LT(Clock::now() - start, 500ms);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kCancelled);
  EXPECT_EQ(result.error().message, "chain_get_block height 1: cancelled");
  auto later = client.GetStatus();
  EXPECT_EQ(later.error().kind, ErrorKind::kCancelled);
}

TEST_F(ClientTest, DestroyingTheClientEndsEveryPendingCall) {
  node_.Handle([](const Request& r, const std::string& body, http::ResponseWriter& w) {
    std::this_thread::sleep_for(300ms);
    ServeBlocks(r, body, w);
  });
  std::atomic<int> cancelled{0}, chained{0};
  {
    ClientOptions o = Options();
    o.max_in_flight = 2;
    Client client(o);
    for (int i = 0; i < 6; ++i) {
      client.GetBlockAsync(i, [&](Result<Block> r) {
        if (!r && r.error().kind == ErrorKind::kCancelled) ++cancelled;
        // A callback starting another call while the client goes away: that one ends too.
        client.GetStatusAsync([&](Result<Status> s) {
          if (!s && s.error().kind == ErrorKind::kCancelled) ++chained;
        });
      });
    }
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(cancelled.load(), 6);
  EXPECT_EQ(chained.load(), 6);
}

TEST_F(ClientTest, CallbacksMayStartCalls) {
  node_.Handle(ServeBlocks);
  Client client(Options());
  std::promise<std::vector<std::uint64_t>> done;
  std::vector<std::uint64_t> heights;
  std::function<void(Result<Block>)> next = [&](Result<Block> r) {
    ASSERT_TRUE(r);
    heights.push_back(r->height);
    if (heights.size() < 5) {
      client.GetBlockAsync(r->height + 1, next);
    } else {
      done.set_value(heights);
    }
  };
  client.GetBlockAsync(40, next);
  EXPECT_EQ(done.get_future().get(), (std::vector<std::uint64_t>{40, 41, 42, 43, 44}));
}

TEST_F(ClientTest, InvalidArgumentsNeverReachTheNode) {
  Client client(Options());
  auto deploy = client.GetDeploy("not-a-hash");
  ASSERT_FALSE(deploy);
  EXPECT_EQ(deploy.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_NE(deploy.error().message.find("info_get_deploy Deploy not-a-hash"), std::string::npos);
  EXPECT_TRUE(node_.requests().empty());
}

TEST_F(ClientTest, MetricsCountRequestsAndLatency) {
  node_.Handle(ServeBlocks);
  Client client(Options());
  for (const auto& b : client.GetBlocks(1, 4)) ASSERT_TRUE(b);
  EXPECT_EQ(Requests("chain_get_block"), 4u);
  const std::string text = registry_.Render();
  EXPECT_NE(text.find("ces_rpc_request_duration_seconds_count{method=\"chain_get_block\"} 4"), std::string::npos) << text;
}

TEST(ClientOptionsTest, BadOptionsThrow) {
  auto make = [](auto change) {
    ClientOptions o;
    o.url = "http://127.0.0.1:1/rpc";
    change(o);
    return [o] { Client client(o); };
  };
  EXPECT_THROW(make([](ClientOptions& o) { o.url = "127.0.0.1:7777"; })(), std::invalid_argument);
  EXPECT_THROW(make([](ClientOptions& o) { o.max_attempts = 0; })(), std::invalid_argument);
  EXPECT_THROW(make([](ClientOptions& o) { o.max_in_flight = 0; })(), std::invalid_argument);
  EXPECT_THROW(make([](ClientOptions& o) { o.rate = -1; })(), std::invalid_argument);
  EXPECT_NO_THROW(make([](ClientOptions&) {})());
}

// ---- on the wire -----------------------------------------------------------------------------

// A keep-alive HTTP/1.1 server on raw sockets that counts connections and can cut an answer short:
// it announces the whole Content-Length, sends half the body and closes the connection.
class WireServer {
 public:
  using Handler = std::function<std::string(const std::string& request_body, bool& cut)>;

  explicit WireServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(listen_fd_, 16), 0);
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~WireServer() {
    stop_ = true;
    acceptor_.join();
    {
      std::lock_guard lock(mutex_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : workers_) t.join();
    for (int fd : fds_) ::close(fd);
    ::close(listen_fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/rpc"; }
  int connections() const { return connections_.load(); }

 private:
  void Accept() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      ++connections_;
      std::lock_guard lock(mutex_);
      fds_.push_back(fd);
      workers_.emplace_back([this, fd] { Serve(fd); });
    }
  }

  void Serve(int fd) {
    std::string buffer;
    char chunk[8192];
    auto fill = [&](std::size_t size) {
      while (buffer.size() < size) {
        const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) return false;
        buffer.append(chunk, static_cast<std::size_t>(n));
      }
      return true;
    };
    while (!stop_) {
      std::size_t head_end;
      while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
        if (!fill(buffer.size() + 1)) return;
      }
      std::string head = buffer.substr(0, head_end);
      std::transform(head.begin(), head.end(), head.begin(), [](unsigned char c) { return std::tolower(c); });
      const auto cl = head.find("content-length:");
      const std::size_t length = cl == std::string::npos ? 0 : std::stoul(head.substr(cl + 15));
      if (!fill(head_end + 4 + length)) return;
      const std::string body = buffer.substr(head_end + 4, length);
      buffer.erase(0, head_end + 4 + length);
      bool cut = false;
      const std::string answer = handler_(body, cut);
      std::string response = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                             std::to_string(answer.size()) + "\r\n\r\n";
      response += cut ? answer.substr(0, answer.size() / 2) : answer;
      ::send(fd, response.data(), response.size(), MSG_NOSIGNAL);
      if (cut) {
        ::shutdown(fd, SHUT_RDWR);
        return;
      }
    }
  }

  Handler handler_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<int> fds_;
  std::list<std::thread> workers_;
};

std::string AnswerBlock(const std::string& body) {
  const Request r = ReadRequest(body);
  return BlockAnswer(HeightOf(r), r.id);
}

TEST(ClientWireTest, ConnectionsAreReused) {
  WireServer server([](const std::string& body, bool&) { return AnswerBlock(body); });
  metrics::Registry registry;
  ClientOptions o;
  o.url = server.url();
  o.registry = &registry;
  o.max_in_flight = 2;
  Client client(o);
  for (std::uint64_t h = 0; h < 20; ++h) ASSERT_TRUE(client.GetBlock(h));
  EXPECT_EQ(server.connections(), 1);
  for (const auto& b : client.GetBlocks(20, 59)) ASSERT_TRUE(b);
  EXPECT_LE(server.connections(), 2);
}

TEST(ClientWireTest, BodyCutShortOnTheWireIsRetried) {
  std::atomic<int> calls{0};
  WireServer server([&](const std::string& body, bool& cut) {
    cut = calls++ == 0;
    return AnswerBlock(body);
  });
  metrics::Registry registry;
  ClientOptions o;
  o.url = server.url();
  o.registry = &registry;
  o.backoff_initial = 10ms;
  Client client(o);
  auto block = client.GetBlock(8);
  ASSERT_TRUE(block) << block.error().message;
  EXPECT_EQ(block->height, 8u);
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(registry.GetCounter("ces_rpc_retries_total", "", {{"method", "chain_get_block"}, {"reason", "transport"}}).Value(),
            1u);
  EXPECT_EQ(server.connections(), 2);
}

}  // namespace
}  // namespace ces::rpc
