#include "ces/emit/node.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include "ces/common/log.hpp"
#include "ces/common/metrics.hpp"
#include "ces/common/time.hpp"
#include "ces/emit/synthetic.hpp"
#include "ces/http/server.hpp"

namespace ces::emit {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::size_t kBatchBytes = 64 * 1024;
constexpr auto kPollStep = std::chrono::milliseconds(50);
constexpr auto kMinSleep = std::chrono::milliseconds(1);

// The casper node's own answers (sse_server.rs).
constexpr std::string_view kInvalidQuery = "invalid query: expected single field 'start_from=<EVENT ID>'";
constexpr std::string_view kInvalidPathV1 =
    "invalid path: expected '/events/main', '/events/deploys' or '/events/sigs'";
constexpr std::string_view kInvalidPathV2 = "invalid path: expected '/events'";
constexpr std::string_view kTextPlain = "text/plain; charset=utf-8";

std::vector<const Recording*> RecordingsOf(const std::vector<NodeStream>& streams) {
  if (streams.empty()) throw std::invalid_argument("no stream to serve");
  std::vector<const Recording*> out;
  out.reserve(streams.size());
  for (const NodeStream& s : streams) out.push_back(&s.recording);
  return out;
}

void AppendUnsigned(std::string& out, std::uint64_t value) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  (void)ec;
  out.append(buf, static_cast<std::size_t>(end - buf));
}

metrics::Counter& EventsSentCounter() {
  static metrics::Counter& counter =
      metrics::Default().GetCounter("emit_events_sent_total", "Events sent to clients, over all connections");
  return counter;
}

metrics::Gauge& ConnectionsGauge() {
  static metrics::Gauge& gauge = metrics::Default().GetGauge("emit_connections", "Open event stream connections");
  return gauge;
}

metrics::Counter& ConnectionsCounter() {
  static metrics::Counter& counter =
      metrics::Default().GetCounter("emit_connections_total", "Event stream connections accepted");
  return counter;
}

}  // namespace

// ---------------------------------------------------------------------------------------------- Timeline

Timeline::Timeline(const std::vector<const Recording*>& recordings, bool loop)
    : loop_(loop), recordings_(recordings) {
  std::uint64_t min_id = kUnbounded;
  std::uint64_t max_id = 0;
  for (const Recording* recording : recordings) {
    for (const RecordedEvent& event : recording->events()) {
      if (loop && event.shutdown) continue;
      // The span covers the looped events only, so a Shutdown at the end of the recording leaves no
      // hole in the ids of the following cycles (a 2.x node's ids are contiguous).
      min_id = std::min(min_id, event.id);
      max_id = std::max(max_id, event.id);
      ids_.push_back(event.id);
    }
  }
  std::sort(ids_.begin(), ids_.end());
  ids_.erase(std::unique(ids_.begin(), ids_.end()), ids_.end());
  if (ids_.empty()) throw std::invalid_argument("nothing to serve: the recordings hold only Shutdown events");
  min_id_ = min_id;
  span_ = max_id - min_id + 1;
  streams_.resize(recordings.size());
  for (std::size_t s = 0; s < recordings.size(); ++s) {
    const auto& events = recordings[s]->events();
    for (std::size_t e = 0; e < events.size(); ++e) {
      if (loop && events[e].shutdown) continue;
      auto position = static_cast<std::uint64_t>(std::lower_bound(ids_.begin(), ids_.end(), events[e].id) - ids_.begin());
      streams_[s].push_back({position, e});
    }
  }
}

std::uint64_t Timeline::IdAt(std::uint64_t index) const {
  const std::uint64_t m = ids_.size();
  if (!loop_) return ids_[index];
  return ids_[index % m] + (index / m) * span_;
}

std::uint64_t Timeline::FirstIndexAtOrAfter(std::uint64_t id) const {
  const std::uint64_t m = ids_.size();
  auto lower = [&](std::uint64_t value) {
    return static_cast<std::uint64_t>(std::lower_bound(ids_.begin(), ids_.end(), value) - ids_.begin());
  };
  if (!loop_) return lower(id);
  if (id <= ids_.front()) return 0;
  // Cycle c holds the ids [min_id + c*span, min_id + (c+1)*span).
  std::uint64_t cycle = (id - min_id_) / span_;
  std::uint64_t k = lower(id - cycle * span_);
  if (k == m) {
    ++cycle;
    k = 0;
  }
  if (cycle > (kUnbounded - 1 - k) / m) return kUnbounded - 1;
  return cycle * m + k;
}

Timeline::Cursor Timeline::Seek(std::size_t stream, std::uint64_t index) const {
  Cursor cursor;
  const auto& entries = streams_[stream];
  const std::uint64_t m = ids_.size();
  if (entries.empty()) return cursor;
  std::uint64_t cycle = 0;
  std::uint64_t within = index;
  if (loop_) {
    cycle = index / m;
    within = index % m;
  } else if (index >= m) {
    return cursor;
  }
  auto it = std::lower_bound(entries.begin(), entries.end(), within,
                             [](const Entry& e, std::uint64_t position) { return e.position < position; });
  if (it == entries.end()) {
    if (!loop_) return cursor;
    ++cycle;
    it = entries.begin();
  }
  cursor.valid = true;
  cursor.cycle = cycle;
  cursor.entry = static_cast<std::size_t>(it - entries.begin());
  cursor.index = cycle * m + it->position;
  return cursor;
}

void Timeline::Advance(std::size_t stream, Cursor& cursor) const {
  const auto& entries = streams_[stream];
  if (++cursor.entry == entries.size()) {
    if (!loop_) {
      cursor.valid = false;
      return;
    }
    cursor.entry = 0;
    ++cursor.cycle;
  }
  cursor.index = cursor.cycle * ids_.size() + entries[cursor.entry].position;
}

const RecordedEvent& Timeline::EventAt(std::size_t stream, const Cursor& cursor) const {
  return recordings_[stream]->events()[streams_[stream][cursor.entry].event];
}

// ------------------------------------------------------------------------------------------------- Node

Node::Node(std::vector<NodeStream> streams, NodeConfig config)
    : streams_(std::move(streams)), config_(config), timeline_(RecordingsOf(streams_), config.loop),
      start_(SteadyClock::now()), started_at_(std::chrono::system_clock::now()) {
  std::set<std::string> endpoints;
  api_version_ = streams_.front().recording.api_version();
  api_major_ = streams_.front().recording.api_major();
  for (const NodeStream& s : streams_) {
    if (!endpoints.insert(s.endpoint).second) {
      throw std::invalid_argument("two streams for endpoint " + s.endpoint + " (" + s.recording.name() + ")");
    }
    if (s.recording.api_major() != api_major_) {
      throw std::invalid_argument("streams of different protocol versions: " + streams_.front().recording.name() +
                                  " has ApiVersion " + api_version_ + ", " + s.recording.name() + " has " +
                                  s.recording.api_version());
    }
  }
  if (config_.rate < 0 || !std::isfinite(config_.rate)) throw std::invalid_argument("--rate must be >= 0");
  if (config_.keepalive.count() <= 0) throw std::invalid_argument("--keepalive must be > 0");
}

std::uint64_t Node::Published(SteadyClock::time_point now) const {
  const std::uint64_t m = timeline_.cycle_length();
  if (config_.rate > 0) {
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double n = std::floor(std::max(0.0, elapsed) * config_.rate);
    const std::uint64_t published = n >= 1.8e19 ? kUnbounded - 1 : static_cast<std::uint64_t>(n);
    return timeline_.loop() ? published : std::min(published, m);
  }
  if (!timeline_.loop()) return m;
  return std::max(m, reached_.load());
}

std::uint64_t Node::Limit(SteadyClock::time_point now) const {
  if (timeline_.loop() && config_.rate <= 0) return kUnbounded;
  return Published(now);
}

std::uint64_t Node::StartIndex(std::optional<std::uint64_t> start_from, SteadyClock::time_point now) const {
  const std::uint64_t published = Published(now);
  if (!start_from) return published;
  const std::uint64_t oldest = published > config_.buffer ? published - config_.buffer : 0;
  return std::max(timeline_.FirstIndexAtOrAfter(*start_from), oldest);
}

SteadyClock::time_point Node::PublishTime(std::uint64_t index) const {
  // Entry `index` is published once floor(elapsed * rate) > index.
  const double seconds = (static_cast<double>(index) + 1.0) / config_.rate;
  return start_ + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(seconds));
}

void Node::NoteReached(std::uint64_t index) {
  std::uint64_t current = reached_.load();
  while (index > current && !reached_.compare_exchange_weak(current, index)) {
  }
}

void Node::AppendFrame(std::size_t stream, const Timeline::Cursor& cursor, std::string& out,
                       std::string& scratch) const {
  const RecordedEvent& event = timeline_.EventAt(stream, cursor);
  std::string_view payload = streams_[stream].recording.Payload(event);
  if (config_.synthetic && cursor.cycle > 0) {
    RewriteHashValues(payload, cursor.cycle, scratch);
    payload = scratch;
  }
  if (event.joined) {  // several data lines: one `data:` field per line, as recorded
    std::size_t start = 0;
    while (true) {
      std::size_t nl = payload.find('\n', start);
      out += "data:";
      out.append(payload.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
      out += '\n';
      if (nl == std::string_view::npos) break;
      start = nl + 1;
    }
  } else {
    out += "data:";
    out.append(payload);
    out += '\n';
  }
  out += "id:";
  AppendUnsigned(out, timeline_.IdAt(cursor));
  out += "\n\n";
}

bool Node::ParseStartFrom(const std::vector<std::pair<std::string, std::string>>& query,
                          std::optional<std::uint64_t>& start_from) {
  start_from.reset();
  if (query.empty()) return true;
  if (query.size() != 1 || query.front().first != "start_from") return false;
  std::string_view text = query.front().second;
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);  // Rust's u32::from_str accepts a '+'
  std::uint32_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return false;
  start_from = value;
  return true;
}

void Node::RequestExit() {
  if (exit_requested_.exchange(true)) return;
  log::Info("exit requested", {{"events_sent", events_sent_.load()}});
  if (on_exit_) on_exit_();
}

void Node::ServeStream(std::size_t stream, const http::Request& request, http::ResponseWriter& writer) {
  std::optional<std::uint64_t> start_from;
  if (!ParseStartFrom(request.query, start_from)) {
    writer.Send(422, kTextPlain, kInvalidQuery);
    return;
  }
  const NodeStream& node_stream = streams_[stream];
  const auto connected = SteadyClock::now();
  const std::uint64_t start_index = StartIndex(start_from, connected);
  if (!writer.StartStream(200, "text/event-stream", {{"Cache-Control", "no-cache"}})) return;

  ConnectionsCounter().Inc();
  ConnectionsGauge().Add(1);
  connections_.fetch_add(1);
  std::uint64_t sent = 0;
  const char* reason = "client gone";
  log::Info("client connected", {{"endpoint", node_stream.endpoint},
                                 {"start_from", start_from ? std::to_string(*start_from) : std::string("none")},
                                 {"start_index", start_index}});

  std::string batch;
  std::string scratch;
  batch.reserve(kBatchBytes * 2);
  batch += "data:";
  batch.append(node_stream.recording.api_version_payload());
  batch += "\n\n";
  bool ok = writer.WriteChunk(batch);
  auto last_write = SteadyClock::now();
  Timeline::Cursor cursor = timeline_.Seek(stream, start_index);
  const bool unbounded = Limit(connected) == kUnbounded;

  auto flush = [&]() {
    if (batch.empty()) return true;
    bool written = writer.WriteChunk(batch);
    batch.clear();
    last_write = SteadyClock::now();
    return written;
  };

  while (ok && !writer.Cancelled()) {
    const std::uint64_t limit = Limit(SteadyClock::now());
    bool finished = false;
    batch.clear();
    while (cursor.valid && cursor.index < limit) {
      bool last_allowed = false;
      if (config_.exit_after > 0) {
        const std::uint64_t slot = exit_reserved_.fetch_add(1);
        if (slot >= config_.exit_after) {
          reason = "exit-after reached";
          finished = true;
          break;
        }
        last_allowed = slot + 1 == config_.exit_after;
      }
      const bool shutdown_event = timeline_.EventAt(stream, cursor).shutdown;
      AppendFrame(stream, cursor, batch, scratch);
      ++sent;
      events_sent_.fetch_add(1);
      EventsSentCounter().Inc();
      timeline_.Advance(stream, cursor);
      if (unbounded && cursor.valid) NoteReached(cursor.index);
      if (last_allowed) {
        flush();
        reason = "exit-after reached";
        RequestExit();
        finished = true;
        break;
      }
      if (shutdown_event) {
        reason = "Shutdown sent";
        finished = true;
        break;
      }
      if (config_.drop_after > 0 && sent >= config_.drop_after) {
        flush();
        log::Info("dropping connection", {{"endpoint", node_stream.endpoint}, {"events", sent}});
        writer.Abort();
        reason = "drop-after reached";
        finished = true;
        break;
      }
      if (batch.size() >= kBatchBytes) {
        if (!flush() || writer.Cancelled()) {
          ok = false;
          break;
        }
      }
    }
    if (!flush()) ok = false;
    if (finished || !ok) break;

    // Idle: wait for the next publication, sending keep-alive comments.
    const auto now = SteadyClock::now();
    const auto keepalive_at = last_write + config_.keepalive;
    if (now >= keepalive_at) {
      ok = writer.WriteChunk(":\n\n");
      last_write = SteadyClock::now();
      continue;
    }
    auto wake = keepalive_at;
    if (cursor.valid && config_.rate > 0) wake = std::min(wake, PublishTime(cursor.index));
    if (cursor.valid && unbounded) continue;
    auto sleep = std::clamp<SteadyClock::duration>(wake - now, kMinSleep, kPollStep);
    std::this_thread::sleep_for(sleep);
  }

  if (writer.Cancelled() && reason == std::string_view("client gone")) reason = "dropped or stopping";
  connections_.fetch_sub(1);
  ConnectionsGauge().Add(-1);
  log::Info("client disconnected", {{"endpoint", node_stream.endpoint}, {"events", sent}, {"reason", reason}});
}

std::string FormatUptime(std::chrono::milliseconds uptime) {
  std::uint64_t ms = uptime.count() < 0 ? 0 : static_cast<std::uint64_t>(uptime.count());
  const std::uint64_t days = ms / 86'400'000;
  ms %= 86'400'000;
  const std::uint64_t hours = ms / 3'600'000;
  ms %= 3'600'000;
  const std::uint64_t minutes = ms / 60'000;
  ms %= 60'000;
  const std::uint64_t seconds = ms / 1000;
  ms %= 1000;
  std::string out;
  auto part = [&](std::uint64_t value, const char* unit) {
    if (value == 0) return;
    if (!out.empty()) out += ' ';
    out += std::to_string(value);
    out += unit;
  };
  part(days, days == 1 ? "day" : "days");
  part(hours, "h");
  part(minutes, "m");
  part(seconds, "s");
  part(ms, "ms");
  return out.empty() ? "0s" : out;
}

void Node::ServeStatus(http::ResponseWriter& writer) const {
  const auto now = SteadyClock::now();
  nlohmann::ordered_json endpoints = nlohmann::ordered_json::array();
  for (const NodeStream& s : streams_) {
    endpoints.push_back({{"path", s.endpoint},
                         {"file", s.recording.name()},
                         {"events", s.recording.events().size()},
                         {"first_id", s.recording.events().front().id},
                         {"last_id", s.recording.events().back().id}});
  }
  nlohmann::ordered_json range = {{"low", 0}, {"high", 0}};
  if (block_range_) {
    if (auto r = block_range_(now)) range = {{"low", r->first}, {"high", r->second}};
  }
  nlohmann::ordered_json status = {
      {"api_version", api_version_},
      {"peers", nlohmann::ordered_json::array()},
      {"build_version", api_version_ + "-emit"},
      {"chainspec_name", chainspec_name()},
      {"starting_state_root_hash", std::string(64, '0')},
      {"last_added_block_info", nullptr},
      {"our_public_signing_key", nullptr},
      {"round_length", nullptr},
      {"next_upgrade", nullptr},
      {"uptime", FormatUptime(std::chrono::duration_cast<std::chrono::milliseconds>(now - start_))},
      {"reactor_state", "Validate"},
      {"last_progress", time::FormatRfc3339(started_at_)},
      {"available_block_range", range},
      {"block_sync", {{"historical", nullptr}, {"forward", nullptr}}},
      {"emit",
       {{"endpoints", endpoints},
        {"published", Published(now)},
        {"events_sent", events_sent_.load()},
        {"connections", connections_.load()},
        {"loop", config_.loop},
        {"synthetic", config_.synthetic},
        {"rate", config_.rate},
        {"buffer", config_.buffer}}}};
  writer.Send(200, "application/json", status.dump());
}

std::vector<std::string> RecordingFiles(const std::string& recordings_dir, int protocol) {
  const std::filesystem::path dir(recordings_dir);
  std::vector<std::string> files;
  if (protocol == 1) {
    for (const char* name : {"main", "deploys", "sigs"}) files.push_back((dir / "v1" / (std::string(name) + ".stream")).string());
  } else {
    files.push_back((dir / "v2" / "events.stream").string());
  }
  return files;
}

std::vector<NodeStream> LoadStreams(const std::vector<std::string>& files) {
  if (files.empty()) throw std::invalid_argument("nothing to serve: give --stream FILE (repeatable) or --recordings DIR");
  std::vector<NodeStream> streams;
  for (const std::string& path : files) {
    Recording recording = Recording::Load(path);
    std::string endpoint = EndpointFor(recording, path);
    log::Info("stream loaded", {{"file", path},
                                {"endpoint", endpoint},
                                {"api_version", recording.api_version()},
                                {"events", static_cast<std::uint64_t>(recording.events().size())},
                                {"first_id", recording.events().front().id},
                                {"last_id", recording.events().back().id},
                                {"skipped_frames", static_cast<std::uint64_t>(recording.skipped_frames())}});
    streams.push_back({std::move(endpoint), std::move(recording)});
  }
  return streams;
}

void Node::Register(http::Server& server) {
  server_ = &server;
  for (std::size_t i = 0; i < streams_.size(); ++i) {
    server.Route("GET", streams_[i].endpoint,
                 [this, i](const http::Request& request, http::ResponseWriter& writer) { ServeStream(i, request, writer); });
  }
  server.Route("GET", "/status", [this](const http::Request&, http::ResponseWriter& writer) { ServeStatus(writer); });
  server.Route("POST", "/admin/drop", [this](const http::Request&, http::ResponseWriter& writer) {
    const std::uint64_t streams = connections_.load();
    log::Info("dropping all connections", {{"streams", streams}});
    writer.Send(200, kTextPlain, "dropping " + std::to_string(streams) + " stream connection(s)\n");
    server_->DropConnections();
  });
  server.Route("POST", "/admin/shutdown", [this](const http::Request&, http::ResponseWriter& writer) {
    writer.Send(200, kTextPlain, "shutting down\n");
    RequestExit();
  });
  const std::string_view not_found = api_major_ == 1 ? kInvalidPathV1 : kInvalidPathV2;
  server.SetNotFound([not_found](const http::Request&, http::ResponseWriter& writer) {
    writer.Send(404, kTextPlain, not_found);
  });
}

}  // namespace ces::emit
