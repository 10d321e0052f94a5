#include "ces/common/json.hpp"

#include "ces/common/log.hpp"

namespace ces::json {

void AppendString(std::string& out, std::string_view text) {
  out.push_back('"');
  log::AppendJsonEscaped(out, text);
  out.push_back('"');
}

}  // namespace ces::json
