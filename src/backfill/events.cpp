#include "ces/backfill/events.hpp"

#include <algorithm>
#include <utility>

namespace ces::backfill {
namespace {

using rpc::Generation;
using rpc::HashKind;

// The payloads below follow the node's serde structs field by field (casper-node 1.5
// event_stream_server/sse_server.rs SseData, 2.0 the same file plus casper-types FinalitySignatureV1/V2):
// keys in struct order, compact, hashes and keys as the answers' plain strings.

// Writes the members of one JSON object, with the commas between them; the caller writes the braces.
class Members {
 public:
  explicit Members(std::string& out) : out_(out) {}
  Members& String(std::string_view key, std::string_view value) {
    Key(key);
    out_ += '"';
    out_ += value;
    out_ += '"';
    return *this;
  }
  Members& Raw(std::string_view key, std::string_view raw) {
    Key(key);
    out_ += raw;
    return *this;
  }

 private:
  void Key(std::string_view key) {
    if (!first_) out_ += ',';
    first_ = false;
    out_ += '"';
    out_ += key;
    out_ += "\":";
  }
  std::string& out_;
  bool first_ = true;
};

const char* TagOf(HashKind kind) { return kind == HashKind::kDeploy ? "Deploy" : "Version1"; }

Event Base(const rpc::Block& block, std::string type, std::string_view method) {
  Event e;
  e.type = std::move(type);
  e.generation = block.generation;
  e.rpc_method = method;
  e.height = block.height;
  e.block_hash = block.hash;
  return e;
}

rpc::Error Inconsistent(const rpc::Block& block, std::string_view what) {
  rpc::Error e;
  e.kind = rpc::ErrorKind::kMalformed;
  e.message = "block " + block.hash + " at height " + std::to_string(block.height) + ": " + std::string(what);
  return e;
}

}  // namespace

Event BlockAdded(const rpc::Block& block) {
  Event e = Base(block, "BlockAdded", rpc::kGetBlock);
  e.subject = block.hash;
  std::string& p = e.payload;
  p.reserve(block.block_json.size() + 160);
  p = "{\"BlockAdded\":{";
  Members members(p);
  members.String("block_hash", block.hash);
  if (block.generation == Generation::kV2) {
    // 2.x streams the versioned block exactly as chain_get_block returns it.
    members.Raw("block", block.block_json);
  } else {
    // 1.x streams JsonBlock::new(&block, None): the block without its finality signatures.
    std::string json_block = "{";
    Members(json_block)
        .String("hash", block.hash)
        .Raw("header", block.header_json)
        .Raw("body", block.body_json)
        .Raw("proofs", "[]");
    json_block += '}';
    members.Raw("block", json_block);
  }
  p += "}}";
  return e;
}

std::vector<Event> FinalitySignatures(const rpc::Block& block, std::string_view chain_name) {
  std::vector<Event> out;
  out.reserve(block.proofs.size());
  const std::string era = std::to_string(block.era_id);
  // 2.x signs Version2 blocks with FinalitySignatureV2 (height and chain name hash included);
  // Version1 blocks keep V1 signatures.
  const bool v2_signature = block.generation == Generation::kV2 && block.version == 2;
  const std::string chain_name_hash = v2_signature ? ChainNameHash(chain_name) : std::string();
  for (const rpc::Proof& proof : block.proofs) {
    Event e = Base(block, "FinalitySignature", rpc::kGetBlock);
    e.subject = proof.public_key;
    std::string& p = e.payload;
    p = "{\"FinalitySignature\":{";
    if (block.generation == Generation::kV2) p += v2_signature ? "\"V2\":{" : "\"V1\":{";
    Members members(p);
    members.String("block_hash", block.hash);
    if (v2_signature) members.Raw("block_height", std::to_string(block.height));
    members.Raw("era_id", era);
    if (v2_signature) members.String("chain_name_hash", chain_name_hash);
    members.String("signature", proof.signature).String("public_key", proof.public_key);
    p += block.generation == Generation::kV2 ? "}}}" : "}}";
    out.push_back(std::move(e));
  }
  return out;
}

Event Accepted(const rpc::Block& block, const rpc::Transaction& tx) {
  const bool v2 = block.generation == Generation::kV2;
  Event e = Base(block, v2 ? "TransactionAccepted" : "DeployAccepted", tx.method);
  e.subject = rpc::Describe(tx.id);
  std::string& p = e.payload;
  p.reserve(tx.body_json.size() + 48);
  if (v2) {
    p = "{\"TransactionAccepted\":{\"";
    p += TagOf(tx.id.kind);
    p += "\":";
    p += tx.body_json;
    p += "}}";
  } else {
    p = "{\"DeployAccepted\":";
    p += tx.body_json;
    p += '}';
  }
  return e;
}

rpc::Result<Event> Processed(const rpc::Block& block, const rpc::Transaction& tx) {
  const bool v2 = block.generation == Generation::kV2;
  if (tx.generation != block.generation) {
    return Inconsistent(block, rpc::Describe(tx.id) + ": the " + std::string(tx.method) +
                                   " answer is of the other protocol generation than the block's");
  }
  auto execution = std::find_if(tx.executions.begin(), tx.executions.end(), [&](const rpc::Execution& x) {
    return x.block_hash == block.hash && (!x.block_height || *x.block_height == block.height);
  });
  if (execution == tx.executions.end()) {
    return Inconsistent(block, rpc::Describe(tx.id) + ": " + std::string(tx.method) +
                                   " has no execution result for this block");
  }
  Event e = Base(block, v2 ? "TransactionProcessed" : "DeployProcessed", tx.method);
  e.subject = rpc::Describe(tx.id);
  std::string& p = e.payload;
  p.reserve(execution->result_json.size() + 400);
  Members members(p);
  if (v2) {
    p = "{\"TransactionProcessed\":{";
    std::string hash = "{";
    Members(hash).String(TagOf(tx.id.kind), tx.id.hash);
    hash += '}';
    members.Raw("transaction_hash", hash).Raw("initiator_addr", tx.initiator_addr_json);
  } else {
    p = "{\"DeployProcessed\":{";
    members.String("deploy_hash", tx.id.hash).String("account", tx.account);
  }
  members.String("timestamp", tx.timestamp).String("ttl", tx.ttl);
  if (!v2) members.Raw("dependencies", tx.dependencies_json);
  members.String("block_hash", block.hash).Raw("execution_result", execution->result_json);
  if (v2) {
    // Contract messages are not stored on chain (only their checksums): the node itself sends
    // `"messages":[]` for blocks it did not execute (historical sync).
    members.Raw("messages", "[]");
    if (tx.message_writes > 0) e.missing.emplace_back("messages");
  }
  p += "}}";
  return e;
}

rpc::Result<std::vector<Event>> Reconstruct(const BlockAnswers& answers) {
  const rpc::Block& block = *answers.block;
  std::vector<const rpc::Transaction*> ordered;
  ordered.reserve(block.transactions.size());
  for (const rpc::TransactionId& id : block.transactions) {
    auto it = std::find_if(answers.transactions.begin(), answers.transactions.end(),
                           [&](const rpc::Transaction& tx) { return tx.id == id; });
    if (it == answers.transactions.end()) return Inconsistent(block, "no answer for " + rpc::Describe(id));
    ordered.push_back(&*it);
  }
  std::vector<Event> events;
  events.reserve(2 * ordered.size() + 1 + block.proofs.size());
  for (const rpc::Transaction* tx : ordered) events.push_back(Accepted(block, *tx));
  events.push_back(BlockAdded(block));
  for (const rpc::Transaction* tx : ordered) {
    auto processed = Processed(block, *tx);
    if (!processed) return processed.error();
    events.push_back(std::move(*processed));
  }
  for (Event& e : FinalitySignatures(block, answers.chain_name)) events.push_back(std::move(e));
  return events;
}

}  // namespace ces::backfill
