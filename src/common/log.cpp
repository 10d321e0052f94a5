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

namespace {
// Length of the well-formed UTF-8 sequence at text[i] (RFC 3629: no overlong forms, no surrogates,
// nothing above U+10FFFF), or 0.
std::size_t Utf8SequenceLength(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = byte(i);
  std::size_t n = 0;
  unsigned char low = 0x80, high = 0xBF;  // range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) low = 0xA0;
    if (c == 0xED) high = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) low = 0x90;
    if (c == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (i + n > text.size() || byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return n;
}
}  // namespace

void AppendJsonEscaped(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
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
        } else if (c < 0x80) {
          out.push_back(static_cast<char>(c));
        } else if (const std::size_t n = Utf8SequenceLength(text, i); n > 0) {
          out.append(text.substr(i, n));
          i += n - 1;
        } else {
          out += "\\ufffd";  // not UTF-8 (e.g. a client's percent-decoded bytes): the output stays valid JSON
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
