#include "runner.hpp"

#include <algorithm>

#include "ces/common/json.hpp"
#include "ces/common/metrics.hpp"
#include "ces/common/status.hpp"
#include "ces/query/values.hpp"

namespace ces::query::detail {
namespace {

Response Unavailable(std::string_view message) {
  return Error(common::HttpStatus(common::ErrorKind::kUnavailable), std::string("database unavailable: ") + std::string(message));
}

void AppendValue(std::string& out, const ResultSet& rs, int row, int col, Kind kind) {
  if (rs.IsNull(row, col)) {
    out += "null";
    return;
  }
  const std::string_view v = rs.Value(row, col);
  switch (kind) {
    case Kind::kText:
    case Kind::kNum: json::AppendString(out, v); break;
    case Kind::kNumber: AppendJsonNumber(out, v); break;
    case Kind::kInt:
    case Kind::kRaw: out.append(v); break;
    case Kind::kTime: AppendJsonTime(out, v); break;
    case Kind::kJavaTime: AppendJavaTime(out, v); break;
    case Kind::kBool: out += (v == "t" ? "true" : "false"); break;
  }
}

// from_time / to_time on the list's time column.
void AddTimeRange(const ListSpec& spec, const ListParams& list, Filter& filter) {
  if (list.from_time) {
    filter.where.push_back(std::string(spec.time_col) + " >= " + filter.Param(*list.from_time) + "::timestamptz");
  }
  if (list.to_time) {
    filter.where.push_back(std::string(spec.time_col) + " < " + filter.Param(*list.to_time) + "::timestamptz");
  }
}

// after: the rows past the cursor's key in the list's direction.
void AddCursor(const ListSpec& spec, const ListParams& list, Filter& filter) {
  std::string lhs = "(", rhs = "(";
  for (std::size_t i = 0; i < spec.key.size(); ++i) {
    const std::string cast = spec.key[i].cast;
    lhs += (i ? ", " : "") + std::string(spec.key[i].sql);
    rhs += (i ? ", " : "") + filter.Param(list.cursor[i]) + "::" + cast;
  }
  filter.where.push_back(lhs + ") " + (list.direction == "DESC" ? "<" : ">") + " " + rhs + ")");
}

// One more row than the page holds (whether there is a next page), the key columns after the list's.
std::string ListSql(const ListSpec& spec, const ListParams& list, const Filter& filter) {
  std::string sql = "SELECT " + SelectList(spec.cols);
  for (const auto& k : spec.key) sql += std::string(", ") + k.sql;
  sql += std::string(" FROM ") + spec.from + filter.Where() + " ORDER BY ";
  if (!list.KeysetOrder()) sql += std::string(list.order->sql) + " " + list.direction + ", ";
  for (std::size_t i = 0; i < spec.key.size(); ++i) {
    sql += (i ? ", " : "") + std::string(spec.key[i].sql) + " " + list.direction;
  }
  sql += " LIMIT " + std::to_string(list.size + 1);
  if (!list.after && list.page > 1) {
    sql += " OFFSET " + std::to_string(static_cast<std::int64_t>(list.size) * (list.page - 1));
  }
  return sql;
}

// {"data":[…], "pageCount", "itemCount", "pageNumber" (not after a cursor), "next": cursor or null}.
std::string PageBody(const ListSpec& spec, const ListParams& list, const ResultSet& rs, std::int64_t item_count) {
  const int rows = std::min<int>(rs.Rows(), static_cast<int>(list.size));
  std::string body;
  body.reserve(256 + static_cast<std::size_t>(rows) * 512);
  body += "{\"data\":[";
  for (int r = 0; r < rows; ++r) {
    if (r) body.push_back(',');
    AppendObject(body, spec.cols, rs, r);
  }
  body += "],";
  if (!list.after) {
    const auto size = static_cast<std::int64_t>(list.size);
    const std::int64_t page_count = (item_count + size - 1) / size;
    body += "\"pageCount\":" + std::to_string(page_count) + ",\"itemCount\":" + std::to_string(item_count) +
            ",\"pageNumber\":" + std::to_string(list.page) + ",";
  }
  body += "\"next\":";
  if (list.KeysetOrder() && rs.Rows() > static_cast<int>(list.size) && rows > 0) {
    std::string cursor(1, list.direction == "ASC" ? 'a' : 'd');
    const int first_key = static_cast<int>(spec.cols.size());
    for (std::size_t i = 0; i < spec.key.size(); ++i) {
      cursor.push_back('\x1f');
      cursor.append(rs.Value(rows - 1, first_key + static_cast<int>(i)));
    }
    json::AppendString(body, Base64UrlEncode(cursor));
  } else {
    body += "null";
  }
  body += "}";
  return body;
}

}  // namespace

Response Error(int status, std::string_view message, std::string_view parameter) {
  return Response{status, common::ErrorJson(status, message, parameter), {}, {}, {}};
}

void AppendObject(std::string& out, const std::vector<Col>& cols, const ResultSet& rs, int row) {
  out.push_back('{');
  for (std::size_t c = 0; c < cols.size(); ++c) {
    if (c) out.push_back(',');
    out.push_back('"');
    out += cols[c].json;
    out += "\":";
    AppendValue(out, rs, row, static_cast<int>(c), cols[c].kind);
  }
  out.push_back('}');
}

std::string SelectList(const std::vector<Col>& cols) {
  std::string out;
  for (std::size_t i = 0; i < cols.size(); ++i) {
    if (i) out += ", ";
    out += cols[i].sql;
  }
  return out;
}

std::string Fnv(std::string_view data) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (int i = 60; i >= 0; i -= 4) out.push_back(kHex[(h >> i) & 15]);
  out.push_back('"');
  return out;
}

bool Runner::Run(const std::string& sql, const std::vector<std::string>& params, ResultSet& rs, Response& error,
                 const char* cursor_param) {
  std::string why;
  auto lease = pool_.Acquire(&why);
  if (!lease) {
    error = Unavailable(why);
    return false;
  }
  if (QueryError e = lease->Execute(sql, params, rs)) {
    if (ToStatus(e).kind == common::ErrorKind::kBadData) {
      error = Error(common::HttpStatus(common::ErrorKind::kBadData), "invalid value: " + e.message,
                    cursor_param ? cursor_param : "");
    } else {
      error = Unavailable(e.message);
    }
    return false;
  }
  return true;
}

bool Runner::Count(const std::string& sql, const std::vector<std::string>& params, std::int64_t& out,
                   Response& error) {
  using Clock = std::chrono::steady_clock;
  std::string key = sql;
  for (const auto& p : params) {
    key.push_back('\x1f');
    key += p;
  }
  {
    std::unique_lock lock(count_mutex_);
    // Before the first count of a filter, the requests that arrive while it runs wait for it (the
    // statement timeout bounds it) rather than each running their own; if it fails, one of them counts.
    for (;;) {
      auto& entry = counts_[key];
      if (entry.known && (entry.expires > Clock::now() || entry.refreshing)) {
        out = entry.value;
        return true;
      }
      if (!entry.refreshing) {
        entry.refreshing = true;
        break;
      }
      count_done_.wait(lock);
    }
  }
  ResultSet rs;
  if (count_queries_) count_queries_->Inc();
  const auto started = Clock::now();
  const bool ok = Run(sql, params, rs, error);
  const auto finished = Clock::now();
  std::lock_guard lock(count_mutex_);
  if (counts_.size() > 100000) counts_.clear();
  auto& entry = counts_[key];
  entry.refreshing = false;
  count_done_.notify_all();
  if (!ok) return false;
  entry.value = std::stoll(std::string(rs.Value(0, 0)));
  entry.known = true;
  // A count of a large table is a scan: the cache holds it long enough that counting takes at most
  // 1/kCountCostFactor of the time, whatever the request rate.
  entry.expires = finished + std::max<Clock::duration>(options_.count_ttl, kCountCostFactor * (finished - started));
  out = entry.value;
  return true;
}

Response Runner::List(const ListSpec& spec, Filter filter, const Args& args) {
  ListParams list;
  if (auto invalid = CheckList(spec, args, options_, list)) return BadRequest(*invalid);
  AddTimeRange(spec, list, filter);
  const std::string count_where = filter.Where();
  const std::vector<std::string> count_params = filter.params;
  if (list.after) AddCursor(spec, list, filter);

  Response error;
  ResultSet rs;
  if (!Run(ListSql(spec, list, filter), filter.params, rs, error, list.after ? "after" : nullptr)) return error;
  std::int64_t item_count = 0;
  if (!list.after &&
      !Count(std::string("SELECT count(*) FROM ") + spec.from + count_where, count_params, item_count, error)) {
    return error;
  }
  Response out;
  out.body = PageBody(spec, list, rs, item_count);
  return out;
}

Response Runner::Object(const std::vector<Col>& cols, const std::string& from, const Filter& filter,
                        const std::string& what) {
  const std::string sql = "SELECT " + SelectList(cols) + " FROM " + from + filter.Where() + " LIMIT 1";
  Response error;
  ResultSet rs;
  if (!Run(sql, filter.params, rs, error)) return error;
  if (rs.Rows() == 0) return Error(common::HttpStatus(common::ErrorKind::kNotFound), what + " not found");
  Response out;
  AppendObject(out.body, cols, rs, 0);
  return out;
}

std::optional<std::string> Runner::CachedBlock(const std::string& hash) {
  std::shared_lock lock(block_mutex_);
  auto it = block_cache_.find(hash);
  if (it == block_cache_.end()) return std::nullopt;
  if (block_cache_hits_) block_cache_hits_->Inc();
  return it->second;
}

void Runner::CacheBlock(const std::string& hash, const std::string& body) {
  std::unique_lock lock(block_mutex_);
  if (block_cache_.size() >= options_.block_cache_entries) block_cache_.clear();
  block_cache_.emplace(hash, body);
}

}  // namespace ces::query::detail
