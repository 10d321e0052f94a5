#include "ces/ingest/ingestor.hpp"

#include <algorithm>
#include <charconv>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "ces/casper/event.hpp"
#include "ces/common/backoff.hpp"
#include "ces/common/log.hpp"
#include "ces/common/metrics.hpp"
#include "ces/common/time.hpp"
#include "ces/ingest/record.hpp"
#include "ces/ingest/tracker.hpp"
#include "ces/kafka/topics.hpp"

namespace ces::ingest {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

enum class Protocol { k1x, k2x };

// Largest slice of an oversized frame kept in its dead-letter record.
constexpr std::size_t kDeadLetterPrefixBytes = 1024 * 1024;

std::string PositionKey(std::string_view node, std::string_view stream) { return RecordKey(node, stream); }

// Position records carry the height of the last block read on the stream (where a later gap starts).
constexpr std::string_view kBlockHeightHeader = "block-height";

std::optional<std::uint64_t> ParseHeight(std::string_view text) {
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

// The block height of a BlockAdded payload: the first "height" member, which is the header's in both
// generations (the header precedes the body; nothing before it in the header is named height).
std::optional<std::uint64_t> BlockHeight(std::string_view payload) {
  static constexpr std::string_view kKey = "\"height\":";
  const auto at = payload.find(kKey);
  if (at == std::string_view::npos) return std::nullopt;
  std::size_t end = at + kKey.size();
  while (end < payload.size() && payload[end] >= '0' && payload[end] <= '9') ++end;
  return ParseHeight(payload.substr(at + kKey.size(), end - at - kKey.size()));
}

struct Metrics {
  metrics::Registry& r = metrics::Default();
  metrics::Counter& Events(const std::string& node, std::string_view topic) {
    return r.GetCounter("ces_produce_events_total", "Events acknowledged by Kafka, per node and topic",
                        {{"node", node}, {"topic", std::string(topic)}});
  }
  metrics::Counter& Bytes(const std::string& node) {
    return r.GetCounter("ces_produce_bytes_total", "Payload bytes acknowledged by Kafka", {{"node", node}});
  }
  metrics::Counter& DeadLetters(const std::string& node, std::string_view kind) {
    return r.GetCounter("ces_produce_dead_letters_total", "Frames or payloads sent to the dead-letter topic",
                        {{"node", node}, {"kind", std::string(kind)}});
  }
  metrics::Counter& Gaps(const std::string& node) {
    return r.GetCounter("ces_produce_gaps_total", "Resumptions where the node no longer had the next event",
                        {{"node", node}});
  }
  metrics::Counter& GapEvents(const std::string& node) {
    return r.GetCounter("ces_produce_gap_events_total", "Event ids missing because of gaps", {{"node", node}});
  }
  metrics::Counter& DeliveryErrors(const std::string& node) {
    return r.GetCounter("ces_produce_delivery_errors_total", "Records Kafka did not acknowledge", {{"node", node}});
  }
  metrics::Counter& Connections(const std::string& node, const std::string& stream, std::string_view end) {
    return r.GetCounter("ces_produce_connection_ends_total", "Node stream connections ended, by cause",
                        {{"node", node}, {"stream", stream}, {"end", std::string(end)}});
  }
  metrics::Gauge& Connected(const std::string& node, const std::string& stream) {
    return r.GetGauge("ces_produce_connected", "1 while the node stream is connected",
                      {{"node", node}, {"stream", stream}});
  }
  metrics::Gauge& Position(const std::string& node, const std::string& stream) {
    return r.GetGauge("ces_produce_position", "Last event id acknowledged by Kafka, per node stream",
                      {{"node", node}, {"stream", stream}});
  }
  metrics::Histogram& AckLatency() {
    return r.GetHistogram("ces_produce_ack_latency_seconds", "Time from receiving an event to its Kafka ack", {},
                          metrics::LatencyBuckets());
  }
};

}  // namespace

struct Ingestor::Impl {
  explicit Impl(IngestOptions opts) : options(std::move(opts)) {
    for (auto& node : options.nodes) node = NormalizeNodeUrl(node);
  }

  IngestOptions options;
  std::unique_ptr<kafka::Producer> producer;
  Metrics m;

  // Stop handling.
  std::atomic<bool> stopping{false};
  std::mutex stop_mutex;
  std::condition_variable stop_cv;
  bool SleepUnlessStopping(milliseconds d) {
    std::unique_lock lock(stop_mutex);
    return !stop_cv.wait_for(lock, d, [&] { return stopping.load(); });
  }

  // Positions: loaded from Kafka, then owned by the trackers.
  std::mutex trackers_mutex;
  std::map<std::string, std::uint32_t> loaded_positions;
  std::map<std::string, std::unique_ptr<StreamTracker>> trackers;  // key: "<node> <stream>"
  std::map<std::string, std::uint32_t> published;                    // last position written to Kafka
  std::map<std::string, std::uint32_t> publishing;                   // written, not yet acknowledged

  StreamTracker& Tracker(const std::string& node, const std::string& stream) {
    std::lock_guard lock(trackers_mutex);
    const std::string key = PositionKey(node, stream);
    auto& slot = trackers[key];
    if (!slot) {
      auto it = loaded_positions.find(key);
      std::optional<std::uint32_t> initial;
      if (it != loaded_positions.end()) initial = it->second;
      slot = std::make_unique<StreamTracker>(initial);
    }
    return *slot;
  }

  std::thread poller;
  std::thread position_writer;
  std::atomic<bool> poller_stop{false};
  std::vector<std::thread> supervisors;
  std::atomic<bool> started{false};

  std::string Topic(std::string_view name) const { return kafka::TopicName(options.topic_prefix, name); }

  void EnsureTopics() {
    kafka::EnsureTopics(options.brokers, options.producer_settings,
                        TopicSpecs({options.topic_prefix, options.partitions, options.replication_factor,
                                    options.min_insync_replicas}));
  }

  void LoadPositions() {
    auto records = kafka::ReadAll(options.brokers, options.producer_settings, Topic(kPositionsTopic));
    for (const auto& rec : records) {
      if (!rec.key) continue;
      const std::string* id = rec.HeaderValue(header::kEventId);
      if (!id) continue;
      if (auto parsed = ParseEventId(*id)) loaded_positions[*rec.key] = *parsed;
      if (const std::string* height = rec.HeaderValue(kBlockHeightHeader)) {
        if (auto parsed = ParseHeight(*height)) last_height[*rec.key] = loaded_height[*rec.key] = *parsed;
      }
    }
    published = loaded_positions;
    for (const auto& [key, id] : loaded_positions) {
      log::Info("resume position loaded", {{"stream", key}, {"event_id", static_cast<std::uint64_t>(id)}});
    }
  }

  // Writes changed positions to the compacted topic. Value: a small JSON document; the id is also a header.
  void PublishPositions() {
    std::vector<std::pair<std::string, std::uint32_t>> changed;
    {
      std::lock_guard lock(trackers_mutex);
      for (const auto& [key, tracker] : trackers) {
        auto acked = tracker->Acked();
        if (!acked) continue;
        auto pub = published.find(key);
        auto inflight = publishing.find(key);
        if (pub != published.end() && pub->second == *acked) continue;
        if (inflight != publishing.end() && inflight->second == *acked) continue;
        publishing[key] = *acked;
        changed.emplace_back(key, *acked);
      }
    }
    for (const auto& [key, id] : changed) {
      const auto space = key.rfind(' ');
      const std::string node = key.substr(0, space);
      const std::string stream = key.substr(space + 1);
      std::string value = "{\"source\":\"";
      log::AppendJsonEscaped(value, node);
      value += "\",\"stream\":\"" + stream + "\",\"event_id\":" + std::to_string(id);
      std::vector<kafka::Header> headers = {{std::string(header::kEventId), std::to_string(id)}};
      if (const auto height = PositionHeight(node, stream, id)) {
        value += ",\"block_height\":" + std::to_string(*height);
        headers.push_back({std::string(kBlockHeightHeader), std::to_string(*height)});
      }
      value += ",\"updated_at\":\"" + time::FormatRfc3339(time::Now()) + "\"}";
      m.Position(node, stream).Set(id);
      // Init-captures: clang before 16 cannot capture structured bindings (the fuzz build uses clang 14).
      producer->Produce(Topic(kPositionsTopic), key, value, headers, [this, key = key, id = id](const kafka::DeliveryReport& r) {
        std::lock_guard lock(trackers_mutex);
        if (publishing[key] == id) publishing.erase(key);
        if (r.ok) {
          published[key] = id;
        } else {
          log::Warn("position write failed, will retry", {{"stream", key}, {"error", r.error}});
        }
      });
    }
  }

  void ProduceDeadLetter(const std::string& node, const std::string& stream, StreamTracker* tracker,
                         std::optional<std::uint32_t> event_id, std::string_view raw, std::string_view reason,
                         std::string_view kind, const std::string& api_version) {
    EventMeta meta{node, stream, event_id, api_version, "", time::FormatRfc3339(time::Now())};
    auto headers = RecordHeaders(meta);
    headers.push_back({std::string(header::kReason), std::string(reason)});
    m.DeadLetters(node, kind).Inc();
    log::Warn("event sent to dead-letter topic",
              {{"node", node}, {"stream", stream}, {"reason", reason},
               {"event_id", event_id ? std::to_string(*event_id) : std::string()}, {"bytes", raw.size()}});
    std::uint64_t seq = tracker ? tracker->Begin(event_id) : 0;
    producer->Produce(
        Topic(kDeadLetterTopic), RecordKey(node, stream), raw, headers,
        [tracker, seq, node, this](const kafka::DeliveryReport& r) {
          if (!tracker) return;
          if (r.ok) {
            tracker->Ack(seq);
          } else {
            m.DeliveryErrors(node).Inc();
            tracker->Fail(seq, r.error);
          }
        },
        [this] { return stopping.load(); });
  }

  std::map<std::string, std::uint32_t> gap_reported_to;  // per stream, guarded by trackers_mutex
  // Height of the last BlockAdded read per stream (loaded with the positions, written with them):
  // where a gap's height range starts. Guarded by trackers_mutex.
  std::map<std::string, std::uint64_t> last_height;
  std::map<std::string, std::uint64_t> loaded_height;  // last_height as loaded with the positions

  std::optional<std::uint64_t> LastHeight(const std::string& node, const std::string& stream) {
    std::lock_guard lock(trackers_mutex);
    auto it = last_height.find(PositionKey(node, stream));
    if (it == last_height.end()) return std::nullopt;
    return it->second;
  }
  void NoteHeight(const std::string& node, const std::string& stream, std::uint64_t height,
                  std::optional<std::uint32_t> id) {
    std::lock_guard lock(trackers_mutex);
    auto& h = last_height[PositionKey(node, stream)];
    h = std::max(h, height);
    block_streams.insert(PositionKey(node, stream));
    if (!id) return;
    auto& blocks = block_ids[node];
    blocks.emplace_back(*id, height);
    if (blocks.size() > kBlockIdsKept) blocks.pop_front();
  }

  // The block height written with a stream's position: the last BlockAdded read on it, or, for a 1.x
  // deploys or sigs stream (no blocks of its own), the last block main announced up to its position id;
  // else the one loaded with its position. A later gap on that stream starts there: main's own height can
  // be far ahead of a lagging sigs stream.
  std::optional<std::uint64_t> PositionHeight(const std::string& node, const std::string& stream,
                                              std::uint32_t id) {
    const std::string key = PositionKey(node, stream);
    std::lock_guard lock(trackers_mutex);
    if (block_streams.contains(key)) return last_height[key];
    std::optional<std::uint64_t> height;
    if (auto it = loaded_height.find(key); it != loaded_height.end()) height = it->second;
    for (const auto& [block_id, block_height] : block_ids[node]) {
      if (block_id <= id && (!height || block_height > *height)) height = block_height;
    }
    if (height) loaded_height[key] = *height;  // positions only move forward
    return height;
  }
  std::set<std::string> block_streams;  // the streams a BlockAdded was read on (guarded by trackers_mutex)

  // 1.x: the heights whose events may be among the missing ids from_id..to_id of a deploys or sigs
  // stream: from the last block announced before from_id (its signatures and deploys follow it) to the
  // last block announced up to to_id (none when main has not read that far: up to the node's tip).
  std::pair<std::optional<std::uint64_t>, std::optional<std::uint64_t>> HeightsAround(const std::string& node,
                                                                                      const std::string& stream,
                                                                                      std::uint32_t from_id,
                                                                                      std::uint32_t to_id) {
    std::lock_guard lock(trackers_mutex);
    std::optional<std::uint64_t> from;
    std::optional<std::uint64_t> to;
    const auto& blocks = block_ids[node];
    for (const auto& [id, height] : blocks) {
      if (id < from_id) from = height;
      if (id <= to_id) to = height;
    }
    if (blocks.empty() || blocks.back().first <= to_id) to.reset();  // main has not read past the gap
    if (!from) {
      // No block of this process before the gap: the height written with this stream's position before
      // the restart; positions of older versions have none, then main's (which may be ahead of a lagging
      // stream); else unknown (backfill then starts at the node's lowest block).
      auto it = loaded_height.find(PositionKey(node, stream));
      if (it == loaded_height.end()) it = loaded_height.find(PositionKey(node, "main"));
      if (it != loaded_height.end()) from = it->second;
    }
    // Finality signatures (and processed deploys) of a block can come after the BlockAdded of later
    // blocks: a lost one may belong to a block a few heights before the last one read before the gap.
    if (from) from = *from > kLateEventHeights ? *from - kLateEventHeights : 0;
    if (from && to && *to < *from) to = from;
    return {from, to};
  }
  // How many heights before the gap a lost signature or deploy event may belong to (extra heights only
  // cost backfill a few RPC calls; they are idempotent).
  static constexpr std::uint64_t kLateEventHeights = 10;
  // Per node, the ids and heights of the last BlockAdded events read on 1.x main.
  static constexpr std::size_t kBlockIdsKept = 10000;
  std::map<std::string, std::deque<std::pair<std::uint32_t, std::uint64_t>>> block_ids;

  // A gap record: the missing event ids and, when known, the block heights they belong between
  // (from_height: the last block read before the gap; to_height: the first after it, 1.x). Backfill fills
  // the heights from_height..to_height (to_height absent: up to the node's highest block).
  void ProduceGap(const std::string& node, const std::string& stream, std::uint32_t from, std::uint32_t to,
                  const std::string& api_version, std::optional<std::uint64_t> from_height = std::nullopt,
                  std::optional<std::uint64_t> to_height = std::nullopt) {
    {
      // A reconnect before the previous connection's records were acknowledged can ask for the same
      // missing range again: report each missing id once per process.
      std::lock_guard lock(trackers_mutex);
      auto [it, inserted] = gap_reported_to.try_emplace(PositionKey(node, stream), to);
      if (!inserted) {
        if (it->second >= to) return;
        from = std::max(from, it->second + 1);
        it->second = to;
      }
    }
    m.Gaps(node).Inc();
    m.GapEvents(node).Inc(static_cast<std::uint64_t>(to) - from + 1);
    log::Warn("gap: the node no longer holds these events",
              {{"node", node}, {"stream", stream}, {"from_id", static_cast<std::uint64_t>(from)},
               {"to_id", static_cast<std::uint64_t>(to)}});
    std::string value = "{\"source\":\"";
    log::AppendJsonEscaped(value, node);
    value += "\",\"stream\":\"" + stream + "\",\"from_id\":" + std::to_string(from) + ",\"to_id\":" +
             std::to_string(to);
    if (from_height) value += ",\"from_height\":" + std::to_string(*from_height);
    if (to_height) value += ",\"to_height\":" + std::to_string(*to_height);
    value += ",\"detected_at\":\"" + time::FormatRfc3339(time::Now()) + "\"}";
    EventMeta meta{node, stream, std::nullopt, api_version, "Gap", time::FormatRfc3339(time::Now())};
    producer->Produce(Topic(kGapsTopic), RecordKey(node, stream), value, RecordHeaders(meta),
                      [node, this](const kafka::DeliveryReport& r) {
                        if (!r.ok) {
                          m.DeliveryErrors(node).Inc();
                          log::Error("gap record not written", {{"node", node}, {"error", r.error}});
                        }
                      });
  }

  // One SSE connection's event handling.
  class Connection : public sse::Handler {
   public:
    Connection(Impl& impl, std::string node, std::string stream, Protocol protocol, StreamTracker& tracker,
               std::optional<std::uint32_t> requested)
        : impl_(impl), node_(std::move(node)), stream_(std::move(stream)), protocol_(protocol), tracker_(tracker),
          requested_(requested) {}

    void OnEvent(const sse::Event& event) override {
      if (impl_.stopping) return;
      const auto received = Clock::now();
      std::optional<std::uint32_t> id;
      if (event.id) {
        id = ParseEventId(*event.id);
        if (!id) {
          impl_.ProduceDeadLetter(node_, stream_, nullptr, std::nullopt, event.raw,
                                  "event id is not an unsigned 32-bit integer: " + std::string(event.id->substr(0, 64)),
                                  "bad_id", api_version_);
          return;
        }
      }
      if (!event.has_data) {
        impl_.ProduceDeadLetter(node_, stream_, &tracker_, id, event.raw, "SSE frame without data", "no_data",
                                api_version_);
        return;
      }
      casper::Classification c = classifier_.Classify(event.data);
      if (!c.ok) {
        impl_.ProduceDeadLetter(node_, stream_, &tracker_, id, event.data, c.error, "bad_payload", api_version_);
        return;
      }
      if (c.event_type == "ApiVersion") {
        api_version_ = c.api_version;
        const auto major = casper::ApiMajor(api_version_);
        if (major && ((protocol_ == Protocol::k2x) != (*major >= 2))) {
          log::Warn("node protocol changed; re-detecting",
                    {{"node", node_}, {"stream", stream_}, {"api_version", api_version_}});
          protocol_mismatch_ = true;
          return;
        }
        log::Info("connected", {{"node", node_}, {"stream", stream_}, {"api_version", api_version_},
                                {"start_from", requested_ ? std::to_string(*requested_) : std::string("0")}});
      }
      if (id && !first_id_seen_) {
        first_id_seen_ = true;
        // 2.x streams carry one contiguous id sequence: a first id past the one asked for is a gap.
        // 1.x endpoints are filters over one sequence, so a jump there is normal and is not reported.
        if (protocol_ == Protocol::k2x && requested_ && *id > *requested_) {
          impl_.ProduceGap(node_, stream_, *requested_, *id - 1, api_version_, impl_.LastHeight(node_, stream_));
        }
        // On 1.x deploys and sigs, skipped ids may be other streams' events or lost ones: they are recorded
        // as a gap over the heights announced around them (a block range backfill may find complete).
        if (protocol_ == Protocol::k1x && stream_ != "main" && requested_ && *id > *requested_) {
          const auto [from_height, to_height] = impl_.HeightsAround(node_, stream_, *requested_, *id - 1);
          impl_.ProduceGap(node_, stream_, *requested_, *id - 1, api_version_, from_height, to_height);
        }
      }
      if (c.event_type == "BlockAdded") {
        if (const auto height = BlockHeight(event.data)) {
          // 1.x endpoints filter one id sequence, so ids cannot tell a gap: blocks can. A BlockAdded more
          // than one height past the last one read means blocks (and their events) were lost.
          const auto last = impl_.LastHeight(node_, stream_);
          if (protocol_ == Protocol::k1x && last && *height > *last + 1 && id) {
            impl_.ProduceGap(node_, stream_, requested_.value_or(*id), *id - 1, api_version_, last, *height);
          }
          impl_.NoteHeight(node_, stream_, *height, id);
        }
      }
      const std::string_view topic_name =
          protocol_ == Protocol::k2x ? casper::StreamName(casper::RouteByType(c.event_type)) : stream_;
      EventMeta meta{node_, stream_, id, api_version_, c.event_type, time::FormatRfc3339(time::Now())};
      const std::uint64_t seq = tracker_.Begin(id);
      const std::size_t size = event.data.size();
      metrics::Counter& events = impl_.m.Events(node_, topic_name);
      metrics::Counter& bytes = impl_.m.Bytes(node_);
      metrics::Histogram& latency = impl_.m.AckLatency();
      Impl& impl = impl_;
      StreamTracker& tracker = tracker_;
      const std::string node = node_;
      impl_.producer->Produce(
          impl_.Topic(topic_name), RecordKey(node_, stream_), event.data, RecordHeaders(meta),
          [&impl, &tracker, &events, &bytes, &latency, seq, size, received, node](const kafka::DeliveryReport& r) {
            if (r.ok) {
              tracker.Ack(seq);
              events.Inc();
              bytes.Inc(size);
              latency.Observe(std::chrono::duration<double>(Clock::now() - received).count());
            } else {
              impl.m.DeliveryErrors(node).Inc();
              log::Error("kafka did not acknowledge an event; the stream will be re-read from its position",
                         {{"node", node}, {"error", r.error}});
              tracker.Fail(seq, r.error);
            }
          },
          [&impl] { return impl.stopping.load(); });
    }

    void OnFrameTooLarge(std::string_view prefix) override {
      impl_.ProduceDeadLetter(node_, stream_, nullptr, std::nullopt, prefix.substr(0, kDeadLetterPrefixBytes),
                              "SSE frame larger than the configured maximum", "too_large", api_version_);
    }

    bool ProtocolMismatch() const { return protocol_mismatch_; }

   private:
    Impl& impl_;
    std::string node_;
    std::string stream_;
    Protocol protocol_;
    StreamTracker& tracker_;
    std::optional<std::uint32_t> requested_;
    std::string api_version_;
    bool first_id_seen_ = false;
    bool protocol_mismatch_ = false;
    casper::Classifier classifier_;
  };

  enum class EndpointOutcome { kStopped, kNotFound, kProtocolMismatch };

  // Streams one endpoint, reconnecting with backoff, until stop, 404 or a protocol change.
  EndpointOutcome RunEndpoint(const std::string& node, const std::string& stream, Protocol protocol,
                              const std::atomic<bool>& group_stop) {
    StreamTracker& tracker = Tracker(node, stream);
    int attempt = 0;
    auto should_stop = [&] { return stopping.load() || group_stop.load() || tracker.Failed(); };
    metrics::Gauge& connected = m.Connected(node, stream);
    while (!stopping && !group_stop) {
      if (tracker.Failed()) {
        // Wait for in-flight records, then re-read from the last acknowledged id.
        while (tracker.InFlight() > 0 && !stopping) std::this_thread::sleep_for(milliseconds(20));
        tracker.Rewind();
      }
      // Resume from what Kafka acknowledged: give in-flight records a moment so a quick reconnect does not
      // re-read (and re-send) events that are about to be acknowledged.
      const auto settle_until = Clock::now() + options.flush_timeout;
      while (tracker.InFlight() > 0 && !stopping && Clock::now() < settle_until) {
        std::this_thread::sleep_for(milliseconds(10));
      }
      const auto acked = tracker.Acked();
      std::optional<std::uint32_t> requested;
      if (acked) requested = *acked + 1;
      const std::string path = protocol == Protocol::k2x ? "/events" : "/events/" + stream;
      const std::string url = node + path + "?start_from=" + std::to_string(requested ? *requested : 0);
      Connection connection(*this, node, stream, protocol, tracker, requested);
      const auto began = Clock::now();
      connected.Set(1);
      sse::StreamResult result = sse::Stream(url, connection, options.client, [&] {
        return should_stop() || connection.ProtocolMismatch();
      });
      connected.Set(0);
      m.Connections(node, stream, sse::ToString(result.end)).Inc();
      if (stopping || group_stop) return EndpointOutcome::kStopped;
      if (connection.ProtocolMismatch()) return EndpointOutcome::kProtocolMismatch;
      if (result.end == sse::StreamEnd::kHttpError && result.http_status == 404) return EndpointOutcome::kNotFound;
      if (tracker.Failed()) continue;  // delivery failure: rewind immediately
      if (Clock::now() - began >= options.healthy_after) attempt = 0;
      const milliseconds delay = backoff::Apply(backoff::Delay(options.backoff_initial, options.backoff_max, attempt),
                                                backoff::kHalfJitter);
      ++attempt;
      log::Warn("node stream ended; reconnecting",
                {{"node", node}, {"stream", stream}, {"end", sse::ToString(result.end)},
                 {"http_status", static_cast<std::int64_t>(result.http_status)}, {"error", result.error},
                 {"retry_in_ms", static_cast<std::int64_t>(delay.count())}});
      if (!SleepUnlessStopping(delay)) return EndpointOutcome::kStopped;
    }
    return EndpointOutcome::kStopped;
  }

  void SuperviseNode(const std::string& node) {
    Protocol next = Protocol::k2x;
    int flips = 0;
    const std::atomic<bool> never{false};
    while (!stopping) {
      EndpointOutcome outcome;
      if (next == Protocol::k2x) {
        outcome = RunEndpoint(node, "events", Protocol::k2x, never);
      } else {
        std::atomic<bool> group_stop{false};
        std::atomic<int> outcome_code{static_cast<int>(EndpointOutcome::kStopped)};
        std::vector<std::thread> threads;
        for (auto stream : {casper::Stream::kMain, casper::Stream::kDeploys, casper::Stream::kSigs}) {
          threads.emplace_back([&, stream] {
            auto o = RunEndpoint(node, std::string(casper::StreamName(stream)), Protocol::k1x, group_stop);
            if (o != EndpointOutcome::kStopped) {
              outcome_code = static_cast<int>(o);
              group_stop = true;
            }
          });
        }
        for (auto& t : threads) t.join();
        outcome = static_cast<EndpointOutcome>(outcome_code.load());
      }
      if (outcome == EndpointOutcome::kStopped) return;
      next = next == Protocol::k2x ? Protocol::k1x : Protocol::k2x;
      log::Info("switching node protocol", {{"node", node}, {"protocol", next == Protocol::k2x ? "2.x" : "1.x"}});
      // Two flips in a row without a working stream (e.g. a wrong URL): slow down.
      if (++flips >= 2) {
        const auto delay = std::min(options.backoff_max, options.backoff_initial * (1 << std::min(flips, 10)));
        if (!SleepUnlessStopping(delay)) return;
      }
    }
  }
};

Ingestor::Ingestor(IngestOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Ingestor::~Ingestor() {
  if (impl_->started) Stop();
}

void Ingestor::Start() {
  Impl& impl = *impl_;
  if (impl.options.nodes.empty()) throw std::invalid_argument("no node given (--node URL)");
  impl.producer = std::make_unique<kafka::Producer>(impl.options.brokers, impl.options.producer_settings);
  impl.EnsureTopics();
  impl.LoadPositions();
  impl.poller = std::thread([&impl] {
    while (!impl.poller_stop) impl.producer->Poll(milliseconds(100));
  });
  impl.position_writer = std::thread([&impl] {
    while (impl.SleepUnlessStopping(impl.options.position_interval)) impl.PublishPositions();
  });
  for (const std::string& node : impl.options.nodes) {
    impl.supervisors.emplace_back([&impl, node] { impl.SuperviseNode(node); });
  }
  impl.started = true;
  log::Info("producer started", {{"nodes", static_cast<std::uint64_t>(impl.options.nodes.size())},
                                 {"kafka", impl.options.brokers}, {"topic_prefix", impl.options.topic_prefix}});
}

bool Ingestor::Stop() {
  Impl& impl = *impl_;
  if (!impl.started.exchange(false)) return true;
  {
    std::lock_guard lock(impl.stop_mutex);
    impl.stopping = true;
  }
  impl.stop_cv.notify_all();
  for (auto& t : impl.supervisors) t.join();
  impl.supervisors.clear();
  if (impl.position_writer.joinable()) impl.position_writer.join();
  impl.poller_stop = true;
  if (impl.poller.joinable()) impl.poller.join();
  bool ok = impl.producer->Flush(impl.options.flush_timeout);
  impl.PublishPositions();
  ok = impl.producer->Flush(impl.options.flush_timeout) && ok;
  log::Info("producer stopped", {{"flushed", ok}});
  return ok;
}

bool Ingestor::Ready(std::string& reason) const {
  if (!impl_->started) {
    reason = "not started";
    return false;
  }
  if (impl_->producer->AllBrokersDown()) {
    reason = "all Kafka brokers are down";
    return false;
  }
  return true;
}

}  // namespace ces::ingest
