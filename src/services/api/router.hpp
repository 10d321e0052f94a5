#pragma once
// The `api` server's routing beyond exact paths: prefix routes (e.g. /api/v1/events/{source}/{stream}/{id})
// and JSON errors {"code": <status>, "message": "..."} for everything else.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ces/http/server.hpp"

namespace ces::services::api {

// Sends {"code": status, "message": message} (plus "parameter" when given).
void SendJsonError(http::ResponseWriter& writer, int status, std::string_view message, std::string_view parameter = {});

class ApiRouter {
 public:
  // Requests whose path starts with `prefix` (and match no exact route) go to `handler`.
  void AddPrefix(std::string method, std::string prefix, http::RouteHandler handler);
  // Installs the prefix routes and the JSON 404 as the server's fallback.
  void Install(http::Server& server);

 private:
  struct Prefix {
    std::string method;
    std::string prefix;
    http::RouteHandler handler;
  };
  std::vector<Prefix> prefixes_;
};

}  // namespace ces::services::api
