// `casper-event-store api`: flags -> ces::api::Api on an http::AsyncServer, until SIGTERM/SIGINT.
#include <chrono>
#include <iostream>
#include <stdexcept>

#include "api_flags.hpp"
#include "ces/api/docs_api.hpp"
#include "ces/common/flags.hpp"
#include "ces/common/log.hpp"
#include "ces/common/metrics.hpp"
#include "ces/common/shutdown.hpp"
#include "ces/http/async_server.hpp"
#include "ces/mongo/audit_store.hpp"

namespace ces::services {
namespace {

std::chrono::milliseconds Millis(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

void Validate(const ApiFlags& flags) {
  const api::ApiOptions& o = flags.options;
  if (o.max_streams == 0) throw std::invalid_argument("--max-streams must be at least 1");
  if (o.max_page_size == 0 || o.page_size == 0 || o.page_size > o.max_page_size) {
    throw std::invalid_argument("--page-size must be between 1 and --max-page-size");
  }
  if (o.rest_max_page_size == 0 || o.rest_page_size == 0 || o.rest_page_size > o.rest_max_page_size) {
    throw std::invalid_argument("--rest-page-size must be between 1 and --rest-max-page-size");
  }
  if (flags.io_threads == 0 || flags.workers == 0) {
    throw std::invalid_argument("--io-threads and --workers must be at least 1");
  }
  if (o.pg_pool_size == 0) throw std::invalid_argument("--pg-pool-size must be at least 1");
  if (!o.postgres_read.empty() && o.postgres.empty()) throw std::invalid_argument("--postgres-read needs --postgres");
}

api::ApiOptions Options(const ApiFlags& flags) {
  api::ApiOptions o = flags.options;
  if (!o.kafka.empty() || flags.list_routes) {  // the live hub's settings: read when it is built
    o.kafka_settings = ces::flags::ParseKeyValues("--kafka-setting", flags.kafka_settings);
  }
  o.pg_pool_timeout = Millis(flags.pg_pool_timeout_s);
  o.keepalive = Millis(flags.keepalive_s);
  o.poll_interval = Millis(flags.poll_interval_s);
  o.cache_bytes = flags.cache_mb * 1024 * 1024;
  o.subscriber_buffer_bytes = flags.subscriber_buffer_kb * 1024;
  o.live_ring_bytes = flags.live_ring_kb * 1024;
  return o;
}

http::AsyncServerOptions ServerOptions(const ApiFlags& flags) {
  http::AsyncServerOptions o;
  auto [host, port] = http::ParseHostPort(flags.listen);
  o.host = host;
  o.port = port;
  o.io_threads = flags.io_threads;
  o.worker_threads = flags.workers;
  o.max_queued_requests = flags.max_queue;
  o.rate_limit_per_client = flags.rate_limit;
  o.cors_origins = flags.cors_origins;
  if (o.cors_origins.size() == 1 && (o.cors_origins[0] == "none" || o.cors_origins[0].empty())) o.cors_origins.clear();
  o.drain_timeout = Millis(flags.drain_s);
  o.registry = &metrics::Default();
  return o;
}

}  // namespace

int RunApi(const ApiFlags& flags) {
  log::Init("api", flags.log_level);
  Validate(flags);
  if (flags.list_routes) {
    for (const std::string& route : api::ApiRouteList(Options(flags))) std::cout << route << '\n';
    return 0;
  }
  shutdown::InstallSignalHandlers();
  const api::ApiOptions& o = flags.options;
  if (o.postgres.empty() && o.mongo.empty() && o.kafka.empty()) {
    log::Warn("no backend given (--postgres, --mongo, --kafka): serving the documentation only");
  }
  api::Api api(Options(flags), metrics::Default());
  http::AsyncServer server(ServerOptions(flags));
  api.Register(server);
  api.Start();
  server.Start();
  const api::DocsApi& docs = api.docs();
  log::Info("listening", {{"listen", flags.listen},
                          {"port", static_cast<unsigned>(server.Port())},
                          {"postgres", !o.postgres.empty()},
                          {"postgres_read", !o.postgres_read.empty()},
                          {"mongo", api.store() ? api.store()->redacted_uri() : std::string()},
                          {"kafka", o.kafka},
                          {"swagger_ui", docs.SwaggerUiInstalled() ? docs.swagger_ui_dir() : std::string("missing")}});
  while (!shutdown::WaitFor(std::chrono::seconds(3600))) {
  }
  log::Info("stopping: draining requests, ending streams");
  server.Stop();
  api.Stop();
  log::Info("stopped");
  return 0;
}

}  // namespace ces::services
