#include "ces/common/status.hpp"

#include "ces/common/json.hpp"

namespace ces::common {

std::string_view ToString(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kRetry: return "retry";
    case ErrorKind::kBadData: return "bad_data";
    case ErrorKind::kNotFound: return "not_found";
    case ErrorKind::kUnavailable: return "unavailable";
    case ErrorKind::kInternal: return "internal";
  }
  return "internal";
}

int HttpStatus(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kRetry:
    case ErrorKind::kUnavailable: return 503;
    case ErrorKind::kBadData: return 400;
    case ErrorKind::kNotFound: return 404;
    case ErrorKind::kInternal: return 500;
  }
  return 500;
}

std::string ErrorJson(int http_status, std::string_view message, std::string_view parameter) {
  std::string out = "{\"code\":" + std::to_string(http_status) + ",\"message\":";
  json::AppendString(out, message);
  if (!parameter.empty()) {
    out += ",\"parameter\":";
    json::AppendString(out, parameter);
  }
  out += '}';
  return out;
}

ErrorKind ClassifySqlState(std::string_view s) {
  auto cls = [&](std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; };
  if (s.empty() || cls("08") || cls("57") || s == "25006" || cls("53") || cls("40") || s == "55P03" || cls("58") ||
      cls("XX")) {
    return ErrorKind::kRetry;
  }
  if (cls("22")) return ErrorKind::kBadData;
  return ErrorKind::kInternal;
}

}  // namespace ces::common
