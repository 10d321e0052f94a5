#pragma once
// The event topics of a pipeline (`main`, `deploys`, `sigs`, each with the --topic-prefix) and how they
// are created. produce creates them with its layout flags; every consumer also creates them (default
// layout) before it subscribes, so a consumer started before produce sees the first record at once
// instead of after librdkafka's next metadata refresh.

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ces/kafka/client.hpp"

namespace ces::kafka {

// The event topic names before the prefix, in this order everywhere.
inline constexpr std::array<std::string_view, 3> kEventTopics = {"main", "deploys", "sigs"};

// `kEventTopics` with `prefix` applied.
std::vector<std::string> EventTopicNames(std::string_view prefix);

// How created topics are laid out (produce's --partitions, --replication-factor, --min-insync-replicas).
struct TopicLayout {
  int partitions = 3;
  int replication_factor = -1;             // -1: the broker's default.replication.factor
  std::optional<int> min_insync_replicas;  // unset: the broker's default
};

// A topic named `name` (prefix already applied) with `layout`, `partitions` partitions and the record
// size limit of the pipeline (max.message.bytes = kMaxRecordBytes + 1 MiB).
TopicSpec MakeTopicSpec(std::string name, const TopicLayout& layout, int partitions);

// The specs of the three event topics with `prefix` and `layout`.
std::vector<TopicSpec> EventTopicSpecs(std::string_view prefix, const TopicLayout& layout = {});

// For consumers: creates the event topics that do not exist yet (default layout). A failure (broker
// down, no permission to create topics) is logged and returns false: the subscription still finds the
// topics once someone creates them (see kConsumerMetadataRefreshMs).
bool EnsureEventTopics(const std::string& brokers, const Settings& settings, std::string_view prefix,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));

// topic.metadata.refresh.interval.ms of every Consumer (librdkafka's default is 5 minutes): a subscribed
// topic created later is picked up within this time.
inline constexpr int kConsumerMetadataRefreshMs = 2000;

}  // namespace ces::kafka
