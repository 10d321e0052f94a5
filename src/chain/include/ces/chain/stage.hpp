#pragma once
// The chain stage (`casper-event-store chain`): reads the node topics (main, deploys, sigs) and appends
// every event the first time any node delivers it to <prefix>chain (one partition), so that the
// chain offset is one global, strictly increasing id per distinct event (docs/architecture.md "The
// chain sequence").
//
// Exactly once: each batch is one Kafka transaction holding the batch's first-seen records; a crash
// aborts the open transaction (the next instance's InitTransactions fences the old producer), so no
// record is written twice or half a batch. The consumer offsets are committed after the transactions
// (every offsets_interval): what a restart re-reads is in the seen set, hence skipped. The set
// of seen identities (16-byte digests, ces::chain::DigestOf, with 8 bytes of the payload's digest) is rebuilt at start by reading the chain
// topic's committed records. One instance at a time: a second one with the same transactional id
// fences the first.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "ces/chain/identity.hpp"
#include "ces/kafka/client.hpp"

namespace ces::metrics {
class Registry;
}

namespace ces::chain {

struct StageOptions {
  std::string brokers;
  std::string topic_prefix;
  // Consumer group of the node topics; empty: "chain-<prefix>" ("chain" without a prefix), so that
  // the stages of two pipelines never rebalance each other.
  std::string group;
  std::string transactional_id;  // empty: "casper-event-store-chain-<prefix>"
  kafka::Settings kafka_settings;  // librdkafka overrides for the consumer and the producer
  std::size_t batch_max_events = 2000;
  int replication_factor = -1;  // of the chain topic when this stage creates it
  // Snapshot file of the seen set ("" : none): written every index_interval and at shutdown, read at
  // start, so that only the chain records after it are read again. Missing or unreadable: rebuilt
  // from the whole chain topic.
  std::string index_path;
  std::chrono::milliseconds index_interval{60000};
  // The consumer offsets are committed (outside the transactions, asynchronously) at most this often,
  // and synchronously at exit or a revocation. A crash re-reads what followed the last committed
  // offsets; its events are in the chain already (their records committed), so they are seen, not
  // appended again.
  std::chrono::milliseconds offsets_interval{500};
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{10000};
};

class ChainStage {
 public:
  ChainStage(StageOptions options, metrics::Registry& registry);
  ~ChainStage();
  ChainStage(const ChainStage&) = delete;
  ChainStage& operator=(const ChainStage&) = delete;

  // Runs until should_stop() (checked at least every 200 ms). Throws when Kafka cannot be set up or the
  // producer was fenced (another instance took over).
  void Run(const std::function<bool()>& should_stop);
  bool Ready(std::string& reason) const;

 private:
  struct Metrics;
  enum class Outcome { kCommitted, kRetry, kFenced };
  // One transaction: the batch's first-seen records; then the offsets when due, or now when `flush`.
  Outcome ProcessBatch(const std::vector<kafka::Message>& batch, bool flush);
  void SetStatus(bool ready, std::string reason);
  // Loads the index file into seen_; returns the chain offset it covers (0 without a usable file).
  std::int64_t LoadIndex();
  // Writes seen_ with the chain topic's current end (no transaction is open between batches).
  void SaveIndex();

  StageOptions options_;
  std::unique_ptr<Metrics> metrics_;
  std::string chain_topic_;
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<kafka::Consumer> consumer_;
  std::map<kafka::TopicPartition, std::int64_t> pending_offsets_;  // read past, not yet committed
  std::chrono::steady_clock::time_point offsets_sent_;
  // Identity digest -> 64 bits of the payload's digest (a second payload under a seen identity is a
  // conflict: counted and logged, not appended).
  std::unordered_map<Digest, std::uint64_t, DigestHash> seen_;

  mutable std::mutex status_mutex_;
  bool ready_ = false;
  std::string reason_ = "starting";
};

}  // namespace ces::chain
