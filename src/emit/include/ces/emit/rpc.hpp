#pragma once
// The fake node's JSON-RPC endpoint (`emit --rpc`): POST /rpc answered from the same recordings the
// node streams. A BlockAdded plus the FinalitySignatures of its block give chain_get_block (2.x: the
// versioned block and its proofs; 1.x: the JsonBlock with its proofs filled in); an Accepted event
// plus its Processed event give info_get_transaction / info_get_deploy. Only what the time model has
// published is served (a block whose BlockAdded is not yet out is "No such block"). Answers are
// compact JSON in the node's key order; unknown blocks and hashes get the node's error codes.

#include <chrono>
#include <cstdint>
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ces/emit/node.hpp"

namespace ces::emit {

// JSON-RPC error codes of casper-node 1.5 / casper-sidecar 2.0 that the fake node answers with.
namespace rpc_code {
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kNoSuchDeploy = -32000;
inline constexpr int kNoSuchBlock = -32001;
inline constexpr int kQueryFailed = -32003;
inline constexpr int kNoSuchTransaction = -32014;
inline constexpr int kNoRewardsFound = -32022;
}  // namespace rpc_code

// Fault injection (emit --rpc-fault-every N): every Nth request gets, in turn, an HTTP 500, a JSON
// answer cut in the middle, a JSON-RPC internal error (-32603) and an answer delayed by `delay`.
struct RpcFaults {
  std::uint64_t every = 0;  // 0: none
  std::chrono::milliseconds delay{2000};
};

class RpcNode {
 public:
  // Indexes the node's recordings (the first cycle of a looped timeline). `node` must outlive this.
  explicit RpcNode(const Node& node, RpcFaults faults = {});
  RpcNode(const RpcNode&) = delete;
  RpcNode& operator=(const RpcNode&) = delete;

  // Adds POST /rpc and makes /status report available_block_range.
  void Register(http::Server& server, Node& node);
  // The JSON-RPC response body for a request body at `now` (always a JSON-RPC envelope).
  std::string Answer(std::string_view request, std::chrono::steady_clock::time_point now) const;

  // Lowest and highest height whose block is published at `now`; nullopt when none is.
  std::optional<std::pair<std::uint64_t, std::uint64_t>> BlockRange(std::chrono::steady_clock::time_point now) const;
  // The chain name: the recorded transactions' or a public network's whose hash the 2.x signatures
  // carry, else the first `chain_name` of a recorded transaction, else the node's chainspec name.
  const std::string& chain_name() const { return chain_name_; }
  std::size_t blocks() const { return blocks_.size(); }
  std::size_t transactions() const { return transactions_.size(); }

  struct BlockEntry {
    std::string hash;
    std::uint64_t height = 0;
    std::uint64_t era_id = 0;
    std::string timestamp;
    std::string_view block;  // 2.x: the versioned block; 1.x: the JsonBlock (proofs [])
    std::uint64_t index = 0;  // timeline index of its BlockAdded
    std::vector<std::pair<std::string_view, std::string_view>> proofs;  // public key, signature
  };
  struct TransactionEntry {
    std::string tag;               // 2.x: Deploy | Version1; 1.x: Deploy
    std::string_view body;         // the Deploy / TransactionV1 object
    std::string block_hash;        // empty until processed
    std::optional<std::uint64_t> height;
    std::string_view result;       // the execution result
    std::uint64_t accepted_index = 0;
    std::uint64_t processed_index = 0;
  };

 private:
  void Index(std::string_view payload, std::uint64_t index);
  bool Published(std::uint64_t index, std::chrono::steady_clock::time_point now) const;
  const BlockEntry* FindBlock(std::uint64_t height, std::chrono::steady_clock::time_point now) const;

  const Node& node_;
  RpcFaults faults_;
  std::atomic<std::uint64_t> requests_{0};
  int major_ = 2;
  std::string api_version_;
  std::string chain_name_;
  std::string chain_name_hash_;            // of the first 2.x signature
  std::vector<std::string> chain_names_;   // the chain_name values of recorded transactions
  std::map<std::uint64_t, BlockEntry> blocks_;
  std::unordered_map<std::string, std::uint64_t> height_by_hash_;
  std::unordered_map<std::string, std::vector<std::pair<std::string_view, std::string_view>>> pending_proofs_;
  std::unordered_map<std::string, TransactionEntry> transactions_;
};

}  // namespace ces::emit
