// `casper-event-store emit` as a subprocess on 127.0.0.1 (port 0), read like a node with the SSE
// client: wire format, byte-identical payloads, replay (start_from), node error bodies, keep-alives,
// Shutdown, fault injection, looping, /status, and files written by `generate`. No external servers.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ces/sse/client.hpp"
#include "ces/sse/parser.hpp"
#include "sse_frame.hpp"
#include "test_support.hpp"

namespace ces::test {
namespace {

using namespace std::chrono_literals;

std::string Recordings() { return RecordingsDir(); }

// A running `emit`; the port comes from --port-file.
class Emit {
 public:
  explicit Emit(std::vector<std::string> args) : dir_(TempDir()) {
    const std::string port_file = dir_ + "/port";
    std::vector<std::string> full = {"emit", "--listen", "127.0.0.1:0", "--port-file", port_file};
    full.insert(full.end(), args.begin(), args.end());
    process_ = std::make_unique<Process>(full, dir_ + "/emit.log");
    const bool up = WaitUntil([&] { return std::filesystem::exists(port_file) || !process_->Running(); }, 10s);
    if (!up || !std::filesystem::exists(port_file)) {
      ADD_FAILURE() << "emit did not start:\n" << process_->Log();
      return;
    }
    port_ = static_cast<std::uint16_t>(std::stoi(ReadFile(port_file)));
  }

  Emit(const Emit&) = delete;
  Emit& operator=(const Emit&) = delete;
  ~Emit() {
    process_.reset();  // stops the process
    if (!::testing::Test::HasFailure()) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);  // keep the log of a failed test
    }
  }

  std::string Url(const std::string& target) const { return "http://127.0.0.1:" + std::to_string(port_) + target; }
  std::uint16_t port() const { return port_; }
  Process& process() { return *process_; }

 private:
  std::string dir_;
  std::unique_ptr<Process> process_;
  std::uint16_t port_ = 0;
};

using Frame = SseFrame;

// Everything one connection received.
class Collector : public sse::Handler {
 public:
  void OnEvent(const sse::Event& e) override {
    frames.push_back(ToFrame(e));
  }
  void OnComment(std::string_view text) override { comments.emplace_back(text); }

  std::vector<Frame> frames;
  std::vector<std::string> comments;
};

struct Read {
  sse::StreamResult result;
  std::vector<Frame> frames;
  std::vector<std::string> comments;
};

// Reads `url` until the server ends the stream, `until` holds or `max_time` passes.
Read ReadStream(const std::string& url, std::chrono::milliseconds max_time,
                const std::function<bool(const Collector&)>& until = {}) {
  Collector collector;
  sse::ClientOptions options;
  options.idle_timeout = 10s;
  const auto deadline = std::chrono::steady_clock::now() + max_time;
  Read read;
  read.result = sse::Stream(url, collector, options, [&] {
    return std::chrono::steady_clock::now() >= deadline || (until && until(collector));
  });
  read.frames = std::move(collector.frames);
  read.comments = std::move(collector.comments);
  return read;
}

std::function<bool(const Collector&)> AtLeast(std::size_t frames) {
  return [frames](const Collector& c) { return c.frames.size() >= frames; };
}

// Raw HTTP POST (the SSE client only GETs); returns the status.
int Post(std::uint16_t port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return 0;
  }
  const std::string request = "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string response;
  char buf[1024];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) response.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return response.size() > 12 ? std::stoi(response.substr(9, 3)) : 0;
}

// The ApiVersion frame first, without an id, then exactly `expected` in order, byte for byte,
// each written data-then-id.
void ExpectFrames(const Read& read, const std::string& api_version_payload,
                  const std::vector<RecordedEvent>& expected) {
  ASSERT_GE(read.frames.size(), 1u);
  EXPECT_FALSE(read.frames[0].id.has_value());
  EXPECT_EQ(read.frames[0].data, api_version_payload);
  EXPECT_EQ(read.frames[0].raw, "data:" + api_version_payload + "\n");
  ASSERT_EQ(read.frames.size() - 1, expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const Frame& f = read.frames[i + 1];
    ASSERT_TRUE(f.id.has_value()) << "frame " << i + 1;
    EXPECT_EQ(*f.id, std::to_string(*expected[i].id)) << "frame " << i + 1;
    EXPECT_EQ(f.data, expected[i].data) << "frame " << i + 1;
    EXPECT_EQ(f.raw, "data:" + expected[i].data + "\nid:" + std::to_string(*expected[i].id) + "\n") << "frame " << i + 1;
  }
}

std::vector<RecordedEvent> EventsOf(const std::string& path) {
  std::vector<RecordedEvent> out;
  for (auto& e : ReadRecording(path)) {
    if (e.id) out.push_back(std::move(e));
  }
  return out;
}

std::string ApiVersionOf(const std::string& path) { return ReadRecording(path).front().data; }

std::vector<RecordedEvent> From(const std::vector<RecordedEvent>& events, std::uint32_t first_id) {
  std::vector<RecordedEvent> out;
  for (const auto& e : events) {
    if (*e.id >= first_id) out.push_back(e);
  }
  return out;
}

TEST(EmitItest, ServesTheV2StreamExactlyAndClosesAfterShutdown) {
  const std::string file = Recordings() + "/v2/events.stream";
  Emit emit({"--stream", file, "--keepalive", "1"});
  Read read = ReadStream(emit.Url("/events?start_from=0"), 10s);
  EXPECT_EQ(read.result.end, sse::StreamEnd::kClosed) << sse::ToString(read.result.end);
  EXPECT_EQ(read.result.http_status, 200);
  ExpectFrames(read, ApiVersionOf(file), EventsOf(file));
  EXPECT_EQ(read.frames.back().data, "\"Shutdown\"");
}

TEST(EmitItest, ServesTheThreeV1StreamsOnTheirEndpoints) {
  const std::string dir = Recordings() + "/v1";
  Emit emit({"--stream", dir + "/main.stream", "--stream", dir + "/deploys.stream", "--stream", dir + "/sigs.stream"});
  for (const char* name : {"main", "deploys", "sigs"}) {
    const std::string file = dir + "/" + name + ".stream";
    Read read = ReadStream(emit.Url(std::string("/events/") + name + "?start_from=0"), 10s);
    EXPECT_EQ(read.result.end, sse::StreamEnd::kClosed) << name;
    ExpectFrames(read, ApiVersionOf(file), EventsOf(file));
  }
  // Replay from the middle of the shared id sequence: sigs has 20..25, 30.
  Read read = ReadStream(emit.Url("/events/sigs?start_from=23"), 10s);
  ExpectFrames(read, ApiVersionOf(dir + "/sigs.stream"), From(EventsOf(dir + "/sigs.stream"), 23));
}

TEST(EmitItest, RecordingsShortcutAndNodeErrorBodies) {
  Emit v1({"--recordings", Recordings(), "--protocol", "1"});
  auto [status, body] = HttpGet(v1.Url("/events"));
  EXPECT_EQ(status, 404);
  EXPECT_EQ(body, "invalid path: expected '/events/main', '/events/deploys' or '/events/sigs'");
  std::tie(status, body) = HttpGet(v1.Url("/events/main?start_from=abc"));
  EXPECT_EQ(status, 422);
  EXPECT_EQ(body, "invalid query: expected single field 'start_from=<EVENT ID>'");
  Read read = ReadStream(v1.Url("/events/deploys?start_from=0"), 10s);
  EXPECT_EQ(read.frames.size(), 4u);  // ApiVersion, 2 DeployAccepted, Shutdown

  Emit v2({"--recordings", Recordings()});
  std::tie(status, body) = HttpGet(v2.Url("/events/main"));
  EXPECT_EQ(status, 404);
  EXPECT_EQ(body, "invalid path: expected '/events'");
  for (const char* query : {"?start_from=1&x=2", "?start_from=1&start_from=2", "?from=1", "?start_from=-1",
                            "?start_from=4294967296", "?start_from="}) {
    std::tie(status, body) = HttpGet(v2.Url(std::string("/events") + query));
    EXPECT_EQ(status, 422) << query;
    EXPECT_EQ(body, "invalid query: expected single field 'start_from=<EVENT ID>'") << query;
  }
}

TEST(EmitItest, StartFromFollowsTheBufferAndLiveGetsKeepAlives) {
  const std::string file = Recordings() + "/v2/events.stream";
  const auto events = EventsOf(file);
  Emit emit({"--stream", file, "--buffer", "5", "--keepalive", "1"});
  // Older than the buffer (18 published, 5 kept): starts at id 13.
  Read read = ReadStream(emit.Url("/events?start_from=0"), 10s);
  ExpectFrames(read, ApiVersionOf(file), From(events, 13));
  // Inside the buffer.
  read = ReadStream(emit.Url("/events?start_from=15"), 10s);
  ExpectFrames(read, ApiVersionOf(file), From(events, 15));
  // Live (no start_from): everything is already published, so only ApiVersion and keep-alives.
  read = ReadStream(emit.Url("/events"), 1800ms);
  EXPECT_EQ(read.result.end, sse::StreamEnd::kStopped);
  EXPECT_EQ(read.frames.size(), 1u);
  EXPECT_GE(read.comments.size(), 1u);
  for (const auto& c : read.comments) EXPECT_EQ(c, "");
  // A future id: nothing until ids reach it.
  read = ReadStream(emit.Url("/events?start_from=1000"), 1200ms);
  EXPECT_EQ(read.frames.size(), 1u);
}

TEST(EmitItest, RateReleasesEventsProgressively) {
  const std::string file = Recordings() + "/v2/events.stream";
  Emit emit({"--stream", file, "--rate", "10", "--keepalive", "1"});
  const auto started = std::chrono::steady_clock::now();
  Read read = ReadStream(emit.Url("/events?start_from=0"), 10s);
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(read.result.end, sse::StreamEnd::kClosed);
  ExpectFrames(read, ApiVersionOf(file), EventsOf(file));
  EXPECT_GE(took, 1200ms);  // 18 events at 10/s
}

TEST(EmitItest, DropAfterCutsEachConnection) {
  const std::string file = Recordings() + "/v2/events.stream";
  const auto events = EventsOf(file);
  Emit emit({"--stream", file, "--drop-after", "3"});
  for (int i = 0; i < 2; ++i) {
    Read read = ReadStream(emit.Url("/events?start_from=0"), 10s);
    EXPECT_EQ(read.result.end, sse::StreamEnd::kNetworkError) << sse::ToString(read.result.end);
    ExpectFrames(read, ApiVersionOf(file), std::vector<RecordedEvent>(events.begin(), events.begin() + 3));
  }
  // Resuming where the previous connection was cut.
  Read read = ReadStream(emit.Url("/events?start_from=3"), 10s);
  ExpectFrames(read, ApiVersionOf(file), std::vector<RecordedEvent>(events.begin() + 3, events.begin() + 6));
}

TEST(EmitItest, StatusLooksLikeANode) {
  Emit emit({"--recordings", Recordings()});
  auto [status, body] = HttpGet(emit.Url("/status"));
  ASSERT_EQ(status, 200);
  auto json = nlohmann::json::parse(body);
  EXPECT_EQ(json["api_version"], "2.0.0");
  EXPECT_EQ(json["build_version"], "2.0.0-emit");
  EXPECT_EQ(json["chainspec_name"], "emit-recording");
  EXPECT_TRUE(json["last_added_block_info"].is_null());
  EXPECT_TRUE(json["uptime"].is_string());
  std::tie(status, body) = HttpGet(emit.Url("/healthz"));
  EXPECT_EQ(status, 200);
  ReadStream(emit.Url("/events?start_from=0"), 10s);
  std::tie(status, body) = HttpGet(emit.Url("/metrics"));
  EXPECT_EQ(status, 200);
  EXPECT_NE(body.find("emit_events_sent_total 18"), std::string::npos) << body;
  EXPECT_NE(body.find("emit_connections 0"), std::string::npos) << body;
}

// True if the JSON text holds a string value (not a member name) of exactly 64 hex digits.
bool HasHashValue(const std::string& json) {
  for (std::size_t i = json.find('"'); i != std::string::npos && i + 66 <= json.size(); i = json.find('"', i + 1)) {
    if (json[i + 65] != '"' || (i + 66 < json.size() && json[i + 66] == ':')) continue;
    if (json.substr(i + 1, 64).find_first_not_of("0123456789abcdefABCDEF") == std::string::npos) return true;
  }
  return false;
}

TEST(EmitItest, LoopWithSyntheticHashesNeverEnds) {
  const std::string file = Recordings() + "/v2/events.stream";
  const auto events = EventsOf(file);  // ids 0..17, Shutdown at 17: cycles of 17 contiguous ids
  Emit emit({"--stream", file, "--loop", "--synthetic"});
  Read read = ReadStream(emit.Url("/events?start_from=0"), 10s, AtLeast(1 + 3 * 17));
  ASSERT_GE(read.frames.size(), 1u + 3 * 17);
  for (std::size_t i = 1; i <= 3 * 17; ++i) {
    const std::size_t cycle = (i - 1) / 17;
    const RecordedEvent& original = events[(i - 1) % 17];
    const Frame& f = read.frames[i];
    EXPECT_EQ(*f.id, std::to_string(*original.id + cycle * 17));
    EXPECT_NE(f.data, "\"Shutdown\"");
    EXPECT_EQ(f.data.size(), original.data.size());
    if (cycle == 0) {
      EXPECT_EQ(f.data, original.data);
    } else if (HasHashValue(original.data)) {
      EXPECT_NE(f.data, original.data) << "cycle " << cycle << " kept the recorded hashes";
      EXPECT_TRUE(nlohmann::json::accept(f.data));
    }
  }
  auto [status, body] = HttpGet(emit.Url("/status"));
  EXPECT_EQ(nlohmann::json::parse(body)["chainspec_name"], "emit-synthetic");
  // Resume inside cycle 2.
  read = ReadStream(emit.Url("/events?start_from=40"), 10s, AtLeast(2));
  ASSERT_GE(read.frames.size(), 2u);
  EXPECT_EQ(*read.frames[1].id, "40");
}

TEST(EmitItest, ExitAfterSigtermAndAdminRoutes) {
  const std::string file = Recordings() + "/v2/events.stream";
  {
    Emit emit({"--stream", file, "--exit-after", "5"});
    Read read = ReadStream(emit.Url("/events?start_from=0"), 10s);
    EXPECT_EQ(read.frames.size(), 6u);
    EXPECT_EQ(emit.process().Wait(10s), 0);
  }
  {
    Emit emit({"--stream", file, "--keepalive", "1"});
    std::atomic<bool> done{false};
    Read live;
    std::thread reader([&] {
      live = ReadStream(emit.Url("/events"), 10s);
      done = true;
    });
    ASSERT_TRUE(WaitUntil([&] { return HttpGet(emit.Url("/metrics")).second.find("emit_connections 1") != std::string::npos; }, 5s));
    EXPECT_EQ(Post(emit.port(), "/admin/drop"), 200);
    EXPECT_TRUE(WaitUntil([&] { return done.load(); }, 5s));
    reader.join();
    EXPECT_NE(live.result.end, sse::StreamEnd::kStopped);
    EXPECT_EQ(HttpGet(emit.Url("/healthz")).first, 200);  // still serving
    EXPECT_EQ(Post(emit.port(), "/admin/shutdown"), 200);
    EXPECT_EQ(emit.process().Wait(10s), 0);
  }
  {
    Emit emit({"--stream", file});
    std::thread reader([&] { ReadStream(emit.Url("/events"), 10s); });
    std::this_thread::sleep_for(300ms);
    emit.process().Signal(SIGTERM);
    EXPECT_EQ(emit.process().Wait(10s), 0);
    reader.join();
  }
}

TEST(EmitItest, BadStartupFailsWithExitCode1) {
  const std::string dir = Recordings() + "/v1";
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"emit", "--listen", "127.0.0.1:0"},
        {"emit", "--listen", "127.0.0.1:0", "--stream", "/nonexistent.stream"},
        {"emit", "--listen", "127.0.0.1:0", "--stream", dir + "/../README.md"},
        {"emit", "--listen", "127.0.0.1:0", "--stream", dir + "/raw/casper-sidecar/usage-1.5.2-shutdown-restart.stream"},
        {"emit", "--listen", "nonsense", "--recordings", Recordings()},
        {"emit", "--listen", "127.0.0.1:0", "--stream", dir + "/main.stream", "--stream", Recordings() + "/v2/events.stream"}}) {
    const std::string log_dir = TempDir();
    Process process(args, log_dir + "/emit.log");
    EXPECT_EQ(process.Wait(10s), 1) << args.back() << "\n" << process.Log();
    EXPECT_NE(process.Log().find("\"level\":\"error\""), std::string::npos) << process.Log();
    if (!HasFailure()) std::filesystem::remove_all(log_dir);
  }
}

TEST(EmitItest, ServesGeneratedStreams) {
  const std::string dir = TempDir();
  const std::string out = dir + "/synthetic.stream";
  Process generate({"generate", "--out", out, "--events", "500", "--recordings", Recordings(), "--mix",
                    "signatures=10,era_blocks=4", "--seed", "3"},
                   dir + "/generate.log");
  ASSERT_EQ(generate.Wait(30s), 0) << generate.Log();
  EXPECT_EQ(ReadFile(out).rfind(": synthetic stream generated by casper-event-store generate from ", 0), 0u);
  Emit emit({"--stream", out});
  Read read = ReadStream(emit.Url("/events?start_from=0"), 10s, AtLeast(501));
  ExpectFrames(read, ApiVersionOf(out), EventsOf(out));

  const std::string v1 = dir + "/v1";
  Process generate_v1({"generate", "--out", v1, "--protocol", "1", "--events", "300", "--recordings", Recordings()},
                      dir + "/generate-v1.log");
  ASSERT_EQ(generate_v1.Wait(30s), 0) << generate_v1.Log();
  Emit emit_v1({"--stream", v1 + "/main.stream", "--stream", v1 + "/deploys.stream", "--stream", v1 + "/sigs.stream"});
  std::size_t total = 0;
  for (const char* name : {"main", "deploys", "sigs"}) {
    const auto expected = EventsOf(v1 + "/" + name + ".stream");
    Read r = ReadStream(emit_v1.Url(std::string("/events/") + name + "?start_from=0"), 10s, AtLeast(expected.size() + 1));
    ExpectFrames(r, ApiVersionOf(v1 + "/" + name + ".stream"), expected);
    total += expected.size();
  }
  EXPECT_EQ(total, 300u);
  if (!HasFailure()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
}

}  // namespace
}  // namespace ces::test
