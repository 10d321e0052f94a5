// `casper-event-store api`: the query API. For now the audit store's replay endpoints (--mongo).
#include <CLI/CLI.hpp>

#include "ces/common/log.hpp"
#include "ces/common/metrics.hpp"
#include "ces/common/shutdown.hpp"
#include "ces/http/server.hpp"
#include "ces/mongo/audit_store.hpp"
#include "ces/services/commands.hpp"
#include "replay_api.hpp"
#include "router.hpp"

namespace ces::services {
namespace {

struct ApiFlags {
  std::string mongo;
  std::string listen = "127.0.0.1:8080";
  std::string topic_prefix;
  bool topic_prefix_set = false;
  std::size_t max_streams = 100;
  std::size_t page_size = 100;
  std::size_t max_page_size = 1000;
  double keepalive_s = 15;
  double poll_interval_s = 0.1;
  std::size_t cache_mb = 128;
  std::string log_level = "info";
};

int RunApi(const ApiFlags& flags) {
  log::Init("api", flags.log_level);
  shutdown::InstallSignalHandlers();
  if (flags.mongo.empty()) throw std::invalid_argument("--mongo is required (the audit store to serve)");
  if (flags.max_streams == 0) throw std::invalid_argument("--max-streams must be at least 1");
  if (flags.max_page_size == 0 || flags.page_size == 0 || flags.page_size > flags.max_page_size) {
    throw std::invalid_argument("--page-size must be between 1 and --max-page-size");
  }
  mongo::StoreOptions store_options;
  store_options.uri = flags.mongo;
  store_options.app_name = "casper-event-store api";
  mongo::AuditStore store(store_options);

  api::ReplayApiOptions options;
  options.max_streams = flags.max_streams;
  options.default_page_size = flags.page_size;
  options.max_page_size = flags.max_page_size;
  options.keepalive = std::chrono::milliseconds(static_cast<long long>(flags.keepalive_s * 1000));
  options.poll_interval = std::chrono::milliseconds(static_cast<long long>(flags.poll_interval_s * 1000));
  options.cache_bytes = flags.cache_mb * 1024 * 1024;
  options.topic_prefix = flags.topic_prefix;
  options.all_prefixes = !flags.topic_prefix_set;
  api::ReplayApi replay(store, options, metrics::Default());

  auto [host, port] = http::ParseHostPort(flags.listen);
  http::Server server(host, port);
  api::ApiRouter router;
  http::AddObservabilityRoutes(server, metrics::Default(), [&replay](std::string& reason) { return replay.Ready(reason); });
  replay.Register(server, router);
  router.Install(server);
  replay.Start();
  server.Start();
  log::Info("listening", {{"listen", flags.listen}, {"port", static_cast<unsigned>(server.Port())},
                          {"mongo", store.redacted_uri()}});
  while (!shutdown::WaitFor(std::chrono::seconds(3600))) {
  }
  server.Stop();
  replay.Stop();
  log::Info("stopped");
  return 0;
}

}  // namespace

void RegisterApi(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<ApiFlags>();
  CLI::App* cmd = app.add_subcommand("api", "Serve the query API: replay of the audit store over SSE and JSON");
  cmd->add_option("--mongo", flags->mongo, "MongoDB connection string of the audit store (database from the path)")
      ->envname("CES_MONGO");
  cmd->add_option("--listen", flags->listen, "HOST:PORT to serve on")->envname("CES_LISTEN")->capture_default_str();
  cmd->add_option("--topic-prefix", flags->topic_prefix,
                  "Serve only the events of this pipeline's topics (default: every pipeline in the database)")
      ->envname("CES_TOPIC_PREFIX")
      ->each([flags](const std::string&) { flags->topic_prefix_set = true; });
  cmd->add_option("--max-streams", flags->max_streams, "Concurrent SSE streams; more get 503")
      ->envname("CES_MAX_STREAMS")
      ->capture_default_str();
  cmd->add_option("--page-size", flags->page_size, "Default page size of /api/v1/events")
      ->envname("CES_PAGE_SIZE")
      ->capture_default_str();
  cmd->add_option("--max-page-size", flags->max_page_size, "Largest limit accepted by /api/v1/events")
      ->envname("CES_MAX_PAGE_SIZE")
      ->capture_default_str();
  cmd->add_option("--keepalive", flags->keepalive_s, "Seconds without output before an SSE keep-alive comment")
      ->envname("CES_KEEPALIVE")
      ->capture_default_str();
  cmd->add_option("--poll-interval", flags->poll_interval_s, "Seconds between polls of the store for new events")
      ->envname("CES_POLL_INTERVAL")
      ->capture_default_str();
  cmd->add_option("--cache-mb", flags->cache_mb, "Memory for recently read replay-log links, MiB")
      ->envname("CES_CACHE_MB")
      ->capture_default_str();
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
