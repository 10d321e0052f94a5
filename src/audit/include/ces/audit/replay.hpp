#pragma once
// The replay side: reading the replay log (the per-partition chains of links) in one order for every
// reader, from a start position to the live edge and beyond.
//
// Order and hand-over. Each chain is append-only and dense (links 0, 1, 2, ... each covering the next
// Kafka offsets), so a position (link, entry) in every chain is an exact cursor: everything before it
// was delivered, everything after it will be, whether it is stored already or later. A reader merges
// the chains by (received_at, source, stream, event id); a chain that has no next link yet is left out
// of the merge until the head watcher sees it grow. There is no separate "history" and "live" query,
// hence no hand-over gap or duplicate: going live is the same walk reaching the end of the chains.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ces/audit/query.hpp"
#include "ces/mongo/audit_store.hpp"

namespace ces::audit {

// What the reader needs from the store (an interface so the merge can be tested without a server).
class LogSource {
 public:
  virtual ~LogSource() = default;
  virtual mongo::SegmentLimits segment_limits() const = 0;
  virtual mongo::Result<std::vector<mongo::ChainHead>> ListChains() = 0;
  virtual mongo::Result<std::optional<mongo::SegmentInfo>> GetSegment(const mongo::ChainId& chain,
                                                                      std::int64_t segment) = 0;
  virtual mongo::Result<std::vector<mongo::Link>> ReadLinks(const mongo::ChainId& chain, std::int64_t segment,
                                                            std::int64_t from_seq, std::int64_t limit,
                                                            bool entries) = 0;
  virtual mongo::Result<std::optional<mongo::Checkpoint>> GetCheckpoint(const std::string& source,
                                                                        const std::string& stream,
                                                                        std::int64_t bucket) = 0;
  virtual mongo::Result<std::string> GetPayloadFile(const std::string& file_id) = 0;
};

// The store, with a cache of recently read links shared by all readers (links never change).
class StoreLogSource final : public LogSource {
 public:
  StoreLogSource(mongo::AuditStore& store, std::size_t cache_bytes);
  mongo::SegmentLimits segment_limits() const override;
  mongo::Result<std::vector<mongo::ChainHead>> ListChains() override;
  mongo::Result<std::optional<mongo::SegmentInfo>> GetSegment(const mongo::ChainId& chain,
                                                              std::int64_t segment) override;
  mongo::Result<std::vector<mongo::Link>> ReadLinks(const mongo::ChainId& chain, std::int64_t segment,
                                                    std::int64_t from_seq, std::int64_t limit, bool entries) override;
  mongo::Result<std::optional<mongo::Checkpoint>> GetCheckpoint(const std::string& source, const std::string& stream,
                                                                std::int64_t bucket) override;
  mongo::Result<std::string> GetPayloadFile(const std::string& file_id) override;
  // Loads the catalog of every closed segment (one read of a small collection), so that positioning
  // by time or start_from needs no round trip for them.
  mongo::Status Preload();

 private:
  mongo::AuditStore& store_;
  std::size_t cache_bytes_;
  std::mutex mutex_;
  // Catalog entries of closed segments (final once the next segment exists), and each chain's head
  // segment as last seen.
  std::map<std::pair<std::string, std::int64_t>, mongo::SegmentInfo> catalog_;
  std::map<std::string, std::int64_t> head_segment_;
  std::map<std::pair<std::string, std::int64_t>, std::shared_ptr<const mongo::Link>> cache_;
  std::deque<std::pair<std::string, std::int64_t>> order_;
  std::size_t cached_bytes_ = 0;
};

// Polls the chains' heads (a handful of small documents) for every live reader of the process.
class HeadWatcher {
 public:
  struct Snapshot {
    std::uint64_t version = 0;
    std::vector<mongo::ChainHead> heads;
    bool ok = false;
    std::string error;
  };

  HeadWatcher(LogSource& source, std::chrono::milliseconds interval);
  ~HeadWatcher();
  HeadWatcher(const HeadWatcher&) = delete;
  HeadWatcher& operator=(const HeadWatcher&) = delete;

  void Start();
  void Stop();
  Snapshot Current() const;
  // Returns once the heads changed after `seen_version`, after `timeout`, or when cancelled() is true
  // (checked every 100 ms).
  Snapshot WaitForChange(std::uint64_t seen_version, std::chrono::milliseconds timeout,
                         const std::function<bool()>& cancelled) const;
  // Reads the heads now (also used before the thread starts).
  void PollOnce();

 private:
  void Loop();

  LogSource& source_;
  std::chrono::milliseconds interval_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  Snapshot snapshot_;
  bool stop_ = false;
  std::thread thread_;
};

// Chains of the query's routes (main/deploys/sigs), from the heads.
std::vector<mongo::ChainHead> ChainsInScope(const std::vector<mongo::ChainHead>& heads, const ReplayQuery& query);

// The first link of `head`'s chain that can hold events received at `ms` or later.
mongo::Result<ChainPosition> PositionByTime(LogSource& source, const mongo::ChainHead& head, std::int64_t ms);

// Start positions for the query: the beginning of each chain; from_time; or start_from (with the one
// source in query.sources) through the checkpoints of `streams` (the source's streams).
mongo::Result<Positions> InitialPositions(LogSource& source, const ReplayQuery& query,
                                          const std::vector<mongo::ChainHead>& chains,
                                          const std::vector<std::string>& streams);

// Merges the chains from given positions, applying the query's filters.
class ReplayReader {
 public:
  struct Options {
    std::size_t scan_budget = 200000;  // entries examined per Next() (matching or not)
    // Read each chain's next links in the background while the current ones are consumed (streams;
    // the source must then be thread-safe).
    bool prefetch = false;
  };
  struct Batch {
    std::vector<mongo::EventRecord> events;
    // Every chain was read to its current end (nothing more is stored right now).
    bool caught_up = false;
  };

  ReplayReader(LogSource& source, ReplayQuery query, const Positions& start);
  ReplayReader(LogSource& source, ReplayQuery query, const Positions& start, Options options);

  // Learns heads (new chains of the query's routes join at their start; grown chains are read again).
  void UpdateHeads(const std::vector<mongo::ChainHead>& heads);
  // Up to max_events matching events, stopping before one that would take the payload bytes past
  // max_bytes (the first is always taken). Positions advance past every entry examined.
  mongo::Status Next(std::size_t max_events, std::size_t max_bytes, Batch& out);
  Positions positions() const;

 private:
  struct ChainState {
    ChainPosition pos;
    std::deque<mongo::Link> links;  // front is link pos.seq
    std::int64_t known_head = -1;
    bool exhausted = false;  // no link pos.seq yet; read again when the head passes it
    // A background read of the links after the buffered ones: (segment, seq) it starts at.
    std::shared_ptr<std::future<mongo::Result<std::vector<mongo::Link>>>> prefetch;
    std::int64_t prefetch_segment = -1;
    std::int64_t prefetch_seq = -1;
  };
  void StartPrefetch(ChainState& state);
  mongo::Status Fill(ChainState& state);
  // With prefetch: starts the first read of every chain at once (time to the first event).
  void Prime();
  bool primed_ = false;
  bool warm_ = false;  // a Next() has completed
  const mongo::EventRecord* Current(const ChainState& state) const;
  void Advance(ChainState& state);

  LogSource& source_;
  ReplayQuery query_;
  Options options_;
  std::vector<ChainState> chains_;
};

}  // namespace ces::audit
