#include "ces/postgres/connection.hpp"

#include <stdexcept>

#include "ces/common/status.hpp"
#include "connection_impl.hpp"

namespace ces::postgres {
namespace {

bool IsUri(const std::string& uri) {
  return uri.rfind("postgresql://", 0) == 0 || uri.rfind("postgres://", 0) == 0;
}

std::string AddParameter(const std::string& uri, const std::string& key, const std::string& value) {
  if (IsUri(uri)) {
    if (uri.find(key + "=") != std::string::npos) return uri;
    return uri + (uri.find('?') == std::string::npos ? "?" : "&") + key + "=" + value;
  }
  if (uri.find(key) != std::string::npos) return uri;
  return uri + (uri.empty() ? "" : " ") + key + "=" + value;
}


}  // namespace

std::string WithConnectDefaults(const std::string& uri, int connect_timeout_s) {
  std::string out = AddParameter(uri, "connect_timeout", std::to_string(connect_timeout_s));
  return AddParameter(out, "application_name", "casper-event-store");
}

DbError Classify(const std::exception& error) {
  DbError out;
  out.message = error.what();
  while (!out.message.empty() && (out.message.back() == '\n' || out.message.back() == ' ')) out.message.pop_back();
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&error)) {
    out.sqlstate = sql->sqlstate();
    // Connection exceptions, shutdown, a read-only replica, deadlocks...: the same statement can succeed
    // later. Anything else: the server refused the statement's data or text.
    out.kind = common::ClassifySqlState(out.sqlstate) == common::ErrorKind::kRetry ? ErrorKind::kRetry : ErrorKind::kData;
    return out;
  }
  if (dynamic_cast<const pqxx::usage_error*>(&error) || dynamic_cast<const pqxx::argument_error*>(&error) ||
      dynamic_cast<const pqxx::conversion_error*>(&error)) {
    out.kind = ErrorKind::kData;
    return out;
  }
  // broken_connection, in_doubt_error, transaction_rollback and anything else: retry on a new connection.
  out.kind = ErrorKind::kRetry;
  return out;
}

common::Status ToStatus(const DbError& error) {
  switch (error.kind) {
    case ErrorKind::kNone: return common::Status::Ok();
    case ErrorKind::kRetry: return common::Status::Error(common::ErrorKind::kRetry, error.message);
    case ErrorKind::kData: return common::Status::Error(common::ErrorKind::kBadData, error.message);
  }
  return common::Status::Error(common::ErrorKind::kInternal, error.message);
}

Connection::Connection(std::string uri) : impl_(std::make_unique<Impl>()) { impl_->uri = WithConnectDefaults(uri); }

Connection::~Connection() = default;

DbError Connection::Connect() {
  impl_->conn.reset();
  try {
    impl_->conn = std::make_unique<pqxx::connection>(impl_->uri);
  } catch (const std::exception& e) {
    DbError error = Classify(e);
    error.kind = ErrorKind::kRetry;
    return error;
  }
  return {};
}

void Connection::Disconnect() { impl_->conn.reset(); }

bool Connection::IsOpen() const { return impl_->conn && impl_->conn->is_open(); }

std::string Connection::Server() const {
  if (!IsOpen()) return "";
  const char* host = impl_->conn->hostname();
  const char* port = impl_->conn->port();
  return std::string(host ? host : "") + ":" + (port ? port : "");
}

std::vector<Connection::Row> Connection::Query(const std::string& sql) {
  if (!IsOpen()) {
    if (DbError e = Connect()) throw std::runtime_error("cannot connect to PostgreSQL: " + e.message);
  }
  try {
    pqxx::work tx(*impl_->conn);
    pqxx::result result = tx.exec(sql);
    tx.commit();
    std::vector<Row> rows;
    rows.reserve(result.size());
    for (const auto& r : result) {
      Row row;
      row.reserve(r.size());
      for (const auto& field : r) {
        if (field.is_null()) {
          row.emplace_back(std::nullopt);
        } else {
          row.emplace_back(std::string(field.c_str(), field.size()));
        }
      }
      rows.push_back(std::move(row));
    }
    return rows;
  } catch (const std::exception& e) {
    throw std::runtime_error(Classify(e).message);
  }
}

void Connection::Execute(const std::string& sql) { Query(sql); }

void Connection::ExecuteNoTransaction(const std::string& sql) {
  if (!IsOpen()) {
    if (DbError e = Connect()) throw std::runtime_error("cannot connect to PostgreSQL: " + e.message);
  }
  try {
    pqxx::nontransaction tx(*impl_->conn);
    tx.exec(sql);
  } catch (const std::exception& e) {
    throw std::runtime_error(Classify(e).message);
  }
}

std::string QuoteLiteral(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    if (c != '\0') out += c;
  }
  out += '\'';
  return out;
}

}  // namespace ces::postgres
