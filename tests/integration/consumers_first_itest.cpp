// Consumers started before produce, on topics that do not exist yet (the order of `make run`): each
// consumer creates the event topics before it subscribes, so the first block reaches PostgreSQL and the
// audit store within seconds of produce starting, not after librdkafka's next metadata refresh.
#include <gtest/gtest.h>

#include <thread>

#include "ces/mongo/audit_store.hpp"
#include "store_itest_support.hpp"

namespace ces::test {
namespace {

std::string AuditDatabase(const std::string& prefix) {
  std::string db = "audit_" + prefix;
  while (!db.empty() && db.back() == '-') db.pop_back();
  return db;
}

// True once the audit store holds a BlockAdded event (first segment of any chain).
bool AuditHasBlock(mongo::AuditStore& store) {
  auto chains = store.ListChains();
  if (!chains.ok()) return false;
  for (const auto& head : chains.value) {
    auto links = store.ReadLinks(head.chain, 0, 0, 0, true);
    if (!links.ok()) continue;
    for (const auto& link : links.value) {
      for (const auto& entry : link.entries) {
        if (entry.type == "BlockAdded") return true;
      }
    }
  }
  return false;
}

TEST(ConsumersFirst, FirstBlockStoredWithinSecondsOfProduceStarting) {
  const std::string dir = TempDir();
  const std::string prefix = UniquePrefix();
  const std::string uri = CreateDatabase();
  const std::string audit_db = AuditDatabase(prefix);

  Service store = StartStore(dir, "store", prefix, uri, {"--group", prefix + "store"});
  Service audit = StartAuditConsumer(dir, prefix, audit_db);
  ASSERT_TRUE(WaitUntil([&] { return HttpGet(audit.url() + "/readyz").first == 200; }, seconds(60)))
      << audit.process->Log();
  // Let both groups settle with nothing assigned: a topic appearing now is found only by a metadata
  // refresh (librdkafka's default interval is 5 minutes).
  std::this_thread::sleep_for(seconds(8));
  Service emit = StartEmit(dir, "emit", {"--stream", RecordingsDir() + "/v2/events.stream"});

  const auto produce_started = std::chrono::steady_clock::now();
  Service produce = StartProduce(dir, prefix, {emit.url()});

  postgres::Connection db(uri);
  mongo::StoreOptions options;
  options.uri = MongoDatabaseUri(audit_db);
  mongo::AuditStore audit_store(options);
  const auto deadline = produce_started + seconds(15);
  auto left = [&] {
    return std::chrono::duration_cast<milliseconds>(std::max(deadline - std::chrono::steady_clock::now(),
                                                             std::chrono::steady_clock::duration::zero()));
  };
  EXPECT_TRUE(WaitUntil([&] { return Count(db, "blocks") > 0; }, left()))
      << "no block in PostgreSQL 15 s after produce started\n"
      << store.process->Log();
  EXPECT_TRUE(WaitUntil([&] { return AuditHasBlock(audit_store); }, left()))
      << "no block in the audit store 15 s after produce started\n"
      << audit.process->Log();

  StopGracefully(produce);
  StopGracefully(audit);
  StopGracefully(store);
}

}  // namespace
}  // namespace ces::test
