// `casper-event-store generate`: synthetic stream files built from the recorded events (wiring only;
// the generator is ces::emit::Generate).
#include <CLI/CLI.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "ces/common/log.hpp"
#include "ces/emit/synthetic.hpp"
#include "ces/services/commands.hpp"

namespace ces::services {
namespace {

struct GenerateCliOptions {
  emit::GenerateOptions generate;
  std::string log_level = "info";
};

int RunGenerate(const GenerateCliOptions& options) {
  log::Init("generate", options.log_level);
  try {
    const auto started = std::chrono::steady_clock::now();
    emit::GenerateStats stats = emit::Generate(options.generate);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::string by_type;
    for (const auto& [type, count] : stats.by_type) {
      if (!by_type.empty()) by_type += ",";
      by_type += type + "=" + std::to_string(count);
    }
    log::Info("generated", {{"out", options.generate.out},
                            {"events", stats.events},
                            {"blocks", stats.blocks},
                            {"bytes", stats.bytes},
                            {"by_type", by_type},
                            {"seconds", seconds}});
    return 0;
  } catch (const std::exception& e) {
    log::Error("generate failed", {{"error", e.what()}});
    return 1;
  }
}

}  // namespace

void RegisterGenerate(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<GenerateCliOptions>();
  emit::GenerateOptions& g = options->generate;
  CLI::App* cmd = app.add_subcommand(
      "generate", "Write a synthetic SSE stream built from the recorded events (same shapes, new hashes and ids)");
  cmd->add_option("--out", g.out, "Output file (--protocol 2) or directory for main/deploys/sigs.stream (--protocol 1)")
      ->envname("CES_OUT")
      ->required();
  cmd->add_option("--events", g.events, "Number of events to write (ApiVersion not counted)")
      ->envname("CES_EVENTS")
      ->capture_default_str();
  cmd->add_option("--protocol", g.protocol, "1 (1.x shapes, three files) or 2 (2.x, one file)")
      ->envname("CES_PROTOCOL")
      ->check(CLI::IsMember({1, 2}))
      ->capture_default_str();
  cmd->add_option("--mix", g.mix,
                  "Per-block mix, key=value list over the defaults signatures=100,transactions=4,era_blocks=50,expired=1")
      ->envname("CES_MIX");
  cmd->add_option("--large-step-mb", g.large_step_mb,
                  "Make every era's Step at least this many MiB by repeating its effects (0: recorded size)")
      ->envname("CES_LARGE_STEP_MB")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--seed", g.seed, "Seed of the random choices and derived hashes")
      ->envname("CES_SEED")
      ->capture_default_str();
  cmd->add_option("--first-id", g.first_id, "Id of the first event")->envname("CES_FIRST_ID")->capture_default_str();
  cmd->add_option("--recordings", g.recordings_dir, "Directory of the recorded streams (v1/, v2/)")
      ->envname("CES_RECORDINGS")
      ->capture_default_str();
  cmd->add_option("--log-level", options->log_level, "debug, info, warn or error")
      ->envname("CES_LOG_LEVEL")
      ->capture_default_str();
  cmd->callback([options, &exit_code] { exit_code = RunGenerate(*options); });
}

}  // namespace ces::services
