#include "ces/audit/record.hpp"

#include <openssl/sha.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <limits>

#include "ces/audit/keys.hpp"
#include "ces/common/time.hpp"
#include "ces/ingest/record.hpp"

namespace ces::audit {

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
  const ingest::EventMeta meta = ingest::DecodeHeaders(m);
  if (!meta.source.empty()) {
    r.source = meta.source;
  } else {
    r.source = key_source.empty() ? "unknown" : key_source;
    add_problem("no source header");
  }
  if (!meta.stream.empty()) {
    r.stream = meta.stream;
  } else {
    r.stream = key_stream.empty() ? "unknown" : key_stream;
    add_problem("no stream header");
  }
  if (!meta.event_type.empty()) {
    r.type = meta.event_type;
  } else {
    r.type = "unknown";
    add_problem("no event-type header");
  }
  r.api_version = meta.api_version;
  r.event_id = meta.event_id;
  if (const auto* v = m.HeaderValue(ingest::header::kEventId)) {
    if (!r.event_id) add_problem("event-id header '" + *v + "' is not a u32; identified by Kafka position");
  } else if (const auto* origin = m.HeaderValue("origin"); origin && *origin == "rpc") {
    // Rebuilt by backfill from the node's JSON-RPC: no SSE id; type, block and subject name it.
    r.origin = *origin;
    if (const auto* subject = m.HeaderValue("subject"); subject && !subject->empty()) {
      r.rebuilt_key = r.type + " " + *subject;
    } else {
      add_problem("rebuilt event without a subject header; identified by Kafka position");
    }
  } else if (r.type != "ApiVersion") {
    add_problem("no event-id header; identified by Kafka position");
  }
  if (const std::optional<std::int64_t> ms = time::ParseRfc3339Millis(meta.received_at)) {
    r.received_ms = *ms;
    r.received_at = meta.received_at;
  } else {
    r.received_ms = m.timestamp_ms;
    r.received_at = time::FormatRfc3339Millis(m.timestamp_ms);
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
