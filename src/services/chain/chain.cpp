// `casper-event-store chain`: the node topics -> <prefix>chain, each distinct event once (wiring only;
// the work is in ces::chain).
#include <CLI/CLI.hpp>

#include "ces/chain/stage.hpp"
#include "ces/common/log.hpp"
#include "ces/common/metrics.hpp"
#include "ces/common/shutdown.hpp"
#include "ces/http/server.hpp"
#include "ces/services/commands.hpp"

namespace ces::services {
namespace {

struct ChainFlags {
  std::string kafka = "127.0.0.1:9092";
  std::string topic_prefix;
  std::string group;
  std::string transactional_id;
  std::string listen = "127.0.0.1:8104";
  std::size_t batch_events = 2000;
  std::string index;
  double index_interval_s = 60;
  int replication_factor = -1;
  std::vector<std::string> kafka_settings;
  std::string log_level = "info";
};

int RunChain(const ChainFlags& flags) {
  log::Init("chain", flags.log_level);
  shutdown::InstallSignalHandlers();
  chain::StageOptions options;
  options.brokers = flags.kafka;
  options.topic_prefix = flags.topic_prefix;
  options.group = flags.group;
  options.transactional_id = flags.transactional_id;
  options.replication_factor = flags.replication_factor;
  options.index_path = flags.index;
  options.index_interval = std::chrono::milliseconds(static_cast<long long>(flags.index_interval_s * 1000));
  if (flags.batch_events == 0) throw std::invalid_argument("--batch-events must be at least 1");
  options.batch_max_events = flags.batch_events;
  for (const std::string& kv : flags.kafka_settings) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) throw std::invalid_argument("--kafka-setting expects KEY=VALUE, got " + kv);
    options.kafka_settings[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  chain::ChainStage stage(options, metrics::Default());
  auto [host, port] = http::ParseHostPort(flags.listen);
  http::Server server(host, port);
  http::AddObservabilityRoutes(server, metrics::Default(), [&stage](std::string& reason) { return stage.Ready(reason); });
  server.Start();
  log::Info("listening", {{"listen", flags.listen}, {"port", static_cast<unsigned>(server.Port())}});
  stage.Run([] { return shutdown::Requested(); });
  server.Stop();
  log::Info("stopped");
  return 0;
}

}  // namespace

void RegisterChain(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<ChainFlags>();
  CLI::App* cmd = app.add_subcommand(
      "chain", "Append every distinct event of the node topics once to the chain topic (one sequence for all nodes)");
  cmd->add_option("--kafka", flags->kafka, "Kafka bootstrap servers HOST:PORT[,...]")
      ->envname("CES_KAFKA")
      ->capture_default_str();
  cmd->add_option("--topic-prefix", flags->topic_prefix, "Prefix of the topic names (as given to produce)")
      ->envname("CES_TOPIC_PREFIX");
  cmd->add_option("--group", flags->group, "Kafka consumer group of the node topics (default chain-<prefix>)")
      ->envname("CES_GROUP");
  cmd->add_option("--transactional-id", flags->transactional_id,
                  "Kafka transactional id (default casper-event-store-chain-<prefix>); a second instance with the "
                  "same id fences the first")
      ->envname("CES_TRANSACTIONAL_ID");
  cmd->add_option("--listen", flags->listen, "HOST:PORT for /healthz, /readyz, /metrics")
      ->envname("CES_LISTEN")
      ->capture_default_str();
  cmd->add_option("--batch-events", flags->batch_events, "Most records per transaction")
      ->envname("CES_BATCH_EVENTS")
      ->capture_default_str();
  cmd->add_option("--index", flags->index,
                  "Snapshot file of the seen identities (24 bytes each), so that a restart reads only the chain "
                  "records after it; without it, or when it is lost, the whole chain topic is read at start")
      ->envname("CES_INDEX");
  cmd->add_option("--index-interval", flags->index_interval_s, "Seconds between index snapshots (and one at exit)")
      ->envname("CES_INDEX_INTERVAL")
      ->capture_default_str();
  cmd->add_option("--replication-factor", flags->replication_factor,
                  "Replication factor of the chain topic when this service creates it (-1: the broker's default)")
      ->envname("CES_REPLICATION_FACTOR")
      ->capture_default_str();
  cmd->add_option("--kafka-setting", flags->kafka_settings,
                  "librdkafka setting KEY=VALUE for the consumer and the producer (repeatable)")
      ->envname("CES_KAFKA_SETTINGS")
      ->delimiter(',');
  cmd->add_option("--log-level", flags->log_level, "debug|info|warn|error")->envname("CES_LOG_LEVEL")->capture_default_str();
  cmd->callback([flags, &exit_code] {
    try {
      exit_code = RunChain(*flags);
    } catch (const std::exception& e) {
      log::Error("chain failed", {{"error", e.what()}});
      exit_code = 1;
    }
  });
}

}  // namespace ces::services
