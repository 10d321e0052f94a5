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

// The topic name without the pipeline's prefix ("prod.main" with prefix "prod." -> "main").
std::string RouteOfTopic(std::string_view topic, std::string_view prefix);

}  // namespace ces::audit
