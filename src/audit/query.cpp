#include "ces/audit/query.hpp"

#include <algorithm>
#include <charconv>
#include <limits>
#include <nlohmann/json.hpp>
#include <simdjson.h>

#include "ces/audit/record.hpp"
#include "ces/casper/event.hpp"
#include "ces/common/text.hpp"
#include "ces/common/time.hpp"

namespace ces::audit {
namespace {

template <class T>
bool ParseUnsigned(std::string_view text, T& out) {
  if (text.empty() || text.front() == '+' || text.front() == '-') return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

bool IsPublicKey(std::string_view s) {
  // Ed25519: 01 + 64 hex; secp256k1: 02 + 66 hex.
  return text::IsHex(s) && ((s.size() == 66 && s.substr(0, 2) == "01") || (s.size() == 68 && s.substr(0, 2) == "02"));
}

bool IsTypeName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z'))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

std::string Base64UrlEncode(std::string_view data) {
  static constexpr char kTable[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(data[i]) << 16) | (static_cast<unsigned char>(data[i + 1]) << 8) |
                       static_cast<unsigned char>(data[i + 2]);
    out += kTable[(v >> 18) & 63];
    out += kTable[(v >> 12) & 63];
    out += kTable[(v >> 6) & 63];
    out += kTable[v & 63];
  }
  if (i + 1 == data.size()) {
    const unsigned v = static_cast<unsigned char>(data[i]) << 16;
    out += kTable[(v >> 18) & 63];
    out += kTable[(v >> 12) & 63];
  } else if (i + 2 == data.size()) {
    const unsigned v = (static_cast<unsigned char>(data[i]) << 16) | (static_cast<unsigned char>(data[i + 1]) << 8);
    out += kTable[(v >> 18) & 63];
    out += kTable[(v >> 12) & 63];
    out += kTable[(v >> 6) & 63];
  }
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : text) {
    const int v = value(c);
    if (v < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  return out;
}

}  // namespace

bool ReplayQuery::RouteMatches(const std::string& route) const {
  // The chain topic only when asked for by name: "all routes" are the node topics.
  if (routes.empty()) return route != kChainRoute;
  return std::find(routes.begin(), routes.end(), route) != routes.end();
}

bool ReplayQuery::Matches(const mongo::EventRecord& e) const {
  if (!sources.empty() && std::find(sources.begin(), sources.end(), e.source) == sources.end()) return false;
  if (!types.empty() && std::find(types.begin(), types.end(), e.type) == types.end()) return false;
  if (!type_routes.empty() &&
      std::find(type_routes.begin(), type_routes.end(), casper::StreamName(casper::RouteByType(e.type))) ==
          type_routes.end()) {
    return false;
  }
  if (!streams.empty() && std::find(streams.begin(), streams.end(), e.stream) == streams.end()) return false;
  if (from_ms && e.received_ms < *from_ms) return false;
  if (to_ms && e.received_ms > *to_ms) return false;
  if (start_from && (!e.event_id || *e.event_id < *start_from)) return false;
  if (block_hash && e.keys.block_hash != block_hash) return false;
  if (block_height && e.keys.block_height != block_height) return false;
  if (transaction_hash && e.keys.transaction_hash != transaction_hash) return false;
  if (public_key && e.keys.public_key != public_key) return false;
  if (account && e.keys.account != account) return false;
  if (origin && (*origin == "rpc") != (e.origin == "rpc")) return false;
  return true;
}

std::string ReplayQuery::Fingerprint() const {
  nlohmann::json j;
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  j["r"] = sorted(routes);
  j["s"] = sorted(sources);
  j["t"] = sorted(types);
  if (!type_routes.empty()) j["tr"] = sorted(type_routes);
  if (!streams.empty()) j["st"] = sorted(streams);
  if (from_ms) j["f"] = *from_ms;
  if (to_ms) j["u"] = *to_ms;
  if (block_hash) j["bh"] = *block_hash;
  if (block_height) j["bn"] = *block_height;
  if (transaction_hash) j["th"] = *transaction_hash;
  if (public_key) j["pk"] = *public_key;
  if (account) j["ac"] = *account;
  if (start_from) j["sf"] = *start_from;
  if (origin) j["or"] = *origin;
  return Sha256Hex(j.dump()).substr(0, 16);
}

ParsedQuery ParseReplayQuery(const std::vector<std::pair<std::string, std::string>>& params, QueryKind kind,
                             std::vector<std::string> routes, const QueryLimits& limits) {
  ParsedQuery out;
  ReplayQuery q;
  q.routes = std::move(routes);
  q.limit = limits.default_page_size;
  std::vector<std::string> seen;
  auto fail = [&out](std::string parameter, std::string message) {
    out.query.reset();
    out.error = {std::move(parameter), std::move(message)};
    return out;
  };
  auto hash = [](const std::string& v) { return v.size() == 64 && text::IsHex(v); };
  for (const auto& [key, value] : params) {
    const bool repeatable = key == "source" || key == "type";
    if (!repeatable && std::find(seen.begin(), seen.end(), key) != seen.end()) {
      return fail(key, "parameter '" + key + "' given more than once");
    }
    seen.push_back(key);
    if (key == "source") {
      // Not UTF-8: no node URL, and the cursor fingerprint (JSON) could not hold it.
      if (value.empty() || !simdjson::validate_utf8(value.data(), value.size())) {
        return fail(key, "source must be a node URL, e.g. http://10.0.0.5:9999");
      }
      q.sources.push_back(value);
    } else if (key == "origin") {
      if (value != "node" && value != "rpc") return fail(key, "origin must be node or rpc, got '" + value + "'");
      q.origin = value;
    } else if (key == "type") {
      if (!IsTypeName(value)) return fail(key, "type must be an event type name such as BlockAdded, got '" + value + "'");
      q.types.push_back(value);
    } else if (key == "from_time" || key == "to_time") {
      auto ms = time::ParseRfc3339Millis(value);
      if (!ms) return fail(key, key + " must be an RFC 3339 time such as 2024-06-12T09:26:25.460Z, got '" + value + "'");
      (key == "from_time" ? q.from_ms : q.to_ms) = *ms;
    } else if (key == "block_hash" || key == "deploy_hash" || key == "transaction_hash") {
      if (!hash(value)) return fail(key, key + " must be 64 hexadecimal characters");
      const std::string v = text::ToLower(value);
      if ((key == "block_hash" && q.block_hash) ||
          (key != "block_hash" && q.transaction_hash && *q.transaction_hash != v)) {
        return fail(key, "deploy_hash and transaction_hash name the same filter; give one");
      }
      (key == "block_hash" ? q.block_hash : q.transaction_hash) = v;
    } else if (key == "block_height") {
      std::uint64_t h = 0;
      if (!ParseUnsigned(value, h)) return fail(key, "block_height must be an unsigned integer, got '" + value + "'");
      q.block_height = h;
    } else if (key == "public_key") {
      if (!IsPublicKey(value)) {
        return fail(key, "public_key must be a hex public key (01 + 64 hex or 02 + 66 hex characters)");
      }
      q.public_key = text::ToLower(value);
    } else if (key == "account") {
      const std::string prefix = "account-hash-";
      const bool is_hash = value.size() == prefix.size() + 64 && text::ToLower(value.substr(0, prefix.size())) == prefix &&
                           text::IsHex(value.substr(prefix.size()));
      if (!is_hash && !IsPublicKey(value)) {
        return fail(key, "account must be a hex public key or account-hash- followed by 64 hexadecimal characters");
      }
      q.account = text::ToLower(value);
    } else if (key == "start_from") {
      std::uint32_t id = 0;
      if (!ParseUnsigned(value, id)) return fail(key, "start_from must be an event id (0 to 4294967295), got '" + value + "'");
      q.start_from = id;
    } else if (key == "max_events" && kind == QueryKind::kStream) {
      std::uint64_t n = 0;
      if (!ParseUnsigned(value, n) || n == 0) return fail(key, "max_events must be a positive integer, got '" + value + "'");
      q.max_events = n;
    } else if (key == "limit" && kind == QueryKind::kList) {
      std::size_t n = 0;
      if (!ParseUnsigned(value, n) || n == 0 || n > limits.max_page_size) {
        return fail(key, "limit must be between 1 and " + std::to_string(limits.max_page_size) + ", got '" + value + "'");
      }
      q.limit = n;
    } else if (key == "cursor" && kind == QueryKind::kList) {
      if (value.empty()) return fail(key, "cursor must be a next_cursor value from a previous page");
      q.cursor = value;
    } else {
      return fail(key, "unknown parameter '" + key + "'");
    }
  }
  if (q.from_ms && q.to_ms && *q.to_ms < *q.from_ms) return fail("to_time", "to_time is before from_time");
  if (q.start_from && q.sources.size() > 1) {
    return fail("start_from", "start_from needs exactly one source (event ids are per node)");
  }
  std::sort(q.types.begin(), q.types.end());
  q.types.erase(std::unique(q.types.begin(), q.types.end()), q.types.end());
  std::sort(q.sources.begin(), q.sources.end());
  q.sources.erase(std::unique(q.sources.begin(), q.sources.end()), q.sources.end());
  out.query = std::move(q);
  return out;
}

std::string EncodeCursor(const Positions& positions, const std::string& fingerprint) {
  nlohmann::json j;
  j["v"] = 1;
  j["f"] = fingerprint;
  nlohmann::json list = nlohmann::json::array();
  for (const auto& p : positions) list.push_back({p.chain.topic, p.chain.partition, p.seq, p.segment, p.index});
  j["p"] = std::move(list);
  return Base64UrlEncode(j.dump());
}

std::optional<Positions> DecodeCursor(const std::string& cursor, const std::string& fingerprint, std::string& error) {
  auto text = Base64UrlDecode(cursor);
  if (!text) {
    error = "cursor is not a next_cursor value";
    return std::nullopt;
  }
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  // Types are checked before any get<>(): nlohmann throws for a mismatch, and a cursor is client input.
  if (j.is_discarded() || !j.is_object() || !j.contains("v") || !j["v"].is_number_integer() || j["v"] != 1 ||
      !j.contains("p") || !j["p"].is_array() || !j.contains("f") || !j["f"].is_string()) {
    error = "cursor is not a next_cursor value";
    return std::nullopt;
  }
  if (j["f"].get<std::string>() != fingerprint) {
    error = "cursor belongs to a query with other filters";
    return std::nullopt;
  }
  Positions out;
  for (const auto& p : j["p"]) {
    // Kafka partitions are int32 >= 0; chain positions int64 >= 0 (a larger unsigned reads as negative).
    if (!p.is_array() || p.size() != 5 || !p[0].is_string() || !p[1].is_number_integer() ||
        !p[2].is_number_integer() || !p[3].is_number_integer() || !p[4].is_number_integer() ||
        p[1].get<std::int64_t>() < 0 || p[1].get<std::int64_t>() > std::numeric_limits<std::int32_t>::max() ||
        p[2].get<std::int64_t>() < 0 || p[3].get<std::int64_t>() < 0 || p[4].get<std::int64_t>() < 0) {
      error = "cursor is not a next_cursor value";
      return std::nullopt;
    }
    out.push_back({{p[0].get<std::string>(), p[1].get<std::int32_t>()}, p[2].get<std::int64_t>(),
                   p[3].get<std::int64_t>(), p[4].get<std::int64_t>()});
  }
  return out;
}

}  // namespace ces::audit
