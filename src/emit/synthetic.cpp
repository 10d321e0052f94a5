#include "ces/emit/synthetic.hpp"

#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <stdexcept>
#include <vector>

#include <nlohmann/json.hpp>

#include "ces/casper/event.hpp"
#include "ces/common/log.hpp"
#include "ces/common/text.hpp"
#include "ces/common/time.hpp"
#include "ces/emit/recording.hpp"

namespace ces::emit {
namespace {

constexpr std::uint64_t kFirstHeight = 1'000'000;
constexpr std::uint64_t kFirstEra = 10'000;
constexpr std::int64_t kFirstBlockUnixMs = 1'735'689'600'000;  // 2025-01-01T00:00:00.000Z
constexpr std::int64_t kBlockIntervalMs = 16'384;              // a Casper round
constexpr std::uint64_t kProgressEvery = 1'000'000;
constexpr std::uint64_t kTransactionSalt = 0x5452414E53414354ull;  // "TRANSACT": apart from event ids

std::uint64_t SplitMix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Walks compact (or spaced) JSON text and rebuilds it in `out`: member names and punctuation are
// copied, string values go through on_string(key, content, out) (content without quotes; the quotes
// are written here) and numbers through on_number(key, text, out). `key` is the member name when
// the value directly follows "name":, else empty (array elements).
template <typename OnString, typename OnNumber>
void ScanJson(std::string_view in, std::string& out, OnString&& on_string, OnNumber&& on_number) {
  std::string_view key;
  bool keyed = false;
  std::size_t i = 0;
  const std::size_t n = in.size();
  while (i < n) {
    const char c = in[i];
    if (c == '"') {
      std::size_t j = i + 1;
      while (j < n && in[j] != '"') j += in[j] == '\\' ? 2 : 1;
      if (j >= n) {  // unterminated string: not JSON, keep the rest as it is
        out.append(in.substr(i));
        return;
      }
      std::string_view content = in.substr(i + 1, j - i - 1);
      std::size_t k = j + 1;
      while (k < n && IsSpace(in[k])) ++k;
      if (k < n && in[k] == ':') {
        key = content;
        out.append(in.substr(i, j + 1 - i));
      } else {
        out.push_back('"');
        on_string(keyed ? key : std::string_view(), content, out);
        out.push_back('"');
      }
      keyed = false;
      i = j + 1;
    } else if (c == ':') {
      out.push_back(c);
      keyed = true;
      ++i;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      std::size_t j = i + 1;
      while (j < n && ((in[j] >= '0' && in[j] <= '9') || in[j] == '.' || in[j] == 'e' || in[j] == 'E' ||
                       in[j] == '+' || in[j] == '-')) {
        ++j;
      }
      on_number(keyed ? key : std::string_view(), in.substr(i, j - i), out);
      keyed = false;
      i = j;
    } else {
      out.push_back(c);
      if (!IsSpace(c)) keyed = false;
      ++i;
    }
  }
}

void AppendNumber(std::string& out, std::uint64_t value) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  (void)ec;
  out.append(buf, static_cast<std::size_t>(end - buf));
}

// Position of the opening bracket (`open`: '[' or '{') of member `key`'s value and of its matching
// closing one; npos twice when the first member `key` has no such value.
std::pair<std::size_t, std::size_t> FindBracketed(std::string_view payload, std::string_view key, char open_char) {
  const std::string needle = "\"" + std::string(key) + "\":";
  std::size_t pos = payload.find(needle);
  if (pos == std::string_view::npos) return {std::string_view::npos, std::string_view::npos};
  std::size_t open = pos + needle.size();
  while (open < payload.size() && IsSpace(payload[open])) ++open;
  if (open >= payload.size() || payload[open] != open_char) return {std::string_view::npos, std::string_view::npos};
  int depth = 0;
  for (std::size_t i = open; i < payload.size(); ++i) {
    const char c = payload[i];
    if (c == '"') {
      ++i;
      while (i < payload.size() && payload[i] != '"') i += payload[i] == '\\' ? 2 : 1;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if (c == ']' || c == '}') {
      if (--depth == 0) return {open, i};
    }
  }
  return {std::string_view::npos, std::string_view::npos};
}

std::pair<std::size_t, std::size_t> FindArray(std::string_view payload, std::string_view key) {
  return FindBracketed(payload, key, '[');
}

// Replaces the bracketed value of member `key` by `value`; false when there is none.
bool ReplaceBracketed(std::string& payload, std::string_view key, char open_char, std::string_view value) {
  auto [open, close] = FindBracketed(payload, key, open_char);
  if (open == std::string_view::npos) return false;
  payload.replace(open, close + 1 - open, value);
  return true;
}

// Event kinds of one protocol version.
struct TypeNames {
  std::string accepted;
  std::string processed;
  std::string expired;
};

TypeNames NamesFor(int protocol) {
  if (protocol == 1) return {"DeployAccepted", "DeployProcessed", "DeployExpired"};
  return {"TransactionAccepted", "TransactionProcessed", "TransactionExpired"};
}

// A recorded transaction made into the templates of its events: Accepted, then Processed or Expired,
// telling the same story (hash, initiator, timestamp, ttl), so that a block can list it and a node's
// JSON-RPC can serve it. Emitted with one salt per use, its hashes are derived alike in every event.
struct TransactionTemplate {
  std::string accepted;   // the recorded Accepted payload
  std::string processed;  // a recorded Processed payload of the same kind, rewritten to this transaction
  std::string expired;    // the node's Expired payload for it
  std::string tag;        // Deploy | Version1 (1.x: Deploy)
  std::string hash;       // the recorded hash, from which each use derives its own
  std::string lane;       // 2.x: the block body lane; 1.x: "deploy_hashes" | "transfer_hashes"
};

// Recorded payloads to build events from, by kind.
struct Pools {
  std::string api_version_payload;
  std::vector<TransactionTemplate> transactions;
  std::vector<std::string> blocks, switch_blocks, steps, signatures;
};

using OrderedJson = nlohmann::ordered_json;

std::string ReplaceAll(std::string text, std::string_view from, std::string_view to) {
  if (from.empty()) return text;
  for (std::size_t pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

// Where a block lists a transaction. 2.x (casper-node 2.0 lanes): native transfers and burns in the
// mint lane 0, other native calls in the auction lane 1, installs and upgrades in lane 2, other Wasm in
// lane 3; a deploy is a transfer or Wasm. 1.x: transfers in transfer_hashes, the rest in deploy_hashes.
std::string LaneOf(const OrderedJson& body, std::string_view tag, int protocol) {
  if (tag == "Deploy") {
    const auto session = body.find("session");
    const bool transfer = session != body.end() && session->is_object() && session->contains("Transfer");
    if (protocol == 1) return transfer ? "transfer_hashes" : "deploy_hashes";
    return transfer ? "0" : "3";
  }
  const auto payload = body.find("payload");
  const OrderedJson fields = payload != body.end() ? payload->value("fields", OrderedJson::object()) : OrderedJson::object();
  const OrderedJson target = fields.value("target", OrderedJson());
  if (target == "Native") {
    const OrderedJson entry_point = fields.value("entry_point", OrderedJson());
    return entry_point == "Transfer" || entry_point == "Burn" ? "0" : "1";
  }
  if (target.is_object() && target.contains("Session") && target["Session"].is_object() &&
      target["Session"].value("is_install_upgrade", false)) {
    return "2";
  }
  return "3";
}

// What a Processed event repeats of its transaction, as casper-node fills it in: 2.x initiator_addr
// (a deploy's account as a PublicKey), timestamp and ttl; 1.x account, timestamp, ttl, dependencies.
struct TransactionFacts {
  std::string tag, hash;
  OrderedJson initiator_addr, account, timestamp, ttl, dependencies;
};

// Reads an Accepted payload; false when it is not one this generator can pair.
bool ReadAccepted(const std::string& payload, int protocol, TransactionFacts& facts, OrderedJson& body) {
  const OrderedJson j = OrderedJson::parse(payload, nullptr, false);
  if (!j.is_object() || j.size() != 1) return false;
  if (protocol == 1) {
    facts.tag = "Deploy";
    body = j.begin().value();
  } else {
    const OrderedJson& versioned = j.begin().value();
    if (!versioned.is_object() || versioned.size() != 1) return false;
    facts.tag = versioned.begin().key();
    body = versioned.begin().value();
  }
  if (!body.is_object() || !body.contains("hash") || !body["hash"].is_string()) return false;
  facts.hash = body["hash"].get<std::string>();
  if (facts.tag == "Deploy") {
    if (!body.contains("header") || !body["header"].is_object()) return false;
    const OrderedJson& header = body["header"];
    facts.account = header.value("account", OrderedJson());
    facts.initiator_addr = OrderedJson::object({{"PublicKey", facts.account}});
    facts.timestamp = header.value("timestamp", OrderedJson());
    facts.ttl = header.value("ttl", OrderedJson());
    facts.dependencies = header.value("dependencies", OrderedJson::array());
  } else {
    const OrderedJson fields = body.contains("payload") ? body["payload"] : body.value("header", OrderedJson::object());
    facts.initiator_addr = fields.value("initiator_addr", OrderedJson());
    facts.timestamp = fields.value("timestamp", OrderedJson());
    facts.ttl = fields.value("ttl", OrderedJson());
  }
  return facts.timestamp.is_string() && facts.ttl.is_string() && !facts.initiator_addr.is_null();
}

// A recorded Processed payload made into one of transaction `facts`: its hash (wherever it occurs,
// e.g. in the transfers of the execution result) becomes the transaction's, and so do the fields the
// node copies from the transaction. Empty when `processed` is not of the transaction's kind.
std::string ProcessedFor(const std::string& processed, const TransactionFacts& facts, int protocol) {
  const OrderedJson j = OrderedJson::parse(processed, nullptr, false);
  if (!j.is_object() || j.size() != 1 || !j.begin().value().is_object()) return {};
  const OrderedJson& event = j.begin().value();
  std::string recorded_hash;
  OrderedJson recorded_initiator;
  if (protocol == 1) {
    recorded_hash = event.value("deploy_hash", std::string());
    recorded_initiator = event.value("account", OrderedJson());
  } else {
    const OrderedJson hash = event.value("transaction_hash", OrderedJson());
    if (!hash.is_object() || hash.size() != 1 || hash.begin().key() != facts.tag || !hash.begin().value().is_string()) {
      return {};
    }
    recorded_hash = hash.begin().value().get<std::string>();
    recorded_initiator = event.value("initiator_addr", OrderedJson());
  }
  if (!IsHex64(recorded_hash)) return {};
  std::string text = ReplaceAll(j.dump(), recorded_hash, facts.hash);
  // The execution result names its initiator too (2.x `initiator`).
  if (!recorded_initiator.is_null()) {
    const OrderedJson initiator = protocol == 1 ? facts.account : facts.initiator_addr;
    text = ReplaceAll(std::move(text), recorded_initiator.dump(), initiator.dump());
  }
  OrderedJson out = OrderedJson::parse(text, nullptr, false);
  if (out.is_discarded()) return {};
  OrderedJson& fields = out.begin().value();
  if (protocol == 1) {
    fields["account"] = facts.account;
    fields["dependencies"] = facts.dependencies;
  } else {
    fields["initiator_addr"] = facts.initiator_addr;
  }
  fields["timestamp"] = facts.timestamp;
  fields["ttl"] = facts.ttl;
  return out.dump();
}

// Pairs every recorded Accepted with every recorded Processed of its kind.
std::vector<TransactionTemplate> MakeTransactionTemplates(const std::vector<std::string>& accepted,
                                                          const std::vector<std::string>& processed, int protocol) {
  std::vector<TransactionTemplate> out;
  for (const std::string& payload : accepted) {
    TransactionFacts facts;
    OrderedJson body;
    if (!ReadAccepted(payload, protocol, facts, body)) continue;
    const std::string lane = LaneOf(body, facts.tag, protocol);
    const std::string expired = protocol == 1
                                    ? "{\"DeployExpired\":{\"deploy_hash\":\"" + facts.hash + "\"}}"
                                    : "{\"TransactionExpired\":{\"transaction_hash\":{\"" + facts.tag + "\":\"" +
                                          facts.hash + "\"}}}";
    for (const std::string& recorded : processed) {
      std::string rewritten = ProcessedFor(recorded, facts, protocol);
      if (rewritten.empty()) continue;
      out.push_back({payload, std::move(rewritten), expired, facts.tag, facts.hash, lane});
    }
  }
  return out;
}

// Keeps the block templates whose body has the list(s) a generated block fills in: 2.x a Version2
// body's `transactions` lanes, 1.x `deploy_hashes` and `transfer_hashes`.
void KeepBlocksThatList(std::vector<std::string>& pool, int protocol) {
  std::vector<std::string> kept;
  for (std::string& payload : pool) {
    const bool lists = protocol == 2 ? FindBracketed(payload, "transactions", '{').first != std::string_view::npos
                                     : FindArray(payload, "deploy_hashes").first != std::string_view::npos &&
                                           FindArray(payload, "transfer_hashes").first != std::string_view::npos;
    if (lists) kept.push_back(std::move(payload));
  }
  pool = std::move(kept);
}

Pools LoadPools(const GenerateOptions& options) {
  const std::filesystem::path dir(options.recordings_dir);
  std::vector<std::filesystem::path> files;
  if (options.protocol == 1) {
    files = {dir / "v1" / "main.stream", dir / "v1" / "deploys.stream", dir / "v1" / "sigs.stream"};
  } else {
    files = {dir / "v2" / "events.stream"};
  }
  const TypeNames names = NamesFor(options.protocol);
  Pools pools;
  std::vector<std::string> accepted, processed;
  casper::Classifier classifier;
  for (const auto& file : files) {
    Recording recording = Recording::Load(file.string());
    if (pools.api_version_payload.empty()) pools.api_version_payload = std::string(recording.api_version_payload());
    for (const RecordedEvent& event : recording.events()) {
      std::string payload(recording.Payload(event));
      casper::Classification c = classifier.Classify(payload);
      if (!c.ok) continue;
      if (c.event_type == names.accepted) {
        accepted.push_back(std::move(payload));
      } else if (c.event_type == names.processed) {
        processed.push_back(std::move(payload));
      } else if (c.event_type == "BlockAdded") {
        (payload.find("\"era_end\":null") == std::string::npos ? pools.switch_blocks : pools.blocks)
            .push_back(std::move(payload));
      } else if (c.event_type == "Step") {
        pools.steps.push_back(std::move(payload));
      } else if (c.event_type == "FinalitySignature") {
        pools.signatures.push_back(std::move(payload));
      }
    }
  }
  KeepBlocksThatList(pools.blocks, options.protocol);
  KeepBlocksThatList(pools.switch_blocks, options.protocol);
  if (pools.blocks.empty()) pools.blocks = pools.switch_blocks;
  if (pools.switch_blocks.empty()) pools.switch_blocks = pools.blocks;
  pools.transactions = MakeTransactionTemplates(accepted, processed, options.protocol);
  std::vector<std::pair<const char*, bool>> required = {{"BlockAdded (with a body that lists transactions)", !pools.blocks.empty()},
                                                        {"Step", !pools.steps.empty()},
                                                        {"FinalitySignature", !pools.signatures.empty()}};
  if (ParseMix(options.mix).transactions > 0) {
    required.emplace_back("accepted transaction with a processed one of its kind", !pools.transactions.empty());
  }
  for (const auto& [what, present] : required) {
    if (!present) throw std::runtime_error(std::string("no ") + what + " event in the recordings under " + dir.string());
  }
  return pools;
}

// One output stream file: comment line, ApiVersion frame, then events.
class StreamFile {
 public:
  StreamFile(const std::string& path, std::string_view comment, std::string_view api_version_payload) : path_(path) {
    file_ = std::fopen(path.c_str(), "wb");
    if (file_ == nullptr) throw std::runtime_error("cannot create " + path + ": " + std::strerror(errno));
    std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
    Put(": ");
    Put(comment);
    Put("\n");
    Put("data:");
    Put(api_version_payload);
    Put("\n\n");
  }
  StreamFile(const StreamFile&) = delete;
  StreamFile& operator=(const StreamFile&) = delete;
  ~StreamFile() {
    if (file_ != nullptr) std::fclose(file_);
  }

  void Write(std::string_view payload, std::uint64_t id) {
    char tail[40] = "\nid:";
    auto [end, ec] = std::to_chars(tail + 4, tail + sizeof tail - 2, id);
    (void)ec;
    *end++ = '\n';
    *end++ = '\n';
    Put("data:");
    Put(payload);
    Put(std::string_view(tail, static_cast<std::size_t>(end - tail)));
  }

  void Close() {
    const bool failed = std::ferror(file_) != 0;
    const bool close_failed = std::fclose(file_) != 0;
    file_ = nullptr;
    if (failed || close_failed) throw std::runtime_error("cannot write " + path_);
  }

  std::uint64_t bytes() const { return bytes_; }

 private:
  void Put(std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), file_);
    bytes_ += text.size();
  }

  std::string path_;
  std::FILE* file_ = nullptr;
  std::uint64_t bytes_ = 0;
};

// What ties the events of one block together.
struct BlockContext {
  std::string hash;
  std::string parent_hash;
  std::string timestamp;
  std::uint64_t height = 0;
  std::uint64_t era = 0;
  std::uint64_t proposer = 0;
};

enum class Kind { kTransaction, kStep, kBlock, kSignature };

class Generator {
 public:
  Generator(const GenerateOptions& options, Pools pools)
      : options_(options), mix_(ParseMix(options.mix)), pools_(std::move(pools)), rng_(options.seed),
        seed_salt_(SplitMix64(options.seed)) {}

  GenerateStats Run() {
    const std::string comment =
        "synthetic stream generated by casper-event-store generate from " + options_.recordings_dir + " recordings";
    if (options_.protocol == 1) {
      std::filesystem::create_directories(options_.out);
      for (casper::Stream s : {casper::Stream::kMain, casper::Stream::kDeploys, casper::Stream::kSigs}) {
        const std::string path = (std::filesystem::path(options_.out) / (std::string(casper::StreamName(s)) + ".stream")).string();
        files_.push_back(std::make_unique<StreamFile>(path, comment, pools_.api_version_payload));
      }
    } else {
      files_.push_back(std::make_unique<StreamFile>(options_.out, comment, pools_.api_version_payload));
    }

    const TypeNames names = NamesFor(options_.protocol);
    id_ = options_.first_id;
    std::uint64_t era = kFirstEra;
    for (std::uint64_t height = kFirstHeight; stats_.events < options_.events; ++height) {
      BlockContext block;
      block.hash = BlockHash(height);
      block.parent_hash = BlockHash(height - 1);
      block.height = height;
      block.era = era;
      block.timestamp = time::FormatRfc3339(time::Clock::time_point(std::chrono::milliseconds(
          kFirstBlockUnixMs + static_cast<std::int64_t>(height - kFirstHeight) * kBlockIntervalMs)));
      block.proposer = mix_.signatures > 0 ? height % mix_.signatures : 0;

      const std::uint64_t transactions =
          std::uniform_int_distribution<std::uint64_t>(0, 2 * mix_.transactions)(rng_);
      // Each transaction's events share a salt: its hash is derived alike in Accepted, Processed
      // (or Expired) and the block body that lists it.
      std::vector<std::pair<const TransactionTemplate*, std::uint64_t>> chosen;
      for (std::uint64_t t = 0; t < transactions; ++t) {
        chosen.emplace_back(&Pick(pools_.transactions), seed_salt_ ^ SplitMix64(kTransactionSalt ^ transactions_++));
        Emit(names.accepted, chosen.back().first->accepted, block, Kind::kTransaction, 0, chosen.back().second);
      }
      std::bernoulli_distribution expires(std::min(1.0, std::max(0.0, mix_.expired_percent / 100.0)));
      listed_.clear();
      for (const auto& [tx, salt] : chosen) {
        if (expires(rng_)) {
          Emit(names.expired, tx->expired, block, Kind::kTransaction, 0, salt);
        } else {
          Emit(names.processed, tx->processed, block, Kind::kTransaction, 0, salt);
          listed_.push_back({tx->lane, tx->tag, DeriveHex64(tx->hash, salt)});
        }
      }
      const bool switch_block = (height - kFirstHeight + 1) % mix_.era_blocks == 0;
      if (switch_block) Emit("Step", Pick(pools_.steps), block, Kind::kStep, 0, EventSalt());
      Emit("BlockAdded", Pick(switch_block ? pools_.switch_blocks : pools_.blocks), block, Kind::kBlock, 0, EventSalt());
      for (std::uint64_t v = 0; v < mix_.signatures; ++v) {
        Emit("FinalitySignature", Pick(pools_.signatures), block, Kind::kSignature, v, EventSalt());
      }
      if (switch_block) ++era;
      ++stats_.blocks;
    }
    for (auto& file : files_) {
      file->Close();
      stats_.bytes += file->bytes();
    }
    return stats_;
  }

 private:
  // A transaction a block lists: its lane (1.x: body list), tag and derived hash.
  struct Listed {
    std::string lane;
    std::string tag;
    std::string hash;
  };

  template <typename T>
  const T& Pick(const std::vector<T>& pool) {
    return pool[std::uniform_int_distribution<std::size_t>(0, pool.size() - 1)(rng_)];
  }

  // The salt of an event that stands alone: derived from its id.
  std::uint64_t EventSalt() const { return seed_salt_ ^ SplitMix64(id_); }

  // Makes the block body list exactly the transactions processed in this block: 2.x the lanes
  // object `transactions` (lanes 0 to 3), 1.x `deploy_hashes` and `transfer_hashes`.
  void ListTransactions(std::string& payload) const {
    auto list = [&](std::string_view lane, bool tagged) {
      std::string out = "[";
      for (const Listed& tx : listed_) {
        if (tx.lane != lane) continue;
        if (out.size() > 1) out += ',';
        out += tagged ? "{\"" + tx.tag + "\":\"" + tx.hash + "\"}" : "\"" + tx.hash + "\"";
      }
      return out + "]";
    };
    if (options_.protocol == 2) {
      std::string lanes = "{";
      for (std::string_view lane : {"0", "1", "2", "3"}) {
        if (lanes.size() > 1) lanes += ',';
        lanes += "\"" + std::string(lane) + "\":" + list(lane, true);
      }
      ReplaceBracketed(payload, "transactions", '{', lanes + "}");
    } else {
      for (std::string_view key : {"deploy_hashes", "transfer_hashes"}) ReplaceBracketed(payload, key, '[', list(key, false));
    }
  }

  std::string BlockHash(std::uint64_t height) const { return DeriveHex64(std::to_string(height), seed_salt_ ^ 0xB10C); }

  // The key of validator `index`: the template key's algorithm tag, then 64 derived hex digits.
  void AppendValidatorKey(std::string_view template_key, std::uint64_t index, std::string& out) const {
    if (template_key.size() < 66 || !text::IsHex(template_key)) {
      out.append(template_key);
      return;
    }
    out.append(template_key.substr(0, 2));
    char derived[64];
    DeriveHex64("validator", seed_salt_ ^ SplitMix64(index + 1), derived);
    out.append(derived, 64);
    out.append(template_key.substr(66));
  }

  // A signature ("01" + 128 hex): the tag stays, each 64-digit block is derived.
  static void AppendSignature(std::string_view text, std::uint64_t salt, std::string& out) {
    if (text.size() < 66 || !text::IsHex(text)) {
      RewriteHexRuns(text, salt, out);
      return;
    }
    out.append(text.substr(0, 2));
    std::size_t pos = 2;
    char derived[64];
    for (; pos + 64 <= text.size(); pos += 64) {
      DeriveHex64(text.substr(pos, 64), salt, derived);
      out.append(derived, 64);
    }
    out.append(text.substr(pos));
  }

  void Emit(std::string_view type, const std::string& payload, const BlockContext& block, Kind kind,
            std::uint64_t validator, std::uint64_t salt) {
    if (stats_.events >= options_.events) return;
    scratch_.clear();
    scratch_.reserve(payload.size() + 64);
    ScanJson(
        payload, scratch_,
        [&](std::string_view key, std::string_view content, std::string& out) {
          if (key == "block_hash" && IsHex64(content)) {
            out.append(block.hash);
          } else if (key == "hash" && kind == Kind::kBlock && IsHex64(content)) {
            out.append(block.hash);
          } else if (key == "parent_hash" && IsHex64(content)) {
            out.append(block.parent_hash);
          } else if (key == "chain_name_hash") {
            out.append(content);
          } else if (key == "timestamp" && content.size() == 24 && time::IsRfc3339Utc(content)) {
            out.append(block.timestamp);
          } else if (key == "public_key" && kind == Kind::kSignature) {
            AppendValidatorKey(content, validator, out);
          } else if (key == "proposer" && kind == Kind::kBlock) {
            AppendValidatorKey(content, block.proposer, out);
          } else if (key == "signature") {
            AppendSignature(content, salt, out);
          } else {
            RewriteHexRuns(content, salt, out);
          }
        },
        [&](std::string_view key, std::string_view text, std::string& out) {
          if (key == "height" || key == "block_height") {
            AppendNumber(out, block.height);
          } else if (key == "era_id") {
            AppendNumber(out, block.era);
          } else {
            out.append(text);
          }
        });
    if (kind == Kind::kBlock) ListTransactions(scratch_);
    StreamFile& file = options_.protocol == 1 ? *files_[static_cast<std::size_t>(casper::RouteByType(type))] : *files_[0];
    file.Write(scratch_, id_);
    ++id_;
    ++stats_.events;
    ++stats_.by_type[std::string(type)];
    if (stats_.events % kProgressEvery == 0) {
      log::Info("generating", {{"events", stats_.events}, {"of", options_.events}});
    }
  }

  const GenerateOptions& options_;
  Mix mix_;
  Pools pools_;
  std::mt19937_64 rng_;
  std::uint64_t seed_salt_;
  std::vector<std::unique_ptr<StreamFile>> files_;
  std::uint64_t id_ = 0;
  std::uint64_t transactions_ = 0;  // transactions generated so far (their salts)
  std::vector<Listed> listed_;      // the transactions of the block being generated
  std::string scratch_;
  GenerateStats stats_;
};

}  // namespace

bool IsHex64(std::string_view text) { return text.size() == 64 && text::IsHex(text); }

void DeriveHex64(std::string_view original, std::uint64_t salt, char out[64]) {
  static constexpr char kHex[] = "0123456789abcdef";
  // Two independent FNV-style lanes over the (case-folded) input, then four SplitMix64 outputs.
  std::uint64_t a = 0xcbf29ce484222325ull ^ SplitMix64(salt);
  std::uint64_t b = SplitMix64(salt ^ 0x6a09e667f3bcc909ull);
  for (char ch : original) {
    auto c = static_cast<unsigned char>(ch >= 'A' && ch <= 'F' ? ch - 'A' + 'a' : ch);
    a = (a ^ c) * 0x100000001b3ull;
    b = (b + c) * 0x9E3779B97F4A7C15ull;
    b ^= b >> 29;
  }
  for (int word = 0; word < 4; ++word) {
    std::uint64_t v = SplitMix64(a ^ SplitMix64(b + static_cast<std::uint64_t>(word)));
    for (int nibble = 0; nibble < 16; ++nibble) {
      out[word * 16 + nibble] = kHex[(v >> (60 - 4 * nibble)) & 0xF];
    }
  }
}

std::string DeriveHex64(std::string_view original, std::uint64_t salt) {
  std::string out(64, '0');
  DeriveHex64(original, salt, out.data());
  return out;
}

void RewriteHashValues(std::string_view payload, std::uint64_t salt, std::string& out) {
  out.clear();
  out.reserve(payload.size());
  char derived[64];
  ScanJson(
      payload, out,
      [&](std::string_view, std::string_view content, std::string& o) {
        if (IsHex64(content)) {
          DeriveHex64(content, salt, derived);
          o.append(derived, 64);
        } else {
          o.append(content);
        }
      },
      [](std::string_view, std::string_view text, std::string& o) { o.append(text); });
}

void RewriteHexRuns(std::string_view text, std::uint64_t salt, std::string& out) {
  char derived[64];
  std::size_t i = 0;
  while (i < text.size()) {
    if (!text::IsHexDigit(text[i])) {
      out.push_back(text[i++]);
      continue;
    }
    std::size_t j = i;
    while (j < text.size() && text::IsHexDigit(text[j])) ++j;
    if (j - i == 64) {
      DeriveHex64(text.substr(i, 64), salt, derived);
      out.append(derived, 64);
    } else {
      out.append(text.substr(i, j - i));
    }
    i = j;
  }
}

std::string EnlargeArray(std::string_view payload, std::string_view array_key, std::size_t target_bytes) {
  auto [open, close] = FindArray(payload, array_key);
  if (open == std::string_view::npos || close == open + 1) {
    throw std::invalid_argument("no non-empty \"" + std::string(array_key) + "\" array to enlarge");
  }
  const std::string_view entries = payload.substr(open + 1, close - open - 1);
  const std::string_view suffix = payload.substr(close);
  std::string out(payload.substr(0, close));
  out.reserve(std::max(target_bytes, payload.size()) + entries.size() + 1);
  std::string copy;
  for (std::uint64_t n = 1; out.size() + suffix.size() < target_bytes; ++n) {
    copy.clear();
    RewriteHexRuns(entries, n, copy);
    out.push_back(',');
    out.append(copy);
  }
  out.append(suffix);
  return out;
}

Mix ParseMix(std::string_view text) {
  Mix mix;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(start, comma - start);
    start = comma + 1;
    if (item.empty()) continue;
    std::size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      if (item == "mainnet") {
        mix = Mix{};
      } else if (item == "steps") {  // era ends only: Step + switch block, nothing else
        mix.signatures = 0;
        mix.transactions = 0;
        mix.era_blocks = 1;
      } else if (item == "blocks") {  // blocks and era ends, no transactions or signatures
        mix.signatures = 0;
        mix.transactions = 0;
      } else {
        throw std::invalid_argument("bad --mix item '" + std::string(item) +
                                    "': expected a preset (mainnet, steps, blocks) or key=value");
      }
      continue;
    }
    std::string_view key = item.substr(0, eq);
    std::string_view value = item.substr(eq + 1);
    auto whole_number = [&]() {
      std::uint64_t v = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (value.empty() || ec != std::errc() || ptr != value.data() + value.size()) {
        throw std::invalid_argument("bad --mix value for " + std::string(key) + ": '" + std::string(value) + "'");
      }
      return v;
    };
    if (key == "signatures") {
      mix.signatures = whole_number();
    } else if (key == "transactions") {
      mix.transactions = whole_number();
    } else if (key == "era_blocks") {
      mix.era_blocks = whole_number();
      if (mix.era_blocks == 0) throw std::invalid_argument("--mix era_blocks must be at least 1");
    } else if (key == "expired") {
      try {
        std::size_t used = 0;
        mix.expired_percent = std::stod(std::string(value), &used);
        if (used != value.size() || mix.expired_percent < 0 || mix.expired_percent > 100) throw std::invalid_argument("");
      } catch (const std::exception&) {
        throw std::invalid_argument("bad --mix value for expired (a percentage): '" + std::string(value) + "'");
      }
    } else {
      throw std::invalid_argument("unknown --mix key '" + std::string(key) +
                                  "' (known: signatures, transactions, era_blocks, expired)");
    }
  }
  return mix;
}

GenerateStats Generate(const GenerateOptions& options) {
  if (options.protocol != 1 && options.protocol != 2) throw std::invalid_argument("--protocol must be 1 or 2");
  if (options.out.empty()) throw std::invalid_argument("--out is required");
  ParseMix(options.mix);  // reject a bad mix before any file is written
  Pools pools = LoadPools(options);
  if (options.large_step_mb > 0) {
    const auto target = static_cast<std::size_t>(options.large_step_mb * 1024.0 * 1024.0);
    for (std::string& step : pools.steps) {
      const bool v1 = FindArray(step, "transforms").first != std::string_view::npos;
      step = EnlargeArray(step, v1 ? "transforms" : "execution_effects", target);
    }
  }
  return Generator(options, std::move(pools)).Run();
}

}  // namespace ces::emit
