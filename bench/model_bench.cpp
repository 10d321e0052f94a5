// ces::model::Parser (simdjson On Demand -> rows) per event type, a 4 MiB Step, and the payload mix
// of the recorded 2.x capture. Parse only: no database.
//
//   build-release/bench/model_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// `events` is payloads per second, bytes_per_second payload bytes per second, `rows` rows produced per
// second.

#include "ces/model/parser.hpp"

#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

const fs::path kDataDir = fs::path(CES_RECORDINGS_DIR);

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  std::string text = out.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

std::vector<std::string> DataLines(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("data:", 0) == 0) out.push_back(line.substr(5));
  }
  return out;
}

void Parse(benchmark::State& state, const std::vector<std::string>& payloads) {
  ces::model::Parser parser;
  ces::model::Rows rows;
  std::size_t bytes = 0, rows_per_pass = 0;
  for (const std::string& payload : payloads) {
    bytes += payload.size();
    auto r = parser.Parse(payload, rows);
    if (r.outcome == ces::model::Outcome::kRejected) {
      state.SkipWithError(("payload rejected: " + r.reason).c_str());
      return;
    }
    rows_per_pass += r.rows;
  }
  for (auto _ : state) {
    for (const std::string& payload : payloads) {
      rows.Clear();
      auto result = parser.Parse(payload, rows);
      benchmark::DoNotOptimize(result);
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
  state.counters["events"] =
      benchmark::Counter(static_cast<double>(state.iterations() * payloads.size()), benchmark::Counter::kIsRate);
  state.counters["rows"] =
      benchmark::Counter(static_cast<double>(state.iterations() * rows_per_pass), benchmark::Counter::kIsRate);
  state.counters["payload_bytes"] = static_cast<double>(bytes / payloads.size());
}

void Event(benchmark::State& state, const char* file) { Parse(state, {ReadFile(kDataDir / file)}); }

// A 2.x Step of about 4 MiB (the recorded effects repeated), like a mainnet era end.
void LargeStep(benchmark::State& state) {
  const std::string step = ReadFile(kDataDir / "v2/events/Step.json");
  const std::string key = "\"execution_effects\":[";
  const std::size_t open = step.find(key) + key.size();
  const std::size_t close = step.rfind(']');
  const std::string entries = step.substr(open, close - open);
  std::string body;
  while (body.size() < 4u * 1024u * 1024u) body += (body.empty() ? "" : ",") + entries;
  Parse(state, {step.substr(0, open) + body + step.substr(close)});
}

void RecordedMix(benchmark::State& state) {
  Parse(state, DataLines(kDataDir / "v2/raw/casper-java-sdk/events-with-deploy.txt"));
}

void SyntheticLikeMix(benchmark::State& state) {
  // Per block of a mainnet-like mix: 100 signatures, 4 accepted + 4 processed, 1 block.
  std::vector<std::string> mix;
  const std::string sig = ReadFile(kDataDir / "v2/events/FinalitySignature.json");
  for (int i = 0; i < 100; ++i) mix.push_back(sig);
  for (int i = 0; i < 4; ++i) {
    mix.push_back(ReadFile(kDataDir / "v2/events/TransactionAccepted.Version1.json"));
    mix.push_back(ReadFile(kDataDir / "v2/events/TransactionProcessed.Version1.json"));
  }
  mix.push_back(ReadFile(kDataDir / "v2/events/BlockAdded.json"));
  Parse(state, mix);
}

void Implementation(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(state.iterations());
  state.SetLabel(std::string("simdjson builtin=") + simdjson::builtin_implementation()->name());
}

}  // namespace

BENCHMARK(Implementation)->Iterations(1);
BENCHMARK_CAPTURE(Event, v1_BlockAdded, "v1/events/BlockAdded.json");
BENCHMARK_CAPTURE(Event, v1_BlockAdded_era_end, "v1/events/BlockAdded.era_end.json");
BENCHMARK_CAPTURE(Event, v2_BlockAdded, "v2/events/BlockAdded.json");
BENCHMARK_CAPTURE(Event, v2_BlockAdded_era_end, "v2/events/BlockAdded.era_end.json");
BENCHMARK_CAPTURE(Event, v1_DeployAccepted, "v1/events/DeployAccepted.json");
BENCHMARK_CAPTURE(Event, v2_TransactionAccepted_Deploy, "v2/events/TransactionAccepted.Deploy.json");
BENCHMARK_CAPTURE(Event, v2_TransactionAccepted_Version1, "v2/events/TransactionAccepted.Version1.json");
BENCHMARK_CAPTURE(Event, v1_DeployProcessed_transfer, "v1/events/DeployProcessed.transfer.json");
BENCHMARK_CAPTURE(Event, v1_DeployProcessed_failure, "v1/events/DeployProcessed.failure.json");
BENCHMARK_CAPTURE(Event, v1_DeployProcessed_withdraw_bid, "v1/events/DeployProcessed.withdraw_bid.json");
BENCHMARK_CAPTURE(Event, v2_TransactionProcessed_Version1, "v2/events/TransactionProcessed.Version1.json");
BENCHMARK_CAPTURE(Event, v2_TransactionProcessed_Deploy, "v2/events/TransactionProcessed.Deploy.json");
BENCHMARK_CAPTURE(Event, v1_DeployExpired, "v1/events/DeployExpired.json");
BENCHMARK_CAPTURE(Event, v2_TransactionExpired, "v2/events/TransactionExpired.json");
BENCHMARK_CAPTURE(Event, v1_FinalitySignature, "v1/events/FinalitySignature.json");
BENCHMARK_CAPTURE(Event, v2_FinalitySignature, "v2/events/FinalitySignature.json");
BENCHMARK_CAPTURE(Event, v1_Fault, "v1/events/Fault.json");
BENCHMARK_CAPTURE(Event, v1_Step, "v1/events/Step.json");
BENCHMARK_CAPTURE(Event, v2_Step, "v2/events/Step.json");
BENCHMARK(LargeStep);
BENCHMARK(RecordedMix);
BENCHMARK(SyntheticLikeMix);
