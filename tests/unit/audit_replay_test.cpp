// The replay log without a server: link planning (contiguous ranges, segment rollover, a lost claim),
// the reader's merge, exact resumption from positions, growth while live, segment skipping, time and
// start_from positioning, and the SSE framing read back by our SSE parser.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "ces/audit/planner.hpp"
#include "ces/audit/query.hpp"
#include "ces/audit/replay.hpp"
#include "ces/audit/sse.hpp"
#include "ces/sse/parser.hpp"

namespace ces::audit {
namespace {

using mongo::ChainHead;
using mongo::ChainId;
using mongo::EventRecord;
using mongo::Link;

EventRecord Ev(std::string source, std::uint32_t id, std::int64_t ms, std::string type = "FinalitySignature",
               std::int64_t offset = 0) {
  EventRecord e;
  e.source = std::move(source);
  e.stream = "events";
  e.event_id = id;
  e.type = std::move(type);
  e.api_version = "2.0.0";
  e.received_ms = ms;
  e.offset = offset;
  e.payload = "{\"" + e.type + "\":{\"id\":" + std::to_string(id) + "}}";
  e.size = static_cast<std::int64_t>(e.payload.size());
  e.id = mongo::EventIdentity(e);
  return e;
}

// An in-memory replay log written with the same planner as the consumer.
class FakeLog : public LogSource {
 public:
  explicit FakeLog(mongo::SegmentLimits limits = {}) : limits_(limits) {}

  // Appends a consumer batch of one partition: `events` get consecutive offsets from the chain's end.
  void Append(const ChainId& chain, const std::string& route, std::vector<EventRecord> events,
              LinkLimits link_limits = {}) {
    ChainHead& head = heads_[chain.Key()];
    head.chain = chain;
    head.route = route;
    std::int64_t offset = head.seq < 0 ? 0 : head.end;
    const std::int64_t batch_start = offset;
    for (auto& e : events) {
      e.topic = chain.topic;
      e.partition = chain.partition;
      e.offset = offset++;
      e.id = mongo::EventIdentity(e);
    }
    std::size_t cursor = 0;
    while (auto link = NextLink(head, route, batch_start, offset, events, cursor, link_limits, limits_)) {
      auto& seg = segments_[chain.Key() + "@" + std::to_string(link->segment)];
      if (seg.chain.topic.empty()) {
        seg.chain = chain;
        seg.segment = link->segment;
        seg.first_seq = link->seq;
        seg.min_ms = link->min_ms;
      }
      for (const auto& e : link->entries) {
        seg.min_ms = std::min(seg.min_ms, e.received_ms);
        seg.max_ms = std::max(seg.max_ms, e.received_ms);
        if (std::find(seg.sources.begin(), seg.sources.end(), e.source) == seg.sources.end()) seg.sources.push_back(e.source);
        if (std::find(seg.types.begin(), seg.types.end(), e.type) == seg.types.end()) seg.types.push_back(e.type);
      }
      for (const auto& c : CheckpointsOf(*link, known_)) {
        known_.insert(CheckpointKey(c));
        checkpoints_.emplace(CheckpointKey(c), c);
      }
      links_[chain.Key()].push_back(*link);
      head = HeadAfter(*link);
    }
  }
  std::vector<ChainHead> Heads() const {
    std::vector<ChainHead> out;
    for (const auto& [k, h] : heads_) out.push_back(h);
    return out;
  }
  std::size_t reads = 0;

  mongo::SegmentLimits segment_limits() const override { return limits_; }
  mongo::Result<std::vector<ChainHead>> ListChains() override { return mongo::Result<std::vector<ChainHead>>::Ok(Heads()); }
  mongo::Result<std::optional<mongo::SegmentInfo>> GetSegment(const ChainId& chain, std::int64_t segment) override {
    auto it = segments_.find(chain.Key() + "@" + std::to_string(segment));
    if (it == segments_.end()) return mongo::Result<std::optional<mongo::SegmentInfo>>::Ok(std::nullopt);
    return mongo::Result<std::optional<mongo::SegmentInfo>>::Ok(it->second);
  }
  mongo::Result<std::vector<Link>> ReadLinks(const ChainId& chain, std::int64_t segment, std::int64_t from_seq,
                                             std::int64_t limit, bool entries) override {
    ++reads;
    std::vector<Link> out;
    for (const auto& link : links_[chain.Key()]) {
      if (link.segment != segment || link.seq < from_seq) continue;
      if (limit > 0 && static_cast<std::int64_t>(out.size()) >= limit) break;
      out.push_back(link);
      if (!entries) out.back().entries.clear();
    }
    return mongo::Result<std::vector<Link>>::Ok(std::move(out));
  }
  mongo::Result<std::optional<mongo::Checkpoint>> GetCheckpoint(const std::string& source, const std::string& stream,
                                                                std::int64_t bucket) override {
    auto it = checkpoints_.find(source + " " + stream + " " + std::to_string(bucket));
    if (it == checkpoints_.end()) return mongo::Result<std::optional<mongo::Checkpoint>>::Ok(std::nullopt);
    return mongo::Result<std::optional<mongo::Checkpoint>>::Ok(it->second);
  }
  mongo::Result<std::string> GetPayloadFile(const std::string&) override {
    return mongo::Result<std::string>::Fail(mongo::Status::Error(-1, "no GridFS here"));
  }

 private:
  mongo::SegmentLimits limits_;
  std::map<std::string, ChainHead> heads_;
  std::map<std::string, std::vector<Link>> links_;
  std::map<std::string, mongo::SegmentInfo> segments_;
  std::map<std::string, mongo::Checkpoint> checkpoints_;
  std::set<std::string> known_;
};

std::vector<EventRecord> ReadAll(ReplayReader& reader, std::size_t step = 7) {
  std::vector<EventRecord> all;
  while (true) {
    ReplayReader::Batch batch;
    auto status = reader.Next(step, 1u << 30, batch);
    EXPECT_TRUE(status.ok) << status.message;
    for (auto& e : batch.events) all.push_back(std::move(e));
    if (batch.caught_up || !status.ok) break;
  }
  return all;
}

std::vector<std::string> Ids(const std::vector<EventRecord>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.id);
  return out;
}

Positions Starts(const FakeLog& log) {
  Positions out;
  for (const auto& h : log.Heads()) out.push_back({h.chain, 0, 0, 0});
  return out;
}

// ---------------------------------------------------------------------------------------------
// planner

TEST(AuditPlanner, LinksCoverContiguousRangesWithinLimits) {
  ChainHead head;
  head.chain = {"main", 0};
  std::vector<EventRecord> entries;
  for (std::uint32_t i = 0; i < 10; ++i) {
    entries.push_back(Ev("s", i, 100 + i));
    entries.back().offset = 20 + 2 * static_cast<std::int64_t>(i);  // gaps: re-sends or control records
  }
  std::size_t cursor = 0;
  LinkLimits limits{4, 1u << 20};
  std::vector<Link> links;
  while (auto link = NextLink(head, "main", 20, 40, entries, cursor, limits, {})) {
    links.push_back(*link);
    head = HeadAfter(*link);
  }
  ASSERT_EQ(links.size(), 3u);
  EXPECT_EQ(links[0].seq, 0);
  EXPECT_EQ(links[0].start, 20);
  EXPECT_EQ(links[0].end, 28);  // the offset of the first entry left for the next link
  EXPECT_EQ(links[1].start, 28);
  EXPECT_EQ(links[1].end, 36);
  EXPECT_EQ(links[2].start, 36);
  EXPECT_EQ(links[2].end, 40);  // the batch end, past the last entry
  EXPECT_EQ(links[2].entries.size(), 2u);
  EXPECT_EQ(links[1].min_ms, 104);
  EXPECT_EQ(links[1].max_ms, 107);
  EXPECT_EQ(links[2].segment_events, 10);
  // Everything covered: nothing more to write for this batch.
  EXPECT_FALSE(NextLink(head, "main", 20, 40, entries, cursor, limits, {}));
}

TEST(AuditPlanner, ByteLimitKeepsAtLeastOneEntry) {
  ChainHead head;
  head.chain = {"main", 0};
  std::vector<EventRecord> entries = {Ev("s", 1, 1), Ev("s", 2, 2), Ev("s", 3, 3)};
  for (std::size_t i = 0; i < entries.size(); ++i) {
    entries[i].offset = static_cast<std::int64_t>(i);
    entries[i].payload = std::string(100, 'x');
  }
  std::size_t cursor = 0;
  auto link = NextLink(head, "main", 0, 3, entries, cursor, LinkLimits{100, 150}, {});
  ASSERT_TRUE(link);
  EXPECT_EQ(link->entries.size(), 1u);
  EXPECT_EQ(link->end, 1);
}

TEST(AuditPlanner, EntriesBelowTheChainEndAreSkipped) {
  ChainHead head;
  head.chain = {"main", 0};
  head.seq = 4;
  head.end = 12;
  std::vector<EventRecord> entries = {Ev("s", 1, 1), Ev("s", 2, 2), Ev("s", 3, 3)};
  entries[0].offset = 10;
  entries[1].offset = 11;
  entries[2].offset = 13;
  std::size_t cursor = 0;
  auto link = NextLink(head, "main", 10, 14, entries, cursor, {}, {});
  ASSERT_TRUE(link);
  EXPECT_EQ(link->seq, 5);
  EXPECT_EQ(link->start, 12);
  EXPECT_EQ(link->end, 14);
  ASSERT_EQ(link->entries.size(), 1u);
  EXPECT_EQ(link->entries[0].offset, 13);
}

TEST(AuditPlanner, SegmentRolloverDependsOnlyOnThePreviousLink) {
  const mongo::SegmentLimits limits{5, 0};
  ChainHead head;
  head.chain = {"sigs", 1};
  std::vector<EventRecord> entries;
  for (std::uint32_t i = 0; i < 12; ++i) {
    entries.push_back(Ev("s", i, i));
    entries.back().offset = i;
  }
  std::size_t cursor = 0;
  std::vector<std::int64_t> segments;
  while (auto link = NextLink(head, "sigs", 0, 12, entries, cursor, LinkLimits{3, 1u << 20}, limits)) {
    segments.push_back(link->segment);
    head = HeadAfter(*link);
  }
  // Links of 3: segment 0 gets 3 + 3 (closed at >= 5), segment 1 gets 3 + 3.
  EXPECT_EQ(segments, (std::vector<std::int64_t>{0, 0, 1, 1}));
  EXPECT_EQ(mongo::SegmentAfter(head, limits), 2);
  EXPECT_EQ(mongo::SegmentAfter(ChainHead{}, limits), 0);
  EXPECT_EQ(mongo::SegmentAfter(head, mongo::SegmentLimits{}), head.segment);  // unbounded: never rolls
}

TEST(AuditPlanner, LostClaimContinuesAfterTheWinner) {
  // Another writer claimed link 0 for [0, 3); ours planned [0, 6). Re-planning from the winner's head
  // covers exactly [3, 6) with the entries from offset 3.
  ChainHead head;
  head.chain = {"main", 0};
  std::vector<EventRecord> entries;
  for (std::uint32_t i = 0; i < 6; ++i) {
    entries.push_back(Ev("s", i, i));
    entries.back().offset = i;
  }
  std::size_t cursor = 0;
  auto ours = NextLink(head, "main", 0, 6, entries, cursor, {}, {});
  ASSERT_TRUE(ours);
  Link winner = *ours;
  winner.entries.resize(3);
  winner.end = 3;
  winner.segment_events = 3;
  head = HeadAfter(winner);
  cursor = 0;
  auto next = NextLink(head, "main", 0, 6, entries, cursor, {}, {});
  ASSERT_TRUE(next);
  EXPECT_EQ(next->seq, 1);
  EXPECT_EQ(next->start, 3);
  EXPECT_EQ(next->end, 6);
  ASSERT_EQ(next->entries.size(), 3u);
  EXPECT_EQ(next->entries.front().offset, 3);
}

TEST(AuditPlanner, CheckpointsMarkTheFirstEntryOfEachIdBucket) {
  Link link;
  link.chain = {"main", 0};
  link.seq = 7;
  link.segment = 2;
  link.entries = {Ev("a", 1023, 10), Ev("a", 1024, 11), Ev("a", 1025, 12), Ev("b", 5, 13)};
  link.entries.push_back(Ev("a", 3000, 14));
  link.entries.back().event_id.reset();  // ApiVersion-like: no checkpoint
  std::set<std::string> known = {"b events 0"};
  auto cps = CheckpointsOf(link, known);
  ASSERT_EQ(cps.size(), 2u);
  EXPECT_EQ(CheckpointKey(cps[0]), "a events 0");
  EXPECT_EQ(cps[0].ms, 10);
  EXPECT_EQ(CheckpointKey(cps[1]), "a events 1");
  EXPECT_EQ(cps[1].ms, 11);
  EXPECT_EQ(cps[1].seq, 7);
  EXPECT_EQ(cps[1].segment, 2);
}

// ---------------------------------------------------------------------------------------------
// reader

TEST(AuditReplayReader, MergesChainsByReceiveTimeAndDeliversEachEventOnce) {
  FakeLog log;
  log.Append({"main", 0}, "main", {Ev("n", 0, 100, "BlockAdded"), Ev("n", 3, 103, "BlockAdded"), Ev("n", 5, 105, "Step")});
  log.Append({"sigs", 0}, "sigs", {Ev("n", 1, 101), Ev("n", 2, 102), Ev("n", 4, 104), Ev("n", 6, 106)});
  ReplayReader reader(log, ReplayQuery{}, Starts(log));
  auto all = ReadAll(reader, 2);
  ASSERT_EQ(all.size(), 7u);
  for (std::uint32_t i = 0; i < 7; ++i) EXPECT_EQ(all[i].event_id, i);
}

TEST(AuditReplayReader, ResumesExactlyFromPositions) {
  FakeLog log(mongo::SegmentLimits{6, 0});
  for (int batch = 0; batch < 5; ++batch) {
    std::vector<EventRecord> main;
    std::vector<EventRecord> sigs;
    for (std::uint32_t i = 0; i < 4; ++i) {
      const std::uint32_t id = static_cast<std::uint32_t>(batch * 8) + 2 * i;
      main.push_back(Ev("n", id, id, "BlockAdded"));
      sigs.push_back(Ev("n", id + 1, id + 1));
    }
    log.Append({"main", 0}, "main", main, LinkLimits{3, 1u << 20});
    log.Append({"sigs", 0}, "sigs", sigs, LinkLimits{3, 1u << 20});
  }
  ReplayReader full(log, ReplayQuery{}, Starts(log));
  const auto expected = Ids(ReadAll(full));
  ASSERT_EQ(expected.size(), 40u);
  // Page through with fresh readers built from the previous positions (as the JSON cursor does).
  std::vector<std::string> paged;
  Positions positions = Starts(log);
  for (int page = 0; page < 100; ++page) {
    std::string error;
    ReplayReader reader(log, ReplayQuery{}, DecodeCursor(EncodeCursor(positions, "f"), "f", error).value());
    ReplayReader::Batch batch;
    ASSERT_TRUE(reader.Next(3, 1u << 30, batch).ok);
    for (const auto& e : batch.events) paged.push_back(e.id);
    positions = reader.positions();
    if (batch.caught_up) break;
  }
  EXPECT_EQ(paged, expected);
}

TEST(AuditReplayReader, FollowsGrowthWithoutGapOrDuplicate) {
  FakeLog log(mongo::SegmentLimits{4, 0});
  log.Append({"main", 0}, "main", {Ev("n", 0, 0, "BlockAdded"), Ev("n", 1, 1, "BlockAdded")});
  ReplayReader reader(log, ReplayQuery{}, Starts(log));
  std::vector<std::string> seen = Ids(ReadAll(reader));
  EXPECT_EQ(seen.size(), 2u);
  std::uint32_t next = 2;
  for (int round = 0; round < 6; ++round) {
    std::vector<EventRecord> main;
    std::vector<EventRecord> sigs;
    for (int i = 0; i < 3; ++i, ++next) main.push_back(Ev("n", next, next, "BlockAdded"));
    for (int i = 0; i < 2; ++i, ++next) sigs.push_back(Ev("n", next, next));
    log.Append({"main", 0}, "main", main, LinkLimits{2, 1u << 20});
    log.Append({"sigs", 3}, "sigs", sigs);  // a chain that appears while the reader is live
    reader.UpdateHeads(log.Heads());
    for (auto& id : Ids(ReadAll(reader))) seen.push_back(id);
  }
  ASSERT_EQ(seen.size(), next);
  std::set<std::string> distinct(seen.begin(), seen.end());
  EXPECT_EQ(distinct.size(), seen.size());
}

TEST(AuditReplayReader, FiltersAndSkipsSegmentsWithoutTheWantedSource) {
  FakeLog log(mongo::SegmentLimits{4, 0});
  for (std::uint32_t i = 0; i < 40; ++i) log.Append({"main", 0}, "main", {Ev(i < 36 ? "other" : "mine", i, i)});
  ReplayQuery query;
  query.sources = {"mine"};
  ReplayReader reader(log, query, Starts(log));
  log.reads = 0;
  auto events = ReadAll(reader, 100);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events.front().event_id, 36u);
  EXPECT_LE(log.reads, 3u);  // the nine segments of "other" were skipped through the catalog
}

TEST(AuditReplayReader, ByteBudgetStopsBeforeAnEventThatDoesNotFit) {
  FakeLog log;
  log.Append({"main", 0}, "main", {Ev("n", 0, 0), Ev("n", 1, 1), Ev("n", 2, 2)});
  ReplayReader reader(log, ReplayQuery{}, Starts(log));
  ReplayReader::Batch batch;
  ASSERT_TRUE(reader.Next(10, 1, batch).ok);
  ASSERT_EQ(batch.events.size(), 1u);  // the first is always taken
  EXPECT_FALSE(batch.caught_up);
  ASSERT_TRUE(reader.Next(10, 1u << 20, batch).ok);
  EXPECT_EQ(batch.events.size(), 2u);
  EXPECT_EQ(batch.events.front().event_id, 1u);
}

TEST(AuditReplayReader, PositionByTimeNeverSkipsAnEventAtOrAfterTheTime) {
  for (auto limits : {mongo::SegmentLimits{5, 0}, mongo::SegmentLimits{}}) {
    FakeLog log(limits);
    for (std::uint32_t i = 0; i < 60; ++i) log.Append({"main", 0}, "main", {Ev("n", i, 1000 + 10 * i), Ev("n", 1000 + i, 1005 + 10 * i)});
    for (std::int64_t t : {0, 1000, 1003, 1255, 1300, 1594, 1595, 1596, 5000}) {
      SCOPED_TRACE(t);
      const auto head = log.Heads().front();
      auto pos = PositionByTime(log, head, t);
      ASSERT_TRUE(pos.ok());
      ReplayQuery query;
      query.from_ms = t;
      ReplayReader from_position(log, query, {pos.value});
      ReplayReader from_start(log, query, Starts(log));
      EXPECT_EQ(Ids(ReadAll(from_position)), Ids(ReadAll(from_start)));
      if (t >= 1300 && limits.max_events > 0) {
        EXPECT_GT(pos.value.seq, 0);
      }
    }
  }
}

TEST(AuditReplayReader, StartFromUsesCheckpointsAndStartsAtTheId) {
  FakeLog log(mongo::SegmentLimits{64, 0});
  std::uint32_t id = 0;
  for (int batch = 0; batch < 100; ++batch) {
    std::vector<EventRecord> main;
    std::vector<EventRecord> sigs;
    for (int i = 0; i < 10; ++i, ++id) {
      (i % 5 == 0 ? main : sigs).push_back(Ev("n", id, id, i % 5 == 0 ? "BlockAdded" : "FinalitySignature"));
    }
    log.Append({"main", 0}, "main", main);
    log.Append({"sigs", 0}, "sigs", sigs);
  }
  for (std::uint32_t start : {0u, 1u, 1023u, 1024u, 1025u, 2047u, 3000u, 999999u}) {
    SCOPED_TRACE(start);
    ReplayQuery query;
    query.sources = {"n"};
    query.start_from = start;
    auto positions = InitialPositions(log, query, log.Heads(), {"events"});
    ASSERT_TRUE(positions.ok());
    ReplayReader reader(log, query, positions.value);
    auto events = ReadAll(reader, 50);
    if (start >= 1000) {
      EXPECT_TRUE(events.empty());
      continue;
    }
    ASSERT_EQ(events.size(), 1000u - start);
    EXPECT_EQ(events.front().event_id, start);
    EXPECT_EQ(events.back().event_id, 999u);
  }
}

// ---------------------------------------------------------------------------------------------
// SSE framing

struct Collector : sse::Handler {
  struct Frame {
    std::string data;
    std::optional<std::string> id;
    std::string raw;
  };
  std::vector<Frame> frames;
  int comments = 0;
  void OnEvent(const sse::Event& e) override {
    frames.push_back({std::string(e.data), e.id ? std::optional<std::string>(std::string(*e.id)) : std::nullopt,
                      std::string(e.raw)});
  }
  void OnComment(std::string_view) override { ++comments; }
};

TEST(AuditSse, FramingIsDataThenIdThenBlankLine) {
  std::string out;
  AppendSseApiVersion(out, "2.0.0");
  AppendSseEvent(out, R"({"BlockAdded":{}})", 17u);
  AppendSseKeepAlive(out);
  AppendSseEvent(out, "\"Shutdown\"", 18u);
  EXPECT_EQ(out,
            "data:{\"ApiVersion\":\"2.0.0\"}\n\n"
            "data:{\"BlockAdded\":{}}\nid:17\n\n"
            ":\n\n"
            "data:\"Shutdown\"\nid:18\n\n");
  Collector c;
  sse::Parser parser(c);
  for (char ch : out) parser.Feed(std::string_view(&ch, 1));  // chunk boundaries anywhere
  ASSERT_EQ(c.frames.size(), 3u);
  EXPECT_EQ(c.frames[0].data, R"({"ApiVersion":"2.0.0"})");
  EXPECT_FALSE(c.frames[0].id);
  EXPECT_EQ(c.frames[1].data, R"({"BlockAdded":{}})");
  EXPECT_EQ(c.frames[1].id, "17");
  EXPECT_EQ(c.frames[1].raw, "data:{\"BlockAdded\":{}}\nid:17\n");  // data line, then id line
  EXPECT_EQ(c.frames[2].id, "18");
  EXPECT_EQ(c.comments, 1);
}

TEST(AuditSse, LineBreaksInAPayloadSurviveAsDataLines) {
  std::string out;
  AppendSseEvent(out, "{\"a\":\n1,\r\n\"b\":2}", 1u);
  Collector c;
  sse::Parser parser(c);
  parser.Feed(out);
  ASSERT_EQ(c.frames.size(), 1u);
  EXPECT_EQ(c.frames[0].data, "{\"a\":\n1,\n\"b\":2}");
  std::string api;
  AppendSseApiVersion(api, "1.5\"x");
  EXPECT_EQ(api, "data:{\"ApiVersion\":\"1.5\\\"x\"}\n\n");
}

}  // namespace
}  // namespace ces::audit
