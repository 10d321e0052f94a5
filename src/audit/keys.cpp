#include "ces/audit/keys.hpp"

#include <simdjson.h>

#include <string>

#include "ces/common/dom_parser.hpp"

namespace ces::audit {
namespace {

using simdjson::dom::element;

std::optional<element> Field(element e, std::string_view key) {
  simdjson::dom::object object;
  if (e.get_object().get(object) != simdjson::SUCCESS) return std::nullopt;
  element value;
  if (object.at_key(key).get(value) != simdjson::SUCCESS) return std::nullopt;
  return value;
}

std::optional<element> Path(element e, std::initializer_list<std::string_view> keys) {
  std::optional<element> cur = e;
  for (std::string_view k : keys) {
    if (!cur) return std::nullopt;
    cur = Field(*cur, k);
  }
  return cur;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::optional<std::string> String(std::optional<element> e) {
  if (!e) return std::nullopt;
  std::string_view s;
  if (e->get_string().get(s) != simdjson::SUCCESS || s.empty()) return std::nullopt;
  return Lower(s);
}

std::optional<std::uint64_t> Unsigned(std::optional<element> e) {
  if (!e) return std::nullopt;
  std::uint64_t v = 0;
  if (e->get_uint64().get(v) != simdjson::SUCCESS) return std::nullopt;
  return v;
}

// {"Deploy": hash} | {"Version1": hash}
std::optional<std::string> TaggedHash(std::optional<element> e) {
  if (!e) return std::nullopt;
  if (auto h = String(Field(*e, "Deploy"))) return h;
  return String(Field(*e, "Version1"));
}

// {"PublicKey": key} | {"AccountHash": "account-hash-…"}
std::optional<std::string> Initiator(std::optional<element> e) {
  if (!e) return std::nullopt;
  if (auto k = String(Field(*e, "PublicKey"))) return k;
  return String(Field(*e, "AccountHash"));
}

}  // namespace

mongo::FilterKeys ExtractFilterKeys(std::string_view type, std::string_view payload) {
  mongo::FilterKeys keys;
  thread_local json::DomParser parser;
  const auto parsed = parser.Parse(payload);
  if (parsed.error != simdjson::SUCCESS) return keys;
  auto body = Field(parsed.root, type);
  if (!body) return keys;
  const element b = *body;
  if (type == "BlockAdded") {
    keys.block_hash = String(Field(b, "block_hash"));
    auto block = Field(b, "block");
    if (!block) return keys;
    if (auto v2 = Field(*block, "Version2")) {
      keys.block_height = Unsigned(Path(*v2, {"header", "height"}));
      keys.public_key = String(Path(*v2, {"header", "proposer"}));
    } else if (auto v1 = Field(*block, "Version1")) {
      keys.block_height = Unsigned(Path(*v1, {"header", "height"}));
      keys.public_key = String(Path(*v1, {"body", "proposer"}));
    } else {
      keys.block_height = Unsigned(Path(*block, {"header", "height"}));
      keys.public_key = String(Path(*block, {"body", "proposer"}));
    }
  } else if (type == "FinalitySignature") {
    element inner = b;
    if (auto v2 = Field(b, "V2")) {
      inner = *v2;
    } else if (auto v1 = Field(b, "V1")) {
      inner = *v1;
    }
    keys.block_hash = String(Field(inner, "block_hash"));
    keys.block_height = Unsigned(Field(inner, "block_height"));
    keys.public_key = String(Field(inner, "public_key"));
  } else if (type == "DeployAccepted") {
    keys.transaction_hash = String(Field(b, "hash"));
    keys.account = String(Path(b, {"header", "account"}));
  } else if (type == "DeployProcessed") {
    keys.transaction_hash = String(Field(b, "deploy_hash"));
    keys.account = String(Field(b, "account"));
    keys.block_hash = String(Field(b, "block_hash"));
  } else if (type == "DeployExpired") {
    keys.transaction_hash = String(Field(b, "deploy_hash"));
  } else if (type == "TransactionAccepted") {
    if (auto deploy = Field(b, "Deploy")) {
      keys.transaction_hash = String(Field(*deploy, "hash"));
      keys.account = String(Path(*deploy, {"header", "account"}));
    } else if (auto v1 = Field(b, "Version1")) {
      keys.transaction_hash = String(Field(*v1, "hash"));
      keys.account = Initiator(Path(*v1, {"payload", "initiator_addr"}));
      if (!keys.account) keys.account = Initiator(Path(*v1, {"header", "initiator_addr"}));  // pre-release shape
    }
  } else if (type == "TransactionProcessed") {
    keys.transaction_hash = TaggedHash(Field(b, "transaction_hash"));
    keys.account = Initiator(Field(b, "initiator_addr"));
    keys.block_hash = String(Field(b, "block_hash"));
  } else if (type == "TransactionExpired") {
    keys.transaction_hash = TaggedHash(Field(b, "transaction_hash"));
  } else if (type == "Fault") {
    keys.public_key = String(Field(b, "public_key"));
  }
  return keys;
}

bool IsValidJson(std::string_view text) {
  thread_local json::DomParser parser;
  return parser.Parse(text).error == simdjson::SUCCESS;
}

}  // namespace ces::audit
