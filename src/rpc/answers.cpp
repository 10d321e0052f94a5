#include "ces/rpc/answers.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <initializer_list>
#include <span>
#include <utility>

#include "ces/common/text.hpp"
#include "json_view.hpp"

namespace ces::rpc {
namespace {

using json::Type;
using json::View;

// The node's JSON-RPC error codes for "the thing asked for does not exist" (casper-node 1.5
// rpc_server/rpcs/error_code.rs, casper-sidecar 2.0 rpc_sidecar/src/rpcs/error_code.rs).
constexpr std::int64_t kNoSuchDeploy = -32000;
constexpr std::int64_t kNoSuchBlock = -32001;
constexpr std::int64_t kQueryFailed = -32003;  // global state has no such entry (era info)
constexpr std::int64_t kNoSuchTransaction = -32014;
constexpr std::int64_t kNoRewardsFound = -32022;
constexpr std::int64_t kSwitchBlockNotFound = -32023;
constexpr std::int64_t kSwitchBlockParentNotFound = -32024;

// A hash (digits = 64) or a public key / signature (digits = 0: any even, non-empty count).
bool IsHexOf(std::string_view s, std::size_t digits) {
  if (digits != 0 ? s.size() != digits : (s.empty() || s.size() % 2 != 0)) return false;
  return text::IsHex(s);
}

std::string Snippet(std::string_view raw) {
  constexpr std::size_t kMax = 48;
  if (raw.size() <= kMax) return std::string(raw);
  return std::string(raw.substr(0, kMax)) + "…";
}

// Collects the first validation problem; everything after it is skipped.
class Check {
 public:
  bool ok() const { return error_.empty(); }
  void Fail(std::string_view path, std::string_view what) {
    if (!error_.empty()) return;
    error_ = std::string(path);
    error_ += ": ";
    error_ += what;
  }
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

// A value at a path of the answer. Accessors record a problem in the Check and return an empty value
// instead of failing; once a problem is recorded the rest of the parse is moot.
class Node {
 public:
  Node(View view, std::string path, Check& check) : view_(view), path_(std::move(path)), check_(&check) {}

  const std::string& path() const { return path_; }
  View view() const { return view_; }
  bool IsNull() const { return view_.IsNull(); }
  bool Is(Type type) const { return view_.type() == type; }
  bool Has(std::string_view key) const { return view_.Find(key).has_value(); }

  Node operator[](std::string_view key) const {
    std::string path = Join(key);
    if (!Expect(Type::kObject, "an object")) return Node(View(), std::move(path), *check_);
    auto found = view_.Find(key);
    if (!found) {
      check_->Fail(path, "missing");
      return Node(View(), std::move(path), *check_);
    }
    return Node(*found, std::move(path), *check_);
  }

  // An optional member: nullopt when absent or null.
  std::optional<Node> Optional(std::string_view key) const {
    if (!Expect(Type::kObject, "an object")) return std::nullopt;
    auto found = view_.Find(key);
    if (!found || found->IsNull()) return std::nullopt;
    return Node(*found, Join(key), *check_);
  }

  std::uint64_t U64() const {
    auto v = view_.U64();
    if (!v) Fail("expected an unsigned integer");
    return v.value_or(0);
  }

  // Any string, unescaped.
  std::string Str() const {
    auto v = view_.String();
    if (!v) Fail("expected a string");
    return v.value_or(std::string());
  }

  // A string whose JSON text needs no escaping (timestamps, ttl, hex, decimal numbers): its bytes
  // can be written back between quotes unchanged.
  std::string Plain() const {
    if (!Is(Type::kString) || view_.raw().find('\\') != std::string_view::npos) {
      Fail("expected a plain string");
      return {};
    }
    return std::string(view_.raw().substr(1, view_.raw().size() - 2));
  }

  std::string Hex(std::size_t digits) const {
    std::string s = Plain();
    if (check_->ok() && !IsHexOf(s, digits)) {
      Fail(digits ? "expected " + std::to_string(digits) + " hex digits" : std::string("expected hex digits"));
    }
    return s;
  }

  std::string Decimal() const {
    std::string s = Plain();
    if (check_->ok() && (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))) {
      Fail("expected a decimal string");
    }
    return s;
  }

  // The value's bytes in compact form; `type` is what it must be.
  std::string Raw(Type type, std::string_view what) const {
    if (!Expect(type, what)) return {};
    return json::Compact(view_.raw());
  }

  // An object with exactly one member ("externally tagged" enums: {"Version2":{…}}); returns the
  // member's node and sets `tag`. `tags` lists the accepted tags.
  Node Variant(std::initializer_list<std::string_view> tags, std::string& tag) const {
    if (!Expect(Type::kObject, "an object")) return Node(View(), path_, *check_);
    int count = 0;
    std::string_view key;
    View value;
    view_.ForEachMember([&](std::string_view k, View v) {
      ++count;
      key = k;
      value = v;
      return true;
    });
    if (count != 1 || std::find(tags.begin(), tags.end(), key) == tags.end()) {
      std::string expected;
      for (auto t : tags) expected += (expected.empty() ? "" : "|") + std::string(t);
      Fail("expected one of {" + expected + "}, got " + Snippet(view_.raw()));
      return Node(View(), path_, *check_);
    }
    tag = std::string(key);
    return Node(value, Join(key), *check_);
  }

  template <class F>
  void Items(F&& f) const {
    if (!Expect(Type::kArray, "an array")) return;
    std::size_t i = 0;
    view_.ForEachItem([&](View v) {
      f(Node(v, path_ + "[" + std::to_string(i++) + "]", *check_));
      return check_->ok();
    });
  }

  template <class F>
  void Members(F&& f) const {
    if (!Expect(Type::kObject, "an object")) return;
    view_.ForEachMember([&](std::string_view k, View v) {
      f(k, Node(v, Join(k), *check_));
      return check_->ok();
    });
  }

  bool Expect(Type type, std::string_view what) const {
    if (!check_->ok()) return false;
    if (view_.raw().empty() || view_.type() != type) {
      Fail("expected " + std::string(what) + (view_.raw().empty() ? std::string() : ", got " + Snippet(view_.raw())));
      return false;
    }
    return true;
  }

  void Fail(std::string_view what) const { check_->Fail(path_, what); }

 private:
  std::string Join(std::string_view key) const {
    std::string p = path_;
    p += '.';
    p += key;
    return p;
  }

  View view_;
  std::string path_;
  Check* check_;
};

// One answer being read: the method and subject name every error.
class Answer {
 public:
  Answer(std::string_view method, std::string subject) : method_(method), subject_(std::move(subject)) {}

  // Validates the JSON and the JSON-RPC envelope. Returns the `result` node, or nullopt with error()
  // set (a JSON-RPC error object, invalid JSON, a wrong id).
  std::optional<Node> Open(std::string_view body, std::optional<std::int64_t> expected_id,
                           std::span<const std::int64_t> not_found_codes) {
    std::string why;
    if (!json::Validate(body, why)) {
      error_ = Make(ErrorKind::kMalformed, "invalid JSON (" + why + ")");
      error_->transient = true;
      return std::nullopt;
    }
    const std::size_t start = json::SkipSpace(body, 0);
    Node root(View(body.substr(start, json::SkipValue(body, start) - start)), "response", check_);
    if (!root.Expect(Type::kObject, "a JSON-RPC response object")) return Fail();
    if (root["jsonrpc"].Plain() != "2.0" && check_.ok()) root["jsonrpc"].Fail("expected \"2.0\"");
    if (expected_id && check_.ok()) {
      auto id = root["id"].view().I64();
      if (!id || *id != *expected_id) root["id"].Fail("expected " + std::to_string(*expected_id));
    }
    if (!check_.ok()) return Fail();
    if (auto error = root.Optional("error")) {
      const std::int64_t code = (*error)["code"].view().I64().value_or(0);
      std::string message = (*error)["message"].Str();
      if (!check_.ok()) return Fail();
      std::string text = "JSON-RPC error " + std::to_string(code) + " " + message;
      if (auto data = error->Optional("data")) text += " (" + Snippet(data->view().raw()) + ")";
      const bool not_found = std::find(not_found_codes.begin(), not_found_codes.end(), code) != not_found_codes.end();
      error_ = Make(not_found ? ErrorKind::kNotFound : ErrorKind::kNode, text);
      error_->rpc_code = code;
      return std::nullopt;
    }
    Node result = root["result"];
    if (!result.Expect(Type::kObject, "an object")) return Fail();
    return result;
  }

  Check& check() { return check_; }
  bool ok() const { return check_.ok(); }

  Error Make(ErrorKind kind, std::string_view what) const {
    Error e;
    e.kind = kind;
    e.message = std::string(method_) + " " + subject_ + ": " + std::string(what);
    return e;
  }
  // The recorded problem (envelope error or a failed check).
  Error error() const { return error_ ? *error_ : Make(ErrorKind::kMalformed, check_.error()); }

 private:
  std::nullopt_t Fail() { return std::nullopt; }

  std::string_view method_;
  std::string subject_;
  Check check_;
  std::optional<Error> error_;
};

std::string Quote(std::string_view s) {
  std::string out = "\"";
  out += s;
  out += '"';
  return out;
}

std::string HeightSubject(std::uint64_t height) { return "height " + std::to_string(height); }

std::optional<Generation> GenerationOf(std::string_view api_version) {
  int major = 0;
  const char* end = api_version.data() + api_version.size();
  auto [ptr, ec] = std::from_chars(api_version.data(), end, major);
  if (ec != std::errc() || ptr == api_version.data() || (ptr != end && *ptr != '.')) return std::nullopt;
  if (major == 1) return Generation::kV1;
  if (major >= 2) return Generation::kV2;
  return std::nullopt;
}

void ReadHashList(const Node& list, HashKind kind, std::vector<TransactionId>& out) {
  list.Items([&](const Node& item) { out.push_back({kind, item.Hex(64)}); });
}

// Counts effects of a 2.x execution result that write a contract message.
std::size_t CountMessageWrites(const Node& effects) {
  std::size_t n = 0;
  effects.Items([&](const Node& effect) {
    auto kind = effect["kind"].view();
    if (kind.type() != Type::kObject) return;
    auto write = kind.Find("Write");
    if (write && write->type() == Type::kObject && write->Find("Message")) ++n;
  });
  return n;
}

std::string Envelope(std::int64_t id, std::string_view method, std::string_view params) {
  std::string out = "{\"jsonrpc\":\"2.0\",\"id\":";
  out += std::to_string(id);
  out += ",\"method\":\"";
  out += method;
  out += "\",\"params\":";
  out += params;
  out += '}';
  return out;
}

}  // namespace

std::string_view ToString(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kTransport: return "transport";
    case ErrorKind::kHttp: return "http";
    case ErrorKind::kNode: return "node";
    case ErrorKind::kNotFound: return "not_found";
    case ErrorKind::kMalformed: return "malformed";
    case ErrorKind::kInvalidArgument: return "invalid_argument";
    case ErrorKind::kCancelled: return "cancelled";
  }
  return "unknown";
}

std::string Describe(const TransactionId& id) {
  return std::string(id.kind == HashKind::kDeploy ? "Deploy " : "Version1 ") + id.hash;
}

Result<Status> ParseStatus(std::string_view body, std::optional<std::int64_t> expected_id) {
  Answer answer(kGetStatus, "of the node");
  auto result = answer.Open(body, expected_id, {});
  if (!result) return answer.error();
  Status status;
  status.api_version = (*result)["api_version"].Plain();
  status.chainspec_name = (*result)["chainspec_name"].Str();
  if (auto range = result->Optional("available_block_range")) {
    BlockRange r{(*range)["low"].U64(), (*range)["high"].U64()};
    if (answer.ok() && r.low > r.high) range->Fail("low is above high");
    status.available_block_range = r;
  }
  if (auto info = result->Optional("last_added_block_info")) {
    BlockInfo b;
    b.hash = (*info)["hash"].Hex(64);
    b.height = (*info)["height"].U64();
    b.era_id = (*info)["era_id"].U64();
    b.timestamp = (*info)["timestamp"].Plain();
    status.last_added_block = std::move(b);
  }
  if (!answer.ok()) return answer.error();
  auto generation = GenerationOf(status.api_version);
  if (!generation) return answer.Make(ErrorKind::kMalformed, "unknown api_version " + Quote(status.api_version));
  status.generation = *generation;
  return status;
}

Result<Block> ParseBlock(std::string_view body, std::uint64_t height, std::optional<std::int64_t> expected_id) {
  static constexpr std::array<std::int64_t, 1> kNotFound = {kNoSuchBlock};
  Answer answer(kGetBlock, HeightSubject(height));
  auto result = answer.Open(body, expected_id, kNotFound);
  if (!result) return answer.error();
  Block block;
  (void)(*result)["api_version"].Plain();
  std::optional<Node> inner;
  std::optional<Node> proofs;
  if (result->Has("block_with_signatures")) {
    block.generation = Generation::kV2;
    auto with_signatures = result->Optional("block_with_signatures");
    if (!with_signatures) return answer.Make(ErrorKind::kNotFound, "the node has no block at this height");
    Node versioned = (*with_signatures)["block"];
    std::string tag;
    inner = versioned.Variant({"Version1", "Version2"}, tag);
    block.version = tag == "Version2" ? 2 : 1;
    block.block_json = versioned.Raw(Type::kObject, "an object");
    proofs = (*with_signatures)["proofs"];
  } else if (result->Has("block")) {
    block.generation = Generation::kV1;
    inner = result->Optional("block");
    if (!inner) return answer.Make(ErrorKind::kNotFound, "the node has no block at this height");
    block.block_json = inner->Raw(Type::kObject, "an object");
    proofs = (*inner)["proofs"];
  } else {
    result->Fail("neither block_with_signatures (2.x) nor block (1.x)");
    return answer.error();
  }
  block.hash = (*inner)["hash"].Hex(64);
  Node header = (*inner)["header"];
  block.header_json = header.Raw(Type::kObject, "an object");
  (void)header["parent_hash"].Hex(64);
  (void)header["state_root_hash"].Hex(64);
  (void)header["timestamp"].Plain();
  block.era_id = header["era_id"].U64();
  block.height = header["height"].U64();
  Node era_end = header["era_end"];
  if (!era_end.IsNull() && era_end.Expect(Type::kObject, "an object or null")) block.switch_block = true;
  Node body_node = (*inner)["body"];
  block.body_json = body_node.Raw(Type::kObject, "an object");
  if (block.version == 2) {
    body_node["transactions"].Members([&](std::string_view lane, const Node& hashes) {
      if (lane.empty() || !std::all_of(lane.begin(), lane.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        hashes.Fail("lane id is not a number");
        return;
      }
      hashes.Items([&](const Node& item) {
        std::string tag;
        Node hash = item.Variant({"Deploy", "Version1"}, tag);
        block.transactions.push_back({tag == "Deploy" ? HashKind::kDeploy : HashKind::kVersion1, hash.Hex(64)});
      });
    });
  } else {
    ReadHashList(body_node["deploy_hashes"], HashKind::kDeploy, block.transactions);
    ReadHashList(body_node["transfer_hashes"], HashKind::kDeploy, block.transactions);
  }
  proofs->Items([&](const Node& proof) {
    Proof p;
    p.public_key = proof["public_key"].Hex(0);
    p.signature = proof["signature"].Hex(0);
    block.proofs.push_back(std::move(p));
  });
  if (!answer.ok()) return answer.error();
  if (block.height != height) {
    return answer.Make(ErrorKind::kMalformed,
                       "the answer holds block " + block.hash + " at height " + std::to_string(block.height));
  }
  return block;
}

Result<Transaction> ParseTransaction(std::string_view body, std::string_view method, const TransactionId& id,
                                     std::optional<std::int64_t> expected_id) {
  static constexpr std::array<std::int64_t, 2> kNotFound = {kNoSuchTransaction, kNoSuchDeploy};
  const bool by_transaction = method == kGetTransaction;
  Answer answer(by_transaction ? kGetTransaction : kGetDeploy, Describe(id));
  if (!by_transaction && method != kGetDeploy) return answer.Make(ErrorKind::kInvalidArgument, "not a transaction method");
  if (!by_transaction && id.kind != HashKind::kDeploy) {
    return answer.Make(ErrorKind::kInvalidArgument, "info_get_deploy serves deploys only");
  }
  auto result = answer.Open(body, expected_id, kNotFound);
  if (!result) return answer.error();
  Transaction tx;
  tx.method = by_transaction ? kGetTransaction : kGetDeploy;
  tx.id = id;
  (void)(*result)["api_version"].Plain();
  std::optional<Node> inner;
  if (by_transaction) {
    std::string tag;
    inner = (*result)["transaction"].Variant({"Deploy", "Version1"}, tag);
    const HashKind kind = tag == "Deploy" ? HashKind::kDeploy : HashKind::kVersion1;
    if (answer.ok() && kind != id.kind) (*result)["transaction"].Fail("a " + tag + " where " + Describe(id) + " was asked");
    tx.generation = Generation::kV2;
  } else {
    inner = (*result)["deploy"];
    tx.generation = result->Has("execution_results") ? Generation::kV1 : Generation::kV2;
  }
  tx.body_json = inner->Raw(Type::kObject, "an object");
  const std::string hash = (*inner)["hash"].Hex(64);
  if (answer.ok() && hash != id.hash) {
    return answer.Make(ErrorKind::kMalformed, "the answer holds transaction " + hash);
  }
  if (id.kind == HashKind::kDeploy) {
    Node header = (*inner)["header"];
    tx.account = header["account"].Hex(0);
    tx.initiator_addr_json = "{\"PublicKey\":" + Quote(tx.account) + "}";
    tx.timestamp = header["timestamp"].Plain();
    tx.ttl = header["ttl"].Plain();
    Node dependencies = header["dependencies"];
    dependencies.Items([](const Node& d) { (void)d.Hex(64); });
    tx.dependencies_json = dependencies.Raw(Type::kArray, "an array");
  } else {
    // 2.0 TransactionV1 keeps these in `payload`; pre-release 2.0 networks had a `header`.
    Node fields = inner->Has("payload") ? (*inner)["payload"] : (*inner)["header"];
    std::string tag;
    Node initiator = fields["initiator_addr"];
    (void)initiator.Variant({"PublicKey", "AccountHash"}, tag).Plain();
    tx.initiator_addr_json = initiator.Raw(Type::kObject, "an object");
    tx.timestamp = fields["timestamp"].Plain();
    tx.ttl = fields["ttl"].Plain();
  }
  if (tx.generation == Generation::kV1) {
    (*result)["execution_results"].Items([&](const Node& entry) {
      Execution e;
      e.block_hash = entry["block_hash"].Hex(64);
      std::string tag;
      Node outcome = entry["result"];
      (void)outcome.Variant({"Success", "Failure"}, tag);
      e.result_json = outcome.Raw(Type::kObject, "an object");
      tx.executions.push_back(std::move(e));
    });
  } else if (auto info = result->Optional("execution_info")) {
    if (auto outcome = info->Optional("execution_result")) {
      Execution e;
      e.block_hash = (*info)["block_hash"].Hex(64);
      e.block_height = (*info)["block_height"].U64();
      std::string tag;
      Node versioned = outcome->Variant({"Version1", "Version2"}, tag);
      e.result_json = outcome->Raw(Type::kObject, "an object");
      if (tag == "Version2") tx.message_writes = CountMessageWrites(versioned["effects"]);
      tx.executions.push_back(std::move(e));
    }
  }
  if (!answer.ok()) return answer.error();
  return tx;
}

namespace {

EraSummary ReadEraSummary(const Node& node) {
  EraSummary summary;
  summary.json = node.Raw(Type::kObject, "an object");
  summary.block_hash = node["block_hash"].Hex(64);
  summary.era_id = node["era_id"].U64();
  summary.stored_value_json = node["stored_value"].Raw(Type::kObject, "an object");
  summary.state_root_hash = node["state_root_hash"].Hex(64);
  (void)node["merkle_proof"].Plain();
  return summary;
}

}  // namespace

Result<EraSummary> ParseEraSummary(std::string_view body, std::uint64_t height,
                                   std::optional<std::int64_t> expected_id) {
  static constexpr std::array<std::int64_t, 2> kNotFound = {kNoSuchBlock, kQueryFailed};
  Answer answer(kGetEraSummary, HeightSubject(height));
  auto result = answer.Open(body, expected_id, kNotFound);
  if (!result) return answer.error();
  (void)(*result)["api_version"].Plain();
  EraSummary summary = ReadEraSummary((*result)["era_summary"]);
  if (!answer.ok()) return answer.error();
  return summary;
}

Result<std::optional<EraSummary>> ParseEraInfoBySwitchBlock(std::string_view body, std::uint64_t height,
                                                            std::optional<std::int64_t> expected_id) {
  static constexpr std::array<std::int64_t, 1> kNotFound = {kNoSuchBlock};
  Answer answer(kGetEraInfoBySwitchBlock, HeightSubject(height));
  auto result = answer.Open(body, expected_id, kNotFound);
  if (!result) return answer.error();
  (void)(*result)["api_version"].Plain();
  std::optional<EraSummary> summary;
  if (auto node = result->Optional("era_summary")) summary = ReadEraSummary(*node);
  if (!answer.ok()) return answer.error();
  return summary;
}

Result<Reward> ParseReward(std::string_view body, const RewardQuery& query, std::optional<std::int64_t> expected_id) {
  static constexpr std::array<std::int64_t, 4> kNotFound = {kNoRewardsFound, kSwitchBlockNotFound,
                                                            kSwitchBlockParentNotFound, kNoSuchBlock};
  std::string subject = "validator " + query.validator;
  if (query.delegator) subject += " delegator " + *query.delegator;
  subject += query.era_id ? " era " + std::to_string(*query.era_id) : std::string(" last era");
  Answer answer(kGetReward, std::move(subject));
  auto result = answer.Open(body, expected_id, kNotFound);
  if (!result) return answer.error();
  (void)(*result)["api_version"].Plain();
  Reward reward;
  reward.reward_amount = (*result)["reward_amount"].Decimal();
  reward.era_id = (*result)["era_id"].U64();
  const std::uint64_t rate = (*result)["delegation_rate"].U64();
  if (answer.ok() && rate > 255) (*result)["delegation_rate"].Fail("above 255");
  reward.delegation_rate = static_cast<unsigned>(rate);
  reward.switch_block_hash = (*result)["switch_block_hash"].Hex(64);
  if (!answer.ok()) return answer.error();
  if (query.era_id && reward.era_id != *query.era_id) {
    return answer.Make(ErrorKind::kMalformed, "the answer is for era " + std::to_string(reward.era_id));
  }
  return reward;
}

std::string StatusRequest(std::int64_t id) { return Envelope(id, kGetStatus, "[]"); }

std::string BlockRequest(std::int64_t id, std::string_view method, std::uint64_t height) {
  return Envelope(id, method, "{\"block_identifier\":{\"Height\":" + std::to_string(height) + "}}");
}

std::string TransactionRequest(std::int64_t id, const TransactionId& tx) {
  if (!IsHexOf(tx.hash, 64)) return {};
  const char* tag = tx.kind == HashKind::kDeploy ? "Deploy" : "Version1";
  return Envelope(id, kGetTransaction,
                  std::string("{\"transaction_hash\":{\"") + tag + "\":" + Quote(tx.hash) + "}}");
}

std::string DeployRequest(std::int64_t id, std::string_view deploy_hash) {
  if (!IsHexOf(deploy_hash, 64)) return {};
  return Envelope(id, kGetDeploy, "{\"deploy_hash\":" + Quote(deploy_hash) + "}");
}

std::string RewardRequest(std::int64_t id, const RewardQuery& query) {
  if (!IsHexOf(query.validator, 0) || (query.delegator && !IsHexOf(*query.delegator, 0))) return {};
  std::string params = "{\"validator\":" + Quote(query.validator);
  if (query.era_id) params += ",\"era_identifier\":{\"Era\":" + std::to_string(*query.era_id) + "}";
  if (query.delegator) params += ",\"delegator\":" + Quote(*query.delegator);
  params += '}';
  return Envelope(id, kGetReward, params);
}

}  // namespace ces::rpc
