#pragma once
// A bounded pool of PostgreSQL connections for the query API (libpq underneath, kept out of this
// header). At most `size` connections exist; a caller waits at most `acquire_timeout` for one, then
// gets nothing (the API answers 503). Connections open lazily, run in UTC with ISO dates, and keep a
// per-connection cache of prepared statements keyed by their SQL text.
// With a fallback (the api: read replicas in `uri`, the primary as `fallback_uri`), a connection that
// cannot be opened on `uri` is opened on the fallback; `uri` is tried again fallback_retry after it
// last failed, and connections on the fallback move back to it once they are that old.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ces/common/status.hpp"

namespace ces::metrics {
class Registry;
}

namespace ces::query {

struct PoolOptions {
  std::string uri;  // libpq URI or key=value string (a multi-host URI works)
  std::size_t size = 8;
  std::chrono::milliseconds acquire_timeout{2000};
  int connect_timeout_s = 5;
  int statement_timeout_ms = 10000;  // a runaway query is cancelled by the server
  std::string fallback_uri;          // where connections go while `uri` does not answer; empty: nowhere
  std::chrono::milliseconds fallback_retry{30000};
};

// The rows of one statement, values as PostgreSQL text.
class ResultSet {
 public:
  ResultSet();
  ~ResultSet();
  ResultSet(ResultSet&&) noexcept;
  ResultSet& operator=(ResultSet&&) noexcept;
  int Rows() const;
  int Columns() const;
  bool IsNull(int row, int col) const;
  std::string_view Value(int row, int col) const;

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What a statement's failure means.
struct QueryError {
  bool failed = false;
  common::ErrorKind kind = common::ErrorKind::kInternal;  // common::ClassifySqlState of the SQLSTATE
  std::string message;
  explicit operator bool() const { return failed; }
};

// The error vocabulary at the query driver's boundary: kBadData (class 22: the parameters were
// refused) stays, every other failure is the database being unavailable to the API.
common::Status ToStatus(const QueryError& error);

class Pool;

// A connection borrowed from the pool; returned on destruction.
class Lease {
 public:
  Lease(Lease&&) noexcept;
  ~Lease();
  // Runs `sql` as a prepared statement (prepared once per connection) with text parameters.
  QueryError Execute(const std::string& sql, const std::vector<std::string>& params, ResultSet& out);

 private:
  friend class Pool;
  struct Slot;
  Lease(Pool* pool, Slot* slot);
  Pool* pool_;
  Slot* slot_;
};

class Pool {
 public:
  explicit Pool(PoolOptions options, metrics::Registry* registry = nullptr);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // A connection, or nullopt when none became free within acquire_timeout or none could be opened
  // (`error` says which).
  std::optional<Lease> Acquire(std::string* error = nullptr);
  // Closes idle connections; leased ones close when returned.
  void Close();
  std::size_t Open() const;
  std::size_t InUse() const;

 private:
  friend class Lease;
  void Release(Lease::Slot* slot, bool broken);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ces::query
