#include "ces/postgres/migrations.hpp"

#include <cstdint>
#include <cstdio>
#include <stdexcept>

#include "ces/postgres/connection.hpp"
#include "connection_impl.hpp"

namespace ces::postgres {
namespace {

// Serialises concurrent migrators (pg_advisory_xact_lock key).
constexpr std::int64_t kMigrationLock = 0x63657373746f7265;  // "cesstore"

constexpr const char* kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY,"
    " name text NOT NULL,"
    " checksum text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

void EnsureConnected(Connection& connection) {
  if (connection.IsOpen()) return;
  if (DbError e = connection.Connect()) throw std::runtime_error("cannot connect to PostgreSQL: " + e.message);
}

struct Applied {
  int version;
  std::string checksum;
};

std::vector<Applied> AppliedMigrations(pqxx::transaction_base& tx) {
  std::vector<Applied> out;
  pqxx::result exists = tx.exec("SELECT to_regclass('schema_migrations') IS NOT NULL");
  if (!exists[0][0].as<bool>()) return out;
  for (const auto& row : tx.exec("SELECT version, checksum FROM schema_migrations ORDER BY version")) {
    out.push_back({row[0].as<int>(), row[1].as<std::string>()});
  }
  return out;
}

const Migration* Find(int version) {
  for (const auto& m : Migrations()) {
    if (m.version == version) return &m;
  }
  return nullptr;
}

void CheckApplied(const std::vector<Applied>& applied) {
  for (const auto& a : applied) {
    const Migration* m = Find(a.version);
    if (!m) {
      throw std::runtime_error("the database has schema migration " + std::to_string(a.version) +
                               ", which this binary does not know (latest " + std::to_string(LatestSchemaVersion()) +
                               "): use a newer casper-event-store");
    }
    if (MigrationChecksum(*m) != a.checksum) {
      throw std::runtime_error("schema migration " + std::to_string(a.version) + " (" + std::string(m->name) +
                               ") differs from the one applied to the database (checksum " + a.checksum + ")");
    }
  }
}

}  // namespace

int LatestSchemaVersion() { return Migrations().empty() ? 0 : Migrations().back().version; }

std::string MigrationChecksum(const Migration& migration) {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : migration.sql) {
    hash ^= c;
    hash *= 0x100000001b3ull;
  }
  char out[17];
  std::snprintf(out, sizeof(out), "%016llx", static_cast<unsigned long long>(hash));
  return out;
}

int SchemaVersion(Connection& connection) {
  EnsureConnected(connection);
  try {
    pqxx::work tx(*connection.impl().conn);
    int version = 0;
    for (const auto& a : AppliedMigrations(tx)) version = std::max(version, a.version);
    tx.commit();
    return version;
  } catch (const std::exception& e) {
    throw std::runtime_error("reading the schema version: " + Classify(e).message);
  }
}

void RequireCurrentSchema(Connection& connection) {
  EnsureConnected(connection);
  std::vector<Applied> applied;
  try {
    pqxx::work tx(*connection.impl().conn);
    applied = AppliedMigrations(tx);
    tx.commit();
  } catch (const std::exception& e) {
    throw std::runtime_error("reading the schema version: " + Classify(e).message);
  }
  CheckApplied(applied);
  int version = 0;
  for (const auto& a : applied) version = std::max(version, a.version);
  if (version != LatestSchemaVersion()) {
    throw std::runtime_error("the database schema is at version " + std::to_string(version) + ", this binary needs " +
                             std::to_string(LatestSchemaVersion()) +
                             ": run `casper-event-store migrate --postgres URI` (or start with --migrate)");
  }
}

MigrateResult Migrate(Connection& connection) {
  EnsureConnected(connection);
  MigrateResult result;
  result.from_version = SchemaVersion(connection);
  result.to_version = result.from_version;
  for (const Migration& m : Migrations()) {
    try {
      pqxx::work tx(*connection.impl().conn);
      tx.exec("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLock) + ")");
      tx.exec(kCreateMigrationsTable);
      std::vector<Applied> applied = AppliedMigrations(tx);
      CheckApplied(applied);
      bool done = false;
      for (const auto& a : applied) done = done || a.version == m.version;
      if (!done) {
        tx.exec(std::string(m.sql));
        tx.exec("INSERT INTO schema_migrations (version, name, checksum) VALUES (" + std::to_string(m.version) + ", " +
                QuoteLiteral(std::string(m.name)) + ", " + QuoteLiteral(MigrationChecksum(m)) + ")");
        result.applied.push_back(m.version);
      }
      tx.commit();
      result.to_version = std::max(result.to_version, m.version);
    } catch (const std::runtime_error& e) {
      if (dynamic_cast<const pqxx::pqxx_exception*>(&e) == nullptr) throw;
      throw std::runtime_error("schema migration " + std::to_string(m.version) + " (" + std::string(m.name) +
                               ") failed and was rolled back: " + Classify(e).message);
    } catch (const std::exception& e) {
      throw std::runtime_error("schema migration " + std::to_string(m.version) + " (" + std::string(m.name) +
                               ") failed and was rolled back: " + Classify(e).message);
    }
  }
  return result;
}

}  // namespace ces::postgres
