#pragma once
// The fake node behind `emit`: serves recorded streams with a Casper node's wire format, replay
// buffer and time model.
//
// Time model. The node has ONE timeline of events (for 1.x the main/deploys/sigs files are filters over
// it: their ids are merged, and an id present in several files, like Shutdown, is one timeline entry).
// The head is the number of timeline entries published so far:
//   * no --rate: the whole recording is published at start-up;
//   * --rate R: entries are published at R per second from start-up;
//   * --loop without --rate: the head has no bound; every connection reads as fast as it can, and
//     "published" means the furthest entry any connection reached (at least one full cycle).
// With --loop the recording repeats: entry i of cycle c has id(i) + c * span. Shutdown events are left
// out, so a looped stream never ends, and span = last id - first id + 1 over the looped events of all
// files, so a recording ending in Shutdown loops with contiguous ids. Nothing is stored per published
// event: ids and positions are computed, so memory stays constant.
//
// A connection starts at the head (live) or, with ?start_from=N, at the first entry whose id >= N but
// never before the oldest buffered entry (head - buffer); a future N waits until such ids exist.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "ces/emit/recording.hpp"

namespace ces::http {
class Server;
class ResponseWriter;
struct Request;
}  // namespace ces::http

namespace ces::emit {

inline constexpr std::uint64_t kUnbounded = std::numeric_limits<std::uint64_t>::max();

// The merged id sequence of all streams, and each stream's events on it.
class Timeline {
 public:
  // `recordings` must outlive the timeline. With `loop`, Shutdown events are left out.
  Timeline(const std::vector<const Recording*>& recordings, bool loop);

  bool loop() const { return loop_; }
  // Entries per cycle (the whole timeline without --loop).
  std::uint64_t cycle_length() const { return ids_.size(); }
  std::uint64_t span() const { return span_; }
  // Number of entries: cycle_length(), or kUnbounded with --loop.
  std::uint64_t size() const { return loop_ ? kUnbounded : ids_.size(); }
  // Id of timeline entry `index` (< size()).
  std::uint64_t IdAt(std::uint64_t index) const;
  // Index of the first entry whose id >= id (size() if none).
  std::uint64_t FirstIndexAtOrAfter(std::uint64_t id) const;

  // A stream's read position: the next event of stream `stream` at timeline index >= some index.
  struct Cursor {
    bool valid = false;
    std::uint64_t cycle = 0;
    std::size_t entry = 0;   // index into the stream's entries
    std::uint64_t index = 0;  // timeline index of that event
  };
  Cursor Seek(std::size_t stream, std::uint64_t index) const;
  void Advance(std::size_t stream, Cursor& cursor) const;
  // The recorded event a cursor points at.
  const RecordedEvent& EventAt(std::size_t stream, const Cursor& cursor) const;
  std::uint64_t IdAt(const Cursor& cursor) const { return IdAt(cursor.index); }

 private:
  struct Entry {
    std::uint64_t position;  // timeline index within a cycle
    std::size_t event;       // index into the recording's events
  };
  bool loop_;
  std::vector<std::uint64_t> ids_;  // one cycle, increasing
  std::uint64_t min_id_ = 0;  // smallest served id (Shutdown left out when looping)
  std::uint64_t span_ = 1;
  std::vector<std::vector<Entry>> streams_;
  std::vector<const Recording*> recordings_;
};

struct NodeConfig {
  std::size_t buffer = 5000;
  double rate = 0;  // events per second; 0 = everything published at start
  bool loop = false;
  bool synthetic = false;
  std::chrono::milliseconds keepalive{15000};
  std::uint64_t drop_after = 0;  // close each connection abruptly after this many events (0 = never)
  std::uint64_t exit_after = 0;  // request exit once this many events were sent in total (0 = never)
};

struct NodeStream {
  std::string endpoint;  // "/events", "/events/main", ...
  Recording recording;
};

// The stream files of a recordings directory: DIR/v1/{main,deploys,sigs}.stream (protocol 1) or
// DIR/v2/events.stream (protocol 2).
std::vector<std::string> RecordingFiles(const std::string& recordings_dir, int protocol);
// Loads each file as the stream of its endpoint (EndpointFor) and logs what it holds. Throws
// std::invalid_argument when `files` is empty, and what Recording::Load and EndpointFor throw.
std::vector<NodeStream> LoadStreams(const std::vector<std::string>& files);

class Node {
 public:
  Node(std::vector<NodeStream> streams, NodeConfig config);
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Adds the event stream endpoints, /status, /admin/drop, /admin/shutdown and the node's 404.
  void Register(http::Server& server);
  // Called once when the node wants the process to end (--exit-after, POST /admin/shutdown).
  void SetExitHandler(std::function<void()> handler) { on_exit_ = std::move(handler); }
  // What /status reports as available_block_range (emit --rpc); unset: low 0, high 0.
  using BlockRangeFn = std::function<std::optional<std::pair<std::uint64_t, std::uint64_t>>(std::chrono::steady_clock::time_point)>;
  void SetBlockRange(BlockRangeFn range) { block_range_ = std::move(range); }
  // Restarts the clock of the time model (construction starts it).
  void ResetClock(std::chrono::steady_clock::time_point start) { start_ = start; }

  const Timeline& timeline() const { return timeline_; }
  const std::vector<NodeStream>& streams() const { return streams_; }
  const std::string& api_version() const { return api_version_; }
  std::string chainspec_name() const { return config_.synthetic ? "emit-synthetic" : "emit-recording"; }

  // Timeline entries published at `now` (see the time model above).
  std::uint64_t Published(std::chrono::steady_clock::time_point now) const;
  // Entries a connection may send at `now`: Published(), or kUnbounded for --loop without --rate.
  std::uint64_t Limit(std::chrono::steady_clock::time_point now) const;
  // Where a new connection starts (timeline index) for an optional start_from.
  std::uint64_t StartIndex(std::optional<std::uint64_t> start_from, std::chrono::steady_clock::time_point now) const;
  // Appends the wire frame of the event under `cursor` ("data:…\nid:…\n\n"). `scratch` is reused.
  void AppendFrame(std::size_t stream, const Timeline::Cursor& cursor, std::string& out, std::string& scratch) const;

  std::uint64_t events_sent() const { return events_sent_.load(); }

  // start_from from a decoded query: empty query -> nullopt; a single start_from=<u32> -> its value;
  // anything else -> false (the node answers 422).
  static bool ParseStartFrom(const std::vector<std::pair<std::string, std::string>>& query,
                             std::optional<std::uint64_t>& start_from);

 private:
  void ServeStream(std::size_t stream, const http::Request& request, http::ResponseWriter& writer);
  void ServeStatus(http::ResponseWriter& writer) const;
  void RequestExit();
  void NoteReached(std::uint64_t index);
  std::chrono::steady_clock::time_point PublishTime(std::uint64_t index) const;

  std::vector<NodeStream> streams_;
  NodeConfig config_;
  Timeline timeline_;
  std::string api_version_;
  int api_major_ = 2;
  std::chrono::steady_clock::time_point start_;
  std::chrono::system_clock::time_point started_at_;
  http::Server* server_ = nullptr;
  std::function<void()> on_exit_;
  BlockRangeFn block_range_;
  std::atomic<bool> exit_requested_{false};
  std::atomic<std::uint64_t> reached_{0};        // furthest timeline index reached (unbounded mode)
  std::atomic<std::uint64_t> exit_reserved_{0};  // events claimed towards --exit-after
  std::atomic<std::uint64_t> events_sent_{0};
  std::atomic<std::uint64_t> connections_{0};
};

// Uptime as a node prints it (humantime): "1day 2h 3m 4s 5ms".
std::string FormatUptime(std::chrono::milliseconds uptime);

}  // namespace ces::emit
