#include "ces/ingest/record.hpp"

#include <charconv>

#include "ces/casper/event.hpp"

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

std::optional<std::uint32_t> ParseEventId(std::string_view text) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  std::uint32_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

std::vector<kafka::TopicSpec> TopicSpecs(const TopicOptions& options) {
  const std::string max_bytes = std::to_string(kafka::kMaxRecordBytes + 1024 * 1024);
  std::vector<kafka::TopicSpec> specs;
  auto base = [&](std::string_view name, int partitions) {
    kafka::TopicSpec spec;
    spec.name = kafka::TopicName(options.prefix, name);
    spec.partitions = partitions;
    spec.replication_factor = options.replication_factor;
    spec.config["max.message.bytes"] = max_bytes;
    if (options.min_insync_replicas) spec.config["min.insync.replicas"] = std::to_string(*options.min_insync_replicas);
    return spec;
  };
  for (auto stream : {casper::Stream::kMain, casper::Stream::kDeploys, casper::Stream::kSigs}) {
    specs.push_back(base(casper::StreamName(stream), options.partitions));
  }
  auto positions = base(kPositionsTopic, 1);
  positions.config["cleanup.policy"] = "compact";
  specs.push_back(positions);
  specs.push_back(base(kDeadLetterTopic, 1));
  specs.push_back(base(kGapsTopic, 1));
  return specs;
}

}  // namespace ces::ingest
