#pragma once
// Helpers of the backfill integration tests: synthetic chains, the backfill binary, and the tables a
// stream run and a backfill run must agree on.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "store_itest_support.hpp"

namespace ces::test {

// The tables backfill must bring to the content of a clean stream run. Left out: eras, era_validators
// and steps (a Step event is not reconstructable, docs/backfill.md), and the tables of transaction
// effects the synthetic chains have none of.
inline const std::vector<std::string>& BackfilledTables() {
  static const std::vector<std::string> kTables = {"blocks", "block_transactions", "transactions",
                                                   "transfers", "finality_signatures", "validator_rewards"};
  return kTables;
}

inline std::map<std::string, std::string> BackfillDigests(postgres::Connection& db) {
  std::map<std::string, std::string> out;
  for (const auto& table : BackfilledTables()) out[table] = Digest(db, table);
  return out;
}

// A synthetic chain (every block consistent with its events, so the fake node's JSON-RPC can serve it):
// the stream files (2.x: one; 1.x: main, deploys, sigs).
inline std::vector<std::string> GenerateChain(const std::string& dir, int protocol, std::uint64_t events,
                                              const std::string& mix) {
  const std::string out = protocol == 2 ? dir + "/chain.stream" : dir + "/chain";
  Process gen({"generate", "--recordings", RecordingsDir(), "--protocol", std::to_string(protocol), "--out", out,
               "--events", std::to_string(events), "--mix", mix},
              dir + "/generate.log");
  EXPECT_EQ(gen.Wait(std::chrono::seconds(300)), 0) << gen.Log();
  if (protocol == 2) return {out};
  std::vector<std::string> files;  // deploys.stream has no event without transactions: then not served
  for (const char* name : {"/main.stream", "/deploys.stream", "/sigs.stream"}) {
    const auto recorded = ReadRecording(out + name);
    if (std::any_of(recorded.begin(), recorded.end(), [](const RecordedEvent& e) { return e.id.has_value(); })) {
      files.push_back(out + name);
    }
  }
  return files;
}

// A synthetic chain that ends with a whole block: `events` is cut after the last BlockAdded or
// FinalitySignature, so that no transaction waits for a block the chain does not have (the stream
// would store it, backfill could not). Generation is deterministic, so the shorter chain is a prefix.
inline std::vector<std::string> GenerateWholeChain(const std::string& dir, int protocol, std::uint64_t events,
                                                   const std::string& mix) {
  std::vector<std::pair<std::uint32_t, bool>> ids;  // id, ends a block so far
  for (const auto& file : GenerateChain(dir, protocol, events, mix)) {
    for (const auto& e : ReadRecording(file)) {
      if (!e.id) continue;
      const bool block_part = e.data.rfind("{\"BlockAdded\":", 0) == 0 || e.data.rfind("{\"FinalitySignature\":", 0) == 0;
      ids.emplace_back(*e.id, block_part);
    }
  }
  std::sort(ids.begin(), ids.end());
  std::uint64_t whole = ids.size();
  while (whole > 0 && !ids[whole - 1].second) --whole;
  return GenerateChain(dir, protocol, whole, mix);
}

inline std::vector<std::string> StreamArgs(const std::vector<std::string>& files) {
  std::vector<std::string> args;
  for (const auto& f : files) {
    args.push_back("--stream");
    args.push_back(f);
  }
  return args;
}

// Records produce writes for the whole of `files`: every event plus one ApiVersion per endpoint.
inline double ChainRecords(const std::vector<std::string>& files) {
  double n = 0;
  for (const auto& f : files) n += static_cast<double>(ReadRecording(f).size());
  return n;
}

inline Service StartBackfill(const std::string& dir, const std::string& name, const std::string& prefix,
                             const std::string& node, std::vector<std::string> extra) {
  Service s;
  s.port = FreePort();
  std::vector<std::string> args = {"backfill", "--node", node, "--rpc", node + "/rpc", "--kafka",
                                   RequireEnv("KAFKA_BOOTSTRAP"), "--topic-prefix", prefix, "--listen",
                                   "127.0.0.1:" + std::to_string(s.port)};
  args.insert(args.end(), extra.begin(), extra.end());
  s.process = std::make_unique<Process>(args, dir + "/" + name + ".log");
  return s;
}

// Each store-consume of a test has a group of its own: a killed member of a shared group would hold
// the next one's assignment until its session times out.
inline Service StartGroupStore(const std::string& dir, const std::string& name, const std::string& prefix,
                               const std::string& uri) {
  return StartStore(dir, name, prefix, uri, {"--group", name});
}

inline bool WaitStored(postgres::Connection& db, const std::string& group, const std::string& prefix,
                       std::chrono::milliseconds timeout) {
  const auto ends = EndOffsets(prefix);
  return WaitUntil([&] { return CaughtUp(db, group, ends); }, timeout);
}

// The clean run: the whole chain streamed through emit -> produce -> store-consume into a database of
// its own; returns its URI.
inline std::string StreamedDatabase(const std::string& dir, const std::vector<std::string>& files,
                                    const std::string& tag) {
  const std::string prefix = UniquePrefix() + tag + "clean.";
  std::vector<std::string> args = StreamArgs(files);
  args.push_back("--buffer");
  args.push_back("100000000");  // the whole chain reachable from start_from=0
  Service emit = StartEmit(dir, tag + "emit-clean", args);
  Service produce = StartProduce(dir, prefix, {emit.url()});
  EXPECT_TRUE(WaitProduced(produce, ChainRecords(files), std::chrono::seconds(120))) << produce.process->Log();
  const std::string uri = CreateDatabase(tag + "clean");
  Service store = StartGroupStore(dir, tag + "store-clean", prefix, uri);
  postgres::Connection db(uri);
  EXPECT_TRUE(WaitStored(db, tag + "store-clean", prefix, std::chrono::seconds(120))) << store.process->Log();
  EXPECT_EQ(Count(db, "rejected_events"), 0);
  return uri;
}

inline std::map<std::string, std::string> StreamedDigests(const std::string& dir, const std::vector<std::string>& files,
                                                          const std::string& tag) {
  postgres::Connection db(StreamedDatabase(dir, files, tag));
  return BackfillDigests(db);
}

}  // namespace ces::test
