#pragma once
// The query API's endpoints over the PostgreSQL model (docs/schema.md, docs/api-rest.md): parameter
// validation, keyset and page queries (prepared statements), and JSON written straight into a string.
// Transport-free: the HTTP layer (services/api RestApi) maps each route pattern to Handle().

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ces/query/pool.hpp"

namespace ces::metrics {
class Registry;
}

namespace ces::query {

struct Args {
  const std::map<std::string, std::string>* path = nullptr;          // path parameters of the route
  const std::vector<std::pair<std::string, std::string>>* query = nullptr;  // decoded query parameters
  const std::string* Path(std::string_view name) const;
  const std::string* Query(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string body;           // application/json
  std::string etag;           // set on cacheable resources (quoted)
  std::string cache_control;  // set with etag
  std::string pending_eras;   // totals: the JSON list of eras not yet in the sum (header X-Pending-Eras)
};

struct EngineOptions {
  std::size_t default_page_size = 10;
  std::size_t max_page_size = 1000;          // larger → 400 (parameter "size")
  std::chrono::milliseconds count_ttl{1000};  // itemCount/pageCount cached per distinct filter
  std::size_t block_cache_entries = 50000;   // blocks by hash (immutable) kept as JSON
};

class Engine {
 public:
  Engine(Pool& pool, EngineOptions options, metrics::Registry* registry = nullptr);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Serves one GET of `route` (one of Routes()). Never throws for bad input: 400/404 values;
  // PostgreSQL unavailable or failing → 503.
  Response Handle(std::string_view route, const Args& args);

  // Every route pattern this engine serves ("/api/v1/blocks/{hash}", …).
  static const std::vector<std::string>& Routes();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ces::query
