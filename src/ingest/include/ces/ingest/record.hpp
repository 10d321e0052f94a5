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
std::vector<kafka::Header> RecordHeaders(const EventMeta& meta);

// Parses an SSE id as the node's u32 counter; nullopt for anything else (empty, sign, overflow, junk).
std::optional<std::uint32_t> ParseEventId(std::string_view text);

// Fixed topic names (before the prefix).
inline constexpr std::string_view kPositionsTopic = "producer-positions";
inline constexpr std::string_view kDeadLetterTopic = "dead-letter";
inline constexpr std::string_view kGapsTopic = "ingest-gaps";

}  // namespace ces::ingest
