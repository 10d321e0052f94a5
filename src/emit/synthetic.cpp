#include "ces/emit/synthetic.hpp"

#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <stdexcept>
#include <vector>

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

// Position of the '[' of member `key`'s array value and of its matching ']'.
std::pair<std::size_t, std::size_t> FindArray(std::string_view payload, std::string_view key) {
  const std::string needle = "\"" + std::string(key) + "\":";
  std::size_t pos = payload.find(needle);
  if (pos == std::string_view::npos) return {std::string_view::npos, std::string_view::npos};
  std::size_t open = pos + needle.size();
  while (open < payload.size() && IsSpace(payload[open])) ++open;
  if (open >= payload.size() || payload[open] != '[') return {std::string_view::npos, std::string_view::npos};
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

// Recorded payloads to build events from, by kind.
struct Pools {
  std::string api_version_payload;
  std::vector<std::string> accepted, processed, expired, blocks, switch_blocks, steps, signatures;
};

// True when a BlockAdded payload lists a transaction: a non-empty 1.x/Version1 deploy_hashes or
// transfer_hashes, or a Version2 lane with an entry.
bool ListsTransactions(std::string_view payload) {
  for (std::string_view key : {"\"deploy_hashes\":[", "\"transfer_hashes\":["}) {
    const auto at = payload.find(key);
    if (at != std::string_view::npos && payload.substr(at + key.size(), 1) != "]") return true;
  }
  const std::string_view lanes_key = "\"transactions\":{";
  const auto at = payload.find(lanes_key);
  if (at == std::string_view::npos) return false;
  const auto end = payload.find('}', at + lanes_key.size());
  const std::string_view lanes = payload.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at);
  return lanes.find("\"Deploy\"") != std::string_view::npos || lanes.find("\"Version1\"") != std::string_view::npos;
}

// Without transactions in the mix, blocks come from templates that list none, so every block of the
// stream is consistent with its events (the fake node's JSON-RPC serves it, backfill rebuilds it).
void KeepBlocksWithoutTransactions(std::vector<std::string>& pool) {
  std::vector<std::string> kept;
  for (std::string& payload : pool) {
    if (!ListsTransactions(payload)) kept.push_back(std::move(payload));
  }
  if (!kept.empty()) pool = std::move(kept);
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
  casper::Classifier classifier;
  for (const auto& file : files) {
    Recording recording = Recording::Load(file.string());
    if (pools.api_version_payload.empty()) pools.api_version_payload = std::string(recording.api_version_payload());
    for (const RecordedEvent& event : recording.events()) {
      std::string payload(recording.Payload(event));
      casper::Classification c = classifier.Classify(payload);
      if (!c.ok) continue;
      if (c.event_type == names.accepted) {
        pools.accepted.push_back(std::move(payload));
      } else if (c.event_type == names.processed) {
        pools.processed.push_back(std::move(payload));
      } else if (c.event_type == names.expired) {
        pools.expired.push_back(std::move(payload));
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
  if (pools.blocks.empty()) pools.blocks = pools.switch_blocks;
  if (pools.switch_blocks.empty()) pools.switch_blocks = pools.blocks;
  if (ParseMix(options.mix).transactions == 0) {
    KeepBlocksWithoutTransactions(pools.blocks);
    KeepBlocksWithoutTransactions(pools.switch_blocks);
  }
  if (pools.expired.empty()) pools.expired = pools.processed;
  const std::pair<const char*, const std::vector<std::string>*> required[] = {
      {"accepted transaction", &pools.accepted}, {"processed transaction", &pools.processed},
      {"BlockAdded", &pools.blocks},            {"Step", &pools.steps},
      {"FinalitySignature", &pools.signatures}};
  for (const auto& [what, pool] : required) {
    if (pool->empty()) throw std::runtime_error(std::string("no ") + what + " event in the recordings under " + dir.string());
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
      for (std::uint64_t t = 0; t < transactions; ++t) Emit(names.accepted, Pick(pools_.accepted), block, Kind::kTransaction, 0);
      std::bernoulli_distribution expires(std::min(1.0, std::max(0.0, mix_.expired_percent / 100.0)));
      for (std::uint64_t t = 0; t < transactions; ++t) {
        if (expires(rng_)) {
          Emit(names.expired, Pick(pools_.expired), block, Kind::kTransaction, 0);
        } else {
          Emit(names.processed, Pick(pools_.processed), block, Kind::kTransaction, 0);
        }
      }
      const bool switch_block = (height - kFirstHeight + 1) % mix_.era_blocks == 0;
      if (switch_block) Emit("Step", Pick(pools_.steps), block, Kind::kStep, 0);
      Emit("BlockAdded", Pick(switch_block ? pools_.switch_blocks : pools_.blocks), block, Kind::kBlock, 0);
      for (std::uint64_t v = 0; v < mix_.signatures; ++v) {
        Emit("FinalitySignature", Pick(pools_.signatures), block, Kind::kSignature, v);
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
  const std::string& Pick(const std::vector<std::string>& pool) {
    return pool[std::uniform_int_distribution<std::size_t>(0, pool.size() - 1)(rng_)];
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
            std::uint64_t validator) {
    if (stats_.events >= options_.events) return;
    const std::uint64_t salt = seed_salt_ ^ SplitMix64(id_);
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
