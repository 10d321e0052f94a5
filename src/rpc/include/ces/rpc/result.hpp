#pragma once
// Outcome of one JSON-RPC call: a value or an Error that says what went wrong and names the method
// and the height or hash asked for. Calls never throw on the data path.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace ces::rpc {

enum class ErrorKind {
  kTransport,        // connect failure, timeout, reset, truncated body, HTTP 5xx/429 (after the attempts)
  kHttp,             // any other non-2xx HTTP status (wrong URL, auth): not retried
  kNode,             // a JSON-RPC error object from the node (code in Error::rpc_code)
  kNotFound,         // the node does not have the block, transaction, era or reward asked for
  kMalformed,        // invalid or truncated JSON, missing fields, wrong types, an answer for another height/hash
  kInvalidArgument,  // the call itself was bad (e.g. a hash that is not 64 hex digits)
  kCancelled,        // the client was cancelled or destroyed before the call ended
};

std::string_view ToString(ErrorKind kind);

struct Error {
  ErrorKind kind = ErrorKind::kTransport;
  std::string message;       // "<method> <subject>: <what>", e.g. "chain_get_block height 12: block height 13 …"
  std::int64_t rpc_code = 0;  // the node's JSON-RPC error code (kNode, kNotFound)
  long http_status = 0;       // the last HTTP status seen, 0 if none
  int attempts = 0;           // HTTP attempts made for the call
  bool transient = false;     // worth asking again later: transport problems and invalid JSON
};

template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }
  const Error& error() const { return std::get<1>(v_); }
  Error& error() { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace ces::rpc
