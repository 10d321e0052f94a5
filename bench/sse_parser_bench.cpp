// ces::sse::Parser throughput on recorded node streams and on a synthetic 32 MiB event.
//
//   build-release/bench/sse_parser_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// bytes_per_second is the stream size over parse time; `events` is frames dispatched per second.

#include "ces/sse/parser.hpp"

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

namespace {

namespace fs = std::filesystem;

const fs::path kDataDir = fs::path(CES_RECORDINGS_DIR);

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

const std::string& JavaSdkCapture() {
  static const std::string text = ReadFile(kDataDir / "v2" / "raw" / "casper-java-sdk" / "events-with-deploy.txt");
  return text;
}

const std::string& V1MainStream() {
  static const std::string text = ReadFile(kDataDir / "v1" / "main.stream");
  return text;
}

const std::string& JavaSdkCaptureCrLf() {
  static const std::string text = [] {
    std::string out;
    for (char c : JavaSdkCapture()) {
      if (c == '\n') out.push_back('\r');
      out.push_back(c);
    }
    return out;
  }();
  return text;
}

// One 32 MiB `data:` line (a huge Step event, say), then its id.
const std::string& LargeEvent() {
  static const std::string text = [] {
    std::string payload(32u * 1024u * 1024u, 'x');
    payload.front() = '{';
    payload.back() = '}';
    return "data:" + payload + "\nid:1\n\n";
  }();
  return text;
}

struct Counter : ces::sse::Handler {
  void OnEvent(const ces::sse::Event& event) override {
    ++events;
    bytes += event.data.size();
  }
  std::uint64_t events = 0;
  std::uint64_t bytes = 0;
};

void Parse(benchmark::State& state, const std::string& (*stream)(), std::size_t chunk) {
  const std::string_view text = stream();
  if (text.empty()) {
    state.SkipWithError("recording not found (CES_RECORDINGS_DIR)");
    return;
  }
  if (chunk == 0) chunk = text.size();
  Counter counter;
  ces::sse::Parser parser(counter);  // one parser per connection: reused across iterations
  for (auto _ : state) {
    for (std::size_t pos = 0; pos < text.size(); pos += chunk) parser.Feed(text.substr(pos, chunk));
    benchmark::DoNotOptimize(parser.Finish());
  }
  benchmark::DoNotOptimize(counter.bytes);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
  state.counters["events"] = benchmark::Counter(static_cast<double>(counter.events), benchmark::Counter::kIsRate);
}

constexpr std::size_t k16KiB = 16 * 1024;
constexpr std::size_t k64KiB = 64 * 1024;

BENCHMARK_CAPTURE(Parse, java_sdk_capture_whole, &JavaSdkCapture, 0);
BENCHMARK_CAPTURE(Parse, java_sdk_capture_16KiB, &JavaSdkCapture, k16KiB);
BENCHMARK_CAPTURE(Parse, java_sdk_capture_64KiB, &JavaSdkCapture, k64KiB);
BENCHMARK_CAPTURE(Parse, java_sdk_capture_crlf_16KiB, &JavaSdkCaptureCrLf, k16KiB);
BENCHMARK_CAPTURE(Parse, v1_main_stream_whole, &V1MainStream, 0);
BENCHMARK_CAPTURE(Parse, v1_main_stream_16KiB, &V1MainStream, k16KiB);
BENCHMARK_CAPTURE(Parse, v1_main_stream_64KiB, &V1MainStream, k64KiB);
BENCHMARK_CAPTURE(Parse, large_event_32MiB_whole, &LargeEvent, 0)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(Parse, large_event_32MiB_64KiB, &LargeEvent, k64KiB)->Unit(benchmark::kMillisecond);

}  // namespace
