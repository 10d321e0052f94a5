#pragma once
// store-consume: Kafka (main, deploys, sigs) -> ces::model rows -> PostgreSQL, exactly once.
//
// Each polled batch is parsed and applied in ONE transaction together with the Kafka positions of
// its partitions (consumer_positions, compare-and-set on the position the batch started from). On
// assignment the consumer seeks to the stored positions, so a crash at any point, an in-doubt
// commit or a failover that lost recent commits neither loses nor doubles anything: a batch whose
// positions do not match is discarded and reading resumes from what the database holds.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "ces/kafka/client.hpp"

namespace ces::metrics {
class Registry;
}

namespace ces::store {

struct ConsumerOptions {
  std::string brokers = "127.0.0.1:9092";
  std::string topic_prefix;
  std::string postgres;
  std::string node_rpc;  // optional: 1.x era rewards without a Step, 2.x per-delegator rewards
  std::string group = "store-consumer";
  kafka::Settings kafka_settings;
  bool migrate = false;
  std::size_t max_batch = 5000;
  // A batch ends once its records' values reach this many bytes: half the read-ahead, so the batch
  // being written and the one being parsed hold about one read-ahead, not 5000 large records.
  std::size_t max_batch_bytes = kafka::kPrefetchBytes / 2;
  // A batch with at least this many payload bytes is parsed in two halves on two threads (0: never).
  std::size_t parse_split_bytes = 4u << 20;
  std::chrono::milliseconds poll_timeout{100};
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{5000};
  std::chrono::milliseconds startup_timeout{30000};  // PostgreSQL must answer within this at start
  std::chrono::milliseconds rewards_interval{2000};
};

class StoreConsumer {
 public:
  StoreConsumer(ConsumerOptions options, metrics::Registry& registry);
  ~StoreConsumer();
  StoreConsumer(const StoreConsumer&) = delete;
  StoreConsumer& operator=(const StoreConsumer&) = delete;

  // Connects to PostgreSQL (retrying up to startup_timeout, or until should_stop() returns true),
  // migrates (options.migrate) or checks the schema version. Throws std::runtime_error on failure.
  void Start(const std::function<bool()>& should_stop);
  // Consumes until should_stop() returns true (asked between batches and every 100 ms of a wait),
  // then commits the Kafka offsets of what is stored and leaves the group. The era-rewards thread Run
  // starts (and joins before returning) asks it too: it must be thread-safe.
  void Run(const std::function<bool()>& should_stop);
  // For /readyz: PostgreSQL reachable and subscribed to Kafka.
  bool Ready(std::string& reason) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ces::store
