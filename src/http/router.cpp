#include "router.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <utility>

#include "ces/http/server.hpp"

namespace ces::http::detail {
namespace {

// The segments of a raw path ("/a/b" -> a, b); false when it does not start with '/' or has more
// than kMaxSegments.
bool SplitPath(std::string_view raw_path, std::array<std::string_view, kMaxSegments>& segments, std::size_t& count) {
  count = 0;
  if (raw_path.empty() || raw_path[0] != '/') return false;
  std::size_t start = 1;
  while (true) {
    if (count == segments.size()) return false;
    std::size_t slash = raw_path.find('/', start);
    if (slash == std::string_view::npos) {
      segments[count++] = raw_path.substr(start);
      return true;
    }
    segments[count++] = raw_path.substr(start, slash - start);
    start = slash + 1;
  }
}

bool Matches(const RouteEntry& route, const std::array<std::string_view, kMaxSegments>& segments, std::size_t count) {
  if (route.segments.size() != count) return false;
  bool match = true;
  for (std::size_t i = 0; i < count && match; ++i) {
    match = route.is_param[i] ? !segments[i].empty() : segments[i] == route.segments[i];
  }
  return match;
}

}  // namespace

void Router::Add(std::string method, std::string pattern, AsyncHandler handler, RouteKind kind) {
  if (pattern.empty() || pattern[0] != '/') throw std::invalid_argument("route pattern must start with '/': " + pattern);
  RouteEntry entry;
  entry.method = std::move(method);
  entry.pattern = pattern;
  entry.handler = std::move(handler);
  entry.kind = kind;
  std::size_t start = 1;
  while (true) {
    std::size_t slash = pattern.find('/', start);
    std::string segment = pattern.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    bool param = segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
    if (param) segment = segment.substr(1, segment.size() - 2);
    if (entry.segments.size() >= static_cast<std::size_t>(kMaxSegments)) {
      throw std::invalid_argument("route pattern has too many segments: " + pattern);
    }
    if (param) entry.param_mask |= std::uint64_t{1} << (63 - entry.segments.size());
    entry.segments.push_back(std::move(segment));
    entry.is_param.push_back(param);
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  for (const RouteEntry& existing : entries_) {
    if (existing.method == entry.method && existing.pattern == entry.pattern) {
      throw std::invalid_argument("duplicate route: " + entry.method + " " + entry.pattern);
    }
  }
  entries_.push_back(std::move(entry));
}

int Router::Match(std::string_view raw_path, std::string_view method, int* any_route, std::string* allow) const {
  std::array<std::string_view, kMaxSegments> segments;
  std::size_t count = 0;
  if (!SplitPath(raw_path, segments, count)) return -1;
  int best = -1;
  int best_any = -1;
  std::uint64_t best_mask = ~std::uint64_t{0};
  std::uint64_t best_any_mask = ~std::uint64_t{0};
  for (std::size_t r = 0; r < entries_.size(); ++r) {
    const RouteEntry& route = entries_[r];
    if (!Matches(route, segments, count)) continue;
    if (route.method == method) {
      if (best < 0 || route.param_mask < best_mask) {
        best = static_cast<int>(r);
        best_mask = route.param_mask;
      }
    } else if (allow != nullptr) {
      if (best_any < 0 || route.param_mask < best_any_mask) {
        best_any = static_cast<int>(r);
        best_any_mask = route.param_mask;
      }
    }
  }
  if (best < 0 && best_any >= 0 && allow != nullptr) {
    // Allow lists every method whose route matches the path (HEAD with GET; OPTIONS by the server).
    std::vector<std::string_view> methods;
    for (const RouteEntry& route : entries_) {
      if (Matches(route, segments, count) && std::find(methods.begin(), methods.end(), route.method) == methods.end()) {
        methods.push_back(route.method);
        if (route.method == "GET") methods.push_back("HEAD");
      }
    }
    methods.push_back("OPTIONS");
    for (std::string_view m : methods) {
      if (!allow->empty()) *allow += ", ";
      *allow += m;
    }
    *any_route = best_any;
  }
  if (best >= 0 && any_route != nullptr) *any_route = best;
  return best;
}

void Router::FillParams(int index, std::string_view raw_path, std::map<std::string, std::string>& params) const {
  const RouteEntry& route = (*this)[index];
  std::size_t start = 1;
  for (std::size_t i = 0; i < route.segments.size(); ++i) {
    std::size_t slash = raw_path.find('/', start);
    if (slash == std::string_view::npos) slash = raw_path.size();
    if (route.is_param[i]) params[route.segments[i]] = PercentDecode(raw_path.substr(start, slash - start), false);
    start = slash + 1;
  }
}

}  // namespace ces::http::detail
