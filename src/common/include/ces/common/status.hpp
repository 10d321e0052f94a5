#pragma once
// The one error vocabulary (docs/conventions.md, "Error policy"): what a failed operation means for its
// caller, whatever the driver underneath. Driver modules keep their own detail (SQLSTATE, server
// codes) and map onto a Status at their boundary; every HTTP route turns a kind into a status code
// through HttpStatus.

#include <string>
#include <string_view>
#include <utility>

namespace ces::common {

enum class ErrorKind {
  kRetry,        // transient: connection lost, failover, deadlock, timeout; the same call can succeed later
  kBadData,      // the input was refused (a parameter, a value, a record); retrying it fails again
  kNotFound,     // what was asked for does not exist (yet)
  kUnavailable,  // a dependency is down or overloaded; the caller reports it and retries later
  kInternal,     // a statement or invariant the code got wrong: a bug, not the input
};

std::string_view ToString(ErrorKind kind);

// The HTTP status of an error kind, for every route: 503 kRetry/kUnavailable, 400 kBadData,
// 404 kNotFound, 500 kInternal.
int HttpStatus(ErrorKind kind);

// {"code":<status>,"message":"…"[,"parameter":"…"]}: the JSON error body of every route.
std::string ErrorJson(int http_status, std::string_view message, std::string_view parameter = {});

struct Status {
  bool ok = true;
  ErrorKind kind = ErrorKind::kInternal;  // meaningful when !ok
  std::string message;                    // empty when ok

  static Status Ok() { return {}; }
  static Status Error(ErrorKind kind, std::string message) { return {false, kind, std::move(message)}; }
};

// A value or the status that says why there is none. `S` is a status type with `ok` and `S::Ok()`: a
// driver may keep its own (mongo::Result is Result<T, mongo::Status>, which also carries the server code).
template <class T, class S = Status>
struct Result {
  S status;
  T value{};

  bool ok() const { return status.ok; }
  static Result Ok(T v) { return {S::Ok(), std::move(v)}; }
  static Result Fail(S s) { return {std::move(s), T{}}; }
};

// PostgreSQL's SQLSTATE of a failed statement ("" when the server sent none, e.g. the connection
// broke), shared by the libpqxx (postgres) and libpq (query) drivers:
//   kRetry    no SQLSTATE, 08 connection, 57 operator intervention, 25006 read-only transaction,
//             53 insufficient resources, 40 rollback (deadlock, serialization), 55P03 lock, 58/XX system;
//   kBadData  class 22, data exception (a value the statement could not take);
//   kInternal anything else (constraint, syntax, undefined object: the statement itself was refused).
ErrorKind ClassifySqlState(std::string_view sqlstate);

}  // namespace ces::common
