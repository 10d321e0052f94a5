#include "router.hpp"

#include "ces/common/log.hpp"

namespace ces::services::api {

void SendJsonError(http::ResponseWriter& writer, int status, std::string_view message, std::string_view parameter) {
  std::string body = "{\"code\":" + std::to_string(status) + ",\"message\":\"";
  log::AppendJsonEscaped(body, message);
  body += "\"";
  if (!parameter.empty()) {
    body += ",\"parameter\":\"";
    log::AppendJsonEscaped(body, parameter);
    body += "\"";
  }
  body += "}";
  writer.Send(status, "application/json", body, {{"Access-Control-Allow-Origin", "*"}});
}

void ApiRouter::AddPrefix(std::string method, std::string prefix, http::RouteHandler handler) {
  prefixes_.push_back({std::move(method), std::move(prefix), std::move(handler)});
}

void ApiRouter::Install(http::Server& server) {
  server.SetNotFound([prefixes = prefixes_](const http::Request& request, http::ResponseWriter& writer) {
    const std::string method = request.method == "HEAD" ? "GET" : request.method;
    for (const auto& p : prefixes) {
      if (method == p.method && request.path.compare(0, p.prefix.size(), p.prefix) == 0) {
        p.handler(request, writer);
        return;
      }
    }
    SendJsonError(writer, 404, "no such path: " + request.path);
  });
}

}  // namespace ces::services::api
