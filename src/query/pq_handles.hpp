#pragma once
// Private: RAII handles over libpq (C API), so no path leaks a connection or a result.

#include <libpq-fe.h>

#include <memory>

namespace ces::query::detail {

struct PgConnDeleter {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
using PgConnPtr = std::unique_ptr<PGconn, PgConnDeleter>;

struct PgResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgResultPtr = std::unique_ptr<PGresult, PgResultDeleter>;

}  // namespace ces::query::detail
