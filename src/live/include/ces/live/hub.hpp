#pragma once
// The live SSE fan-out of `api` (docs/api.md "Live events"): ONE Kafka consumer per hub reads the
// node payloads of <prefix>main, <prefix>deploys and <prefix>sigs (or, for the chain hub, the chain
// sequence <prefix>chain) from the hub's start, turns each event into
// one shared SSE frame and queues it to every matching subscriber (a non-blocking http::StreamSink)
// without copying. The publisher never waits for a subscriber: one whose unwritten bytes pass the
// buffer limit is disconnected at once (StreamSink::Abort: its queue is discarded, the socket reset).
//
// The fan-out runs on `fanout_threads` threads, each owning a shard of the subscribers: every event
// is handed to every shard, and each shard offers it to its subscribers, whose connections write it to
// the socket right there when they are idle (http::StreamSink::OfferOrDrop). With 0 threads the
// publishing thread delivers (tests).
//
// A small ring of the most recent records (with their Kafka positions) lets a replay from the audit
// store join the live stream without a gap or a duplicate: the store's chains are per Kafka partition
// and ordered by offset, so the replay's live edge is a next-offset per partition; Attach() first
// sends the ring's events at or after those offsets, then everything new.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ces/audit/query.hpp"
#include "ces/http/async_server.hpp"
#include "ces/kafka/client.hpp"

namespace ces::metrics {
class Registry;
class Counter;
class Gauge;
class Histogram;
}  // namespace ces::metrics

namespace ces::live {

struct LiveHubOptions {
  std::string kafka_bootstrap;  // empty: no consumer (records come through Publish, e.g. in tests)
  std::string topic_prefix;
  // Read the chain sequence (<prefix>chain, written by the chain stage: each distinct event once,
  // SSE ids = chain offsets) instead of the node topics. The hub creates the chain topic at Start.
  bool chain = false;
  // At an assignment, each new partition starts at its first record stamped this long before the
  // hub started (or at its end when it has none): an event that happened after a client connected is
  // never skipped, even when the partition is assigned later (clock skew between producer and api).
  std::chrono::milliseconds start_margin{5000};
  kafka::Settings kafka_settings;  // librdkafka overrides for the consumer
  std::string group_id;            // empty: a unique id per process (no offsets are ever committed)
  std::chrono::milliseconds keepalive{15000};
  std::size_t max_subscribers = 20000;
  // A subscriber with this many unwritten bytes (and a frame more to take) is disconnected.
  std::size_t subscriber_buffer_bytes = 4u * 1024u * 1024u;
  // Recent records kept for the replay hand-over (whichever bound is reached first).
  std::size_t ring_events = 8192;
  std::size_t ring_bytes = 2u * 1024u * 1024u;  // memory of the ring's entries (records and frames)
  // Identities remembered per (source, stream) to drop re-sent records (produce resends after a crash).
  std::size_t dedupe_window = 4096;
  // Threads fanning events out, each to its share of the subscribers (0: the publishing thread does).
  std::size_t fanout_threads = 2;
};

class LiveHub {
 public:
  // What one subscriber receives: the query's routes, sources, types, keys and time bounds; max_events.
  struct Subscription {
    audit::ReplayQuery query;
    std::uint64_t sent = 0;   // events already sent on this stream (counts toward max_events)
    std::string announced;    // the ApiVersion the client saw last ("" = none yet)
    bool legacy = false;      // a 1.x stream (/events/main|deploys|sigs): events in their 1.x form (ces::legacy)
    bool api_versions = true; // ApiVersion lines (not on /events/sidecar)
  };

  // A place under --max-subscribers, taken before the response starts (so that a full hub answers
  // 503). Released on destruction unless handed to Subscribe/Attach.
  class Ticket {
   public:
    Ticket() = default;
    ~Ticket();
    Ticket(Ticket&& other) noexcept;
    Ticket& operator=(Ticket&& other) noexcept;
    explicit operator bool() const { return count_ != nullptr; }

   private:
    friend class LiveHub;
    explicit Ticket(std::atomic<std::size_t>* count) : count_(count) {}
    std::atomic<std::size_t>* count_ = nullptr;
  };

  enum class AttachResult {
    kAttached,
    kNotCovered,  // the ring does not reach back to the given offsets (or the hub is not assigned yet)
    kClosed,      // the client is gone (or max_events was reached by the ring's events)
  };

  LiveHub(LiveHubOptions options, metrics::Registry& registry);
  ~LiveHub();
  LiveHub(const LiveHub&) = delete;
  LiveHub& operator=(const LiveHub&) = delete;

  // Starts the consumer thread (no-op without kafka_bootstrap). Throws on a bad Kafka configuration.
  void Start();
  // Stops the consumer; subscribers stay attached (the server ends their streams).
  void Stop();
  // True once the consumer holds its partitions.
  bool Ready(std::string& reason) const;

  const LiveHubOptions& options() const { return options_; }
  // The sink buffer limit to pass to AsyncResponseWriter::Detach (the hub polices the configured
  // limit itself, so that one frame larger than it can still reach an idle client).
  std::size_t SinkLimit() const;

  // A ticket, or an empty one when max_subscribers are connected.
  Ticket Admit();
  // A live-only subscriber: sends the node-like preamble (ApiVersion) and attaches.
  void Subscribe(Ticket ticket, std::shared_ptr<http::StreamSink> sink, Subscription subscription);
  // The replay's hand-over: `next_offsets` is, for each partition of the hub's topics in the query's
  // routes, the first Kafka offset the replay has not covered (a partition missing from the map: 0,
  // nothing of it was replayed). Under the hub's lock: checks that the ring still holds every record
  // from those offsets on, sends the ring's matching events at/after them, and attaches.
  AttachResult Attach(Ticket& ticket, const std::shared_ptr<http::StreamSink>& sink, Subscription subscription,
                      const std::map<kafka::TopicPartition, std::int64_t>& next_offsets);
  // The topics the hub reads ("<prefix>main", ... or "<prefix>chain").
  std::vector<std::string> Topics() const;
  // Used when no event has announced a version yet (e.g. the store's latest at start-up).
  void SeedApiVersion(const std::string& source, const std::string& version);
  // Whether any ApiVersion is known (announced through Kafka or seeded).
  bool HasApiVersion() const;

  // The consumer's steps, public for tests: partitions assigned at these start offsets; one record.
  void OnAssigned(const std::map<kafka::TopicPartition, std::int64_t>& start_offsets);
  void Publish(const kafka::Message& message);
  // Keep-alive comments to idle subscribers and removal of closed ones, now, on every shard (the
  // fan-out threads do it by themselves every 500 ms).
  void Maintain();
  // Returns once every event published before the call has been offered to every subscriber.
  void Flush();
  std::size_t Subscribers() const;

 private:
  struct Subscriber;
  struct Entry;
  struct Metrics;
  struct Shared;
  struct Shard;
  struct Tally;

  static std::size_t EntryBytes(const Entry& entry);
  void Run();
  void ShardLoop(Shard& shard);
  // Takes the shard's newcomers and queued events and delivers them (and keep-alives when `maintain`
  // or due), until nothing is queued. Any thread; one at a time per shard.
  void Process(Shard& shard, bool maintain);
  void FanOut(Shard& shard, const Entry& entry);
  void MaintainShard(Shard& shard);
  // Hands a new subscriber to a shard (under mutex_): it gets the events published from now on.
  void Join(std::shared_ptr<Subscriber> sub);
  // Queues one event to a subscriber; false when it is to be removed.
  bool Deliver(Subscriber& sub, const Entry& entry, std::chrono::steady_clock::time_point now, Tally& tally);
  bool OfferTo(Subscriber& sub, const std::shared_ptr<const std::string>& frame,
               std::chrono::steady_clock::time_point now, Tally& tally);
  std::shared_ptr<const std::string> VersionFrame(const std::string& version);
  std::string PreambleVersion(const audit::ReplayQuery& query) const;
  std::string RouteOf(const std::string& topic) const;

  LiveHubOptions options_;
  std::unique_ptr<Metrics> metrics_;
  std::shared_ptr<Shared> shared_;  // outlives the hub for OnClose callbacks
  std::atomic<std::size_t> admitted_{0};

  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<std::size_t> attached_{0};  // subscribers in the shards (or joining them)

  mutable std::mutex mutex_;  // before any shard's mutex
  std::uint64_t next_seq_ = 0;  // sequence number of the next event handed to the shards
  std::size_t next_shard_ = 0;
  std::deque<std::shared_ptr<const Entry>> ring_;
  std::size_t ring_bytes_ = 0;
  // Per partition: every record at or after from_ that the hub has read is in the ring; next_: the
  // offset after the last record read.
  std::map<kafka::TopicPartition, std::int64_t> from_;
  std::map<kafka::TopicPartition, std::int64_t> next_;
  std::map<std::string, std::string> versions_;  // source -> last ApiVersion
  std::string latest_version_;
  std::map<std::string, std::shared_ptr<const std::string>> version_frames_;
  struct Recent {
    std::deque<std::uint32_t> order;
    std::map<std::uint32_t, int> ids;
  };
  std::map<std::string, Recent> recent_;  // "<source> <stream>" -> recent event ids
  std::shared_ptr<const std::string> keepalive_frame_;
  bool assigned_ = false;

  std::int64_t started_ms_ = 0;  // Unix ms of Start()
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex status_mutex_;
  std::string status_error_;
};

}  // namespace ces::live
