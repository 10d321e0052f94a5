#pragma once
// Reading the audit store (MongoDB/FerretDB) back in tests: its replay log entries, checked for
// repeats.

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "ces/mongo/audit_store.hpp"
#include "test_support.hpp"

namespace ces::test {

// Reading back a whole store takes long on FerretDB (every query reads whole collections: a count of
// 100k documents took more than the services' 120 s socket timeout on a busy machine): 10 minutes here.
inline mongo::AuditStore OpenStore(const std::string& database) {
  mongo::StoreOptions options;
  options.uri = MongoDatabaseUri(database);
  if (options.uri.find("socketTimeoutMS") == std::string::npos) {
    options.uri += (options.uri.find('?') == std::string::npos ? "?" : "&") + std::string("socketTimeoutMS=600000");
  }
  return mongo::AuditStore(options);
}

// Every entry of the replay log, chain by chain, link by link.
inline std::vector<mongo::EventRecord> LogEntries(mongo::AuditStore& store) {
  std::vector<mongo::EventRecord> out;
  auto chains = store.ListChains();
  EXPECT_TRUE(chains.ok()) << chains.status.message;
  const auto limits = store.segment_limits();
  for (const auto& head : chains.value) {
    std::int64_t segment = 0;
    std::int64_t seq = 0;
    while (true) {
      auto links = store.ReadLinks(head.chain, segment, seq, 0, true);
      EXPECT_TRUE(links.ok()) << links.status.message;
      if (!links.ok() || links.value.empty()) break;
      for (auto& link : links.value) {
        EXPECT_EQ(link.seq, seq) << head.chain.Key();
        ++seq;
        for (auto& e : link.entries) out.push_back(std::move(e));
      }
      mongo::ChainHead last;
      last.seq = links.value.back().seq;
      last.segment = links.value.back().segment;
      last.segment_events = links.value.back().segment_events;
      last.segment_bytes = links.value.back().segment_bytes;
      segment = mongo::SegmentAfter(last, limits);
    }
  }
  return out;
}

inline std::size_t WithId(const std::vector<mongo::EventRecord>& entries) {
  std::size_t n = 0;
  for (const auto& e : entries) n += e.event_id.has_value();
  return n;
}

inline void ExpectUnique(const std::vector<mongo::EventRecord>& entries) {
  std::set<std::string> ids;
  for (const auto& e : entries) EXPECT_TRUE(ids.insert(e.id).second) << "twice in the replay log: " << e.id;
}

}  // namespace ces::test
