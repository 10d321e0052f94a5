#include "ces/audit/sse.hpp"

#include "ces/common/log.hpp"

namespace ces::audit {

void AppendSseEvent(std::string& out, std::string_view data, std::optional<std::uint32_t> id) {
  std::size_t start = 0;
  while (true) {
    const std::size_t end = data.find_first_of("\r\n", start);
    out += "data:";
    if (end == std::string_view::npos) {
      out.append(data.substr(start));
      out += '\n';
      break;
    }
    out.append(data.substr(start, end - start));
    out += '\n';
    start = end + 1;
    if (data[end] == '\r' && start < data.size() && data[start] == '\n') ++start;
  }
  if (id) {
    out += "id:";
    out += std::to_string(*id);
    out += '\n';
  }
  out += '\n';
}

void AppendSseApiVersion(std::string& out, std::string_view version) {
  out += "data:{\"ApiVersion\":\"";
  log::AppendJsonEscaped(out, version);
  out += "\"}\n\n";
}

void AppendSseKeepAlive(std::string& out) { out += ":\n\n"; }

}  // namespace ces::audit
