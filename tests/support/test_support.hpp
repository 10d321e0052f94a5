#pragma once
// Shared helpers for tests that run the real binary against real servers started by scripts/stack.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ces::test {

// Path helpers.
std::string SourceDir();
std::string BinaryPath();
std::string RecordingsDir();  // $CES_RECORDINGS, else what scripts/recordings-dir found at configure time
std::string TempDir();        // a fresh directory under the build tree or /tmp

// Environment of the running stack (scripts/stack env). Fails the test (not skips) when missing.
std::string RequireEnv(const char* name);

// MONGO_URI with its database replaced by `database` (keeps hosts and query parameters).
std::string MongoDatabaseUri(const std::string& database);

// Percent-encoding of everything but RFC 3986 unreserved characters (for query values).
std::string UrlEncode(const std::string& text);

// A free TCP port on 127.0.0.1 (bound and released).
std::uint16_t FreePort();

// A topic prefix unique to this process and call, e.g. "t12345-3-".
std::string UniquePrefix();

// A child process running the binary; stdout+stderr go to a log file. Killed (SIGKILL) on destruction.
class Process {
 public:
  Process(std::vector<std::string> args, std::string log_path);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool Running();
  void Signal(int sig);
  // Waits for exit; returns the exit status (or 128+signal), nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  void Kill9();
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  std::string log_path_;
  std::optional<int> status_;
};

// Polls `condition` every 50 ms until it is true or `timeout` passes.
bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

// HTTP GET on 127.0.0.1; status and body, or status 0 when the connection fails.
std::pair<long, std::string> HttpGet(const std::string& url);

// One event of a recording, as parsed from the file.
struct RecordedEvent {
  std::optional<std::uint32_t> id;
  std::string data;
};
std::vector<RecordedEvent> ReadRecording(const std::string& path);

// A bare-bones node for input no well-behaved server sends: GET /events answers 200 text/event-stream
// with `body` verbatim (on every connection), then holds the connection open; other paths get 404.
class RawNode {
 public:
  explicit RawNode(std::string body);
  ~RawNode();
  RawNode(const RawNode&) = delete;
  RawNode& operator=(const RawNode&) = delete;
  std::string url() const;
  int connections() const;

 private:
  struct Impl;
  Impl* impl_;
};

// Runs scripts/stack with arguments (e.g. {"kill", "kafka-2"}); returns its exit status.
int Stack(const std::vector<std::string>& args);
// The same, returning what it printed on stdout (empty when it failed).
std::string StackOutput(const std::vector<std::string>& args);
// Runs a shell command; its stdout and stderr into `output`; returns its exit status (-1: did not run).
int RunShell(const std::string& command, std::string& output);

std::string ReadFile(const std::string& path);
// A recorded event file (a path under RecordingsDir()) without its trailing line break; fails the
// test when it cannot be read.
std::string RecordedPayload(const std::string& relative);
void WriteFile(const std::string& path, const std::string& content);

}  // namespace ces::test
