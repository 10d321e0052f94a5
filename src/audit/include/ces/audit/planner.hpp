#pragma once
// Pure planning of the replay log (no I/O): which events of a consumer batch go into which link.
//
// A chain (one Kafka partition) is a dense sequence of links 0, 1, 2, ...; link k covers the offsets
// [start, end) with start = end of link k-1, and holds the events first stored from that range. A
// writer claims link k by inserting it; two writers of the same partition (a rebalance overlap, a
// second consumer group) compute the same start from link k-1, so exactly one insert succeeds and the
// other adopts the winner's end.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ces/mongo/audit_store.hpp"

namespace ces::audit {

struct LinkLimits {
  std::size_t max_entries = 512;
  // Payload bytes per link; a single larger payload gets a link of its own (up to the GridFS threshold).
  std::size_t max_bytes = 8u * 1024u * 1024u;
};

// The next link of `head`'s chain, taking entries[cursor...] (sorted by offset; entries below head.end
// are skipped, they are covered already). For an empty chain the link starts at `batch_start`. The link
// ends at the offset of the first entry it leaves for the next link, or at `batch_end` (one past the
// batch's last offset). nullopt when [head.end, batch_end) is already covered.
std::optional<mongo::Link> NextLink(const mongo::ChainHead& head, const std::string& route, std::int64_t batch_start,
                                    std::int64_t batch_end, const std::vector<mongo::EventRecord>& entries,
                                    std::size_t& cursor, const LinkLimits& limits,
                                    const mongo::SegmentLimits& segments);

// The head after `link`.
mongo::ChainHead HeadAfter(const mongo::Link& link);

// Checkpoints started by `link`: the first entry of each (source, stream, id >> kCheckpointBits) whose
// key (CheckpointKey) is not in `known` (checkpoints already written by this process).
std::vector<mongo::Checkpoint> CheckpointsOf(const mongo::Link& link, const std::set<std::string>& known);
std::string CheckpointKey(const mongo::Checkpoint& checkpoint);

}  // namespace ces::audit
