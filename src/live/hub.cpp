#include "ces/live/hub.hpp"

#include <unistd.h>

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <thread>

#include "ces/audit/record.hpp"
#include "ces/audit/sse.hpp"
#include "ces/common/log.hpp"
#include "ces/common/metrics.hpp"
#include "ces/common/time.hpp"
#include "ces/kafka/topics.hpp"
#include "ces/legacy/translate.hpp"
#include "ces/mongo/audit_store.hpp"

namespace ces::live {

namespace {

constexpr std::int64_t kUnknownFrom = std::numeric_limits<std::int64_t>::max();
constexpr std::chrono::milliseconds kPollTimeout{50};
constexpr std::chrono::milliseconds kMaintainInterval{500};

std::string UniqueGroupId() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = 0;
  return "casper-event-store-api-live-" + std::string(host) + "-" + std::to_string(getpid()) + "-" +
         std::to_string(time::UnixMillis(time::Now()));
}

// Keeps the subscribers for which `keep` is true (in any order: the last one takes a removed one's
// place) and takes the removed ones off `attached`.
template <class Subscribers, class Keep>
void KeepIf(Subscribers& subs, std::atomic<std::size_t>& attached, Keep keep) {
  std::size_t removed = 0;
  for (std::size_t i = 0; i < subs.size();) {
    if (keep(*subs[i])) {
      ++i;
    } else {
      subs[i] = std::move(subs.back());
      subs.pop_back();
      ++removed;
    }
  }
  if (removed > 0) attached.fetch_sub(removed);
}

metrics::Labels WithLabel(metrics::Labels labels, const char* key, const char* value) {
  labels.emplace_back(key, value);
  return labels;
}

}  // namespace

struct LiveHub::Shared {
  std::atomic<std::size_t> closed_pending{0};
};

struct LiveHub::Subscriber {
  Ticket ticket;
  std::shared_ptr<http::StreamSink> sink;
  Subscription sub;
  // Hand-over: records of these partitions before the offset were sent by the replay.
  std::vector<std::pair<kafka::TopicPartition, std::int64_t>> min_offsets;
  std::chrono::steady_clock::time_point last_offer;
  std::shared_ptr<std::atomic<bool>> closed = std::make_shared<std::atomic<bool>>(false);
  std::uint64_t from_seq = 0;  // events before this one reached it before it joined its shard
};

struct LiveHub::Entry {
  mongo::EventRecord record;  // metadata and filter keys (the payload lives in `frame`)
  std::string route;
  kafka::TopicPartition tp;
  std::shared_ptr<const std::string> frame;  // null: not sent (ApiVersion record, re-sent duplicate)
  std::shared_ptr<const std::string> version_frame;  // the ApiVersion frame of record.api_version (if any)
  std::size_t bytes = 0;
  std::uint64_t seq = 0;
  std::chrono::steady_clock::time_point published;

  // The frame of the legacy streams (ces::legacy), made once when a legacy subscriber first needs it:
  // `frame` itself when the event is the same in 1.x, null when it has no 1.x form.
  const std::shared_ptr<const std::string>& LegacyFrame() const {
    std::call_once(legacy_once, [this] {
      if (!frame) return;
      std::string translated = legacy::ToLegacyFrame(*frame);
      if (translated.empty()) return;
      legacy_frame = translated == *frame ? frame : std::make_shared<const std::string>(std::move(translated));
    });
    return legacy_frame;
  }
  mutable std::once_flag legacy_once;
  mutable std::shared_ptr<const std::string> legacy_frame;
};

struct LiveHub::Shard {
  std::mutex mutex;  // queue, joining, maintain, stop
  std::condition_variable cv;
  std::deque<std::shared_ptr<const Entry>> queue;
  std::vector<std::shared_ptr<Subscriber>> joining;
  bool maintain = false;
  bool stop = false;
  std::mutex run_mutex;  // held while processing: subs, last_maintain
  std::vector<std::shared_ptr<Subscriber>> subs;
  std::chrono::steady_clock::time_point last_maintain = std::chrono::steady_clock::now();
  std::thread thread;
};

// Counts of one delivery pass, added to the metrics once per pass.
struct LiveHub::Tally {
  std::uint64_t frames = 0;
  std::uint64_t dropped = 0;
};

struct LiveHub::Metrics {
  Metrics(metrics::Registry& r, const metrics::Labels& l)
      : subscribers(r.GetGauge("ces_api_sse_subscribers", "Live SSE subscribers attached to the hub", l)),
        events(r.GetCounter("ces_api_sse_events_total", "Events read from Kafka and fanned out to live subscribers", l)),
        frames(r.GetCounter("ces_api_sse_frames_total", "Event frames queued to live subscribers", l)),
        duplicates(r.GetCounter("ces_api_sse_duplicates_total",
                                "Re-sent records (identity seen recently) not sent again to live subscribers", l)),
        rejected(r.GetCounter("ces_api_sse_rejected_total", "Live subscribers refused at --max-subscribers", l)),
        handovers(r.GetCounter("ces_api_sse_handovers_total", "Replay streams handed over to the live hub", l)),
        dropped_slow(r.GetCounter("ces_api_sse_dropped_subscribers_total",
                                  "Live subscribers disconnected by the server", WithLabel(l, "reason", "slow"))),
        publish(r.GetHistogram("ces_api_sse_publish_seconds",
                               "From the hub reading one event to offering it to every live subscriber of a fan-out shard", l,
                               metrics::LatencyBuckets())),
        lag(r.GetHistogram("ces_api_sse_delivery_lag_seconds",
                           "From received-at (produce read the event) to handed to the fan-out shards", l,
                           metrics::LatencyBuckets())) {}
  metrics::Gauge& subscribers;
  metrics::Counter& events;
  metrics::Counter& frames;
  metrics::Counter& duplicates;
  metrics::Counter& rejected;
  metrics::Counter& handovers;
  metrics::Counter& dropped_slow;
  metrics::Histogram& publish;
  metrics::Histogram& lag;
};

LiveHub::Ticket::~Ticket() {
  if (count_) count_->fetch_sub(1);
}

LiveHub::Ticket::Ticket(Ticket&& other) noexcept : count_(other.count_) { other.count_ = nullptr; }

LiveHub::Ticket& LiveHub::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    if (count_) count_->fetch_sub(1);
    count_ = other.count_;
    other.count_ = nullptr;
  }
  return *this;
}

LiveHub::LiveHub(LiveHubOptions options, metrics::Registry& registry)
    : options_(std::move(options)),
      // The chain hub's series carry sequence="chain"; the node hub's have no extra label.
      metrics_(std::make_unique<Metrics>(registry, options_.chain ? metrics::Labels{{"sequence", "chain"}}
                                                                  : metrics::Labels{})),
      shared_(std::make_shared<Shared>()),
      keepalive_frame_(std::make_shared<const std::string>(":\n\n")) {
  if (options_.max_subscribers == 0) throw std::invalid_argument("--max-subscribers must be at least 1");
  if (options_.subscriber_buffer_bytes == 0) throw std::invalid_argument("--subscriber-buffer must be positive");
  if (options_.keepalive.count() <= 0) throw std::invalid_argument("--keepalive must be positive");
  if (options_.group_id.empty()) options_.group_id = UniqueGroupId();
  const std::size_t shards = std::max<std::size_t>(1, options_.fanout_threads);
  for (std::size_t i = 0; i < shards; ++i) shards_.push_back(std::make_unique<Shard>());
  if (options_.fanout_threads > 0) {
    for (auto& shard : shards_) shard->thread = std::thread([this, s = shard.get()] { ShardLoop(*s); });
  }
}

LiveHub::~LiveHub() {
  Stop();
  for (auto& shard : shards_) {
    {
      std::lock_guard lock(shard->mutex);
      shard->stop = true;
    }
    shard->cv.notify_all();
    if (shard->thread.joinable()) shard->thread.join();
  }
}

std::size_t LiveHub::SinkLimit() const { return options_.subscriber_buffer_bytes + kafka::kMaxRecordBytes + (1u << 20); }

std::vector<std::string> LiveHub::Topics() const {
  if (options_.chain) return {kafka::TopicName(options_.topic_prefix, audit::kChainRoute)};
  return kafka::EventTopicNames(options_.topic_prefix);
}

std::string LiveHub::RouteOf(const std::string& topic) const { return audit::RouteOfTopic(topic, options_.topic_prefix); }

void LiveHub::Start() {
  if (options_.kafka_bootstrap.empty() || thread_.joinable()) return;
  stop_ = false;
  started_ms_ = time::UnixMillis(time::Now());
  if (options_.chain) {
    // Created now, so that the hub is assigned it at once rather than after a metadata refresh.
    try {
      kafka::EnsureTopics(options_.kafka_bootstrap, options_.kafka_settings, {audit::ChainTopicSpec(options_.topic_prefix)},
                         std::chrono::seconds(5));
    } catch (const std::exception& e) {
      log::Warn("live hub: chain topic not created (the chain stage creates it)", {{"error", e.what()}});
    }
  }
  {
    std::lock_guard lock(status_mutex_);
    status_error_ = "waiting for the Kafka partition assignment";
  }
  thread_ = std::thread([this] { Run(); });
}

void LiveHub::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

bool LiveHub::Ready(std::string& reason) const {
  if (options_.kafka_bootstrap.empty()) return true;
  std::lock_guard lock(status_mutex_);
  if (!status_error_.empty()) reason = "live hub: " + status_error_;
  return status_error_.empty();
}

void LiveHub::Run() {
  while (!stop_) {
    try {
      kafka::Settings settings = {{"auto.offset.reset", "latest"}};
      for (const auto& [k, v] : options_.kafka_settings) settings[k] = v;
      kafka::EnsureEventTopics(options_.kafka_bootstrap, options_.kafka_settings, options_.topic_prefix);
      kafka::Consumer consumer(options_.kafka_bootstrap, options_.group_id, settings);
      kafka::RebalanceHooks hooks;
      hooks.on_assign = [this](const std::vector<kafka::TopicPartition>& tps) {
        kafka::StartOffsets start;
        std::vector<kafka::TopicPartition> unknown;
        {
          std::lock_guard lock(mutex_);
          for (const auto& tp : tps) {
            auto it = next_.find(tp);
            if (it != next_.end()) {
              start[tp] = it->second;  // re-assigned: continue where the hub is
            } else {
              unknown.push_back(tp);
            }
          }
        }
        // Not the watermark now: records written between a client's connection and this assignment
        // would be skipped. From the hub's start instead (clients connect after it).
        // A topic created a moment ago may not answer yet: ask again for a few seconds before leaving a
        // partition to auto.offset.reset (which would skip what is written meanwhile).
        auto high = kafka::OffsetsSince(options_.kafka_bootstrap, options_.kafka_settings, unknown,
                                        started_ms_ - options_.start_margin.count());
        for (int attempt = 0; attempt < 20 && high.size() < unknown.size() && !stop_; ++attempt) {
          std::this_thread::sleep_for(std::chrono::milliseconds(250));
          high = kafka::OffsetsSince(options_.kafka_bootstrap, options_.kafka_settings, unknown,
                                     started_ms_ - options_.start_margin.count());
        }
        bool complete = true;
        for (const auto& tp : unknown) {
          auto it = high.find(tp);
          if (it == high.end()) {
            complete = false;
            continue;  // auto.offset.reset=latest; the ring never covers this partition (replays stay on the store)
          }
          start[tp] = it->second;
        }
        OnAssigned(start);
        std::lock_guard lock(status_mutex_);
        status_error_ = complete ? "" : "watermarks of some partitions unknown; replays of them stay on the store";
        if (complete) log::Info("live hub: partitions assigned", {{"count", static_cast<std::uint64_t>(tps.size())}});
        return start;
      };
      hooks.on_revoke = [this](const std::vector<kafka::TopicPartition>&) {
        std::lock_guard lock(status_mutex_);
        status_error_ = "Kafka partitions revoked; waiting for the assignment";
      };
      consumer.Subscribe(Topics(), hooks);
      auto last_maintain = std::chrono::steady_clock::now();
      while (!stop_) {
        auto messages = consumer.Poll(1000, kPollTimeout);
        for (const auto& m : messages) Publish(m);
        const auto now = std::chrono::steady_clock::now();
        if (options_.fanout_threads == 0 && now - last_maintain >= kMaintainInterval) {
          last_maintain = now;
          Maintain();
        } else if (shared_->closed_pending.load() > 256) {
          // Many clients left: free their connections now rather than at the shards' next round.
          shared_->closed_pending.store(0);
          for (auto& shard : shards_) {
            {
              std::lock_guard lock(shard->mutex);
              shard->maintain = true;
            }
            shard->cv.notify_one();
          }
        }
      }
      consumer.Close();
    } catch (const std::exception& e) {
      log::Error("live hub: kafka consumer failed; restarting", {{"error", e.what()}});
      {
        std::lock_guard lock(status_mutex_);
        status_error_ = std::string("kafka consumer failed: ") + e.what();
      }
      for (int i = 0; i < 20 && !stop_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

void LiveHub::OnAssigned(const std::map<kafka::TopicPartition, std::int64_t>& start_offsets) {
  std::lock_guard lock(mutex_);
  for (const auto& [tp, offset] : start_offsets) {
    if (next_.count(tp)) continue;
    from_[tp] = offset;
    next_[tp] = offset;
  }
  assigned_ = true;
}

LiveHub::Ticket LiveHub::Admit() {
  if (admitted_.fetch_add(1) >= options_.max_subscribers) {
    admitted_.fetch_sub(1);
    metrics_->rejected.Inc();
    return Ticket();
  }
  return Ticket(&admitted_);
}

std::size_t LiveHub::Subscribers() const { return attached_.load(); }

bool LiveHub::HasApiVersion() const {
  std::lock_guard lock(mutex_);
  return !latest_version_.empty();
}

void LiveHub::SeedApiVersion(const std::string& source, const std::string& version) {
  if (version.empty()) return;
  std::lock_guard lock(mutex_);
  if (!versions_.count(source)) versions_[source] = version;
  if (latest_version_.empty()) latest_version_ = version;
}

std::shared_ptr<const std::string> LiveHub::VersionFrame(const std::string& version) {
  auto& frame = version_frames_[version];
  if (!frame) {
    std::string text;
    audit::AppendSseApiVersion(text, version);
    frame = std::make_shared<const std::string>(std::move(text));
  }
  return frame;
}

std::string LiveHub::PreambleVersion(const audit::ReplayQuery& query) const {
  // One source asked for: its version; otherwise the latest one announced by any node.
  if (query.sources.size() == 1) {
    auto it = versions_.find(query.sources.front());
    if (it != versions_.end()) return it->second;
  }
  return latest_version_;
}

bool LiveHub::OfferTo(Subscriber& sub, const std::shared_ptr<const std::string>& frame,
                      std::chrono::steady_clock::time_point now, Tally& tally) {
  if (sub.closed->load(std::memory_order_relaxed)) return false;
  // One step: written at once when the client keeps up; a client with more than the buffer limit
  // unwritten is disconnected (not Close(): a client that does not read would hold the socket and its
  // buffer).
  switch (sub.sink->OfferOrDrop(frame, options_.subscriber_buffer_bytes)) {
    case http::StreamSink::OfferResult::kQueued:
      sub.last_offer = now;
      return true;
    case http::StreamSink::OfferResult::kDropped:
      ++tally.dropped;
      log::Debug("live subscriber dropped: too slow", {});
      return false;
    case http::StreamSink::OfferResult::kClosed:
      break;
  }
  return false;
}

bool LiveHub::Deliver(Subscriber& sub, const Entry& entry, std::chrono::steady_clock::time_point now, Tally& tally) {
  if (sub.closed->load(std::memory_order_relaxed)) return false;
  const audit::ReplayQuery& q = sub.sub.query;
  if (!q.RouteMatches(entry.route) || !q.Matches(entry.record)) return true;
  for (const auto& [tp, offset] : sub.min_offsets) {
    if (tp == entry.tp && entry.record.offset < offset) return true;
  }
  const std::shared_ptr<const std::string>& frame = sub.sub.legacy ? entry.LegacyFrame() : entry.frame;
  if (!frame) return true;  // no 1.x form
  const std::string& version = entry.record.api_version;
  if (sub.sub.api_versions && entry.version_frame && version != sub.sub.announced) {
    if (!OfferTo(sub, entry.version_frame, now, tally)) return false;
    sub.sub.announced = version;
  }
  if (!OfferTo(sub, frame, now, tally)) return false;
  ++tally.frames;
  ++sub.sub.sent;
  if (q.max_events && sub.sub.sent >= *q.max_events) {
    sub.sink->Close();
    return false;
  }
  return true;
}

namespace {

// Heap bytes of a string (none while it fits the small-string buffer), with malloc's chunk header.
std::size_t HeapBytes(const std::string& s) { return s.capacity() > 15 ? s.capacity() + 1 + 16 : 0; }
std::size_t HeapBytes(const std::optional<std::string>& s) { return s ? HeapBytes(*s) : 0; }

}  // namespace

// What an entry of the ring holds in memory, so that ring_bytes bounds the ring's real size: the entry
// (one allocation with its shared_ptr block), the strings of its record and the frame.
std::size_t LiveHub::EntryBytes(const Entry& e) {
  const mongo::EventRecord& r = e.record;
  std::size_t bytes = sizeof(Entry) + 32 + HeapBytes(e.route) + HeapBytes(e.tp.topic);
  for (const std::string* s : {&r.id, &r.source, &r.stream, &r.api_version, &r.type, &r.received_at, &r.topic,
                               &r.sha256, &r.payload, &r.origin, &r.rebuilt_key}) {
    bytes += HeapBytes(*s);
  }
  bytes += HeapBytes(r.keys.block_hash) + HeapBytes(r.keys.transaction_hash) + HeapBytes(r.keys.public_key) +
           HeapBytes(r.keys.account);
  if (e.frame) bytes += sizeof(std::string) + 32 + HeapBytes(*e.frame);
  return bytes;
}

void LiveHub::Publish(const kafka::Message& message) {
  auto built = audit::BuildRecord(message);
  auto entry = std::make_shared<Entry>();
  entry->record = std::move(built.record);
  entry->route = RouteOf(message.topic);
  entry->tp = {message.topic, message.partition};
  mongo::EventRecord& r = entry->record;
  bool deliverable = r.type != "ApiVersion";
  if (deliverable) {
    std::string frame;
    frame.reserve(r.payload.size() + 32);
    audit::AppendSseEvent(frame, r.payload, r.event_id);
    entry->frame = std::make_shared<const std::string>(std::move(frame));
  }
  r.payload.clear();
  r.payload.shrink_to_fit();
  entry->bytes = EntryBytes(*entry);

  std::unique_lock lock(mutex_);
  if (deliverable && r.event_id) {
    // A record re-sent by produce (same node stream and id as one just read) is not sent twice.
    Recent& recent = recent_[r.source + " " + r.stream];
    if (recent.ids.count(*r.event_id)) {
      deliverable = false;
      entry->frame.reset();
      metrics_->duplicates.Inc();
    } else {
      recent.ids[*r.event_id] = 1;
      recent.order.push_back(*r.event_id);
      while (recent.order.size() > options_.dedupe_window) {
        recent.ids.erase(recent.order.front());
        recent.order.pop_front();
      }
    }
  }
  if (!r.api_version.empty()) {
    versions_[r.source] = r.api_version;
    latest_version_ = r.api_version;
    entry->version_frame = VersionFrame(r.api_version);
  }
  auto next = next_.find(entry->tp);
  if (next == next_.end()) {
    // Not announced by an assignment (tests publish directly): the hub holds it from this record on.
    from_[entry->tp] = r.offset;
    next_[entry->tp] = r.offset + 1;
  } else {
    next->second = std::max(next->second, r.offset + 1);
  }
  entry->seq = next_seq_++;
  entry->published = std::chrono::steady_clock::now();
  ring_.push_back(entry);
  ring_bytes_ += entry->bytes;
  while (ring_.size() > options_.ring_events || (ring_bytes_ > options_.ring_bytes && ring_.size() > 1)) {
    const auto& old = ring_.front();
    auto& from = from_[old->tp];
    if (from != kUnknownFrom) from = std::max(from, old->record.offset + 1);
    ring_bytes_ -= old->bytes;
    ring_.pop_front();
  }
  if (!deliverable) return;
  metrics_->events.Inc();
  // Handed to every shard under mutex_, so that a subscriber joining (Attach/Subscribe, also under
  // mutex_) gets each event exactly once: from the ring before it joins, from its shard after.
  for (auto& shard : shards_) {
    std::lock_guard shard_lock(shard->mutex);
    shard->queue.push_back(entry);
  }
  lock.unlock();
  if (options_.fanout_threads == 0) {
    Process(*shards_.front(), false);
  } else {
    for (auto& shard : shards_) shard->cv.notify_one();
  }
  const double lag_s = static_cast<double>(time::UnixMillis(time::Now()) - r.received_ms) / 1000.0;
  metrics_->lag.Observe(std::max(0.0, lag_s));
}

void LiveHub::ShardLoop(Shard& shard) {
  while (true) {
    {
      std::unique_lock lock(shard.mutex);
      shard.cv.wait_for(lock, kMaintainInterval, [&] {
        return shard.stop || !shard.queue.empty() || !shard.joining.empty() || shard.maintain;
      });
      if (shard.stop) return;
    }
    Process(shard, false);
  }
}

void LiveHub::Process(Shard& shard, bool maintain) {
  std::lock_guard run(shard.run_mutex);
  while (true) {
    std::deque<std::shared_ptr<const Entry>> entries;
    {
      std::lock_guard lock(shard.mutex);
      for (auto& sub : shard.joining) shard.subs.push_back(std::move(sub));
      shard.joining.clear();
      entries.swap(shard.queue);
      maintain = maintain || shard.maintain;
      shard.maintain = false;
    }
    for (const auto& entry : entries) FanOut(shard, *entry);
    if (!maintain && std::chrono::steady_clock::now() - shard.last_maintain >= kMaintainInterval) {
      maintain = options_.fanout_threads > 0;  // the consumer thread maintains a thread-less hub
    }
    if (maintain) MaintainShard(shard);
    if (entries.empty()) break;
    maintain = false;
  }
}

void LiveHub::FanOut(Shard& shard, const Entry& entry) {
  const auto now = std::chrono::steady_clock::now();
  Tally tally;
  KeepIf(shard.subs, attached_, [&](Subscriber& sub) {
    return entry.seq < sub.from_seq || Deliver(sub, entry, now, tally);
  });
  metrics_->frames.Inc(tally.frames);
  if (tally.dropped > 0) metrics_->dropped_slow.Inc(tally.dropped);
  metrics_->subscribers.Set(static_cast<double>(attached_.load()));
  metrics_->publish.Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - entry.published).count());
}

void LiveHub::MaintainShard(Shard& shard) {
  const auto now = std::chrono::steady_clock::now();
  shard.last_maintain = now;
  Tally tally;
  KeepIf(shard.subs, attached_, [&](Subscriber& sub) {
    if (sub.closed->load() || sub.sink->Closed()) return false;
    return now - sub.last_offer < options_.keepalive || OfferTo(sub, keepalive_frame_, now, tally);
  });
  if (tally.dropped > 0) metrics_->dropped_slow.Inc(tally.dropped);
  metrics_->subscribers.Set(static_cast<double>(attached_.load()));
}

void LiveHub::Maintain() {
  shared_->closed_pending.store(0);
  for (auto& shard : shards_) Process(*shard, true);
}

void LiveHub::Flush() {
  for (auto& shard : shards_) Process(*shard, false);
}

void LiveHub::Join(std::shared_ptr<Subscriber> sub) {
  sub->from_seq = next_seq_;
  Shard& shard = *shards_[next_shard_++ % shards_.size()];
  {
    std::lock_guard lock(shard.mutex);
    shard.joining.push_back(std::move(sub));
  }
  attached_.fetch_add(1);
  metrics_->subscribers.Set(static_cast<double>(attached_.load()));
  if (options_.fanout_threads > 0) shard.cv.notify_one();
}

namespace {

void WatchClose(const std::shared_ptr<http::StreamSink>& sink, std::shared_ptr<std::atomic<bool>> closed,
                std::weak_ptr<void> shared, std::atomic<std::size_t>* pending) {
  sink->OnClose([closed = std::move(closed), shared = std::move(shared), pending] {
    closed->store(true);
    if (auto alive = shared.lock()) pending->fetch_add(1);
  });
}

}  // namespace

void LiveHub::Subscribe(Ticket ticket, std::shared_ptr<http::StreamSink> sink, Subscription subscription) {
  if (!sink || !ticket) return;
  auto sub = std::make_shared<Subscriber>();
  sub->ticket = std::move(ticket);
  sub->sink = std::move(sink);
  sub->sub = std::move(subscription);
  sub->sub.query.start_from.reset();
  WatchClose(sub->sink, sub->closed, shared_, &shared_->closed_pending);
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  sub->last_offer = now;
  const std::string version = PreambleVersion(sub->sub.query);
  Tally tally;
  if (sub->sub.api_versions && !version.empty() && version != sub->sub.announced) {
    const bool ok = OfferTo(*sub, VersionFrame(version), now, tally);
    if (tally.dropped > 0) metrics_->dropped_slow.Inc(tally.dropped);
    if (!ok) return;
    sub->sub.announced = version;
  }
  if (sub->sub.query.max_events && sub->sub.sent >= *sub->sub.query.max_events) {
    sub->sink->Close();
    return;
  }
  Join(std::move(sub));
}

LiveHub::AttachResult LiveHub::Attach(Ticket& ticket, const std::shared_ptr<http::StreamSink>& sink,
                                      Subscription subscription,
                                      const std::map<kafka::TopicPartition, std::int64_t>& next_offsets) {
  if (!sink || sink->Closed()) return AttachResult::kClosed;
  std::lock_guard lock(mutex_);
  if (!assigned_ && !options_.kafka_bootstrap.empty()) return AttachResult::kNotCovered;
  auto sub = std::make_shared<Subscriber>();
  sub->sink = sink;
  sub->sub = std::move(subscription);
  // Node ids restart with a node, so a node stream's start_from does not apply to live events. Chain
  // ids never restart: the chain hub keeps it (the ring may reach back before it when the store holds
  // nothing of the chain yet).
  if (!options_.chain) sub->sub.query.start_from.reset();
  for (const auto& [tp, offset] : next_offsets) {
    if (!from_.count(tp)) return AttachResult::kNotCovered;  // a partition the hub does not read (yet)
  }
  for (const auto& [tp, from] : from_) {
    if (!sub->sub.query.RouteMatches(RouteOf(tp.topic))) continue;
    auto it = next_offsets.find(tp);
    const std::int64_t offset = it == next_offsets.end() ? 0 : it->second;
    if (from == kUnknownFrom || offset < from) return AttachResult::kNotCovered;
    sub->min_offsets.emplace_back(tp, offset);
  }
  WatchClose(sub->sink, sub->closed, shared_, &shared_->closed_pending);
  const auto now = std::chrono::steady_clock::now();
  sub->last_offer = now;
  Tally tally;
  bool open = true;
  for (const auto& entry : ring_) {
    if (!entry->frame) continue;
    if (!(open = Deliver(*sub, *entry, now, tally))) break;
  }
  metrics_->frames.Inc(tally.frames);
  if (tally.dropped > 0) metrics_->dropped_slow.Inc(tally.dropped);
  if (!open) return AttachResult::kClosed;
  sub->ticket = std::move(ticket);
  Join(std::move(sub));
  metrics_->handovers.Inc();
  return AttachResult::kAttached;
}

}  // namespace ces::live
