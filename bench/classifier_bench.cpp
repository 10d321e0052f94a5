// ces::casper::Classifier (simdjson validation + event type extraction) per event type, and over the
// payload mix of a recorded 2.x stream.
//
//   build-release/bench/classifier_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// bytes_per_second is payload bytes over classification time; `events` is payloads per second.

#include "ces/casper/event.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
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
  return out.str();
}

void Classify(benchmark::State& state, const std::vector<std::string>& payloads) {
  ces::casper::Classifier classifier;
  std::size_t bytes = 0;
  for (const std::string& payload : payloads) {
    bytes += payload.size();
    if (!classifier.Classify(payload).ok) {
      state.SkipWithError("payload rejected");
      return;
    }
  }
  for (auto _ : state) {
    for (const std::string& payload : payloads) {
      auto result = classifier.Classify(payload);
      benchmark::DoNotOptimize(result);
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
  state.counters["events"] = benchmark::Counter(static_cast<double>(state.iterations() * payloads.size()),
                                                benchmark::Counter::kIsRate);
  state.counters["payload_bytes"] = static_cast<double>(bytes / payloads.size());
}

// Payloads of the `data:` lines of a recording (the recordings are LF-only, one line per payload).
std::vector<std::string> DataLines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    if (text.compare(pos, 5, "data:") == 0) out.push_back(text.substr(pos + 5, end - pos - 5));
    pos = end + 1;
  }
  return out;
}

bool RegisterAll() {
  for (const char* version : {"v1", "v2"}) {
    std::vector<fs::path> files;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(kDataDir / version / "events", error)) {
      if (entry.path().extension() == ".json") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) {
      std::string payload = ReadFile(file);
      while (!payload.empty() && payload.back() == '\n') payload.pop_back();
      const std::string name = "Classify/" + std::string(version) + "/" + file.stem().string();
      benchmark::RegisterBenchmark(name.c_str(), Classify, std::vector<std::string>{payload});
    }
  }
  const std::string capture = ReadFile(kDataDir / "v2" / "raw" / "casper-java-sdk" / "events-with-deploy.txt");
  if (!capture.empty()) {
    benchmark::RegisterBenchmark("Classify/v2/java_sdk_capture_mix", Classify, DataLines(capture));
  }
  const std::string main_stream = ReadFile(kDataDir / "v1" / "main.stream");
  if (!main_stream.empty()) {
    benchmark::RegisterBenchmark("Classify/v1/main_stream_mix", Classify, DataLines(main_stream));
  }
  return true;
}

[[maybe_unused]] const bool kRegistered = RegisterAll();

}  // namespace
