#pragma once
// JSON errors of the api's handlers: {"code": <status>, "message": "...", "parameter": "..."}.

#include <string_view>

#include "ces/http/server.hpp"

namespace ces::api {

// Sends http::JsonError(status, message, parameter) as application/json (the server adds CORS).
void SendJsonError(http::ResponseWriter& writer, int status, std::string_view message, std::string_view parameter = {});

}  // namespace ces::api
