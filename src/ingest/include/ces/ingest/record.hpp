#pragma once
// The Kafka record format of captured node events (see docs/architecture.md):
//   value   = the node's SSE `data` payload, byte for byte;
//   key     = "<source> <stream>", so each node stream stays in one partition, in order;
//   headers = source, stream, event-id (absent for ApiVersion), api-version, event-type, received-at.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ces/kafka/client.hpp"

namespace ces::ingest {

namespace header {
inline constexpr std::string_view kSource = "source";          // node base URL as configured
inline constexpr std::string_view kStream = "stream";          // node endpoint: main|deploys|sigs (1.x), events (2.x)
inline constexpr std::string_view kEventId = "event-id";       // node SSE id, decimal u32
inline constexpr std::string_view kApiVersion = "api-version"; // ApiVersion announced on the connection
inline constexpr std::string_view kEventType = "event-type";   // e.g. BlockAdded, Shutdown
inline constexpr std::string_view kReceivedAt = "received-at"; // RFC 3339 UTC, ms
inline constexpr std::string_view kReason = "reason";          // dead-letter records: why it was rejected
inline constexpr std::string_view kChainKey = "chain-key";     // chain records: the event's identity (ces::chain)
inline constexpr std::string_view kChainTopic = "chain-topic"; // chain records: the node topic it was read from
}  // namespace header

struct EventMeta {
  std::string source;
  std::string stream;
  std::optional<std::uint32_t> event_id;
  std::string api_version;
  std::string event_type;
  std::string received_at;
};

std::string RecordKey(std::string_view source, std::string_view stream);
// The node's base URL: trailing slashes and an event-stream path given by mistake are removed, so
// "http://n:9999/events/" and "http://n:9999" name the same source (the `source` header, record keys).
std::string NormalizeNodeUrl(std::string url);
std::vector<kafka::Header> RecordHeaders(const EventMeta& meta);
// The inverse of RecordHeaders: a missing header leaves its field empty; event_id is nullopt when the
// header is missing or not a u32 (ParseEventId).
EventMeta DecodeHeaders(const kafka::Message& message);

// Parses an SSE id as the node's u32 counter; nullopt for anything else (empty, sign, overflow, junk).
std::optional<std::uint32_t> ParseEventId(std::string_view text);

// Fixed topic names (before the prefix).
inline constexpr std::string_view kPositionsTopic = "producer-positions";
inline constexpr std::string_view kDeadLetterTopic = "dead-letter";
inline constexpr std::string_view kGapsTopic = "ingest-gaps";

// The topics of the ingest path (main, deploys, sigs; producer-positions compacted; dead-letter and
// ingest-gaps), as produce creates them. Anything writing events next to produce (backfill) creates
// the same ones if they are missing.
struct TopicOptions {
  std::string prefix;
  int partitions = 3;
  int replication_factor = -1;             // -1: broker default
  std::optional<int> min_insync_replicas;  // unset: broker default
};
std::vector<kafka::TopicSpec> TopicSpecs(const TopicOptions& options);

}  // namespace ces::ingest
