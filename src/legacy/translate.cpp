#include "ces/legacy/translate.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "raw_json.hpp"

namespace ces::legacy {

namespace {

using detail::Value;

constexpr std::string_view kMalformed = "not a well-formed 2.x event of its type";

Translation Translated(std::string payload, std::string_view type) {
  Translation t;
  t.outcome = Outcome::kTranslated;
  t.payload = std::move(payload);
  t.type = type;
  return t;
}

Translation Dropped(std::string_view reason) {
  Translation t;
  t.outcome = Outcome::kDropped;
  t.reason = reason;
  return t;
}

Translation Unchanged() { return {}; }

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
  return out;
}

void Key(std::string& out, std::string_view key) {
  out += '"';
  out += key;
  out += "\":";
}

// `"key":<raw>` of a member that must be there; false when it is missing.
bool CopyMember(std::string& out, const Value& object, std::string_view key, bool comma = true) {
  const Value* v = object.Find(key);
  if (!v) return false;
  if (comma) out += ',';
  Key(out, key);
  out += v->raw;
  return true;
}

// The single member of {"<key>": value}: its key and value, or nullptr.
const Value* Variant(const Value& v, std::string_view& key) {
  if (!v.IsObject() || v.keys.size() != 1) return nullptr;
  key = v.keys[0];
  return &v.items[0];
}

std::optional<std::uint64_t> ParseU64(std::string_view digits) {
  std::uint64_t value = 0;
  if (digits.empty()) return std::nullopt;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || ptr != digits.data() + digits.size()) return std::nullopt;
  return value;
}

// A U512 (decimal string) or a bare integer as a u64; nullopt when it does not fit.
std::optional<std::uint64_t> AmountU64(const Value& v) {
  if (v.IsString()) return ParseU64(v.Text());
  if (v.type == Value::Type::kNumber) return ParseU64(v.raw);
  return std::nullopt;
}

// Entries keyed by public key in the order of casper-types' BTreeMap<PublicKey, _> (the algorithm
// tag, then the key bytes: the lower-case hex order); a repeated key keeps its last value, as the
// sidecar's map does.
using ByKey = std::map<std::string, std::pair<std::string_view, std::string>>;

void Put(ByKey& map, std::string_view key_raw, std::string value) {
  std::string_view text = key_raw;
  if (text.size() >= 2 && text.front() == '"') text = text.substr(1, text.size() - 2);
  map[Lower(text)] = {key_raw, std::move(value)};
}

// [{"<key_name>":<key>,"<value_name>":<value>}, …] in key order.
void AppendPairs(std::string& out, const ByKey& map, std::string_view key_name, std::string_view value_name) {
  out += '[';
  bool first = true;
  for (const auto& [sort_key, entry] : map) {
    if (!first) out += ',';
    first = false;
    out += '{';
    Key(out, key_name);
    out += entry.first;
    out += ',';
    Key(out, value_name);
    out += entry.second;
    out += '}';
  }
  out += ']';
}

// A list of {"validator":k,"<value_name>":v} objects, or (before node 1.2) a map {k: v}, into `map`.
bool CollectPairs(const Value& list, std::string_view value_name, ByKey& map) {
  if (list.IsObject()) {
    for (std::size_t i = 0; i < list.keys.size(); ++i) {
      const std::string_view key = list.keys[i];
      Put(map, std::string_view(key.data() - 1, key.size() + 2), std::string(list.items[i].raw));
    }
    return true;
  }
  if (!list.IsArray()) return false;
  for (const Value& item : list.items) {
    const Value* k = item.Find("validator");
    const Value* v = item.Find(value_name);
    if (!k || !v) return false;
    Put(map, k->raw, std::string(v->raw));
  }
  return true;
}

std::string_view RawOr(const Value* v, std::string_view fallback) { return v ? v->raw : fallback; }

// 1.x EraEnd: {"era_report":{equivocators, rewards:[{validator, amount}], inactive_validators},
// "next_era_validator_weights":[{validator, weight}]}.
void AppendEraEndV1(std::string& out, std::string_view equivocators, const ByKey& rewards, std::string_view inactive,
                    const ByKey& weights) {
  out += "{\"era_report\":{\"equivocators\":";
  out += equivocators;
  out += ",\"rewards\":";
  AppendPairs(out, rewards, "validator", "amount");
  out += ",\"inactive_validators\":";
  out += inactive;
  out += "},\"next_era_validator_weights\":";
  AppendPairs(out, weights, "validator", "weight");
  out += '}';
}

// A 2.x EraEndV2 as the sidecar's DefaultEraEndV2Translator makes it a 1.x EraEnd: each validator's
// reward amounts summed into one u64. "null" when a sum does not fit in a u64 (the sidecar then omits
// the whole era end); nullopt when malformed.
std::optional<std::string> EraEndFromV2(const Value& era_end) {
  if (era_end.IsNull()) return std::string("null");
  if (!era_end.IsObject()) return std::nullopt;
  ByKey rewards;
  if (const Value* r = era_end.Find("rewards")) {
    if (!r->IsObject()) return std::nullopt;
    for (std::size_t i = 0; i < r->keys.size(); ++i) {
      const Value& amounts = r->items[i];
      std::uint64_t sum = 0;
      const auto add = [&sum](const Value& amount) {
        auto a = AmountU64(amount);
        return a && !__builtin_add_overflow(sum, *a, &sum);
      };
      bool fits = true;
      if (amounts.IsArray()) {
        for (const Value& a : amounts.items) fits = fits && add(a);
      } else {
        fits = add(amounts);  // a single amount (early 2.0 release candidates)
      }
      if (!fits) return std::string("null");
      const std::string_view key = r->keys[i];
      // Above 2^53 - 1 a JSON number loses digits in JavaScript (the casper-js-sdk fails on it): a string.
      constexpr std::uint64_t kMaxSafeInteger = (std::uint64_t{1} << 53) - 1;
      std::string amount = std::to_string(sum);
      if (sum > kMaxSafeInteger) amount = "\"" + amount + "\"";
      Put(rewards, std::string_view(key.data() - 1, key.size() + 2), std::move(amount));
    }
  }
  ByKey weights;
  if (const Value* w = era_end.Find("next_era_validator_weights")) {
    if (!CollectPairs(*w, "weight", weights)) return std::nullopt;
  }
  std::string out;
  AppendEraEndV1(out, RawOr(era_end.Find("equivocators"), "[]"), rewards,
                 RawOr(era_end.Find("inactive_validators"), "[]"), weights);
  return out;
}

// A 1.x EraEnd re-written with its maps in key order (what the sidecar's typed copy serializes).
std::optional<std::string> EraEndV1(const Value& era_end) {
  if (era_end.IsNull()) return std::string("null");
  const Value* report = era_end.Find("era_report");
  if (!report || !report->IsObject()) return std::nullopt;
  ByKey rewards;
  ByKey weights;
  if (const Value* r = report->Find("rewards"); r && !CollectPairs(*r, "amount", rewards)) return std::nullopt;
  if (const Value* w = era_end.Find("next_era_validator_weights"); w && !CollectPairs(*w, "weight", weights)) {
    return std::nullopt;
  }
  std::string out;
  AppendEraEndV1(out, RawOr(report->Find("equivocators"), "[]"), rewards,
                 RawOr(report->Find("inactive_validators"), "[]"), weights);
  return out;
}

// The 1.x block header: parent_hash … accumulated_seed, era_end, timestamp, era_id, height,
// protocol_version (the fields a 2.x header adds are left out).
bool AppendHeaderV1(std::string& out, const Value& header, const std::string& era_end) {
  out += '{';
  bool ok = CopyMember(out, header, "parent_hash", false) && CopyMember(out, header, "state_root_hash") &&
            CopyMember(out, header, "body_hash") && CopyMember(out, header, "random_bit") &&
            CopyMember(out, header, "accumulated_seed");
  out += ",\"era_end\":";
  out += era_end;
  ok = ok && CopyMember(out, header, "timestamp") && CopyMember(out, header, "era_id") &&
       CopyMember(out, header, "height") && CopyMember(out, header, "protocol_version");
  out += '}';
  return ok;
}

// The Deploy hashes of a 2.x block body: lane 0 (mint) gives the 1.x transfer_hashes, every other
// lane the deploy_hashes, in lane order; Version1 hashes have no 1.x form.
bool DeployHashes(const Value& transactions, std::string& deploys, std::string& transfers) {
  if (!transactions.IsObject()) return false;
  std::vector<std::pair<std::uint64_t, const Value*>> lanes;
  for (std::size_t i = 0; i < transactions.keys.size(); ++i) {
    auto lane = ParseU64(transactions.keys[i]);
    if (!lane || !transactions.items[i].IsArray()) return false;
    lanes.emplace_back(*lane, &transactions.items[i]);
  }
  std::stable_sort(lanes.begin(), lanes.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  deploys = "[";
  transfers = "[";
  for (const auto& [lane, hashes] : lanes) {
    std::string& into = lane == 0 ? transfers : deploys;
    for (const Value& hash : hashes->items) {
      std::string_view kind;
      const Value* h = Variant(hash, kind);
      if (!h) return false;
      if (kind != "Deploy") continue;
      if (into.size() > 1) into += ',';
      into += h->raw;
    }
  }
  deploys += ']';
  transfers += ']';
  return true;
}

Translation BlockAdded(const Value& body) {
  const Value* block_hash = body.Find("block_hash");
  const Value* wrapped = body.Find("block");
  if (!block_hash || !wrapped) return Unchanged();
  std::string_view version;
  const Value* block = Variant(*wrapped, version);
  if (!block || (version != "Version1" && version != "Version2")) return Unchanged();  // a 1.x JsonBlock
  const Value* hash = block->Find("hash");
  const Value* header = block->Find("header");
  const Value* block_body = block->Find("body");
  if (!hash || !header || !header->IsObject() || !block_body || !block_body->IsObject()) return Dropped(kMalformed);
  const Value* era_end = header->Find("era_end");
  std::optional<std::string> era_end_v1 = std::string("null");
  if (era_end) era_end_v1 = version == "Version2" ? EraEndFromV2(*era_end) : EraEndV1(*era_end);
  if (!era_end_v1) return Dropped(kMalformed);

  std::string out = "{\"BlockAdded\":{\"block_hash\":";
  out += block_hash->raw;
  out += ",\"block\":{\"hash\":";
  out += hash->raw;
  out += ",\"header\":";
  if (!AppendHeaderV1(out, *header, *era_end_v1)) return Dropped(kMalformed);
  out += ",\"body\":{";
  if (version == "Version1") {
    if (!CopyMember(out, *block_body, "proposer", false) || !CopyMember(out, *block_body, "deploy_hashes") ||
        !CopyMember(out, *block_body, "transfer_hashes")) {
      return Dropped(kMalformed);
    }
  } else {
    const Value* transactions = block_body->Find("transactions");
    std::string deploys;
    std::string transfers;
    if (!transactions || !DeployHashes(*transactions, deploys, transfers)) return Dropped(kMalformed);
    if (!CopyMember(out, *header, "proposer", false)) return Dropped(kMalformed);
    out += ",\"deploy_hashes\":" + deploys + ",\"transfer_hashes\":" + transfers;
  }
  out += "}}}}";
  return Translated(std::move(out), "BlockAdded");
}

// ---- execution results ----

// A 2.x StoredValue written by an effect, as the 1.x transform of the same write; nullopt when 1.x has
// none (the values 2.x introduced: AddressableEntity, BidKind, SmartContract, ByteCode, MessageTopic,
// Message, Prepayment, EntryPoint, RawBytes, and any variant not known here).
std::optional<std::string> WriteTransform(const Value& stored) {
  std::string_view variant;
  const Value* v = Variant(stored, variant);
  if (!v) return std::nullopt;
  const auto wrap = [](std::string_view name, std::string_view raw) {
    std::string out = "{";
    Key(out, name);
    out += raw;
    out += '}';
    return out;
  };
  if (variant == "CLValue") return wrap("WriteCLValue", v->raw);
  if (variant == "Account") {
    const Value* account_hash = v->Find("account_hash");
    if (!account_hash) return std::nullopt;
    return wrap("WriteAccount", account_hash->raw);
  }
  if (variant == "ContractWasm") return std::string("\"WriteContractWasm\"");
  if (variant == "Contract") return std::string("\"WriteContract\"");
  if (variant == "ContractPackage") return std::string("\"WriteContractPackage\"");
  if (variant == "Transfer") return wrap("WriteTransfer", v->raw);
  if (variant == "DeployInfo") return wrap("WriteDeployInfo", v->raw);
  if (variant == "EraInfo") return wrap("WriteEraInfo", v->raw);
  if (variant == "Bid") return wrap("WriteBid", v->raw);
  if (variant == "Withdraw") return wrap("WriteWithdraw", v->raw);
  if (variant == "Unbonding") return wrap("WriteUnbonding", v->raw);
  if (variant == "NamedKey") {
    // {"named_key": CLValue(Key), "name": CLValue(String)} -> AddKeys([{name, key}]) from their parsed forms.
    const Value* key = v->Find("named_key");
    const Value* name = v->Find("name");
    const Value* key_parsed = key ? key->Find("parsed") : nullptr;
    const Value* name_parsed = name ? name->Find("parsed") : nullptr;
    if (!key_parsed || !name_parsed || !key_parsed->IsString() || !name_parsed->IsString()) return std::nullopt;
    return "{\"AddKeys\":[{\"name\":" + std::string(name_parsed->raw) + ",\"key\":" + std::string(key_parsed->raw) +
           "}]}";
  }
  return std::nullopt;
}

// AddKeys: the named keys [{name, key}] in name order (casper-types' NamedKeys is a BTreeMap).
std::optional<std::string> AddKeys(const Value& keys) {
  if (!keys.IsArray()) return std::nullopt;
  std::map<std::string, std::pair<std::string_view, std::string_view>> by_name;
  for (const Value& k : keys.items) {
    const Value* name = k.Find("name");
    const Value* key = k.Find("key");
    if (!name || !key || !name->IsString()) return std::nullopt;
    by_name[std::string(name->Text())] = {name->raw, key->raw};
  }
  std::string out = "{\"AddKeys\":[";
  bool first = true;
  for (const auto& [sort_key, entry] : by_name) {
    if (!first) out += ',';
    first = false;
    out += "{\"name\":";
    out += entry.first;
    out += ",\"key\":";
    out += entry.second;
    out += '}';
  }
  out += "]}";
  return out;
}

// One 2.x TransformKindV2 as a 1.x transform; nullopt when it has no 1.x form.
std::optional<std::string> Transform(const Value& kind) {
  if (kind.IsString()) {
    if (kind.Text() == "Identity") return std::string(kind.raw);
    return std::nullopt;
  }
  std::string_view variant;
  const Value* v = Variant(kind, variant);
  if (!v) return std::nullopt;
  if (variant == "Write") return WriteTransform(*v);
  if (variant == "AddInt32" || variant == "AddUInt64" || variant == "AddUInt128" || variant == "AddUInt256" ||
      variant == "AddUInt512" || variant == "Prune") {
    return std::string(kind.raw);
  }
  if (variant == "AddKeys") return AddKeys(*v);
  if (variant == "Failure") {
    if (v->IsString()) return std::string(kind.raw);
    // 1.x carries the error as text: the 2.x error's JSON, as a string.
    std::string out = "{\"Failure\":\"";
    for (char c : v->raw) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += "\"}";
    return out;
  }
  return std::nullopt;
}

// The 1.x ExecutionEffect of 2.x effects: no operations; the transforms, or none at all when one of
// them has no 1.x form (the sidecar gives no partial view).
std::optional<std::string> Effect(const Value& effects) {
  if (!effects.IsArray()) return std::nullopt;
  std::string transforms = "[";
  for (const Value& e : effects.items) {
    const Value* key = e.Find("key");
    const Value* kind = e.Find("kind");
    if (!key || !kind) return std::nullopt;
    auto t = Transform(*kind);
    if (!t) {
      transforms = "[";
      break;
    }
    if (transforms.size() > 1) transforms += ',';
    transforms += "{\"key\":";
    transforms += key->raw;
    transforms += ",\"transform\":";
    transforms += *t;
    transforms += '}';
  }
  transforms += ']';
  return "{\"operations\":[],\"transforms\":" + transforms + "}";
}

// ExecutionResult {"Version1": r} -> r; {"Version2": r} -> Success/Failure (error_message set) with the
// effect, no transfers and r's cost.
std::optional<std::string> ExecutionResultV1(const Value& result) {
  std::string_view version;
  const Value* r = Variant(result, version);
  if (!r) return std::nullopt;
  if (version == "Version1") return std::string(r->raw);
  if (version != "Version2") return std::nullopt;
  const Value* effects = r->Find("effects");
  const Value* cost = r->Find("cost");
  if (!effects || !cost) return std::nullopt;
  auto effect = Effect(*effects);
  if (!effect) return std::nullopt;
  const Value* error = r->Find("error_message");
  const bool failed = error && !error->IsNull();
  std::string out = failed ? "{\"Failure\":{\"effect\":" : "{\"Success\":{\"effect\":";
  out += *effect;
  out += ",\"transfers\":[],\"cost\":";
  out += cost->raw;
  if (failed) {
    out += ",\"error_message\":";
    out += error->raw;
  }
  out += "}}";
  return out;
}

// ---- transactions ----

// {"Deploy": hash} -> the hash's text; nullptr for a Version1 transaction.
const Value* DeployHash(const Value* transaction_hash) {
  std::string_view kind;
  const Value* h = transaction_hash ? Variant(*transaction_hash, kind) : nullptr;
  return h && kind == "Deploy" ? h : nullptr;
}

Translation TransactionAccepted(const Value& body) {
  std::string_view kind;
  const Value* transaction = Variant(body, kind);
  if (!transaction) return Dropped(kMalformed);
  if (kind != "Deploy") return Dropped("a Version1 transaction has no 1.x form");
  return Translated("{\"DeployAccepted\":" + std::string(transaction->raw) + "}", "DeployAccepted");
}

Translation TransactionProcessed(const Value& body) {
  const Value* hash = DeployHash(body.Find("transaction_hash"));
  if (!hash) return Dropped("a Version1 transaction has no 1.x form");
  std::string_view initiator_kind;
  const Value* initiator = body.Find("initiator_addr");
  const Value* account = initiator ? Variant(*initiator, initiator_kind) : nullptr;
  if (!account || initiator_kind != "PublicKey") return Dropped("a deploy initiated by an account hash has no 1.x form");
  const Value* result = body.Find("execution_result");
  auto execution_result = result ? ExecutionResultV1(*result) : std::nullopt;
  if (!execution_result) return Dropped(kMalformed);
  std::string out = "{\"DeployProcessed\":{\"deploy_hash\":";
  out += hash->raw;
  out += ",\"account\":";
  out += account->raw;
  if (!CopyMember(out, body, "timestamp") || !CopyMember(out, body, "ttl")) return Dropped(kMalformed);
  out += ",\"dependencies\":[]";
  if (!CopyMember(out, body, "block_hash")) return Dropped(kMalformed);
  out += ",\"execution_result\":";
  out += *execution_result;
  out += "}}";
  return Translated(std::move(out), "DeployProcessed");
}

Translation TransactionExpired(const Value& body) {
  const Value* transaction_hash = body.Find("transaction_hash");
  if (!transaction_hash) return Dropped(kMalformed);
  const Value* hash = DeployHash(transaction_hash);
  if (!hash) return Dropped("a Version1 transaction has no 1.x form");
  return Translated("{\"DeployExpired\":{\"deploy_hash\":" + std::string(hash->raw) + "}}", "DeployExpired");
}

// ---- the rest ----

Translation FinalitySignature(const Value& body) {
  std::string_view version;
  const Value* signature = Variant(body, version);
  if (!signature || (version != "V1" && version != "V2")) return Unchanged();  // the flat 1.x signature
  std::string out = "{\"FinalitySignature\":{";
  if (!CopyMember(out, *signature, "block_hash", false) || !CopyMember(out, *signature, "era_id") ||
      !CopyMember(out, *signature, "signature") || !CopyMember(out, *signature, "public_key")) {
    return Dropped(kMalformed);
  }
  out += "}}";
  return Translated(std::move(out), "FinalitySignature");
}

Translation Fault(const Value& body) {
  // The same event in 1.x, written in the order of the sidecar's struct.
  std::string out = "{\"Fault\":{";
  if (!CopyMember(out, body, "era_id", false) || !CopyMember(out, body, "public_key") ||
      !CopyMember(out, body, "timestamp")) {
    return Unchanged();
  }
  out += "}}";
  return Translated(std::move(out), "Fault");
}

}  // namespace

Translation ToLegacy(std::string_view payload) {
  auto parsed = detail::Parse(payload);
  if (!parsed) return Unchanged();  // not JSON: no node sends it; passed on as it is
  std::string_view type;
  const Value* body = Variant(*parsed, type);
  if (!body) return Unchanged();  // "Shutdown", or not an event
  if (type == "BlockAdded") return BlockAdded(*body);
  if (type == "TransactionAccepted") return TransactionAccepted(*body);
  if (type == "TransactionProcessed") return TransactionProcessed(*body);
  if (type == "TransactionExpired") return TransactionExpired(*body);
  if (type == "FinalitySignature") return FinalitySignature(*body);
  if (type == "Fault") {
    Translation t = Fault(*body);
    if (t.outcome == Outcome::kTranslated && t.payload == payload) return Unchanged();
    return t;
  }
  if (type == "Step") {
    if (body->Find("execution_effects")) return Dropped("a 2.x Step has no 1.x form");
    return Unchanged();  // a 1.x Step (execution_effect)
  }
  if (type == "SidecarVersion") return Dropped("SidecarVersion is sent on /events/sidecar only");
  return Unchanged();  // ApiVersion, the 1.x Deploy* events, types not known here
}

std::string ToLegacyFrame(std::string_view frame) {
  // The data lines first, then the rest (id, blank line).
  std::string data;
  std::size_t pos = 0;
  bool any = false;
  while (pos < frame.size() && frame.substr(pos, 5) == "data:") {
    const std::size_t end = frame.find('\n', pos);
    const std::size_t line_end = end == std::string_view::npos ? frame.size() : end;
    if (any) data += '\n';
    data.append(frame.substr(pos + 5, line_end - pos - 5));
    any = true;
    pos = end == std::string_view::npos ? frame.size() : end + 1;
  }
  if (!any) return std::string(frame);
  Translation t = ToLegacy(data);
  if (t.outcome == Outcome::kUnchanged) return std::string(frame);
  if (t.outcome == Outcome::kDropped) return {};
  std::string out;
  out.reserve(t.payload.size() + frame.size() - pos + 6);
  out += "data:";
  out += t.payload;
  out += '\n';
  out.append(frame.substr(pos));
  return out;
}

}  // namespace ces::legacy
