#pragma once
// One event of the audit store by its identity (source, stream, node event id), payload included.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ces/audit/replay.hpp"
#include "ces/mongo/audit_store.hpp"

namespace ces::audit {

// Through the replay log: from the checkpoint of the identity's id bucket, the chains in `heads` are
// read until the event (ids of one stream grow along the log; a few more entries are examined after
// the first id >= `id` in case a re-sent event was stored out of order). The GridFS payload of a large
// event is fetched. Needed on FerretDB, which reads the whole `events` collection for an _id lookup.
mongo::Result<std::optional<mongo::EventRecord>> FindEventInLog(LogSource& log, const std::vector<mongo::ChainHead>& heads,
                                                                const std::string& source, const std::string& stream,
                                                                std::uint32_t id);

// The best lookup for the server: MongoDB the `events` _id index (AuditStore::GetEvent), FerretDB the
// replay log (FindEventInLog with `heads`; when `heads` is null the chains are listed first).
mongo::Result<std::optional<mongo::EventRecord>> FindEvent(mongo::AuditStore& store, LogSource& log,
                                                           const std::vector<mongo::ChainHead>* heads,
                                                           const std::string& source, const std::string& stream,
                                                           std::uint32_t id);

// Several events of one (source, stream), by id (those not found are absent from the map). On FerretDB
// ids within kBatchSpan of each other are found in one walk of the log, the others one by one.
inline constexpr std::uint32_t kBatchSpan = 4096;
mongo::Result<std::map<std::uint32_t, mongo::EventRecord>> FindEvents(mongo::AuditStore& store, LogSource& log,
                                                                      const std::vector<mongo::ChainHead>* heads,
                                                                      const std::string& source,
                                                                      const std::string& stream,
                                                                      std::vector<std::uint32_t> ids);

}  // namespace ces::audit
