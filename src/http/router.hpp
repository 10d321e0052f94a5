#pragma once
// Private to ces::http: the async server's routes. Patterns are paths with "{name}" segments; a path
// matches a route when it has as many segments and every literal one is equal (parameters match any
// non-empty segment); among the routes that match, the most exact wins (literal segments earlier in
// the path beat parameters). Matching works on the raw path; parameters are percent-decoded after.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "ces/http/async_server.hpp"

namespace ces::metrics {
class Histogram;
}

namespace ces::http::detail {

inline constexpr int kMaxSegments = 64;

struct RouteEntry {
  std::string method;
  std::string pattern;
  std::vector<std::string> segments;
  std::vector<bool> is_param;
  std::uint64_t param_mask = 0;  // bit (63 - i) set when segment i is a parameter: smaller = more exact
  AsyncHandler handler;
  RouteKind kind = RouteKind::kPooled;
  metrics::Histogram* latency = nullptr;
};

class Router {
 public:
  // Adds a route. Throws std::invalid_argument for a pattern that does not start with '/', has more
  // than kMaxSegments segments, or is already routed for `method`.
  void Add(std::string method, std::string pattern, AsyncHandler handler, RouteKind kind);

  // The best route for (raw path, method): its index, or -1. When no route of `method` matches but
  // some route of another method does, and `allow` is given: `allow` lists every method routed for
  // the path ("GET, HEAD, …, OPTIONS") and `any_route` is the best of those routes (for a 405).
  // `any_route` is also set to the index returned when one matches.
  int Match(std::string_view raw_path, std::string_view method, int* any_route, std::string* allow) const;
  // The parameters of route `index` in `raw_path` (which it matches), percent-decoded, into `params`.
  void FillParams(int index, std::string_view raw_path, std::map<std::string, std::string>& params) const;

  const RouteEntry& operator[](int index) const { return entries_[static_cast<std::size_t>(index)]; }
  std::vector<RouteEntry>& Entries() { return entries_; }
  const std::vector<RouteEntry>& Entries() const { return entries_; }

 private:
  std::vector<RouteEntry> entries_;
};

}  // namespace ces::http::detail
