// AuditStore: construction, schema, the writing side and the document codecs.
#include <zstd.h>

#include <cinttypes>
#include <limits>
#include <set>
#include <stdexcept>

#include "ces/common/log.hpp"
#include "ces/common/time.hpp"
#include "store_impl.hpp"

namespace ces::mongo {

using detail::AppendBinary;
using detail::AppendInt64;
using detail::AppendUtf8;
using detail::BsonPtr;
using detail::NewBson;

std::string EventIdentity(const EventRecord& r) {
  if (r.event_id) return r.source + " " + r.stream + " " + std::to_string(*r.event_id);
  if (r.origin == "rpc" && !r.rebuilt_key.empty()) return r.source + " " + r.stream + " rpc " + r.rebuilt_key;
  return r.source + " " + r.stream + " @" + r.topic + "/" + std::to_string(r.partition) + "/" + std::to_string(r.offset);
}

std::string_view ToString(ServerKind kind) { return kind == ServerKind::kFerretDb ? "ferretdb" : "mongodb"; }
std::string_view ToString(IdLookup lookup) { return lookup == IdLookup::kPerId ? "per-id" : "in"; }

std::int64_t SegmentAfter(const ChainHead& head, const SegmentLimits& limits) {
  if (head.seq < 0) return 0;
  const bool full = (limits.max_events > 0 && head.segment_events >= limits.max_events) ||
                    (limits.max_bytes > 0 && head.segment_bytes >= limits.max_bytes);
  return full ? head.segment + 1 : head.segment;
}

std::string AuditStore::SegmentCollection(const ChainId& chain, std::int64_t segment) {
  return "log." + chain.topic + "." + std::to_string(chain.partition) + "." + std::to_string(segment);
}

namespace detail {

std::string ChainKey(const ChainId& chain) { return chain.Key(); }

void AppendFilterKeys(bson_t* doc, const FilterKeys& keys, bool short_names) {
  if (keys.block_hash) AppendUtf8(doc, short_names ? "bh" : "block_hash", *keys.block_hash);
  if (keys.block_height) {
    const char* name = short_names ? "bn" : "block_height";
    if (*keys.block_height <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      AppendInt64(doc, name, static_cast<std::int64_t>(*keys.block_height));
    } else {
      AppendUtf8(doc, name, std::to_string(*keys.block_height));
    }
  }
  if (keys.transaction_hash) AppendUtf8(doc, short_names ? "th" : "transaction_hash", *keys.transaction_hash);
  if (keys.public_key) AppendUtf8(doc, short_names ? "pk" : "public_key", *keys.public_key);
  if (keys.account) AppendUtf8(doc, short_names ? "ac" : "account", *keys.account);
}

void ReadFilterKeys(const bson_t* doc, FilterKeys& keys, bool short_names) {
  bson_iter_t it;
  if (bson_iter_init_find(&it, doc, short_names ? "bh" : "block_hash") && BSON_ITER_HOLDS_UTF8(&it)) {
    keys.block_hash = bson_iter_utf8(&it, nullptr);
  }
  if (bson_iter_init_find(&it, doc, short_names ? "bn" : "block_height")) {
    if (BSON_ITER_HOLDS_INT64(&it) || BSON_ITER_HOLDS_INT32(&it)) {
      keys.block_height = static_cast<std::uint64_t>(bson_iter_as_int64(&it));
    } else if (BSON_ITER_HOLDS_UTF8(&it)) {
      keys.block_height = std::strtoull(bson_iter_utf8(&it, nullptr), nullptr, 10);
    }
  }
  if (bson_iter_init_find(&it, doc, short_names ? "th" : "transaction_hash") && BSON_ITER_HOLDS_UTF8(&it)) {
    keys.transaction_hash = bson_iter_utf8(&it, nullptr);
  }
  if (bson_iter_init_find(&it, doc, short_names ? "pk" : "public_key") && BSON_ITER_HOLDS_UTF8(&it)) {
    keys.public_key = bson_iter_utf8(&it, nullptr);
  }
  if (bson_iter_init_find(&it, doc, short_names ? "ac" : "account") && BSON_ITER_HOLDS_UTF8(&it)) {
    keys.account = bson_iter_utf8(&it, nullptr);
  }
}

std::string EncodeEntries(const std::vector<EventRecord>& entries) {
  BsonPtr doc = NewBson();
  bson_t array;
  bson_append_array_begin(doc.get(), "e", 1, &array);
  std::uint32_t index = 0;
  for (const EventRecord& r : entries) {
    char buffer[16];
    const char* key = nullptr;
    std::size_t key_len = bson_uint32_to_string(index++, &key, buffer, sizeof buffer);
    bson_t e;
    bson_append_document_begin(&array, key, static_cast<int>(key_len), &e);
    AppendUtf8(&e, "s", r.source);
    AppendUtf8(&e, "st", r.stream);
    if (r.event_id) AppendInt64(&e, "e", *r.event_id);
    AppendUtf8(&e, "t", r.type);
    AppendUtf8(&e, "v", r.api_version);
    AppendUtf8(&e, "at", r.received_at);
    AppendInt64(&e, "ms", r.received_ms);
    AppendInt64(&e, "o", r.offset);
    if (!r.origin.empty()) AppendUtf8(&e, "r", r.origin);
    if (!r.rebuilt_key.empty()) AppendUtf8(&e, "rk", r.rebuilt_key);
    AppendInt64(&e, "n", r.size);
    AppendUtf8(&e, "h", r.sha256);
    if (r.payload_in_gridfs) {
      bson_append_bool(&e, "g", 1, true);
    } else {
      AppendBinary(&e, "p", r.payload);
    }
    AppendFilterKeys(&e, r.keys, true);
    bson_append_document_end(&array, &e);
  }
  bson_append_array_end(doc.get(), &array);
  thread_local std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx(ZSTD_createCCtx(), &ZSTD_freeCCtx);
  std::string out(ZSTD_compressBound(doc->len), '\0');
  const std::size_t n = ZSTD_compressCCtx(cctx.get(), out.data(), out.size(), bson_get_data(doc.get()), doc->len, 1);
  if (ZSTD_isError(n)) {  // cannot happen with a ZSTD_compressBound buffer: a broken invariant
    log::Error("zstd compression failed", {{"error", ZSTD_getErrorName(n)}});
    std::abort();
  }
  out.resize(n);
  return out;
}

bool DecodeEntries(const uint8_t* data, std::uint32_t len, int format, const ChainId& chain,
                   std::vector<EventRecord>& out) {
  std::string plain;
  if (format == 2) {
    const unsigned long long size = ZSTD_getFrameContentSize(data, len);
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > (1ull << 31)) return false;
    thread_local std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx(ZSTD_createDCtx(), &ZSTD_freeDCtx);
    plain.resize(static_cast<std::size_t>(size));
    const std::size_t n = ZSTD_decompressDCtx(dctx.get(), plain.data(), plain.size(), data, len);
    if (ZSTD_isError(n) || n != plain.size()) return false;
    data = reinterpret_cast<const uint8_t*>(plain.data());
    len = static_cast<std::uint32_t>(plain.size());
  } else if (format != 1) {
    return false;
  }
  bson_t doc;
  if (!bson_init_static(&doc, data, len)) return false;
  bson_iter_t it;
  bson_iter_t array;
  if (!bson_iter_init_find(&it, &doc, "e") || !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &array)) {
    return false;
  }
  while (bson_iter_next(&array)) {
    if (!BSON_ITER_HOLDS_DOCUMENT(&array)) return false;
    const uint8_t* edata = nullptr;
    uint32_t elen = 0;
    bson_iter_document(&array, &elen, &edata);
    bson_t e;
    if (!bson_init_static(&e, edata, elen)) return false;
    EventRecord r;
    r.topic = chain.topic;
    r.partition = chain.partition;
    bson_iter_t f;
    if (bson_iter_init(&f, &e)) {
      while (bson_iter_next(&f)) {
        const char* k = bson_iter_key(&f);
        std::uint32_t n = 0;
        switch (k[0]) {
          case 's':
            if (k[1] == '\0') {
              const char* s = bson_iter_utf8(&f, &n);
              r.source.assign(s, n);
            } else if (k[1] == 't' && k[2] == '\0') {
              const char* s = bson_iter_utf8(&f, &n);
              r.stream.assign(s, n);
            }
            break;
          case 'e':
            if (k[1] == '\0') r.event_id = static_cast<std::uint32_t>(bson_iter_as_int64(&f));
            break;
          case 't':
            if (k[1] == '\0') {
              const char* s = bson_iter_utf8(&f, &n);
              r.type.assign(s, n);
            }
            break;
          case 'v':
            if (k[1] == '\0') {
              const char* s = bson_iter_utf8(&f, &n);
              r.api_version.assign(s, n);
            }
            break;
          case 'a':
            if (k[1] == 't' && k[2] == '\0') {
              const char* s = bson_iter_utf8(&f, &n);
              r.received_at.assign(s, n);
            }
            break;
          case 'm':
            if (k[1] == 's' && k[2] == '\0') r.received_ms = bson_iter_as_int64(&f);
            break;
          case 'o':
            if (k[1] == '\0') r.offset = bson_iter_as_int64(&f);
            break;
          case 'r':
            if (k[1] == '\0' || (k[1] == 'k' && k[2] == '\0')) {
              const char* s = bson_iter_utf8(&f, &n);
              (k[1] == '\0' ? r.origin : r.rebuilt_key).assign(s, n);
            }
            break;
          case 'n':
            if (k[1] == '\0') r.size = bson_iter_as_int64(&f);
            break;
          case 'h':
            if (k[1] == '\0') {
              const char* s = bson_iter_utf8(&f, &n);
              r.sha256.assign(s, n);
            }
            break;
          case 'p':
            if (k[1] == '\0' && BSON_ITER_HOLDS_BINARY(&f)) {
              bson_subtype_t subtype;
              const uint8_t* bin = nullptr;
              bson_iter_binary(&f, &subtype, &n, &bin);
              r.payload.assign(reinterpret_cast<const char*>(bin), n);
            }
            break;
          case 'g':
            if (k[1] == '\0') r.payload_in_gridfs = true;
            break;
          default:
            break;
        }
      }
    }
    ReadFilterKeys(&e, r.keys, true);
    r.id = EventIdentity(r);
    out.push_back(std::move(r));
  }
  return true;
}

bool ParseLink(const bson_t* doc, const ChainId& chain, Link& out, std::string& error) {
  out.chain = chain;
  out.route = GetString(doc, "route");
  out.seq = GetInt64(doc, "_id", -1);
  out.start = GetInt64(doc, "start", 0);
  out.end = GetInt64(doc, "end", 0);
  out.segment = GetInt64(doc, "segment", 0);
  out.segment_events = GetInt64(doc, "segment_events", 0);
  out.segment_bytes = GetInt64(doc, "segment_bytes", 0);
  out.min_ms = GetInt64(doc, "min_ms", 0);
  out.max_ms = GetInt64(doc, "max_ms", 0);
  out.count = GetInt64(doc, "count", 0);
  out.bytes = GetInt64(doc, "bytes", 0);
  out.entries.clear();
  bson_iter_t it;
  if (bson_iter_init_find(&it, doc, "entries") && BSON_ITER_HOLDS_BINARY(&it)) {
    const auto format = GetInt64(doc, "format", 1);
    if (format != 1 && format != 2) {
      error = "link " + std::to_string(out.seq) + " of " + chain.Key() + " has an unknown format";
      return false;
    }
    bson_subtype_t subtype;
    std::uint32_t len = 0;
    const uint8_t* data = nullptr;
    bson_iter_binary(&it, &subtype, &len, &data);
    out.entries.reserve(static_cast<std::size_t>(out.count));
    if (!DecodeEntries(data, len, static_cast<int>(format), chain, out.entries)) {
      error = "link " + std::to_string(out.seq) + " of " + chain.Key() + " has undecodable entries";
      return false;
    }
  }
  return true;
}

ChainHead HeadFromLink(const Link& link) {
  ChainHead head;
  head.chain = link.chain;
  head.route = link.route;
  head.seq = link.seq;
  head.end = link.end;
  head.segment = link.segment;
  head.segment_events = link.segment_events;
  head.segment_bytes = link.segment_bytes;
  return head;
}

void ReadKafkaPosition(const bson_t* doc, std::string& topic, std::int32_t& partition, std::int64_t& offset) {
  bson_iter_t it;
  bson_iter_t kafka;
  if (!bson_iter_init_find(&it, doc, "kafka") || !BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &kafka)) return;
  while (bson_iter_next(&kafka)) {
    std::string_view key = bson_iter_key(&kafka);
    if (key == "topic") {
      topic = bson_iter_utf8(&kafka, nullptr);
    } else if (key == "partition") {
      partition = static_cast<std::int32_t>(bson_iter_as_int64(&kafka));
    } else if (key == "offset") {
      offset = bson_iter_as_int64(&kafka);
    }
  }
}

}  // namespace detail

namespace {

std::int64_t NowMs() { return time::UnixMillis(time::Now()); }

BsonPtr BuildEventDocument(const EventRecord& r, const std::string& id, NestedArrays nested, bool with_data,
                           std::string& data_error) {
  BsonPtr doc = NewBson();
  bson_t* d = doc.get();
  AppendUtf8(d, "_id", id);
  AppendUtf8(d, "source", r.source);
  AppendUtf8(d, "stream", r.stream);
  if (r.event_id) AppendInt64(d, "event_id", *r.event_id);
  AppendUtf8(d, "api_version", r.api_version);
  AppendUtf8(d, "type", r.type);
  if (!r.origin.empty()) AppendUtf8(d, "origin", r.origin);
  if (!r.rebuilt_key.empty()) AppendUtf8(d, "rebuilt_key", r.rebuilt_key);
  bson_append_date_time(d, "received_at", -1, r.received_ms);
  bson_t kafka;
  bson_append_document_begin(d, "kafka", -1, &kafka);
  AppendUtf8(&kafka, "topic", r.topic);
  bson_append_int32(&kafka, "partition", -1, r.partition);
  AppendInt64(&kafka, "offset", r.offset);
  bson_append_document_end(d, &kafka);
  AppendUtf8(d, "sha256", r.sha256);
  AppendInt64(d, "size", r.size);
  if (r.payload_in_gridfs) {
    AppendUtf8(d, "payload_file", id);
  } else {
    AppendBinary(d, "payload", r.payload);
  }
  detail::AppendFilterKeys(d, r.keys, false);
  bson_append_date_time(d, "stored_at", -1, NowMs());
  if (with_data) {
    JsonToBsonOptions options;
    options.nested_arrays = nested;
    if (r.payload_in_gridfs || r.payload.size() > kMaxDocumentBytes / 2) {
      data_error = "payload too large for a queryable form";
    } else if (!detail::AppendJson(d, "data", r.payload, options, data_error)) {
      return nullptr;  // rebuilt without data by the caller
    } else if (d->len > kMaxDocumentBytes) {
      data_error = "payload too large for a queryable form";
      return nullptr;
    }
  }
  if (!data_error.empty()) AppendUtf8(d, "data_error", data_error);
  return doc;
}

// The event document, with its queryable form when it can have one.
BsonPtr EventDocument(const EventRecord& r, const std::string& id, NestedArrays nested, bool& data_omitted) {
  std::string data_error;
  BsonPtr doc = BuildEventDocument(r, id, nested, true, data_error);
  if (!doc) doc = BuildEventDocument(r, id, nested, false, data_error);
  data_omitted = !data_error.empty();
  return doc;
}

}  // namespace

AuditStore::AuditStore(const StoreOptions& options) : impl_(std::make_unique<Impl>(options)) {}
AuditStore::~AuditStore() = default;

const std::string& AuditStore::database() const { return impl_->connection.database(); }
const std::string& AuditStore::redacted_uri() const { return impl_->connection.redacted_uri(); }
ServerKind AuditStore::server_kind() const { return impl_->kind.load(); }
void AuditStore::ForceIdLookup(std::optional<IdLookup> lookup) {
  impl_->forced_id_lookup = lookup ? static_cast<int>(*lookup) : kAutoIdLookup;
}
SegmentLimits AuditStore::segment_limits() const { return impl_->Limits(); }

Status AuditStore::Ping() {
  auto lease = impl_->connection.Acquire();
  BsonPtr cmd(BCON_NEW("ping", BCON_INT32(1)));
  bson_error_t error;
  bson_t reply;
  bool ok = mongoc_client_command_simple(lease.client(), "admin", cmd.get(), nullptr, &reply, &error);
  bson_destroy(&reply);
  return ok ? Status::Ok() : detail::ToStatus(error);
}

Status AuditStore::Impl::ReadLimits(bool& found, SegmentLimits& out) const {
  BsonPtr filter(BCON_NEW("_id", BCON_UTF8("replay_log")));
  found = false;
  return Find(collection::kSettings, filter.get(), nullptr, [&](const bson_t* doc) {
    found = true;
    out.max_events = detail::GetInt64(doc, "segment_events", 0);
    out.max_bytes = detail::GetInt64(doc, "segment_bytes", 0);
  });
}

Status AuditStore::DetectServer() {
  auto lease = impl_->connection.Acquire();
  BsonPtr cmd(BCON_NEW("buildInfo", BCON_INT32(1)));
  bson_error_t error;
  bson_t reply;
  if (!mongoc_client_command_simple(lease.client(), "admin", cmd.get(), nullptr, &reply, &error)) {
    bson_destroy(&reply);
    return detail::ToStatus(error);
  }
  impl_->kind = detail::Has(&reply, "ferretdbVersion") ? ServerKind::kFerretDb : ServerKind::kMongoDb;
  bson_destroy(&reply);
  bool found = false;
  SegmentLimits limits;
  Status status = impl_->ReadLimits(found, limits);
  if (!status.ok) return status;
  if (found) {
    std::lock_guard lock(impl_->limits_mutex);
    impl_->limits = limits;
    impl_->layout_known = true;
  }
  return Status::Ok();
}

Status AuditStore::EnsureSchema(const std::optional<SegmentLimits>& wanted, SegmentLimits& effective) {
  Status status = DetectServer();
  if (!status.ok) return status;
  const SegmentLimits limits =
      wanted ? *wanted : (server_kind() == ServerKind::kFerretDb ? kFerretDbSegmentLimits : SegmentLimits{});
  {
    // First writer records the layout; later ones adopt it (links of one seq must land in one collection).
    auto lease = impl_->connection.Acquire();
    auto coll = impl_->Collection(lease, collection::kSettings);
    BsonPtr doc(BCON_NEW("_id", BCON_UTF8("replay_log"), "segment_events", BCON_INT64(limits.max_events),
                         "segment_bytes", BCON_INT64(limits.max_bytes), "link_format", BCON_INT32(kLinkFormat)));
    BsonPtr opts = NewBson();
    impl_->connection.AppendWriteConcern(opts.get());
    bson_error_t error;
    if (!mongoc_collection_insert_one(coll.get(), doc.get(), opts.get(), nullptr, &error)) {
      Status s = detail::ToStatus(error);
      if (!s.IsDuplicateKey()) return s;
    }
  }
  bool found = false;
  SegmentLimits recorded;
  status = impl_->ReadLimits(found, recorded);
  if (!status.ok) return status;
  if (!found) return Status::Error(-1, "settings document missing after insert");
  if (wanted && !(recorded == *wanted)) {
    log::Warn("the database already uses other replay-log segment limits; keeping them",
              {{"segment_events", recorded.max_events}, {"segment_bytes", recorded.max_bytes}});
  }
  {
    std::lock_guard lock(impl_->limits_mutex);
    impl_->limits = recorded;
    impl_->layout_known = true;
  }
  effective = recorded;
  return Status::Ok();
}

Result<IdLookup> AuditStore::PlanIdLookup(const std::string& id) {
  if (auto forced = impl_->forced_id_lookup.load(); forced != kAutoIdLookup) {
    return Result<IdLookup>::Ok(static_cast<IdLookup>(forced));
  }
  // MongoDB answers `$in` on `_id` from the index. FerretDB 1.24 never does (it reads the whole
  // collection for `$in`); whether one `_id` equality uses an index depends on its backend and on the
  // indexes there: SQLite compares `->'$._id'` while its index is on `->"_id"` (a SCAN); PostgreSQL
  // compares `_jsonb->'_id' @> …`, which its btree `_id` index cannot serve, but a GIN index on that
  // expression can (scripts/stack adds one to every FerretDB table on PostgreSQL). FerretDB's explain
  // carries the backend's plan of the query as it would run now.
  if (server_kind() != ServerKind::kFerretDb) return Result<IdLookup>::Ok(IdLookup::kIn);
  auto lease = impl_->connection.Acquire();
  BsonPtr cmd(BCON_NEW("explain", "{", "find", BCON_UTF8(collection::kEvents), "filter", "{", "_id",
                       BCON_UTF8(id.c_str()), "}", "}"));
  bson_error_t error;
  bson_t reply;
  if (!mongoc_client_command_simple(lease.client(), impl_->connection.database().c_str(), cmd.get(), nullptr, &reply,
                                    &error)) {
    bson_destroy(&reply);
    return Result<IdLookup>::Fail(detail::ToStatus(error));
  }
  std::string plan;
  bson_iter_t it;
  if (bson_iter_init_find(&it, &reply, "queryPlanner")) {
    char* json = bson_as_relaxed_extended_json(&reply, nullptr);
    if (json) plan = json;
    bson_free(json);
  }
  bson_destroy(&reply);
  const bool indexed = plan.find("Index Scan") != std::string::npos || plan.find("USING INDEX") != std::string::npos ||
                       plan.find("USING COVERING INDEX") != std::string::npos;
  log::Debug("plan of an _id lookup in events", {{"indexed", indexed}, {"plan", plan}});
  return Result<IdLookup>::Ok(indexed ? IdLookup::kPerId : IdLookup::kIn);
}

Status AuditStore::InsertEvents(const std::vector<const EventRecord*>& records, InsertOutcome& outcome) {
  outcome = {};
  if (records.empty()) return Status::Ok();
  const NestedArrays nested =
      server_kind() == ServerKind::kFerretDb ? NestedArrays::kAsDocuments : NestedArrays::kKeep;
  std::vector<BsonPtr> docs;
  std::vector<const bson_t*> pointers;
  docs.reserve(records.size());
  pointers.reserve(records.size());
  for (const EventRecord* r : records) {
    bool omitted = false;
    docs.push_back(EventDocument(*r, r->id, nested, omitted));
    pointers.push_back(docs.back().get());
    outcome.data_omitted += omitted;
  }
  auto lease = impl_->connection.Acquire();
  auto coll = impl_->Collection(lease, collection::kEvents);
  BsonPtr opts(BCON_NEW("ordered", BCON_BOOL(false)));
  impl_->connection.AppendWriteConcern(opts.get());
  bson_t reply;
  bson_error_t error;
  const bool ok = mongoc_collection_insert_many(coll.get(), pointers.data(), pointers.size(), opts.get(), &reply, &error);
  Status status = Status::Ok();
  bool parsed_errors = false;
  bson_iter_t it;
  bson_iter_t list;
  if (bson_iter_init_find(&it, &reply, "writeErrors") && BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &list)) {
    while (bson_iter_next(&list)) {
      const uint8_t* data = nullptr;
      std::uint32_t len = 0;
      if (!BSON_ITER_HOLDS_DOCUMENT(&list)) continue;
      bson_iter_document(&list, &len, &data);
      bson_t we;
      if (!bson_init_static(&we, data, len)) continue;
      parsed_errors = true;
      const auto code = detail::GetInt64(&we, "code", -1);
      const auto index = detail::GetInt64(&we, "index", -1);
      if (code == kDuplicateKeyCode && index >= 0 && static_cast<std::size_t>(index) < records.size()) {
        outcome.duplicates.push_back(static_cast<std::size_t>(index));
      } else if (status.ok) {
        status = Status::Error(static_cast<int>(code), detail::GetString(&we, "errmsg"));
      }
    }
  }
  if (bson_iter_init_find(&it, &reply, "writeConcernErrors") && BSON_ITER_HOLDS_ARRAY(&it)) {
    bson_iter_t wce;
    if (bson_iter_recurse(&it, &wce) && bson_iter_next(&wce) && status.ok) {
      status = Status::Error(-1, "write concern not satisfied");
    }
  }
  bson_destroy(&reply);
  if (!ok && !parsed_errors && status.ok) status = detail::ToStatus(error);
  return status;
}

namespace {

StoredIdentity ParseStoredIdentity(const bson_t* doc) {
  StoredIdentity stored;
  stored.sha256 = detail::GetString(doc, "sha256");
  detail::ReadKafkaPosition(doc, stored.topic, stored.partition, stored.offset);
  return stored;
}

}  // namespace

Status AuditStore::FindStored(const std::vector<std::string>& ids, std::map<std::string, StoredIdentity>& out,
                              IdLookup* used) {
  BsonPtr opts(BCON_NEW("projection", "{", "kafka", BCON_INT32(1), "sha256", BCON_INT32(1), "}"));
  const auto keep = [&](const bson_t* doc) { out[detail::GetString(doc, "_id")] = ParseStoredIdentity(doc); };
  if (ids.empty()) return Status::Ok();
  auto lookup = PlanIdLookup(ids.front());
  if (!lookup.ok()) return lookup.status;
  if (used) *used = lookup.value;
  if (lookup.value == IdLookup::kPerId) {
    // One `_id` equality per id: an index lookup where the server pushes it down to an indexed
    // expression (FerretDB on PostgreSQL), so the cost follows the number of ids, not of events.
    for (const std::string& id : ids) {
      BsonPtr filter(BCON_NEW("_id", BCON_UTF8(id.c_str())));
      Status status = impl_->Find(collection::kEvents, filter.get(), opts.get(), keep);
      if (!status.ok) return status;
    }
    return Status::Ok();
  }
  // As few queries as a command document allows: MongoDB answers `$in` on `_id` from its index, but
  // FerretDB 1.24 reads the whole collection for any `$in` (and, on SQLite, even for one `_id`), so each
  // query costs a scan. 256 ids per query made a restart after a kill take minutes on 120,000 events.
  constexpr std::size_t kMaxFilterBytes = 8 * 1024 * 1024;
  for (std::size_t begin = 0, end = 0; begin < ids.size(); begin = end) {
    BsonPtr filter = NewBson();
    bson_t id_doc;
    bson_t in;
    bson_append_document_begin(filter.get(), "_id", 3, &id_doc);
    bson_append_array_begin(&id_doc, "$in", 3, &in);
    for (end = begin; end < ids.size() && (end == begin || in.len < kMaxFilterBytes); ++end) {
      char buffer[16];
      const char* key = nullptr;
      std::size_t n = bson_uint32_to_string(static_cast<std::uint32_t>(end - begin), &key, buffer, sizeof buffer);
      bson_append_utf8(&in, key, static_cast<int>(n), ids[end].data(), static_cast<int>(ids[end].size()));
    }
    bson_append_array_end(&id_doc, &in);
    bson_append_document_end(filter.get(), &id_doc);
    Status status = impl_->Find(collection::kEvents, filter.get(), opts.get(), keep);
    if (!status.ok) return status;
  }
  return Status::Ok();
}

Status AuditStore::InsertConflict(const EventRecord& record, const std::string& stored_sha256) {
  bool omitted = false;
  const std::string id = record.id + " " + record.sha256;
  BsonPtr doc = EventDocument(record, id, NestedArrays::kAsDocuments, omitted);
  AppendUtf8(doc.get(), "conflicts_with", record.id);
  AppendUtf8(doc.get(), "stored_sha256", stored_sha256);
  auto lease = impl_->connection.Acquire();
  auto coll = impl_->Collection(lease, collection::kConflicts);
  BsonPtr opts = NewBson();
  impl_->connection.AppendWriteConcern(opts.get());
  bson_error_t error;
  if (!mongoc_collection_insert_one(coll.get(), doc.get(), opts.get(), nullptr, &error)) {
    Status s = detail::ToStatus(error);
    if (!s.IsDuplicateKey()) return s;
  }
  return Status::Ok();
}

Status AuditStore::PutPayloadFile(const std::string& file_id, std::string_view payload) {
  // A complete upload has its files document (written last); chunks without one are an interrupted
  // upload of the same payload and are removed before writing again.
  bool complete = false;
  {
    BsonPtr filter(BCON_NEW("_id", BCON_UTF8(file_id.c_str())));
    Status status = impl_->Find(std::string(collection::kPayloadBucket) + ".files", filter.get(), nullptr,
                                [&](const bson_t* doc) {
                                  complete = detail::GetInt64(doc, "length", -1) ==
                                             static_cast<std::int64_t>(payload.size());
                                });
    if (!status.ok) return status;
  }
  if (complete) return Status::Ok();
  auto lease = impl_->connection.Acquire();
  {
    auto chunks = impl_->Collection(lease, std::string(collection::kPayloadBucket) + ".chunks");
    auto files = impl_->Collection(lease, std::string(collection::kPayloadBucket) + ".files");
    BsonPtr by_file(BCON_NEW("files_id", BCON_UTF8(file_id.c_str())));
    BsonPtr by_id(BCON_NEW("_id", BCON_UTF8(file_id.c_str())));
    bson_error_t error;
    if (!mongoc_collection_delete_many(chunks.get(), by_file.get(), nullptr, nullptr, &error) ||
        !mongoc_collection_delete_many(files.get(), by_id.get(), nullptr, nullptr, &error)) {
      return detail::ToStatus(error);
    }
  }
  bson_error_t error;
  detail::BucketPtr bucket = impl_->connection.OpenBucket(lease, collection::kPayloadBucket, true, &error);
  if (!bucket) return detail::ToStatus(error);
  const bson_value_t id = detail::Utf8Value(file_id);
  BsonPtr upload_opts(BCON_NEW("metadata", "{", "contentType", BCON_UTF8("application/json"), "}"));
  detail::StreamPtr stream(mongoc_gridfs_bucket_open_upload_stream_with_id(bucket.get(), &id, file_id.c_str(),
                                                                           upload_opts.get(), &error));
  if (!stream) return detail::ToStatus(error);
  std::size_t written = 0;
  while (written < payload.size()) {
    const std::size_t n = std::min<std::size_t>(payload.size() - written, 4u * 1024u * 1024u);
    ssize_t w = mongoc_stream_write(stream.get(), const_cast<char*>(payload.data() + written), n, -1);
    if (w < 0) {
      mongoc_gridfs_bucket_stream_error(stream.get(), &error);
      mongoc_gridfs_bucket_abort_upload(stream.get());
      return detail::ToStatus(error);
    }
    written += static_cast<std::size_t>(w);
  }
  if (mongoc_stream_close(stream.get()) != 0 || mongoc_gridfs_bucket_stream_error(stream.get(), &error)) {
    return detail::ToStatus(error);
  }
  return Status::Ok();
}

Result<ChainHead> AuditStore::LoadChainHead(const ChainId& chain, const std::string& route) {
  ChainHead hint;
  hint.chain = chain;
  hint.route = route;
  bool have_hint = false;
  {
    BsonPtr filter(BCON_NEW("_id", BCON_UTF8(chain.Key().c_str())));
    Status status = impl_->Find(collection::kChains, filter.get(), nullptr, [&](const bson_t* doc) {
      have_hint = true;
      hint.seq = detail::GetInt64(doc, "seq", -1);
      hint.end = detail::GetInt64(doc, "end", -1);
      hint.segment = detail::GetInt64(doc, "segment", 0);
      hint.segment_events = detail::GetInt64(doc, "segment_events", 0);
      hint.segment_bytes = detail::GetInt64(doc, "segment_bytes", 0);
    });
    if (!status.ok) return Result<ChainHead>::Fail(status);
  }
  const SegmentLimits limits = impl_->Limits();
  // Walk forward from the hint: the hint is written after its link, so the true head is at or after it.
  ChainHead head = hint;
  std::int64_t segment = have_hint && hint.seq >= 0 ? hint.segment : 0;
  std::int64_t from = have_hint && hint.seq >= 0 ? hint.seq : 0;
  std::int64_t last_max_ms = -1;
  while (true) {
    auto links = ReadLinks(chain, segment, from, 0, false);
    if (!links.ok()) return Result<ChainHead>::Fail(links.status);
    if (links.value.empty()) break;
    head = detail::HeadFromLink(links.value.back());
    last_max_ms = links.value.back().max_ms;
    head.route = route;
    from = head.seq + 1;
    const std::int64_t next = SegmentAfter(head, limits);
    if (next == segment) break;  // the rest of this segment was read; the next link would go here
    segment = next;
  }
  if (head.seq > hint.seq) {
    log::Info("replay log head moved past its hint", {{"chain", chain.Key()}, {"hint", hint.seq}, {"head", head.seq}});
    Link last;
    last.chain = chain;
    last.route = route;
    last.seq = head.seq;
    last.end = head.end;
    last.segment = head.segment;
    last.segment_events = head.segment_events;
    last.segment_bytes = head.segment_bytes;
    last.max_ms = last_max_ms;  // the segment's max time may have missed this link too
    Status status = PublishHead(last);
    if (!status.ok) return Result<ChainHead>::Fail(status);
  }
  return Result<ChainHead>::Ok(head);
}

Status AuditStore::PrepareLink(const Link& link, const std::vector<Checkpoint>& checkpoints) {
  auto lease = impl_->connection.Acquire();
  BsonPtr wc = NewBson();
  impl_->connection.AppendWriteConcern(wc.get());
  {
    auto coll = impl_->Collection(lease, collection::kSegments);
    const std::string id = link.chain.Key() + "@" + std::to_string(link.segment);
    BsonPtr filter(BCON_NEW("_id", BCON_UTF8(id.c_str())));
    std::set<std::string> sources;
    std::set<std::string> types;
    for (const auto& e : link.entries) {
      sources.insert(e.source);
      types.insert(e.type);
    }
    BsonPtr update = NewBson();
    bson_t set_on_insert;
    bson_append_document_begin(update.get(), "$setOnInsert", -1, &set_on_insert);
    AppendUtf8(&set_on_insert, "topic", link.chain.topic);
    bson_append_int32(&set_on_insert, "partition", -1, link.chain.partition);
    AppendInt64(&set_on_insert, "segment", link.segment);
    AppendInt64(&set_on_insert, "first_seq", link.seq);
    bson_append_document_end(update.get(), &set_on_insert);
    if (!link.entries.empty()) {
      bson_t min;
      bson_append_document_begin(update.get(), "$min", -1, &min);
      AppendInt64(&min, "min_ms", link.min_ms);
      bson_append_document_end(update.get(), &min);
      bson_t add;
      bson_append_document_begin(update.get(), "$addToSet", -1, &add);
      for (const auto& [name, values] : {std::pair<const char*, const std::set<std::string>*>{"sources", &sources},
                                         std::pair<const char*, const std::set<std::string>*>{"types", &types}}) {
        bson_t field;
        bson_t each;
        bson_append_document_begin(&add, name, -1, &field);
        bson_append_array_begin(&field, "$each", -1, &each);
        std::uint32_t i = 0;
        for (const auto& v : *values) {
          char buffer[16];
          const char* key = nullptr;
          std::size_t n = bson_uint32_to_string(i++, &key, buffer, sizeof buffer);
          bson_append_utf8(&each, key, static_cast<int>(n), v.data(), static_cast<int>(v.size()));
        }
        bson_append_array_end(&field, &each);
        bson_append_document_end(&add, &field);
      }
      bson_append_document_end(update.get(), &add);
    }
    BsonPtr opts(BCON_NEW("upsert", BCON_BOOL(true)));
    bson_concat(opts.get(), wc.get());
    bson_error_t error;
    if (!mongoc_collection_update_one(coll.get(), filter.get(), update.get(), opts.get(), nullptr, &error)) {
      Status s = detail::ToStatus(error);
      if (!s.IsDuplicateKey()) return s;  // a concurrent upsert of the same segment
      if (!mongoc_collection_update_one(coll.get(), filter.get(), update.get(), opts.get(), nullptr, &error)) {
        return detail::ToStatus(error);
      }
    }
  }
  if (!checkpoints.empty()) {
    auto coll = impl_->Collection(lease, collection::kCheckpoints);
    std::vector<BsonPtr> docs;
    std::vector<const bson_t*> pointers;
    for (const Checkpoint& c : checkpoints) {
      const std::string id = c.source + " " + c.stream + " " + std::to_string(c.bucket);
      docs.push_back(BsonPtr(BCON_NEW("_id", BCON_UTF8(id.c_str()), "topic", BCON_UTF8(c.chain.topic.c_str()),
                                      "partition", BCON_INT32(c.chain.partition), "segment", BCON_INT64(c.segment),
                                      "seq", BCON_INT64(c.seq), "ms", BCON_INT64(c.ms))));
      pointers.push_back(docs.back().get());
    }
    BsonPtr opts(BCON_NEW("ordered", BCON_BOOL(false)));
    bson_concat(opts.get(), wc.get());
    bson_t reply;
    bson_error_t error;
    const bool ok = mongoc_collection_insert_many(coll.get(), pointers.data(), pointers.size(), opts.get(), &reply, &error);
    bool only_duplicates = true;
    bool any_error = false;
    bson_iter_t it;
    bson_iter_t list;
    if (bson_iter_init_find(&it, &reply, "writeErrors") && BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &list)) {
      while (bson_iter_next(&list)) {
        any_error = true;
        const uint8_t* data = nullptr;
        std::uint32_t len = 0;
        bson_iter_document(&list, &len, &data);
        bson_t we;
        if (bson_init_static(&we, data, len) && detail::GetInt64(&we, "code", -1) != kDuplicateKeyCode) {
          only_duplicates = false;
        }
      }
    }
    bson_destroy(&reply);
    if (!ok && (!any_error || !only_duplicates)) return detail::ToStatus(error);
  }
  return Status::Ok();
}

Result<bool> AuditStore::ClaimLink(const Link& link, Link& winner) {
  const std::string blob = detail::EncodeEntries(link.entries);
  BsonPtr doc = NewBson();
  bson_t* d = doc.get();
  AppendInt64(d, "_id", link.seq);
  AppendUtf8(d, "topic", link.chain.topic);
  bson_append_int32(d, "partition", -1, link.chain.partition);
  AppendUtf8(d, "route", link.route);
  AppendInt64(d, "start", link.start);
  AppendInt64(d, "end", link.end);
  AppendInt64(d, "segment", link.segment);
  AppendInt64(d, "segment_events", link.segment_events);
  AppendInt64(d, "segment_bytes", link.segment_bytes);
  AppendInt64(d, "min_ms", link.min_ms);
  AppendInt64(d, "max_ms", link.max_ms);
  AppendInt64(d, "count", static_cast<std::int64_t>(link.entries.size()));
  AppendInt64(d, "bytes", link.bytes);
  bson_append_int32(d, "format", -1, kLinkFormat);
  bson_append_date_time(d, "written_at", -1, NowMs());
  AppendBinary(d, "entries", blob);
  auto lease = impl_->connection.Acquire();
  auto coll = impl_->Collection(lease, SegmentCollection(link.chain, link.segment));
  BsonPtr opts = NewBson();
  impl_->connection.AppendWriteConcern(opts.get());
  bson_error_t error;
  if (mongoc_collection_insert_one(coll.get(), doc.get(), opts.get(), nullptr, &error)) {
    return Result<bool>::Ok(true);
  }
  Status status = detail::ToStatus(error);
  if (!status.IsDuplicateKey()) return Result<bool>::Fail(status);
  auto existing = ReadLinks(link.chain, link.segment, link.seq, 1, false);
  if (!existing.ok()) return Result<bool>::Fail(existing.status);
  if (existing.value.empty() || existing.value.front().seq != link.seq) {
    return Result<bool>::Fail(Status::Error(-1, "link " + std::to_string(link.seq) + " of " + link.chain.Key() +
                                                    " reported as duplicate but not found"));
  }
  winner = std::move(existing.value.front());
  return Result<bool>::Ok(false);
}

Status AuditStore::PublishHead(const Link& link) {
  auto lease = impl_->connection.Acquire();
  BsonPtr wc = NewBson();
  impl_->connection.AppendWriteConcern(wc.get());
  {
    auto coll = impl_->Collection(lease, collection::kChains);
    const std::string id = link.chain.Key();
    BsonPtr filter(BCON_NEW("_id", BCON_UTF8(id.c_str()), "seq", "{", "$lt", BCON_INT64(link.seq), "}"));
    BsonPtr update(BCON_NEW("$set", "{", "topic", BCON_UTF8(link.chain.topic.c_str()), "partition",
                            BCON_INT32(link.chain.partition), "route", BCON_UTF8(link.route.c_str()), "seq",
                            BCON_INT64(link.seq), "end", BCON_INT64(link.end), "segment", BCON_INT64(link.segment),
                            "segment_events", BCON_INT64(link.segment_events), "segment_bytes",
                            BCON_INT64(link.segment_bytes), "}"));
    BsonPtr opts(BCON_NEW("upsert", BCON_BOOL(true)));
    bson_concat(opts.get(), wc.get());
    bson_error_t error;
    if (!mongoc_collection_update_one(coll.get(), filter.get(), update.get(), opts.get(), nullptr, &error)) {
      Status s = detail::ToStatus(error);
      if (!s.IsDuplicateKey()) return s;  // the hint is already at or past this link
    }
  }
  if (link.max_ms >= 0) {
    auto coll = impl_->Collection(lease, collection::kSegments);
    const std::string id = link.chain.Key() + "@" + std::to_string(link.segment);
    BsonPtr filter(BCON_NEW("_id", BCON_UTF8(id.c_str())));
    BsonPtr update(BCON_NEW("$max", "{", "max_ms", BCON_INT64(link.max_ms), "}"));
    bson_error_t error;
    if (!mongoc_collection_update_one(coll.get(), filter.get(), update.get(), wc.get(), nullptr, &error)) {
      return detail::ToStatus(error);
    }
  }
  return Status::Ok();
}

Status AuditStore::NoteSource(const std::string& source, const std::string& stream, const std::string& api_version) {
  auto lease = impl_->connection.Acquire();
  auto coll = impl_->Collection(lease, collection::kSources);
  const std::string id = source + " " + stream;
  const std::int64_t now = NowMs();
  BsonPtr filter(BCON_NEW("_id", BCON_UTF8(id.c_str())));
  BsonPtr update(BCON_NEW("$set", "{", "source", BCON_UTF8(source.c_str()), "stream", BCON_UTF8(stream.c_str()),
                          "api_version", BCON_UTF8(api_version.c_str()), "updated_at", BCON_DATE_TIME(now), "}",
                          "$setOnInsert", "{", "first_seen", BCON_DATE_TIME(now), "}"));
  BsonPtr opts(BCON_NEW("upsert", BCON_BOOL(true)));
  impl_->connection.AppendWriteConcern(opts.get());
  bson_error_t error;
  if (!mongoc_collection_update_one(coll.get(), filter.get(), update.get(), opts.get(), nullptr, &error)) {
    Status s = detail::ToStatus(error);
    if (!s.IsDuplicateKey()) return s;
  }
  return Status::Ok();
}

}  // namespace ces::mongo
