#include "ces/ingest/record.hpp"

#include <charconv>

#include "ces/casper/event.hpp"
#include "ces/kafka/topics.hpp"

namespace ces::ingest {

std::string RecordKey(std::string_view source, std::string_view stream) {
  std::string key;
  key.reserve(source.size() + stream.size() + 1);
  key.append(source);
  key.push_back(' ');
  key.append(stream);
  return key;
}

std::string NormalizeNodeUrl(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  for (std::string_view suffix : {"/events/main", "/events/deploys", "/events/sigs", "/events"}) {
    if (url.size() > suffix.size() && url.compare(url.size() - suffix.size(), suffix.size(), suffix) == 0) {
      url.resize(url.size() - suffix.size());
      break;
    }
  }
  return url;
}

std::vector<kafka::Header> RecordHeaders(const EventMeta& meta) {
  std::vector<kafka::Header> headers;
  headers.reserve(6);
  headers.push_back({std::string(header::kSource), meta.source});
  headers.push_back({std::string(header::kStream), meta.stream});
  if (meta.event_id) headers.push_back({std::string(header::kEventId), std::to_string(*meta.event_id)});
  headers.push_back({std::string(header::kApiVersion), meta.api_version});
  headers.push_back({std::string(header::kEventType), meta.event_type});
  headers.push_back({std::string(header::kReceivedAt), meta.received_at});
  return headers;
}

EventMeta DecodeHeaders(const kafka::Message& message) {
  auto text = [&](std::string_view name) {
    const std::string* value = message.HeaderValue(name);
    return value ? *value : std::string();
  };
  EventMeta meta;
  meta.source = text(header::kSource);
  meta.stream = text(header::kStream);
  if (const std::string* id = message.HeaderValue(header::kEventId)) meta.event_id = ParseEventId(*id);
  meta.api_version = text(header::kApiVersion);
  meta.event_type = text(header::kEventType);
  meta.received_at = text(header::kReceivedAt);
  return meta;
}

std::optional<std::uint32_t> ParseEventId(std::string_view text) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  std::uint32_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

std::vector<kafka::TopicSpec> TopicSpecs(const TopicOptions& options) {
  const kafka::TopicLayout layout{options.partitions, options.replication_factor, options.min_insync_replicas};
  std::vector<kafka::TopicSpec> specs = kafka::EventTopicSpecs(options.prefix, layout);
  auto positions = kafka::MakeTopicSpec(kafka::TopicName(options.prefix, kPositionsTopic), layout, 1);
  positions.config["cleanup.policy"] = "compact";
  specs.push_back(std::move(positions));
  specs.push_back(kafka::MakeTopicSpec(kafka::TopicName(options.prefix, kDeadLetterTopic), layout, 1));
  specs.push_back(kafka::MakeTopicSpec(kafka::TopicName(options.prefix, kGapsTopic), layout, 1));
  return specs;
}

}  // namespace ces::ingest
