#pragma once
// Private to ces::legacy: a small JSON reader that keeps, for every value, the exact text it was read
// from, so that a translation can copy the node's bytes of every value it does not change (numbers of
// any size, strings with their escapes, key order) and only rebuild what it must.

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

namespace ces::legacy::detail {

struct Value {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  Type type = Type::kNull;
  std::string_view raw;                // the value's text, exactly as read
  std::vector<std::string_view> keys;  // object: member names (the text between the quotes)
  std::vector<Value> items;            // object: member values (same order as keys); array: elements

  bool IsObject() const { return type == Type::kObject; }
  bool IsArray() const { return type == Type::kArray; }
  bool IsString() const { return type == Type::kString; }
  bool IsNull() const { return type == Type::kNull; }
  // The member `key` of an object (the first one of that name), or nullptr.
  const Value* Find(std::string_view key) const;
  // A string's content between its quotes (escapes kept as written).
  std::string_view Text() const;
};

// Reads one JSON value spanning `text` (surrounding whitespace allowed); nullopt when it is not JSON
// or nests deeper than 256 levels.
std::optional<Value> Parse(std::string_view text);

}  // namespace ces::legacy::detail
