#pragma once
// JSON-RPC 2.0 client for a Casper node (1.x node or 2.x sidecar, e.g. http://host:7777/rpc).
//
// One I/O thread per client drives every HTTP exchange (libcurl multi, connections kept and reused).
// Calls are queued and started while fewer than `max_in_flight` are running and the token bucket
// (`rate` requests/s, every attempt counts) allows. Transport errors, HTTP 5xx/429 and invalid or
// truncated JSON are retried up to `max_attempts` per call with capped exponential backoff and
// jitter; anything else ends the call at once. Every call ends exactly once, with a value or an Error.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ces/rpc/answers.hpp"
#include "ces/rpc/result.hpp"

namespace ces::metrics {
class Registry;
}

namespace ces::rpc {

struct ClientOptions {
  std::string url;  // the node's JSON-RPC endpoint, e.g. http://10.0.0.5:7777/rpc
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds timeout{30000};  // one attempt, from start to last byte
  int max_attempts = 4;                      // per call, >= 1
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{5000};
  std::size_t max_in_flight = 4;  // requests on the wire at once (= connections), >= 1
  double rate = 0;                // requests per second over the whole client; 0 = unlimited
  double burst = 1;               // token bucket size (requests that may start back to back)
  std::size_t max_response_bytes = 256u << 20;
  std::string user_agent = "casper-event-store";
  metrics::Registry* registry = nullptr;  // default: metrics::Default()
};

// Metric families (label `method`; errors also `kind`, retries `reason`):
//   ces_rpc_requests_total, ces_rpc_errors_total, ces_rpc_retries_total,
//   ces_rpc_request_duration_seconds (one attempt), ces_rpc_in_flight, ces_rpc_queued.

class Client {
 public:
  template <class T>
  using Callback = std::function<void(Result<T>)>;

  // Throws std::invalid_argument for bad options (empty url, max_attempts < 1, …).
  explicit Client(ClientOptions options);
  // Ends every pending call with kCancelled (their callbacks run) and stops the I/O thread.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Asynchronous calls. `done` runs once, on the client's I/O thread: it must not block, and it may
  // start further calls.
  void GetStatusAsync(Callback<Status> done);
  void GetBlockAsync(std::uint64_t height, Callback<Block> done);
  void GetTransactionAsync(const TransactionId& id, Callback<Transaction> done);  // info_get_transaction (2.x)
  void GetDeployAsync(const std::string& deploy_hash, Callback<Transaction> done);  // info_get_deploy
  void GetEraSummaryAsync(std::uint64_t height, Callback<EraSummary> done);         // chain_get_era_summary (2.x)
  void GetEraInfoBySwitchBlockAsync(std::uint64_t height,                            // 1.x
                                    Callback<std::optional<EraSummary>> done);
  void GetRewardAsync(const RewardQuery& query, Callback<Reward> done);  // info_get_reward (2.x)

  // Blocking forms, for any thread but the I/O thread (calling them from a callback aborts).
  Result<Status> GetStatus();
  Result<Block> GetBlock(std::uint64_t height);
  Result<Transaction> GetTransaction(const TransactionId& id);
  Result<Transaction> GetDeploy(const std::string& deploy_hash);
  Result<EraSummary> GetEraSummary(std::uint64_t height);
  Result<std::optional<EraSummary>> GetEraInfoBySwitchBlock(std::uint64_t height);
  Result<Reward> GetReward(const RewardQuery& query);

  // The blocks first..last (inclusive), fetched concurrently within the client's limits; results
  // in height order.
  std::vector<Result<Block>> GetBlocks(std::uint64_t first, std::uint64_t last);

  // Ends every queued and running call with kCancelled; later calls end with kCancelled at once.
  void Cancel();

  const ClientOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ces::rpc
