#pragma once
// Private to ces::query: the SQL side of the engine. Runs statements on the pool (failures become 503,
// or 400 for values PostgreSQL refuses), caches counts and immutable blocks, and writes lists and
// objects as JSON straight from the result rows. Parameters arrive validated (params.hpp).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ces/query/engine.hpp"
#include "ces/query/pool.hpp"
#include "params.hpp"
#include "specs.hpp"

namespace ces::metrics {
class Counter;
}

namespace ces::query::detail {

// WHERE conditions with their $n parameters.
struct Filter {
  std::vector<std::string> where;
  std::vector<std::string> params;
  std::string Param(std::string value) {
    params.push_back(std::move(value));
    return "$" + std::to_string(params.size());
  }
  std::string Where() const {
    std::string out;
    for (std::size_t i = 0; i < where.size(); ++i) out += (i ? " AND " : " WHERE ") + where[i];
    return out;
  }
};

Response Error(int status, std::string_view message, std::string_view parameter = {});
inline Response BadRequest(const ParamError& error) { return Error(400, error.message, error.parameter); }

// One row as a JSON object of `cols`.
void AppendObject(std::string& out, const std::vector<Col>& cols, const ResultSet& rs, int row);
// "a.x, b.y, …" of `cols`.
std::string SelectList(const std::vector<Col>& cols);
// A strong ETag of `data` (quoted FNV-1a 64).
std::string Fnv(std::string_view data);

class Runner {
 public:
  Runner(Pool& pool, EngineOptions options) : pool_(pool), options_(options) {}

  // Counters of count(*) queries run and of blocks served from memory (either may be null).
  void SetMetrics(metrics::Counter* count_queries, metrics::Counter* block_cache_hits) {
    count_queries_ = count_queries;
    block_cache_hits_ = block_cache_hits;
  }

  // Runs one statement on a pooled connection; a failure becomes the response (`cursor_param`: the
  // parameter a refused value is blamed on).
  bool Run(const std::string& sql, const std::vector<std::string>& params, ResultSet& rs, Response& error,
           const char* cursor_param = nullptr);
  // A page of `spec` under `filter`: validates the paging parameters of `args` (CheckList), then
  // queries the page and, without a cursor, the (cached) item count.
  Response List(const ListSpec& spec, Filter filter, const Args& args);
  // The first row of `from` under `filter` as an object of `cols`; 404 "<what> not found" when none.
  Response Object(const std::vector<Col>& cols, const std::string& from, const Filter& filter, const std::string& what);

  // Blocks by hash are immutable: their JSON is kept in memory (up to block_cache_entries).
  std::optional<std::string> CachedBlock(const std::string& hash);
  void CacheBlock(const std::string& hash, const std::string& body);

 private:
  // count(*) for a filter, cached for max(count_ttl, kCountCostFactor x the count's own duration); while
  // one request computes it, the others use the previous value or, before there is one, wait for it.
  bool Count(const std::string& sql, const std::vector<std::string>& params, std::int64_t& out, Response& error);

  static constexpr int kCountCostFactor = 50;
  struct CountEntry {
    std::int64_t value = 0;
    bool known = false;  // value holds a count
    std::chrono::steady_clock::time_point expires;
    bool refreshing = false;
  };

  Pool& pool_;
  const EngineOptions options_;
  std::mutex count_mutex_;
  std::condition_variable count_done_;
  std::unordered_map<std::string, CountEntry> counts_;
  std::shared_mutex block_mutex_;
  std::unordered_map<std::string, std::string> block_cache_;
  metrics::Counter* count_queries_ = nullptr;
  metrics::Counter* block_cache_hits_ = nullptr;
};

}  // namespace ces::query::detail
