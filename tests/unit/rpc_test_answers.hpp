#pragma once
// Builds JSON-RPC answers the way a Casper node writes them (compact serde JSON, result fields in the
// node's order), from parts of recorded SSE events. Parts are cut out of the recordings with simdjson's
// on-demand raw_json, independently of the reader inside ces::rpc.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <simdjson.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "test_support.hpp"

namespace ces::rpc::test {

// The example result of `method` in an OpenRPC schema of the recordings ("v1/rpc_schema_hashing.json",
// "v2/rpc_schema.json"), as compact JSON in the schema's key order.
inline std::string ExampleResult(const std::string& schema, const std::string& method) {
  const auto doc = nlohmann::ordered_json::parse(ces::test::ReadFile(ces::test::RecordingsDir() + "/schema/" + schema));
  for (const auto& m : doc["methods"]) {
    if (m["name"] == method) return m["examples"][0]["result"]["value"].dump();
  }
  ADD_FAILURE() << method << " not in " << schema;
  return "{}";
}

inline constexpr const char* kV1Schema = "v1/rpc_schema_hashing.json";
inline constexpr const char* kV2Schema = "v2/rpc_schema.json";

// The raw JSON text of the value at `path` (object keys) in `json`.
inline std::string RawAt(std::string_view json, std::initializer_list<std::string_view> path) {
  simdjson::ondemand::parser parser;
  simdjson::padded_string padded(json);
  simdjson::ondemand::document doc = parser.iterate(padded);
  simdjson::ondemand::value value = doc.get_value();
  for (std::string_view key : path) value = value.find_field_unordered(key).value();
  switch (value.type().value()) {
    case simdjson::ondemand::json_type::object: return std::string(value.get_object().value().raw_json().value());
    case simdjson::ondemand::json_type::array: return std::string(value.get_array().value().raw_json().value());
    default: {
      std::string_view token = value.raw_json_token();
      while (!token.empty() && (token.back() == ' ' || token.back() == '\n' || token.back() == '\r' ||
                                token.back() == '\t')) {
        token.remove_suffix(1);
      }
      return std::string(token);
    }
  }
}

// The unescaped string at `path`.
inline std::string StringAt(std::string_view json, std::initializer_list<std::string_view> path) {
  std::string raw = RawAt(json, path);
  return raw.size() >= 2 ? raw.substr(1, raw.size() - 2) : raw;
}

inline std::string Envelope(const std::string& result, std::int64_t id = 1) {
  return "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(id) + ",\"result\":" + result + "}";
}

inline std::string ErrorEnvelope(std::int64_t code, const std::string& message, std::int64_t id = 1) {
  return "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(id) + ",\"error\":{\"code\":" + std::to_string(code) +
         ",\"message\":\"" + message + "\",\"data\":null}}";
}

using Proofs = std::vector<std::pair<std::string, std::string>>;  // public key, signature

inline std::string ProofsJson(const Proofs& proofs) {
  std::string out = "[";
  for (const auto& [key, signature] : proofs) {
    if (out.size() > 1) out += ',';
    out += "{\"public_key\":\"" + key + "\",\"signature\":\"" + signature + "\"}";
  }
  return out + "]";
}

// 2.x chain_get_block: {"api_version","block_with_signatures":{"block":<versioned block>,"proofs":[…]}}.
inline std::string BlockAnswerV2(const std::string& versioned_block, const Proofs& proofs, std::int64_t id = 1) {
  return Envelope("{\"api_version\":\"2.0.0\",\"block_with_signatures\":{\"block\":" + versioned_block +
                      ",\"proofs\":" + ProofsJson(proofs) + "}}",
                  id);
}

// 1.x chain_get_block: {"api_version","block":<JsonBlock with its proofs>}. `json_block` is a block as
// the 1.x stream carries it (proofs []); its proofs are replaced.
inline std::string BlockAnswerV1(std::string json_block, const Proofs& proofs, std::int64_t id = 1) {
  const std::string empty = ",\"proofs\":[]}";
  if (json_block.size() >= empty.size() && json_block.compare(json_block.size() - empty.size(), empty.size(), empty) == 0) {
    json_block.replace(json_block.size() - empty.size(), empty.size(), ",\"proofs\":" + ProofsJson(proofs) + "}");
  }
  return Envelope("{\"api_version\":\"1.4.7\",\"block\":" + json_block + "}", id);
}

// 1.x info_get_deploy: {"api_version","deploy","execution_results":[{"block_hash","result"}…]}.
inline std::string DeployAnswerV1(const std::string& deploy, const std::vector<std::pair<std::string, std::string>>& results,
                                  std::int64_t id = 1) {
  std::string list = "[";
  for (const auto& [block_hash, result] : results) {
    if (list.size() > 1) list += ',';
    list += "{\"block_hash\":\"" + block_hash + "\",\"result\":" + result + "}";
  }
  list += "]";
  return Envelope("{\"api_version\":\"1.4.8\",\"deploy\":" + deploy + ",\"execution_results\":" + list + "}", id);
}

// 2.x info_get_transaction: {"api_version","transaction":{<tag>:…},"execution_info":{…}}.
inline std::string TransactionAnswerV2(const std::string& tag, const std::string& transaction,
                                       const std::string& block_hash, std::uint64_t height, const std::string& result,
                                       std::int64_t id = 1) {
  return Envelope("{\"api_version\":\"2.0.0\",\"transaction\":{\"" + tag + "\":" + transaction +
                      "},\"execution_info\":{\"block_hash\":\"" + block_hash + "\",\"block_height\":" +
                      std::to_string(height) + ",\"execution_result\":" + result + "}}",
                  id);
}

// 2.x info_get_deploy: {"api_version","deploy","execution_info":{…}}.
inline std::string DeployAnswerV2(const std::string& deploy, const std::string& block_hash, std::uint64_t height,
                                  const std::string& result, std::int64_t id = 1) {
  return Envelope("{\"api_version\":\"2.0.0\",\"deploy\":" + deploy + ",\"execution_info\":{\"block_hash\":\"" +
                      block_hash + "\",\"block_height\":" + std::to_string(height) +
                      ",\"execution_result\":" + result + "}}",
                  id);
}

}  // namespace ces::rpc::test
