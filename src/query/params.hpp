#pragma once
// Private to ces::query: the REST API's parameters, validated apart from any SQL. Each check is a pure
// function of the request (path parameters and query string): normalised values out, or the parameter
// error that the API answers with 400. The engine writes its SQL from the values only.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ces/query/engine.hpp"
#include "ces/query/values.hpp"
#include "specs.hpp"

namespace ces::query::detail {

// A refused parameter: the message of the 400 answer and the parameter it names.
struct ParamError {
  std::string message;
  std::string parameter;
};

// What a parameter must be.
enum class ParamType {
  kHash,       // 64 hex digits
  kPublicKey,  // 01 + 64 or 02 + 66 hex digits
  kInteger,    // a non-negative integer (eras)
  kAccount,    // a public key or an account hash
  kBlockId,    // a block hash, a decimal height or "latest"
  kOneOf,      // one of `words`
};

struct ParamRule {
  const char* name;
  ParamType type;
  std::vector<const char*> words = {};  // kOneOf
};

// One valid parameter, normalised.
struct ParamValue {
  std::string text;                    // lower-case hex, a decimal integer without leading zeros, the word,
                                       // "latest", or the account hash of a kAccount
  std::optional<std::int64_t> number;  // kInteger, and kBlockId given as a height
  std::optional<Account> account;      // kAccount
};

// The valid parameters of one request.
struct Params {
  ParamValue path;                                       // the route's path parameter, if it has one
  std::map<std::string, ParamValue, std::less<>> query;  // the query filters given
  const ParamValue* Query(std::string_view name) const;  // nullptr when not given
};

// The parameters a route takes besides paging: its path parameter (required) and optional query filters.
struct RouteParams {
  std::optional<ParamRule> path;
  std::vector<ParamRule> query;  // checked in this order
};

// Checks the route's path parameter, then its query filters. The first error, or nullopt with `out`
// filled.
std::optional<ParamError> CheckParams(const RouteParams& route, const Args& args, Params& out);

// The paging parameters of a list: size, page, order_by, order_direction, from_time, to_time, after.
struct ListParams {
  std::size_t size = 0;
  std::int64_t page = 1;
  const Order* order = nullptr;        // one of the list's orders
  std::string direction;               // "ASC" or "DESC"
  std::optional<std::string> from_time, to_time;  // RFC 3339
  bool after = false;                  // a cursor: continues after its key
  std::vector<std::string> cursor;     // the cursor's key values, one per ListSpec::key part
  bool KeysetOrder() const { return order->sql == nullptr; }
};

// Checks the paging parameters against `spec` (its orders, key and time column) and the page size
// limits of `options`. The first error, or nullopt with `out` filled.
std::optional<ParamError> CheckList(const ListSpec& spec, const Args& args, const EngineOptions& options,
                                    ListParams& out);

}  // namespace ces::query::detail
