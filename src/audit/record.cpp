#include "ces/audit/record.hpp"

#include <openssl/sha.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <limits>

#include "ces/audit/keys.hpp"
#include "ces/ingest/record.hpp"

namespace ces::audit {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool Digits(std::string_view text, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > text.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

}  // namespace

std::optional<std::int64_t> ParseRfc3339Millis(std::string_view t) {
  int year, month, day, hour, minute, second;
  if (!Digits(t, 0, 4, year) || t.size() < 20 || t[4] != '-' || !Digits(t, 5, 2, month) || t[7] != '-' ||
      !Digits(t, 8, 2, day) || (t[10] != 'T' && t[10] != 't' && t[10] != ' ') || !Digits(t, 11, 2, hour) ||
      t[13] != ':' || !Digits(t, 14, 2, minute) || t[16] != ':' || !Digits(t, 17, 2, second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  std::size_t pos = 19;
  std::int64_t millis = 0;
  if (pos < t.size() && t[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') {
      if (digits < 3) millis = millis * 10 + (t[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (int i = digits; i < 3; ++i) millis *= 10;
  }
  std::int64_t offset_minutes = 0;
  if (pos < t.size() && (t[pos] == 'Z' || t[pos] == 'z')) {
    ++pos;
  } else if (pos < t.size() && (t[pos] == '+' || t[pos] == '-')) {
    int oh, om;
    if (!Digits(t, pos + 1, 2, oh) || pos + 3 >= t.size() || t[pos + 3] != ':' || !Digits(t, pos + 4, 2, om)) {
      return std::nullopt;
    }
    offset_minutes = (t[pos] == '+' ? 1 : -1) * (oh * 60 + om);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != t.size()) return std::nullopt;
  const std::int64_t days = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const std::int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
  return seconds * 1000 + millis;
}

std::string FormatRfc3339Millis(std::int64_t ms) {
  std::int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  const std::int64_t millis = ms - secs * 1000;
  std::int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  std::int64_t rem = secs - days * 86400;
  // civil_from_days
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ", static_cast<long long>(y), m, d,
                static_cast<long long>(rem / 3600), static_cast<long long>(rem % 3600 / 60),
                static_cast<long long>(rem % 60), static_cast<long long>(millis));
  return buffer;
}

std::string Sha256Hex(std::string_view data) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(digest.size() * 2, '0');
  for (std::size_t i = 0; i < digest.size(); ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 15];
  }
  return out;
}

std::string RouteOfTopic(std::string_view topic, std::string_view prefix) {
  if (!prefix.empty() && topic.substr(0, prefix.size()) == prefix) topic.remove_prefix(prefix.size());
  return std::string(topic);
}

kafka::TopicSpec ChainTopicSpec(const std::string& topic_prefix, int replication_factor) {
  kafka::TopicSpec spec;
  spec.name = kafka::TopicName(topic_prefix, kChainRoute);
  spec.partitions = 1;
  spec.replication_factor = replication_factor;
  // Kept forever: its offsets are the chain ids, and the chain stage rebuilds its seen set from it.
  spec.config = {{"max.message.bytes", std::to_string(kafka::kMaxRecordBytes + 1024 * 1024)},
                 {"retention.ms", "-1"},
                 {"retention.bytes", "-1"}};
  return spec;
}

BuiltRecord BuildRecord(const kafka::Message& m) {
  BuiltRecord out;
  mongo::EventRecord& r = out.record;
  auto add_problem = [&out](const std::string& p) { out.problem += (out.problem.empty() ? "" : "; ") + p; };
  r.topic = m.topic;
  r.partition = m.partition;
  r.offset = m.offset;
  std::string key_source;
  std::string key_stream;
  if (m.key) {
    const auto space = m.key->rfind(' ');
    if (space != std::string::npos) {
      key_source = m.key->substr(0, space);
      key_stream = m.key->substr(space + 1);
    }
  }
  if (const auto* v = m.HeaderValue(ingest::header::kSource); v && !v->empty()) {
    r.source = *v;
  } else {
    r.source = key_source.empty() ? "unknown" : key_source;
    add_problem("no source header");
  }
  if (const auto* v = m.HeaderValue(ingest::header::kStream); v && !v->empty()) {
    r.stream = *v;
  } else {
    r.stream = key_stream.empty() ? "unknown" : key_stream;
    add_problem("no stream header");
  }
  if (const auto* v = m.HeaderValue(ingest::header::kEventType); v && !v->empty()) {
    r.type = *v;
  } else {
    r.type = "unknown";
    add_problem("no event-type header");
  }
  if (const auto* v = m.HeaderValue(ingest::header::kApiVersion)) r.api_version = *v;
  if (const auto* v = m.HeaderValue(ingest::header::kEventId)) {
    r.event_id = ingest::ParseEventId(*v);
    if (!r.event_id) add_problem("event-id header '" + *v + "' is not a u32; identified by Kafka position");
  } else if (r.type != "ApiVersion") {
    add_problem("no event-id header; identified by Kafka position");
  }
  std::optional<std::int64_t> ms;
  if (const auto* v = m.HeaderValue(ingest::header::kReceivedAt)) ms = ParseRfc3339Millis(*v);
  if (ms) {
    r.received_ms = *ms;
    r.received_at = *m.HeaderValue(ingest::header::kReceivedAt);
  } else {
    r.received_ms = m.timestamp_ms;
    r.received_at = FormatRfc3339Millis(m.timestamp_ms);
    add_problem("no valid received-at header; using the Kafka timestamp");
  }
  if (m.HeaderValue(ingest::header::kChainKey)) {
    // A chain record: the event of the logical chain with id = its chain offset.
    r.source = std::string(kChainRoute);
    r.stream = std::string(kChainRoute);
    if (m.offset >= 0 && m.offset <= std::numeric_limits<std::uint32_t>::max()) {
      r.event_id = static_cast<std::uint32_t>(m.offset);
    } else {
      r.event_id.reset();
      add_problem("chain offset past u32; identified by Kafka position");
    }
  }
  r.payload = m.value;
  r.size = static_cast<std::int64_t>(m.value.size());
  r.sha256 = Sha256Hex(m.value);
  r.payload_in_gridfs = m.value.size() > mongo::kGridFsThreshold;
  r.keys = ExtractFilterKeys(r.type, m.value);
  r.id = mongo::EventIdentity(r);
  return out;
}

}  // namespace ces::audit
