#pragma once
// Versioned schema migrations, embedded in the binary and recorded in `schema_migrations`
// (version, name, checksum, applied_at). Each pending migration runs in its own transaction under an
// advisory lock, so concurrent `migrate` runs are safe and a second run is a no-op.

#include <string>
#include <string_view>
#include <vector>

namespace ces::postgres {

class Connection;

struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

// All migrations, ascending versions.
const std::vector<Migration>& Migrations();
int LatestSchemaVersion();
// Hex FNV-1a 64 of the migration's SQL, stored with it.
std::string MigrationChecksum(const Migration& migration);

struct MigrateResult {
  int from_version = 0;
  int to_version = 0;
  std::vector<int> applied;
};

// Applies the pending migrations. Throws std::runtime_error when the database cannot be reached,
// a migration fails (its transaction is rolled back), an applied migration's checksum differs from
// the embedded one, or the database has a version this binary does not know.
MigrateResult Migrate(Connection& connection);

// The highest applied version (0 for an empty database). Throws std::runtime_error on failure.
int SchemaVersion(Connection& connection);

// Throws std::runtime_error unless the database is exactly at LatestSchemaVersion() with matching
// checksums (the check store-consume runs at start without --migrate).
void RequireCurrentSchema(Connection& connection);

}  // namespace ces::postgres
