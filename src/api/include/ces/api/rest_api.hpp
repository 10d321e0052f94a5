#pragma once
// The REST endpoints of `api` over the PostgreSQL model (docs/api-rest.md): the Java-compatible
// /api/v1 lists and lookups, transactions, transfers by account, faults, signatures, steps, eras,
// stakes from bids and withdrawals, with page and cursor pagination.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "ces/query/pool.hpp"

namespace ces::http {
class AsyncServer;
}
namespace ces::metrics {
class Registry;
}
namespace ces::query {
class Engine;
}  // namespace ces::query

namespace ces::api {

struct RestApiOptions {
  std::string postgres;       // primary (libpq URI or key=value); queries go here without postgres_read
  std::string postgres_read;  // optional read replica(s), e.g. a multi-host URI with target_session_attrs=any
  std::size_t pool_size = 8;
  std::chrono::milliseconds pool_timeout{2000};  // longest wait for a pooled connection, then 503
  std::size_t default_page_size = 10;
  std::size_t max_page_size = 1000;              // a larger size is a 400
  std::chrono::milliseconds count_ttl{1000};     // page counts cached per distinct filter
};

class RestApi {
 public:
  // `pool`: the process's PostgreSQL pool (shared with the sidecar routes; outlives this object, closed
  // by its owner). Null: Start() creates one of its own from the options (PoolOptionsFor).
  RestApi(RestApiOptions options, metrics::Registry& registry, query::Pool* pool = nullptr);
  ~RestApi();
  RestApi(const RestApi&) = delete;
  RestApi& operator=(const RestApi&) = delete;

  // Registers the routes (no I/O). Call before server.Start().
  void Register(http::AsyncServer& server);
  // Creates the query engine (and the pool when none was given; connections open on first use).
  // Throws std::invalid_argument without a postgres URI.
  void Start();
  void Stop();
  // True when a pooled connection answers SELECT 1.
  bool Ready(std::string& reason) const;

  // The pool the routes query: the shared one, or after Start() their own (null before).
  query::Pool* pool() const { return pool_; }
  // The pool for these options: postgres_read if set, falling back to postgres while no replica answers
  // (else postgres), pool_size, pool_timeout.
  static query::PoolOptions PoolOptionsFor(const RestApiOptions& options);

 private:
  RestApiOptions options_;
  metrics::Registry& registry_;
  std::unique_ptr<query::Pool> owned_pool_;
  query::Pool* pool_ = nullptr;
  std::unique_ptr<query::Engine> engine_;
};

}  // namespace ces::api
