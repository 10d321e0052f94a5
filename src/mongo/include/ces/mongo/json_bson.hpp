#pragma once
// JSON payload -> BSON value (the queryable form of an event stored next to its verbatim bytes).
//
// Numbers keep their exact value: integers that fit a signed 64-bit value become Int64, larger
// unsigned integers (up to 2^64-1) become a decimal string, and only numbers written with a fraction or
// an exponent become Double. Strings, booleans, null, objects and arrays map one to one.

#include <cstddef>
#include <string>
#include <string_view>

namespace ces::mongo {

enum class NestedArrays {
  // Arrays inside arrays stay arrays (MongoDB).
  kKeep,
  // An array directly inside an array becomes a document with keys "0", "1", ... (FerretDB 1.x rejects
  // nested arrays). A query path such as `args.0.1` resolves the same way on both forms.
  kAsDocuments,
};

struct JsonToBsonOptions {
  NestedArrays nested_arrays = NestedArrays::kKeep;
  std::size_t max_depth = 64;  // MongoDB allows 100 levels; Casper payloads use far fewer
};

struct ConvertedJson {
  bool ok = false;
  std::string error;  // why no queryable form was produced (invalid JSON, a key MongoDB cannot store, ...)
  std::string bson;   // a BSON document {"data": <value>} (its bytes), when ok
};

// Converts a JSON text. Keys that MongoDB or FerretDB refuse (starting with '$', holding '.' or NUL, or
// duplicated in one object) and nesting deeper than max_depth make the conversion fail with a reason;
// the caller then stores the payload without a queryable form.
ConvertedJson ConvertJson(std::string_view json, const JsonToBsonOptions& options = {});

// Relaxed extended JSON of a BSON document (tests, debugging).
std::string BsonToJson(std::string_view bson);

}  // namespace ces::mongo
