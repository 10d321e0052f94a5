#include "ces/audit/replay.hpp"

#include <algorithm>
#include <set>

#include "ces/audit/planner.hpp"
#include "ces/common/log.hpp"

namespace ces::audit {

// ---------------------------------------------------------------------------------------------
// StoreLogSource

StoreLogSource::StoreLogSource(mongo::AuditStore& store, std::size_t cache_bytes)
    : store_(store), cache_bytes_(cache_bytes) {}

mongo::SegmentLimits StoreLogSource::segment_limits() const { return store_.segment_limits(); }

mongo::Result<std::vector<mongo::ChainHead>> StoreLogSource::ListChains() {
  auto heads = store_.ListChains();
  if (heads.ok()) {
    std::lock_guard lock(mutex_);
    for (const auto& h : heads.value) {
      auto& n = head_segment_[h.chain.Key()];
      n = std::max(n, h.segment);
    }
  }
  return heads;
}

mongo::Result<std::optional<mongo::SegmentInfo>> StoreLogSource::GetSegment(const mongo::ChainId& chain,
                                                                           std::int64_t segment) {
  const std::string key = chain.Key();
  {
    std::lock_guard lock(mutex_);
    auto it = catalog_.find({key, segment});
    if (it != catalog_.end()) return mongo::Result<std::optional<mongo::SegmentInfo>>::Ok(it->second);
  }
  auto info = store_.GetSegment(chain, segment);
  if (info.ok() && info.value) {
    std::lock_guard lock(mutex_);
    auto head = head_segment_.find(key);
    if (head != head_segment_.end() && segment < head->second) catalog_.emplace(std::make_pair(key, segment), *info.value);
  }
  return info;
}

mongo::Status StoreLogSource::Preload() {
  auto heads = ListChains();
  if (!heads.ok()) return heads.status;
  auto segments = store_.ListSegments();
  if (!segments.ok()) return segments.status;
  std::lock_guard lock(mutex_);
  for (auto& info : segments.value) {
    const std::string key = info.chain.Key();
    auto head = head_segment_.find(key);
    if (head != head_segment_.end() && info.segment < head->second) {
      catalog_.emplace(std::make_pair(key, info.segment), std::move(info));
    }
  }
  return mongo::Status::Ok();
}

mongo::Result<std::optional<mongo::Checkpoint>> StoreLogSource::GetCheckpoint(const std::string& source,
                                                                             const std::string& stream,
                                                                             std::int64_t bucket) {
  return store_.GetCheckpoint(source, stream, bucket);
}

mongo::Result<std::string> StoreLogSource::GetPayloadFile(const std::string& file_id) {
  return store_.GetPayloadFile(file_id);
}

mongo::Result<std::vector<mongo::Link>> StoreLogSource::ReadLinks(const mongo::ChainId& chain, std::int64_t segment,
                                                                 std::int64_t from_seq, std::int64_t limit,
                                                                 bool entries) {
  if (!entries || cache_bytes_ == 0) return store_.ReadLinks(chain, segment, from_seq, limit, entries);
  const std::string key = chain.Key();
  std::vector<mongo::Link> run;
  {
    std::lock_guard lock(mutex_);
    for (std::int64_t s = from_seq; limit == 0 || static_cast<std::int64_t>(run.size()) < limit; ++s) {
      auto it = cache_.find({key, s});
      if (it == cache_.end() || it->second->segment != segment) break;
      run.push_back(*it->second);
    }
  }
  if (!run.empty()) return mongo::Result<std::vector<mongo::Link>>::Ok(std::move(run));
  auto result = store_.ReadLinks(chain, segment, from_seq, limit, entries);
  if (!result.ok()) return result;
  std::lock_guard lock(mutex_);
  for (const auto& link : result.value) {
    auto id = std::make_pair(key, link.seq);
    if (cache_.count(id)) continue;
    const std::size_t size = static_cast<std::size_t>(link.bytes) + link.entries.size() * 256 + 256;
    if (size > cache_bytes_ / 4) continue;  // a link this big would evict most of the cache
    cache_.emplace(id, std::make_shared<const mongo::Link>(link));
    order_.push_back(id);
    cached_bytes_ += size;
    while (cached_bytes_ > cache_bytes_ && !order_.empty()) {
      auto victim = cache_.find(order_.front());
      if (victim != cache_.end()) {
        cached_bytes_ -= std::min(cached_bytes_, static_cast<std::size_t>(victim->second->bytes) +
                                                     victim->second->entries.size() * 256 + 256);
        cache_.erase(victim);
      }
      order_.pop_front();
    }
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// HeadWatcher

HeadWatcher::HeadWatcher(LogSource& source, std::chrono::milliseconds interval) : source_(source), interval_(interval) {}

HeadWatcher::~HeadWatcher() { Stop(); }

void HeadWatcher::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Loop(); });
}

void HeadWatcher::Stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

HeadWatcher::Snapshot HeadWatcher::Current() const {
  std::lock_guard lock(mutex_);
  return snapshot_;
}

HeadWatcher::Snapshot HeadWatcher::WaitForChange(std::uint64_t seen_version, std::chrono::milliseconds timeout,
                                                 const std::function<bool()>& cancelled) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mutex_);
  while (snapshot_.version == seen_version && !stop_) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    if (cancelled && cancelled()) break;
    changed_.wait_for(lock, std::min<std::chrono::steady_clock::duration>(deadline - now, std::chrono::milliseconds(100)));
  }
  return snapshot_;
}

void HeadWatcher::PollOnce() {
  auto result = source_.ListChains();
  {
    std::lock_guard lock(mutex_);
    if (result.ok()) {
      bool changed = result.value.size() != snapshot_.heads.size() || !snapshot_.ok;
      for (std::size_t i = 0; !changed && i < result.value.size(); ++i) {
        changed = !(result.value[i].chain == snapshot_.heads[i].chain) || result.value[i].seq != snapshot_.heads[i].seq;
      }
      snapshot_.heads = std::move(result.value);
      snapshot_.ok = true;
      snapshot_.error.clear();
      if (changed) ++snapshot_.version;
    } else {
      if (snapshot_.ok) log::Warn("reading the replay-log heads failed", {{"error", result.status.message}});
      snapshot_.ok = false;
      snapshot_.error = result.status.message;
    }
  }
  changed_.notify_all();
}

void HeadWatcher::Loop() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    lock.unlock();
    PollOnce();
    lock.lock();
    changed_.wait_for(lock, interval_, [this] { return stop_; });
  }
}

// ---------------------------------------------------------------------------------------------
// Positions

std::vector<mongo::ChainHead> ChainsInScope(const std::vector<mongo::ChainHead>& heads, const ReplayQuery& query) {
  std::vector<mongo::ChainHead> out;
  for (const auto& h : heads) {
    if (query.RouteMatches(h.route)) out.push_back(h);
  }
  return out;
}

namespace {

bool Bounded(const mongo::SegmentLimits& limits) { return limits.max_events > 0 || limits.max_bytes > 0; }

}  // namespace

mongo::Result<ChainPosition> PositionByTime(LogSource& source, const mongo::ChainHead& head, std::int64_t ms) {
  using R = mongo::Result<ChainPosition>;
  ChainPosition start{head.chain, 0, 0, 0};
  if (head.seq < 0) return R::Ok(start);
  // The last segment that starts at or before `ms` (catalog min_ms is a lower bound of its events).
  std::int64_t lo = 0;
  std::int64_t hi = head.segment;
  std::int64_t found = 0;
  std::optional<mongo::SegmentInfo> found_info;
  while (lo <= hi) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    auto info = source.GetSegment(head.chain, mid);
    if (!info.ok()) return R::Fail(info.status);
    if (info.value && info.value->min_ms <= ms) {
      found = mid;
      found_info = info.value;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  if (found > 0) {
    // Receive times of neighbouring segments can overlap a little: start one segment earlier when the
    // previous one reaches `ms` (or its end time is not known).
    auto prev = source.GetSegment(head.chain, found - 1);
    if (!prev.ok()) return R::Fail(prev.status);
    if (prev.value && (prev.value->max_ms < 0 || prev.value->max_ms >= ms)) {
      --found;
      found_info = prev.value;
    }
  }
  if (!found_info) return R::Ok(start);
  ChainPosition pos{head.chain, found_info->first_seq, found, 0};
  if (Bounded(source.segment_limits())) return R::Ok(pos);  // a segment is read whole anyway
  // One big segment (MongoDB): binary search its links through their summaries.
  std::int64_t last = head.seq;
  if (found < head.segment) {
    auto next = source.GetSegment(head.chain, found + 1);
    if (!next.ok()) return R::Fail(next.status);
    if (next.value) last = next.value->first_seq - 1;
  }
  std::int64_t best = pos.seq;
  lo = pos.seq;
  hi = last;
  while (lo <= hi) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    auto links = source.ReadLinks(head.chain, found, mid, 1, false);
    if (!links.ok()) return R::Fail(links.status);
    if (links.value.empty() || links.value.front().seq != mid) break;
    const auto& link = links.value.front();
    if (link.min_ms < 0 || link.min_ms <= ms) {
      best = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  pos.seq = std::max(pos.seq, best - 1);  // one link of slack for overlapping receive times
  return R::Ok(pos);
}

namespace {

// The checkpoint at or below start_from's bucket, probing downwards (dense first, then doubling).
mongo::Result<std::optional<mongo::Checkpoint>> FindCheckpoint(LogSource& source, const std::string& src,
                                                              const std::vector<std::string>& streams,
                                                              std::uint32_t id) {
  using R = mongo::Result<std::optional<mongo::Checkpoint>>;
  const std::int64_t bucket = static_cast<std::int64_t>(id) >> mongo::kCheckpointBits;
  std::vector<std::int64_t> probes;
  for (std::int64_t b = bucket; b >= 0 && b > bucket - 16; --b) probes.push_back(b);
  for (std::int64_t step = 32; bucket - step > 0; step *= 2) probes.push_back(bucket - step);
  if (probes.back() != 0) probes.push_back(0);
  for (std::int64_t b : probes) {
    std::optional<mongo::Checkpoint> best;
    for (const auto& stream : streams) {
      auto cp = source.GetCheckpoint(src, stream, b);
      if (!cp.ok()) return R::Fail(cp.status);
      if (cp.value && (!best || cp.value->ms < best->ms)) best = cp.value;
    }
    if (best) return R::Ok(best);
  }
  return R::Ok(std::nullopt);
}

}  // namespace

mongo::Result<Positions> InitialPositions(LogSource& source, const ReplayQuery& query,
                                          const std::vector<mongo::ChainHead>& chains,
                                          const std::vector<std::string>& streams) {
  using R = mongo::Result<Positions>;
  std::optional<mongo::Checkpoint> checkpoint;
  if (query.start_from && query.sources.size() == 1) {
    auto cp = FindCheckpoint(source, query.sources.front(), streams, *query.start_from);
    if (!cp.ok()) return R::Fail(cp.status);
    checkpoint = cp.value;
  }
  Positions out;
  for (const auto& head : chains) {
    std::optional<std::int64_t> time;
    if (checkpoint) time = checkpoint->ms;
    if (query.from_ms) time = std::max(time.value_or(*query.from_ms), *query.from_ms);
    if (checkpoint && head.chain == checkpoint->chain && (!query.from_ms || *query.from_ms <= checkpoint->ms)) {
      out.push_back({head.chain, checkpoint->seq, checkpoint->segment, 0});
    } else if (time) {
      auto pos = PositionByTime(source, head, *time);
      if (!pos.ok()) return R::Fail(pos.status);
      out.push_back(pos.value);
    } else {
      out.push_back({head.chain, 0, 0, 0});
    }
  }
  return R::Ok(std::move(out));
}

// ---------------------------------------------------------------------------------------------
// ReplayReader

namespace {

// Merge order: (received_at, source, stream, event id; ApiVersion first), then the Kafka position.
bool Less(const mongo::EventRecord& a, const mongo::EventRecord& b) {
  if (a.received_ms != b.received_ms) return a.received_ms < b.received_ms;
  if (a.source != b.source) return a.source < b.source;
  if (a.stream != b.stream) return a.stream < b.stream;
  const std::int64_t ia = a.event_id ? static_cast<std::int64_t>(*a.event_id) : -1;
  const std::int64_t ib = b.event_id ? static_cast<std::int64_t>(*b.event_id) : -1;
  if (ia != ib) return ia < ib;
  if (a.topic != b.topic) return a.topic < b.topic;
  if (a.partition != b.partition) return a.partition < b.partition;
  return a.offset < b.offset;
}

bool Intersects(const std::vector<std::string>& wanted, const std::vector<std::string>& present) {
  if (wanted.empty()) return true;
  for (const auto& w : wanted) {
    if (std::find(present.begin(), present.end(), w) != present.end()) return true;
  }
  return false;
}

}  // namespace

ReplayReader::ReplayReader(LogSource& source, ReplayQuery query, const Positions& start)
    : ReplayReader(source, std::move(query), start, Options{}) {}

ReplayReader::ReplayReader(LogSource& source, ReplayQuery query, const Positions& start, Options options)
    : source_(source), query_(std::move(query)), options_(options) {
  for (const auto& p : start) {
    ChainState state;
    state.pos = p;
    chains_.push_back(std::move(state));
  }
}

void ReplayReader::UpdateHeads(const std::vector<mongo::ChainHead>& heads) {
  for (const auto& head : heads) {
    if (!query_.RouteMatches(head.route)) continue;
    auto it = std::find_if(chains_.begin(), chains_.end(), [&](const ChainState& s) { return s.pos.chain == head.chain; });
    if (it == chains_.end()) {
      ChainState state;
      state.pos = {head.chain, 0, 0, 0};
      state.known_head = head.seq;
      chains_.push_back(std::move(state));
      continue;
    }
    it->known_head = std::max(it->known_head, head.seq);
    if (it->exhausted && head.seq >= it->pos.seq) it->exhausted = false;
  }
}

Positions ReplayReader::positions() const {
  Positions out;
  for (const auto& s : chains_) out.push_back(s.pos);
  return out;
}

const mongo::EventRecord* ReplayReader::Current(const ChainState& state) const {
  if (state.links.empty()) return nullptr;
  const auto& front = state.links.front();
  if (state.pos.index < 0 || static_cast<std::size_t>(state.pos.index) >= front.entries.size()) return nullptr;
  return &front.entries[static_cast<std::size_t>(state.pos.index)];
}

void ReplayReader::Advance(ChainState& state) { ++state.pos.index; }

mongo::Status ReplayReader::Fill(ChainState& state) {
  const mongo::SegmentLimits limits = source_.segment_limits();  // known once any chain exists
  const bool filtered = !query_.sources.empty() || !query_.types.empty();
  std::int64_t checked_segment = -1;
  while (true) {
    if (!state.links.empty()) {
      const mongo::Link& front = state.links.front();
      if (static_cast<std::size_t>(state.pos.index) < front.entries.size()) return mongo::Status::Ok();
      const std::int64_t next_segment = mongo::SegmentAfter(HeadAfter(front), limits);
      state.pos = {state.pos.chain, front.seq + 1, next_segment, 0};
      state.links.pop_front();
      continue;
    }
    if (state.exhausted) return mongo::Status::Ok();
    if (filtered && state.pos.index == 0 && checked_segment != state.pos.segment && Bounded(limits)) {
      // Skip a closed segment that holds none of the wanted sources/types (catalog sets are supersets).
      checked_segment = state.pos.segment;
      auto info = source_.GetSegment(state.pos.chain, state.pos.segment);
      if (!info.ok()) return info.status;
      if (info.value && (!Intersects(query_.sources, info.value->sources) ||
                         !Intersects(query_.types, info.value->types))) {
        auto next = source_.GetSegment(state.pos.chain, state.pos.segment + 1);
        if (!next.ok()) return next.status;
        if (next.value && next.value->first_seq > state.pos.seq) {
          state.pos = {state.pos.chain, next.value->first_seq, state.pos.segment + 1, 0};
          continue;
        }
      }
    }
    const std::int64_t limit = Bounded(limits) ? 0 : 8;
    mongo::Result<std::vector<mongo::Link>> links;
    if (state.prefetch && state.prefetch_segment == state.pos.segment && state.prefetch_seq == state.pos.seq) {
      links = state.prefetch->get();
      state.prefetch.reset();
      // An empty answer may predate new links: read again rather than trust it.
      if (links.ok() && links.value.empty()) {
        links = source_.ReadLinks(state.pos.chain, state.pos.segment, state.pos.seq, limit, true);
      }
    } else {
      if (state.prefetch) {
        state.prefetch->wait();  // a read for another position (after a skip): drop it
        state.prefetch.reset();
      }
      links = source_.ReadLinks(state.pos.chain, state.pos.segment, state.pos.seq, limit, true);
    }
    if (!links.ok()) return links.status;
    if (links.value.empty()) {
      state.exhausted = true;
      return mongo::Status::Ok();
    }
    std::int64_t expect = state.pos.seq;
    for (auto& link : links.value) {
      if (link.seq != expect) {
        return mongo::Status::Error(-1, "replay log of " + state.pos.chain.Key() + " misses link " +
                                            std::to_string(expect) + " in segment " +
                                            std::to_string(state.pos.segment));
      }
      ++expect;
      state.links.push_back(std::move(link));
    }
    // Not during the first Next(): the first reads of the other chains come first (time to first event).
    if (options_.prefetch && warm_) StartPrefetch(state);
  }
}

void ReplayReader::StartPrefetch(ChainState& state) {
  if (state.prefetch || state.links.empty()) return;
  const mongo::Link& last = state.links.back();
  if (state.known_head >= 0 && last.seq >= state.known_head) return;  // at the head: nothing to fetch
  const std::int64_t segment = mongo::SegmentAfter(HeadAfter(last), source_.segment_limits());
  const std::int64_t seq = last.seq + 1;
  const std::int64_t limit = Bounded(source_.segment_limits()) ? 0 : 8;
  LogSource* source = &source_;
  const mongo::ChainId chain = state.pos.chain;
  state.prefetch = std::make_shared<std::future<mongo::Result<std::vector<mongo::Link>>>>(std::async(
      std::launch::async, [source, chain, segment, seq, limit] { return source->ReadLinks(chain, segment, seq, limit, true); }));
  state.prefetch_segment = segment;
  state.prefetch_seq = seq;
}

void ReplayReader::Prime() {
  primed_ = true;
  const std::int64_t limit = Bounded(source_.segment_limits()) ? 0 : 8;
  for (auto& state : chains_) {
    if (!state.links.empty() || state.exhausted || state.prefetch) continue;
    LogSource* source = &source_;
    const ChainPosition pos = state.pos;
    state.prefetch = std::make_shared<std::future<mongo::Result<std::vector<mongo::Link>>>>(std::async(
        std::launch::async, [source, pos, limit] { return source->ReadLinks(pos.chain, pos.segment, pos.seq, limit, true); }));
    state.prefetch_segment = pos.segment;
    state.prefetch_seq = pos.seq;
  }
}

mongo::Status ReplayReader::Next(std::size_t max_events, std::size_t max_bytes, Batch& out) {
  if (options_.prefetch && !primed_) Prime();
  struct Warm {
    bool& flag;
    ~Warm() { flag = true; }
  } warm{warm_};
  out.events.clear();
  out.caught_up = false;
  std::size_t examined = 0;
  std::size_t bytes = 0;
  while (out.events.size() < max_events) {
    if (examined >= options_.scan_budget) return mongo::Status::Ok();
    ChainState* best = nullptr;
    const mongo::EventRecord* best_entry = nullptr;
    for (auto& state : chains_) {
      // Entries the query does not want are passed over before the merge: only matching events take
      // part in the order (a chain's front may otherwise hold back smaller events of other chains).
      const mongo::EventRecord* e = nullptr;
      while (true) {
        mongo::Status status = Fill(state);
        if (!status.ok) return status;
        e = Current(state);
        if (!e || query_.Matches(*e)) break;
        Advance(state);
        if (++examined >= options_.scan_budget) return mongo::Status::Ok();
      }
      if (e && (!best_entry || Less(*e, *best_entry))) {
        best = &state;
        best_entry = e;
      }
    }
    if (!best) {
      out.caught_up = true;
      return mongo::Status::Ok();
    }
    const std::size_t size = static_cast<std::size_t>(best_entry->size);
    if (!out.events.empty() && bytes + size > max_bytes) return mongo::Status::Ok();
    bytes += size;
    auto& front = best->links.front();
    out.events.push_back(std::move(front.entries[static_cast<std::size_t>(best->pos.index)]));
    Advance(*best);
    ++examined;
  }
  return mongo::Status::Ok();
}

}  // namespace ces::audit
