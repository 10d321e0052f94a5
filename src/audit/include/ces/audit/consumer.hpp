#pragma once
// audit-consume: Kafka (main, deploys, sigs) -> the audit store, without loss and without duplicates.
//
// One batch at a time: poll, build the documents, insert the events (unordered; duplicates of the
// identity are "already stored"), extend each partition's replay-log chain, and only then commit the
// Kafka offsets. Any store failure rewinds the batch's partitions to the batch start and retries after
// a capped exponential backoff, so an outage pauses consumption; nothing is skipped or committed early.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ces/audit/planner.hpp"
#include "ces/kafka/client.hpp"
#include "ces/mongo/audit_store.hpp"

namespace ces::metrics {
class Registry;
class Counter;
class Gauge;
class Histogram;
}  // namespace ces::metrics

namespace ces::audit {

struct ConsumerOptions {
  std::string brokers;
  std::string topic_prefix;
  std::string group = "audit-consumer";
  kafka::Settings kafka_settings;
  std::size_t batch_max_events = 5000;
  std::size_t batch_max_bytes = 8u * 1024u * 1024u;
  std::chrono::milliseconds batch_linger{200};  // wait this long for a batch to fill at low rates
  LinkLimits link_limits;
  std::optional<mongo::SegmentLimits> segment_limits;  // nullopt: the server's default layout
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{10000};
  // Fault injection (tests): abort the process right after the events of batch N (1-based) are
  // inserted, before its replay-log links are written and before any commit. 0: off.
  std::size_t abort_after_insert_batch = 0;
};

// Counts of one batch (also exported as metrics).
struct BatchStats {
  std::size_t stored = 0;          // newly inserted
  std::size_t recovered = 0;       // inserted by an interrupted earlier attempt, linked now
  std::size_t duplicates = 0;      // a re-send of an event stored before: not stored again
  std::size_t already_linked = 0;  // below the chain's end: the store has the whole range
  std::size_t conflicts = 0;       // same identity, different payload: kept in `conflicts`
  std::size_t links = 0;
};

class AuditConsumer {
 public:
  AuditConsumer(ConsumerOptions options, mongo::AuditStore& store, metrics::Registry& registry);
  ~AuditConsumer();
  AuditConsumer(const AuditConsumer&) = delete;
  AuditConsumer& operator=(const AuditConsumer&) = delete;

  // Consumes until should_stop() returns true (checked at least every 200 ms).
  void Run(const std::function<bool()>& should_stop);
  // Ready once the schema is in place and the last batch was written (false during a store outage).
  bool Ready(std::string& reason) const;

 private:
  struct Metrics;
  using Batch = std::vector<kafka::Message>;

  Batch Collect();
  mongo::Status ProcessBatch(const Batch& batch, BatchStats& stats);
  void Rewind(const Batch& batch);
  void Commit(const Batch& batch);
  void SetReady(bool ready, std::string reason);
  bool Sleep(std::chrono::milliseconds duration, const std::function<bool()>& should_stop);

  ConsumerOptions options_;
  mongo::AuditStore& store_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<kafka::Consumer> consumer_;
  mongo::SegmentLimits segment_limits_;

  std::mutex heads_mutex_;  // the rebalance callback runs inside Poll, on the consumer thread, but be safe
  std::map<kafka::TopicPartition, mongo::ChainHead> heads_;
  std::set<std::string> known_checkpoints_;
  std::set<std::string> known_sources_;
  std::size_t batches_seen_ = 0;

  mutable std::mutex ready_mutex_;
  bool ready_ = false;
  std::string not_ready_reason_ = "starting";
};

}  // namespace ces::audit
