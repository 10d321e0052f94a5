#include "json_view.hpp"

#include <simdjson.h>

#include <charconv>

#include "ces/common/dom_parser.hpp"
#include "ces/common/text.hpp"

namespace ces::rpc::json {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool IsDelimiter(char c) { return IsSpace(c) || c == ',' || c == '}' || c == ']' || c == ':'; }

std::optional<unsigned> Hex4(std::string_view s, std::size_t pos) {
  if (pos + 4 > s.size()) return std::nullopt;
  unsigned v = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    const int d = text::HexDigitValue(s[pos + i]);
    if (d < 0) return std::nullopt;
    v = v * 16 + static_cast<unsigned>(d);
  }
  return v;
}

void AppendUtf8(std::string& out, unsigned cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace

bool Validate(std::string_view text, std::string& error) {
  // One parser per thread: the client's I/O thread and any thread parsing answers itself.
  thread_local ces::json::DomParser parser;
  const auto parsed = parser.Parse(text);
  if (parsed.error != simdjson::SUCCESS) {
    error = simdjson::error_message(parsed.error);
    return false;
  }
  return true;
}

std::size_t SkipSpace(std::string_view text, std::size_t pos) {
  while (pos < text.size() && IsSpace(text[pos])) ++pos;
  return pos;
}

std::size_t SkipString(std::string_view text, std::size_t pos) {
  std::size_t i = pos + 1;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '\\') {
      i += 2;
    } else if (c == '"') {
      return i + 1;
    } else {
      ++i;
    }
  }
  return text.size();
}

std::size_t SkipValue(std::string_view text, std::size_t pos) {
  if (pos >= text.size()) return text.size();
  const char first = text[pos];
  if (first == '"') return SkipString(text, pos);
  if (first == '{' || first == '[') {
    int depth = 0;
    std::size_t i = pos;
    while (i < text.size()) {
      const char c = text[i];
      if (c == '"') {
        i = SkipString(text, i);
        continue;
      }
      if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (--depth == 0) return i + 1;
      }
      ++i;
    }
    return text.size();
  }
  std::size_t i = pos;
  while (i < text.size() && !IsDelimiter(text[i])) ++i;
  return i;
}

Type View::type() const {
  if (raw_.empty()) return Type::kNull;
  switch (raw_.front()) {
    case '{': return Type::kObject;
    case '[': return Type::kArray;
    case '"': return Type::kString;
    case 't':
    case 'f': return Type::kBool;
    case 'n': return Type::kNull;
    default: return Type::kNumber;
  }
}

std::optional<View> View::Find(std::string_view key) const {
  std::optional<View> found;
  ForEachMember([&](std::string_view k, View v) {
    if (k != key) return true;
    found = v;
    return false;
  });
  return found;
}

namespace {

// An integer written without fraction or exponent, in T's range.
template <class T>
std::optional<T> Integer(std::string_view raw) {
  T v = 0;
  const char* end = raw.data() + raw.size();
  auto [ptr, ec] = std::from_chars(raw.data(), end, v);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

}  // namespace

std::optional<std::uint64_t> View::U64() const {
  if (type() != Type::kNumber || raw_.front() == '-') return std::nullopt;
  return Integer<std::uint64_t>(raw_);
}

std::optional<std::int64_t> View::I64() const {
  if (type() != Type::kNumber) return std::nullopt;
  return Integer<std::int64_t>(raw_);
}

std::optional<std::string> View::String() const {
  if (type() != Type::kString || raw_.size() < 2) return std::nullopt;
  const std::string_view inner = raw_.substr(1, raw_.size() - 2);
  if (inner.find('\\') == std::string_view::npos) return std::string(inner);
  std::string out;
  out.reserve(inner.size());
  for (std::size_t i = 0; i < inner.size(); ++i) {
    const char c = inner[i];
    if (c != '\\') {
      out += c;
      continue;
    }
    if (++i >= inner.size()) return std::nullopt;
    switch (inner[i]) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '/': out += '/'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        auto cp = Hex4(inner, i + 1);
        if (!cp) return std::nullopt;
        i += 4;
        unsigned code = *cp;
        if (code >= 0xD800 && code <= 0xDBFF && i + 6 < inner.size() && inner[i + 1] == '\\' &&
            inner[i + 2] == 'u') {
          auto low = Hex4(inner, i + 3);
          if (low && *low >= 0xDC00 && *low <= 0xDFFF) {
            code = 0x10000 + ((code - 0xD800) << 10) + (*low - 0xDC00);
            i += 6;
          }
        }
        AppendUtf8(out, code);
        break;
      }
      default: return std::nullopt;
    }
  }
  return out;
}

void AppendCompact(std::string& out, std::string_view raw) {
  out.reserve(out.size() + raw.size());
  std::size_t i = 0;
  while (i < raw.size()) {
    const char c = raw[i];
    if (c == '"') {
      const std::size_t end = SkipString(raw, i);
      out.append(raw.substr(i, end - i));
      i = end;
    } else {
      if (!IsSpace(c)) out += c;
      ++i;
    }
  }
}

}  // namespace ces::rpc::json
