#pragma once
// The node JSON-RPC calls store-consume needs (era rewards the events do not carry), over libcurl.

#include <chrono>
#include <cstdint>
#include <string>

namespace ces::store {

struct RpcResponse {
  bool ok = false;       // HTTP 200 with a body
  long status = 0;       // HTTP status, 0 when the request did not complete
  std::string body;
  std::string error;     // transport error or HTTP status text
};

// POSTs a JSON-RPC 2.0 request {"method", "params"} to `url` (e.g. http://node:7777/rpc).
RpcResponse CallRpc(const std::string& url, const std::string& method, const std::string& params_json,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10));

// params of chain_get_era_info_by_switch_block (1.x) and chain_get_era_summary (2.x) for a switch block hash.
std::string EraInfoBySwitchBlockParams(const std::string& block_hash);

}  // namespace ces::store
