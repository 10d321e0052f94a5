#include "raw_json.hpp"

#include "ces/common/text.hpp"

namespace ces::legacy::detail {

namespace {

constexpr int kMaxDepth = 256;

class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  std::optional<Value> Document() {
    Value v;
    SkipSpace();
    if (!Read(v, 0)) return std::nullopt;
    SkipSpace();
    if (pos_ != text_.size()) return std::nullopt;
    return v;
  }

 private:
  void SkipSpace() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool Literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  // A string starting at pos_ (a quote); leaves pos_ after its closing quote.
  bool String() {
    ++pos_;
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c == '\\') {
        if (++pos_ >= text_.size()) return false;
        const char e = text_[pos_];
        if (e == 'u') {
          for (int i = 0; i < 4; ++i) {
            if (++pos_ >= text_.size() || !text::IsHexDigit(text_[pos_])) return false;
          }
        } else if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' && e != 't') {
          return false;
        }
      }
      ++pos_;
    }
    return false;
  }

  static bool IsDigit(char c) { return c >= '0' && c <= '9'; }

  bool Number() {
    if (pos_ < text_.size() && text_[pos_] == '-') ++pos_;
    if (pos_ >= text_.size() || !IsDigit(text_[pos_])) return false;
    if (text_[pos_] == '0') {
      ++pos_;
    } else {
      while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
    }
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      if (pos_ >= text_.size() || !IsDigit(text_[pos_])) return false;
      while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      if (pos_ >= text_.size() || !IsDigit(text_[pos_])) return false;
      while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
    }
    return true;
  }

  bool Read(Value& v, int depth) {
    if (depth > kMaxDepth || pos_ >= text_.size()) return false;
    const std::size_t start = pos_;
    const char c = text_[pos_];
    bool ok = false;
    if (c == '{') {
      v.type = Value::Type::kObject;
      ok = Members(v, depth);
    } else if (c == '[') {
      v.type = Value::Type::kArray;
      ok = Elements(v, depth);
    } else if (c == '"') {
      v.type = Value::Type::kString;
      ok = String();
    } else if (c == 't' || c == 'f') {
      v.type = Value::Type::kBool;
      ok = Literal(c == 't' ? "true" : "false");
    } else if (c == 'n') {
      v.type = Value::Type::kNull;
      ok = Literal("null");
    } else {
      v.type = Value::Type::kNumber;
      ok = Number();
    }
    if (ok) v.raw = text_.substr(start, pos_ - start);
    return ok;
  }

  bool Members(Value& v, int depth) {
    ++pos_;
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == '}') {
      ++pos_;
      return true;
    }
    while (true) {
      SkipSpace();
      if (pos_ >= text_.size() || text_[pos_] != '"') return false;
      const std::size_t key_start = pos_ + 1;
      if (!String()) return false;
      v.keys.push_back(text_.substr(key_start, pos_ - 1 - key_start));
      SkipSpace();
      if (pos_ >= text_.size() || text_[pos_] != ':') return false;
      ++pos_;
      SkipSpace();
      if (!Read(v.items.emplace_back(), depth + 1)) return false;
      SkipSpace();
      if (pos_ >= text_.size()) return false;
      if (text_[pos_] == '}') {
        ++pos_;
        return true;
      }
      if (text_[pos_] != ',') return false;
      ++pos_;
    }
  }

  bool Elements(Value& v, int depth) {
    ++pos_;
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == ']') {
      ++pos_;
      return true;
    }
    while (true) {
      SkipSpace();
      if (!Read(v.items.emplace_back(), depth + 1)) return false;
      SkipSpace();
      if (pos_ >= text_.size()) return false;
      if (text_[pos_] == ']') {
        ++pos_;
        return true;
      }
      if (text_[pos_] != ',') return false;
      ++pos_;
    }
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

const Value* Value::Find(std::string_view key) const {
  if (type != Type::kObject) return nullptr;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (keys[i] == key) return &items[i];
  }
  return nullptr;
}

std::string_view Value::Text() const {
  if (type != Type::kString || raw.size() < 2) return {};
  return raw.substr(1, raw.size() - 2);
}

std::optional<Value> Parse(std::string_view text) { return Reader(text).Document(); }

}  // namespace ces::legacy::detail
