#pragma once
// Structured logging: one JSON object per line on stderr
// {"ts":"…","level":"info","service":"produce","msg":"…", <fields>}.

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace ces::log {

enum class Level { kDebug, kInfo, kWarn, kError };

// A key/value attached to a log line. Numbers are written as JSON numbers, text as JSON strings.
struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(v), quoted(true) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v), quoted(true) {}
  Field(std::string_view k, const char* v) : key(k), value(v ? v : ""), quoted(true) {}
  Field(std::string_view k, std::int64_t v) : key(k), value(std::to_string(v)), quoted(false) {}
  Field(std::string_view k, std::uint64_t v) : key(k), value(std::to_string(v)), quoted(false) {}
  Field(std::string_view k, int v) : key(k), value(std::to_string(v)), quoted(false) {}
  Field(std::string_view k, unsigned v) : key(k), value(std::to_string(v)), quoted(false) {}
  Field(std::string_view k, long long v) : key(k), value(std::to_string(v)), quoted(false) {}
  Field(std::string_view k, unsigned long long v) : key(k), value(std::to_string(v)), quoted(false) {}
  Field(std::string_view k, double v) : key(k), value(std::to_string(v)), quoted(false) {}
  Field(std::string_view k, bool v) : key(k), value(v ? "true" : "false"), quoted(false) {}

  std::string_view key;
  std::string value;
  bool quoted;
};

// Sets the service name written on every line and the minimum level ("debug", "info", "warn", "error").
void Init(std::string_view service, std::string_view level);
bool Enabled(Level level);
void Write(Level level, std::string_view msg, std::initializer_list<Field> fields);

inline void Debug(std::string_view msg, std::initializer_list<Field> fields = {}) { Write(Level::kDebug, msg, fields); }
inline void Info(std::string_view msg, std::initializer_list<Field> fields = {}) { Write(Level::kInfo, msg, fields); }
inline void Warn(std::string_view msg, std::initializer_list<Field> fields = {}) { Write(Level::kWarn, msg, fields); }
inline void Error(std::string_view msg, std::initializer_list<Field> fields = {}) { Write(Level::kError, msg, fields); }

// Appends `text` to `out` as the inside of a JSON string (quotes not included).
void AppendJsonEscaped(std::string& out, std::string_view text);

}  // namespace ces::log
