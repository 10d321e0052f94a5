// `casper-event-store backfill`: node JSON-RPC -> the events produce would have written -> Kafka
// (flags and wiring only; the work is in ces::backfill).
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <cstdio>
#include <thread>

#include "ces/backfill/completeness.hpp"
#include "ces/backfill/runner.hpp"
#include "ces/common/flags.hpp"
#include "ces/common/log.hpp"
#include "ces/common/metrics.hpp"
#include "ces/common/shutdown.hpp"
#include "ces/http/server.hpp"
#include "ces/ingest/record.hpp"
#include "ces/postgres/connection.hpp"
#include "ces/services/commands.hpp"

namespace ces::services {
namespace {

struct BackfillFlags {
  std::string node;
  std::string rpc;
  std::string kafka = "127.0.0.1:9092";
  std::string topic_prefix;
  std::string listen = "127.0.0.1:8105";
  std::vector<std::string> kafka_settings;
  bool gaps = true;
  std::optional<std::uint64_t> from_height;
  std::optional<std::uint64_t> to_height;
  bool all = false;
  bool check = false;
  std::string postgres;
  std::string group = "backfill";
  std::size_t window = 64;
  std::size_t rpc_in_flight = 8;
  double rpc_rate = 0;
  double rpc_timeout_s = 30;
  std::string log_level = "info";
};

// One progress line, rewritten in place on a terminal.
void PrintProgress(const backfill::Progress& p) {
  std::fprintf(stderr, "\rheights %llu/%llu  %.1f blocks/s  ETA %.0f s   ",
               static_cast<unsigned long long>(p.done), static_cast<unsigned long long>(p.total), p.blocks_per_second,
               p.eta_seconds);
  std::fflush(stderr);
}

// --check: the completeness report of the range (GET /api/v1/completeness) on stdout; exit 0 when
// complete, 3 when not.
int RunCheck(const BackfillFlags& flags, std::uint64_t first, std::uint64_t last) {
  if (flags.postgres.empty()) throw std::invalid_argument("--check needs --postgres");
  if (last - first >= backfill::kMaxCompletenessRange) throw std::invalid_argument("--check covers at most 100000 heights");
  const kafka::Settings settings = ces::flags::ParseKeyValues("--kafka-setting", flags.kafka_settings);
  postgres::Connection db(flags.postgres);
  if (postgres::DbError e = db.Connect()) throw std::runtime_error("cannot connect to PostgreSQL: " + e.message);
  std::string sql = backfill::kCompletenessSql;
  sql.replace(sql.find("$1"), 2, std::to_string(first));
  sql.replace(sql.find("$2"), 2, std::to_string(last));
  auto number = [](const std::optional<std::string>& v) { return v ? std::stoll(*v) : 0; };
  std::vector<backfill::StoredBlock> blocks;
  for (const auto& row : db.Query(sql)) {
    blocks.push_back({static_cast<std::uint64_t>(number(row[0])), row[1].value_or(""), number(row[2]), number(row[3]),
                      number(row[4])});
  }
  const auto gaps = backfill::GapStates(
      kafka::ReadAll(flags.kafka, settings, kafka::TopicName(flags.topic_prefix, ingest::kGapsTopic)),
      kafka::ReadAll(flags.kafka, settings, kafka::TopicName(flags.topic_prefix, backfill::kCheckpointsTopic)));
  const std::string report = backfill::CompletenessJson(first, last, blocks, gaps);
  std::printf("%s\n", report.c_str());
  return report.find("\"complete\":true") != std::string::npos ? 0 : 3;
}

int RunBackfill(const BackfillFlags& flags) {
  log::Init("backfill", flags.log_level);
  shutdown::InstallSignalHandlers();
  if (flags.node.empty()) throw std::invalid_argument("--node is required");
  const bool range = flags.all || flags.from_height || flags.to_height;
  if (!flags.all && range && (!flags.from_height || !flags.to_height)) {
    throw std::invalid_argument("--from-height and --to-height go together (or --all)");
  }
  if (flags.from_height && flags.to_height && *flags.from_height > *flags.to_height) {
    throw std::invalid_argument("--from-height is above --to-height");
  }
  backfill::RunnerOptions options;
  options.source = flags.node;
  options.rpc_url = flags.rpc.empty() ? backfill::DefaultRpcUrl(flags.node) : flags.rpc;
  options.brokers = flags.kafka;
  options.topic_prefix = flags.topic_prefix;
  options.group = flags.group;
  options.window = std::max<std::size_t>(1, flags.window);
  options.rpc_in_flight = std::max<std::size_t>(1, flags.rpc_in_flight);
  options.rpc_rate = flags.rpc_rate;
  options.rpc_timeout = std::chrono::milliseconds(static_cast<long long>(flags.rpc_timeout_s * 1000));
  options.producer_settings = ces::flags::ParseKeyValues("--kafka-setting", flags.kafka_settings);
  backfill::Runner runner(options);
  auto [host, port] = http::ParseHostPort(flags.listen);
  http::Server server(host, port);
  http::AddObservabilityRoutes(server, metrics::Default(), [](std::string&) { return true; });
  server.Start();
  log::Info("listening", {{"listen", flags.listen}, {"port", static_cast<unsigned>(server.Port())},
                          {"rpc", options.rpc_url}});
  const auto should_stop = [] { return shutdown::Requested(); };
  backfill::ProgressFn progress;
  if (isatty(STDERR_FILENO) != 0) progress = PrintProgress;
  bool ok = true;
  if (range) {
    std::uint64_t first = flags.from_height.value_or(0);
    std::uint64_t last = flags.to_height.value_or(0);
    if (flags.all) {
      auto status = runner.Status();
      if (!status) throw std::runtime_error("info_get_status: " + status.error().message);
      if (!status->available_block_range) throw std::runtime_error("the node reports no available_block_range");
      first = status->available_block_range->low;
      last = status->available_block_range->high;
    }
    if (flags.check) {
      server.Stop();
      return RunCheck(flags, first, last);
    }
    ok = runner.SyncRange(first, last, "", should_stop, progress);
    if (progress) std::fputc('\n', stderr);
  } else if (flags.gaps) {
    ok = runner.RunGaps(should_stop, progress);
  }
  server.Stop();
  if (shutdown::Requested()) return 0;  // stopped cleanly; a range resumes from its checkpoint
  return ok ? 0 : 1;
}

}  // namespace

void RegisterBackfill(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<BackfillFlags>();
  CLI::App* cmd = app.add_subcommand(
      "backfill", "Rebuild lost or historical node events from the node's JSON-RPC and write them to Kafka");
  cmd->add_option("--node", flags->node, "The node's event-stream base URL as given to produce (source of the records)")
      ->envname("CES_NODE")
      ->required();
  cmd->add_option("--rpc", flags->rpc, "The node's JSON-RPC URL (default: the --node host, port 7777, path /rpc)")
      ->envname("CES_RPC");
  cmd->add_option("--kafka", flags->kafka, "Kafka bootstrap servers HOST:PORT[,...]")
      ->envname("CES_KAFKA")
      ->capture_default_str();
  cmd->add_option("--topic-prefix", flags->topic_prefix, "Prefix of every topic name")->envname("CES_TOPIC_PREFIX");
  cmd->add_option("--listen", flags->listen, "HOST:PORT for /healthz, /readyz, /metrics")
      ->envname("CES_LISTEN")
      ->capture_default_str();
  cmd->add_option("--kafka-setting", flags->kafka_settings, "librdkafka producer setting KEY=VALUE (repeatable)")
      ->envname("CES_KAFKA_SETTINGS")
      ->delimiter(',');
  cmd->add_flag("--gaps,!--no-gaps", flags->gaps,
                "Consume ingest-gaps and fill every gap of this node (a service; the default without a range)")
      ->envname("CES_GAPS")
      ->capture_default_str();
  cmd->add_option("--group", flags->group, "Kafka consumer group of --gaps (one per node)")
      ->envname("CES_GROUP")
      ->capture_default_str();
  cmd->add_option("--from-height", flags->from_height, "First height of a one-shot history sync")
      ->envname("CES_FROM_HEIGHT");
  cmd->add_option("--to-height", flags->to_height, "Last height of a one-shot history sync (inclusive)")
      ->envname("CES_TO_HEIGHT");
  cmd->add_flag("--all", flags->all, "One-shot sync of the node's whole available_block_range")->envname("CES_ALL");
  cmd->add_flag("--check", flags->check,
                "Print the completeness report of the range (needs --postgres); exit 0 when complete, 3 when not")
      ->envname("CES_CHECK");
  cmd->add_option("--postgres", flags->postgres, "The model's database, for --check")->envname("CES_POSTGRES");
  cmd->add_option("--window", flags->window, "Heights fetched concurrently")
      ->envname("CES_WINDOW")
      ->capture_default_str();
  cmd->add_option("--rpc-in-flight", flags->rpc_in_flight, "RPC requests on the wire at once")
      ->envname("CES_RPC_IN_FLIGHT")
      ->capture_default_str();
  cmd->add_option("--rpc-rate", flags->rpc_rate, "RPC requests per second (0: unlimited)")
      ->envname("CES_RPC_RATE")
      ->capture_default_str();
  cmd->add_option("--rpc-timeout", flags->rpc_timeout_s, "Seconds one RPC attempt may take")
      ->envname("CES_RPC_TIMEOUT")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--log-level", flags->log_level, "debug|info|warn|error")->envname("CES_LOG_LEVEL")->capture_default_str();
  cmd->callback([flags, &exit_code] {
    try {
      exit_code = RunBackfill(*flags);
    } catch (const std::exception& e) {
      log::Error("backfill failed", {{"error", e.what()}});
      exit_code = 1;
    }
  });
}

}  // namespace ces::services
