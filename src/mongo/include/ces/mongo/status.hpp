#pragma once
// Outcome of a store operation: a value, never an exception across the module boundary.

#include <string>
#include <string_view>
#include <utility>

#include "ces/common/status.hpp"

namespace ces::mongo {

// MongoDB server error code for a unique-index violation ("E11000 duplicate key error").
inline constexpr int kDuplicateKeyCode = 11000;
inline constexpr int kAuthenticationFailedCode = 18;  // the server's AuthenticationFailed

struct Status {
  bool ok = true;
  int code = 0;         // server or driver error code (0 when ok)
  std::string message;  // driver/server message (empty when ok)

  static Status Ok() { return {}; }
  static Status Error(int code, std::string message) { return {false, code, std::move(message)}; }
  bool IsDuplicateKey() const { return !ok && code == kDuplicateKeyCode; }
  // The server refused us rather than failed: the credentials (authentication failed) or its TLS
  // certificate (it does not verify against the configured CA). Retrying cannot help.
  bool IsRefusal() const {
    if (ok) return false;
    for (std::string_view refused : {"Authentication failed", "certificate verify failed"}) {
      if (message.find(refused) != std::string::npos) return true;
    }
    return code == kAuthenticationFailedCode;
  }
};

template <class T>
using Result = common::Result<T, Status>;

// The error vocabulary at the driver's boundary: a duplicate key is kBadData (the document exists),
// every other failure is the store being kUnavailable (callers retry or answer 503).
inline common::Status ToStatus(const Status& status) {
  if (status.ok) return common::Status::Ok();
  return common::Status::Error(status.IsDuplicateKey() ? common::ErrorKind::kBadData : common::ErrorKind::kUnavailable,
                               status.message);
}

}  // namespace ces::mongo
