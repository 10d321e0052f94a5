// `casper-event-store audit-consume`: Kafka (main, deploys, sigs) -> MongoDB audit store (wiring only;
// the work is in ces::audit and ces::mongo).
#include <CLI/CLI.hpp>

#include "ces/audit/consumer.hpp"
#include "ces/common/flags.hpp"
#include "ces/common/log.hpp"
#include "ces/common/metrics.hpp"
#include "ces/common/shutdown.hpp"
#include "ces/http/server.hpp"
#include "ces/mongo/audit_store.hpp"
#include "ces/services/commands.hpp"

namespace ces::services {
namespace {

struct AuditConsumeFlags {
  std::string kafka = "127.0.0.1:9092";
  std::string topic_prefix;
  std::string mongo;
  std::string group = "audit-consumer";
  std::string listen = "127.0.0.1:8102";
  std::string write_concern = "majority";
  double write_timeout_s = 60;
  std::size_t batch_events = 5000;
  double batch_linger_s = 0.2;
  std::size_t link_events = 512;
  std::int64_t segment_events = -1;
  std::int64_t segment_bytes = -1;
  std::vector<std::string> kafka_settings;
  double backoff_initial_s = 0.5;
  double backoff_max_s = 10;
  std::string log_level = "info";
  std::size_t fault_abort_after_insert = 0;
};

std::chrono::milliseconds Seconds(double s) { return std::chrono::milliseconds(static_cast<long long>(s * 1000)); }

int RunAuditConsume(const AuditConsumeFlags& flags) {
  log::Init("audit-consume", flags.log_level);
  shutdown::InstallSignalHandlers();
  mongo::StoreOptions store_options;
  store_options.uri = flags.mongo;
  store_options.write_concern = flags.write_concern;
  store_options.write_timeout = Seconds(flags.write_timeout_s);
  store_options.app_name = "casper-event-store audit-consume";
  mongo::AuditStore store(store_options);

  audit::ConsumerOptions options;
  options.brokers = flags.kafka;
  options.topic_prefix = flags.topic_prefix;
  options.group = flags.group;
  options.kafka_settings = ces::flags::ParseKeyValues("--kafka-setting", flags.kafka_settings);
  if (flags.batch_events == 0) throw std::invalid_argument("--batch-events must be at least 1");
  if (flags.link_events == 0) throw std::invalid_argument("--link-events must be at least 1");
  options.batch_max_events = flags.batch_events;
  options.batch_linger = Seconds(flags.batch_linger_s);
  options.link_limits.max_entries = flags.link_events;
  if ((flags.segment_events < 0) != (flags.segment_bytes < 0)) {
    throw std::invalid_argument("--segment-events and --segment-bytes go together (or neither, for the default)");
  }
  if (flags.segment_events >= 0) options.segment_limits = mongo::SegmentLimits{flags.segment_events, flags.segment_bytes};
  options.backoff_initial = Seconds(flags.backoff_initial_s);
  options.backoff_max = Seconds(flags.backoff_max_s);
  options.abort_after_insert_batch = flags.fault_abort_after_insert;

  audit::AuditConsumer consumer(options, store, metrics::Default());
  auto [host, port] = http::ParseHostPort(flags.listen);
  http::Server server(host, port);
  http::AddObservabilityRoutes(server, metrics::Default(),
                               [&consumer](std::string& reason) { return consumer.Ready(reason); });
  server.Start();
  log::Info("listening", {{"listen", flags.listen}, {"port", static_cast<unsigned>(server.Port())}});
  consumer.Run([] { return shutdown::Requested(); });
  server.Stop();
  log::Info("stopped");
  return 0;
}

}  // namespace

void RegisterAuditConsume(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<AuditConsumeFlags>();
  CLI::App* cmd = app.add_subcommand("audit-consume", "Store every event from Kafka verbatim in MongoDB (the audit store)");
  cmd->add_option("--kafka", flags->kafka, "Kafka bootstrap servers HOST:PORT[,...]")
      ->envname("CES_KAFKA")
      ->capture_default_str();
  cmd->add_option("--topic-prefix", flags->topic_prefix, "Prefix of the topic names (as given to produce)")
      ->envname("CES_TOPIC_PREFIX");
  cmd->add_option("--mongo", flags->mongo,
                  "MongoDB connection string, e.g. mongodb://a,b,c/casper-events?replicaSet=rs0 (database from "
                  "the path, default casper-events)")
      ->envname("CES_MONGO")
      ->required();
  cmd->add_option("--group", flags->group, "Kafka consumer group")->envname("CES_GROUP")->capture_default_str();
  cmd->add_option("--listen", flags->listen, "HOST:PORT for /healthz, /readyz, /metrics")
      ->envname("CES_LISTEN")
      ->capture_default_str();
  cmd->add_option("--write-concern", flags->write_concern, "MongoDB write concern: majority or a number of members")
      ->envname("CES_WRITE_CONCERN")
      ->capture_default_str();
  cmd->add_option("--write-timeout", flags->write_timeout_s, "Write concern timeout, seconds")
      ->envname("CES_WRITE_TIMEOUT")
      ->capture_default_str();
  cmd->add_option("--batch-events", flags->batch_events, "Most records written per batch")
      ->envname("CES_BATCH_EVENTS")
      ->capture_default_str();
  cmd->add_option("--batch-linger", flags->batch_linger_s, "Seconds a batch waits to fill at low rates")
      ->envname("CES_BATCH_LINGER")
      ->capture_default_str();
  cmd->add_option("--link-events", flags->link_events, "Most events per replay-log link")
      ->envname("CES_LINK_EVENTS")
      ->capture_default_str();
  cmd->add_option("--segment-events", flags->segment_events,
                  "Replay-log segment size in events (-1: the server's default; used by the first writer of a "
                  "database only)")
      ->envname("CES_SEGMENT_EVENTS")
      ->capture_default_str();
  cmd->add_option("--segment-bytes", flags->segment_bytes, "Replay-log segment size in payload bytes (-1: default)")
      ->envname("CES_SEGMENT_BYTES")
      ->capture_default_str();
  cmd->add_option("--kafka-setting", flags->kafka_settings, "librdkafka consumer setting KEY=VALUE (repeatable)")
      ->envname("CES_KAFKA_SETTINGS")
      ->delimiter(',');
  cmd->add_option("--backoff-initial", flags->backoff_initial_s, "First retry delay after a failed write, seconds")
      ->envname("CES_BACKOFF_INITIAL")
      ->capture_default_str();
  cmd->add_option("--backoff-max", flags->backoff_max_s, "Largest retry delay, seconds")
      ->envname("CES_BACKOFF_MAX")
      ->capture_default_str();
  cmd->add_option("--fault-abort-after-insert", flags->fault_abort_after_insert,
                  "Fault injection for tests: abort after inserting the events of batch N, before linking them")
      ->group("");
  cmd->add_option("--log-level", flags->log_level, "debug|info|warn|error")->envname("CES_LOG_LEVEL")->capture_default_str();
  cmd->callback([flags, &exit_code] {
    try {
      exit_code = RunAuditConsume(*flags);
    } catch (const std::exception& e) {
      log::Error("audit-consume failed", {{"error", e.what()}});
      exit_code = 1;
    }
  });
}

}  // namespace ces::services
