#include "ces/mongo/json_bson.hpp"

#include <simdjson.h>

#include <cstring>
#include <limits>
#include <string>
#include <unordered_set>
#include <vector>

#include "bson_util.hpp"
#include "ces/common/dom_parser.hpp"

namespace ces::mongo {
namespace detail {
namespace {

class Converter {
 public:
  Converter(const JsonToBsonOptions& options, std::string& error) : options_(options), error_(error) {}

  bool Append(bson_t* parent, std::string_view key, simdjson::dom::element value, std::size_t depth, bool in_array) {
    if (depth > options_.max_depth) return Fail("nesting deeper than " + std::to_string(options_.max_depth) + " levels");
    const char* k = key.data();
    const int klen = static_cast<int>(key.size());
    switch (value.type()) {
      case simdjson::dom::element_type::OBJECT: {
        bson_t child;
        bson_append_document_begin(parent, k, klen, &child);
        bool ok = AppendObject(&child, value.get_object().value_unsafe(), depth + 1);
        bson_append_document_end(parent, &child);
        return ok;
      }
      case simdjson::dom::element_type::ARRAY: {
        simdjson::dom::array array = value.get_array().value_unsafe();
        bson_t child;
        const bool as_document = in_array && options_.nested_arrays == NestedArrays::kAsDocuments;
        if (as_document) {
          bson_append_document_begin(parent, k, klen, &child);
        } else {
          bson_append_array_begin(parent, k, klen, &child);
        }
        bool ok = true;
        std::uint32_t index = 0;
        for (simdjson::dom::element item : array) {
          char buffer[16];
          const char* index_key = nullptr;
          std::size_t n = bson_uint32_to_string(index++, &index_key, buffer, sizeof buffer);
          if (!Append(&child, std::string_view(index_key, n), item, depth + 1, !as_document)) {
            ok = false;
            break;
          }
        }
        if (as_document) {
          bson_append_document_end(parent, &child);
        } else {
          bson_append_array_end(parent, &child);
        }
        return ok;
      }
      case simdjson::dom::element_type::STRING: {
        std::string_view s = value.get_string().value_unsafe();
        bson_append_utf8(parent, k, klen, s.data(), static_cast<int>(s.size()));
        return true;
      }
      case simdjson::dom::element_type::INT64:
        bson_append_int64(parent, k, klen, value.get_int64().value_unsafe());
        return true;
      case simdjson::dom::element_type::UINT64: {
        // Above INT64_MAX: no BSON integer holds it, and FerretDB has no Decimal128. A decimal string
        // keeps every digit.
        std::string digits = std::to_string(value.get_uint64().value_unsafe());
        bson_append_utf8(parent, k, klen, digits.data(), static_cast<int>(digits.size()));
        return true;
      }
      case simdjson::dom::element_type::DOUBLE:
        bson_append_double(parent, k, klen, value.get_double().value_unsafe());
        return true;
      case simdjson::dom::element_type::BOOL:
        bson_append_bool(parent, k, klen, value.get_bool().value_unsafe());
        return true;
      case simdjson::dom::element_type::NULL_VALUE:
        bson_append_null(parent, k, klen);
        return true;
    }
    return Fail("unknown JSON value type");
  }

 private:
  bool AppendObject(bson_t* doc, simdjson::dom::object object, std::size_t depth) {
    std::unordered_set<std::string_view> seen;
    const bool check_with_set = object.size() > 16;
    std::vector<std::string_view> small;
    for (auto field : object) {
      std::string_view key = field.key;
      if (!key.empty() && key.front() == '$') return Fail("key '" + std::string(key) + "' starts with '$'");
      if (key.find('.') != std::string_view::npos) return Fail("key '" + std::string(key) + "' contains '.'");
      if (key.find('\0') != std::string_view::npos) return Fail("a key contains a NUL character");
      bool duplicate = false;
      if (check_with_set) {
        duplicate = !seen.insert(key).second;
      } else {
        for (std::string_view s : small) duplicate = duplicate || s == key;
        small.push_back(key);
      }
      if (duplicate) return Fail("key '" + std::string(key) + "' appears twice in one object");
      if (!Append(doc, key, field.value, depth, false)) return false;
    }
    return true;
  }

  bool Fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return false;
  }

  const JsonToBsonOptions& options_;
  std::string& error_;
};

}  // namespace

bool AppendJson(bson_t* doc, std::string_view key, std::string_view json, const JsonToBsonOptions& options,
                std::string& error) {
  thread_local json::DomParser parser;
  const auto parsed = parser.Parse(json);
  if (parsed.error != simdjson::SUCCESS) {
    error = std::string("not convertible JSON: ") + simdjson::error_message(parsed.error);
    return false;
  }
  Converter converter(options, error);
  return converter.Append(doc, key, parsed.root, 0, false);
}

std::string GetString(const bson_t* doc, const char* key) {
  bson_iter_t it;
  if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it)) {
    uint32_t len = 0;
    const char* s = bson_iter_utf8(&it, &len);
    return std::string(s, len);
  }
  return {};
}

std::int64_t GetInt64(const bson_t* doc, const char* key, std::int64_t fallback) {
  bson_iter_t it;
  if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_NUMBER(&it)) return bson_iter_as_int64(&it);
  return fallback;
}

bool Has(const bson_t* doc, const char* key) {
  bson_iter_t it;
  return bson_iter_init_find(&it, doc, key);
}

}  // namespace detail

ConvertedJson ConvertJson(std::string_view json, const JsonToBsonOptions& options) {
  ConvertedJson out;
  detail::BsonPtr doc = detail::NewBson();
  if (!detail::AppendJson(doc.get(), "data", json, options, out.error)) return out;
  out.ok = true;
  out.bson.assign(reinterpret_cast<const char*>(bson_get_data(doc.get())), doc->len);
  return out;
}

std::string BsonToJson(std::string_view bson) {
  bson_t doc;
  if (!bson_init_static(&doc, reinterpret_cast<const uint8_t*>(bson.data()), bson.size())) return "<invalid BSON>";
  std::size_t len = 0;
  char* text = bson_as_relaxed_extended_json(&doc, &len);
  if (!text) return "<invalid BSON>";
  std::string out(text, len);
  bson_free(text);
  return out;
}

}  // namespace ces::mongo
