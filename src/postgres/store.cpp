#include "ces/postgres/store.hpp"

#include <map>
#include <string>
#include <string_view>

#include <pqxx/tablewriter>

#include "connection_impl.hpp"
#include "sql.hpp"

namespace ces::postgres {
namespace {

// Rows per multi-row INSERT.
constexpr std::size_t kInsertChunk = 1000;

DbError NotConnected() { return DbError{ErrorKind::kRetry, "not connected to PostgreSQL", ""}; }

// "(topic, partition) IN (…)" for a list of partitions.
std::string PartitionFilter(const std::vector<PartitionKey>& partitions) {
  SqlWriter w;
  w.Raw("(topic, kafka_partition) IN (");
  for (std::size_t i = 0; i < partitions.size(); ++i) {
    if (i) w.Raw(",");
    w.Raw("(").Text(partitions[i].topic).Raw(",").Int(partitions[i].partition).Raw(")");
  }
  w.Raw(")");
  return std::move(w.str());
}

StoredPositions ReadPositions(pqxx::transaction_base& tx, const std::string& group,
                              const std::vector<PartitionKey>& partitions) {
  StoredPositions out;
  for (const auto& p : partitions) out[p] = std::nullopt;
  if (partitions.empty()) return out;
  SqlWriter w;
  w.Raw("SELECT topic, kafka_partition, next_offset FROM consumer_positions WHERE group_id = ").Text(group);
  w.Raw(" AND ").Raw(PartitionFilter(partitions));
  for (const auto& row : tx.exec(w.str())) {
    out[{row[0].as<std::string>(), row[1].as<std::int32_t>()}] = row[2].as<std::int64_t>();
  }
  return out;
}

// SQLSTATE of a unique violation: a direct copy met a key written meanwhile by another writer.
constexpr const char* kUniqueViolation = "23505";

// Size from which the COPY text is cut, at the next line end, into another PQputCopyData.
constexpr std::size_t kCopyPieceBytes = 128u * 1024u;

void Copy(pqxx::transaction_base& tx, const std::string& table, const Statement& s) {
  // tablewriter is libpqxx 6's COPY FROM STDIN with raw lines (stream_to only takes typed rows);
  // its caveat on multibyte encodings concerns the field parsing it does not do here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  pqxx::tablewriter copy(tx, table, s.copy_columns.begin(), s.copy_columns.end());
#pragma GCC diagnostic pop
  // The lines (without a final newline: the writer ends each piece's last one) go in pieces of whole
  // lines. libpq copies each piece into its output buffer, which grows to the largest piece and keeps
  // that size for the connection's life: written whole, a batch's COPY text (up to 8 MiB) stayed
  // resident in an idle store-consume.
  std::string_view rest = s.copy_data;
  while (!rest.empty()) {
    const std::size_t end = rest.size() <= kCopyPieceBytes ? std::string_view::npos : rest.find('\n', kCopyPieceBytes);
    copy.write_raw_line(std::string(rest.substr(0, end)));
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
  }
  copy.complete();
}

// Runs one statement of a batch (see Statement); returns the rows its INSERT wrote. A copy statement
// goes straight into its table when `direct` and its direct_check finds none of its keys stored;
// otherwise it uses the session's temporary table ces_copy_<target>: created on first use in the
// session (IF NOT EXISTS: also after a reconnect), emptied at every commit or rollback.
std::uint64_t Execute(pqxx::transaction_base& tx, const Statement& s, bool direct) {
  if (s.copy_columns.empty()) return tx.exec(s.sql).affected_rows();
  if (direct && !s.direct_check.empty() && tx.exec(s.direct_check).empty()) {
    Copy(tx, s.target, s);
    return s.copy_rows;
  }
  const std::string temp = "ces_copy_" + s.target;
  tx.exec("SET LOCAL client_min_messages = warning; CREATE TEMP TABLE IF NOT EXISTS " + temp + " (LIKE " + s.target +
          " INCLUDING DEFAULTS) ON COMMIT DELETE ROWS");
  Copy(tx, temp, s);
  return tx.exec(s.sql).affected_rows();
}

// One transaction for a batch: the positions' compare-and-set, then the statements (direct copies when
// `direct`), then commit; or, when a position moved, where the positions are now.
ApplyResult ApplyStatements(Connection& connection, const std::string& group, const std::vector<PositionUpdate>& positions,
                            const std::vector<Statement>& statements, bool direct) {
  ApplyResult result;
  try {
    bool conflict = false;
    {
      pqxx::work tx(*connection.impl().conn);
      // 1. Compare-and-set of the positions: the rows are written only if nobody moved them.
      std::size_t present = 0, absent = 0;
      SqlWriter update, insert;
      update.Raw("WITH input(topic, kafka_partition, expected, next) AS (VALUES ");
      insert.Raw("INSERT INTO consumer_positions (group_id, topic, kafka_partition, next_offset) VALUES ");
      for (const PositionUpdate& p : positions) {
        if (p.expected) {
          if (present++) update.Raw(",");
          update.Raw("(").Text(p.partition.topic).Raw(",").Int(p.partition.partition).Raw("::integer,");
          update.Int(*p.expected).Raw("::bigint,").Int(p.next).Raw("::bigint)");
        } else {
          if (absent++) insert.Raw(",");
          insert.Raw("(").Text(group).Raw(",").Text(p.partition.topic).Raw(",").Int(p.partition.partition);
          insert.Raw(",").Int(p.next).Raw(")");
        }
      }
      if (present > 0) {
        update.Raw(") UPDATE consumer_positions p SET next_offset = input.next, updated_at = now() FROM input");
        update.Raw(" WHERE p.group_id = ").Text(group);
        update.Raw(" AND p.topic = input.topic AND p.kafka_partition = input.kafka_partition");
        update.Raw(" AND p.next_offset = input.expected");
        conflict = tx.exec(update.str()).affected_rows() != present;
      }
      if (!conflict && absent > 0) {
        insert.Raw(" ON CONFLICT (group_id, topic, kafka_partition) DO NOTHING");
        conflict = tx.exec(insert.str()).affected_rows() != absent;
      }
      if (!conflict) {
        // 2. The rows.
        std::map<const char*, std::uint64_t> written;
        for (const Statement& s : statements) written[s.table] += Execute(tx, s, direct);
        tx.commit();
        for (const auto& [table, n] : written) result.written.push_back({table, n});
        result.status = ApplyStatus::kApplied;
        return result;
      }
      tx.abort();
    }
    // 3. Someone else moved the positions (or this batch was committed before a lost connection):
    // report where they are now.
    std::vector<PartitionKey> keys;
    for (const auto& p : positions) keys.push_back(p.partition);
    pqxx::work tx(*connection.impl().conn);
    result.stored = ReadPositions(tx, group, keys);
    tx.commit();
    result.status = ApplyStatus::kConflict;
  } catch (const std::exception& e) {
    result.status = ApplyStatus::kFailed;
    result.error = Classify(e);
  }
  return result;
}

}  // namespace

Store::Store(Connection& connection, std::size_t copy_min_rows)
    : connection_(connection), copy_min_rows_(copy_min_rows) {}

DbError Store::LoadPositions(const std::string& group, const std::vector<PartitionKey>& partitions,
                             StoredPositions& out) {
  if (!connection_.IsOpen()) return NotConnected();
  try {
    pqxx::work tx(*connection_.impl().conn);
    out = ReadPositions(tx, group, partitions);
    tx.commit();
  } catch (const std::exception& e) {
    return Classify(e);
  }
  return {};
}

ApplyResult Store::Apply(const std::string& group, const std::vector<PositionUpdate>& positions,
                         const model::Rows& rows) {
  ApplyResult result;
  if (!connection_.IsOpen()) {
    result.error = NotConnected();
    return result;
  }
  std::vector<Statement> statements;
  BuildInserts(rows, statements, kInsertChunk, copy_min_rows_);
  result = ApplyStatements(connection_, group, positions, statements, true);
  // A direct copy met a key another writer stored after its check (two nodes' copies of a transaction
  // written at once): the whole transaction was rolled back; write it again through the conflict rules.
  if (result.status == ApplyStatus::kFailed && result.error.sqlstate == kUniqueViolation && connection_.IsOpen()) {
    result = ApplyStatements(connection_, group, positions, statements, false);
  }
  return result;
}

namespace {

DbError PendingEras(Connection& connection, const std::string& where, std::size_t limit,
                    std::vector<PendingRewards>& out, const char* attempts_column) {
  out.clear();
  if (!connection.IsOpen()) return NotConnected();
  try {
    pqxx::work tx(*connection.impl().conn);
    pqxx::result r = tx.exec(std::string("SELECT era_id, last_block_hash, ") + attempts_column + " FROM eras WHERE " +
                             where + " AND last_block_hash IS NOT NULL ORDER BY era_id LIMIT " + std::to_string(limit));
    tx.commit();
    for (const auto& row : r) {
      out.push_back({row[0].as<std::int64_t>(), row[1].as<std::string>(), row[2].as<std::int64_t>()});
    }
  } catch (const std::exception& e) {
    return Classify(e);
  }
  return {};
}

// Marks the era complete with `update` (which must only match a pending era) and, if it did, stores
// the rows in the same transaction.
DbError Complete(Connection& connection, const std::string& update, const model::Rows& rows,
                 std::size_t copy_min_rows) {
  if (!connection.IsOpen()) return NotConnected();
  std::vector<Statement> statements;
  BuildInserts(rows, statements, kInsertChunk, copy_min_rows);
  try {
    pqxx::work tx(*connection.impl().conn);
    pqxx::result r = tx.exec(update);
    if (r.affected_rows() == 0) return {};  // completed meanwhile (rolled back, nothing to do)
    for (const Statement& s : statements) Execute(tx, s, false);
    tx.commit();
  } catch (const std::exception& e) {
    return Classify(e);
  }
  return {};
}

DbError Fail(Connection& connection, const char* prefix, std::int64_t era_id, const std::string& error) {
  if (!connection.IsOpen()) return NotConnected();
  try {
    SqlWriter w;
    w.Raw("UPDATE eras SET ").Raw(prefix).Raw("_attempts = ").Raw(prefix).Raw("_attempts + 1, ").Raw(prefix);
    w.Raw("_error = ").Text(error.substr(0, 1000));
    w.Raw(" WHERE era_id = ").Int(era_id).Raw(" AND ").Raw(prefix).Raw("_status = 'pending'");
    pqxx::work tx(*connection.impl().conn);
    tx.exec(w.str());
    tx.commit();
  } catch (const std::exception& e) {
    return Classify(e);
  }
  return {};
}

}  // namespace

DbError Store::PendingRewardEras(std::size_t limit, std::vector<PendingRewards>& out) {
  return PendingEras(connection_, "rewards_status = 'pending'", limit, out, "rewards_attempts");
}

DbError Store::CompleteRewards(std::int64_t era_id, const model::Rows& rows) {
  return Complete(connection_,
                  "UPDATE eras SET rewards_status = 'complete', rewards_source = 'rpc', rewards_error = NULL,"
                  " rewards_attempts = rewards_attempts + 1, delegator_rewards_status = 'complete'"
                  " WHERE era_id = " + std::to_string(era_id) + " AND rewards_status = 'pending'",
                  rows, copy_min_rows_);
}

DbError Store::RecordRewardsFailure(std::int64_t era_id, const std::string& error) {
  return Fail(connection_, "rewards", era_id, error);
}

DbError Store::PendingDelegatorRewardEras(std::size_t limit, std::vector<PendingRewards>& out) {
  return PendingEras(connection_, "delegator_rewards_status = 'pending' AND rewards_source = 'era_end'", limit, out,
                     "delegator_rewards_attempts");
}

DbError Store::CompleteDelegatorRewards(std::int64_t era_id, const model::Rows& rows) {
  return Complete(connection_,
                  "UPDATE eras SET delegator_rewards_status = 'complete', delegator_rewards_error = NULL,"
                  " delegator_rewards_attempts = delegator_rewards_attempts + 1 WHERE era_id = " +
                      std::to_string(era_id) + " AND delegator_rewards_status = 'pending'",
                  rows, copy_min_rows_);
}

DbError Store::RecordDelegatorRewardsFailure(std::int64_t era_id, const std::string& error) {
  return Fail(connection_, "delegator_rewards", era_id, error);
}

}  // namespace ces::postgres
