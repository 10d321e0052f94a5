// `casper-event-store api`: the query API (docs/api-rest.md, docs/api.md, docs/api-sidecar.md,
// docs/api-docs.md). Routes for each backend it is given: --postgres (REST over the model, and with
// --mongo the sidecar-compatible lookups), --mongo (replay of the audit store), --kafka (live SSE
// fan-out); the documentation (/api-docs, /swagger-ui) always.
#include <CLI/CLI.hpp>

#include <iostream>
#include <optional>

#include "ces/common/log.hpp"
#include "ces/common/metrics.hpp"
#include "ces/api/docs_api.hpp"
#include "ces/api/replay_api.hpp"
#include "ces/api/rest_api.hpp"
#include "ces/api/sidecar_api.hpp"
#include "ces/common/shutdown.hpp"
#include "ces/http/async_server.hpp"
#include "ces/live/hub.hpp"
#include "ces/mongo/audit_store.hpp"
#include "ces/query/pool.hpp"
#include "ces/services/commands.hpp"

namespace ces::services {
namespace {

struct ApiFlags {
  std::string listen = "127.0.0.1:8080";
  std::string postgres;
  std::string postgres_read;
  std::string mongo;
  std::string kafka;
  std::string topic_prefix;
  bool topic_prefix_set = false;
  std::vector<std::string> kafka_settings;
  std::string network_name = "casper";
  std::string swagger_ui_dir;
  std::vector<std::string> cors_origins;
  unsigned io_threads = 2;
  unsigned workers = 16;
  std::size_t max_queue = 4096;
  double rate_limit = 0;
  std::size_t pg_pool_size = 8;
  double pg_pool_timeout_s = 2;
  std::size_t rest_page_size = 10;
  std::size_t rest_max_page_size = 1000;
  std::size_t max_streams = 100;
  std::size_t page_size = 100;
  std::size_t max_page_size = 1000;
  std::size_t max_subscribers = 20000;
  std::size_t subscriber_buffer_kb = 4096;
  std::size_t fanout_threads = 2;
  double keepalive_s = 15;
  double poll_interval_s = 0.1;
  std::size_t cache_mb = 128;
  double drain_s = 5;
  bool list_routes = false;
  std::string log_level = "info";
};

std::chrono::milliseconds Millis(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

// The backends' components, built from the flags. With list_only every component is built (on
// placeholder addresses: nothing connects before Start) so that every route can be listed.
struct Components {
  std::unique_ptr<mongo::AuditStore> store;
  std::unique_ptr<query::Pool> pool;  // the one PostgreSQL pool: REST and sidecar routes (outlives both)
  std::unique_ptr<live::LiveHub> hub;
  std::unique_ptr<api::ReplayApi> replay;
  std::unique_ptr<api::RestApi> rest;
  std::unique_ptr<api::SidecarApi> sidecar;
  std::unique_ptr<api::DocsApi> docs;
};

Components Build(const ApiFlags& flags, bool list_only) {
  Components c;
  const std::string mongo = !flags.mongo.empty() ? flags.mongo : (list_only ? "mongodb://127.0.0.1:1/list" : "");
  const std::string postgres =
      !flags.postgres.empty() ? flags.postgres : (list_only ? "postgresql://127.0.0.1:1/list" : "");
  const std::string kafka = !flags.kafka.empty() ? flags.kafka : (list_only ? "127.0.0.1:1" : "");
  auto& registry = metrics::Default();

  if (!kafka.empty()) {
    live::LiveHubOptions o;
    o.kafka_bootstrap = kafka;
    o.topic_prefix = flags.topic_prefix;
    for (const std::string& kv : flags.kafka_settings) {
      const auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) throw std::invalid_argument("--kafka-setting expects KEY=VALUE: " + kv);
      o.kafka_settings[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    o.keepalive = Millis(flags.keepalive_s);
    o.max_subscribers = flags.max_subscribers;
    o.subscriber_buffer_bytes = flags.subscriber_buffer_kb * 1024;
    o.fanout_threads = flags.fanout_threads;
    c.hub = std::make_unique<live::LiveHub>(o, registry);
  }
  if (!mongo.empty()) {
    mongo::StoreOptions so;
    so.uri = mongo;
    so.app_name = "casper-event-store api";
    c.store = std::make_unique<mongo::AuditStore>(so);
    api::ReplayApiOptions o;
    o.max_streams = flags.max_streams;
    o.default_page_size = flags.page_size;
    o.max_page_size = flags.max_page_size;
    o.keepalive = Millis(flags.keepalive_s);
    o.poll_interval = Millis(flags.poll_interval_s);
    o.cache_bytes = flags.cache_mb * 1024 * 1024;
    o.topic_prefix = flags.topic_prefix;
    // With a live hub the replay hands over to it, so it serves the hub's pipeline only.
    o.all_prefixes = !flags.topic_prefix_set && !c.hub;
    c.replay = std::make_unique<api::ReplayApi>(*c.store, o, registry, c.hub.get());
  }
  if (!postgres.empty()) {
    api::RestApiOptions o;
    o.postgres = postgres;
    o.postgres_read = flags.postgres_read;
    o.pool_size = flags.pg_pool_size;
    o.pool_timeout = Millis(flags.pg_pool_timeout_s);
    o.default_page_size = flags.rest_page_size;
    o.max_page_size = flags.rest_max_page_size;
    c.pool = std::make_unique<query::Pool>(api::RestApi::PoolOptionsFor(o), &registry);  // connects lazily
    c.rest = std::make_unique<api::RestApi>(o, registry, c.pool.get());
    if (c.store) {
      api::SidecarApiOptions so;
      so.network_name = flags.network_name;
      c.sidecar = std::make_unique<api::SidecarApi>(so, *c.pool, *c.store, registry);
    }
  }
  api::DocsApiOptions d;
  d.swagger_ui_dir = flags.swagger_ui_dir;
  c.docs = std::make_unique<api::DocsApi>(d);
  return c;
}

void Register(Components& c, http::AsyncServer& server) {
  if (c.replay) c.replay->Register(server);
  if (c.rest) c.rest->Register(server);
  if (c.sidecar) c.sidecar->Register(server);
  c.docs->Register(server);
}

void Validate(const ApiFlags& flags) {
  if (flags.max_streams == 0) throw std::invalid_argument("--max-streams must be at least 1");
  if (flags.max_page_size == 0 || flags.page_size == 0 || flags.page_size > flags.max_page_size) {
    throw std::invalid_argument("--page-size must be between 1 and --max-page-size");
  }
  if (flags.rest_max_page_size == 0 || flags.rest_page_size == 0 || flags.rest_page_size > flags.rest_max_page_size) {
    throw std::invalid_argument("--rest-page-size must be between 1 and --rest-max-page-size");
  }
  if (flags.io_threads == 0 || flags.workers == 0) throw std::invalid_argument("--io-threads and --workers must be at least 1");
  if (flags.pg_pool_size == 0) throw std::invalid_argument("--pg-pool-size must be at least 1");
  if (!flags.postgres_read.empty() && flags.postgres.empty()) {
    throw std::invalid_argument("--postgres-read needs --postgres");
  }
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
  o.drain_timeout = Millis(flags.drain_s);
  o.registry = &metrics::Default();
  return o;
}

std::vector<std::string> RouteList(const ApiFlags& flags) {
  Components c = Build(flags, true);
  http::AsyncServer server(ServerOptions(flags));
  http::AddObservabilityRoutes(server, metrics::Default(), [](std::string&) { return true; });
  Register(c, server);
  std::vector<std::string> out;
  for (const auto& r : server.Routes()) out.push_back(r.method + " " + r.pattern);
  return out;
}

int ListRoutes(const ApiFlags& flags) {
  for (const std::string& route : RouteList(flags)) std::cout << route << '\n';
  return 0;
}

int RunApi(const ApiFlags& flags) {
  log::Init("api", flags.log_level);
  Validate(flags);
  if (flags.list_routes) return ListRoutes(flags);
  shutdown::InstallSignalHandlers();
  if (flags.postgres.empty() && flags.mongo.empty() && flags.kafka.empty()) {
    log::Warn("no backend given (--postgres, --mongo, --kafka): serving the documentation only");
  }
  Components c = Build(flags, false);
  http::AsyncServer server(ServerOptions(flags));
  http::AddObservabilityRoutes(server, metrics::Default(), [&c](std::string& reason) {
    if (c.rest && !c.rest->Ready(reason)) return false;
    if (c.replay && !c.replay->Ready(reason)) return false;
    if (c.sidecar && !c.sidecar->Ready(reason)) return false;
    if (c.hub && !c.hub->Ready(reason)) return false;
    return true;
  });
  Register(c, server);
  if (c.hub) c.hub->Start();
  if (c.replay) c.replay->Start();
  if (c.rest) c.rest->Start();
  if (c.sidecar) c.sidecar->Start();
  server.Start();
  log::Info("listening", {{"listen", flags.listen},
                          {"port", static_cast<unsigned>(server.Port())},
                          {"postgres", !flags.postgres.empty()},
                          {"postgres_read", !flags.postgres_read.empty()},
                          {"mongo", c.store ? c.store->redacted_uri() : std::string()},
                          {"kafka", flags.kafka},
                          {"swagger_ui", c.docs->SwaggerUiInstalled() ? c.docs->swagger_ui_dir() : std::string("missing")}});
  while (!shutdown::WaitFor(std::chrono::seconds(3600))) {
  }
  log::Info("stopping: draining requests, ending streams");
  server.Stop();
  if (c.hub) c.hub->Stop();
  if (c.replay) c.replay->Stop();
  if (c.sidecar) c.sidecar->Stop();
  if (c.rest) c.rest->Stop();
  if (c.pool) c.pool->Close();
  log::Info("stopped");
  return 0;
}

}  // namespace

std::vector<std::string> ApiRouteList() { return RouteList(ApiFlags{}); }

void RegisterApi(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<ApiFlags>();
  CLI::App* cmd = app.add_subcommand(
      "api", "Serve the query API: REST over PostgreSQL, replay of the audit store, live SSE, OpenAPI + Swagger UI");
  cmd->add_option("--listen", flags->listen, "HOST:PORT to serve on")->envname("CES_LISTEN")->capture_default_str();
  cmd->add_option("--postgres", flags->postgres, "PostgreSQL model (libpq URI): REST endpoints and sidecar lookups")
      ->envname("CES_POSTGRES");
  cmd->add_option("--postgres-read", flags->postgres_read,
                  "Read replica(s) for queries (libpq URI; multi-host with target_session_attrs=any works)")
      ->envname("CES_POSTGRES_READ");
  cmd->add_option("--mongo", flags->mongo, "MongoDB connection string of the audit store: replay endpoints")
      ->envname("CES_MONGO");
  cmd->add_option("--kafka", flags->kafka, "Kafka bootstrap servers HOST:PORT[,…]: live SSE fan-out")
      ->envname("CES_KAFKA");
  cmd->add_option("--topic-prefix", flags->topic_prefix,
                  "This pipeline's topic prefix (live SSE reads <prefix>main|deploys|sigs; replay serves only its "
                  "events; default for the replay: every pipeline in the database)")
      ->envname("CES_TOPIC_PREFIX")
      ->each([flags](const std::string&) { flags->topic_prefix_set = true; });
  cmd->add_option("--kafka-setting", flags->kafka_settings, "librdkafka consumer setting K=V (repeatable)")
      ->envname("CES_KAFKA_SETTINGS")
      ->delimiter(',');
  cmd->add_option("--network-name", flags->network_name, "network_name in the sidecar-compatible envelope")
      ->envname("CES_NETWORK_NAME")
      ->capture_default_str();
  cmd->add_option("--swagger-ui-dir", flags->swagger_ui_dir,
                  "Folder of the swagger-ui-dist package (default: the one make setup installs)")
      ->envname("CES_SWAGGER_UI_DIR");
  cmd->add_option("--cors-origin", flags->cors_origins, "Allowed CORS origin (repeatable; * = any)")
      ->envname("CES_CORS_ORIGINS")
      ->delimiter(',');
  cmd->add_option("--io-threads", flags->io_threads, "Network I/O threads")->envname("CES_IO_THREADS")->capture_default_str();
  cmd->add_option("--workers", flags->workers, "Threads running queries")->envname("CES_WORKERS")->capture_default_str();
  cmd->add_option("--max-queue", flags->max_queue, "Requests waiting for a worker; more get 503")
      ->envname("CES_MAX_QUEUE")
      ->capture_default_str();
  cmd->add_option("--rate-limit", flags->rate_limit, "Requests/s per client address (429 beyond; 0 = off)")
      ->envname("CES_RATE_LIMIT")
      ->capture_default_str();
  cmd->add_option("--pg-pool-size", flags->pg_pool_size, "PostgreSQL connections (one pool: REST and sidecar routes)")->envname("CES_PG_POOL_SIZE")->capture_default_str();
  cmd->add_option("--pg-pool-timeout", flags->pg_pool_timeout_s, "Seconds a request waits for a connection (then 503)")
      ->envname("CES_PG_POOL_TIMEOUT")
      ->capture_default_str();
  cmd->add_option("--rest-page-size", flags->rest_page_size, "Default size of REST list pages")
      ->envname("CES_REST_PAGE_SIZE")
      ->capture_default_str();
  cmd->add_option("--rest-max-page-size", flags->rest_max_page_size, "Largest size accepted by REST lists (400 beyond)")
      ->envname("CES_REST_MAX_PAGE_SIZE")
      ->capture_default_str();
  cmd->add_option("--max-streams", flags->max_streams, "Concurrent replay streams (start_from/time); more get 503")
      ->envname("CES_MAX_STREAMS")
      ->capture_default_str();
  cmd->add_option("--page-size", flags->page_size, "Default page size of /api/v1/events")
      ->envname("CES_PAGE_SIZE")
      ->capture_default_str();
  cmd->add_option("--max-page-size", flags->max_page_size, "Largest limit accepted by /api/v1/events")
      ->envname("CES_MAX_PAGE_SIZE")
      ->capture_default_str();
  cmd->add_option("--max-subscribers", flags->max_subscribers, "Concurrent live SSE subscribers; more get 503")
      ->envname("CES_MAX_SUBSCRIBERS")
      ->capture_default_str();
  cmd->add_option("--subscriber-buffer-kb", flags->subscriber_buffer_kb,
                  "Unsent KiB after which a slow SSE subscriber is dropped")
      ->envname("CES_SUBSCRIBER_BUFFER_KB")
      ->capture_default_str();
  cmd->add_option("--fanout-threads", flags->fanout_threads,
                  "Threads writing live SSE events to subscribers, each to its share of them")
      ->envname("CES_FANOUT_THREADS")
      ->check(CLI::Range(std::size_t{1}, std::size_t{64}))
      ->capture_default_str();
  cmd->add_option("--keepalive", flags->keepalive_s, "Seconds without output before an SSE keep-alive comment")
      ->envname("CES_KEEPALIVE")
      ->capture_default_str();
  cmd->add_option("--poll-interval", flags->poll_interval_s, "Seconds between polls of the audit store for new events")
      ->envname("CES_POLL_INTERVAL")
      ->capture_default_str();
  cmd->add_option("--cache-mb", flags->cache_mb, "Memory for recently read replay-log links, MiB")
      ->envname("CES_CACHE_MB")
      ->capture_default_str();
  cmd->add_option("--drain", flags->drain_s, "Seconds SIGTERM waits for running requests before closing")
      ->envname("CES_DRAIN")
      ->capture_default_str();
  cmd->add_flag("--list-routes", flags->list_routes, "Print every route (all backends) and exit");
  cmd->add_option("--log-level", flags->log_level, "debug|info|warn|error")->envname("CES_LOG_LEVEL")->capture_default_str();
  cmd->callback([flags, &exit_code] {
    try {
      exit_code = RunApi(*flags);
    } catch (const std::exception& e) {
      log::Error("api failed", {{"error", e.what()}});
      exit_code = 1;
    }
  });
}

}  // namespace ces::services
