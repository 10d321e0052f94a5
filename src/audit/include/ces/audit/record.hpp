#pragma once
// A Kafka record of main/deploys/sigs -> the event as the audit store keeps it (identity, metadata,
// sha256, filter keys). See docs/architecture.md for the record format.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ces/kafka/client.hpp"
#include "ces/mongo/audit_store.hpp"

namespace ces::audit {

struct BuiltRecord {
  mongo::EventRecord record;
  // Non-empty when the record lacked something and a fallback was used (e.g. no event-id header on a
  // type other than ApiVersion: identified by its Kafka position). The record is still stored.
  std::string problem;
};

BuiltRecord BuildRecord(const kafka::Message& message);

// Lower-case hex SHA-256.
std::string Sha256Hex(std::string_view data);

// "2024-06-12T09:26:25.460Z" (or with an offset such as +02:00; fraction optional) -> Unix milliseconds.
std::optional<std::int64_t> ParseRfc3339Millis(std::string_view text);
// Unix milliseconds -> "2024-06-12T09:26:25.460Z".
std::string FormatRfc3339Millis(std::int64_t ms);

// The topic name without the pipeline's prefix ("prod.main" with prefix "prod." -> "main").
std::string RouteOfTopic(std::string_view topic, std::string_view prefix);

}  // namespace ces::audit
