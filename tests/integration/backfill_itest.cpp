// backfill against real servers: a fake node (emit --rpc) whose small buffer makes produce lose events,
// backfill --gaps filling them, and one-shot history syncs (also killed with SIGKILL and restarted);
// every time the PostgreSQL tables must equal those of a clean stream run.
#include <signal.h>

#include <thread>

#include "backfill_itest_support.hpp"

namespace ces::test {
namespace {

// Streams `files` live (--rate) through a node with a tiny buffer; produce is stopped long enough for
// the buffer to move on, then restarted; backfill --gaps runs next to it. The tables must equal a clean
// run's.
void GapIsFilled(int protocol, const std::string& mix) {
  const std::string dir = TempDir();
  const auto files = GenerateChain(dir, protocol, 6000, mix);
  ASSERT_FALSE(::testing::Test::HasFailure());
  const auto clean = StreamedDigests(dir, files, "v" + std::to_string(protocol));
  ASSERT_FALSE(::testing::Test::HasFailure());

  const std::string prefix = UniquePrefix() + "gap.";
  std::vector<std::string> args = StreamArgs(files);
  // 500 events/s for 12 s; the buffer (2500, 5 s) covers produce's start-up (a fresh produce records no
  // gap for what the buffer lost before its first connection: 3 s was not always enough on a busy
  // machine), not its 8 s stop.
  for (const char* a : {"--rpc", "--rate", "500", "--buffer", "2500"}) args.push_back(a);
  Service emit = StartEmit(dir, "emit-gap", args);
  Service produce = StartProduce(dir, prefix, {emit.url()});
  ASSERT_TRUE(WaitProduced(produce, 2000, seconds(30))) << produce.process->Log();
  StopGracefully(produce);
  std::this_thread::sleep_for(seconds(8));  // 4000 events published meanwhile
  Service backfill = StartBackfill(dir, "backfill-gaps", prefix, emit.url(), {"--gaps", "--group", prefix + "backfill"});
  produce = StartProduce(dir, prefix, {emit.url()});
  const std::string uri = CreateDatabase("gap");
  Service store = StartGroupStore(dir, "store-gap", prefix, uri);
  postgres::Connection db(uri);

  // The stream reaches its end (every endpoint's position is its last id) ...
  double last_ids = 0;
  for (const auto& f : files) {
    const auto events = ReadRecording(f);
    for (auto it = events.rbegin(); it != events.rend(); ++it) {
      if (it->id) {
        last_ids += *it->id;
        break;
      }
    }
  }
  ASSERT_TRUE(WaitUntil([&] { return Metric(produce.url(), "ces_produce_position") >= last_ids; }, seconds(60)))
      << produce.process->Log();
  // ... a gap was recorded, and backfill filled every recorded gap.
  std::size_t gaps = 0;
  ASSERT_TRUE(WaitUntil(
      [&] {
        gaps = kafka::ReadAll(RequireEnv("KAFKA_BOOTSTRAP"), {}, prefix + "ingest-gaps").size();
        return gaps > 0 && Metric(backfill.url(), "ces_backfill_gaps_filled_total") >= static_cast<double>(gaps);
      },
      seconds(60)))
      << "gaps " << gaps << "\n"
      << backfill.process->Log();
  EXPECT_GT(Metric(backfill.url(), "ces_backfill_events_total"), 0);
  ASSERT_TRUE(WaitStored(db, "store-gap", prefix, seconds(60))) << store.process->Log();
  EXPECT_EQ(BackfillDigests(db), clean);
  EXPECT_EQ(Count(db, "rejected_events"), 0);
  // Some blocks exist only because of backfill: rebuilt rows have no event identity.
  EXPECT_GT(Count(db, "blocks", "event_id IS NULL"), 0);
  // backfill --check agrees: every height has its block and signatures, every recorded gap is filled.
  Process check({"backfill", "--node", emit.url(), "--kafka", RequireEnv("KAFKA_BOOTSTRAP"), "--topic-prefix", prefix,
                 "--check", "--postgres", uri, "--from-height", Scalar(db, "SELECT min(height) FROM blocks"),
                 "--to-height", Scalar(db, "SELECT max(height) FROM blocks"), "--listen",
                 "127.0.0.1:" + std::to_string(FreePort())},
                dir + "/check.log");
  EXPECT_EQ(check.Wait(seconds(60)), 0) << check.Log();
  EXPECT_NE(check.Log().find("\"state\":\"filled\""), std::string::npos) << check.Log();
  StopGracefully(backfill);
  StopGracefully(produce);
  StopGracefully(store);
}

TEST(Backfill, GapOfA2xStreamIsFilledToTheTablesOfACleanRun) { GapIsFilled(2, "blocks,signatures=5,era_blocks=20"); }

// 1.x rewards come from Step events (or the node's era info over RPC, which the fake node does not
// hold), so the 1.x chain has no era end in the range.
TEST(Backfill, GapOfA1xStreamIsFilledToTheTablesOfACleanRun) { GapIsFilled(1, "blocks,signatures=5,era_blocks=100000"); }

// --all from an empty store over 10,000 synthetic blocks, killed with SIGKILL midway and restarted: it
// resumes from its checkpoint, and the tables equal the streamed ones (natural keys: nothing doubled).
TEST(Backfill, HistorySyncOfTenThousandBlocksKilledAndRestartedEqualsStreaming) {
  const std::string dir = TempDir();
  // 10,000 blocks of 1 BlockAdded + 5 signatures, era ends (Step + switch block) every 100 blocks.
  const auto files = GenerateChain(dir, 2, 10000 * 6 + 100, "blocks,signatures=5,era_blocks=100");
  ASSERT_FALSE(::testing::Test::HasFailure());
  const auto clean = StreamedDigests(dir, files, "hist");
  ASSERT_FALSE(::testing::Test::HasFailure());

  Service emit = StartEmit(dir, "emit-rpc", {"--stream", files[0], "--rpc"});
  const std::string prefix = UniquePrefix() + "hist.";
  // Slowed down (400 requests/s) so that it is killed mid-range, after its first checkpoint.
  Service first = StartBackfill(dir, "backfill-1", prefix, emit.url(), {"--all", "--window", "8", "--rpc-rate", "400"});
  ASSERT_TRUE(WaitUntil(
      [&] {
        return Metric(first.url(), "ces_backfill_heights_total") >= 300 &&
               !kafka::ReadAll(RequireEnv("KAFKA_BOOTSTRAP"), {}, prefix + "backfill-checkpoints").empty();
      },
      seconds(30)))
      << first.process->Log();
  first.process->Kill9();
  ASSERT_EQ(first.process->Log().find("range filled"), std::string::npos) << "killed too late";
  Service second = StartBackfill(dir, "backfill-2", prefix, emit.url(), {"--all"});
  ASSERT_EQ(second.process->Wait(seconds(60)), 0) << second.process->Log();
  EXPECT_NE(second.process->Log().find("\"resume_at\""), std::string::npos);
  EXPECT_EQ(second.process->Log().find("\"resume_at\":" + std::to_string(1000000) + "}"), std::string::npos)
      << "the restart began again at the first height";
  // A third run finds the range done.
  Service third = StartBackfill(dir, "backfill-3", prefix, emit.url(), {"--all"});
  ASSERT_EQ(third.process->Wait(seconds(60)), 0) << third.process->Log();
  EXPECT_NE(third.process->Log().find("range already filled"), std::string::npos) << third.process->Log();

  const std::string uri = CreateDatabase("hist");
  Service store = StartGroupStore(dir, "store-hist", prefix, uri);
  postgres::Connection db(uri);
  ASSERT_TRUE(WaitStored(db, "store-hist", prefix, seconds(120))) << store.process->Log();
  EXPECT_GE(Count(db, "blocks"), 10000);
  EXPECT_EQ(BackfillDigests(db), clean);
  // Heights written twice (before the kill and after the restart) share batches: still one upsert each.
  EXPECT_EQ(store.process->Log().find("refused a batch"), std::string::npos) << store.process->Log();
  // Every record carries origin rpc and the method.
  const auto sigs = kafka::ReadAll(RequireEnv("KAFKA_BOOTSTRAP"), {}, prefix + "sigs");
  ASSERT_FALSE(sigs.empty());
  ASSERT_NE(sigs.front().HeaderValue("origin"), nullptr);
  EXPECT_EQ(*sigs.front().HeaderValue("origin"), "rpc");
  EXPECT_EQ(*sigs.front().HeaderValue("rpc-method"), "chain_get_block");
  EXPECT_EQ(sigs.front().HeaderValue("event-id"), nullptr);
}

// A node whose RPC fails every 5th request (HTTP 500, truncated JSON, a JSON-RPC error, an answer
// slower than the timeout, in turn): the failures are logged, retried and counted, the run completes,
// and the tables equal a clean run's (no partial height).
TEST(Backfill, FaultyRpcIsRetriedAndNothingPartialIsWritten) {
  const std::string dir = TempDir();
  const auto files = GenerateChain(dir, 2, 1200, "blocks,signatures=5,era_blocks=20");
  ASSERT_FALSE(::testing::Test::HasFailure());
  const auto clean = StreamedDigests(dir, files, "faults");
  ASSERT_FALSE(::testing::Test::HasFailure());
  Service emit = StartEmit(dir, "emit-rpc", {"--stream", files[0], "--rpc", "--rpc-fault-every", "5"});
  const std::string prefix = UniquePrefix() + "faults.";
  Service run = StartBackfill(dir, "backfill", prefix, emit.url(), {"--all", "--rpc-timeout", "0.5"});
  // 500, truncated JSON and timeouts are retried by the client; the -32603 answers fail the height,
  // which the runner counts and asks again.
  ASSERT_TRUE(WaitUntil(
      [&] {
        return Metric(run.url(), "ces_rpc_retries_total") >= 4 && Metric(run.url(), "ces_backfill_errors_total") >= 1;
      },
      seconds(60)))
      << run.process->Log();
  ASSERT_EQ(run.process->Wait(seconds(120)), 0) << run.process->Log();
  EXPECT_NE(run.process->Log().find("height failed, retrying"), std::string::npos) << run.process->Log();
  const std::string uri = CreateDatabase("faults");
  Service store = StartGroupStore(dir, "store-faults", prefix, uri);
  postgres::Connection db(uri);
  ASSERT_TRUE(WaitStored(db, "store-faults", prefix, seconds(60))) << store.process->Log();
  EXPECT_EQ(BackfillDigests(db), clean);
  EXPECT_EQ(Count(db, "rejected_events"), 0);
}

// A recorded 2.x chain with a deploy (the java-sdk capture: 160 blocks, 799 signatures, one deploy with
// its transfer): `backfill --all` gives the tables of streaming it, transactions and transfers included.
TEST(Backfill, RecordedChainWithADeployEqualsStreaming) {
  const std::string dir = TempDir();
  const std::vector<std::string> files = {RecordingsDir() + "/v2/raw/casper-java-sdk/events-with-deploy.txt"};
  const auto clean = StreamedDigests(dir, files, "rec");
  ASSERT_FALSE(::testing::Test::HasFailure());
  Service emit = StartEmit(dir, "emit-rpc", {"--stream", files[0], "--rpc"});
  const std::string prefix = UniquePrefix() + "rec.";
  Service run = StartBackfill(dir, "backfill", prefix, emit.url(), {"--all"});
  ASSERT_EQ(run.process->Wait(seconds(60)), 0) << run.process->Log();
  const std::string uri = CreateDatabase("rec");
  Service store = StartGroupStore(dir, "store-rec", prefix, uri);
  postgres::Connection db(uri);
  ASSERT_TRUE(WaitStored(db, "store-rec", prefix, seconds(60))) << store.process->Log();
  EXPECT_EQ(Count(db, "transactions"), 1);
  EXPECT_EQ(BackfillDigests(db), clean);
}

// A synthetic chain whose blocks list 10 transactions on average (each with its Accepted and Processed
// events): `backfill --all` gives the tables of streaming it, transactions, block_transactions and
// transfers included. 1.x without era ends (its rewards need the Step).
void ChainWithTransactionsEqualsStreaming(int protocol, std::uint64_t events, const std::string& mix) {
  const std::string dir = TempDir();
  const std::string tag = "tx" + std::to_string(protocol);
  // Blocks of 10 + 10 transaction events (on average), the BlockAdded and 5 signatures.
  const auto files = GenerateWholeChain(dir, protocol, events, mix);
  ASSERT_FALSE(::testing::Test::HasFailure());
  const std::string clean_uri = StreamedDatabase(dir, files, tag);
  ASSERT_FALSE(::testing::Test::HasFailure());
  postgres::Connection clean_db(clean_uri);
  const auto clean = BackfillDigests(clean_db);
  EXPECT_GT(Count(clean_db, "transactions"), static_cast<long>(events / 4));
  EXPECT_EQ(Count(clean_db, "block_transactions"), Count(clean_db, "transactions"));
  if (protocol == 2) {
    EXPECT_GT(Count(clean_db, "transfers"), 0);
  }

  Service emit = StartEmit(dir, tag + "emit-rpc", [&] {
    auto args = StreamArgs(files);
    args.push_back("--rpc");
    return args;
  }());
  const std::string prefix = UniquePrefix() + tag + ".";
  Service run = StartBackfill(dir, tag + "backfill", prefix, emit.url(), {"--all"});
  ASSERT_EQ(run.process->Wait(seconds(120)), 0) << run.process->Log();
  const std::string uri = CreateDatabase(tag);
  Service store = StartGroupStore(dir, tag + "store", prefix, uri);
  postgres::Connection db(uri);
  ASSERT_TRUE(WaitStored(db, tag + "store", prefix, seconds(120))) << store.process->Log();
  EXPECT_EQ(BackfillDigests(db), clean);
  EXPECT_EQ(Count(db, "rejected_events"), 0);
  EXPECT_EQ(Count(db, "transactions", "accepted_event_id IS NOT NULL"), 0);
}

TEST(Backfill, A2xChainWithTransactionsEqualsStreaming) {
  ChainWithTransactionsEqualsStreaming(2, 8000, "signatures=5,transactions=10,expired=0,era_blocks=20");
}

TEST(Backfill, A1xChainWithTransactionsEqualsStreaming) {
  // Fewer blocks: store-consume takes longer over the three 1.x streams.
  ChainWithTransactionsEqualsStreaming(1, 4000, "signatures=5,transactions=10,expired=0,era_blocks=100000");
}

// Stopped with SIGTERM mid-range: exits 0 at once, its checkpoint written.
TEST(Backfill, StopsCleanlyOnSigterm) {
  const std::string dir = TempDir();
  const auto files = GenerateChain(dir, 2, 6000, "blocks,signatures=5");
  Service emit = StartEmit(dir, "emit-rpc", {"--stream", files[0], "--rpc"});
  const std::string prefix = UniquePrefix() + "term.";
  Service run = StartBackfill(dir, "backfill", prefix, emit.url(), {"--all", "--rpc-rate", "200"});
  ASSERT_TRUE(WaitUntil([&] { return Metric(run.url(), "ces_backfill_heights_total") >= 20; }, seconds(30)))
      << run.process->Log();
  StopGracefully(run);
  EXPECT_NE(run.process->Log().find("range stopped"), std::string::npos) << run.process->Log();
}

// Bad answers: a node that answers 500, truncated JSON and errors never crashes backfill nor
// writes a partial record; the height is retried, the errors counted, and the run ends non-zero.
TEST(Backfill, AnUnknownHeightEndsTheRunAfterRetries) {
  const std::string dir = TempDir();
  const auto files = GenerateChain(dir, 2, 600, "blocks,signatures=5");
  Service emit = StartEmit(dir, "emit-rpc", {"--stream", files[0], "--rpc"});
  const std::string prefix = UniquePrefix() + "bad.";
  Service run = StartBackfill(dir, "backfill", prefix, emit.url(),
                              {"--from-height", "1000000", "--to-height", "2000000"});
  const auto status = run.process->Wait(seconds(60));
  ASSERT_TRUE(status.has_value()) << run.process->Log();
  EXPECT_EQ(*status, 1) << run.process->Log();
  EXPECT_NE(run.process->Log().find("No such block"), std::string::npos) << run.process->Log();
  EXPECT_NE(run.process->Log().find("height keeps failing"), std::string::npos) << run.process->Log();
}

}  // namespace
}  // namespace ces::test
