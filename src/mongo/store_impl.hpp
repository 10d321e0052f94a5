#pragma once
// Private: state and document codecs shared by audit_store.cpp (writing) and audit_read.cpp (reading).

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "bson_util.hpp"
#include "ces/mongo/audit_store.hpp"
#include "connection.hpp"

namespace ces::mongo {

namespace collection {
inline constexpr const char* kEvents = "events";
inline constexpr const char* kConflicts = "conflicts";
inline constexpr const char* kChains = "chains";
inline constexpr const char* kSegments = "segments";
inline constexpr const char* kCheckpoints = "checkpoints";
inline constexpr const char* kSources = "sources";
inline constexpr const char* kSettings = "settings";
inline constexpr const char* kPayloadBucket = "payloads";
}  // namespace collection

// Version of the link entry encoding (the `entries` BinData of a link): 1 = BSON {"e": [...]},
// 2 = the same BSON compressed with zstd (what writers produce).
inline constexpr int kLinkFormat = 2;

inline constexpr int kAutoIdLookup = -1;

struct AuditStore::Impl {
  explicit Impl(const StoreOptions& options)
      : connection(options.uri, options.write_concern, options.write_timeout, options.app_name) {}

  detail::Connection connection;
  std::atomic<ServerKind> kind{ServerKind::kMongoDb};
  std::atomic<int> forced_id_lookup{kAutoIdLookup};  // an IdLookup, or kAutoIdLookup: from the plan
  mutable std::mutex limits_mutex;
  SegmentLimits limits;
  std::atomic<bool> layout_known{false};  // the settings document was read

  // Reads the recorded segment limits; `found` false when the database has none yet.
  Status ReadLimits(bool& found, SegmentLimits& out) const;
  SegmentLimits Limits() const {
    std::lock_guard lock(limits_mutex);
    return limits;
  }
  detail::CollectionPtr Collection(const detail::Connection::Lease& lease, const std::string& name) const {
    return lease.Collection(connection.database(), name);
  }
  // Runs `find` and calls `each` per document. False (with status) on a driver/server error.
  template <class Each>
  Status Find(const std::string& coll_name, const bson_t* filter, const bson_t* opts, Each&& each) const;
};

template <class Each>
Status AuditStore::Impl::Find(const std::string& coll_name, const bson_t* filter, const bson_t* opts,
                              Each&& each) const {
  auto lease = connection.Acquire();
  auto coll = Collection(lease, coll_name);
  detail::CursorPtr cursor(mongoc_collection_find_with_opts(coll.get(), filter, opts, nullptr));
  const bson_t* doc = nullptr;
  while (mongoc_cursor_next(cursor.get(), &doc)) each(doc);
  bson_error_t error;
  if (mongoc_cursor_error(cursor.get(), &error)) return detail::ToStatus(error);
  return Status::Ok();
}

namespace detail {

std::string ChainKey(const ChainId& chain);
// The `kafka` subdocument of an event document: {topic, partition, offset} (fields left as they are
// when absent).
void ReadKafkaPosition(const bson_t* doc, std::string& topic, std::int32_t& partition, std::int64_t& offset);
// Encodes link entries as one BSON document {"e": [...]}, zstd-compressed (stored as BinData: one
// value for the server to handle instead of thousands, and a third of the bytes).
std::string EncodeEntries(const std::vector<EventRecord>& entries);
bool DecodeEntries(const uint8_t* data, std::uint32_t len, int format, const ChainId& chain,
                   std::vector<EventRecord>& out);
// A link document (from a segment collection) -> Link. Entries are decoded when present.
bool ParseLink(const bson_t* doc, const ChainId& chain, Link& out, std::string& error);
ChainHead HeadFromLink(const Link& link);
void AppendFilterKeys(bson_t* doc, const FilterKeys& keys, bool short_names);
void ReadFilterKeys(const bson_t* doc, FilterKeys& keys, bool short_names);

}  // namespace detail
}  // namespace ces::mongo
