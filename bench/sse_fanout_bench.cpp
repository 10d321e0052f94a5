// Live SSE fan-out benchmark (issue 5 §3): N SSE connections opened with Asio from ONE thread against
// the api's /events, while one event per --interval is produced to Kafka; each payload carries the
// producer's send time in microseconds, so delivery latency = receive time - send time (same host).
// Reports connections, events delivered vs expected, and the p50/p90/p99/max latency.
//
//   sse_fanout_bench run --url http://127.0.0.1:8080 --kafka HOST:PORT --topic-prefix P
//                        [--subscribers 10000] [--interval-ms 100] [--duration 60]
//   sse_fanout_bench topics --kafka HOST:PORT --topic-prefix P      creates the three topics
//   sse_fanout_bench serve --kafka HOST:PORT --topic-prefix P --listen 127.0.0.1:8080
//        a live-only api (AsyncServer + LiveHub, as `api --kafka` serves /events) for when the
//        binary is not at hand; bench/sse_fanout_bench.sh prefers `casper-event-store api --kafka`.
#include <utility>  // before Asio: its awaitable.hpp uses std::exchange

#include <boost/asio.hpp>

#include <algorithm>
#include <array>
#include <functional>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ces/audit/query.hpp"
#include "ces/common/metrics.hpp"
#include "ces/common/time.hpp"
#include "ces/http/async_server.hpp"
#include "ces/ingest/record.hpp"
#include "ces/kafka/client.hpp"
#include "ces/sse/parser.hpp"
#include "live_hub.hpp"

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::system_clock;

namespace {

std::int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count();
}

std::map<std::string, std::string> Args(int argc, char** argv, int from) {
  std::map<std::string, std::string> out;
  for (int i = from; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k.rfind("--", 0) == 0) out[k.substr(2)] = argv[i + 1];
  }
  return out;
}

std::string Get(const std::map<std::string, std::string>& a, const std::string& k, const std::string& def) {
  auto it = a.find(k);
  return it == a.end() ? def : it->second;
}

struct Stats {
  std::vector<std::uint32_t> latencies_us;
  // Per event id: first and last receive time (us) over all connections.
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> spread;
  std::uint64_t events = 0;
  std::uint64_t connected = 0;
  std::uint64_t failed = 0;
  std::uint64_t closed = 0;
};

// One SSE connection: HTTP/1.1 response head, chunked body, SSE frames.
class Connection : public std::enable_shared_from_this<Connection>, public ces::sse::Handler {
 public:
  Connection(asio::io_context& io, tcp::endpoint endpoint, std::string target, Stats& stats,
             std::function<void()> on_ready)
      : socket_(io), endpoint_(endpoint), target_(std::move(target)), stats_(stats), parser_(*this),
        on_ready_(std::move(on_ready)) {}

  void Start() {
    auto self = shared_from_this();
    socket_.async_connect(endpoint_, [self](boost::system::error_code ec) {
      if (ec) return self->Fail();
      self->request_ = "GET " + self->target_ + " HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n";
      asio::async_write(self->socket_, asio::buffer(self->request_), [self](boost::system::error_code ec2, std::size_t) {
        if (ec2) return self->Fail();
        self->Read();
      });
    });
  }
  void OnEvent(const ces::sse::Event& e) override {
    if (!e.id) return;
    ++stats_.events;
    static constexpr std::string_view kKey = "\"sent_us\":";
    const auto pos = e.data.find(kKey);
    if (pos == std::string_view::npos) return;
    const std::int64_t sent = std::strtoll(std::string(e.data.substr(pos + kKey.size(), 20)).c_str(), nullptr, 10);
    const std::int64_t now = NowUs();
    const std::int64_t lat = now - sent;
    auto [it, fresh] = stats_.spread.try_emplace(std::string(*e.id), now - sent, now - sent);
    if (!fresh) it->second.second = lat;
    stats_.latencies_us.push_back(static_cast<std::uint32_t>(std::clamp<std::int64_t>(lat, 0, 4000000000)));
  }
  void Stop() {
    stopping_ = true;
    boost::system::error_code ec;
    socket_.close(ec);
  }

 private:
  void Fail() {
    if (!ready_) {
      ++stats_.failed;
      if (on_ready_) on_ready_();
    } else if (!stopping_) {
      ++stats_.closed;
    }
  }
  void Read() {
    auto self = shared_from_this();
    socket_.async_read_some(asio::buffer(buffer_), [self](boost::system::error_code ec, std::size_t n) {
      if (ec) return self->Fail();
      self->Consume(std::string_view(self->buffer_.data(), n));
      self->Read();
    });
  }
  void Consume(std::string_view data) {
    if (!ready_) {
      head_.append(data);
      const auto end = head_.find("\r\n\r\n");
      if (end == std::string::npos) return;
      if (head_.compare(0, 12, "HTTP/1.1 200") != 0) {
        ready_ = true;  // counted as failed below
        ++stats_.failed;
        if (on_ready_) on_ready_();
        Stop();
        return;
      }
      ready_ = true;
      ++stats_.connected;
      if (on_ready_) on_ready_();
      std::string rest = head_.substr(end + 4);
      head_.clear();
      Chunked(rest);
      return;
    }
    Chunked(data);
  }
  // Transfer-Encoding: chunked.
  void Chunked(std::string_view data) {
    while (!data.empty()) {
      if (chunk_left_ > 0) {
        const std::size_t take = std::min<std::size_t>(chunk_left_, data.size());
        parser_.Feed(data.substr(0, take));
        chunk_left_ -= take;
        data.remove_prefix(take);
        continue;
      }
      line_.append(data.substr(0, 1));
      data.remove_prefix(1);
      if (line_.size() >= 2 && line_.compare(line_.size() - 2, 2, "\r\n") == 0) {
        line_.resize(line_.size() - 2);
        if (!line_.empty()) {
          chunk_left_ = std::strtoull(line_.c_str(), nullptr, 16);
        }
        line_.clear();
      }
    }
  }

  tcp::socket socket_;
  tcp::endpoint endpoint_;
  std::string target_;
  std::string request_;
  Stats& stats_;
  ces::sse::Parser parser_;
  std::function<void()> on_ready_;
  std::array<char, 16384> buffer_;
  std::string head_;
  std::string line_;
  std::size_t chunk_left_ = 0;
  bool ready_ = false;
  bool stopping_ = false;
};

double Percentile(std::vector<std::uint32_t>& v, double p) {
  if (v.empty()) return 0;
  const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return v[i] / 1000.0;
}

int Run(const std::map<std::string, std::string>& a) {
  const std::string url = Get(a, "url", "http://127.0.0.1:8080");
  const std::string kafka = Get(a, "kafka", "");
  const std::string prefix = Get(a, "topic-prefix", "");
  const std::size_t n = std::stoul(Get(a, "subscribers", "10000"));
  const int interval_ms = std::stoi(Get(a, "interval-ms", "100"));
  const int duration_s = std::stoi(Get(a, "duration", "60"));
  const std::string path = Get(a, "path", "/events");
  const auto hostport = url.substr(url.find("://") + 3);
  const auto colon = hostport.rfind(':');
  tcp::endpoint endpoint(asio::ip::make_address(hostport.substr(0, colon)),
                         static_cast<unsigned short>(std::stoi(hostport.substr(colon + 1))));

  asio::io_context io;
  Stats stats;
  stats.latencies_us.reserve(n * static_cast<std::size_t>(duration_s * 1000 / interval_ms + 10));
  std::vector<std::shared_ptr<Connection>> connections;
  std::size_t started = 0;
  std::size_t answered = 0;
  // At most 256 connections in progress at a time.
  std::function<void()> next;
  next = [&] {
    ++answered;
    while (started < n && started - answered < 256) {
      auto c = std::make_shared<Connection>(io, endpoint, path, stats, next);
      connections.push_back(c);
      ++started;
      c->Start();
    }
  };
  const auto t_connect = std::chrono::steady_clock::now();
  answered = static_cast<std::size_t>(-1);
  next();
  while (answered < n) io.run_for(std::chrono::milliseconds(50));
  const double connect_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_connect).count();
  std::fprintf(stderr, "connected %llu of %zu in %.1f s (%llu failed)\n",
               static_cast<unsigned long long>(stats.connected), n, connect_s,
               static_cast<unsigned long long>(stats.failed));
  const std::uint64_t subscribers_at_start = stats.connected;
  io.run_for(std::chrono::seconds(1));  // the api attaches them
  const std::uint64_t events_before = stats.events;  // ApiVersion has no id: normally 0

  std::atomic<std::uint64_t> produced{0};
  std::atomic<bool> producing{true};
  std::thread producer([&] {
    ces::kafka::Producer p(kafka, {{"linger.ms", "0"}});
    const std::string source = "http://bench-node:9999";
    const std::string pad(400, 'x');
    const auto t0 = std::chrono::steady_clock::now();
    for (std::uint32_t i = 0; std::chrono::steady_clock::now() - t0 < std::chrono::seconds(duration_s); ++i) {
      const auto due = t0 + std::chrono::milliseconds(static_cast<long long>(i) * interval_ms);
      std::this_thread::sleep_until(due);
      const std::string payload = "{\"BlockAdded\":{\"block_hash\":\"" + std::string(64, 'a') +
                                  "\",\"sent_us\":" + std::to_string(NowUs()) + ",\"pad\":\"" + pad + "\"}}";
      ces::ingest::EventMeta meta{source, "events", i, "2.0.0", "BlockAdded", ces::time::FormatRfc3339(ces::time::Now())};
      p.Produce(prefix + "main", ces::ingest::RecordKey(source, "events"), payload, ces::ingest::RecordHeaders(meta),
                [](const ces::kafka::DeliveryReport&) {});
      p.Poll(std::chrono::milliseconds(0));
      ++produced;
    }
    p.Flush(std::chrono::seconds(10));
    producing = false;
  });
  while (producing) io.run_for(std::chrono::milliseconds(100));
  io.run_for(std::chrono::seconds(3));  // the last events in flight
  producer.join();
  for (auto& c : connections) c->Stop();
  io.run_for(std::chrono::milliseconds(200));

  const std::uint64_t expected = subscribers_at_start * produced.load();
  const std::uint64_t delivered = stats.events - events_before;
  auto& lat = stats.latencies_us;
  const double p50 = Percentile(lat, 0.50);
  const double p90 = Percentile(lat, 0.90);
  const double p99 = Percentile(lat, 0.99);
  const double max = lat.empty() ? 0 : *std::max_element(lat.begin(), lat.end()) / 1000.0;
  std::printf("subscribers %llu (failed %llu, closed early %llu)\n", static_cast<unsigned long long>(subscribers_at_start),
              static_cast<unsigned long long>(stats.failed), static_cast<unsigned long long>(stats.closed));
  std::printf("events produced %llu, delivered %llu of %llu expected (%.4f%%)\n",
              static_cast<unsigned long long>(produced.load()), static_cast<unsigned long long>(delivered),
              static_cast<unsigned long long>(expected), expected ? 100.0 * delivered / expected : 0.0);
  std::printf("delivery latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", p50, p90, p99, max);
  // The first subscriber's latency (Kafka and the hub) and the spread to the last one (the fan-out:
  // the server's writes and this single client thread's reads of N sockets).
  std::vector<std::uint32_t> first;
  std::vector<std::uint32_t> spread;
  for (const auto& [id, fl] : stats.spread) {
    first.push_back(static_cast<std::uint32_t>(std::max<std::int64_t>(0, fl.first)));
    spread.push_back(static_cast<std::uint32_t>(std::max<std::int64_t>(0, fl.second - fl.first)));
  }
  std::printf("first subscriber ms: p50 %.2f  p99 %.2f; first-to-last spread ms: p50 %.2f  p99 %.2f\n",
              Percentile(first, 0.5), Percentile(first, 0.99), Percentile(spread, 0.5), Percentile(spread, 0.99));
  return delivered == expected && p99 < 100 ? 0 : 2;
}

std::atomic<bool> g_stop{false};

int Serve(const std::map<std::string, std::string>& a) {
  using namespace ces;
  metrics::Registry& registry = metrics::Default();
  services::api::LiveHubOptions options;
  options.kafka_bootstrap = Get(a, "kafka", "");
  options.topic_prefix = Get(a, "topic-prefix", "");
  options.max_subscribers = std::stoul(Get(a, "max-subscribers", "20000"));
  services::api::LiveHub hub(options, registry);
  const std::string listen = Get(a, "listen", "127.0.0.1:8080");
  http::AsyncServerOptions server_options;
  server_options.host = listen.substr(0, listen.rfind(':'));
  server_options.port = static_cast<std::uint16_t>(std::stoi(listen.substr(listen.rfind(':') + 1)));
  server_options.registry = &registry;
  http::AsyncServer server(server_options);
  http::AddObservabilityRoutes(server, registry, [&hub](std::string& reason) { return hub.Ready(reason); });
  server.Route("GET", "/events", [&hub](const http::Request& request, http::AsyncResponseWriter& writer) {
    auto parsed = audit::ParseReplayQuery(request.query, audit::QueryKind::kStream, {});
    if (!parsed.query) {
      writer.Send(400, "application/json", http::JsonError(400, parsed.error.message, parsed.error.parameter));
      return;
    }
    auto ticket = hub.Admit();
    if (!ticket) {
      writer.Send(503, "application/json", http::JsonError(503, "too many live subscribers"));
      return;
    }
    if (!writer.StartStream(200, "text/event-stream", {{"Cache-Control", "no-cache"}})) return;
    auto sink = writer.Detach(hub.SinkLimit());
    if (!sink) return;
    services::api::LiveHub::Subscription subscription;
    subscription.query = *parsed.query;
    hub.Subscribe(std::move(ticket), std::move(sink), std::move(subscription));
  });
  hub.Start();
  server.Start();
  std::signal(SIGTERM, [](int) { g_stop = true; });
  std::signal(SIGINT, [](int) { g_stop = true; });
  std::fprintf(stderr, "serving on %s\n", listen.c_str());
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server.Stop();
  hub.Stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: sse_fanout_bench run|serve [--options]\n";
    return 1;
  }
  const std::string mode = argv[1];
  try {
    if (mode == "run") return Run(Args(argc, argv, 2));
    if (mode == "serve") return Serve(Args(argc, argv, 2));
    if (mode == "topics") {
      const auto a = Args(argc, argv, 2);
      const std::string prefix = Get(a, "topic-prefix", "");
      ces::kafka::EnsureTopics(Get(a, "kafka", ""), {{prefix + "main", 1, -1, {}}, {prefix + "deploys", 1, -1, {}},
                                                     {prefix + "sigs", 1, -1, {}}});
      return 0;
    }
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  std::cerr << "unknown mode " << mode << "\n";
  return 1;
}
