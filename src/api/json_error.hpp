#pragma once
// JSON errors of the api's handlers: {"code": <status>, "message": "...", "parameter": "..."}.

#include <string_view>

#include "ces/common/status.hpp"
#include "ces/http/server.hpp"

namespace ces::api {

// Sends common::ErrorJson(status, message, parameter) as application/json (the server adds CORS).
void SendJsonError(http::ResponseWriter& writer, int status, std::string_view message, std::string_view parameter = {});
// The same with the status of `kind` (common::HttpStatus: the one table of every route).
void SendJsonError(http::ResponseWriter& writer, common::ErrorKind kind, std::string_view message,
                   std::string_view parameter = {});

}  // namespace ces::api
