// AuditStore: the reading side (replay log, events by identity, GridFS payloads, sources).
#include "ces/common/log.hpp"
#include "store_impl.hpp"

namespace ces::mongo {

using detail::BsonPtr;
using detail::NewBson;

namespace {

std::vector<std::string> GetStrings(const bson_t* doc, const char* key) {
  std::vector<std::string> out;
  bson_iter_t it;
  bson_iter_t list;
  if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &list)) {
    while (bson_iter_next(&list)) {
      if (BSON_ITER_HOLDS_UTF8(&list)) out.emplace_back(bson_iter_utf8(&list, nullptr));
    }
  }
  return out;
}

}  // namespace

Result<std::vector<ChainHead>> AuditStore::ListChains() {
  if (!impl_->layout_known) {
    // Links exist only after a writer recorded the layout: read it before reporting any chain.
    bool found = false;
    SegmentLimits limits;
    Status status = impl_->ReadLimits(found, limits);
    if (!status.ok) return Result<std::vector<ChainHead>>::Fail(status);
    if (!found) return Result<std::vector<ChainHead>>::Ok({});
    std::lock_guard lock(impl_->limits_mutex);
    impl_->limits = limits;
    impl_->layout_known = true;
  }
  std::vector<ChainHead> heads;
  BsonPtr filter = NewBson();
  Status status = impl_->Find(collection::kChains, filter.get(), nullptr, [&](const bson_t* doc) {
    ChainHead head;
    head.chain.topic = detail::GetString(doc, "topic");
    head.chain.partition = static_cast<std::int32_t>(detail::GetInt64(doc, "partition", 0));
    head.route = detail::GetString(doc, "route");
    head.seq = detail::GetInt64(doc, "seq", -1);
    head.end = detail::GetInt64(doc, "end", -1);
    head.segment = detail::GetInt64(doc, "segment", 0);
    head.segment_events = detail::GetInt64(doc, "segment_events", 0);
    head.segment_bytes = detail::GetInt64(doc, "segment_bytes", 0);
    if (!head.chain.topic.empty()) heads.push_back(std::move(head));
  });
  if (!status.ok) return Result<std::vector<ChainHead>>::Fail(status);
  std::sort(heads.begin(), heads.end(), [](const ChainHead& a, const ChainHead& b) { return a.chain < b.chain; });
  return Result<std::vector<ChainHead>>::Ok(std::move(heads));
}

namespace {

SegmentInfo ParseSegment(const bson_t* doc) {
  SegmentInfo info;
  info.chain.topic = detail::GetString(doc, "topic");
  info.chain.partition = static_cast<std::int32_t>(detail::GetInt64(doc, "partition", 0));
  info.segment = detail::GetInt64(doc, "segment", 0);
  info.first_seq = detail::GetInt64(doc, "first_seq", 0);
  info.min_ms = detail::GetInt64(doc, "min_ms", 0);
  info.max_ms = detail::GetInt64(doc, "max_ms", -1);
  info.sources = GetStrings(doc, "sources");
  info.types = GetStrings(doc, "types");
  return info;
}

}  // namespace

Result<std::optional<SegmentInfo>> AuditStore::GetSegment(const ChainId& chain, std::int64_t segment) {
  std::optional<SegmentInfo> out;
  const std::string id = chain.Key() + "@" + std::to_string(segment);
  BsonPtr filter(BCON_NEW("_id", BCON_UTF8(id.c_str())));
  Status status = impl_->Find(collection::kSegments, filter.get(), nullptr, [&](const bson_t* doc) {
    out = ParseSegment(doc);
    out->chain = chain;
    out->segment = segment;
  });
  if (!status.ok) return Result<std::optional<SegmentInfo>>::Fail(status);
  return Result<std::optional<SegmentInfo>>::Ok(std::move(out));
}

Result<std::vector<SegmentInfo>> AuditStore::ListSegments() {
  std::vector<SegmentInfo> out;
  BsonPtr filter = NewBson();
  Status status = impl_->Find(collection::kSegments, filter.get(), nullptr, [&](const bson_t* doc) {
    SegmentInfo info = ParseSegment(doc);
    if (!info.chain.topic.empty()) out.push_back(std::move(info));
  });
  if (!status.ok) return Result<std::vector<SegmentInfo>>::Fail(status);
  return Result<std::vector<SegmentInfo>>::Ok(std::move(out));
}

Result<std::vector<Link>> AuditStore::ReadLinks(const ChainId& chain, std::int64_t segment, std::int64_t from_seq,
                                                std::int64_t limit, bool entries) {
  std::vector<Link> links;
  BsonPtr filter(BCON_NEW("_id", "{", "$gte", BCON_INT64(from_seq), "}"));
  BsonPtr opts(BCON_NEW("sort", "{", "_id", BCON_INT32(1), "}"));
  if (limit > 0) BSON_APPEND_INT64(opts.get(), "limit", limit);
  if (!entries) {
    BsonPtr projection(BCON_NEW("entries", BCON_INT32(0)));
    BSON_APPEND_DOCUMENT(opts.get(), "projection", projection.get());
  }
  std::string error;
  Status status = impl_->Find(SegmentCollection(chain, segment), filter.get(), opts.get(), [&](const bson_t* doc) {
    Link link;
    if (!detail::ParseLink(doc, chain, link, error)) return;
    links.push_back(std::move(link));
  });
  if (!status.ok) return Result<std::vector<Link>>::Fail(status);
  if (!error.empty()) return Result<std::vector<Link>>::Fail(Status::Error(-1, error));
  return Result<std::vector<Link>>::Ok(std::move(links));
}

Result<std::optional<Checkpoint>> AuditStore::GetCheckpoint(const std::string& source, const std::string& stream,
                                                            std::int64_t bucket) {
  std::optional<Checkpoint> out;
  const std::string id = source + " " + stream + " " + std::to_string(bucket);
  BsonPtr filter(BCON_NEW("_id", BCON_UTF8(id.c_str())));
  Status status = impl_->Find(collection::kCheckpoints, filter.get(), nullptr, [&](const bson_t* doc) {
    Checkpoint c;
    c.source = source;
    c.stream = stream;
    c.bucket = bucket;
    c.chain.topic = detail::GetString(doc, "topic");
    c.chain.partition = static_cast<std::int32_t>(detail::GetInt64(doc, "partition", 0));
    c.segment = detail::GetInt64(doc, "segment", 0);
    c.seq = detail::GetInt64(doc, "seq", 0);
    c.ms = detail::GetInt64(doc, "ms", 0);
    out = std::move(c);
  });
  if (!status.ok) return Result<std::optional<Checkpoint>>::Fail(status);
  return Result<std::optional<Checkpoint>>::Ok(std::move(out));
}

Result<std::optional<EventRecord>> AuditStore::GetEvent(const std::string& id) {
  std::optional<EventRecord> out;
  BsonPtr filter(BCON_NEW("_id", BCON_UTF8(id.c_str())));
  BsonPtr opts(BCON_NEW("projection", "{", "data", BCON_INT32(0), "}"));
  Status status = impl_->Find(collection::kEvents, filter.get(), opts.get(), [&](const bson_t* doc) {
    EventRecord r;
    r.id = id;
    r.source = detail::GetString(doc, "source");
    r.stream = detail::GetString(doc, "stream");
    if (detail::Has(doc, "event_id")) r.event_id = static_cast<std::uint32_t>(detail::GetInt64(doc, "event_id", 0));
    r.api_version = detail::GetString(doc, "api_version");
    r.type = detail::GetString(doc, "type");
    r.origin = detail::GetString(doc, "origin");
    r.rebuilt_key = detail::GetString(doc, "rebuilt_key");
    bson_iter_t it;
    if (bson_iter_init_find(&it, doc, "received_at") && BSON_ITER_HOLDS_DATE_TIME(&it)) {
      r.received_ms = bson_iter_date_time(&it);
    }
    detail::ReadKafkaPosition(doc, r.topic, r.partition, r.offset);
    r.sha256 = detail::GetString(doc, "sha256");
    r.size = detail::GetInt64(doc, "size", 0);
    if (bson_iter_init_find(&it, doc, "payload") && BSON_ITER_HOLDS_BINARY(&it)) {
      bson_subtype_t subtype;
      std::uint32_t len = 0;
      const uint8_t* data = nullptr;
      bson_iter_binary(&it, &subtype, &len, &data);
      r.payload.assign(reinterpret_cast<const char*>(data), len);
    } else if (detail::Has(doc, "payload_file")) {
      r.payload_in_gridfs = true;
    }
    detail::ReadFilterKeys(doc, r.keys, false);
    out = std::move(r);
  });
  if (!status.ok) return Result<std::optional<EventRecord>>::Fail(status);
  if (out && out->payload_in_gridfs) {
    auto payload = GetPayloadFile(out->id);
    if (!payload.ok()) return Result<std::optional<EventRecord>>::Fail(payload.status);
    out->payload = std::move(payload.value);
  }
  return Result<std::optional<EventRecord>>::Ok(std::move(out));
}

Result<std::string> AuditStore::GetPayloadFile(const std::string& file_id) {
  auto lease = impl_->connection.Acquire();
  bson_error_t error;
  detail::BucketPtr bucket = impl_->connection.OpenBucket(lease, collection::kPayloadBucket, false, &error);
  if (!bucket) return Result<std::string>::Fail(detail::ToStatus(error));
  const bson_value_t id = detail::Utf8Value(file_id);
  detail::StreamPtr stream(mongoc_gridfs_bucket_open_download_stream(bucket.get(), &id, &error));
  if (!stream) return Result<std::string>::Fail(detail::ToStatus(error));
  std::string out;
  std::vector<char> buffer(1 << 20);
  while (true) {
    ssize_t n = mongoc_stream_read(stream.get(), buffer.data(), buffer.size(), 0, -1);
    if (n < 0) {
      mongoc_gridfs_bucket_stream_error(stream.get(), &error);
      return Result<std::string>::Fail(detail::ToStatus(error));
    }
    if (n == 0) break;
    out.append(buffer.data(), static_cast<std::size_t>(n));
  }
  return Result<std::string>::Ok(std::move(out));
}

Result<std::vector<SourceInfo>> AuditStore::ListSources() {
  std::vector<SourceInfo> out;
  BsonPtr filter = NewBson();
  Status status = impl_->Find(collection::kSources, filter.get(), nullptr, [&](const bson_t* doc) {
    out.push_back({detail::GetString(doc, "source"), detail::GetString(doc, "stream"),
                   detail::GetString(doc, "api_version")});
  });
  if (!status.ok) return Result<std::vector<SourceInfo>>::Fail(status);
  std::sort(out.begin(), out.end(), [](const SourceInfo& a, const SourceInfo& b) {
    return a.source != b.source ? a.source < b.source : a.stream < b.stream;
  });
  return Result<std::vector<SourceInfo>>::Ok(std::move(out));
}

Result<std::int64_t> AuditStore::CountEvents() {
  auto lease = impl_->connection.Acquire();
  auto coll = impl_->Collection(lease, collection::kEvents);
  BsonPtr filter = NewBson();
  bson_error_t error;
  const std::int64_t n = mongoc_collection_count_documents(coll.get(), filter.get(), nullptr, nullptr, nullptr, &error);
  if (n < 0) return Result<std::int64_t>::Fail(detail::ToStatus(error));
  return Result<std::int64_t>::Ok(n);
}

}  // namespace ces::mongo
