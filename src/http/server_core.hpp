#pragma once
// Private to ces::http: the state the async server's parts share (AsyncServer::Impl is a ServerCore).
// Threads: `io_threads` run the io_context (accept, read, parse, write); every connection has its own
// strand. Handlers run on the HandlerPool. Connections are owned here until they close.

#include <atomic>
#include <utility>  // before Boost.Asio, which uses std::exchange
#include <boost/asio.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "ces/http/async_server.hpp"
#include "handler_pool.hpp"
#include "rate_limiter.hpp"
#include "request_parser.hpp"
#include "response.hpp"
#include "router.hpp"

namespace ces::metrics {
class Counter;
class Gauge;
class Histogram;
}  // namespace ces::metrics

namespace ces::http::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

class Connection;

struct ServerCore {
  explicit ServerCore(AsyncServerOptions opts);

  AsyncServerOptions options;
  std::uint64_t generation;  // tells the servers of one process apart (per-thread metric caches)
  asio::io_context io;       // first: outlives every socket below
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::steady_timer> sweep_timer;
  std::optional<asio::steady_timer> accept_retry_timer;
  std::vector<std::thread> io_threads;
  std::atomic<bool> started{false};
  std::atomic<bool> stopping{false};
  bool running = false;  // Start() completed
  bool stopped = false;
  std::uint16_t port = 0;
  std::mutex stop_mutex;

  Router router;
  AsyncHandler not_found;
  bool custom_not_found = false;
  bool cors_any = false;
  ResponseBuilder responses;
  std::optional<RateLimiter> rate_limiter;  // with rate_limit_per_client > 0
  HandlerPool pool;

  // Flushes requested from other threads (handlers, the live publisher), batched per shard: the
  // first request of an empty shard posts ONE task, which flushes every queued connection on an I/O
  // thread (each on its strand, run inline when the strand is idle). A publisher offering a frame to
  // 10,000 streams thus costs a few posts per event, not one cross-thread post per connection.
  struct FlushShard {
    std::mutex mutex;
    std::vector<std::shared_ptr<Connection>> queue;
    std::vector<std::shared_ptr<Connection>> spare;  // the last batch's storage, reused
    bool posted = false;
  };
  std::vector<std::unique_ptr<FlushShard>> flush_shards;
  std::atomic<std::size_t> next_flush_shard{0};
  void QueueFlush(std::shared_ptr<Connection> conn, std::size_t shard);
  void RunFlushShard(std::size_t shard);

  // Open connections (owning).
  mutable std::mutex conns_mutex;
  std::unordered_map<Connection*, std::shared_ptr<Connection>> conns;

  // Metrics (set at Start when options.registry is set).
  metrics::Gauge* connections_gauge = nullptr;
  metrics::Gauge* streams_gauge = nullptr;
  metrics::Counter* rejected_queue_full = nullptr;
  metrics::Counter* rejected_rate_limited = nullptr;
  metrics::Counter* rejected_too_large = nullptr;
  metrics::Counter* rejected_header_too_large = nullptr;
  metrics::Counter* rejected_connections = nullptr;
  metrics::Counter* rejected_slow_client = nullptr;
  metrics::Histogram* unmatched_latency = nullptr;

  void DoAccept();
  void OnAccept(tcp::socket socket);
  void ScheduleSweep();
  // Closes connections past their deadline; forgets idle rate-limit buckets.
  void Sweep();
  void Unregister(Connection* conn);
  std::vector<std::shared_ptr<Connection>> Snapshot() const;
  std::size_t OpenConnections() const;

  // Runs the handler of the connection's request (its route's, or the not-found one) and completes the
  // response.
  void RunHandler(const std::shared_ptr<Connection>& conn);
  // Whether `client` may send a request now (always without a rate limit); else the seconds to wait.
  bool AllowRequest(const std::string& client, int* retry_after);

  // A complete response (or, with `stream`, the head of a chunked one). `status` may become 304.
  std::string BuildResponse(const RequestInfo& info, int& status, std::string_view content_type, std::string_view body,
                            const Headers& headers, bool stream) const {
    return responses.Build(info, status, content_type, body, headers, stream);
  }
  void RecordRequest(int route_index, MethodCode method, int status, Clock::time_point started);
  void Reject(metrics::Counter* counter);
};

}  // namespace ces::http::detail
