// `casper-event-store store-consume` (Kafka -> PostgreSQL model) and `casper-event-store migrate`
// (schema migrations): flags and wiring; the work is in ces::store, ces::model and ces::postgres.
#include <CLI/CLI.hpp>

#include "ces/common/flags.hpp"
#include "ces/common/log.hpp"
#include "ces/common/metrics.hpp"
#include "ces/common/shutdown.hpp"
#include "ces/http/server.hpp"
#include "ces/postgres/connection.hpp"
#include "ces/postgres/migrations.hpp"
#include "ces/services/commands.hpp"
#include "ces/store/consumer.hpp"

namespace ces::services {
namespace {

struct StoreConsumeFlags {
  store::ConsumerOptions options;
  std::string listen = "127.0.0.1:8103";
  std::vector<std::string> kafka_settings;
  int poll_ms = 100;
  std::string log_level = "info";
};

int RunStoreConsume(StoreConsumeFlags& flags) {
  log::Init("store-consume", flags.log_level);
  shutdown::InstallSignalHandlers();
  flags.options.kafka_settings = ces::flags::ParseKeyValues("--kafka-setting", flags.kafka_settings);
  if (flags.options.max_batch == 0) throw std::invalid_argument("--max-batch must be at least 1");
  flags.options.poll_timeout = std::chrono::milliseconds(flags.poll_ms);
  store::StoreConsumer consumer(flags.options, metrics::Default());
  auto [host, port] = http::ParseHostPort(flags.listen);
  http::Server server(host, port);
  http::AddObservabilityRoutes(server, metrics::Default(),
                               [&consumer](std::string& reason) { return consumer.Ready(reason); });
  server.Start();
  log::Info("listening", {{"listen", flags.listen}, {"port", static_cast<unsigned>(server.Port())}});
  const auto should_stop = [] { return shutdown::Requested(); };
  consumer.Start(should_stop);
  consumer.Run(should_stop);
  server.Stop();
  return 0;
}

int RunMigrate(const std::string& uri, const std::string& log_level) {
  log::Init("migrate", log_level);
  if (uri.empty()) throw std::invalid_argument("--postgres is required");
  postgres::Connection connection(uri);
  if (postgres::DbError e = connection.Connect()) throw std::runtime_error("cannot connect to PostgreSQL: " + e.message);
  postgres::MigrateResult result = postgres::Migrate(connection);
  std::string applied;
  for (int v : result.applied) applied += (applied.empty() ? "" : ",") + std::to_string(v);
  log::Info(result.applied.empty() ? "schema is up to date" : "schema migrated",
            {{"server", connection.Server()},
             {"from_version", result.from_version},
             {"to_version", result.to_version},
             {"applied", applied}});
  return 0;
}

}  // namespace

void RegisterStoreConsume(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<StoreConsumeFlags>();
  store::ConsumerOptions& o = flags->options;
  CLI::App* cmd = app.add_subcommand("store-consume", "Store Casper events from Kafka as a relational model in PostgreSQL");
  cmd->add_option("--kafka", o.brokers, "Kafka bootstrap servers HOST:PORT[,...]")->envname("CES_KAFKA")->capture_default_str();
  cmd->add_option("--topic-prefix", o.topic_prefix, "Prefix of the topic names (as given to produce)")
      ->envname("CES_TOPIC_PREFIX");
  cmd->add_option("--postgres", o.postgres,
                  "libpq URI, e.g. postgresql://user@h1,h2,h3/casper?target_session_attrs=read-write")
      ->envname("CES_POSTGRES")
      ->required();
  cmd->add_option("--node-rpc", o.node_rpc,
                  "Node JSON-RPC URL (e.g. http://node:7777/rpc) for 1.x era rewards whose Step was not seen and 2.x "
                  "per-delegator rewards; without it they stay pending")
      ->envname("CES_NODE_RPC");
  cmd->add_option("--group", o.group, "Kafka consumer group; also the key of the positions stored in PostgreSQL")
      ->envname("CES_GROUP")
      ->capture_default_str();
  cmd->add_option("--listen", flags->listen, "HOST:PORT for /healthz, /readyz, /metrics")
      ->envname("CES_LISTEN")
      ->capture_default_str();
  cmd->add_flag("--migrate", o.migrate, "Apply pending schema migrations at start-up")->envname("CES_MIGRATE");
  cmd->add_option("--kafka-setting", flags->kafka_settings,
                  "librdkafka consumer setting KEY=VALUE (repeatable), e.g. group.instance.id=store-1")
      ->envname("CES_KAFKA_SETTINGS")
      ->delimiter(',');
  cmd->add_option("--max-batch", o.max_batch, "Most Kafka records applied in one PostgreSQL transaction")
      ->envname("CES_MAX_BATCH")
      ->capture_default_str();
  cmd->add_option("--max-batch-bytes", o.max_batch_bytes,
                  "A batch ends once its records' values reach this many bytes")
      ->envname("CES_MAX_BATCH_BYTES")
      ->capture_default_str();
  cmd->add_option("--parse-split-bytes", o.parse_split_bytes,
                  "Batches of at least this many payload bytes are parsed on two threads (0: never)")
      ->envname("CES_PARSE_SPLIT_BYTES")
      ->capture_default_str();
  cmd->add_option("--poll-ms", flags->poll_ms, "Longest wait for the first record of a batch, milliseconds")
      ->envname("CES_POLL_MS")
      ->capture_default_str();
  cmd->add_option("--log-level", flags->log_level, "debug|info|warn|error")->envname("CES_LOG_LEVEL")->capture_default_str();
  cmd->callback([flags, &exit_code] {
    try {
      exit_code = RunStoreConsume(*flags);
    } catch (const std::exception& e) {
      log::Error("store-consume failed", {{"error", e.what()}});
      exit_code = 1;
    }
  });
}

void RegisterMigrate(CLI::App& app, int& exit_code) {
  auto uri = std::make_shared<std::string>();
  auto log_level = std::make_shared<std::string>("info");
  CLI::App* cmd = app.add_subcommand("migrate", "Create or upgrade the PostgreSQL schema (versioned, idempotent)");
  cmd->add_option("--postgres", *uri, "libpq URI of the database")->envname("CES_POSTGRES")->required();
  cmd->add_option("--log-level", *log_level, "debug|info|warn|error")->envname("CES_LOG_LEVEL")->capture_default_str();
  cmd->callback([uri, log_level, &exit_code] {
    try {
      exit_code = RunMigrate(*uri, *log_level);
    } catch (const std::exception& e) {
      log::Error("migrate failed", {{"error", e.what()}});
      exit_code = 1;
    }
  });
}

}  // namespace ces::services
