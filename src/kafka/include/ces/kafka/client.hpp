#pragma once
// RAII wrapper over librdkafka (C API): an idempotent producer with per-message delivery callbacks,
// topic creation, whole-topic reads, watermark queries and a consumer-group member. librdkafka types
// stay out of this header.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ces::kafka {

using Settings = std::map<std::string, std::string>;

struct Header {
  std::string key;
  std::string value;
};

// Largest record the pipeline accepts (multi-MB Step events, 32 MiB test events, headroom).
inline constexpr std::size_t kMaxRecordBytes = 64u * 1024u * 1024u;

// Memory bounds of the clients (docs/operations.md "Memory"). A consumer asks for at most kFetchBytes
// per fetch (kPartitionFetchBytes per partition) and pre-fetches while less than kPrefetchBytes wait in
// its queue. A record larger than a fetch still comes (the broker returns the first record batch of a
// fetch whole, up to receive.message.max.bytes, which stays above kMaxRecordBytes): only a large record
// that is actually fetched takes that much memory. A producer holds at most kProducerQueueBytes of
// record values not yet acknowledged; one larger record is taken when nothing else is queued.
inline constexpr std::size_t kFetchBytes = 4u * 1024u * 1024u;
inline constexpr std::size_t kPartitionFetchBytes = 1024u * 1024u;
inline constexpr std::size_t kPrefetchBytes = 8u * 1024u * 1024u;
inline constexpr std::size_t kProducerQueueBytes = 16u * 1024u * 1024u;

struct DeliveryReport {
  bool ok = false;
  std::string error;       // librdkafka's message when !ok
  bool permanent = false;  // the error cannot go away by retrying the same record (e.g. too large)
  std::int32_t partition = -1;
  std::int64_t offset = -1;
};
using DeliveryCallback = std::function<void(const DeliveryReport&)>;

// Applies `prefix` to a topic name ("" -> "main", "prod." -> "prod.main").
inline std::string TopicName(std::string_view prefix, std::string_view name) {
  return std::string(prefix) + std::string(name);
}

struct TopicPartition {
  std::string topic;
  std::int32_t partition = 0;
  bool operator<(const TopicPartition& o) const {
    return topic != o.topic ? topic < o.topic : partition < o.partition;
  }
  bool operator==(const TopicPartition& o) const = default;
};

class Consumer;

// The outcome of a transaction call: ok, or an error that aborting the transaction cures
// (`abortable`), that retrying the same call may cure (`retriable`), or that ends the producer
// (`fatal`, e.g. fenced by a newer instance with the same transactional.id).
struct TxnStatus {
  bool ok = true;
  bool retriable = false;
  bool abortable = false;
  bool fatal = false;
  std::string error;
};

class Producer {
 public:
  // `settings` override the defaults (acks=all, idempotence, lz4, 64 MiB messages). Throws on bad config.
  Producer(const std::string& brokers, const Settings& settings = {});
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Enqueues a record (the value is copied). While the local queue is full (librdkafka's limits, or
  // kProducerQueueBytes of values not yet acknowledged) it serves delivery reports and retries; gives up
  // (returns false) only if `should_stop` becomes true. `on_delivery` runs on the
  // thread that calls Poll/Flush (the producer's poller), exactly once.
  bool Produce(std::string_view topic, std::string_view key, std::string_view value,
               const std::vector<Header>& headers, DeliveryCallback on_delivery,
               const std::function<bool()>& should_stop = {});
  // Serves delivery reports for up to `timeout`.
  void Poll(std::chrono::milliseconds timeout);
  // Waits until every queued record is delivered or failed. Returns false on timeout.
  bool Flush(std::chrono::milliseconds timeout);
  std::size_t QueueLength() const;
  // True when the last error callback said every broker is down (cleared by a successful delivery).
  bool AllBrokersDown() const;

  // Transactions (the producer must have `transactional.id` in its settings). InitTransactions fences
  // any earlier producer with the same id and aborts its open transaction; throws on failure.
  void InitTransactions(std::chrono::milliseconds timeout);
  TxnStatus BeginTransaction();
  // Adds the consumer's next offsets to the open transaction: they are committed for the consumer's
  // group if and only if the transaction commits.
  TxnStatus SendOffsetsToTransaction(const std::map<TopicPartition, std::int64_t>& next_offsets,
                                     const Consumer& consumer, std::chrono::milliseconds timeout);
  // Flushes the transaction's records and commits them with the offsets.
  TxnStatus CommitTransaction(std::chrono::milliseconds timeout);
  TxnStatus AbortTransaction(std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct TopicSpec {
  std::string name;
  int partitions = 3;
  int replication_factor = -1;  // -1: the broker's default.replication.factor
  Settings config;              // topic-level settings, e.g. cleanup.policy, max.message.bytes
};

// Creates the topics that do not exist yet; existing topics are left as they are. The admin handle takes
// the connection settings of `settings` (see HighWatermarks). Throws std::runtime_error naming the topic and
// the broker's error on any other failure, and at once (not after `timeout`) when the brokers refuse the
// client's credentials or certificate.
void EnsureTopics(const std::string& brokers, const Settings& settings, const std::vector<TopicSpec>& topics,
                  std::chrono::milliseconds timeout = std::chrono::seconds(30));

struct Message {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::int64_t timestamp_ms = 0;
  std::optional<std::string> key;
  std::string value;
  std::vector<Header> headers;

  // First header with this name, or nullptr.
  const std::string* HeaderValue(std::string_view name) const;
};

// Reads every record of `topic` (all partitions) from the earliest offset up to the high watermarks
// seen at the call, through a handle that takes the connection settings of `settings` (see HighWatermarks).
// Throws std::runtime_error on failure or timeout, at once when the brokers refuse the client's credentials
// or certificate.
std::vector<Message> ReadAll(const std::string& brokers, const Settings& settings, const std::string& topic,
                             std::chrono::milliseconds timeout = std::chrono::seconds(60));
// The same walk from offset `from_offset` of each partition (or its earliest), handing each record to
// `on_message` instead of keeping them (committed records only: isolation.level=read_committed).
// Connection settings and refusals as for ReadAll. Returns the number of records read.
std::size_t ReadEach(const std::string& brokers, const std::string& topic, const Settings& settings,
                     std::int64_t from_offset, const std::function<void(const Message&)>& on_message,
                     std::chrono::milliseconds timeout = std::chrono::seconds(600));

// The high watermark (the offset after the last record) of each partition in `partitions`, asked through
// a short-lived metadata handle on `brokers` that takes only the connection settings of `settings`
// (security.*, sasl.*, ssl.*, client.id, broker.address.family: consumer settings would not apply to it).
// A partition whose query fails (or every one, when no handle can be made) is missing from the result;
// each failure is logged. Never throws for Kafka errors.
std::map<TopicPartition, std::int64_t> HighWatermarks(const std::string& brokers, const Settings& settings,
                                                      const std::vector<TopicPartition>& partitions,
                                                      std::chrono::milliseconds timeout = std::chrono::seconds(10));

// The offset `group` committed on each partition in `partitions` (the next record it reads), asked through
// a short-lived consumer handle with that group id that joins nothing (connection settings as for
// HighWatermarks). A partition where the group committed nothing, or whose query failed, is missing from
// the result; each failure is logged. Never throws for Kafka errors.
std::map<TopicPartition, std::int64_t> CommittedOffsets(const std::string& brokers, const Settings& settings,
                                                        const std::string& group,
                                                        const std::vector<TopicPartition>& partitions,
                                                        std::chrono::milliseconds timeout = std::chrono::seconds(10));

// For each partition, the offset of its first record with a timestamp at or after `unix_ms`, or its
// high watermark (taken before that query) when it has none: where a reader that must see everything
// that happened since `unix_ms` starts. Same handle, settings and failure rules as HighWatermarks.
std::map<TopicPartition, std::int64_t> OffsetsSince(const std::string& brokers, const Settings& settings,
                                                    const std::vector<TopicPartition>& partitions, std::int64_t unix_ms,
                                                    std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Where to start reading a partition after an assignment: an offset, or (nullopt) the group's
// committed offset / auto.offset.reset.
using StartOffsets = std::map<TopicPartition, std::int64_t>;

struct RebalanceHooks {
  // Called with newly assigned partitions before reading starts; may return explicit start offsets
  // (e.g. positions stored transactionally with the data).
  std::function<StartOffsets(const std::vector<TopicPartition>&)> on_assign;
  // Called before partitions are taken away (finish or abandon the current batch).
  std::function<void(const std::vector<TopicPartition>&)> on_revoke;
};

// How long Subscribe waits for the metadata of its topics to be complete.
inline constexpr std::chrono::milliseconds kSubscribeMetadataWait{10000};

// A consumer-group member with manual offset commits (enable.auto.commit=false): the caller commits
// after its batch is durably written, so delivery is at least once.
class Consumer {
 public:
  Consumer(const std::string& brokers, const std::string& group_id, const Settings& settings = {});
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // Subscribes once the metadata shows every topic complete (see WaitForTopics), or after
  // kSubscribeMetadataWait when some topic does not exist yet (it is picked up once created).
  void Subscribe(const std::vector<std::string>& topics, RebalanceHooks hooks = {});
  // Up to `max_messages` records (and no more once their values reach `max_bytes`), waiting at most
  // `timeout` for the first and then taking whatever is already fetched. Consumer errors are logged and skipped (librdkafka retries by itself), except those
  // retrying cannot cure (credentials or certificate refused, a missing ACL): they throw std::runtime_error.
  std::vector<Message> Poll(std::size_t max_messages, std::chrono::milliseconds timeout,
                            std::size_t max_bytes = SIZE_MAX);
  // Commits, for each partition, the offset of the next record to read. Returns false (with `error`)
  // if the commit failed (e.g. the partition was revoked meanwhile).
  bool Commit(const std::map<TopicPartition, std::int64_t>& next_offsets, std::string& error);
  // The same without waiting for the broker (a failure is logged; a later commit covers it).
  void CommitAsync(const std::map<TopicPartition, std::int64_t>& next_offsets);
  // Rewinds a partition (e.g. to re-read a batch that could not be written).
  void Seek(const TopicPartition& tp, std::int64_t offset);
  std::vector<TopicPartition> Assignment() const;
  void Close();

 private:
  friend class Producer;  // its transactions take this consumer's group metadata
  void WaitForTopics(const std::vector<std::string>& topics, std::chrono::milliseconds timeout);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ces::kafka
