// libFuzzer target for the replay API's list cursor (ces::audit::EncodeCursor / DecodeCursor) and the
// query fingerprint it is bound to (ParseReplayQuery, ReplayQuery::Fingerprint).
//
// An input with a line break is a query string (key=value&..., as the list endpoint receives it), then a
// cursor bound to that query's fingerprint; an input without one is a cursor bound to the fixed
// fingerprint 0123456789abcdef (so that seeds reach past the fingerprint check). The cursor is tried
// twice: as the text a client sends, and base64url-encoded here first, so that the fuzzer works on the
// JSON inside. Checked, besides no crash, no exception and no sanitizer report:
//  * a query is parsed, or rejected naming one of its parameters; a parsed query has a fingerprint;
//  * a cursor that decodes gives positions that are not negative, re-encodes to a cursor that decodes
//    to the same positions, and that cursor is a fixed point (encode(decode(c)) == c);
//  * a decoded cursor holds exactly the numbers and topics its JSON holds (no value silently cut or
//    rounded on the way);
//  * a cursor is bound to its fingerprint: another fingerprint is refused, with an error;
//  * a refused cursor comes with an error;
//  * positions built from the input round-trip through EncodeCursor/DecodeCursor unchanged.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ces/audit/query.hpp"
#include "fuzz_check.hpp"

namespace {

using ces::audit::ChainPosition;
using ces::audit::DecodeCursor;
using ces::audit::EncodeCursor;
using ces::audit::Positions;
using ces::fuzz::Check;

// Reference base64url (RFC 4648 §5, no padding), written independently of the one under test.
std::string Base64Url(std::string_view data) {
  static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (unsigned char c : data) {
    bits = (bits << 8) | c;
    count += 8;
    while (count >= 6) {
      count -= 6;
      out += kAlphabet[(bits >> count) & 63];
    }
  }
  if (count > 0) out += kAlphabet[(bits << (6 - count)) & 63];
  return out;
}

std::optional<std::string> FromBase64Url(std::string_view text) {
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    const std::size_t v = std::string_view("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_").find(c);
    if (v == std::string_view::npos) return std::nullopt;
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xff);
    }
  }
  return out;
}

// key=value&... without percent-decoding (the server decodes before the query parser sees the values).
std::vector<std::pair<std::string, std::string>> Params(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const std::size_t eq = pair.find('=');
    out.emplace_back(std::string(pair.substr(0, eq)), eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1)));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

void CheckDecoded(const std::string& cursor, const std::string& fingerprint) {
  std::string error;
  const std::optional<Positions> positions = DecodeCursor(cursor, fingerprint, error);
  if (!positions) {
    Check(!error.empty(), "a refused cursor without an error");
    return;
  }
  for (const ChainPosition& p : *positions) {
    Check(p.seq >= 0 && p.segment >= 0 && p.index >= 0, "a decoded position is negative");
  }
  const std::string again = EncodeCursor(*positions, fingerprint);
  std::string error2;
  const std::optional<Positions> decoded_again = DecodeCursor(again, fingerprint, error2);
  Check(decoded_again && *decoded_again == *positions, "a re-encoded cursor does not decode to the same positions");
  Check(EncodeCursor(*decoded_again, fingerprint) == again, "encode(decode(cursor)) is not a fixed point");
  Check(!DecodeCursor(cursor, fingerprint + "x", error2) && !error2.empty(), "a cursor accepted for another query");

  // What the cursor's JSON holds is what was decoded: same entries, same values.
  const auto json = nlohmann::json::parse(FromBase64Url(cursor).value_or(""), nullptr, false);
  Check(json.is_object() && json.contains("p") && json["p"].is_array(), "a cursor decoded without its JSON");
  const auto& list = json["p"];
  Check(list.size() == positions->size(), "decoded another number of positions than the cursor holds");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const ChainPosition& p = (*positions)[i];
    const auto expected = nlohmann::json::array({p.chain.topic, p.chain.partition, p.seq, p.segment, p.index});
    Check(list[i] == expected, "a decoded position differs from the cursor's JSON");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t newline = input.find('\n');
  const std::string_view query_text = input.substr(0, newline == std::string_view::npos ? 0 : newline);
  const std::string cursor(newline == std::string_view::npos ? input : input.substr(newline + 1));

  std::string fingerprint = "0123456789abcdef";
  if (newline != std::string_view::npos) {
    const auto params = Params(query_text);
    const auto parsed = ces::audit::ParseReplayQuery(params, ces::audit::QueryKind::kList, {});
    if (parsed.query) {
      fingerprint = parsed.query->Fingerprint();
      Check(!fingerprint.empty(), "an empty fingerprint");
      Check(parsed.query->Fingerprint() == fingerprint, "the fingerprint of a query changes");
    } else {
      bool named = false;
      for (const auto& [key, value] : params) named = named || key == parsed.error.parameter;
      Check(named && !parsed.error.message.empty(), "a rejected query without the parameter that was wrong");
    }
  }

  CheckDecoded(cursor, fingerprint);
  CheckDecoded(Base64Url(cursor), fingerprint);

  // Positions as the replay builds them (topic names as Kafka allows) round-trip unchanged.
  FuzzedDataProvider provider(data, size);
  Positions positions;
  while (provider.remaining_bytes() > 0 && positions.size() < 8) {
    ChainPosition p;
    const std::string raw = provider.ConsumeRandomLengthString(40);
    for (char c : raw) {
      const bool kafka_char = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                              c == '.' || c == '_' || c == '-';
      if (kafka_char) p.chain.topic += c;
    }
    p.chain.partition = provider.ConsumeIntegralInRange<std::int32_t>(0, INT32_MAX);
    p.seq = provider.ConsumeIntegralInRange<std::int64_t>(0, INT64_MAX);
    p.segment = provider.ConsumeIntegralInRange<std::int64_t>(0, INT64_MAX);
    p.index = provider.ConsumeIntegralInRange<std::int64_t>(0, INT64_MAX);
    positions.push_back(std::move(p));
  }
  std::string error;
  const auto decoded = DecodeCursor(EncodeCursor(positions, fingerprint), fingerprint, error);
  Check(decoded && *decoded == positions, "positions do not round-trip through a cursor");
  return 0;
}
