#include "ces/kafka/topics.hpp"

#include <stdexcept>

#include "ces/common/log.hpp"

namespace ces::kafka {

std::vector<std::string> EventTopicNames(std::string_view prefix) {
  std::vector<std::string> names;
  for (std::string_view name : kEventTopics) names.push_back(TopicName(prefix, name));
  return names;
}

TopicSpec MakeTopicSpec(std::string name, const TopicLayout& layout, int partitions) {
  TopicSpec spec;
  spec.name = std::move(name);
  spec.partitions = partitions;
  spec.replication_factor = layout.replication_factor;
  spec.config["max.message.bytes"] = std::to_string(kMaxRecordBytes + 1024 * 1024);
  if (layout.min_insync_replicas) spec.config["min.insync.replicas"] = std::to_string(*layout.min_insync_replicas);
  return spec;
}

std::vector<TopicSpec> EventTopicSpecs(std::string_view prefix, const TopicLayout& layout) {
  std::vector<TopicSpec> specs;
  for (std::string& name : EventTopicNames(prefix)) specs.push_back(MakeTopicSpec(std::move(name), layout, layout.partitions));
  return specs;
}

bool EnsureEventTopics(const std::string& brokers, const Settings& settings, std::string_view prefix,
                       std::chrono::milliseconds timeout) {
  try {
    EnsureTopics(brokers, settings, EventTopicSpecs(prefix), timeout);
    return true;
  } catch (const std::exception& e) {
    log::Warn("kafka event topics not created; subscribing anyway", {{"prefix", std::string(prefix)}, {"error", e.what()}});
    return false;
  }
}

}  // namespace ces::kafka
