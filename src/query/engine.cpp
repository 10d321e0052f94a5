// The engine: route patterns to the route table (routes.cpp), whose parameters are checked apart from
// any SQL (params.cpp) before the runner (runner.cpp) queries the model.

#include "ces/query/engine.hpp"

#include <unordered_map>

#include "ces/common/json.hpp"
#include "ces/common/metrics.hpp"
#include "ces/common/status.hpp"
#include "ces/query/values.hpp"
#include "routes.hpp"
#include "runner.hpp"

namespace ces::query {

const std::string* Args::Path(std::string_view name) const {
  if (!path) return nullptr;
  auto it = path->find(std::string(name));
  return it == path->end() ? nullptr : &it->second;
}

const std::string* Args::Query(std::string_view name) const {
  if (!query) return nullptr;
  for (const auto& [k, v] : *query) {
    if (k == name) return &v;
  }
  return nullptr;
}

struct Engine::Impl {
  Impl(Pool& pool, EngineOptions options) : runner(pool, options) {
    for (const detail::Route& route : detail::RouteTable()) routes.emplace(route.pattern, &route);
  }

  detail::Runner runner;
  std::unordered_map<std::string, const detail::Route*> routes;
};

Engine::Engine(Pool& pool, EngineOptions options, metrics::Registry* registry)
    : impl_(std::make_unique<Impl>(pool, options)) {
  if (registry) {
    impl_->runner.SetMetrics(
        &registry->GetCounter("ces_api_count_queries_total", "count(*) queries run for page counts"),
        &registry->GetCounter("ces_api_block_cache_hits_total", "blocks by hash served from memory"));
  }
}

Engine::~Engine() = default;

Response Engine::Handle(std::string_view route, const Args& args) {
  auto it = impl_->routes.find(std::string(route));
  if (it == impl_->routes.end()) return detail::Error(common::HttpStatus(common::ErrorKind::kNotFound), "no such path");
  return detail::Serve(*it->second, impl_->runner, args);
}

const std::vector<std::string>& Engine::Routes() {
  static const std::vector<std::string> kRoutes = [] {
    std::vector<std::string> out;
    for (const detail::Route& route : detail::RouteTable()) out.emplace_back(route.pattern);
    return out;
  }();
  return kRoutes;
}

}  // namespace ces::query
