#pragma once
// Helpers shared by the store_*_itest files: a database per test, table digests, and running the
// emit -> produce -> store-consume pipeline with the real binary.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ces/kafka/client.hpp"
#include "ces/kafka/topics.hpp"
#include "ces/postgres/connection.hpp"
#include "test_support.hpp"

namespace ces::test {

using std::chrono::milliseconds;
using std::chrono::seconds;

// The tables of the model (docs/schema.md), compared between runs.
inline const std::vector<std::string>& ModelTables() {
  static const std::vector<std::string> kTables = {
      "blocks", "block_transactions", "transactions", "transfers", "eras", "era_validators", "validator_rewards",
      "delegator_rewards", "bids", "withdrawals", "faults", "finality_signatures", "steps"};
  return kTables;
}

// POSTGRES_URI with its database replaced by `database` (keeps hosts and query parameters).
inline std::string DatabaseUri(const std::string& uri, const std::string& database) {
  const auto scheme = uri.find("://");
  const auto slash = uri.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  const auto query = uri.find('?');
  std::string out = uri.substr(0, slash == std::string::npos ? (query == std::string::npos ? uri.size() : query) : slash);
  out += "/" + database;
  if (query != std::string::npos) out += uri.substr(query);
  return out;
}

// A fresh database named after the test's unique prefix (several runs share one server).
inline std::string CreateDatabase(const std::string& suffix = "") {
  std::string name = UniquePrefix() + suffix;
  std::replace(name.begin(), name.end(), '-', '_');
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  if (!name.empty() && name.back() == '_') name.pop_back();
  postgres::Connection admin(RequireEnv("POSTGRES_URI"));
  admin.ExecuteNoTransaction("DROP DATABASE IF EXISTS " + name);
  admin.ExecuteNoTransaction("CREATE DATABASE " + name);
  return DatabaseUri(RequireEnv("POSTGRES_URI"), name);
}

inline std::string Scalar(postgres::Connection& db, const std::string& sql) {
  auto rows = db.Query(sql);
  if (rows.empty() || rows[0].empty() || !rows[0][0]) return "";
  return *rows[0][0];
}

inline long Count(postgres::Connection& db, const std::string& table, const std::string& where = "") {
  return std::stol(Scalar(db, "SELECT count(*) FROM " + table + (where.empty() ? "" : " WHERE " + where)));
}

// md5 of a table's rows in a canonical order: equal digests = identical tables. The event identity
// columns (migration 2: which node's copy of an event came first) are left out.
inline std::string Digest(postgres::Connection& db, const std::string& table) {
  const std::string row =
      "(to_jsonb(t) - ARRAY['event_source','event_stream','event_id','event_api_version','accepted_source',"
      "'accepted_stream','accepted_event_id','accepted_api_version','processed_source','processed_stream',"
      "'processed_event_id','processed_api_version','expired_source','expired_stream','expired_event_id',"
      "'expired_api_version'])::text";
  return Scalar(db, "SELECT count(*) || ':' || coalesce(md5(string_agg(" + row + ", E'\\n' ORDER BY " + row +
                        ")), '') FROM " + table + " t");
}

inline std::map<std::string, std::string> Digests(postgres::Connection& db) {
  std::map<std::string, std::string> out;
  for (const auto& table : ModelTables()) out[table] = Digest(db, table);
  return out;
}

struct Service {
  std::uint16_t port = 0;
  std::unique_ptr<Process> process;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

inline Service StartEmit(const std::string& dir, const std::string& name, std::vector<std::string> args) {
  Service s;
  s.port = FreePort();
  std::vector<std::string> all = {"emit", "--listen", "127.0.0.1:" + std::to_string(s.port), "--keepalive", "1"};
  all.insert(all.end(), args.begin(), args.end());
  s.process = std::make_unique<Process>(all, dir + "/" + name + ".log");
  EXPECT_TRUE(WaitUntil([&] { return HttpGet(s.url() + "/status").first == 200; }, seconds(20))) << s.process->Log();
  return s;
}

inline Service StartProduce(const std::string& dir, const std::string& prefix, const std::vector<std::string>& nodes,
                            const std::vector<std::string>& extra = {}) {
  Service s;
  s.port = FreePort();
  std::vector<std::string> args = {"produce", "--kafka", RequireEnv("KAFKA_BOOTSTRAP"), "--topic-prefix", prefix,
                                   "--listen", "127.0.0.1:" + std::to_string(s.port), "--backoff-initial", "0.1",
                                   "--backoff-max", "1"};
  for (const auto& n : nodes) {
    args.push_back("--node");
    args.push_back(n);
  }
  args.insert(args.end(), extra.begin(), extra.end());
  s.process = std::make_unique<Process>(args, dir + "/produce.log");
  EXPECT_TRUE(WaitUntil([&] { return HttpGet(s.url() + "/readyz").first == 200; }, seconds(60))) << s.process->Log();
  return s;
}

inline Service StartStore(const std::string& dir, const std::string& name, const std::string& prefix,
                          const std::string& uri, std::vector<std::string> extra = {}, bool wait_ready = true) {
  Service s;
  s.port = FreePort();
  std::vector<std::string> args = {"store-consume", "--kafka", RequireEnv("KAFKA_BOOTSTRAP"), "--topic-prefix", prefix,
                                   "--postgres", uri, "--listen", "127.0.0.1:" + std::to_string(s.port), "--migrate"};
  args.insert(args.end(), extra.begin(), extra.end());
  s.process = std::make_unique<Process>(args, dir + "/" + name + ".log");
  if (wait_ready) {
    EXPECT_TRUE(WaitUntil([&] { return HttpGet(s.url() + "/readyz").first == 200; }, seconds(60))) << s.process->Log();
  }
  return s;
}

// audit-consume of the pipeline `prefix` into the MongoDB database `database` (group <prefix>audit).
inline Service StartAuditConsumer(const std::string& dir, const std::string& prefix, const std::string& database,
                                  const std::vector<std::string>& extra = {}) {
  Service s;
  s.port = FreePort();
  std::vector<std::string> args = {"audit-consume", "--kafka", RequireEnv("KAFKA_BOOTSTRAP"), "--topic-prefix", prefix,
                                   "--mongo", MongoDatabaseUri(database), "--listen",
                                   "127.0.0.1:" + std::to_string(s.port), "--group", prefix + "audit",
                                   "--backoff-initial", "0.2", "--backoff-max", "2"};
  args.insert(args.end(), extra.begin(), extra.end());
  s.process = std::make_unique<Process>(args, dir + "/audit-consume.log");
  return s;
}

inline void StopGracefully(Service& s) {
  s.process->Signal(SIGTERM);
  auto status = s.process->Wait(seconds(60));
  ASSERT_TRUE(status.has_value()) << "no exit after SIGTERM\n" << s.process->Log();
  EXPECT_EQ(*status, 0) << s.process->Log();
}

// The librdkafka settings of CES_KAFKA_SETTINGS (KEY=VALUE,...; set by `scripts/stack env --secure`), as
// the subcommands read them; empty when unset.
inline kafka::Settings KafkaSettingsFromEnv() {
  kafka::Settings out;
  const char* text = std::getenv("CES_KAFKA_SETTINGS");
  std::string rest = text ? text : "";
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string kv = rest.substr(0, comma);
    const auto eq = kv.find('=');
    if (eq != std::string::npos) out[kv.substr(0, eq)] = kv.substr(eq + 1);
    rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
  }
  return out;
}

// Sum over the partitions of (last offset + 1): what a consumer has read once it stored these positions.
inline std::map<std::pair<std::string, int>, long long> EndOffsets(const std::string& prefix) {
  std::map<std::pair<std::string, int>, long long> out;
  for (const std::string& topic : kafka::EventTopicNames(prefix)) {
    for (const auto& m : kafka::ReadAll(RequireEnv("KAFKA_BOOTSTRAP"), KafkaSettingsFromEnv(), topic)) {
      auto& v = out[{m.topic, m.partition}];
      v = std::max<long long>(v, m.offset + 1);
    }
  }
  return out;
}

// The positions (next offset per partition) the group stored with its data; nullopt when they cannot
// be read.
inline std::optional<std::map<std::pair<std::string, int>, long long>> GroupPositions(postgres::Connection& db,
                                                                                        const std::string& group) {
  std::map<std::pair<std::string, int>, long long> stored;
  try {
    for (const auto& row : db.Query("SELECT topic, kafka_partition, next_offset FROM consumer_positions WHERE group_id = " +
                                    postgres::QuoteLiteral(group))) {
      stored[{*row[0], std::stoi(*row[1])}] = std::stoll(*row[2]);
    }
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return stored;
}

// True once the group's stored positions reached `ends` on every partition.
inline bool CaughtUp(postgres::Connection& db, const std::string& group,
                     const std::map<std::pair<std::string, int>, long long>& ends) {
  const auto positions = GroupPositions(db, group);
  if (!positions) return false;
  const auto& stored = *positions;
  for (const auto& [tp, end] : ends) {
    auto it = stored.find(tp);
    if (it == stored.end() || it->second < end) return false;
  }
  return true;
}

// Value of a Prometheus sample line "name{labels} value" (sum over matching lines).
inline double Metric(const std::string& url, const std::string& prefix) {
  auto [status, body] = HttpGet(url + "/metrics");
  double sum = 0;
  std::size_t pos = 0;
  while ((pos = body.find(prefix, pos)) != std::string::npos) {
    if (pos > 0 && body[pos - 1] != '\n') {
      ++pos;
      continue;
    }
    const auto end = body.find('\n', pos);
    const std::string line = body.substr(pos, end - pos);
    sum += std::stod(line.substr(line.rfind(' ') + 1));
    pos = end;
  }
  return sum;
}

// Waits until produce counted `records` Kafka-acknowledged records (events and ApiVersion messages).
inline bool WaitProduced(Service& produce, double records, std::chrono::milliseconds timeout) {
  return WaitUntil([&] { return Metric(produce.url(), "ces_produce_events_total") >= records; }, timeout);
}

// Records of the recordings in Kafka: v2 18 events + ApiVersion; v1 main 23, deploys 3, sigs 7 (the
// Shutdown on each endpoint) + an ApiVersion each.
constexpr double kRecordingsRecords = (18 + 1) + (23 + 1) + (3 + 1) + (7 + 1);

// The real recordings into the pipeline `prefix`: a fake 2.x node, a fake 1.x node (three endpoints)
// and produce reading both. Returns once every record is in Kafka (check with ::testing::Test::HasFailure).
struct RecordingsPipeline {
  Service emit2;
  Service emit1;
  Service produce;
};
inline RecordingsPipeline StartRecordingsPipeline(const std::string& dir, const std::string& prefix) {
  RecordingsPipeline p;
  const std::string v1 = RecordingsDir() + "/v1/";
  p.emit2 = StartEmit(dir, "emit-v2", {"--stream", RecordingsDir() + "/v2/events.stream"});
  p.emit1 = StartEmit(dir, "emit-v1", {"--stream", v1 + "main.stream", "--stream", v1 + "deploys.stream",
                                       "--stream", v1 + "sigs.stream"});
  p.produce = StartProduce(dir, prefix, {p.emit2.url(), p.emit1.url()});
  EXPECT_TRUE(WaitProduced(p.produce, kRecordingsRecords, seconds(60))) << p.produce.process->Log();
  return p;
}

}  // namespace ces::test
