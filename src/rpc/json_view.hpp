#pragma once
// Views into a JSON text that simdjson has already validated: each value is its own span of the text,
// so a part of an answer can be handed on byte for byte. Private to ces::rpc.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ces::rpc::json {

enum class Type { kObject, kArray, kString, kNumber, kBool, kNull };

// Checks that `text` is one complete, valid JSON value (UTF-8 included). On failure returns false and
// says why in `error`.
bool Validate(std::string_view text, std::string& error);

class View {
 public:
  View() = default;
  // `raw` must be exactly one value of a validated text, without surrounding whitespace.
  explicit View(std::string_view raw) : raw_(raw) {}

  std::string_view raw() const { return raw_; }
  Type type() const;
  bool IsNull() const { return type() == Type::kNull; }

  // Calls f(key, value) for each member of an object, in text order; the key is the raw text between
  // the quotes (the node's keys never need unescaping). Stops early when f returns false.
  template <class F>
  void ForEachMember(F&& f) const;
  // Calls f(value) for each item of an array, in order.
  template <class F>
  void ForEachItem(F&& f) const;
  // The first member with this key, if this is an object that has one.
  std::optional<View> Find(std::string_view key) const;

  // An unsigned integer written without sign, fraction or exponent (u64 range).
  std::optional<std::uint64_t> U64() const;
  // A signed integer (JSON-RPC error codes).
  std::optional<std::int64_t> I64() const;
  // The unescaped content of a string.
  std::optional<std::string> String() const;

 private:
  std::string_view raw_;
};

// Offset just past the value / string starting at `pos` of a validated text.
std::size_t SkipValue(std::string_view text, std::size_t pos);
std::size_t SkipString(std::string_view text, std::size_t pos);
std::size_t SkipSpace(std::string_view text, std::size_t pos);

// Appends `raw` without the whitespace outside strings (serde_json's compact form); every other byte
// is kept.
void AppendCompact(std::string& out, std::string_view raw);
inline std::string Compact(std::string_view raw) {
  std::string out;
  AppendCompact(out, raw);
  return out;
}

template <class F>
void View::ForEachMember(F&& f) const {
  if (type() != Type::kObject) return;
  std::size_t pos = SkipSpace(raw_, 1);
  while (pos < raw_.size() && raw_[pos] == '"') {
    const std::size_t key_end = SkipString(raw_, pos);
    const std::string_view key = raw_.substr(pos + 1, key_end - pos - 2);
    pos = SkipSpace(raw_, key_end) + 1;  // past ':'
    pos = SkipSpace(raw_, pos);
    const std::size_t value_end = SkipValue(raw_, pos);
    if (!f(key, View(raw_.substr(pos, value_end - pos)))) return;
    pos = SkipSpace(raw_, value_end);
    if (pos < raw_.size() && raw_[pos] == ',') pos = SkipSpace(raw_, pos + 1);
  }
}

template <class F>
void View::ForEachItem(F&& f) const {
  if (type() != Type::kArray) return;
  std::size_t pos = SkipSpace(raw_, 1);
  while (pos < raw_.size() && raw_[pos] != ']') {
    const std::size_t value_end = SkipValue(raw_, pos);
    if (!f(View(raw_.substr(pos, value_end - pos)))) return;
    pos = SkipSpace(raw_, value_end);
    if (pos < raw_.size() && raw_[pos] == ',') pos = SkipSpace(raw_, pos + 1);
  }
}

}  // namespace ces::rpc::json
