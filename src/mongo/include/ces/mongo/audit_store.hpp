#pragma once
// The audit store's repository in MongoDB (docs/audit.md has the schema and the reasons for it):
//
//   events            one document per event: identity, metadata, the verbatim payload (BinData) and a
//                     queryable BSON form of it; the payload of a > 15 MiB event lives in GridFS
//   log.<topic>.<partition>.<segment>
//                     the replay log: per Kafka partition a dense chain of "links", each covering a
//                     contiguous offset range and holding the events first stored from it
//   chains, segments, checkpoints, sources, settings, conflicts, payloads.files/.chunks (GridFS)
//
// Every method returns a Status/Result; none throws after construction. Thread-safe (a client pool).

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ces/mongo/status.hpp"

namespace ces::mongo {

enum class ServerKind { kMongoDb, kFerretDb };
std::string_view ToString(ServerKind kind);

// How FindStored asks for ids. kIn: one `$in` per 8 MiB of ids (MongoDB reads them from the `_id`
// index; FerretDB 1.24 reads the whole collection once per query). kPerId: one `find({_id})` per id,
// for a FerretDB whose plan of an `_id` equality uses an index (PostgreSQL backend with a GIN index on
// `_jsonb->'_id'`): milliseconds per id instead of a scan of `events`.
enum class IdLookup { kIn, kPerId };
std::string_view ToString(IdLookup lookup);

// Top-level keys extracted from a payload for filtering (see ces/audit/keys.hpp).
struct FilterKeys {
  std::optional<std::string> block_hash;
  std::optional<std::uint64_t> block_height;
  std::optional<std::string> transaction_hash;  // deploy hash or transaction hash
  std::optional<std::string> public_key;        // validator key: signer, proposer, faulty validator
  std::optional<std::string> account;           // initiator of a deploy/transaction (key or account-hash-...)
  bool operator==(const FilterKeys&) const = default;
};

// One event as stored, both in `events` and as an entry of a replay-log link.
struct EventRecord {
  std::string id;  // "<source> <stream> <event id>", or "<source> <stream> @<topic>/<partition>/<offset>"
  std::string source;
  std::string stream;
  std::optional<std::uint32_t> event_id;  // absent for ApiVersion
  std::string api_version;
  std::string type;
  std::string received_at;  // RFC 3339 UTC with milliseconds, as the producer wrote it
  std::int64_t received_ms = 0;
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::string sha256;  // hex of the payload
  std::int64_t size = 0;
  std::string payload;             // verbatim bytes; empty when payload_in_gridfs
  bool payload_in_gridfs = false;  // the payload is the GridFS file named by `id`
  FilterKeys keys;
  // "rpc": rebuilt from the node's JSON-RPC by backfill (Kafka header origin); empty: the node's own bytes.
  std::string origin;
  // Rebuilt events have no event id: "<type> <block hash> <subject>" (Kafka header subject) names them.
  std::string rebuilt_key;
};

// The identity `id` of a record: "<source> <stream> <event id>"; for an event rebuilt from the RPC
// "<source> <stream> rpc <type> <block hash> <subject>" (a second copy is the same event); for another
// record without an event id (ApiVersion), "<source> <stream> @<topic>/<partition>/<offset>".
std::string EventIdentity(const EventRecord& record);

// Payloads above this size go to GridFS (a document, payload included, must stay under 16 MiB).
inline constexpr std::size_t kGridFsThreshold = 15u * 1024u * 1024u;
// The largest BSON document the store writes (MongoDB's limit is 16 MiB).
inline constexpr std::size_t kMaxDocumentBytes = 16u * 1024u * 1024u - 16u * 1024u;

struct ChainId {
  std::string topic;
  std::int32_t partition = 0;
  std::string Key() const { return topic + "/" + std::to_string(partition); }
  bool operator<(const ChainId& o) const { return topic != o.topic ? topic < o.topic : partition < o.partition; }
  bool operator==(const ChainId& o) const = default;
};

// A link of a chain: the Kafka offset range [start, end) of one partition and the events that were
// first stored from it (genuine re-sends of an event stored earlier are not repeated).
struct Link {
  ChainId chain;
  std::string route;  // main, deploys or sigs (the topic without its prefix)
  std::int64_t seq = 0;
  std::int64_t start = 0;
  std::int64_t end = 0;
  std::int64_t segment = 0;
  std::int64_t segment_events = 0;  // events in the segment up to and including this link
  std::int64_t segment_bytes = 0;
  std::int64_t min_ms = 0;
  std::int64_t max_ms = 0;
  std::int64_t count = 0;
  std::int64_t bytes = 0;
  std::vector<EventRecord> entries;  // empty when read as a summary
};

// The last link of a chain as far as the store knows (seq -1: no link yet).
struct ChainHead {
  ChainId chain;
  std::string route;
  std::int64_t seq = -1;
  std::int64_t end = -1;
  std::int64_t segment = 0;
  std::int64_t segment_events = 0;
  std::int64_t segment_bytes = 0;
};

// Catalog entry of a segment collection. `sources`/`types` are written before any link goes into the
// segment, so they are a superset of what it holds; `max_ms` is written after (a hint).
struct SegmentInfo {
  ChainId chain;
  std::int64_t segment = 0;
  std::int64_t first_seq = 0;
  std::int64_t min_ms = 0;
  std::int64_t max_ms = -1;
  std::vector<std::string> sources;
  std::vector<std::string> types;
};

// Where the events of one (source, stream) with ids in [bucket << kCheckpointBits, ...) start: no such
// event is in a link before (chain, seq).
inline constexpr int kCheckpointBits = 10;
struct Checkpoint {
  std::string source;
  std::string stream;
  std::int64_t bucket = 0;
  ChainId chain;
  std::int64_t segment = 0;
  std::int64_t seq = 0;
  std::int64_t ms = 0;
};

// The replay log's segment sizes (0: unbounded, one collection per chain). Fixed for a database once
// the first writer chose them.
struct SegmentLimits {
  std::int64_t max_events = 0;
  std::int64_t max_bytes = 0;
  bool operator==(const SegmentLimits&) const = default;
};
// FerretDB 1.x answers every query by reading the whole collection, so the log is cut into small
// segment collections there; MongoDB reads links through the _id index, one collection per chain.
inline constexpr SegmentLimits kFerretDbSegmentLimits{1024, 4 * 1024 * 1024};

// Segment of the link that follows `head` (the first link of a chain goes to segment 0). A segment is
// closed once it holds max_events events or max_bytes bytes; the decision depends only on the previous
// link, so concurrent writers of one seq agree on its collection.
std::int64_t SegmentAfter(const ChainHead& head, const SegmentLimits& limits);

struct StoredIdentity {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::string sha256;
};

struct SourceInfo {
  std::string source;
  std::string stream;
  std::string api_version;
};

struct StoreOptions {
  std::string uri;
  std::string write_concern = "majority";  // "majority" or a number of members
  std::chrono::milliseconds write_timeout{60000};
  std::string app_name = "casper-event-store";
};

struct InsertOutcome {
  std::vector<std::size_t> duplicates;  // indices of records whose identity was already stored
  std::size_t data_omitted = 0;         // records stored without a queryable form (see data_error)
};

class AuditStore {
 public:
  // Throws std::invalid_argument for a malformed URI or write concern (no connection is made yet).
  explicit AuditStore(const StoreOptions& options);
  ~AuditStore();
  AuditStore(const AuditStore&) = delete;
  AuditStore& operator=(const AuditStore&) = delete;

  const std::string& database() const;
  const std::string& redacted_uri() const;

  Status Ping();
  // Detects the server kind and creates what the store needs (idempotent). `wanted` segment limits are
  // recorded if the database has none yet; `effective` returns the recorded ones.
  // nullopt: the default for the server (kFerretDbSegmentLimits on FerretDB, unbounded on MongoDB).
  Status EnsureSchema(const std::optional<SegmentLimits>& wanted, SegmentLimits& effective);
  // Detects the server kind and reads the recorded segment limits (readers).
  Status DetectServer();
  ServerKind server_kind() const;
  // The FindStored strategy for a lookup starting with `id`: kIn on MongoDB; on FerretDB kPerId when
  // the server's plan of find({_id: id}) in `events` (explain) uses an index. ForceIdLookup overrides it
  // (nullopt: back to the plan; for measurements).
  Result<IdLookup> PlanIdLookup(const std::string& id);
  void ForceIdLookup(std::optional<IdLookup> lookup);
  // The replay log's segment limits recorded in the database (valid after EnsureSchema/DetectServer).
  SegmentLimits segment_limits() const;

  // ---- writing ----
  // Unordered insert of `records` into `events`; duplicates (code 11000) are reported, not errors.
  Status InsertEvents(const std::vector<const EventRecord*>& records, InsertOutcome& outcome);
  // Kafka position and sha256 of already stored events.
  // `used` (optional): the strategy it took (PlanIdLookup).
  Status FindStored(const std::vector<std::string>& ids, std::map<std::string, StoredIdentity>& out,
                    IdLookup* used = nullptr);
  // Keeps an event whose identity is taken by a different payload (nothing is dropped silently).
  Status InsertConflict(const EventRecord& record, const std::string& stored_sha256);
  // Writes the GridFS file `file_id` unless a complete one exists; removes chunks of an interrupted upload.
  Status PutPayloadFile(const std::string& file_id, std::string_view payload);
  // The chain's last link: from the `chains` hint, then the links that follow it. Repairs the hint.
  Result<ChainHead> LoadChainHead(const ChainId& chain, const std::string& route);
  // Before inserting a link: registers its segment (catalog: first seq, min time, sources, types) and
  // the checkpoints it starts.
  Status PrepareLink(const Link& link, const std::vector<Checkpoint>& checkpoints);
  // Inserts the link. True if it was ours; false if another writer already holds this seq (then
  // `winner` is that link's summary).
  Result<bool> ClaimLink(const Link& link, Link& winner);
  // After a link: moves the chain's head hint forward and the segment's max time.
  Status PublishHead(const Link& link);
  Status NoteSource(const std::string& source, const std::string& stream, const std::string& api_version);

  // ---- reading ----
  Result<std::vector<ChainHead>> ListChains();
  Result<std::optional<SegmentInfo>> GetSegment(const ChainId& chain, std::int64_t segment);
  // The whole segment catalog (small: one document per segment).
  Result<std::vector<SegmentInfo>> ListSegments();
  // Links seq >= from_seq of one segment, in order; at most `limit` (0: all). Summaries only unless
  // `entries`.
  Result<std::vector<Link>> ReadLinks(const ChainId& chain, std::int64_t segment, std::int64_t from_seq,
                                      std::int64_t limit, bool entries);
  Result<std::optional<Checkpoint>> GetCheckpoint(const std::string& source, const std::string& stream,
                                                  std::int64_t bucket);
  // An event by identity, payload included (from GridFS when it lives there).
  Result<std::optional<EventRecord>> GetEvent(const std::string& id);
  Result<std::string> GetPayloadFile(const std::string& file_id);
  Result<std::vector<SourceInfo>> ListSources();
  // Number of documents in `events` (on FerretDB this reads the whole collection).
  Result<std::int64_t> CountEvents();

  // Name of a segment collection.
  static std::string SegmentCollection(const ChainId& chain, std::int64_t segment);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ces::mongo
