#pragma once
// Private to ces::postgres: the libpqxx handle behind Connection, and error classification.

#include <pqxx/pqxx>

#include <exception>
#include <memory>
#include <string>

#include "ces/postgres/connection.hpp"

namespace ces::postgres {

struct Connection::Impl {
  std::string uri;
  std::unique_ptr<pqxx::connection> conn;
};

// Maps a libpqxx (or other) exception to what the caller should do about it.
DbError Classify(const std::exception& error);

}  // namespace ces::postgres
