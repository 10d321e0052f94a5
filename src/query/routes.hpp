#pragma once
// Private to ces::query: the REST routes. Each route names its parameters (checked by params.cpp
// before it runs), its list (for paged routes) and the function that writes its SQL (runner.hpp).

#include <optional>
#include <string_view>
#include <vector>

#include "ces/query/engine.hpp"
#include "params.hpp"
#include "runner.hpp"
#include "specs.hpp"

namespace ces::query::detail {

// What a route's function gets: the request, its checked parameters, and the route's list.
struct Call {
  const Args& args;
  const Params& params;
  const ListSpec* list;
};

struct Route {
  const char* pattern;
  RouteParams params;
  const ListSpec* list;  // a paged route's list (its paging parameters are checked by Runner::List)
  Response (*run)(Runner& db, const Call& call);
};

// Every route, in the order of Engine::Routes().
const std::vector<Route>& RouteTable();
const Route* FindRoute(std::string_view pattern);

// Serves one request: checks the route's parameters (400), then runs it.
Response Serve(const Route& route, Runner& db, const Args& args);

// Every parameter check of `route` in the order the engine applies them (path, query filters, paging):
// what a request is refused with when the resources it names exist. Pure: no database.
std::optional<ParamError> ValidateRequest(const Route& route, const Args& args, const EngineOptions& options);

}  // namespace ces::query::detail
