#include "json_error.hpp"

#include "ces/http/async_server.hpp"

namespace ces::api {

void SendJsonError(http::ResponseWriter& writer, int status, std::string_view message, std::string_view parameter) {
  writer.Send(status, "application/json", http::JsonError(status, message, parameter));
}

}  // namespace ces::api
