#pragma once
// The public API's HTTP/1.1 server: asynchronous I/O (Boost.Asio), so thousands of idle or streaming
// connections cost a socket and a small buffer each, not a thread.
//
// Handlers are ordinary blocking functions (they query PostgreSQL or MongoDB). They run on a bounded
// worker pool (RouteKind::kPooled) or, for long-running streams that block between writes (the audit
// replay), on a thread of their own (RouteKind::kDedicated, bounded by the caller's own limit).
// A streaming handler can also hand its connection over to the I/O threads with
// ResponseWriter::Detach(): the returned StreamSink takes frames without blocking, so one publisher
// can feed ten thousand subscribers (live SSE fan-out) while no handler thread is held.
//
// The server does for every route: path patterns ("/api/v1/blocks/{hash}"), HEAD from GET, 404/405
// JSON errors (with Allow), 413 for oversized bodies, 431 for oversized headers, 503 when the worker
// queue is full, optional per-client rate limit (429 with Retry-After), CORS (configured origins,
// preflight), gzip of compressible bodies, If-None-Match → 304 against the handler's ETag, request
// metrics per route, keep-alive with idle timeouts, and a graceful stop (drain, then end streams
// with a final message).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "ces/http/server.hpp"

namespace ces::metrics {
class Registry;
}

namespace ces::http {

// A streamed response handed over to the I/O threads. Thread-safe; no call blocks.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // Queues `data` for the client. Returns false when the connection is gone, or when the queued bytes
  // would exceed the sink's buffer limit: then the connection is aborted as by Abort() (a slow client
  // is dropped, never waited for) and every later Offer returns false.
  virtual bool Offer(std::shared_ptr<const std::string> data) = 0;
  bool Offer(std::string data) { return Offer(std::make_shared<const std::string>(std::move(data))); }
  // True once the connection is closed (client gone, dropped as slow, Close() or server stop).
  virtual bool Closed() const = 0;
  // Sends what is queued, then `final_data`, then ends the response and closes the connection.
  virtual void Close(std::string final_data = {}) = 0;
  // Closes the connection now, discarding what is queued (here and in the kernel's send buffer: the
  // client gets a reset, not a truncated-but-clean end). For dropping a slow client: Close() would
  // hold the socket and its buffer until a client that does not read took them, or TCP gave up.
  // Buffered() is 0 and every later Offer returns false as soon as it returns; OnClose runs shortly
  // after on an I/O thread.
  virtual void Abort() = 0;
  // Called once, on an I/O thread, when the connection closes for any reason (set it right after
  // Detach; if the sink is already closed it runs at once on the calling thread). Keep it short.
  virtual void OnClose(std::function<void()> callback) = 0;
  // Bytes queued and not yet written.
  virtual std::size_t Buffered() const = 0;

  enum class OfferResult {
    kQueued,   // taken (written to the socket, or queued)
    kClosed,   // the connection is gone (or was closed by the server)
    kDropped,  // this offer dropped the client as too slow (the connection is aborted)
  };
  // Offer for a fan-out, in one step: a client that already has unwritten bytes and that this frame
  // would take past `slow_limit` is dropped at once (as by Abort) instead of queued. A frame offered
  // to a client with nothing unwritten is always taken, however large (within the sink's limit).
  virtual OfferResult OfferOrDrop(const std::shared_ptr<const std::string>& data, std::size_t slow_limit) {
    const std::size_t buffered = Buffered();
    if (buffered > 0 && buffered + data->size() > slow_limit) {
      Abort();
      return OfferResult::kDropped;
    }
    if (Offer(data)) return OfferResult::kQueued;
    return buffered > 0 ? OfferResult::kDropped : OfferResult::kClosed;  // past the sink's own limit, or gone
  }
};

// Extension of ResponseWriter for the async server (the writer handlers get is one of these).
class AsyncResponseWriter : public ResponseWriter {
 public:
  // After StartStream: hands the connection to the I/O threads and returns a sink that holds at most
  // `max_buffer_bytes` unwritten bytes. The handler must not use the writer afterwards and should
  // return. Returns nullptr if the client is already gone.
  virtual std::shared_ptr<StreamSink> Detach(std::size_t max_buffer_bytes) = 0;
  // The client's address ("127.0.0.1").
  virtual const std::string& RemoteAddress() const = 0;
};

enum class RouteKind {
  kPooled,     // runs on the worker pool (short request/response handlers)
  kDedicated,  // runs on a thread of its own (long blocking streams; the caller bounds their number)
};

// Handlers receive Request::params filled from the pattern ("{hash}" → params["hash"], each segment
// matched on the raw path, then percent-decoded, so a parameter may contain an encoded '/').
using AsyncHandler = std::function<void(const Request&, AsyncResponseWriter&)>;

struct AsyncServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;                      // 0: a free port (see Port())
  unsigned io_threads = 2;                     // Asio threads
  unsigned worker_threads = 16;                // pool for kPooled handlers
  std::size_t max_queued_requests = 4096;      // kPooled requests waiting for a worker; beyond: 503
  std::size_t max_connections = 50000;         // beyond: accepted and closed at once
  std::size_t max_header_bytes = 16 * 1024;    // beyond: 431
  std::size_t max_body_bytes = 1024 * 1024;    // beyond: 413
  std::chrono::milliseconds idle_timeout{60000};     // keep-alive connection waiting for a request
  std::chrono::milliseconds request_timeout{30000};  // to receive a started request
  std::size_t stream_write_buffer = 1024 * 1024;     // blocking WriteChunk waits while more is queued
  double rate_limit_per_client = 0;            // requests/s per client address (burst 2x); 0 = off
  std::vector<std::string> cors_origins;       // allowed Origin values; "*" = any; empty = no CORS headers
  bool gzip = true;                            // compress JSON/text bodies >= gzip_min_bytes if accepted
  std::size_t gzip_min_bytes = 1024;
  std::string stream_final_data = ": server shutting down\n\n";  // written to open streams on Stop()
  std::chrono::milliseconds drain_timeout{5000};  // Stop(): longest wait for running handlers
  metrics::Registry* registry = nullptr;       // request metrics (ces_api_http_*) when set
};

class AsyncServer {
 public:
  explicit AsyncServer(AsyncServerOptions options);
  ~AsyncServer();
  AsyncServer(const AsyncServer&) = delete;
  AsyncServer& operator=(const AsyncServer&) = delete;

  // Routes must be added before Start(). `pattern` is a path with optional "{name}" segments; an
  // exact segment wins over a parameter. HEAD is served by the GET route (body omitted); OPTIONS is
  // answered by the server (CORS preflight / Allow). The pattern is the `route` label of metrics.
  void Route(std::string method, std::string pattern, AsyncHandler handler, RouteKind kind = RouteKind::kPooled);
  // Adapter for handlers written against ResponseWriter (the services' observability routes).
  void Route(std::string method, std::string pattern, RouteHandler handler, RouteKind kind = RouteKind::kPooled);
  // Any other callable taking (const Request&, AsyncResponseWriter&): a lambda that takes a plain
  // ResponseWriter& would otherwise match both overloads above.
  template <typename F>
    requires(std::is_invocable_v<F&, const Request&, AsyncResponseWriter&> &&
             !std::is_same_v<std::decay_t<F>, AsyncHandler> && !std::is_same_v<std::decay_t<F>, RouteHandler>)
  void Route(std::string method, std::string pattern, F&& handler, RouteKind kind = RouteKind::kPooled) {
    Route(std::move(method), std::move(pattern), AsyncHandler(std::forward<F>(handler)), kind);
  }
  // Paths without a route (default: 404 JSON {"code":404,"message":"no such path: …"}).
  void SetNotFound(AsyncHandler handler);

  struct RouteInfo {
    std::string method;
    std::string pattern;
  };
  std::vector<RouteInfo> Routes() const;

  void Start();  // binds, starts the I/O and worker threads; throws std::runtime_error if it cannot bind
  std::uint16_t Port() const;
  // Graceful stop: stops accepting, lets running handlers finish (up to drain_timeout; blocking streams
  // see Cancelled()), writes stream_final_data to every open stream and ends it, closes connections.
  void Stop();
  std::size_t OpenConnections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// /healthz, /readyz and /metrics on the async server (as AddObservabilityRoutes does for Server).
void AddObservabilityRoutes(AsyncServer& server, const metrics::Registry& registry,
                            std::function<bool(std::string& reason)> ready);

}  // namespace ces::http
