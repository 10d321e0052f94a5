// emit (recordings or synthetic streams) -> produce -> Kafka -> store-consume -> PostgreSQL, with the
// real binary (and once with ces::store in process) against the local stack; each test has its own
// topic prefix and database.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <random>
#include <set>
#include <thread>

#include "ces/common/metrics.hpp"
#include "ces/common/shutdown.hpp"
#include "ces/http/server.hpp"
#include "ces/model/parser.hpp"
#include "ces/postgres/migrations.hpp"
#include "ces/store/consumer.hpp"
#include "store_itest_support.hpp"

namespace ces::test {
namespace {

// Distinct keys of the main tables in a stream file (what the database must hold).
struct Expected {
  std::set<std::string> blocks, transactions, signatures;
  std::size_t events = 0;
};

Expected ExpectedFrom(const std::string& file) {
  Expected e;
  model::Parser parser;
  for (const auto& ev : ReadRecording(file)) {
    if (!ev.id) continue;
    ++e.events;
    model::Rows rows;
    parser.Parse(ev.data, rows);
    for (const auto& b : rows.blocks) e.blocks.insert(b.block_hash);
    for (const auto& t : rows.transactions) e.transactions.insert(t.transaction_hash);
    for (const auto& s : rows.finality_signatures) e.signatures.insert(s.block_hash + s.public_key);
  }
  return e;
}

bool WaitCaughtUp(postgres::Connection& db, const std::string& group, const std::string& prefix,
                  std::chrono::milliseconds timeout) {
  const auto ends = EndOffsets(prefix);
  return WaitUntil([&] { return CaughtUp(db, group, ends); }, timeout);
}

TEST(StoreConsume, RecordingsOfBothProtocolsBecomeRows) {
  const std::string dir = TempDir();
  const std::string prefix = UniquePrefix();
  RecordingsPipeline pipeline = StartRecordingsPipeline(dir, prefix);
  ASSERT_FALSE(::testing::Test::HasFailure());
  const std::string uri = CreateDatabase();
  Service store = StartStore(dir, "store", prefix, uri);
  postgres::Connection db(uri);
  ASSERT_TRUE(WaitCaughtUp(db, "store-consumer", prefix, seconds(60))) << store.process->Log();
  EXPECT_EQ(HttpGet(store.url() + "/healthz").first, 200);
  EXPECT_EQ(HttpGet(store.url() + "/readyz").first, 200);

  EXPECT_EQ(Count(db, "blocks"), 16);
  EXPECT_EQ(Count(db, "block_transactions"), 4);
  EXPECT_EQ(Count(db, "transactions"), 14);
  EXPECT_EQ(Count(db, "transfers"), 4);  // withdraw_bid is success.json spliced: same deploy, same transfer
  EXPECT_EQ(Count(db, "eras"), 4);
  EXPECT_EQ(Count(db, "era_validators"), 205);
  EXPECT_EQ(Count(db, "validator_rewards"), 10);
  EXPECT_EQ(Count(db, "delegator_rewards"), 0);
  EXPECT_EQ(Count(db, "bids"), 519);
  EXPECT_EQ(Count(db, "withdrawals"), 2);
  EXPECT_EQ(Count(db, "faults"), 2);
  EXPECT_EQ(Count(db, "finality_signatures"), 11);
  EXPECT_EQ(Count(db, "steps"), 2);
  EXPECT_EQ(Count(db, "rejected_events"), 0);

  // Samples, one per table.
  EXPECT_EQ(Scalar(db, "SELECT height || ' ' || era_id || ' ' || proposer || ' ' || block_version || ' ' || "
                       "is_switch_block FROM blocks WHERE block_hash = "
                       "'22ea09946b4e651d997d5e84c139a1e31c21996d011f4834f28827acf76cc8d7'"),
            "3991 363 0169ecf91081889e013cf8c5bcd49679dd388eace2a532a1a32c381fc02c09a57b 2 true");
  EXPECT_EQ(Scalar(db, "SELECT lane || ' ' || transaction_kind FROM block_transactions WHERE transaction_hash = "
                       "'cb04018ad3a09fc15fda0e5c18def392a135652c73c864c25968be9b2376c139'"),
            "3 deploy");
  EXPECT_EQ(Scalar(db, "SELECT status || ' ' || accepted || ' ' || cost || ' ' || refund || ' ' || consumed FROM "
                       "transactions WHERE transaction_hash = "
                       "'968fafb41be4d4fb1c4b3c3647bb4803de12bff05bbaa8d16d1ef3b18fc47ee1'"),
            "processed false 10000000000 6876217231 831710358");
  EXPECT_EQ(Scalar(db, "SELECT status FROM transactions WHERE transaction_hash = "
                       "'f5582cb81a5abda63ebaa4edb3b05210ecbd63ffb8dd17bfbeb3b867f4014468'"),
            "expired");
  EXPECT_EQ(Scalar(db, "SELECT error_message FROM transactions WHERE transaction_hash = "
                       "'c7d0840f2275a18efcd716f425c06691f2ca1a0e6d7d7ecff49cab06c2428ee8'"),
            "ApiError::InvalidArgument [3]");
  EXPECT_EQ(Scalar(db, "SELECT amount || ' ' || from_account_hash || ' ' || to_account_hash FROM transfers WHERE "
                       "transfer_addr = '32e5ca0ca07ec3fc4f47f66d98ad95f4f92c4b665f12dd2d3780dacd1b513e95'"),
            "1000000000000 b383c7cc23d18bc1b42406a1b2d29fc8dba86425197b6f553d7fd61375b5e446 "
            "03f447795e9a598b0d80be9162c91cbbe1b278f3c48f9e18d4bbfe6427e9cebd");
  EXPECT_EQ(Scalar(db, "SELECT rewards_status || ' ' || rewards_source || ' ' || last_block_height FROM eras WHERE "
                       "era_id = 363"),
            "complete era_end 3991");
  EXPECT_EQ(Scalar(db, "SELECT rewards_status || ' ' || rewards_source FROM eras WHERE era_id = 6930"),
            "pending rpc");  // no --node-rpc: the 1.x rewards say they are pending
  EXPECT_EQ(Scalar(db, "SELECT delegator_rewards_status FROM eras WHERE era_id = 6930"), "pending");
  // 2.x: validator totals from era_end; per-delegator rewards wait for the node RPC.
  EXPECT_EQ(Scalar(db, "SELECT delegator_rewards_status FROM eras WHERE era_id = 363"), "pending");
  EXPECT_EQ(Count(db, "eras", "delegator_rewards_status IS NULL AND last_block_hash IS NOT NULL"), 0);
  EXPECT_EQ(Scalar(db, "SELECT first_block_height FROM eras WHERE era_id = 6931"), "1239490");
  EXPECT_EQ(Scalar(db, "SELECT count(*) FROM era_validators WHERE era_id = 6930 AND is_inactive AND public_key = "
                       "'0154d7afd43a7b1033259f7a1675edbc3e1c998927d6835e045e7d57e64cabfb32'"),
            "1");
  EXPECT_EQ(Scalar(db, "SELECT amount FROM validator_rewards WHERE era_id = 363 AND reward_index = 0 AND public_key = "
                       "'01195daa7ad97ae97c2e0905cedf14e6694c48a12e881e22b26cd0a06e4f205542'"),
            "18962280550448167");
  EXPECT_EQ(Scalar(db, "SELECT staked_amount || ' ' || delegation_rate FROM bids WHERE kind = 'validator' AND "
                       "bid_key = 'bid-080ef8dd1d2479776d9058cd08d5df91e37980b89124b4878ff79bb0f0c32e63'"),
            "12005548678314 5");
  EXPECT_EQ(Scalar(db, "SELECT amount || ' ' || era_of_creation FROM withdrawals WHERE entry_index = 0"),
            "121223797933712 7038");
  EXPECT_EQ(Scalar(db, "SELECT era_id FROM faults WHERE public_key = "
                       "'012fa85eb06279da42e68530e1116be04bfd2aaa5ed8d63401ebff4d9153a609a9'"),
            "45914488");
  EXPECT_EQ(Scalar(db, "SELECT block_height || ' ' || version FROM finality_signatures WHERE block_hash = "
                       "'e46d0c3b614685f21abc6af9b714f09aff8d041128cc1614bcfa126219ce9ec8' AND public_key = "
                       "'013b04e480554a5ab0ad31f4be55cce335736df867747ff393ac7f341fba58325a'"),
            "3981 2");
  EXPECT_EQ(Scalar(db, "SELECT effect_count || ' ' || format FROM steps WHERE era_id = 1"), "46 1");

  EXPECT_EQ(Metric(store.url(), "ces_store_consume_events_total{type=\"BlockAdded\"}"), 16);
  EXPECT_EQ(Metric(store.url(), "ces_store_consume_rejected_events_total"), 0);
  EXPECT_GE(Metric(store.url(), "ces_store_consume_ignored_events_total"), 4);  // ApiVersion x4 (+ Shutdowns)
  StopGracefully(store);
  StopGracefully(pipeline.produce);
}

// The consumer as a library: run on a thread of this process and stopped by its caller's condition; the
// process-wide shutdown flag is neither read nor set (by Run or by the destructor).
TEST(StoreConsume, RunsInProcessUntilItsCallerStopsIt) {
  const std::string dir = TempDir();
  const std::string prefix = UniquePrefix();
  RecordingsPipeline pipeline = StartRecordingsPipeline(dir, prefix);
  ASSERT_FALSE(::testing::Test::HasFailure());
  store::ConsumerOptions options;
  options.brokers = RequireEnv("KAFKA_BOOTSTRAP");
  options.topic_prefix = prefix;
  options.postgres = CreateDatabase();
  options.migrate = true;
  metrics::Registry registry;
  std::atomic<bool> stop{false};
  const auto should_stop = [&stop] { return stop.load(); };
  {
    store::StoreConsumer consumer(options, registry);
    consumer.Start(should_stop);
    std::thread run([&] { consumer.Run(should_stop); });
    postgres::Connection db(options.postgres);
    EXPECT_TRUE(WaitCaughtUp(db, options.group, prefix, seconds(60)));
    std::string reason;
    EXPECT_TRUE(consumer.Ready(reason)) << reason;
    EXPECT_EQ(Count(db, "blocks"), 16);
    EXPECT_EQ(registry.GetCounter("ces_store_consume_events_total", "", {{"type", "BlockAdded"}}).Value(), 16u);
    const auto asked = std::chrono::steady_clock::now();
    stop = true;
    run.join();
    EXPECT_LT(std::chrono::steady_clock::now() - asked, seconds(10));
    EXPECT_FALSE(consumer.Ready(reason));
    EXPECT_EQ(reason, "not subscribed to kafka");
  }
  EXPECT_FALSE(shutdown::Requested());
  StopGracefully(pipeline.produce);
}

TEST(StoreConsume, SameEventsFromTwoNodesGiveOneRowEach) {
  const std::string dir = TempDir();
  const std::string file = dir + "/stream";
  Process gen({"generate", "--recordings", RecordingsDir(), "--out", file, "--events", "20000", "--seed", "11"},
              dir + "/generate.log");
  ASSERT_EQ(gen.Wait(seconds(120)), 0) << gen.Log();
  const Expected expected = ExpectedFrom(file);
  ASSERT_GT(expected.blocks.size(), 100u);

  // Two nodes serving the same events: every event reaches Kafka twice (once per node key).
  const std::string both = UniquePrefix();
  Service a = StartEmit(dir, "emit-a", {"--stream", file, "--buffer", "1000000"});
  Service b = StartEmit(dir, "emit-b", {"--stream", file, "--buffer", "1000000"});
  Service produce = StartProduce(dir, both, {a.url(), b.url()});
  ASSERT_TRUE(WaitProduced(produce, 2.0 * static_cast<double>(expected.events + 1), seconds(120))) << produce.process->Log();
  const std::string uri_both = CreateDatabase("both");
  Service store = StartStore(dir, "store-both", both, uri_both);
  postgres::Connection db(uri_both);
  ASSERT_TRUE(WaitCaughtUp(db, "store-consumer", both, seconds(120))) << store.process->Log();
  StopGracefully(store);
  StopGracefully(produce);

  EXPECT_EQ(Count(db, "blocks"), static_cast<long>(expected.blocks.size()));
  EXPECT_EQ(Count(db, "transactions"), static_cast<long>(expected.transactions.size()));
  EXPECT_EQ(Count(db, "finality_signatures"), static_cast<long>(expected.signatures.size()));
  EXPECT_EQ(Count(db, "rejected_events"), 0);

  // And the tables are exactly those of a run with one node (whose every batch is parsed in two
  // halves on two threads).
  const std::string one = UniquePrefix();
  Service single = StartProduce(dir, one, {a.url()});
  ASSERT_TRUE(WaitProduced(single, static_cast<double>(expected.events + 1), seconds(120))) << single.process->Log();
  const std::string uri_one = CreateDatabase("one");
  Service store_one = StartStore(dir, "store-one", one, uri_one, {"--parse-split-bytes", "1"});
  postgres::Connection db_one(uri_one);
  ASSERT_TRUE(WaitCaughtUp(db_one, "store-consumer", one, seconds(120))) << store_one.process->Log();
  StopGracefully(store_one);
  StopGracefully(single);
  EXPECT_EQ(Digests(db), Digests(db_one));
}

TEST(StoreConsume, KillNineTenTimesThenTablesEqualACleanRun) {
  const std::string dir = TempDir();
  const std::string file = dir + "/stream";
  Process gen({"generate", "--recordings", RecordingsDir(), "--out", file, "--events", "100000", "--seed", "5"},
              dir + "/generate.log");
  ASSERT_EQ(gen.Wait(seconds(300)), 0) << gen.Log();
  const std::string prefix = UniquePrefix();
  // A live stream: 100k events at 8000/s (~12 s), the consumer killed 10 times meanwhile.
  Service emit = StartEmit(dir, "emit", {"--stream", file, "--rate", "8000", "--buffer", "1000000"});
  Service produce = StartProduce(dir, prefix, {emit.url()});
  const std::string uri = CreateDatabase("killed");
  postgres::Connection db(uri);
  // Static membership: a restarted instance takes its partitions back at once.
  const std::vector<std::string> extra = {"--kafka-setting", "group.instance.id=store-killed", "--kafka-setting",
                                          "session.timeout.ms=6000", "--max-batch", "2000"};
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> pause_ms(200, 1500);
  int kills = 0, busy = 0;
  for (int i = 0; i < 10; ++i) {
    Service store = StartStore(dir, "store-" + std::to_string(i), prefix, uri, extra);
    std::this_thread::sleep_for(milliseconds(pause_ms(rng)));
    ASSERT_TRUE(store.process->Running()) << store.process->Log();
    busy += Metric(store.url(), "ces_store_consume_batches_total") > 0;  // it was committing batches
    store.process->Kill9();
    ++kills;
  }
  EXPECT_EQ(kills, 10);
  EXPECT_GE(busy, 5) << "most instances should die while consuming";
  const long rows_before_last = Count(db, "finality_signatures");
  EXPECT_GT(rows_before_last, 0) << "the killed consumers stored nothing";
  ASSERT_TRUE(WaitProduced(produce, 100000 + 1, seconds(180))) << produce.process->Log();
  Service last = StartStore(dir, "store-last", prefix, uri, extra);
  ASSERT_TRUE(WaitCaughtUp(db, "store-consumer", prefix, seconds(180))) << last.process->Log();
  StopGracefully(last);
  StopGracefully(produce);

  // A clean run over the same Kafka topics, another group and database.
  const std::string clean_uri = CreateDatabase("clean");
  Service clean = StartStore(dir, "store-clean", prefix, clean_uri, {"--group", "clean"});
  postgres::Connection clean_db(clean_uri);
  ASSERT_TRUE(WaitCaughtUp(clean_db, "clean", prefix, seconds(180))) << clean.process->Log();
  StopGracefully(clean);
  const auto killed = Digests(db);
  EXPECT_EQ(killed, Digests(clean_db));
  EXPECT_EQ(Count(db, "rejected_events"), 0);
  const Expected expected = ExpectedFrom(file);
  EXPECT_EQ(Count(db, "blocks"), static_cast<long>(expected.blocks.size()));
  EXPECT_EQ(Count(db, "finality_signatures"), static_cast<long>(expected.signatures.size()));
  EXPECT_EQ(Count(db, "transactions"), static_cast<long>(expected.transactions.size()));
}

// A static group member fenced by another with the same group.instance.id gets a fatal error from
// librdkafka (so does one whose broker was paused past its session, tests/ha): it exits for its
// supervisor to restart it, rather than consuming nothing while it looks alive.
TEST(StoreConsume, AFencedStaticMemberExits) {
  const std::string dir = TempDir();
  const std::string prefix = UniquePrefix();
  const std::string uri = CreateDatabase("fenced");
  const std::vector<std::string> extra = {"--kafka-setting", "group.instance.id=store-fenced", "--group", prefix + "fenced"};
  Service first = StartStore(dir, "store-first", prefix, uri, extra);
  ASSERT_TRUE(WaitUntil([&] { return first.process->Log().find("kafka partitions assigned") != std::string::npos; },
                        seconds(60)))
      << first.process->Log();
  Service second = StartStore(dir, "store-second", prefix, uri, extra);
  const auto status = first.process->Wait(seconds(60));
  ASSERT_TRUE(status.has_value()) << "the fenced member is still running\n" << first.process->Log();
  EXPECT_EQ(*status, 1) << first.process->Log();
  EXPECT_NE(first.process->Log().find("fatal consumer error"), std::string::npos) << first.process->Log();
  EXPECT_TRUE(second.process->Running()) << second.process->Log();
  StopGracefully(second);
}

TEST(StoreConsume, RejectedEventsAreRecordedAndTheStreamGoesOn) {
  const std::string dir = TempDir();
  const std::string prefix = UniquePrefix();
  std::string bad_block = ReadFile(RecordingsDir() + "/v2/events/BlockAdded.json");
  while (!bad_block.empty() && bad_block.back() == '\n') bad_block.pop_back();
  bad_block.replace(bad_block.find("\"height\":54"), 11, "\"height\":\"54\"");
  std::string body = "data:{\"ApiVersion\":\"2.0.0\"}\n\n";
  body += "data:{\"BrandNewEvent\":{\"x\":1}}\nid:1\n\n";
  body += "data:" + bad_block + "\nid:2\n\n";
  body += "data:" + ReadFile(RecordingsDir() + "/v2/events/Fault.json");
  while (body.back() == '\n') body.pop_back();
  body += "\nid:3\n\n";
  body += "data:{\"BrandNewEvent\":{\"y\":2}}\nid:4\n\n";
  RawNode node(body);
  Service produce = StartProduce(dir, prefix, {node.url()});
  ASSERT_TRUE(WaitProduced(produce, 4 + 1, seconds(60))) << produce.process->Log();
  const std::string uri = CreateDatabase();
  Service store = StartStore(dir, "store", prefix, uri);
  postgres::Connection db(uri);
  ASSERT_TRUE(WaitCaughtUp(db, "store-consumer", prefix, seconds(60))) << store.process->Log();
  EXPECT_EQ(Count(db, "faults"), 1);
  ASSERT_EQ(Count(db, "rejected_events"), 3);
  auto rows = db.Query("SELECT source, stream, event_id, event_type, reason, payload_bytes FROM rejected_events ORDER BY event_id");
  EXPECT_EQ(*rows[0][0], node.url());
  EXPECT_EQ(*rows[0][1], "events");
  EXPECT_EQ(*rows[0][2], "1");
  EXPECT_EQ(*rows[0][3], "BrandNewEvent");
  EXPECT_NE(rows[0][4]->find("unknown event type BrandNewEvent"), std::string::npos) << *rows[0][4];
  EXPECT_EQ(*rows[1][2], "2");
  EXPECT_EQ(*rows[1][3], "BlockAdded");
  EXPECT_NE(rows[1][4]->find("header.height"), std::string::npos) << *rows[1][4];
  EXPECT_EQ(*rows[1][5], std::to_string(bad_block.size()));
  EXPECT_EQ(*rows[2][2], "4");
  EXPECT_EQ(Metric(store.url(), "ces_store_consume_rejected_events_total"), 3);
  EXPECT_EQ(Metric(store.url(), "ces_store_consume_events_total{type=\"Fault\"}"), 1);
  // Logged once per event type, with the event's identity.
  const std::string log = store.process->Log();
  std::size_t logged = 0;
  for (std::size_t pos = 0; (pos = log.find("\"msg\":\"event rejected", pos)) != std::string::npos; ++pos) ++logged;
  EXPECT_EQ(logged, 2u) << log;
  StopGracefully(store);
  StopGracefully(produce);
}

TEST(StoreConsume, ABatchTheDatabaseRefusesIsAppliedEventByEvent) {
  // A constraint the model does not know about makes PostgreSQL refuse the batch holding the Fault:
  // its events are then applied one by one, only the Fault ends in rejected_events.
  const std::string dir = TempDir();
  const std::string prefix = UniquePrefix();
  const std::string uri = CreateDatabase();
  postgres::Connection db(uri);
  postgres::Migrate(db);
  db.Execute("ALTER TABLE faults ADD CONSTRAINT test_small_eras CHECK (era_id < 1000)");
  Service emit = StartEmit(dir, "emit", {"--stream", RecordingsDir() + "/v2/events.stream"});
  Service produce = StartProduce(dir, prefix, {emit.url()});
  ASSERT_TRUE(WaitProduced(produce, 18 + 1, seconds(60))) << produce.process->Log();
  Service store = StartStore(dir, "store", prefix, uri);
  ASSERT_TRUE(WaitCaughtUp(db, "store-consumer", prefix, seconds(60))) << store.process->Log();
  EXPECT_EQ(Count(db, "faults"), 0);
  EXPECT_EQ(Count(db, "blocks"), 4);
  EXPECT_EQ(Count(db, "finality_signatures"), 5);
  EXPECT_EQ(Count(db, "transactions"), 5);
  ASSERT_EQ(Count(db, "rejected_events"), 1);
  EXPECT_EQ(Scalar(db, "SELECT event_type FROM rejected_events"), "Fault");
  EXPECT_NE(Scalar(db, "SELECT reason FROM rejected_events").find("test_small_eras"), std::string::npos);
  EXPECT_EQ(Metric(store.url(), "ces_store_consume_db_refused_batches_total"), 1);
  StopGracefully(store);
  StopGracefully(produce);
}

// A fake node JSON-RPC endpoint: a request containing every string of `expect` fails `failures`
// times (answered `busy_status` `busy_body`), then gets `result`; any other request gets 400.
class FakeRpc {
 public:
  FakeRpc(int failures, std::vector<std::string> expect, int busy_status, std::string busy_body, std::string result)
      : failures_(failures), server_("127.0.0.1", 0) {
    server_.Route("POST", "/rpc", [this, expect = std::move(expect), busy_status, busy_body = std::move(busy_body),
                                   result = std::move(result)](const http::Request& req, http::ResponseWriter& w) {
      ++calls_;
      for (const std::string& part : expect) {
        if (req.body.find(part) == std::string::npos) {
          w.Send(400, "text/plain", "unexpected request");
          return;
        }
      }
      if (calls_ <= failures_) {
        w.Send(busy_status, busy_status == 200 ? "application/json" : "text/plain", busy_body);
        return;
      }
      w.Send(200, "application/json", result);
    });
    server_.Start();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.Port()) + "/rpc"; }
  int calls() const { return calls_; }

 private:
  int failures_;
  std::atomic<int> calls_{0};
  http::Server server_;
};

// A 1.x node: chain_get_era_info_by_switch_block for era 6930's switch block (503 while busy).
FakeRpc FakeEraInfoRpc(int failures) {
  return FakeRpc(failures, {"chain_get_era_info_by_switch_block", "153d7a0d0313033cf4636187c02f44d9c68de5c273fa075f8a0e479700a7f4ee"},
                 503, "node busy",
                 R"({"jsonrpc":"2.0","id":1,"result":{"api_version":"1.4.8","era_summary":{)"
                 R"("block_hash":"153d7a0d0313033cf4636187c02f44d9c68de5c273fa075f8a0e479700a7f4ee","era_id":6930,)"
                 R"("stored_value":{"EraInfo":{"seigniorage_allocations":[)"
                 R"({"Validator":{"validator_public_key":"01018525deae6091abccab6704a0fa44e12c495eec9e8fe6929862e1b75580e715","amount":"2914012300000"}},)"
                 R"({"Delegator":{"delegator_public_key":"0101b57c4bf013a837995365e25036f1ddf83f3acd690763b3736101dd35df934b",)"
                 R"("validator_public_key":"01018525deae6091abccab6704a0fa44e12c495eec9e8fe6929862e1b75580e715","amount":"84217776"}},)"
                 R"({"Validator":{"validator_public_key":"0102112a711eb3bee9043ebf036fbdfd4482f0e37d1a65627e09922943713973f8","amount":"700"}}]}},)"
                 R"("state_root_hash":"4587f960d916f9319c1d17d002b7f58e97b273c38297eddc4040369408c59818","merkle_proof":"00"}}})");
}

TEST(StoreConsume, OneXRewardsAreFetchedOverRpcAndRetriedUntilTheyArrive) {
  const std::string dir = TempDir();
  const std::string prefix = UniquePrefix();
  FakeRpc rpc = FakeEraInfoRpc(2);
  Service emit = StartEmit(dir, "emit", {"--stream", RecordingsDir() + "/v1/main.stream"});
  Service produce = StartProduce(dir, prefix, {emit.url()});
  ASSERT_TRUE(WaitProduced(produce, 23 + 1, seconds(60))) << produce.process->Log();
  const std::string uri = CreateDatabase();
  Service store = StartStore(dir, "store", prefix, uri, {"--node-rpc", rpc.url()});
  postgres::Connection db(uri);
  ASSERT_TRUE(WaitUntil([&] { return Scalar(db, "SELECT rewards_status FROM eras WHERE era_id = 6930") == "complete"; },
                        seconds(60)))
      << store.process->Log();
  EXPECT_EQ(rpc.calls(), 3);
  EXPECT_EQ(Scalar(db, "SELECT rewards_source || ' ' || rewards_attempts || ' ' || coalesce(rewards_error, '-') FROM "
                       "eras WHERE era_id = 6930"),
            "rpc 3 -");
  EXPECT_EQ(Scalar(db, "SELECT delegator_rewards_status FROM eras WHERE era_id = 6930"), "complete");
  EXPECT_EQ(Count(db, "validator_rewards", "era_id = 6930 AND source = 'rpc'"), 2);
  EXPECT_EQ(Scalar(db, "SELECT amount FROM validator_rewards WHERE public_key = "
                       "'01018525deae6091abccab6704a0fa44e12c495eec9e8fe6929862e1b75580e715'"),
            "2914012300000");
  EXPECT_EQ(Scalar(db, "SELECT amount || ' ' || validator_public_key FROM delegator_rewards WHERE era_id = 6930 AND "
                       "delegator_public_key = '0101b57c4bf013a837995365e25036f1ddf83f3acd690763b3736101dd35df934b'"),
            "84217776 01018525deae6091abccab6704a0fa44e12c495eec9e8fe6929862e1b75580e715");
  EXPECT_EQ(Metric(store.url(), "ces_store_consume_rpc_requests_total{outcome=\"error\"}"), 2);
  EXPECT_EQ(Metric(store.url(), "ces_store_consume_rpc_requests_total{outcome=\"ok\"}"), 1);
  StopGracefully(store);
  StopGracefully(produce);
}

// The 1.x allocations of era 6930 (the switch block 153d7a0d… of v1/main.stream), as the Step of that
// era carries them in a WriteEraInfo transform and chain_get_era_info_by_switch_block returns them
// (FakeRpc above). No recording holds a WriteEraInfo (casper-events.md §5), so the Step is the real
// v1 Step with its era set to 6930 and this transform appended, in the node's format.
constexpr const char* kEra6930Allocations =
    R"({"Validator":{"validator_public_key":"01018525deae6091abccab6704a0fa44e12c495eec9e8fe6929862e1b75580e715","amount":"2914012300000"}},)"
    R"({"Delegator":{"delegator_public_key":"0101b57c4bf013a837995365e25036f1ddf83f3acd690763b3736101dd35df934b",)"
    R"("validator_public_key":"01018525deae6091abccab6704a0fa44e12c495eec9e8fe6929862e1b75580e715","amount":"84217776"}},)"
    R"({"Validator":{"validator_public_key":"0102112a711eb3bee9043ebf036fbdfd4482f0e37d1a65627e09922943713973f8","amount":"700"}})";

std::string StepOfEra6930(const std::string& step_line) {
  std::string step = step_line.substr(std::string("data:").size());
  const std::string head = R"({"Step":{"era_id":1,)";
  EXPECT_EQ(step.substr(0, head.size()), head);
  step = R"({"Step":{"era_id":6930,)" + step.substr(head.size());
  const std::string tail = "]}}}";
  EXPECT_EQ(step.substr(step.size() - tail.size()), tail);
  return step.substr(0, step.size() - tail.size()) +
         R"(,{"key":"era-6930","transform":{"WriteEraInfo":{"seigniorage_allocations":[)" + kEra6930Allocations +
         "]}}}" + tail;
}

void WriteText(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

TEST(StoreConsume, OneXStepRewardsCompleteTheEraWithoutRpc) {
  const std::string dir = TempDir();
  const std::string prefix = UniquePrefix();
  // Node 1: v1/main.stream with its Step replaced by the Step of era 6930 (Step before the switch block,
  // as nodes send them). Node 2: the same two events in the other order.
  std::istringstream main(ReadFile(RecordingsDir() + "/v1/main.stream"));
  std::string node1, line, step, block;
  while (std::getline(main, line)) {
    if (line.rfind(R"(data:{"Step":)", 0) == 0) {
      step = StepOfEra6930(line);
      line = "data:" + step;
    } else if (line.rfind(R"(data:{"BlockAdded":{"block_hash":"153d7a0d)", 0) == 0) {
      block = line.substr(5);
    }
    node1 += line + "\n";
  }
  ASSERT_FALSE(step.empty());
  ASSERT_FALSE(block.empty());
  WriteText(dir + "/node1/main.stream", node1);
  WriteText(dir + "/node2/main.stream", "data:{\"ApiVersion\":\"1.4.8\"}\n\ndata:" + block + "\nid:0\n\ndata:" + step +
                                            "\nid:1\n\n");
  Service emit1 = StartEmit(dir, "emit1", {"--stream", dir + "/node1/main.stream"});
  Service emit2 = StartEmit(dir, "emit2", {"--stream", dir + "/node2/main.stream"});
  Service produce = StartProduce(dir, prefix, {emit1.url(), emit2.url()});
  ASSERT_TRUE(WaitProduced(produce, (23 + 1) + (2 + 1), seconds(60))) << produce.process->Log();
  const std::string uri = CreateDatabase();
  Service store = StartStore(dir, "store", prefix, uri);  // no --node-rpc
  postgres::Connection db(uri);
  ASSERT_TRUE(WaitCaughtUp(db, "store-consumer", prefix, seconds(60))) << store.process->Log();

  EXPECT_EQ(Scalar(db, "SELECT rewards_status || ' ' || rewards_source || ' ' || last_block_height || ' ' || "
                       "rewards_attempts FROM eras WHERE era_id = 6930"),
            "complete step 1239489 0");
  EXPECT_EQ(Count(db, "eras", "rewards_status = 'pending'"), 0);
  EXPECT_EQ(Scalar(db, "SELECT delegator_rewards_status FROM eras WHERE era_id = 6930"), "complete");
  EXPECT_EQ(Count(db, "validator_rewards"), 2);
  EXPECT_EQ(Count(db, "validator_rewards", "era_id = 6930 AND source = 'step' AND reward_index = 0"), 2);
  EXPECT_EQ(Count(db, "delegator_rewards"), 1);
  EXPECT_EQ(Scalar(db, "SELECT amount FROM validator_rewards WHERE public_key = "
                       "'01018525deae6091abccab6704a0fa44e12c495eec9e8fe6929862e1b75580e715'"),
            "2914012300000");
  EXPECT_EQ(Scalar(db, "SELECT amount || ' ' || validator_public_key || ' ' || source FROM delegator_rewards WHERE "
                       "era_id = 6930 AND delegator_public_key = "
                       "'0101b57c4bf013a837995365e25036f1ddf83f3acd690763b3736101dd35df934b'"),
            "84217776 01018525deae6091abccab6704a0fa44e12c495eec9e8fe6929862e1b75580e715 step");
  EXPECT_EQ(Scalar(db, "SELECT effect_count || ' ' || format FROM steps WHERE era_id = 6930"), "47 1");
  EXPECT_EQ(Count(db, "rejected_events"), 0);
  EXPECT_EQ(Metric(store.url(), "ces_store_consume_rewards_pending_eras"), 0);
  StopGracefully(store);
  StopGracefully(produce);
}

// A fake 2.x node JSON-RPC endpoint: chain_get_era_summary for the switch block of era 363
// (22ea0994…, v2/events.stream); fails `failures` times, then answers (2.0.0 format,
// DelegatorKind allocations as in schema/v2/rpc_schema.json).
FakeRpc FakeEraSummaryRpc(int failures) {
  return FakeRpc(failures,
                 {"\"chain_get_era_summary\"",
                  R"("block_identifier":{"Hash":"22ea09946b4e651d997d5e84c139a1e31c21996d011f4834f28827acf76cc8d7"})"},
                 200, R"({"jsonrpc":"2.0","id":1,"error":{"code":-32003,"message":"busy"}})",
                 R"({"jsonrpc":"2.0","id":1,"result":{"api_version":"2.0.0","era_summary":{)"
                 R"("block_hash":"22ea09946b4e651d997d5e84c139a1e31c21996d011f4834f28827acf76cc8d7","era_id":363,)"
                 R"("stored_value":{"EraInfo":{"seigniorage_allocations":[)"
                 R"({"DelegatorKind":{"delegator_kind":{"PublicKey":"01e1b46a25baa8a5c28beb3c9cfb79b572effa04076f00befa57eb70b016153f18"},)"
                 R"("validator_public_key":"01195daa7ad97ae97c2e0905cedf14e6694c48a12e881e22b26cd0a06e4f205542","amount":"1000"}},)"
                 R"({"Validator":{"validator_public_key":"01195daa7ad97ae97c2e0905cedf14e6694c48a12e881e22b26cd0a06e4f205542","amount":"18962280550448167"}},)"
                 R"({"Delegator":{"delegator_public_key":"0101b57c4bf013a837995365e25036f1ddf83f3acd690763b3736101dd35df934b",)"
                 R"("validator_public_key":"01195daa7ad97ae97c2e0905cedf14e6694c48a12e881e22b26cd0a06e4f205542","amount":"123456789012345678901234567890"}}]}},)"
                 R"("state_root_hash":"0808080808080808080808080808080808080808080808080808080808080808","merkle_proof":"00"}}})");
}

TEST(StoreConsume, TwoXDelegatorRewardsAreFetchedOverRpcAndRetried) {
  const std::string dir = TempDir();
  const std::string prefix = UniquePrefix();
  FakeRpc rpc = FakeEraSummaryRpc(2);
  Service emit = StartEmit(dir, "emit", {"--stream", RecordingsDir() + "/v2/events.stream"});
  Service produce = StartProduce(dir, prefix, {emit.url()});
  ASSERT_TRUE(WaitProduced(produce, 18 + 1, seconds(60))) << produce.process->Log();
  const std::string uri = CreateDatabase();
  Service store = StartStore(dir, "store", prefix, uri, {"--node-rpc", rpc.url()});
  postgres::Connection db(uri);
  ASSERT_TRUE(WaitUntil([&] {
    return Scalar(db, "SELECT delegator_rewards_status FROM eras WHERE era_id = 363") == "complete";
  }, seconds(60))) << store.process->Log();
  EXPECT_EQ(rpc.calls(), 3);
  EXPECT_EQ(Scalar(db, "SELECT rewards_status || ' ' || rewards_source || ' ' || delegator_rewards_attempts || ' ' || "
                       "coalesce(delegator_rewards_error, '-') FROM eras WHERE era_id = 363"),
            "complete era_end 3 -");
  EXPECT_EQ(Count(db, "delegator_rewards"), 2);
  EXPECT_EQ(Count(db, "delegator_rewards", "era_id = 363 AND source = 'rpc' AND switch_block_hash = "
                                           "'22ea09946b4e651d997d5e84c139a1e31c21996d011f4834f28827acf76cc8d7'"),
            2);
  EXPECT_EQ(Scalar(db, "SELECT amount || ' ' || validator_public_key FROM delegator_rewards WHERE delegator_public_key = "
                       "'0101b57c4bf013a837995365e25036f1ddf83f3acd690763b3736101dd35df934b'"),
            "123456789012345678901234567890 01195daa7ad97ae97c2e0905cedf14e6694c48a12e881e22b26cd0a06e4f205542");
  // The validator totals stay those of the switch block's era_end.
  EXPECT_EQ(Count(db, "validator_rewards", "source = 'era_end'"), 10);
  EXPECT_EQ(Count(db, "validator_rewards", "source = 'rpc'"), 0);
  EXPECT_EQ(Metric(store.url(), "ces_store_consume_rpc_requests_total{outcome=\"error\"}"), 2);
  EXPECT_EQ(Metric(store.url(), "ces_store_consume_rpc_requests_total{outcome=\"ok\"}"), 1);
  EXPECT_TRUE(WaitUntil([&] { return Metric(store.url(), "ces_store_consume_delegator_rewards_pending_eras") == 0; },
                        seconds(10)));
  StopGracefully(store);
  StopGracefully(produce);
}

TEST(StoreConsume, MigrateSubcommandAndSchemaCheck) {
  const std::string dir = TempDir();
  const std::string uri = CreateDatabase();
  // Without --migrate an empty database is refused at start-up.
  Process refused({"store-consume", "--kafka", RequireEnv("KAFKA_BOOTSTRAP"), "--postgres", uri, "--listen",
                   "127.0.0.1:" + std::to_string(FreePort())},
                  dir + "/refused.log");
  EXPECT_EQ(refused.Wait(seconds(60)), 1);
  EXPECT_NE(refused.Log().find("casper-event-store migrate"), std::string::npos) << refused.Log();
  for (int i = 0; i < 2; ++i) {
    Process migrate({"migrate", "--postgres", uri}, dir + "/migrate" + std::to_string(i) + ".log");
    EXPECT_EQ(migrate.Wait(seconds(60)), 0) << migrate.Log();
    EXPECT_NE(migrate.Log().find(i == 0 ? "\"msg\":\"schema migrated\"" : "\"msg\":\"schema is up to date\""),
              std::string::npos)
        << migrate.Log();
  }
  postgres::Connection db(uri);
  EXPECT_EQ(Count(db, "schema_migrations"), postgres::LatestSchemaVersion());
  // Unreachable database: exit 1 with the reason (start-up errors are fatal).
  Process unreachable({"migrate", "--postgres", "postgresql://postgres@127.0.0.1:" + std::to_string(FreePort()) + "/x"},
                      dir + "/unreachable.log");
  EXPECT_EQ(unreachable.Wait(seconds(60)), 1);
  EXPECT_NE(unreachable.Log().find("migrate failed"), std::string::npos);
}

}  // namespace
}  // namespace ces::test
