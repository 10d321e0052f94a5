#include "ces/emit/rpc.hpp"

#include <simdjson.h>

#include <algorithm>
#include <thread>

#include <nlohmann/json.hpp>

#include "ces/backfill/events.hpp"
#include "ces/common/log.hpp"
#include "ces/http/server.hpp"

namespace ces::emit {
namespace {

using SteadyClock = std::chrono::steady_clock;
namespace od = simdjson::ondemand;

// The payload bytes of a value parsed from a padded copy of `payload`.
std::string_view Slice(std::string_view payload, const simdjson::padded_string& copy, std::string_view raw) {
  return payload.substr(static_cast<std::size_t>(raw.data() - copy.data()), raw.size());
}

std::string_view RawOf(od::value value) {
  switch (value.type().value()) {
    case od::json_type::object: return value.get_object().value().raw_json().value();
    case od::json_type::array: return value.get_array().value().raw_json().value();
    default: {
      std::string_view token = value.raw_json_token();
      while (!token.empty() && (token.back() == ' ' || token.back() == '\n' || token.back() == '\r' ||
                                token.back() == '\t')) {
        token.remove_suffix(1);
      }
      return token;
    }
  }
}

std::string Quoted(std::string_view text) { return nlohmann::json(std::string(text)).dump(); }

std::string Envelope(const std::string& id, const std::string& result) {
  return "{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"result\":" + result + "}";
}

std::string ErrorEnvelope(const std::string& id, int code, std::string_view message) {
  return "{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"error\":{\"code\":" + std::to_string(code) +
         ",\"message\":" + Quoted(message) + "}}";
}

std::string ProofsJson(const std::vector<std::pair<std::string_view, std::string_view>>& proofs) {
  std::string out = "[";
  for (const auto& [key, signature] : proofs) {
    if (out.size() > 1) out += ',';
    out += "{\"public_key\":\"";
    out += key;
    out += "\",\"signature\":\"";
    out += signature;
    out += "\"}";
  }
  return out + "]";
}

// A 64-hex-digit hash parameter (either case), lower-cased; empty when it is not one.
std::string HashParam(const nlohmann::json& value) {
  if (!value.is_string()) return {};
  std::string hash = value.get<std::string>();
  if (hash.size() != 64) return {};
  for (char& c : hash) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return {};
  }
  return hash;
}

}  // namespace

RpcNode::RpcNode(const Node& node, RpcFaults faults) : node_(node), faults_(faults) {
  api_version_ = node.api_version();
  major_ = node.streams().front().recording.api_major();
  const Timeline& timeline = node.timeline();
  for (std::size_t s = 0; s < node.streams().size(); ++s) {
    const Recording& recording = node.streams()[s].recording;
    for (Timeline::Cursor c = timeline.Seek(s, 0); c.valid && c.cycle == 0; timeline.Advance(s, c)) {
      const RecordedEvent& event = timeline.EventAt(s, c);
      if (event.shutdown) continue;
      Index(recording.Payload(event), c.index);
    }
  }
  for (auto& [hash, proofs] : pending_proofs_) {
    auto it = height_by_hash_.find(hash);
    if (it == height_by_hash_.end()) continue;
    auto& target = blocks_[it->second].proofs;
    target.insert(target.end(), proofs.begin(), proofs.end());
  }
  pending_proofs_.clear();
  // 2.x signatures carry the hash of the chain name: the name is the candidate that hashes to it (a
  // transaction's chain_name, or a public network's); without signatures, a transaction's chain_name.
  if (!chain_name_hash_.empty()) {
    std::vector<std::string> candidates = chain_names_;
    for (const char* known : {"casper", "casper-test", "casper-net-1", "casper-integration-test"}) candidates.emplace_back(known);
    for (const std::string& name : candidates) {
      if (backfill::ChainNameHash(name) == chain_name_hash_) {
        chain_name_ = name;
        break;
      }
    }
  }
  if (chain_name_.empty() && !chain_names_.empty()) chain_name_ = chain_names_.front();
  if (chain_name_.empty()) chain_name_ = node.chainspec_name();
  log::Info("rpc index", {{"blocks", static_cast<std::uint64_t>(blocks_.size())},
                          {"transactions", static_cast<std::uint64_t>(transactions_.size())},
                          {"chain_name", chain_name_}});
}

// Indexes one recorded event. Payloads that do not parse or lack a field are left out of the RPC
// (the stream still serves them).
void RpcNode::Index(std::string_view payload, std::uint64_t index) {
  simdjson::padded_string copy(payload);
  od::parser parser;
  od::document doc;
  if (parser.iterate(copy).get(doc)) return;
  od::object top;
  if (doc.get_object().get(top)) return;
  try {
    for (auto field : top) {
      const std::string_view type = field.unescaped_key().value();
      od::value value = field.value().value();
      if (type == "BlockAdded") {
        BlockEntry block;
        od::object added = value.get_object().value();
        block.hash = std::string(added.find_field("block_hash").get_string().value());
        od::value versioned = added.find_field("block").value();
        od::object inner = versioned.get_object().value();
        std::string_view raw = inner.raw_json().value();
        block.block = Slice(payload, copy, raw);
        od::object header;
        if (major_ >= 2) {
          inner.reset();
          auto variant = *inner.begin();
          header = variant.value().get_object().value().find_field("header").get_object().value();
        } else {
          inner.reset();
          header = inner.find_field("header").get_object().value();
        }
        block.timestamp = std::string(header.find_field_unordered("timestamp").get_string().value());
        block.era_id = header.find_field_unordered("era_id").get_uint64().value();
        block.height = header.find_field_unordered("height").get_uint64().value();
        block.index = index;
        height_by_hash_[block.hash] = block.height;
        const std::uint64_t height = block.height;
        blocks_[height] = std::move(block);
      } else if (type == "FinalitySignature") {
        od::object sig = value.get_object().value();
        if (major_ >= 2) {
          auto variant = *sig.begin();
          sig = variant.value().get_object().value();
        }
        std::string hash(sig.find_field_unordered("block_hash").get_string().value());
        if (major_ >= 2 && chain_name_hash_.empty()) {
          std::string_view name_hash;
          if (!sig.find_field_unordered("chain_name_hash").get_string().get(name_hash)) chain_name_hash_ = std::string(name_hash);
        }
        std::string_view key = RawOf(sig.find_field_unordered("public_key").value());
        std::string_view signature = RawOf(sig.find_field_unordered("signature").value());
        key = Slice(payload, copy, key.substr(1, key.size() - 2));
        signature = Slice(payload, copy, signature.substr(1, signature.size() - 2));
        pending_proofs_[hash].emplace_back(key, signature);
      } else if (type == "TransactionAccepted" || type == "DeployAccepted") {
        TransactionEntry tx;
        od::object body;
        if (type == "TransactionAccepted") {
          auto variant = *value.get_object().value().begin();
          tx.tag = std::string(variant.unescaped_key().value());
          body = variant.value().get_object().value();
        } else {
          tx.tag = "Deploy";
          body = value.get_object().value();
        }
        tx.body = Slice(payload, copy, body.raw_json().value());
        body.reset();
        std::string hash(body.find_field_unordered("hash").get_string().value());
        if (chain_names_.size() < 8) {
          const std::string_view text = tx.body;
          const auto at = text.find("\"chain_name\":\"");
          if (at != std::string_view::npos) {
            const auto start = at + 14;
            std::string name(text.substr(start, text.find('"', start) - start));
            if (std::find(chain_names_.begin(), chain_names_.end(), name) == chain_names_.end()) chain_names_.push_back(name);
          }
        }
        tx.accepted_index = index;
        auto& entry = transactions_[hash];
        const std::string block_hash = entry.block_hash;
        const auto result = entry.result;
        const auto processed_index = entry.processed_index;
        entry = std::move(tx);
        entry.block_hash = block_hash;
        entry.result = result;
        entry.processed_index = processed_index;
      } else if (type == "TransactionProcessed" || type == "DeployProcessed") {
        od::object processed = value.get_object().value();
        std::string hash;
        if (type == "TransactionProcessed") {
          auto variant = *processed.find_field_unordered("transaction_hash").get_object().value().begin();
          hash = std::string(variant.value().get_string().value());
        } else {
          hash = std::string(processed.find_field_unordered("deploy_hash").get_string().value());
        }
        auto& entry = transactions_[hash];
        entry.block_hash = std::string(processed.find_field_unordered("block_hash").get_string().value());
        entry.result = Slice(payload, copy, RawOf(processed.find_field_unordered("execution_result").value()));
        entry.processed_index = index;
      }
      break;  // one event per payload
    }
  } catch (const simdjson::simdjson_error&) {
    // Not a shape the RPC serves; the stream still has it.
  }
}

bool RpcNode::Published(std::uint64_t index, SteadyClock::time_point now) const { return index < node_.Published(now); }

const RpcNode::BlockEntry* RpcNode::FindBlock(std::uint64_t height, SteadyClock::time_point now) const {
  auto it = blocks_.find(height);
  if (it == blocks_.end() || !Published(it->second.index, now)) return nullptr;
  return &it->second;
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> RpcNode::BlockRange(SteadyClock::time_point now) const {
  std::optional<std::pair<std::uint64_t, std::uint64_t>> range;
  for (const auto& [height, block] : blocks_) {
    if (!Published(block.index, now)) continue;
    if (!range) range.emplace(height, height);
    range->second = height;
  }
  return range;
}

std::string RpcNode::Answer(std::string_view request, SteadyClock::time_point now) const {
  nlohmann::json json = nlohmann::json::parse(request, nullptr, false);
  if (json.is_discarded()) return ErrorEnvelope("null", rpc_code::kParseError, "Parse error");
  if (!json.is_object() || !json.contains("method") || !json["method"].is_string()) {
    return ErrorEnvelope("null", rpc_code::kInvalidRequest, "Invalid Request");
  }
  const std::string id = json.contains("id") ? json["id"].dump() : "null";
  const std::string method = json["method"].get<std::string>();
  const nlohmann::json params = json.contains("params") ? json["params"] : nlohmann::json::object();
  const std::string head = "{\"api_version\":" + Quoted(api_version_) + ",";
  auto invalid = [&](std::string_view what) { return ErrorEnvelope(id, rpc_code::kInvalidParams, what); };

  // The block named by params.block_identifier (Height or Hash), or the highest published one.
  auto block_param = [&](const BlockEntry*& block) -> bool {
    block = nullptr;
    if (!params.is_object() || !params.contains("block_identifier") || params["block_identifier"].is_null()) {
      if (auto range = BlockRange(now)) block = FindBlock(range->second, now);
      return true;
    }
    const nlohmann::json& ident = params["block_identifier"];
    if (ident.is_object() && ident.contains("Height") && ident["Height"].is_number_unsigned()) {
      block = FindBlock(ident["Height"].get<std::uint64_t>(), now);
      return true;
    }
    if (ident.is_object() && ident.contains("Hash")) {
      const std::string hash = HashParam(ident["Hash"]);
      if (hash.empty()) return false;
      auto it = height_by_hash_.find(hash);
      if (it != height_by_hash_.end()) block = FindBlock(it->second, now);
      return true;
    }
    return false;
  };

  if (method == "info_get_status") {
    std::string result = head + "\"chainspec_name\":" + Quoted(chain_name_) + ",\"starting_state_root_hash\":\"" +
                         std::string(64, '0') + "\",\"peers\":[],\"last_added_block_info\":";
    const auto range = BlockRange(now);
    if (range) {
      const BlockEntry& b = blocks_.at(range->second);
      result += "{\"hash\":\"" + b.hash + "\",\"timestamp\":" + Quoted(b.timestamp) + ",\"era_id\":" +
                std::to_string(b.era_id) + ",\"height\":" + std::to_string(b.height) + "}";
    } else {
      result += "null";
    }
    result += ",\"our_public_signing_key\":null,\"round_length\":null,\"next_upgrade\":null,\"reactor_state\":\"Validate\"";
    if (range) {
      result += ",\"available_block_range\":{\"low\":" + std::to_string(range->first) + ",\"high\":" +
                std::to_string(range->second) + "}";
    } else {
      result += ",\"available_block_range\":{\"low\":0,\"high\":0}";
    }
    return Envelope(id, result + "}");
  }
  if (method == "chain_get_block") {
    const BlockEntry* block = nullptr;
    if (!block_param(block)) return invalid("invalid block_identifier");
    if (block == nullptr) return ErrorEnvelope(id, rpc_code::kNoSuchBlock, "No such block");
    if (major_ >= 2) {
      return Envelope(id, head + "\"block_with_signatures\":{\"block\":" + std::string(block->block) +
                              ",\"proofs\":" + ProofsJson(block->proofs) + "}}");
    }
    std::string json_block(block->block);
    static constexpr std::string_view kEmpty = ",\"proofs\":[]}";
    if (json_block.size() >= kEmpty.size() && json_block.ends_with(kEmpty)) {
      json_block.replace(json_block.size() - kEmpty.size(), kEmpty.size(), ",\"proofs\":" + ProofsJson(block->proofs) + "}");
    }
    return Envelope(id, head + "\"block\":" + json_block + "}");
  }
  if (method == "info_get_transaction" || method == "info_get_deploy") {
    const bool deploy_method = method == "info_get_deploy";
    if (!deploy_method && major_ < 2) return ErrorEnvelope(id, rpc_code::kMethodNotFound, "Method not found");
    std::string hash;
    std::string tag = "Deploy";
    if (deploy_method) {
      if (params.is_object() && params.contains("deploy_hash")) hash = HashParam(params["deploy_hash"]);
    } else if (params.is_object() && params.contains("transaction_hash") && params["transaction_hash"].is_object() &&
               params["transaction_hash"].size() == 1) {
      tag = params["transaction_hash"].begin().key();
      hash = HashParam(params["transaction_hash"].begin().value());
    }
    if (hash.empty()) return invalid(deploy_method ? "invalid deploy_hash" : "invalid transaction_hash");
    auto it = transactions_.find(hash);
    const bool known = it != transactions_.end() && !it->second.body.empty() && it->second.tag == tag &&
                       Published(it->second.accepted_index, now);
    if (!known) {
      return deploy_method ? ErrorEnvelope(id, rpc_code::kNoSuchDeploy, "No such deploy")
                           : ErrorEnvelope(id, rpc_code::kNoSuchTransaction, "No such transaction");
    }
    const TransactionEntry& tx = it->second;
    const bool processed = !tx.block_hash.empty() && Published(tx.processed_index, now);
    std::string height = "null";
    if (processed) {
      if (auto h = height_by_hash_.find(tx.block_hash); h != height_by_hash_.end()) height = std::to_string(h->second);
    }
    if (major_ < 2) {
      std::string results = "[";
      if (processed) results += "{\"block_hash\":\"" + tx.block_hash + "\",\"result\":" + std::string(tx.result) + "}";
      return Envelope(id, head + "\"deploy\":" + std::string(tx.body) + ",\"execution_results\":" + results + "]}");
    }
    std::string info = "null";
    if (processed) {
      info = "{\"block_hash\":\"" + tx.block_hash + "\",\"block_height\":" + height +
             ",\"execution_result\":" + std::string(tx.result) + "}";
    }
    if (deploy_method) return Envelope(id, head + "\"deploy\":" + std::string(tx.body) + ",\"execution_info\":" + info + "}");
    return Envelope(id, head + "\"transaction\":{\"" + tx.tag + "\":" + std::string(tx.body) +
                            "},\"execution_info\":" + info + "}");
  }
  if (method == "chain_get_era_info_by_switch_block" || method == "chain_get_era_summary") {
    const BlockEntry* block = nullptr;
    if (!block_param(block)) return invalid("invalid block_identifier");
    if (block == nullptr) return ErrorEnvelope(id, rpc_code::kNoSuchBlock, "No such block");
    const bool switch_block = block->block.find("\"era_end\":null") == std::string_view::npos;
    if (method == "chain_get_era_info_by_switch_block" && !switch_block) {
      return Envelope(id, head + "\"era_summary\":null}");
    }
    // The recordings hold no global state: the era info a step wrote is not known here.
    return ErrorEnvelope(id, rpc_code::kQueryFailed, "Query failed");
  }
  if (method == "info_get_reward") {
    if (major_ < 2) return ErrorEnvelope(id, rpc_code::kMethodNotFound, "Method not found");
    return ErrorEnvelope(id, rpc_code::kNoRewardsFound, "No rewards found");
  }
  return ErrorEnvelope(id, rpc_code::kMethodNotFound, "Method not found");
}

void RpcNode::Register(http::Server& server, Node& node) {
  server.Route("POST", "/rpc", [this](const http::Request& request, http::ResponseWriter& writer) {
    const std::uint64_t n = ++requests_;
    if (faults_.every > 0 && n % faults_.every == 0) {
      const std::string answer = Answer(request.body, SteadyClock::now());
      switch ((n / faults_.every) % 4) {
        case 0:
          writer.Send(500, "text/plain", "injected fault\n");
          return;
        case 1:
          writer.Send(200, "application/json", std::string_view(answer).substr(0, answer.size() / 2));
          return;
        case 2:
          writer.Send(200, "application/json",
                      "{\"jsonrpc\":\"2.0\",\"id\":" + nlohmann::json::parse(request.body, nullptr, false).value("id", nlohmann::json(nullptr)).dump() +
                          ",\"error\":{\"code\":-32603,\"message\":\"Internal error (injected)\"}}");
          return;
        default:
          std::this_thread::sleep_for(faults_.delay);
          writer.Send(200, "application/json", answer);
          return;
      }
    }
    writer.Send(200, "application/json", Answer(request.body, SteadyClock::now()));
  });
  node.SetBlockRange([this](SteadyClock::time_point now) { return BlockRange(now); });
}

}  // namespace ces::emit
