// `casper-event-store api`: the query API (docs/api-rest.md, docs/api.md, docs/api-sidecar.md,
// docs/api-docs.md): its flags. Running it is in run.cpp, the API itself in ces::api.
#include <CLI/CLI.hpp>

#include <memory>

#include "api_flags.hpp"
#include "ces/common/log.hpp"
#include "ces/services/commands.hpp"

namespace ces::services {

void RegisterApi(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<ApiFlags>();
  CLI::App* cmd = app.add_subcommand(
      "api", "Serve the query API: REST over PostgreSQL, replay of the audit store, live SSE, OpenAPI + Swagger UI");
  cmd->add_option("--listen", flags->listen, "HOST:PORT to serve on")->envname("CES_LISTEN")->capture_default_str();
  cmd->add_option("--postgres", flags->options.postgres, "PostgreSQL model (libpq URI): REST endpoints and sidecar lookups")
      ->envname("CES_POSTGRES");
  cmd->add_option("--postgres-read", flags->options.postgres_read,
                  "Read replica(s) for queries (libpq URI; multi-host with target_session_attrs=any works); while none "
                  "answers, queries and readiness go to --postgres")
      ->envname("CES_POSTGRES_READ");
  cmd->add_option("--mongo", flags->options.mongo, "MongoDB connection string of the audit store: replay endpoints")
      ->envname("CES_MONGO");
  cmd->add_option("--kafka", flags->options.kafka, "Kafka bootstrap servers HOST:PORT[,…]: live SSE fan-out")
      ->envname("CES_KAFKA");
  cmd->add_option("--topic-prefix", flags->options.topic_prefix,
                  "This pipeline's topic prefix (live SSE reads <prefix>main|deploys|sigs; replay serves only its "
                  "events; default for the replay: every pipeline in the database)")
      ->envname("CES_TOPIC_PREFIX")
      ->each([flags](const std::string&) { flags->options.topic_prefix_set = true; });
  cmd->add_option("--kafka-setting", flags->kafka_settings, "librdkafka consumer setting K=V (repeatable)")
      ->envname("CES_KAFKA_SETTINGS")
      ->delimiter(',');
  cmd->add_option("--network-name", flags->options.network_name,
                  "network_name of the sidecar-compatible envelopes (default: each node's chainspec name, as the "
                  "chain_name of the transactions it accepted)")
      ->envname("CES_NETWORK_NAME");
  cmd->add_option("--swagger-ui-dir", flags->options.swagger_ui_dir,
                  "Folder of the swagger-ui-dist package (default: the one make setup installs)")
      ->envname("CES_SWAGGER_UI_DIR");
  cmd->add_option("--cors-origin", flags->cors_origins,
                  "Allowed CORS origin (repeatable; default * = any, as the sidecar; none = no CORS headers)")
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
  cmd->add_option("--pg-pool-size", flags->options.pg_pool_size, "PostgreSQL connections (one pool: REST and sidecar routes)")
      ->envname("CES_PG_POOL_SIZE")
      ->capture_default_str();
  cmd->add_option("--pg-pool-timeout", flags->pg_pool_timeout_s, "Seconds a request waits for a connection (then 503)")
      ->envname("CES_PG_POOL_TIMEOUT")
      ->capture_default_str();
  cmd->add_option("--rest-page-size", flags->options.rest_page_size, "Default size of REST list pages")
      ->envname("CES_REST_PAGE_SIZE")
      ->capture_default_str();
  cmd->add_option("--rest-max-page-size", flags->options.rest_max_page_size, "Largest size accepted by REST lists (400 beyond)")
      ->envname("CES_REST_MAX_PAGE_SIZE")
      ->capture_default_str();
  cmd->add_option("--max-streams", flags->options.max_streams, "Concurrent replay streams (start_from/time); more get 503")
      ->envname("CES_MAX_STREAMS")
      ->capture_default_str();
  cmd->add_option("--page-size", flags->options.page_size, "Default page size of /api/v1/events")
      ->envname("CES_PAGE_SIZE")
      ->capture_default_str();
  cmd->add_option("--max-page-size", flags->options.max_page_size, "Largest limit accepted by /api/v1/events")
      ->envname("CES_MAX_PAGE_SIZE")
      ->capture_default_str();
  cmd->add_option_function<std::string>(
         "--events",
         [flags](const std::string& v) {
           if (v != "chain" && v != "node") throw CLI::ValidationError("--events", "expected chain or node");
           flags->options.chain_events = v == "chain";
         },
         "What /events serves without source=: chain (each distinct event once, ids = chain ids, from the chain "
         "stage; default) or node (the node streams as stored, before the chain stage)")
      ->envname("CES_EVENTS");
  cmd->add_option("--max-subscribers", flags->options.max_subscribers, "Concurrent live SSE subscribers; more get 503")
      ->envname("CES_MAX_SUBSCRIBERS")
      ->capture_default_str();
  cmd->add_option("--subscriber-buffer-kb", flags->subscriber_buffer_kb,
                  "Unsent KiB after which a slow SSE subscriber is dropped")
      ->envname("CES_SUBSCRIBER_BUFFER_KB")
      ->capture_default_str();
  cmd->add_option("--live-ring-kb", flags->live_ring_kb,
                  "KiB of the most recent records kept in memory: a client replaying from the store joins the live "
                  "stream from them without a gap (an older replay end stays on the store)")
      ->envname("CES_LIVE_RING_KB")
      ->capture_default_str();
  cmd->add_option("--fanout-threads", flags->options.fanout_threads,
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
