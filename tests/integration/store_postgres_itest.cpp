// ces::postgres against the stack's PostgreSQL (own database per test): migrations, the
// exactly-once position compare-and-set, upserts of the same block/transaction from two nodes,
// numeric/timestamptz/text encodings.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "ces/model/parser.hpp"
#include "ces/postgres/migrations.hpp"
#include "ces/postgres/store.hpp"
#include "store_itest_support.hpp"

namespace ces::test {
namespace {

std::string EventFile(const std::string& relative) {
  std::string text = ReadFile(RecordingsDir() + "/" + relative);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

model::Rows Parse(const std::vector<std::string>& payloads) {
  model::Parser parser;
  model::Rows rows;
  for (const auto& p : payloads) EXPECT_NE(parser.Parse(p, rows).outcome, model::Outcome::kRejected);
  return rows;
}

struct Db {
  std::string uri = CreateDatabase();
  postgres::Connection conn{uri};
  Db() {
    postgres::Migrate(conn);
  }
};

postgres::ApplyResult Apply(postgres::Store& store, const model::Rows& rows, std::optional<std::int64_t> expected,
                            std::int64_t next, const std::string& group = "g") {
  return store.Apply(group, {{{"t-main", 0}, expected, next}}, rows);
}

TEST(StorePostgres, MigrateIsVersionedIdempotentAndChecked) {
  const std::string uri = CreateDatabase();
  postgres::Connection conn(uri);
  EXPECT_EQ(postgres::SchemaVersion(conn), 0);
  EXPECT_THROW(postgres::RequireCurrentSchema(conn), std::runtime_error);
  postgres::MigrateResult first = postgres::Migrate(conn);
  EXPECT_EQ(first.from_version, 0);
  EXPECT_EQ(first.to_version, postgres::LatestSchemaVersion());
  EXPECT_EQ(first.applied.size(), postgres::Migrations().size());
  postgres::MigrateResult second = postgres::Migrate(conn);
  EXPECT_TRUE(second.applied.empty());
  EXPECT_EQ(second.from_version, postgres::LatestSchemaVersion());
  EXPECT_NO_THROW(postgres::RequireCurrentSchema(conn));
  EXPECT_EQ(Count(conn, "schema_migrations"), static_cast<long>(postgres::Migrations().size()));
  EXPECT_EQ(Scalar(conn, "SELECT checksum FROM schema_migrations WHERE version = 1"),
            postgres::MigrationChecksum(postgres::Migrations()[0]));

  // The fixed table names.
  for (const char* table : {"blocks", "transactions", "transfers", "eras", "era_validators", "validator_rewards",
                            "delegator_rewards", "bids", "withdrawals", "faults", "finality_signatures", "steps",
                            "rejected_events", "consumer_positions", "schema_migrations"}) {
    EXPECT_EQ(Scalar(conn, std::string("SELECT to_regclass('") + table + "') IS NOT NULL"), "t") << table;
  }
  // Motes: numeric without precision/scale; times: timestamptz.
  EXPECT_EQ(Scalar(conn,
                   "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' AND data_type = "
                   "'numeric' AND (numeric_precision IS NOT NULL OR numeric_scale IS NOT NULL)"),
            "0");
  EXPECT_EQ(Scalar(conn,
                   "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' AND data_type = "
                   "'timestamp without time zone'"),
            "0");
  EXPECT_EQ(Scalar(conn, "SELECT data_type FROM information_schema.columns WHERE table_name = 'transfers' AND "
                         "column_name = 'amount'"),
            "numeric");

  // An edited migration is refused, as is a database newer than the binary.
  conn.Execute("UPDATE schema_migrations SET checksum = 'x' WHERE version = 1");
  EXPECT_THROW(postgres::Migrate(conn), std::runtime_error);
  EXPECT_THROW(postgres::RequireCurrentSchema(conn), std::runtime_error);
  conn.Execute("UPDATE schema_migrations SET checksum = '" + postgres::MigrationChecksum(postgres::Migrations()[0]) +
               "' WHERE version = 1");
  conn.Execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (999, 'future', 'f')");
  EXPECT_THROW(postgres::Migrate(conn), std::runtime_error);
  EXPECT_THROW(postgres::RequireCurrentSchema(conn), std::runtime_error);
}

TEST(StorePostgres, ConcurrentMigratorsApplyOnce) {
  const std::string uri = CreateDatabase();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      postgres::Connection conn(uri);
      try {
        postgres::Migrate(conn);
        ++ok;
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 4);
  postgres::Connection conn(uri);
  EXPECT_EQ(Count(conn, "schema_migrations"), static_cast<long>(postgres::Migrations().size()));
}

TEST(StorePostgres, PositionsAreACompareAndSet) {
  Db db;
  postgres::Store store(db.conn);
  model::Rows sig = Parse({EventFile("v2/events/FinalitySignature.json")});
  // First batch of a partition: no stored position yet.
  auto r1 = Apply(store, sig, std::nullopt, 10);
  ASSERT_EQ(r1.status, postgres::ApplyStatus::kApplied) << r1.error.message;
  // The same batch again (e.g. a retry after an in-doubt commit): conflict, nothing written twice.
  auto r2 = Apply(store, sig, std::nullopt, 10);
  ASSERT_EQ(r2.status, postgres::ApplyStatus::kConflict);
  EXPECT_EQ(r2.stored.at({"t-main", 0}), 10);
  // A batch that starts where the position is.
  model::Rows block = Parse({EventFile("v2/events/BlockAdded.json")});
  ASSERT_EQ(Apply(store, block, 10, 20).status, postgres::ApplyStatus::kApplied);
  // A stale writer (a zombie that still thinks the position is 10) writes nothing.
  model::Rows fault = Parse({EventFile("v2/events/Fault.json")});
  auto r3 = Apply(store, fault, 10, 30);
  ASSERT_EQ(r3.status, postgres::ApplyStatus::kConflict);
  EXPECT_EQ(r3.stored.at({"t-main", 0}), 20);
  EXPECT_EQ(Count(db.conn, "faults"), 0);
  EXPECT_EQ(Count(db.conn, "finality_signatures"), 1);
  EXPECT_EQ(Count(db.conn, "blocks"), 1);
  EXPECT_EQ(Scalar(db.conn, "SELECT next_offset FROM consumer_positions WHERE group_id = 'g'"), "20");
  // Groups are independent.
  EXPECT_EQ(Apply(store, fault, std::nullopt, 5, "other").status, postgres::ApplyStatus::kApplied);
  postgres::StoredPositions loaded;
  ASSERT_FALSE(store.LoadPositions("g", {{"t-main", 0}, {"t-main", 1}}, loaded));
  EXPECT_EQ(loaded.at({"t-main", 0}), 20);
  EXPECT_FALSE(loaded.at({"t-main", 1}).has_value());
}

// The tests that write every kind of row run both ways a batch reaches the server: multi-row INSERTs
// with literals, and COPY through the temporary tables.
class StoreWays : public ::testing::TestWithParam<std::size_t> {};
INSTANTIATE_TEST_SUITE_P(StorePostgres, StoreWays, ::testing::Values(SIZE_MAX, 1),
                         [](const ::testing::TestParamInfo<std::size_t>& param) {
                           return param.param == 1 ? std::string("Copy") : std::string("Insert");
                         });

TEST_P(StoreWays, SameBlockAndTransactionFromTwoNodesIsOneRow) {
  Db db;
  postgres::Store store(db.conn, GetParam());
  const std::vector<std::string> events = {
      EventFile("v2/events/BlockAdded.era_end.json"),     EventFile("v2/events/TransactionAccepted.Deploy.json"),
      EventFile("v2/events/TransactionProcessed.Deploy.json"), EventFile("v2/events/FinalitySignature.json"),
      EventFile("v2/events/TransactionProcessed.Version1.json"), EventFile("v2/events/Step.json"),
      EventFile("v2/events/Fault.json")};
  // Node A and node B in one batch (duplicates inside one statement) ...
  std::vector<std::string> twice = events;
  twice.insert(twice.end(), events.begin(), events.end());
  ASSERT_EQ(store.Apply("g", {{{"a", 0}, std::nullopt, 1}, {{"b", 0}, std::nullopt, 1}}, Parse(twice)).status,
            postgres::ApplyStatus::kApplied);
  // ... and node C in a later batch.
  ASSERT_EQ(Apply(store, Parse(events), std::nullopt, 1).status, postgres::ApplyStatus::kApplied);
  EXPECT_EQ(Count(db.conn, "blocks"), 1);
  EXPECT_EQ(Count(db.conn, "transactions"), 2);
  EXPECT_EQ(Count(db.conn, "transfers"), 2);
  EXPECT_EQ(Count(db.conn, "finality_signatures"), 1);
  EXPECT_EQ(Count(db.conn, "eras"), 2);
  EXPECT_EQ(Count(db.conn, "era_validators"), 5);
  EXPECT_EQ(Count(db.conn, "validator_rewards"), 10);
  EXPECT_EQ(Count(db.conn, "steps"), 1);
  EXPECT_EQ(Count(db.conn, "faults"), 1);
  EXPECT_EQ(Count(db.conn, "bids"), 1);
  // The Deploy's lifecycle merged: accepted (payment from TransactionAccepted) and processed (cost).
  auto row = db.conn.Query(
      "SELECT status, accepted, payment_amount::text, cost::text, success, block_hash FROM transactions WHERE "
      "transaction_hash = 'cb04018ad3a09fc15fda0e5c18def392a135652c73c864c25968be9b2376c139'");
  ASSERT_EQ(row.size(), 1u);
  EXPECT_EQ(*row[0][0], "processed");
  EXPECT_EQ(*row[0][1], "t");
  EXPECT_EQ(*row[0][2], "100000000");
  EXPECT_EQ(*row[0][3], "10000");
  EXPECT_EQ(*row[0][4], "f");
  EXPECT_EQ(*row[0][5], "3ad051b1df071e4d539eab28986bb55ec4fb5fd31f63942ed788738186709303");
}

TEST(StorePostgres, LifecycleInAnyOrderGivesTheSameRow) {
  const std::string accepted = EventFile("v2/events/TransactionAccepted.Deploy.json");
  const std::string processed = EventFile("v2/events/TransactionProcessed.Deploy.json");
  const std::string expired =
      R"({"TransactionExpired":{"transaction_hash":{"Deploy":"cb04018ad3a09fc15fda0e5c18def392a135652c73c864c25968be9b2376c139"}}})";
  std::vector<std::string> digests;
  for (const auto& order : std::vector<std::vector<std::string>>{
           {accepted, processed}, {processed, accepted}, {accepted, expired, processed}, {processed, expired, accepted}}) {
    Db db;
    postgres::Store store(db.conn);
    std::int64_t offset = 0;
    for (const auto& e : order) {
      ASSERT_EQ(Apply(store, Parse({e}), offset ? std::optional<std::int64_t>(offset) : std::nullopt, offset + 1).status,
                postgres::ApplyStatus::kApplied);
      ++offset;
    }
    digests.push_back(Digest(db.conn, "transactions"));
  }
  for (const auto& d : digests) EXPECT_EQ(d, digests[0]);
}

TEST_P(StoreWays, ValuesAreStoredExactly) {
  Db db;
  postgres::Store store(db.conn, GetParam());
  const std::string u512_max =
      "13407807929942597099574024998205846127479365820592393377723561443721764030073546976801874298166903427690031858186"
      "486050853753882811946569946433649006084095";
  std::string payload = EventFile("v2/events/TransactionProcessed.Version1.json");
  payload.replace(payload.find("\"amount\":\"3\""), 12, "\"amount\":\"" + u512_max + "\"");
  payload.replace(payload.find("\"error_message\":null"), 20,
                  R"("error_message":"it's a \\ \"quoted\" \u0000 message \u00e9 \ud83d\ude00")");
  model::Rows rows = Parse({payload, EventFile("v2/events/BlockAdded.era_end.json"),
                            R"({"Fault":{"era_id":4591448806312642506,"public_key":"012fa85eb06279da42e68530e1116be04bfd2aaa5ed8d63401ebff4d9153a609a9","timestamp":"2020-08-07T01:26:58.364Z"}})"});
  model::RejectedEventRow rejected;
  rejected.source = "http://node:9999";
  rejected.stream = "events";
  rejected.event_id = 7;
  rejected.topic = "t-main";
  rejected.reason = "unknown event type X";
  rejected.payload_head = std::string("bad \xff\xfe bytes ' \\ \0 end", 22);
  rows.rejected_events.push_back(rejected);
  auto r = Apply(store, rows, std::nullopt, 1);
  ASSERT_EQ(r.status, postgres::ApplyStatus::kApplied) << r.error.message;
  EXPECT_EQ(Scalar(db.conn, "SELECT amount::text FROM transfers WHERE transfer_index = 0"), u512_max);
  EXPECT_EQ(Scalar(db.conn, "SELECT error_message FROM transactions"), "it's a \\ \"quoted\"  message \xc3\xa9 \xf0\x9f\x98\x80");
  EXPECT_EQ(Scalar(db.conn, "SELECT success::text FROM transactions"), "false");
  EXPECT_EQ(Scalar(db.conn, "SELECT era_id::text FROM faults"), "4591448806312642506");
  EXPECT_EQ(Scalar(db.conn, "SELECT weight::text FROM era_validators ORDER BY public_key LIMIT 1"),
            "5929074306476323385");
  EXPECT_EQ(Scalar(db.conn, "SELECT ttl::text FROM transactions"), "00:30:00");
  EXPECT_EQ(Scalar(db.conn, "SELECT to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS') FROM blocks"), "2024-06-12T13:53:00.592");
  EXPECT_EQ(Scalar(db.conn, "SELECT payload_head FROM rejected_events"), "bad ?? bytes ' \\  end");
  EXPECT_EQ(Scalar(db.conn, "SELECT sum(amount)::text FROM validator_rewards"), "55000000000000060");
}

// Every recorded event, parsed into one batch.
model::Rows EveryRecording() {
  model::Parser parser;
  model::Rows rows;
  std::size_t stored = 0;
  for (const char* file : {"v1/main.stream", "v1/deploys.stream", "v1/sigs.stream", "v2/events.stream",
                           "v2/raw/casper-java-sdk/events-with-deploy.txt",
                           "v1/raw/casper-sidecar/usage-1.5.2-shutdown-restart.stream"}) {
    for (const auto& ev : ReadRecording(RecordingsDir() + "/" + file)) {
      stored += parser.Parse(ev.data, rows).outcome == model::Outcome::kStored;
    }
  }
  EXPECT_GT(stored, 1000u);
  return rows;
}

TEST(StorePostgres, CopyAndInsertGiveTheSameTables) {
  const model::Rows rows = EveryRecording();
  std::vector<std::map<std::string, std::string>> digests;
  for (std::size_t copy_min_rows : {SIZE_MAX, std::size_t{1}, postgres::kDefaultCopyMinRows}) {
    Db db;
    postgres::Store store(db.conn, copy_min_rows);
    // Twice (two nodes): the second batch conflicts with every row of the first.
    ASSERT_EQ(Apply(store, rows, std::nullopt, 1).status, postgres::ApplyStatus::kApplied);
    auto r = Apply(store, rows, 1, 2);
    ASSERT_EQ(r.status, postgres::ApplyStatus::kApplied) << r.error.message;
    digests.push_back(Digests(db.conn));
  }
  EXPECT_EQ(digests[1], digests[0]);
  EXPECT_EQ(digests[2], digests[0]);
}

// Bids go by COPY straight into their table when none of their transactions is stored yet (the check
// runs first, in the same transaction). A writer that stores one of the keys after that check makes
// the copy fail with a unique violation: the batch is then written again, whole and with its
// positions, through the conflict rule (the other writer's row stays).
TEST(StorePostgres, ADirectCopyThatMeetsAKeyStoredMeanwhileIsWrittenThroughTheConflictRule) {
  Db db;
  const model::Rows rows = Parse({EventFile("v1/events/DeployProcessed.withdraw_bid.json")});
  ASSERT_GE(rows.bids.size(), postgres::kDefaultCopyMinRows);
  const model::BidRow& first = rows.bids.front();
  postgres::Connection other(db.uri);
  other.ExecuteNoTransaction(
      "BEGIN; INSERT INTO bids (transaction_hash, effect_index, entry_index, bid_key, kind) VALUES (" +
      postgres::QuoteLiteral(first.transaction_hash) + ", " + std::to_string(first.effect_index) + ", " +
      std::to_string(first.entry_index) + ", 'other', 'other')");
  postgres::ApplyResult result;
  std::thread writer([&] {
    postgres::Store store(db.conn);
    result = Apply(store, rows, std::nullopt, 1);
  });
  // The copy waits for the other transaction, which holds one of its keys.
  postgres::Connection watcher(db.uri);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (Count(watcher, "pg_stat_activity", "datname = current_database() AND wait_event_type = 'Lock'") == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(Count(watcher, "pg_stat_activity", "datname = current_database() AND wait_event_type = 'Lock'"), 1);
  other.ExecuteNoTransaction("COMMIT");
  writer.join();
  ASSERT_EQ(result.status, postgres::ApplyStatus::kApplied) << result.error.message;
  EXPECT_EQ(Count(watcher, "bids"), static_cast<long>(rows.bids.size()));
  EXPECT_EQ(Count(watcher, "bids", "bid_key = 'other'"), 1);
  EXPECT_EQ(Count(watcher, "withdrawals"), static_cast<long>(rows.withdrawals.size()));
  EXPECT_EQ(Scalar(watcher, "SELECT next_offset FROM consumer_positions WHERE group_id = 'g'"), "1");
}

TEST_P(StoreWays, EveryRecordingIsStored) {
  Db db;
  postgres::Store store(db.conn, GetParam());
  const model::Rows rows = EveryRecording();
  auto r = Apply(store, rows, std::nullopt, 1);
  ASSERT_EQ(r.status, postgres::ApplyStatus::kApplied) << r.error.message;
  EXPECT_EQ(Count(db.conn, "rejected_events"), 0);
  EXPECT_EQ(Count(db.conn, "bids"), 517 + 2);
  EXPECT_EQ(Count(db.conn, "withdrawals"), 2);
  // 1.x switch blocks wait for the node RPC; 2.x ones carry their rewards.
  EXPECT_EQ(Count(db.conn, "eras", "rewards_status = 'pending'"), 2);
  EXPECT_EQ(Count(db.conn, "eras", "rewards_status = 'complete' AND rewards_source = 'era_end'"), 14);
  std::vector<postgres::PendingRewards> pending;
  ASSERT_FALSE(store.PendingRewardEras(10, pending));
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[1].era_id, 6930);
  EXPECT_EQ(pending[1].switch_block_hash, "153d7a0d0313033cf4636187c02f44d9c68de5c273fa075f8a0e479700a7f4ee");
  // The flags of era 6930: one inactive validator, no equivocator (not inverted).
  EXPECT_EQ(Count(db.conn, "era_validators", "era_id = 6930 AND is_inactive"), 1);
  EXPECT_EQ(Scalar(db.conn, "SELECT public_key FROM era_validators WHERE era_id = 6930 AND is_inactive"),
            "0154d7afd43a7b1033259f7a1675edbc3e1c998927d6835e045e7d57e64cabfb32");
  EXPECT_EQ(Count(db.conn, "era_validators", "era_id = 6930 AND is_equivocator"), 0);
  EXPECT_EQ(Count(db.conn, "era_validators", "era_id = 6931 AND weight IS NOT NULL"), 100);

  // Completing the rewards of a pending era (what the RPC worker does).
  model::Rows rewards;
  model::ValidatorRewardRow v;
  v.era_id = 6930;
  v.public_key = "01018525deae6091abccab6704a0fa44e12c495eec9e8fe6929862e1b75580e715";
  v.amount = "123";
  v.source = "rpc";
  rewards.validator_rewards.push_back(v);
  ASSERT_FALSE(store.RecordRewardsFailure(6930, "node down"));
  EXPECT_EQ(Scalar(db.conn, "SELECT rewards_error FROM eras WHERE era_id = 6930"), "node down");
  ASSERT_FALSE(store.CompleteRewards(6930, rewards));
  EXPECT_EQ(Scalar(db.conn, "SELECT rewards_status || ' ' || rewards_source || ' ' || rewards_attempts FROM eras WHERE "
                            "era_id = 6930"),
            "complete rpc 2");
  // A duplicate switch block from another node does not make a complete era pending again.
  model::Rows again = Parse({EventFile("v1/events/BlockAdded.era_end.json")});
  ASSERT_EQ(Apply(store, again, 1, 2).status, postgres::ApplyStatus::kApplied);
  EXPECT_EQ(Scalar(db.conn, "SELECT rewards_status FROM eras WHERE era_id = 6930"), "complete");
}

// The v1 Step with its era set to 6930 and a WriteEraInfo transform for era 6930 appended (no
// recording holds one; node format of casper-node 1.5).
std::string StepWithRewardsOfEra6930() {
  std::string step = EventFile("v1/events/Step.json");
  step.replace(0, std::string(R"({"Step":{"era_id":1,)").size(), R"({"Step":{"era_id":6930,)");
  step.resize(step.size() - 4);  // "]}}}"
  return step +
         R"(,{"key":"era-6930","transform":{"WriteEraInfo":{"seigniorage_allocations":[)"
         R"({"Validator":{"validator_public_key":"01018525deae6091abccab6704a0fa44e12c495eec9e8fe6929862e1b75580e715","amount":"2914012300000"}},)"
         R"({"Delegator":{"delegator_public_key":"0101b57c4bf013a837995365e25036f1ddf83f3acd690763b3736101dd35df934b",)"
         R"("validator_public_key":"01018525deae6091abccab6704a0fa44e12c495eec9e8fe6929862e1b75580e715","amount":"84217776"}}]}}}]}}})";
}

TEST(StorePostgres, StepRewardsAndSwitchBlockGiveTheSameEraInAnyOrder) {
  const std::string step = StepWithRewardsOfEra6930();
  const std::string block = EventFile("v1/events/BlockAdded.era_end.json");
  std::vector<std::map<std::string, std::string>> digests;
  for (const std::vector<std::vector<std::string>>& batches :
       std::vector<std::vector<std::vector<std::string>>>{{{block}, {step}},
                                                          {{step}, {block}},
                                                          {{step, block}},
                                                          {{block, step}, {step}, {block}}}) {
    Db db;
    postgres::Store store(db.conn);
    std::int64_t position = 0;
    for (const auto& batch : batches) {
      auto r = Apply(store, Parse(batch), position == 0 ? std::nullopt : std::optional<std::int64_t>(position),
                     position + 1);
      ASSERT_EQ(r.status, postgres::ApplyStatus::kApplied) << r.error.message;
      ++position;
    }
    EXPECT_EQ(Scalar(db.conn, "SELECT rewards_status || ' ' || rewards_source || ' ' || delegator_rewards_status || ' ' "
                              "|| last_block_height FROM eras WHERE era_id = 6930"),
              "complete step complete 1239489");
    EXPECT_EQ(Count(db.conn, "validator_rewards", "era_id = 6930 AND source = 'step'"), 1);
    EXPECT_EQ(Count(db.conn, "delegator_rewards", "era_id = 6930 AND source = 'step'"), 1);
    std::vector<postgres::PendingRewards> pending;
    ASSERT_FALSE(store.PendingRewardEras(10, pending));
    EXPECT_TRUE(pending.empty());  // the RPC worker skips it
    // A late RPC answer for the same era changes nothing.
    model::Rows late;
    model::ValidatorRewardRow v;
    v.era_id = 6930;
    v.public_key = "0102112a711eb3bee9043ebf036fbdfd4482f0e37d1a65627e09922943713973f8";
    v.amount = "1";
    v.source = "rpc";
    late.validator_rewards.push_back(v);
    ASSERT_FALSE(store.CompleteRewards(6930, late));
    digests.push_back(Digests(db.conn));
  }
  for (std::size_t i = 1; i < digests.size(); ++i) EXPECT_EQ(digests[i], digests[0]) << "order " << i;
}

TEST(StorePostgres, TwoXDelegatorRewardsArePendingUntilCompleted) {
  Db db;
  postgres::Store store(db.conn);
  ASSERT_EQ(Apply(store, Parse({EventFile("v2/events/BlockAdded.era_end.json")}), std::nullopt, 1).status,
            postgres::ApplyStatus::kApplied);
  std::vector<postgres::PendingRewards> pending;
  ASSERT_FALSE(store.PendingRewardEras(10, pending));
  EXPECT_TRUE(pending.empty());
  ASSERT_FALSE(store.PendingDelegatorRewardEras(10, pending));
  ASSERT_EQ(pending.size(), 1u);
  const std::int64_t era = pending[0].era_id;
  EXPECT_EQ(Scalar(db.conn, "SELECT rewards_status || ' ' || delegator_rewards_status FROM eras WHERE era_id = " +
                                std::to_string(era)),
            "complete pending");
  ASSERT_FALSE(store.RecordDelegatorRewardsFailure(era, "node down"));
  model::Rows rows;
  model::DelegatorRewardRow d;
  d.era_id = era;
  d.delegator_public_key = "0101b57c4bf013a837995365e25036f1ddf83f3acd690763b3736101dd35df934b";
  d.validator_public_key = "01018525deae6091abccab6704a0fa44e12c495eec9e8fe6929862e1b75580e715";
  d.amount = "5";
  d.source = "rpc";
  rows.delegator_rewards.push_back(d);
  ASSERT_FALSE(store.CompleteDelegatorRewards(era, rows));
  EXPECT_EQ(Scalar(db.conn, "SELECT delegator_rewards_status || ' ' || delegator_rewards_attempts || ' ' || "
                            "coalesce(delegator_rewards_error, '-') FROM eras WHERE era_id = " + std::to_string(era)),
            "complete 2 -");
  EXPECT_EQ(Count(db.conn, "delegator_rewards"), 1);
  // The same switch block again (another node) does not make it pending again.
  ASSERT_EQ(Apply(store, Parse({EventFile("v2/events/BlockAdded.era_end.json")}), 1, 2).status,
            postgres::ApplyStatus::kApplied);
  ASSERT_FALSE(store.PendingDelegatorRewardEras(10, pending));
  EXPECT_TRUE(pending.empty());
}

TEST(StorePostgres, ConnectionErrorsAreRetryableValues) {
  postgres::Connection conn("postgresql://postgres@127.0.0.1:" + std::to_string(FreePort()) + "/nothing");
  postgres::DbError e = conn.Connect();
  EXPECT_EQ(e.kind, postgres::ErrorKind::kRetry);
  EXPECT_FALSE(conn.IsOpen());
  postgres::Store store(conn);
  auto r = store.Apply("g", {{{"t", 0}, std::nullopt, 1}}, model::Rows{});
  EXPECT_EQ(r.status, postgres::ApplyStatus::kFailed);
  EXPECT_EQ(r.error.kind, postgres::ErrorKind::kRetry);
  EXPECT_EQ(postgres::WithConnectDefaults("postgresql://h/db"),
            "postgresql://h/db?connect_timeout=5&application_name=casper-event-store");
  EXPECT_EQ(postgres::WithConnectDefaults("postgresql://h1,h2/db?target_session_attrs=read-write&connect_timeout=2"),
            "postgresql://h1,h2/db?target_session_attrs=read-write&connect_timeout=2&application_name=casper-event-store");
  EXPECT_EQ(postgres::WithConnectDefaults("host=h dbname=d"),
            "host=h dbname=d connect_timeout=5 application_name=casper-event-store");
}

}  // namespace
}  // namespace ces::test
