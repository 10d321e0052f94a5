// `casper-event-store produce`: node SSE streams -> Kafka (wiring only; the work is in ces::ingest).
#include <CLI/CLI.hpp>

#include "ces/common/flags.hpp"
#include "ces/common/log.hpp"
#include "ces/common/metrics.hpp"
#include "ces/common/shutdown.hpp"
#include "ces/http/server.hpp"
#include "ces/ingest/ingestor.hpp"
#include "ces/services/commands.hpp"

namespace ces::services {
namespace {

struct ProduceFlags {
  std::vector<std::string> nodes;
  std::string kafka = "127.0.0.1:9092";
  std::string topic_prefix;
  std::string listen = "127.0.0.1:8101";
  int partitions = 3;
  int replication_factor = -1;
  int min_insync_replicas = 0;
  std::vector<std::string> kafka_settings;
  double backoff_initial_s = 0.5;
  double backoff_max_s = 30;
  double healthy_after_s = 30;
  double idle_timeout_s = 60;
  std::string log_level = "info";
};

int RunProduce(const ProduceFlags& flags) {
  log::Init("produce", flags.log_level);
  shutdown::InstallSignalHandlers();
  ingest::IngestOptions options;
  options.nodes = flags.nodes;
  options.brokers = flags.kafka;
  options.topic_prefix = flags.topic_prefix;
  options.partitions = flags.partitions;
  options.replication_factor = flags.replication_factor;
  if (flags.min_insync_replicas > 0) options.min_insync_replicas = flags.min_insync_replicas;
  options.producer_settings = ces::flags::ParseKeyValues("--kafka-setting", flags.kafka_settings);
  auto seconds = [](double s) { return std::chrono::milliseconds(static_cast<long long>(s * 1000)); };
  options.backoff_initial = seconds(flags.backoff_initial_s);
  options.backoff_max = seconds(flags.backoff_max_s);
  options.healthy_after = seconds(flags.healthy_after_s);
  options.client.idle_timeout = seconds(flags.idle_timeout_s);

  ingest::Ingestor ingestor(options);
  auto [host, port] = http::ParseHostPort(flags.listen);
  http::Server server(host, port);
  http::AddObservabilityRoutes(server, metrics::Default(),
                               [&ingestor](std::string& reason) { return ingestor.Ready(reason); });
  server.Start();
  log::Info("listening", {{"listen", flags.listen}, {"port", static_cast<unsigned>(server.Port())}});
  ingestor.Start();
  while (!shutdown::WaitFor(std::chrono::seconds(3600))) {
  }
  const bool flushed = ingestor.Stop();
  server.Stop();
  return flushed ? 0 : 1;
}

}  // namespace

void RegisterProduce(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<ProduceFlags>();
  CLI::App* cmd = app.add_subcommand("produce", "Capture Casper node SSE streams into Kafka without loss");
  cmd->add_option("--node", flags->nodes,
                  "Node event-stream base URL, e.g. http://127.0.0.1:9999 (repeatable; env: comma-separated)")
      ->envname("CES_NODE")
      ->delimiter(',')
      ->required();
  cmd->add_option("--kafka", flags->kafka, "Kafka bootstrap servers HOST:PORT[,...]")
      ->envname("CES_KAFKA")
      ->capture_default_str();
  cmd->add_option("--topic-prefix", flags->topic_prefix, "Prefix of every topic name (several pipelines per cluster)")
      ->envname("CES_TOPIC_PREFIX");
  cmd->add_option("--listen", flags->listen, "HOST:PORT for /healthz, /readyz, /metrics")
      ->envname("CES_LISTEN")
      ->capture_default_str();
  cmd->add_option("--partitions", flags->partitions, "Partitions of main/deploys/sigs when created")
      ->envname("CES_PARTITIONS")
      ->capture_default_str();
  cmd->add_option("--replication-factor", flags->replication_factor, "Replication factor of created topics (-1: broker default)")
      ->envname("CES_REPLICATION_FACTOR")
      ->capture_default_str();
  cmd->add_option("--min-insync-replicas", flags->min_insync_replicas, "min.insync.replicas of created topics (0: broker default)")
      ->envname("CES_MIN_INSYNC_REPLICAS")
      ->capture_default_str();
  cmd->add_option("--kafka-setting", flags->kafka_settings, "librdkafka producer setting KEY=VALUE (repeatable)")
      ->envname("CES_KAFKA_SETTINGS")
      ->delimiter(',');
  cmd->add_option("--backoff-initial", flags->backoff_initial_s, "First reconnect delay, seconds")
      ->envname("CES_BACKOFF_INITIAL")
      ->capture_default_str();
  cmd->add_option("--backoff-max", flags->backoff_max_s, "Largest reconnect delay, seconds")
      ->envname("CES_BACKOFF_MAX")
      ->capture_default_str();
  cmd->add_option("--healthy-after", flags->healthy_after_s, "A connection this old (seconds) resets the backoff")
      ->envname("CES_HEALTHY_AFTER")
      ->capture_default_str();
  cmd->add_option("--idle-timeout", flags->idle_timeout_s, "Reconnect when a stream sends nothing for this long, seconds")
      ->envname("CES_IDLE_TIMEOUT")
      ->capture_default_str();
  cmd->add_option("--log-level", flags->log_level, "debug|info|warn|error")->envname("CES_LOG_LEVEL")->capture_default_str();
  cmd->callback([flags, &exit_code] {
    try {
      exit_code = RunProduce(*flags);
    } catch (const std::exception& e) {
      log::Error("produce failed", {{"error", e.what()}});
      exit_code = 1;
    }
  });
}

}  // namespace ces::services
