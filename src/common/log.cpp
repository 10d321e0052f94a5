#include "ces/common/log.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>

#include "ces/common/time.hpp"

namespace ces::log {
namespace {
std::atomic<Level> g_level{Level::kInfo};
std::string g_service = "casper-event-store";
std::mutex g_mutex;

const char* LevelName(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}
}  // namespace

void Init(std::string_view service, std::string_view level) {
  std::lock_guard lock(g_mutex);
  g_service = std::string(service);
  Level parsed = Level::kInfo;
  if (level == "debug") parsed = Level::kDebug;
  else if (level == "warn" || level == "warning") parsed = Level::kWarn;
  else if (level == "error") parsed = Level::kError;
  g_level = parsed;
}

bool Enabled(Level level) { return static_cast<int>(level) >= static_cast<int>(g_level.load()); }

void AppendJsonEscaped(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
}

void Write(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  if (!Enabled(level)) return;
  std::string line;
  line.reserve(128 + msg.size());
  line += "{\"ts\":\"";
  line += time::FormatRfc3339(time::Now());
  line += "\",\"level\":\"";
  line += LevelName(level);
  line += "\",\"service\":\"";
  {
    std::lock_guard lock(g_mutex);
    AppendJsonEscaped(line, g_service);
  }
  line += "\",\"msg\":\"";
  AppendJsonEscaped(line, msg);
  line += '"';
  for (const Field& field : fields) {
    line += ",\"";
    AppendJsonEscaped(line, field.key);
    line += "\":";
    if (field.quoted) {
      line += '"';
      AppendJsonEscaped(line, field.value);
      line += '"';
    } else {
      line += field.value;
    }
  }
  line += "}\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace ces::log
