#include "json_error.hpp"

namespace ces::api {

void SendJsonError(http::ResponseWriter& writer, int status, std::string_view message, std::string_view parameter) {
  writer.Send(status, "application/json", common::ErrorJson(status, message, parameter));
}

void SendJsonError(http::ResponseWriter& writer, common::ErrorKind kind, std::string_view message,
                   std::string_view parameter) {
  SendJsonError(writer, common::HttpStatus(kind), message, parameter);
}

}  // namespace ces::api
