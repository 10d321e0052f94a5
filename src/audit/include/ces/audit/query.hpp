#pragma once
// Replay API parameters: parsing and validation (400 naming the parameter), matching an event, and the
// opaque cursor of the JSON endpoint. Pure: no I/O.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ces/mongo/audit_store.hpp"

namespace ces::audit {

// Where the next event of a chain is: entry `index` of link `seq` (in segment `segment`).
struct ChainPosition {
  mongo::ChainId chain;
  std::int64_t seq = 0;
  std::int64_t segment = 0;
  std::int64_t index = 0;
  bool operator==(const ChainPosition&) const = default;
};
using Positions = std::vector<ChainPosition>;

enum class QueryKind { kStream, kList };

struct ReplayQuery {
  std::vector<std::string> routes;   // main/deploys/sigs from the path; empty: all
  std::vector<std::string> sources;  // empty: all
  std::vector<std::string> streams;  // node endpoints (events, main, ...); not a URL parameter; empty: all
  std::vector<std::string> types;    // empty: all
  // The chain read as a 1.x endpoint: only events whose type a node sends on one of these routes
  // (main/deploys/sigs). Not a URL parameter; empty: all.
  std::vector<std::string> type_routes;
  std::optional<std::int64_t> from_ms;  // received_at >= from_time
  std::optional<std::int64_t> to_ms;    // received_at <= to_time
  std::optional<std::string> block_hash;
  std::optional<std::uint64_t> block_height;
  std::optional<std::string> transaction_hash;  // deploy_hash or transaction_hash
  std::optional<std::string> public_key;
  std::optional<std::string> account;
  std::optional<std::uint32_t> start_from;  // with exactly one source: event_id >= start_from
  std::optional<std::string> origin;        // "node": the node's own bytes; "rpc": rebuilt by backfill
  // Streams: end after exactly this many events (ApiVersion messages and keep-alives do not count).
  std::optional<std::uint64_t> max_events;
  // Lists: page size and where to continue.
  std::size_t limit = 100;
  std::optional<std::string> cursor;

  bool Matches(const mongo::EventRecord& event) const;
  bool RouteMatches(const std::string& route) const;
  // Identifies the filters (not limit/cursor/max_events): a cursor only continues the same query.
  std::string Fingerprint() const;
};

struct QueryError {
  std::string parameter;
  std::string message;
};

struct QueryLimits {
  std::size_t default_page_size = 100;
  std::size_t max_page_size = 1000;
};

struct ParsedQuery {
  std::optional<ReplayQuery> query;
  QueryError error;  // when !query
};

// `params` as decoded from the query string, in order (repeatable keys repeat). `routes` comes from the
// path. Unknown parameters, malformed values and parameters given twice (other than source and type)
// are errors naming the parameter.
ParsedQuery ParseReplayQuery(const std::vector<std::pair<std::string, std::string>>& params, QueryKind kind,
                             std::vector<std::string> routes, const QueryLimits& limits = {});

// Cursor of the JSON endpoint: the chain positions after the last returned event, bound to the query's
// fingerprint. Base64url text, opaque to clients.
std::string EncodeCursor(const Positions& positions, const std::string& fingerprint);
// nullopt (with `error`) for a cursor that is malformed or was made for other filters.
std::optional<Positions> DecodeCursor(const std::string& cursor, const std::string& fingerprint, std::string& error);

}  // namespace ces::audit
