#pragma once
// The backfill runner: node JSON-RPC -> the events of each block (ces::backfill::Reconstruct) ->
// the Kafka topics `produce` writes, with produce's headers plus `origin: rpc` and `rpc-method`.
//
// * SyncRange: a height range, in height order, with a window of heights fetched concurrently. Resumable:
//   a checkpoint per range (compacted topic `backfill-checkpoints`, key "<source> <range>") holds the
//   next height whose events are not all acknowledged by Kafka; a restart continues from it. Writing a
//   height twice is harmless (the consumers merge by natural key), so at-least-once is enough.
// * RunGaps: consumes `ingest-gaps` (consumer group) and fills every gap of this node by height range,
//   committing the gap record's offset only once its range is filled.
// RPC errors are logged, counted and the height retried; a height that keeps failing ends the run
// (false) with the checkpoint before it, so nothing after a hole is marked done.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "ces/kafka/client.hpp"
#include "ces/rpc/answers.hpp"
#include "ces/rpc/result.hpp"

namespace ces::metrics {
class Registry;
}

namespace ces::backfill {

inline constexpr std::string_view kCheckpointsTopic = "backfill-checkpoints";

// Headers backfill adds to produce's (ces/ingest/record.hpp).
namespace header {
inline constexpr std::string_view kOrigin = "origin";         // "rpc"
inline constexpr std::string_view kRpcMethod = "rpc-method";  // the JSON-RPC method that gave the content
inline constexpr std::string_view kMissing = "missing";       // comma-separated fields the RPC cannot give
inline constexpr std::string_view kSubject = "subject";       // "<block hash> <subject>": with the type, the event's identity
}  // namespace header

struct RunnerOptions {
  std::string rpc_url;        // e.g. http://127.0.0.1:7777/rpc
  std::string source;         // the node's base URL as `produce --node` names it (record key and header)
  std::string brokers;
  std::string topic_prefix;
  kafka::Settings producer_settings;
  int partitions = 3;            // of main/deploys/sigs when backfill creates them (as produce)
  int replication_factor = -1;   // of created topics; -1: broker default
  std::size_t window = 64;            // heights in progress at once
  std::size_t rpc_in_flight = 8;      // requests on the wire
  double rpc_rate = 0;                // requests per second, 0 = unlimited
  std::chrono::milliseconds rpc_timeout{30000};
  int height_attempts = 5;            // a height failing this often ends the run
  std::chrono::milliseconds retry_delay{500};
  std::chrono::milliseconds checkpoint_interval{1000};
  std::string group = "backfill";     // consumer group of RunGaps
  metrics::Registry* registry = nullptr;  // default: metrics::Default()
};

struct Progress {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::uint64_t done = 0;   // heights whose events were produced
  std::uint64_t total = 0;
  double blocks_per_second = 0;
  double eta_seconds = 0;
};
using ProgressFn = std::function<void(const Progress&)>;
using StopFn = std::function<bool()>;

// The state of a range's checkpoint.
struct Checkpoint {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::uint64_t next = 0;  // first height not yet durably written
  bool Done() const { return next > last; }
};

class Runner {
 public:
  // Creates the checkpoints topic if missing and loads the checkpoints. Throws std::runtime_error when
  // Kafka cannot be reached.
  explicit Runner(RunnerOptions options);
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  rpc::Result<rpc::Status> Status();
  // Fills first..last (inclusive) under the checkpoint `key` (default "<first>-<last>"). Returns true
  // when every height is written and acknowledged; false when stopped or a height kept failing.
  bool SyncRange(std::uint64_t first, std::uint64_t last, const std::string& key, const StopFn& should_stop,
                 const ProgressFn& progress = {});
  // Consumes ingest-gaps and fills each gap of options.source until should_stop(). Returns false if it
  // had to give up on a gap (it is retried on the next start: its offset is not committed).
  bool RunGaps(const StopFn& should_stop, const ProgressFn& progress = {});

  std::optional<Checkpoint> FindCheckpoint(const std::string& key) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The default RPC endpoint of a node: its host on port 7777, path /rpc.
std::string DefaultRpcUrl(const std::string& node);

}  // namespace ces::backfill
