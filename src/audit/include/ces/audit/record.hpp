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

// The chain sequence (docs/architecture.md "The chain sequence"): the topic <prefix>chain, one partition,
// written by the chain stage. Its records carry the node's headers plus `chain-key`; as events they
// are identified by their offset, the chain id: source and stream "chain", event id = offset.
inline constexpr std::string_view kChainRoute = "chain";
// The chain topic (one partition: its offsets are the chain ids; 65 MiB records), created by chain,
// audit-consume and api, whichever starts first.
kafka::TopicSpec ChainTopicSpec(const std::string& topic_prefix, int replication_factor = -1);

// A record of a node topic, or of the chain topic (recognised by its chain-key header).
BuiltRecord BuildRecord(const kafka::Message& message);

// Lower-case hex SHA-256.
std::string Sha256Hex(std::string_view data);

// The topic name without the pipeline's prefix ("prod.main" with prefix "prod." -> "main").
std::string RouteOfTopic(std::string_view topic, std::string_view prefix);

}  // namespace ces::audit
