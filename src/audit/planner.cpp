#include "ces/audit/planner.hpp"

#include <algorithm>

namespace ces::audit {

std::optional<mongo::Link> NextLink(const mongo::ChainHead& head, const std::string& route, std::int64_t batch_start,
                                    std::int64_t batch_end, const std::vector<mongo::EventRecord>& entries,
                                    std::size_t& cursor, const LinkLimits& limits,
                                    const mongo::SegmentLimits& segments) {
  const std::int64_t start = head.seq < 0 ? batch_start : head.end;
  while (cursor < entries.size() && entries[cursor].offset < start) ++cursor;
  if (start >= batch_end) return std::nullopt;
  mongo::Link link;
  link.chain = head.chain;
  link.route = route;
  link.seq = head.seq + 1;
  link.start = start;
  link.segment = mongo::SegmentAfter(head, segments);
  link.min_ms = -1;
  link.max_ms = -1;
  std::size_t inline_bytes = 0;
  while (cursor < entries.size() && link.entries.size() < limits.max_entries) {
    const mongo::EventRecord& e = entries[cursor];
    const std::size_t size = e.payload_in_gridfs ? 0 : e.payload.size();
    if (!link.entries.empty() && inline_bytes + size > limits.max_bytes) break;
    inline_bytes += size;
    link.bytes += e.size;
    link.min_ms = link.min_ms < 0 ? e.received_ms : std::min(link.min_ms, e.received_ms);
    link.max_ms = std::max(link.max_ms, e.received_ms);
    link.entries.push_back(e);
    ++cursor;
  }
  link.end = cursor < entries.size() ? entries[cursor].offset : batch_end;
  link.count = static_cast<std::int64_t>(link.entries.size());
  const bool same_segment = head.seq >= 0 && link.segment == head.segment;
  link.segment_events = (same_segment ? head.segment_events : 0) + link.count;
  link.segment_bytes = (same_segment ? head.segment_bytes : 0) + link.bytes;
  return link;
}

mongo::ChainHead HeadAfter(const mongo::Link& link) {
  mongo::ChainHead head;
  head.chain = link.chain;
  head.route = link.route;
  head.seq = link.seq;
  head.end = link.end;
  head.segment = link.segment;
  head.segment_events = link.segment_events;
  head.segment_bytes = link.segment_bytes;
  return head;
}

std::string CheckpointKey(const mongo::Checkpoint& c) {
  return c.source + " " + c.stream + " " + std::to_string(c.bucket);
}

std::vector<mongo::Checkpoint> CheckpointsOf(const mongo::Link& link, const std::set<std::string>& known) {
  std::vector<mongo::Checkpoint> out;
  std::set<std::string> seen;
  for (const auto& e : link.entries) {
    if (!e.event_id) continue;
    const std::int64_t bucket = static_cast<std::int64_t>(*e.event_id) >> mongo::kCheckpointBits;
    std::string key = e.source + " " + e.stream + " " + std::to_string(bucket);
    if (known.count(key) || !seen.insert(key).second) continue;
    mongo::Checkpoint c;
    c.source = e.source;
    c.stream = e.stream;
    c.bucket = bucket;
    c.chain = link.chain;
    c.segment = link.segment;
    c.seq = link.seq;
    c.ms = e.received_ms;
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace ces::audit
