// The public API's HTTP/1.1 server on Boost.Asio: the AsyncServer interface over ServerCore (its
// state, accept loop and sweep: server_core.cpp), whose parts are the router (router.cpp), the
// connections (connection.cpp), the handler pool (handler_pool.cpp), the writer handlers get
// (writer.cpp), the response builder with its gzip cache (response.cpp, gzip_cache.cpp) and the rate
// limiter (rate_limiter.cpp).

#include "ces/http/async_server.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <thread>

#include "ces/common/json.hpp"
#include "ces/common/log.hpp"
#include "ces/common/metrics.hpp"
#include "ces/common/status.hpp"
#include "connection.hpp"
#include "request_parser.hpp"
#include "response.hpp"
#include "server_core.hpp"
#include "writer.hpp"

namespace ces::http {

using namespace detail;

struct AsyncServer::Impl : ServerCore {
  using ServerCore::ServerCore;
};

namespace {

constexpr auto kStopFlushGrace = std::chrono::milliseconds(1000);  // Stop(): final stream data to drain

// Thousands of sockets need more descriptors than the usual soft limit of 1024.
void RaiseOpenFileLimit(std::size_t max_connections) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    rlim_t wanted = limit.rlim_max;
    limit.rlim_cur = wanted;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      log::Warn("could not raise the open file limit", {{"error", std::strerror(errno)}});
    }
  }
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
      limit.rlim_cur < max_connections + 64) {
    log::Debug("open file limit is below max connections",
              {{"limit", static_cast<std::uint64_t>(limit.rlim_cur)},
               {"max_connections", static_cast<std::uint64_t>(max_connections)}});
  }
}

void RegisterMetrics(ServerCore& impl, metrics::Registry& registry) {
  impl.connections_gauge = &registry.GetGauge("ces_api_http_connections", "Open HTTP connections");
  impl.streams_gauge = &registry.GetGauge("ces_api_http_streams", "Open streamed HTTP responses");
  impl.pool.SetQueueGauge(&registry.GetGauge("ces_api_http_worker_queue", "HTTP requests waiting for a worker"));
  auto rejected = [&](const char* reason) {
    return &registry.GetCounter("ces_api_http_rejected_total", "HTTP requests or connections refused, by reason",
                                {{"reason", reason}});
  };
  impl.rejected_queue_full = rejected("queue_full");
  impl.rejected_rate_limited = rejected("rate_limited");
  impl.rejected_too_large = rejected("too_large");
  impl.rejected_header_too_large = rejected("header_too_large");
  impl.rejected_connections = rejected("connections");
  impl.rejected_slow_client = rejected("slow_client");
  const char* help = "HTTP request latency by route pattern, seconds";
  for (RouteEntry& route : impl.router.Entries()) {
    route.latency = &registry.GetHistogram("ces_api_http_request_seconds", help, {{"route", route.pattern}},
                                           metrics::LatencyBuckets());
  }
  impl.unmatched_latency = &registry.GetHistogram("ces_api_http_request_seconds", help, {{"route", "unmatched"}},
                                                  metrics::LatencyBuckets());
}

// Binds the first address of host:port that takes it.
void Listen(ServerCore& impl) {
  const AsyncServerOptions& options = impl.options;
  const std::string where = options.host + ":" + std::to_string(options.port);
  try {
    tcp::resolver resolver(impl.io);
    auto results = resolver.resolve(options.host, std::to_string(options.port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service);
    std::string error = "no address";
    for (const auto& entry : results) {
      tcp::acceptor acceptor(asio::make_strand(impl.io));
      boost::system::error_code ec;
      acceptor.open(entry.endpoint().protocol(), ec);
      if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
      if (!ec) acceptor.bind(entry.endpoint(), ec);
      if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
      if (ec) {
        error = ec.message();
        continue;
      }
      impl.acceptor.emplace(std::move(acceptor));
      break;
    }
    if (!impl.acceptor) throw std::runtime_error("cannot listen on " + where + ": " + error);
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("cannot listen on " + where + ": " + e.what());
  }
  impl.port = impl.acceptor->local_endpoint().port();
}

// Waits until `done` or `deadline`, polling every `poll`.
template <typename Done>
void WaitUntil(Done&& done, Clock::time_point deadline, std::chrono::milliseconds poll) {
  while (!done() && Clock::now() < deadline) std::this_thread::sleep_for(poll);
}

// Stop, step 1: no more connections, no more sweeps.
void StopAccepting(ServerCore& impl) {
  asio::post(impl.acceptor->get_executor(), [&impl] {
    boost::system::error_code ignored;
    impl.acceptor->close(ignored);
    impl.accept_retry_timer->cancel();
  });
  asio::post(impl.io, [&impl] { impl.sweep_timer->cancel(); });
}

// Stop, step 2: queued requests that no worker started get 503; workers exit once idle.
void RefuseQueued(ServerCore& impl) {
  std::deque<HandlerPool::Job> queued = impl.pool.Close();
  for (auto& conn : queued) {
    Writer writer(impl, conn);
    writer.Send(503, "application/json", common::ErrorJson(503, "server is shutting down"), {{"Retry-After", "1"}});
    writer.Finish();
  }
}

// Stop, step 3: running handlers see Cancelled(); blocked stream writers wake up.
void DrainHandlers(ServerCore& impl) {
  for (auto& conn : impl.Snapshot()) conn->WakeWriters();
  WaitUntil([&] { return impl.pool.Active() <= 0; }, Clock::now() + impl.options.drain_timeout,
            std::chrono::milliseconds(2));
  if (impl.pool.Active() > 0) {
    log::Warn("http handlers still running after the drain timeout", {{"handlers", impl.pool.Active()}});
  }
}

// Stop, step 4: open streams get the final data and their end; idle connections close.
void EndConnections(ServerCore& impl) {
  for (auto& conn : impl.Snapshot()) conn->PostStopping();
  WaitUntil([&] { return impl.OpenConnections() == 0; },
            Clock::now() + std::min<std::chrono::milliseconds>(impl.options.drain_timeout, kStopFlushGrace),
            std::chrono::milliseconds(2));
  for (auto& conn : impl.Snapshot()) conn->PostClose();
}

// Stop, step 5: the handler threads, then (once late connections are closed) the I/O threads.
void JoinThreads(ServerCore& impl) {
  impl.pool.Join();
  // Connections closed by handlers that finished late.
  for (auto& conn : impl.Snapshot()) conn->PostClose();
  WaitUntil([&] { return impl.OpenConnections() == 0; }, Clock::now() + std::chrono::milliseconds(500),
            std::chrono::milliseconds(1));
  impl.work.reset();
  impl.io.stop();
  for (auto& thread : impl.io_threads) {
    if (thread.joinable()) thread.join();
  }
  std::lock_guard lock(impl.conns_mutex);
  impl.conns.clear();
}

}  // namespace

AsyncServer::AsyncServer(AsyncServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  for (const std::string& origin : impl_->options.cors_origins) {
    if (origin == "*") impl_->cors_any = true;
  }
  impl_->not_found = [](const Request& request, AsyncResponseWriter& writer) {
    writer.Send(404, "application/json", common::ErrorJson(404, "no such path: " + request.path));
  };
}

AsyncServer::~AsyncServer() { Stop(); }

void AsyncServer::Route(std::string method, std::string pattern, AsyncHandler handler, RouteKind kind) {
  if (impl_->started.load()) throw std::logic_error("http routes must be added before Start()");
  impl_->router.Add(std::move(method), std::move(pattern), std::move(handler), kind);
}

void AsyncServer::Route(std::string method, std::string pattern, RouteHandler handler, RouteKind kind) {
  Route(std::move(method), std::move(pattern),
        AsyncHandler([handler = std::move(handler)](const Request& request, AsyncResponseWriter& writer) {
          handler(request, writer);
        }),
        kind);
}

void AsyncServer::SetNotFound(AsyncHandler handler) {
  if (impl_->started.load()) throw std::logic_error("http not-found handler must be set before Start()");
  impl_->not_found = std::move(handler);
  impl_->custom_not_found = true;
}

std::vector<AsyncServer::RouteInfo> AsyncServer::Routes() const {
  std::vector<RouteInfo> out;
  for (const RouteEntry& route : impl_->router.Entries()) out.push_back({route.method, route.pattern});
  return out;
}

void AsyncServer::Start() {
  Impl& impl = *impl_;
  if (impl.started.exchange(true)) throw std::logic_error("http server started twice");
  const AsyncServerOptions& options = impl.options;
  RaiseOpenFileLimit(options.max_connections);
  if (options.registry != nullptr) RegisterMetrics(impl, *options.registry);
  Listen(impl);
  impl.work.emplace(impl.io.get_executor());
  impl.sweep_timer.emplace(impl.io);
  impl.accept_retry_timer.emplace(impl.acceptor->get_executor());
  asio::post(impl.acceptor->get_executor(), [&impl] { impl.DoAccept(); });
  impl.ScheduleSweep();

  const unsigned io_threads = std::max(1u, options.io_threads);
  for (unsigned i = 0; i < io_threads; ++i) impl.io_threads.emplace_back([&impl] { impl.io.run(); });
  impl.pool.Start(std::max(1u, options.worker_threads));
  impl.running = true;
}

std::uint16_t AsyncServer::Port() const { return impl_->port; }

void AsyncServer::Stop() {
  Impl& impl = *impl_;
  std::lock_guard stop_lock(impl.stop_mutex);
  if (impl.stopped) return;
  impl.stopped = true;
  impl.stopping.store(true);
  if (!impl.running) return;
  StopAccepting(impl);
  RefuseQueued(impl);
  DrainHandlers(impl);
  EndConnections(impl);
  JoinThreads(impl);
}

std::size_t AsyncServer::OpenConnections() const { return impl_->OpenConnections(); }

void AddObservabilityRoutes(AsyncServer& server, const metrics::Registry& registry,
                            std::function<bool(std::string& reason)> ready) {
  for (auto& [pattern, handler] : ObservabilityHandlers(registry, std::move(ready))) {
    server.Route("GET", std::move(pattern), std::move(handler));
  }
}

}  // namespace ces::http
