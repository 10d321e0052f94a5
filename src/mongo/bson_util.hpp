#pragma once
// Private helpers shared by the ces::mongo sources (libbson types stay out of public headers).

#include <bson/bson.h>

// bson_t carries an alignment attribute that GCC drops (with a warning) when bson_t is a template
// argument, e.g. in std::vector<const bson_t*> for insert_many. The attribute does not matter for
// pointers.
#pragma GCC diagnostic ignored "-Wignored-attributes"

#include <memory>
#include <string>
#include <string_view>

#include "ces/mongo/json_bson.hpp"

namespace ces::mongo::detail {

// Owns a heap bson_t (std::unique_ptr<bson_t> trips -Wignored-attributes on bson_t's alignment).
class BsonPtr {
 public:
  BsonPtr() = default;
  BsonPtr(std::nullptr_t) {}  // NOLINT(google-explicit-constructor)
  explicit BsonPtr(bson_t* b) : b_(b) {}
  ~BsonPtr() { reset(); }
  BsonPtr(BsonPtr&& o) noexcept : b_(o.b_) { o.b_ = nullptr; }
  BsonPtr& operator=(BsonPtr&& o) noexcept {
    if (this != &o) {
      reset();
      b_ = o.b_;
      o.b_ = nullptr;
    }
    return *this;
  }
  BsonPtr(const BsonPtr&) = delete;
  BsonPtr& operator=(const BsonPtr&) = delete;
  bson_t* get() const { return b_; }
  bson_t* operator->() const { return b_; }
  explicit operator bool() const { return b_ != nullptr; }
  void reset() {
    if (b_) bson_destroy(b_);
    b_ = nullptr;
  }

 private:
  bson_t* b_ = nullptr;
};

inline BsonPtr NewBson() { return BsonPtr(bson_new()); }

// Appends the JSON text as the value of `key`. False (with `error`) if it cannot be converted; the
// document may then hold a partial value and must be rebuilt without it.
bool AppendJson(bson_t* doc, std::string_view key, std::string_view json, const JsonToBsonOptions& options,
                std::string& error);

inline void AppendUtf8(bson_t* doc, std::string_view key, std::string_view value) {
  bson_append_utf8(doc, key.data(), static_cast<int>(key.size()), value.data(), static_cast<int>(value.size()));
}
inline void AppendInt64(bson_t* doc, std::string_view key, std::int64_t value) {
  bson_append_int64(doc, key.data(), static_cast<int>(key.size()), value);
}
inline void AppendBinary(bson_t* doc, std::string_view key, std::string_view value) {
  bson_append_binary(doc, key.data(), static_cast<int>(key.size()), BSON_SUBTYPE_BINARY,
                     reinterpret_cast<const uint8_t*>(value.data()), static_cast<uint32_t>(value.size()));
}

// Field accessors that tolerate a missing field or another numeric type.
std::string GetString(const bson_t* doc, const char* key);
std::int64_t GetInt64(const bson_t* doc, const char* key, std::int64_t fallback);
bool Has(const bson_t* doc, const char* key);

}  // namespace ces::mongo::detail
