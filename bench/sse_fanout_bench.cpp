// Live SSE fan-out benchmark (issue 5 §3): N SSE connections, read by --threads client threads (each
// an epoll loop over its share of the sockets), against the api's /events, while one event per --interval is produced to Kafka; each payload carries the
// producer's send time in microseconds, so delivery latency = receive time - send time (same host).
// Reports connections, events delivered vs expected, and the p50/p90/p99/max latency.
//
//   sse_fanout_bench run --url http://127.0.0.1:8080 --kafka HOST:PORT --topic-prefix P
//                        [--subscribers 10000] [--interval-ms 100] [--duration 60] [--threads 2]
//   sse_fanout_bench topics --kafka HOST:PORT --topic-prefix P      creates the three topics
//   sse_fanout_bench serve --kafka HOST:PORT --topic-prefix P --listen 127.0.0.1:8080
//        a live-only api (AsyncServer + LiveHub, as `api --kafka` serves /events) for when the
//        binary is not at hand; bench/sse_fanout_bench.sh prefers `casper-event-store api --kafka`.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <functional>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <vector>

#include "ces/audit/query.hpp"
#include "ces/common/metrics.hpp"
#include "ces/common/time.hpp"
#include "ces/http/async_server.hpp"
#include "ces/ingest/record.hpp"
#include "ces/kafka/client.hpp"
#include "ces/live/hub.hpp"
#include "ces/sse/parser.hpp"

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
  // Per event id: the smallest and largest latency (us) over all connections.
  std::unordered_map<std::string, std::pair<std::int64_t, std::int64_t>> spread;
  std::uint64_t events = 0;
  std::uint64_t connected = 0;
  std::uint64_t failed = 0;
  std::uint64_t closed = 0;
};

// One SSE connection: HTTP/1.1 response head, chunked body, SSE frames. Driven by its Reader's
// edge-triggered epoll loop: it reads until a short read (the socket is drained then, and new data
// raises a new edge), so a frame usually costs one recv.
class Connection : public ces::sse::Handler {
 public:
  explicit Connection(Stats& stats) : stats_(stats), parser_(*this) {}
  ~Connection() override { Stop(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Blocking connect and request; then non-blocking. False (counted as failed) on an error.
  bool Open(const sockaddr_in& address, const std::string& request) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0 ||
        ::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
      ++stats_.failed;
      answered_ = true;
      Stop();
      return false;
    }
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    return true;
  }
  int fd() const { return fd_; }
  bool answered() const { return answered_; }

  // The socket is readable: reads until it is drained.
  void OnReadable(char* buffer, std::size_t size) {
    while (fd_ >= 0) {
      const ssize_t n = ::recv(fd_, buffer, size, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n <= 0) return Fail();
      Consume(std::string_view(buffer, static_cast<std::size_t>(n)));
      if (static_cast<std::size_t>(n) < size) return;
    }
  }

  void OnEvent(const ces::sse::Event& e) override {
    if (!e.id) return;
    ++stats_.events;
    static constexpr std::string_view kKey = "\"sent_us\":";
    const auto pos = e.data.find(kKey);
    if (pos == std::string_view::npos) return;
    const std::int64_t sent = std::strtoll(std::string(e.data.substr(pos + kKey.size(), 20)).c_str(), nullptr, 10);
    const std::int64_t lat = NowUs() - sent;
    auto [it, fresh] = stats_.spread.try_emplace(std::string(*e.id), lat, lat);
    if (!fresh) {
      it->second.first = std::min(it->second.first, lat);
      it->second.second = std::max(it->second.second, lat);
    }
    stats_.latencies_us.push_back(static_cast<std::uint32_t>(std::clamp<std::int64_t>(lat, 0, 4000000000)));
  }
  void Stop() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  void Fail() {
    if (!ready_) {
      ++stats_.failed;
      answered_ = true;
    } else {
      ++stats_.closed;
    }
    Stop();
  }
  void Consume(std::string_view data) {
    if (!ready_) {
      head_.append(data);
      const auto end = head_.find("\r\n\r\n");
      if (end == std::string::npos) return;
      ready_ = true;
      answered_ = true;
      if (head_.compare(0, 12, "HTTP/1.1 200") != 0) {
        ++stats_.failed;
        Stop();
        return;
      }
      ++stats_.connected;
      std::string rest = head_.substr(end + 4);
      std::string().swap(head_);
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
      const auto nl = data.find('\n');
      line_.append(data.substr(0, nl == std::string_view::npos ? data.size() : nl + 1));
      data.remove_prefix(nl == std::string_view::npos ? data.size() : nl + 1);
      if (line_.size() >= 2 && line_.compare(line_.size() - 2, 2, "\r\n") == 0) {
        line_.resize(line_.size() - 2);
        if (!line_.empty()) chunk_left_ = std::strtoull(line_.c_str(), nullptr, 16);
        line_.clear();
      }
    }
  }

  Stats& stats_;
  ces::sse::Parser parser_;
  int fd_ = -1;
  std::string head_;
  std::string line_;
  std::size_t chunk_left_ = 0;
  bool ready_ = false;
  bool answered_ = false;
};

// One client thread: its share of the connections on one epoll instance.
class Reader {
 public:
  Reader() : epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (epoll_ < 0) throw std::runtime_error("epoll_create1 failed");
  }
  ~Reader() { ::close(epoll_); }

  // Opens `count` connections, at most 256 awaiting their response head at a time.
  void Connect(std::size_t count, const sockaddr_in& address, const std::string& request) {
    connections_.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      auto c = std::make_unique<Connection>(stats);
      if (c->Open(address, request)) {
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
        ev.data.ptr = c.get();
        ::epoll_ctl(epoll_, EPOLL_CTL_ADD, c->fd(), &ev);
      }
      connections_.push_back(std::move(c));
      while (Waiting() >= 256) Poll(50);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (Waiting() > 0 && std::chrono::steady_clock::now() < deadline) Poll(50);
  }
  // Reads until `stop` is set.
  void Run(const std::atomic<bool>& stop) {
    while (!stop.load(std::memory_order_relaxed)) Poll(50);
  }
  void Close() {
    for (auto& c : connections_) c->Stop();
  }
  Stats stats;

 private:
  std::size_t Waiting() const {
    std::size_t n = 0;
    for (std::size_t i = first_waiting_; i < connections_.size(); ++i) n += connections_[i]->answered() ? 0 : 1;
    return n;
  }
  void Poll(int timeout_ms) {
    const int n = ::epoll_wait(epoll_, events_.data(), static_cast<int>(events_.size()), timeout_ms);
    for (int i = 0; i < n; ++i) {
      static_cast<Connection*>(events_[static_cast<std::size_t>(i)].data.ptr)->OnReadable(buffer_.data(), buffer_.size());
    }
    while (first_waiting_ < connections_.size() && connections_[first_waiting_]->answered()) ++first_waiting_;
  }

  int epoll_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::size_t first_waiting_ = 0;
  std::array<epoll_event, 1024> events_{};
  std::array<char, 64 * 1024> buffer_{};
};

double Percentile(std::vector<std::uint32_t>& v, double p) {
  if (v.empty()) return 0;
  const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return v[i] / 1000.0;
}

double CpuSeconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

int Run(const std::map<std::string, std::string>& a) {
  const std::string url = Get(a, "url", "http://127.0.0.1:8080");
  const std::string kafka = Get(a, "kafka", "");
  const std::string prefix = Get(a, "topic-prefix", "");
  const std::size_t n = std::stoul(Get(a, "subscribers", "10000"));
  const int interval_ms = std::stoi(Get(a, "interval-ms", "100"));
  const int duration_s = std::stoi(Get(a, "duration", "60"));
  const std::size_t threads = std::max<std::size_t>(1, std::stoul(Get(a, "threads", "2")));
  const std::string path = Get(a, "path", "/events");
  const auto hostport = url.substr(url.find("://") + 3);
  const auto colon = hostport.rfind(':');
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(std::stoi(hostport.substr(colon + 1))));
  if (::inet_pton(AF_INET, hostport.substr(0, colon).c_str(), &address.sin_addr) != 1) {
    throw std::runtime_error("--url: an IPv4 address is expected");
  }
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n";

  std::vector<std::unique_ptr<Reader>> readers;
  for (std::size_t t = 0; t < threads; ++t) {
    readers.push_back(std::make_unique<Reader>());
    readers.back()->stats.latencies_us.reserve((n / threads + 1) *
                                               static_cast<std::size_t>(duration_s * 1000 / interval_ms + 10));
  }
  const auto t_connect = std::chrono::steady_clock::now();
  {
    std::vector<std::thread> connecting;
    for (std::size_t t = 0; t < threads; ++t) {
      const std::size_t share = n / threads + (t < n % threads ? 1 : 0);
      connecting.emplace_back([&, t, share] { readers[t]->Connect(share, address, request); });
    }
    for (auto& th : connecting) th.join();
  }
  std::uint64_t connected = 0;
  std::uint64_t failed = 0;
  for (auto& r : readers) {
    connected += r->stats.connected;
    failed += r->stats.failed;
  }
  const double connect_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_connect).count();
  std::fprintf(stderr, "connected %llu of %zu in %.1f s (%llu failed), %zu client threads\n",
               static_cast<unsigned long long>(connected), n, connect_s, static_cast<unsigned long long>(failed),
               threads);
  const std::uint64_t subscribers_at_start = connected;

  std::atomic<bool> stop{false};
  std::vector<std::thread> reading;
  for (auto& r : readers) reading.emplace_back([&stop, reader = r.get()] { reader->Run(stop); });
  std::this_thread::sleep_for(std::chrono::seconds(1));  // the api attaches them
  const std::uint64_t events_before = 0;  // only events with an id are counted: ApiVersion frames are not

  const double cpu_before = CpuSeconds();
  std::atomic<std::uint64_t> produced{0};
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
  });
  producer.join();
  std::this_thread::sleep_for(std::chrono::seconds(3));  // the last events in flight
  stop = true;
  for (auto& th : reading) th.join();
  const double cpu_s = CpuSeconds() - cpu_before;
  for (auto& r : readers) r->Close();

  // Merge the threads' figures.
  Stats stats;
  for (auto& r : readers) {
    Stats& s = r->stats;
    stats.events += s.events;
    stats.failed += s.failed;
    stats.closed += s.closed;
    stats.latencies_us.insert(stats.latencies_us.end(), s.latencies_us.begin(), s.latencies_us.end());
    std::vector<std::uint32_t>().swap(s.latencies_us);
    for (const auto& [id, fl] : s.spread) {
      auto [it, fresh] = stats.spread.try_emplace(id, fl);
      if (!fresh) {
        it->second.first = std::min(it->second.first, fl.first);
        it->second.second = std::max(it->second.second, fl.second);
      }
    }
  }
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
  // the server's writes and the client threads' reads of N sockets).
  std::vector<std::uint32_t> first;
  std::vector<std::uint32_t> spread;
  for (const auto& [id, fl] : stats.spread) {
    first.push_back(static_cast<std::uint32_t>(std::max<std::int64_t>(0, fl.first)));
    spread.push_back(static_cast<std::uint32_t>(std::max<std::int64_t>(0, fl.second - fl.first)));
  }
  std::printf("first subscriber ms: p50 %.2f  p99 %.2f; first-to-last spread ms: p50 %.2f  p99 %.2f\n",
              Percentile(first, 0.5), Percentile(first, 0.99), Percentile(spread, 0.5), Percentile(spread, 0.99));
  std::printf("client CPU while producing: %.1f ms per event\n",
              produced.load() ? 1000.0 * cpu_s / static_cast<double>(produced.load()) : 0.0);
  return delivered == expected && p99 < 100 ? 0 : 2;
}

std::atomic<bool> g_stop{false};

int Serve(const std::map<std::string, std::string>& a) {
  using namespace ces;
  metrics::Registry& registry = metrics::Default();
  live::LiveHubOptions options;
  options.kafka_bootstrap = Get(a, "kafka", "");
  options.topic_prefix = Get(a, "topic-prefix", "");
  options.max_subscribers = std::stoul(Get(a, "max-subscribers", "20000"));
  live::LiveHub hub(options, registry);
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
      writer.Send(400, "application/json", common::ErrorJson(400, parsed.error.message, parsed.error.parameter));
      return;
    }
    auto ticket = hub.Admit();
    if (!ticket) {
      writer.Send(503, "application/json", common::ErrorJson(503, "too many live subscribers"));
      return;
    }
    if (!writer.StartStream(200, "text/event-stream", {{"Cache-Control", "no-cache"}})) return;
    auto sink = writer.Detach(hub.SinkLimit());
    if (!sink) return;
    live::LiveHub::Subscription subscription;
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
      ces::kafka::EnsureTopics(Get(a, "kafka", ""), {}, {{prefix + "main", 1, -1, {}}, {prefix + "deploys", 1, -1, {}},
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
