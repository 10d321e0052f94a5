// HA tier (scripts/stack up --ha): the PostgreSQL primary is killed and a replica promoted while
// store-consume writes; it reconnects through the multi-host URI (target_session_attrs=read-write)
// and the final tables equal those of a clean run. Runs once per HA stack: after the promotion
// postgres-1 stays down (bringing it back would give two primaries).
#include <gtest/gtest.h>

#include <thread>

#include "store_itest_support.hpp"

namespace ces::test {
namespace {

TEST(StoreHa, PrimaryKilledAndReplicaPromotedMidStream) {
  const std::string postgres_uri = RequireEnv("POSTGRES_URI");
  ASSERT_NE(postgres_uri.find("target_session_attrs=read-write"), std::string::npos)
      << "needs the --ha stack's multi-host URI";
  ASSERT_EQ(Stack({"pid", "postgres-1"}), 0) << "postgres-1 is not running (already failed over?)";
  const std::string dir = TempDir();
  const std::string file = dir + "/stream";
  Process gen({"generate", "--recordings", RecordingsDir(), "--out", file, "--events", "60000", "--seed", "3"},
              dir + "/generate.log");
  ASSERT_EQ(gen.Wait(seconds(300)), 0) << gen.Log();
  const std::string prefix = UniquePrefix();
  Service emit = StartEmit(dir, "emit", {"--stream", file, "--rate", "3000", "--buffer", "1000000"});
  Service produce = StartProduce(dir, prefix, {emit.url()});
  const std::string uri = CreateDatabase("ha");
  postgres::Connection db(uri);
  Service store = StartStore(dir, "store", prefix, uri);

  // Let it write for a while, then fail the primary over.
  ASSERT_TRUE(WaitUntil([&] { return Metric(store.url(), "ces_store_consume_events_total") > 15000; }, seconds(120)))
      << store.process->Log();
  ASSERT_EQ(Stack({"kill", "postgres-1"}), 0);
  ASSERT_TRUE(WaitUntil([&] { return HttpGet(store.url() + "/readyz").first == 503; }, seconds(30)))
      << "store-consume did not notice the primary was gone\n"
      << store.process->Log();
  std::this_thread::sleep_for(seconds(2));  // writes keep failing meanwhile: no primary at all
  ASSERT_EQ(Stack({"promote", "postgres-2"}), 0);
  ASSERT_TRUE(WaitUntil([&] { return HttpGet(store.url() + "/readyz").first == 200; }, seconds(60)))
      << store.process->Log();
  EXPECT_GE(Metric(store.url(), "ces_store_consume_db_connects_total"), 2);
  EXPECT_GE(Metric(store.url(), "ces_store_consume_db_retries_total"), 1);

  ASSERT_TRUE(WaitUntil([&] { return Metric(produce.url(), "ces_produce_events_total") >= 60001; }, seconds(180)))
      << produce.process->Log();
  const auto ends = EndOffsets(prefix);
  postgres::Connection db_after(uri);  // now on postgres-2
  ASSERT_TRUE(WaitUntil([&] { return CaughtUp(db_after, "store-consumer", ends); }, seconds(180)))
      << store.process->Log();
  EXPECT_TRUE(store.process->Running());
  StopGracefully(store);
  StopGracefully(produce);
  EXPECT_NE(Scalar(db_after, "SELECT inet_server_port()"), "");

  // A clean run over the same topics into a fresh database on the new primary.
  const std::string clean_uri = CreateDatabase("clean");
  Service clean = StartStore(dir, "store-clean", prefix, clean_uri, {"--group", "clean"});
  postgres::Connection clean_db(clean_uri);
  ASSERT_TRUE(WaitUntil([&] { return CaughtUp(clean_db, "clean", ends); }, seconds(180))) << clean.process->Log();
  StopGracefully(clean);
  EXPECT_EQ(Digests(db_after), Digests(clean_db));
  EXPECT_GT(Count(db_after, "finality_signatures"), 50000);
  EXPECT_EQ(Count(db_after, "rejected_events"), 0);
}

}  // namespace
}  // namespace ces::test
