#include "server_core.hpp"

#include <algorithm>
#include <string>

#include "ces/common/log.hpp"
#include "ces/common/metrics.hpp"
#include "ces/common/status.hpp"
#include "connection.hpp"
#include "writer.hpp"

namespace ces::http::detail {
namespace {

std::atomic<std::uint64_t> g_server_generation{0};

const char* MethodLabel(MethodCode code) {
  static const char* const kLabels[] = {"OTHER", "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
  return kLabels[code];
}

}  // namespace

ServerCore::ServerCore(AsyncServerOptions opts)
    : options(std::move(opts)),
      generation(++g_server_generation),
      io(static_cast<int>(std::max(1u, options.io_threads))),
      responses(options),
      pool(options.max_queued_requests, stopping, [this](const HandlerPool::Job& conn) { RunHandler(conn); }) {
  if (options.rate_limit_per_client > 0) rate_limiter.emplace(options.rate_limit_per_client);
  for (unsigned i = 0; i < std::max(1u, options.io_threads); ++i) flush_shards.push_back(std::make_unique<FlushShard>());
}

void ServerCore::RunHandler(const std::shared_ptr<Connection>& conn) {
  Writer writer(*this, conn);
  const AsyncHandler& handler = conn->route_index_ >= 0 ? router[conn->route_index_].handler : not_found;
  auto failed = [&](const char* error) {
    log::Warn("http handler failed", {{"path", conn->request_.path}, {"error", error}});
    if (writer.state() == Writer::State::kNone) {
      writer.Send(500, "application/json", common::ErrorJson(500, "internal error"), {});
    } else if (writer.state() == Writer::State::kStreaming) {
      writer.Abort();
    }
  };
  try {
    handler(conn->request_, writer);
  } catch (const std::exception& e) {
    failed(e.what());
  } catch (...) {
    failed("unknown exception");
  }
  writer.Finish();
}

bool ServerCore::AllowRequest(const std::string& client, int* retry_after) {
  return !rate_limiter || rate_limiter->Allow(client, Clock::now(), retry_after);
}

void ServerCore::Reject(metrics::Counter* counter) {
  if (counter != nullptr) counter->Inc();
}

void ServerCore::RecordRequest(int route_index, MethodCode method, int status, Clock::time_point started) {
  if (options.registry == nullptr) return;
  // Counter per (server, route, method, status), cached per thread: no registry lock per request.
  thread_local std::unordered_map<std::uint64_t, metrics::Counter*> cache;
  const std::uint64_t key = (generation << 40) | (static_cast<std::uint64_t>(route_index + 1) << 24) |
                            (static_cast<std::uint64_t>(method) << 16) | static_cast<std::uint64_t>(status & 0xffff);
  auto it = cache.find(key);
  if (it == cache.end()) {
    const std::string route = route_index >= 0 ? router[route_index].pattern : std::string("unmatched");
    metrics::Counter& counter = options.registry->GetCounter(
        "ces_api_http_requests_total", "HTTP requests by route pattern, method and status",
        {{"route", route}, {"method", MethodLabel(method)}, {"status", std::to_string(status)}});
    it = cache.emplace(key, &counter).first;
  }
  it->second->Inc();
  metrics::Histogram* latency =
      route_index >= 0 ? router[route_index].latency : unmatched_latency;
  if (latency != nullptr) latency->Observe(std::chrono::duration<double>(Clock::now() - started).count());
}

void ServerCore::Unregister(Connection* conn) {
  std::shared_ptr<Connection> owned;  // released outside the lock
  {
    std::lock_guard lock(conns_mutex);
    auto it = conns.find(conn);
    if (it == conns.end()) return;
    owned = std::move(it->second);
    conns.erase(it);
  }
  if (connections_gauge != nullptr) connections_gauge->Add(-1);
}

std::vector<std::shared_ptr<Connection>> ServerCore::Snapshot() const {
  std::vector<std::shared_ptr<Connection>> out;
  std::lock_guard lock(conns_mutex);
  out.reserve(conns.size());
  for (const auto& [ptr, conn] : conns) out.push_back(conn);
  return out;
}

std::size_t ServerCore::OpenConnections() const {
  std::lock_guard lock(conns_mutex);
  return conns.size();
}

void ServerCore::DoAccept() {
  acceptor->async_accept(asio::make_strand(io), [this](const boost::system::error_code& ec, tcp::socket socket) {
    if (stopping.load() || ec == asio::error::operation_aborted) return;
    if (ec) {
      static std::atomic<std::int64_t> last_log{0};
      const std::int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count();
      if (last_log.exchange(now_s) != now_s) log::Warn("http accept failed", {{"error", ec.message()}});
      accept_retry_timer->expires_after(std::chrono::milliseconds(50));
      accept_retry_timer->async_wait([this](const boost::system::error_code& timer_ec) {
        if (!timer_ec && !stopping.load()) DoAccept();
      });
      return;
    }
    OnAccept(std::move(socket));
    DoAccept();
  });
}

void ServerCore::OnAccept(tcp::socket socket) {
  boost::system::error_code ec;
  {
    std::lock_guard lock(conns_mutex);
    if (conns.size() >= options.max_connections) {
      Reject(rejected_connections);
      socket.close(ec);
      return;
    }
  }
  socket.set_option(tcp::no_delay(true), ec);
  socket.non_blocking(true, ec);
  auto endpoint = socket.remote_endpoint(ec);
  auto conn = std::make_shared<Connection>(*this, std::move(socket));
  if (!ec) conn->remote_ = endpoint.address().to_string();
  {
    std::lock_guard lock(conns_mutex);
    conns.emplace(conn.get(), conn);
  }
  if (connections_gauge != nullptr) connections_gauge->Add(1);
  conn->Begin();
}

void ServerCore::ScheduleSweep() {
  auto period = std::min(options.idle_timeout, options.request_timeout) / 4;
  period = std::clamp(period, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
  sweep_timer->expires_after(period);
  sweep_timer->async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping.load()) return;
    Sweep();
    ScheduleSweep();
  });
}

void ServerCore::Sweep() {
  const auto now_point = Clock::now();
  const std::int64_t now = now_point.time_since_epoch().count();
  std::vector<std::shared_ptr<Connection>> expired;
  {
    std::lock_guard lock(conns_mutex);
    for (const auto& [ptr, conn] : conns) {
      std::int64_t deadline = conn->Deadline();
      if (deadline != 0 && deadline <= now) expired.push_back(conn);
    }
  }
  for (auto& conn : expired) conn->PostCloseIfExpired(now);
  if (rate_limiter) rate_limiter->Sweep(now_point);
}

}  // namespace ces::http::detail
