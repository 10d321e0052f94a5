#pragma once
// A PostgreSQL connection (libpqxx underneath, kept out of this header). Accepts libpq URIs and
// key=value strings, including multi-host URIs with target_session_attrs=read-write: libpq then picks
// the server that accepts writes, so a reconnect after a failover finds the promoted replica.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ces/common/status.hpp"

namespace ces::postgres {

// What a failed database operation means for the caller.
enum class ErrorKind {
  kNone,
  kRetry,  // connection lost, server shutting down or read-only, deadlock, serialization: retry
  kData,   // the server refused the statement's data or text: retrying the same statement fails again
};

struct DbError {
  ErrorKind kind = ErrorKind::kNone;
  std::string message;
  std::string sqlstate;
  explicit operator bool() const { return kind != ErrorKind::kNone; }
};

// The error vocabulary at the driver's boundary: kRetry stays, kData is common::ErrorKind::kBadData.
common::Status ToStatus(const DbError& error);

// Adds connect_timeout (when absent) and an application_name to a libpq URI or key=value string.
std::string WithConnectDefaults(const std::string& uri, int connect_timeout_s = 5);

class Connection {
 public:
  using Row = std::vector<std::optional<std::string>>;

  // Does not connect; see Connect().
  explicit Connection(std::string uri);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // (Re)connects. Returns an error value when no server (accepting writes, with the multi-host
  // read-write setting) can be reached.
  DbError Connect();
  void Disconnect();
  bool IsOpen() const;
  // "host:port" of the server this connection talks to, "" when closed.
  std::string Server() const;

  // Convenience for tools and tests: run SQL in one transaction. Throw std::runtime_error.
  std::vector<Row> Query(const std::string& sql);
  void Execute(const std::string& sql);
  // Outside a transaction (CREATE DATABASE, VACUUM). Throws std::runtime_error.
  void ExecuteNoTransaction(const std::string& sql);

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// Quotes a string as an SQL literal ('it''s'); for tools and tests.
std::string QuoteLiteral(const std::string& text);

}  // namespace ces::postgres
