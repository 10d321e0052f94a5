#include "ces/audit/lookup.hpp"

#include <algorithm>
#include <set>

namespace ces::audit {
namespace {

mongo::Status LoadPayload(LogSource& log, mongo::EventRecord& e) {
  if (!e.payload_in_gridfs) return mongo::Status::Ok();
  auto payload = log.GetPayloadFile(e.id);
  if (!payload.ok()) return payload.status;
  e.payload = std::move(payload.value);
  return mongo::Status::Ok();
}

// One walk from the smallest of `ids` (all within kBatchSpan): stops when every id was found or the
// stream's ids passed the largest (plus the same slack as FindEventInLog).
mongo::Status WalkForIds(LogSource& log, const std::vector<mongo::ChainHead>& heads, const std::string& source,
                         const std::string& stream, const std::set<std::uint32_t>& ids,
                         std::map<std::uint32_t, mongo::EventRecord>& out) {
  ReplayQuery query;
  query.sources = {source};
  query.streams = {stream};
  query.start_from = *ids.begin();
  auto positions = InitialPositions(log, query, heads, {stream});
  if (!positions.ok()) return positions.status;
  ReplayReader reader(log, query, positions.value);
  reader.UpdateHeads(heads);
  const std::uint32_t last = *ids.rbegin();
  std::size_t found = 0;
  int beyond = 0;
  while (found < ids.size() && beyond < 64) {
    ReplayReader::Batch batch;
    mongo::Status status = reader.Next(64, 1u << 30, batch);
    if (!status.ok) return status;
    for (mongo::EventRecord& e : batch.events) {
      if (!e.event_id) continue;
      if (*e.event_id > last) ++beyond;
      if (!ids.count(*e.event_id) || out.count(*e.event_id)) continue;
      if (mongo::Status s = LoadPayload(log, e); !s.ok) return s;
      const std::uint32_t id = *e.event_id;
      out.emplace(id, std::move(e));
      ++found;
    }
    if (batch.caught_up) break;
  }
  return mongo::Status::Ok();
}

}  // namespace

mongo::Result<std::optional<mongo::EventRecord>> FindEventInLog(LogSource& log, const std::vector<mongo::ChainHead>& heads,
                                                                const std::string& source, const std::string& stream,
                                                                std::uint32_t id) {
  using R = mongo::Result<std::optional<mongo::EventRecord>>;
  ReplayQuery query;
  query.sources = {source};
  query.streams = {stream};
  query.start_from = id;
  auto positions = InitialPositions(log, query, heads, {stream});
  if (!positions.ok()) return R::Fail(positions.status);
  ReplayReader reader(log, query, positions.value);
  reader.UpdateHeads(heads);
  for (int examined = 0; examined < 64;) {
    ReplayReader::Batch batch;
    mongo::Status status = reader.Next(16, 1u << 30, batch);
    if (!status.ok) return R::Fail(status);
    for (mongo::EventRecord& e : batch.events) {
      ++examined;
      if (e.event_id != id) continue;
      if (mongo::Status s = LoadPayload(log, e); !s.ok) return R::Fail(s);
      return R::Ok(std::move(e));
    }
    if (batch.caught_up) break;
  }
  return R::Ok(std::nullopt);
}

mongo::Result<std::optional<mongo::EventRecord>> FindEvent(mongo::AuditStore& store, LogSource& log,
                                                           const std::vector<mongo::ChainHead>* heads,
                                                           const std::string& source, const std::string& stream,
                                                           std::uint32_t id) {
  if (store.server_kind() != mongo::ServerKind::kFerretDb) {
    return store.GetEvent(source + " " + stream + " " + std::to_string(id));
  }
  if (heads) return FindEventInLog(log, *heads, source, stream, id);
  auto chains = log.ListChains();
  if (!chains.ok()) return {chains.status, std::nullopt};
  return FindEventInLog(log, chains.value, source, stream, id);
}

mongo::Result<std::map<std::uint32_t, mongo::EventRecord>> FindEvents(mongo::AuditStore& store, LogSource& log,
                                                                      const std::vector<mongo::ChainHead>* heads,
                                                                      const std::string& source,
                                                                      const std::string& stream,
                                                                      std::vector<std::uint32_t> ids) {
  using R = mongo::Result<std::map<std::uint32_t, mongo::EventRecord>>;
  std::map<std::uint32_t, mongo::EventRecord> out;
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  if (ids.empty()) return R::Ok(std::move(out));
  if (store.server_kind() != mongo::ServerKind::kFerretDb) {
    for (std::uint32_t id : ids) {
      auto event = store.GetEvent(source + " " + stream + " " + std::to_string(id));
      if (!event.ok()) return R::Fail(event.status);
      if (event.value) out.emplace(id, std::move(*event.value));
    }
    return R::Ok(std::move(out));
  }
  std::vector<mongo::ChainHead> listed;
  if (!heads) {
    auto chains = log.ListChains();
    if (!chains.ok()) return R::Fail(chains.status);
    listed = std::move(chains.value);
    heads = &listed;
  }
  // Groups of ids within kBatchSpan of the group's first id, one walk each.
  std::size_t i = 0;
  while (i < ids.size()) {
    std::set<std::uint32_t> group;
    const std::uint32_t first = ids[i];
    while (i < ids.size() && ids[i] - first <= kBatchSpan) group.insert(ids[i++]);
    if (mongo::Status s = WalkForIds(log, *heads, source, stream, group, out); !s.ok) return R::Fail(s);
  }
  return R::Ok(std::move(out));
}

}  // namespace ces::audit
