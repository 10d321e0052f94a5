#pragma once
// The store-consume repository: applies a batch of model rows together with the Kafka positions
// that produced them in ONE transaction, with a compare-and-set on the positions (so a batch is
// applied exactly once even after a crash, an in-doubt commit, a failover or a zombie consumer),
// and the reward queue of 1.x eras (pending until the node RPC answered).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ces/model/rows.hpp"
#include "ces/postgres/connection.hpp"

namespace ces::postgres {

struct PartitionKey {
  std::string topic;
  std::int32_t partition = 0;
  bool operator<(const PartitionKey& o) const {
    return topic != o.topic ? topic < o.topic : partition < o.partition;
  }
  bool operator==(const PartitionKey& o) const = default;
};

// A partition of a batch: the stored position the batch starts from (nullopt: no row yet) and the
// position after it.
struct PositionUpdate {
  PartitionKey partition;
  std::optional<std::int64_t> expected;
  std::int64_t next = 0;
};

using StoredPositions = std::map<PartitionKey, std::optional<std::int64_t>>;

enum class ApplyStatus {
  kApplied,
  kConflict,  // the stored positions are not the expected ones: nothing written, see `stored`
  kFailed,    // see `error` (kRetry: reconnect and retry; kData: the rows were refused)
};

struct TableCount {
  const char* table;
  std::uint64_t rows;  // rows inserted or updated
};

struct ApplyResult {
  ApplyStatus status = ApplyStatus::kFailed;
  DbError error;
  StoredPositions stored;         // kConflict: the positions found for the batch's partitions
  std::vector<TableCount> written;
};

struct PendingRewards {
  std::int64_t era_id = 0;
  std::string switch_block_hash;
  std::int64_t attempts = 0;
};

// From this many rows of one table in a batch, the rows go by COPY (through a temporary table, the
// same ON CONFLICT rules): about twice as fast in the server for large batches; smaller tables go as
// multi-row INSERTs (fewer round trips).
inline constexpr std::size_t kDefaultCopyMinRows = 128;

class Store {
 public:
  explicit Store(Connection& connection, std::size_t copy_min_rows = kDefaultCopyMinRows);

  // Stored positions of `group` for these partitions (nullopt where none is stored).
  DbError LoadPositions(const std::string& group, const std::vector<PartitionKey>& partitions, StoredPositions& out);

  // One transaction: position compare-and-set for every partition of the batch, then the rows
  // (multi-row INSERT … ON CONFLICT, duplicates merged), then commit.
  ApplyResult Apply(const std::string& group, const std::vector<PositionUpdate>& positions, const model::Rows& rows);

  // 1.x eras whose rewards are pending (no Step with WriteEraInfo seen yet), oldest first.
  DbError PendingRewardEras(std::size_t limit, std::vector<PendingRewards>& out);
  // Stores an era's reward rows and marks its rewards (validator and delegator) complete, in one
  // transaction; does nothing if the era is no longer pending (its Step arrived meanwhile).
  DbError CompleteRewards(std::int64_t era_id, const model::Rows& rows);
  DbError RecordRewardsFailure(std::int64_t era_id, const std::string& error);

  // 2.x eras (rewards from era_end) whose per-delegator rewards are pending, oldest first.
  DbError PendingDelegatorRewardEras(std::size_t limit, std::vector<PendingRewards>& out);
  // Stores an era's delegator reward rows and marks them complete (one transaction; nothing if the
  // era is no longer pending).
  DbError CompleteDelegatorRewards(std::int64_t era_id, const model::Rows& rows);
  DbError RecordDelegatorRewardsFailure(std::int64_t era_id, const std::string& error);

 private:
  Connection& connection_;
  std::size_t copy_min_rows_;
};

}  // namespace ces::postgres
