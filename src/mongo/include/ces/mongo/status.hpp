#pragma once
// Outcome of a store operation: a value, never an exception across the module boundary.

#include <string>
#include <utility>

namespace ces::mongo {

// MongoDB server error code for a unique-index violation ("E11000 duplicate key error").
inline constexpr int kDuplicateKeyCode = 11000;

struct Status {
  bool ok = true;
  int code = 0;         // server or driver error code (0 when ok)
  std::string message;  // driver/server message (empty when ok)

  static Status Ok() { return {}; }
  static Status Error(int code, std::string message) { return {false, code, std::move(message)}; }
  bool IsDuplicateKey() const { return !ok && code == kDuplicateKeyCode; }
};

template <class T>
struct Result {
  Status status;
  T value{};

  bool ok() const { return status.ok; }
  static Result Ok(T v) { return {Status::Ok(), std::move(v)}; }
  static Result Fail(Status s) { return {std::move(s), T{}}; }
};

}  // namespace ces::mongo
