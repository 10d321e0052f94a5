// audit-consume against the local stack (Kafka + FerretDB): recordings stored once and byte-exact,
// re-reading the same offsets stores nothing, crashes mid-batch leave exactly one copy, a FerretDB
// outage loses nothing, a > 16 MiB event round-trips through GridFS, re-sends and conflicts.
// Every test uses its own topic prefix and its own database.
#include <gtest/gtest.h>
#include <mongoc/mongoc.h>
#include <signal.h>

#include <map>
#include <set>
#include <thread>

#include "ces/audit/record.hpp"
#include "ces/casper/event.hpp"
#include "ces/common/time.hpp"
#include "ces/ingest/record.hpp"
#include "ces/kafka/client.hpp"
#include "ces/kafka/topics.hpp"
#include "ces/mongo/audit_store.hpp"
#include "audit_itest_support.hpp"
#include "test_support.hpp"

namespace ces::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// MONGO_URI with the database replaced (one database per test).
std::string DatabaseFor(const std::string& prefix) {
  std::string db = "audit_" + prefix;
  while (!db.empty() && db.back() == '-') db.pop_back();
  return db;
}

struct Service {
  std::uint16_t port = 0;
  std::unique_ptr<Process> process;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

Service StartEmit(const std::string& dir, const std::string& name, std::vector<std::string> args) {
  Service s;
  s.port = FreePort();
  std::vector<std::string> all = {"emit", "--listen", "127.0.0.1:" + std::to_string(s.port), "--keepalive", "1"};
  all.insert(all.end(), args.begin(), args.end());
  s.process = std::make_unique<Process>(all, dir + "/" + name + ".log");
  EXPECT_TRUE(WaitUntil([&] { return HttpGet(s.url() + "/status").first == 200; }, seconds(20))) << s.process->Log();
  return s;
}

Service StartProduce(const std::string& dir, const std::string& prefix, const std::vector<std::string>& nodes) {
  Service s;
  s.port = FreePort();
  std::vector<std::string> args = {"produce", "--kafka", RequireEnv("KAFKA_BOOTSTRAP"), "--topic-prefix", prefix,
                                   "--listen", "127.0.0.1:" + std::to_string(s.port), "--backoff-initial", "0.1",
                                   "--backoff-max", "1"};
  for (const auto& n : nodes) {
    args.push_back("--node");
    args.push_back(n);
  }
  s.process = std::make_unique<Process>(args, dir + "/produce.log");
  EXPECT_TRUE(WaitUntil([&] { return HttpGet(s.url() + "/readyz").first == 200; }, seconds(60))) << s.process->Log();
  return s;
}

Service StartConsume(const std::string& dir, const std::string& prefix, const std::string& database,
                     std::vector<std::string> extra = {}, const std::string& log_name = "consume") {
  Service s;
  s.port = FreePort();
  // A group per test: a member killed by an earlier test would hold a shared group's rebalance for the
  // session timeout.
  std::vector<std::string> args = {"audit-consume", "--kafka", RequireEnv("KAFKA_BOOTSTRAP"), "--topic-prefix", prefix,
                                   "--mongo", MongoDatabaseUri(database), "--listen", "127.0.0.1:" + std::to_string(s.port),
                                   "--backoff-initial", "0.2", "--backoff-max", "2",
                                   // a killed member holds the group's rebalance for this long
                                   "--kafka-setting", "session.timeout.ms=6000"};
  if (std::find(extra.begin(), extra.end(), "--group") == extra.end()) {
    args.push_back("--group");
    args.push_back(prefix + "audit");
  }
  args.insert(args.end(), extra.begin(), extra.end());
  s.process = std::make_unique<Process>(args, dir + "/" + log_name + ".log");
  return s;
}

// Sum of a metric's samples whose line starts with `prefix` (name plus optional labels).
double Metric(const Service& s, const std::string& prefix) {
  auto [status, body] = HttpGet(s.url() + "/metrics");
  if (status != 200) return -1;
  double sum = 0;
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

std::vector<kafka::Message> KafkaRecords(const std::string& prefix) {
  std::vector<kafka::Message> all;
  for (const std::string& topic : kafka::EventTopicNames(prefix)) {
    auto part = kafka::ReadAll(RequireEnv("KAFKA_BOOTSTRAP"), {}, topic);
    all.insert(all.end(), part.begin(), part.end());
  }
  return all;
}

void CreateTopics(const std::string& prefix) {
  kafka::EnsureTopics(RequireEnv("KAFKA_BOOTSTRAP"), {}, kafka::EventTopicSpecs(prefix));
}

// Writes records the way produce does (key, headers, topic by type) and waits for the acks.
class Writer {
 public:
  explicit Writer(std::string prefix) : prefix_(std::move(prefix)), producer_(RequireEnv("KAFKA_BOOTSTRAP")) {}
  void Write(const std::string& source, const std::string& stream, std::optional<std::uint32_t> id,
             const std::string& type, const std::string& payload, const std::string& api = "2.0.0",
             std::int64_t received_ms = 1718184385460) {
    ingest::EventMeta meta{source, stream, id, api, type, time::FormatRfc3339Millis(received_ms)};
    const std::string topic = prefix_ + std::string(casper::StreamName(casper::RouteByType(type)));
    ASSERT_TRUE(producer_.Produce(topic, ingest::RecordKey(source, stream), payload, ingest::RecordHeaders(meta),
                                  [this](const kafka::DeliveryReport& r) {
                                    if (!r.ok) failed_ = true;
                                  }));
  }
  void Flush() {
    ASSERT_TRUE(producer_.Flush(seconds(60)));
    ASSERT_FALSE(failed_);
  }

 private:
  std::string prefix_;
  kafka::Producer producer_;
  bool failed_ = false;
};

// ---------------------------------------------------------------------------------------------

TEST(AuditConsume, EveryRecordedV1AndV2EventStoredOnceByteExact) {
  const std::string dir = TempDir();
  const std::string prefix = UniquePrefix();
  const std::string db = DatabaseFor(prefix);
  const std::string v1 = RecordingsDir() + "/v1/";
  Service node2 = StartEmit(dir, "emit2", {"--stream", RecordingsDir() + "/v2/events.stream"});
  Service node1 = StartEmit(dir, "emit1", {"--stream", v1 + "main.stream", "--stream", v1 + "deploys.stream", "--stream",
                                           v1 + "sigs.stream"});
  Service produce = StartProduce(dir, prefix, {node2.url(), node1.url()});
  Service consume = StartConsume(dir, prefix, db);

  struct Expected {
    std::string source;
    std::string stream;
    RecordedEvent event;
  };
  std::vector<Expected> expected;
  for (const auto& e : ReadRecording(RecordingsDir() + "/v2/events.stream")) expected.push_back({node2.url(), "events", e});
  for (std::string stream : {"main", "deploys", "sigs"}) {
    for (const auto& e : ReadRecording(v1 + stream + ".stream")) expected.push_back({node1.url(), stream, e});
  }
  std::size_t with_id = 0;
  for (const auto& e : expected) with_id += e.event.id.has_value();

  auto store = OpenStore(db);
  std::vector<mongo::EventRecord> entries;
  ASSERT_TRUE(WaitUntil([&] {
    entries = LogEntries(store);
    return WithId(entries) >= with_id;
  }, seconds(90))) << "log has " << WithId(entries) << " of " << with_id << "\n" << consume.process->Log();

  for (const auto& e : expected) {
    if (!e.event.id) continue;
    const std::string id = e.source + " " + e.stream + " " + std::to_string(*e.event.id);
    auto stored = store.GetEvent(id);
    ASSERT_TRUE(stored.ok()) << stored.status.message;
    ASSERT_TRUE(stored.value.has_value()) << "missing " << id;
    EXPECT_EQ(stored.value->payload, e.event.data) << id << " is not byte-identical";
    EXPECT_EQ(stored.value->sha256, audit::Sha256Hex(e.event.data)) << id;
    EXPECT_EQ(stored.value->size, static_cast<std::int64_t>(e.event.data.size()));
    casper::Classifier classifier;
    EXPECT_EQ(stored.value->type, classifier.Classify(e.event.data).event_type);
  }
  // Once: the log holds each identity once, and `events` holds exactly the log's documents.
  ExpectUnique(entries);
  EXPECT_EQ(WithId(entries), with_id);
  auto count = store.CountEvents();
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(count.value, static_cast<std::int64_t>(entries.size()));
  // ApiVersion messages are kept too (one per connection).
  std::size_t api_versions = 0;
  for (const auto& e : entries) api_versions += e.type == "ApiVersion";
  EXPECT_GE(api_versions, 4u);
  // Every Kafka record is in the store.
  produce.process->Signal(SIGTERM);
  produce.process->Wait(seconds(30));
  const auto records = KafkaRecords(prefix);
  ASSERT_TRUE(WaitUntil([&] { return LogEntries(store).size() == records.size(); }, seconds(30)));
  EXPECT_EQ(Metric(consume, "ces_audit_consume_events_total{result=\"duplicate\"}"), 0);
}

TEST(AuditConsume, ReplayingTheSameOffsetsStoresNothingNew) {
  const std::string dir = TempDir();
  const std::string prefix = UniquePrefix();
  const std::string db = DatabaseFor(prefix);
  Service node = StartEmit(dir, "emit", {"--stream", RecordingsDir() + "/v2/events.stream"});
  Service produce = StartProduce(dir, prefix, {node.url()});
  Service first = StartConsume(dir, prefix, db);
  auto store = OpenStore(db);
  ASSERT_TRUE(WaitUntil([&] { return WithId(LogEntries(store)) >= 18; }, seconds(60))) << first.process->Log();
  produce.process->Signal(SIGTERM);
  produce.process->Wait(seconds(30));
  const std::size_t records = KafkaRecords(prefix).size();
  ASSERT_TRUE(WaitUntil([&] { return LogEntries(store).size() == records; }, seconds(30)));
  const auto before = store.CountEvents().value;

  // A second consumer group reads every offset again, while the first keeps running.
  Service second = StartConsume(dir, prefix, db, {"--group", "audit-replay-check"}, "consume2");
  ASSERT_TRUE(WaitUntil([&] { return Metric(second, "ces_audit_consume_events_total{result=\"already_linked\"}") >= records; },
                        seconds(60)))
      << second.process->Log();
  EXPECT_EQ(Metric(second, "ces_audit_consume_events_total{result=\"stored\"}"), 0);
  EXPECT_EQ(Metric(second, "ces_audit_consume_events_total{result=\"recovered\"}"), 0);
  // The first group, restarted from its committed offsets, has nothing to do either.
  first.process->Signal(SIGTERM);
  ASSERT_EQ(first.process->Wait(seconds(30)), 0) << first.process->Log();
  Service again = StartConsume(dir, prefix, db, {}, "consume3");
  ASSERT_TRUE(WaitUntil([&] { return HttpGet(again.url() + "/readyz").first == 200; }, seconds(30)));
  std::this_thread::sleep_for(seconds(3));
  EXPECT_EQ(Metric(again, "ces_audit_consume_events_total{result=\"stored\"}"), 0);
  EXPECT_EQ(store.CountEvents().value, before);
  const auto entries = LogEntries(store);
  EXPECT_EQ(entries.size(), records);
  ExpectUnique(entries);
}

// Writes `count` synthetic events (ids first_id...) of one 2.x source straight to Kafka.
void WriteSynthetic(Writer& writer, const std::string& source, std::uint32_t first_id, std::uint32_t count) {
  const auto v2 = ReadRecording(RecordingsDir() + "/v2/events.stream");
  std::vector<RecordedEvent> events;
  for (const auto& e : v2) {
    if (e.id && e.data != "\"Shutdown\"") events.push_back(e);
  }
  casper::Classifier classifier;
  for (std::uint32_t i = 0; i < count; ++i) {
    const auto& e = events[(first_id + i) % events.size()];
    writer.Write(source, "events", first_id + i, classifier.Classify(e.data).event_type, e.data, "2.0.0",
                 1718184385460 + first_id + i);
  }
  writer.Flush();
}

void ExpectExactlyOnce(mongo::AuditStore& store, std::size_t with_id) {
  const auto entries = LogEntries(store);
  ExpectUnique(entries);
  EXPECT_EQ(WithId(entries), with_id);
  auto count = store.CountEvents();
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(count.value, static_cast<std::int64_t>(entries.size()));
}

TEST(AuditConsume, CrashAfterInsertingBeforeLinkingLeavesOneCopy) {
  const std::string dir = TempDir();
  const std::string prefix = UniquePrefix();
  const std::string db = DatabaseFor(prefix);
  CreateTopics(prefix);
  Writer writer(prefix);
  WriteSynthetic(writer, "http://crash:9999", 0, 3000);
  // Batch 3 is inserted into `events`, then the process aborts: no link, no commit.
  Service crashing = StartConsume(dir, prefix, db, {"--batch-events", "400", "--fault-abort-after-insert", "3"});
  auto status = crashing.process->Wait(seconds(120));
  ASSERT_TRUE(status.has_value()) << crashing.process->Log();
  EXPECT_EQ(*status, 128 + SIGABRT) << crashing.process->Log();
  auto store = OpenStore(db);
  const auto linked = LogEntries(store).size();
  const auto inserted = store.CountEvents().value;
  EXPECT_GT(inserted, static_cast<std::int64_t>(linked)) << "the crash should leave inserted but unlinked events";

  Service restarted = StartConsume(dir, prefix, db, {"--batch-events", "400"}, "consume2");
  ASSERT_TRUE(WaitUntil([&] { return WithId(LogEntries(store)) >= 3000; }, seconds(120))) << restarted.process->Log();
  EXPECT_GT(Metric(restarted, "ces_audit_consume_events_total{result=\"recovered\"}"), 0);
  ExpectExactlyOnce(store, 3000);
}

// Inserts `count` documents of about 1.1 KB into `events` (ids `<source> events <first_id + i>`), as
// a store that already holds older events; they are in no replay-log link.
void Prefill(mongo::AuditStore& store, const std::string& source, std::uint32_t first_id, std::uint32_t count) {
  const std::string filler(1000, 'x');
  for (std::uint32_t next = 0; next < count;) {
    std::vector<mongo::EventRecord> batch;
    for (; next < count && batch.size() < 5000; ++next) {
      mongo::EventRecord r;
      r.source = source;
      r.stream = "events";
      r.event_id = first_id + next;
      r.id = source + " events " + std::to_string(first_id + next);
      r.type = "FinalitySignature";
      r.received_at = "2024-06-12T09:26:25.460Z";
      r.topic = "prefill";
      r.offset = next;
      r.sha256 = std::string(64, '0');
      r.payload = R"({"x":")" + filler + R"("})";
      r.size = static_cast<std::int64_t>(r.payload.size());
      batch.push_back(std::move(r));
    }
    std::vector<const mongo::EventRecord*> pointers;
    for (const auto& r : batch) pointers.push_back(&r);
    mongo::InsertOutcome outcome;
    ASSERT_TRUE(store.InsertEvents(pointers, outcome).ok);
  }
}

// `compact` on a collection: on FerretDB's PostgreSQL backend a VACUUM ANALYZE, so that its planner
// knows the table's size (a table filled a moment ago has no statistics yet and is planned as tiny).
void Compact(const std::string& database, const std::string& collection) {
  bson_error_t error;
  mongoc_uri_t* uri = mongoc_uri_new_with_error(MongoDatabaseUri(database).c_str(), &error);
  ASSERT_NE(uri, nullptr) << error.message;
  mongoc_client_t* client = mongoc_client_new_from_uri(uri);
  bson_t* cmd = BCON_NEW("compact", BCON_UTF8(collection.c_str()));
  bson_t reply;
  const bool ok = mongoc_client_command_simple(client, database.c_str(), cmd, nullptr, &reply, &error);
  EXPECT_TRUE(ok) << error.message;
  bson_destroy(&reply);
  bson_destroy(cmd);
  mongoc_client_destroy(client);
  mongoc_uri_destroy(uri);
}

// A restart after a crash between the insert and the links asks which of the batch's ids are stored
// (AuditStore::FindStored). Where the server reads an `_id` from an index (MongoDB; FerretDB on
// PostgreSQL with the stack's GIN index) that must not depend on the size of `events`: there the
// lookup is one index read per id, never a `$in` (on FerretDB each `$in` reads the whole collection;
// 20,000 older documents make that visible, about 7 s on SQLite under load), and the restarted
// consumer links the crashed batch within seconds. On FerretDB SQLite (no index use) only the
// classification is checked. The batch also holds re-sends of older events with other payloads: not
// linked, kept as conflicts.
TEST(AuditConsume, RestartAfterCrashOnALargeStoreIsQuick) {
  const std::string dir = TempDir();
  const std::string prefix = UniquePrefix();
  const std::string db = DatabaseFor(prefix);
  const std::string source = "http://crash-large:9999";
  constexpr std::uint32_t kOlder = 20000;
  constexpr std::uint32_t kResends = 50;
  auto store = OpenStore(db);
  Prefill(store, source, 100000, kOlder);
  CreateTopics(prefix);
  Writer writer(prefix);
  WriteSynthetic(writer, source, 0, 1000);
  WriteSynthetic(writer, source, 100000, kResends);  // re-sends of older events, other payloads
  WriteSynthetic(writer, source, 1000, 2000);
  Service crashing = StartConsume(dir, prefix, db, {"--batch-events", "400", "--fault-abort-after-insert", "3"});
  auto status = crashing.process->Wait(seconds(120));
  ASSERT_TRUE(status.has_value()) << crashing.process->Log();
  EXPECT_EQ(*status, 128 + SIGABRT) << crashing.process->Log();

  Compact(db, "events");
  ASSERT_TRUE(store.DetectServer().ok);
  auto planned = store.PlanIdLookup(source + " events 900");
  ASSERT_TRUE(planned.ok());
  const bool ferret = store.server_kind() == mongo::ServerKind::kFerretDb;
  const bool indexed = !ferret || planned.value == mongo::IdLookup::kPerId;
  const auto restarted_at = std::chrono::steady_clock::now();
  Service restarted = StartConsume(dir, prefix, db, {"--batch-events", "400"}, "consume2");
  ASSERT_TRUE(WaitUntil([&] { return Metric(restarted, "ces_audit_consume_events_total{result=\"recovered\"}") > 0; },
                        seconds(180)))
      << restarted.process->Log();
  const double recovery_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - restarted_at).count();
  ASSERT_TRUE(WaitUntil([&] { return WithId(LogEntries(store)) >= 3000; }, seconds(120))) << restarted.process->Log();
  std::printf("recovered the crashed batch %.1f s after the restart (%s lookup)\n", recovery_s,
              std::string(mongo::ToString(planned.value)).c_str());
  if (indexed) {
    EXPECT_LT(recovery_s, 15.0) << restarted.process->Log();
  }
  if (ferret && indexed) {  // no `$in`: on FerretDB each reads the whole of `events`
    EXPECT_GT(Metric(restarted, "ces_audit_consume_id_lookups_total{lookup=\"per-id\"}"), 0);
    EXPECT_EQ(Metric(restarted, "ces_audit_consume_id_lookups_total{lookup=\"in\"}"), 0);
  }
  // The re-sends are spread over the three topics: some fall into the crashed batch, some into the
  // batches before it (counted by the crashed process).
  EXPECT_GT(Metric(restarted, "ces_audit_consume_events_total{result=\"duplicate\"}"), 0);
  const auto entries = LogEntries(store);
  ExpectUnique(entries);
  EXPECT_EQ(WithId(entries), 3000u);  // the re-sends are not linked
  EXPECT_EQ(store.CountEvents().value, static_cast<std::int64_t>(kOlder + entries.size()));
}

TEST(AuditConsume, KillNineMidStreamAndRestartLeavesOneCopy) {
  const std::string dir = TempDir();
  const std::string prefix = UniquePrefix();
  const std::string db = DatabaseFor(prefix);
  CreateTopics(prefix);
  Writer writer(prefix);
  std::atomic<bool> done{false};
  std::thread feeder([&] {
    Writer w(prefix);
    for (std::uint32_t batch = 0; batch < 20; ++batch) {
      WriteSynthetic(w, "http://kill:9999", batch * 400, 400);
      std::this_thread::sleep_for(milliseconds(150));
    }
    done = true;
  });
  auto store = OpenStore(db);
  for (int round = 0; round < 3; ++round) {
    Service consume = StartConsume(dir, prefix, db, {"--batch-events", "300"}, "consume" + std::to_string(round));
    // Let it write a few batches, then kill it wherever it is.
    ASSERT_TRUE(WaitUntil([&] { return Metric(consume, "ces_audit_consume_batches_total") >= 2 + round; }, seconds(60)))
        << consume.process->Log();
    std::this_thread::sleep_for(milliseconds(137 * (round + 1)));
    consume.process->Kill9();
  }
  feeder.join();
  ASSERT_TRUE(done);
  Service last = StartConsume(dir, prefix, db, {}, "consume-last");
  ASSERT_TRUE(WaitUntil([&] { return WithId(LogEntries(store)) >= 8000; }, seconds(180))) << last.process->Log();
  ExpectExactlyOnce(store, 8000);
}

TEST(AuditConsume, FerretDbOutageOf30SecondsLosesNothing) {
  const std::string dir = TempDir();
  const std::string prefix = UniquePrefix();
  const std::string db = DatabaseFor(prefix);
  Service node = StartEmit(dir, "emit", {"--stream", RecordingsDir() + "/v2/events.stream", "--loop", "--synthetic",
                                         "--rate", "100"});
  Service produce = StartProduce(dir, prefix, {node.url()});
  Service consume = StartConsume(dir, prefix, db);
  auto store = OpenStore(db);
  ASSERT_TRUE(WaitUntil([&] { return Metric(consume, "ces_audit_consume_events_total{result=\"stored\"}") >= 200; }, seconds(60)))
      << consume.process->Log();

  ASSERT_EQ(Stack({"stop", "ferretdb"}), 0);
  const auto stopped_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitUntil([&] { return HttpGet(consume.url() + "/readyz").first == 503; }, seconds(25)))
      << "the consumer should report the outage";
  const double stored_during = Metric(consume, "ces_audit_consume_events_total{result=\"stored\"}");
  std::this_thread::sleep_for(seconds(30) - (std::chrono::steady_clock::now() - stopped_at));
  EXPECT_EQ(Metric(consume, "ces_audit_consume_events_total{result=\"stored\"}"), stored_during) << "nothing stored while down";
  ASSERT_EQ(Stack({"start", "ferretdb"}), 0);
  ASSERT_TRUE(WaitUntil([&] { return HttpGet(consume.url() + "/readyz").first == 200; }, seconds(60)))
      << consume.process->Log();
  std::this_thread::sleep_for(seconds(3));
  node.process->Signal(SIGTERM);
  node.process->Wait(seconds(10));
  std::this_thread::sleep_for(seconds(2));
  produce.process->Signal(SIGTERM);
  ASSERT_TRUE(produce.process->Wait(seconds(60)).has_value());

  const auto records = KafkaRecords(prefix);
  ASSERT_GT(records.size(), 3000u);  // ~100 events/s before, during and after the outage
  ASSERT_TRUE(WaitUntil([&] { return LogEntries(store).size() >= records.size(); }, seconds(120)))
      << consume.process->Log();
  std::set<std::string> stored;
  for (const auto& e : LogEntries(store)) stored.insert(e.id);
  std::size_t missing = 0;
  for (const auto& r : records) {
    const std::string id = audit::BuildRecord(r).record.id;
    if (!stored.count(id)) ++missing;
  }
  EXPECT_EQ(missing, 0u);
  EXPECT_EQ(stored.size(), records.size());
  EXPECT_GT(Metric(consume, "ces_audit_consume_write_failures_total"), 0);
}

TEST(AuditConsume, EventsOverSixteenMiBRoundTripThroughGridFs) {
  const std::string dir = TempDir();
  const std::string prefix = UniquePrefix();
  const std::string db = DatabaseFor(prefix);
  CreateTopics(prefix);
  // A Step of ~20 MiB (bigger than any document) and one of ~10 MiB (fits, without a queryable form).
  auto step = [](std::size_t effects) {
    std::string s = R"({"Step":{"era_id":9007199254740993,"execution_effects":[)";
    for (std::size_t i = 0; i < effects; ++i) {
      if (i) s += ',';
      s += R"({"key":"balance-)" + std::to_string(100000000 + i) + R"(","kind":{"AddUInt512":"1000000000"}})";
    }
    return s + "]}}";
  };
  const std::string huge = step(300000);
  const std::string big = step(150000);
  ASSERT_GT(huge.size(), 16u * 1024u * 1024u);
  ASSERT_GT(big.size(), 8u * 1024u * 1024u);
  Writer writer(prefix);
  writer.Write("http://big:9999", "events", 1, "BlockAdded", R"({"BlockAdded":{"block_hash":"aa"}})");
  writer.Write("http://big:9999", "events", 2, "Step", huge);
  writer.Write("http://big:9999", "events", 3, "Step", big);
  writer.Write("http://big:9999", "events", 4, "Shutdown", "\"Shutdown\"");
  writer.Flush();
  Service consume = StartConsume(dir, prefix, db);
  auto store = OpenStore(db);
  ASSERT_TRUE(WaitUntil([&] { return WithId(LogEntries(store)) >= 4; }, seconds(120))) << consume.process->Log();
  auto stored = store.GetEvent("http://big:9999 events 2");
  ASSERT_TRUE(stored.ok()) << stored.status.message;
  ASSERT_TRUE(stored.value);
  EXPECT_TRUE(stored.value->payload_in_gridfs);
  EXPECT_TRUE(stored.value->payload == huge) << "GridFS payload differs (" << stored.value->payload.size() << " bytes)";
  EXPECT_EQ(stored.value->sha256, audit::Sha256Hex(huge));
  auto medium = store.GetEvent("http://big:9999 events 3");
  ASSERT_TRUE(medium.ok() && medium.value);
  EXPECT_FALSE(medium.value->payload_in_gridfs);
  EXPECT_TRUE(medium.value->payload == big);
  EXPECT_EQ(Metric(consume, "ces_audit_consume_gridfs_files_total"), 1);
  EXPECT_GE(Metric(consume, "ces_audit_consume_data_omitted_total"), 2);
  // The replay log refers to GridFS for the huge one and holds the others inline.
  for (const auto& e : LogEntries(store)) {
    if (e.event_id == 2u) {
      EXPECT_TRUE(e.payload_in_gridfs);
      EXPECT_TRUE(e.payload.empty());
    } else {
      EXPECT_FALSE(e.payload_in_gridfs) << e.id;
    }
    if (e.event_id == 3u) {
      EXPECT_TRUE(e.payload == big);
    }
  }
}

TEST(AuditConsume, ResentEventsAreStoredOnceAndConflictsAreKept) {
  const std::string dir = TempDir();
  const std::string prefix = UniquePrefix();
  const std::string db = DatabaseFor(prefix);
  CreateTopics(prefix);
  const std::string a = R"({"FinalitySignature":{"block_hash":"aa","public_key":"01"}})";
  const std::string b = R"({"FinalitySignature":{"block_hash":"bb","public_key":"01"}})";
  Writer writer(prefix);
  writer.Write("http://dup:9999", "events", std::nullopt, "ApiVersion", R"({"ApiVersion":"2.0.0"})");
  writer.Write("http://dup:9999", "events", 1, "FinalitySignature", a);
  writer.Write("http://dup:9999", "events", 2, "FinalitySignature", b);
  writer.Write("http://dup:9999", "events", 1, "FinalitySignature", a);  // a producer re-send
  writer.Write("http://dup:9999", "events", 2, "FinalitySignature", a);  // same identity, other payload
  writer.Flush();
  Service consume = StartConsume(dir, prefix, db, {"--batch-events", "2"});
  auto store = OpenStore(db);
  ASSERT_TRUE(WaitUntil([&] {
    return Metric(consume, "ces_audit_consume_events_total{result=\"duplicate\"}") >= 2 && LogEntries(store).size() >= 3;
  }, seconds(60))) << consume.process->Log();
  const auto entries = LogEntries(store);
  ExpectUnique(entries);
  EXPECT_EQ(entries.size(), 3u);  // ApiVersion, 1, 2
  EXPECT_EQ(store.CountEvents().value, 3);
  EXPECT_EQ(Metric(consume, "ces_audit_consume_events_total{result=\"conflict\"}"), 1);
  auto first = store.GetEvent("http://dup:9999 events 2");
  ASSERT_TRUE(first.ok() && first.value);
  EXPECT_EQ(first.value->payload, b);  // the first one stays
}

// The MongoDB layout (one unbounded segment collection per chain, links read a few at a time and
// positioned through their summaries), exercised on FerretDB: store, then replay over SSE.
TEST(AuditConsume, UnboundedSegmentLayoutReplays) {
  const std::string dir = TempDir();
  const std::string prefix = UniquePrefix();
  const std::string db = DatabaseFor(prefix);
  CreateTopics(prefix);
  Writer writer(prefix);
  WriteSynthetic(writer, "http://flat:9999", 0, 500);
  Service consume = StartConsume(dir, prefix, db,
                                 {"--segment-events", "0", "--segment-bytes", "0", "--link-events", "7"});
  auto store = OpenStore(db);
  ASSERT_TRUE(WaitUntil([&] { return WithId(LogEntries(store)) >= 500; }, seconds(60))) << consume.process->Log();
  EXPECT_EQ(store.segment_limits(), mongo::SegmentLimits{});
  Service api;
  api.port = FreePort();
  api.process = std::make_unique<Process>(
      std::vector<std::string>{"api", "--events", "node", "--mongo", MongoDatabaseUri(db), "--listen", "127.0.0.1:" + std::to_string(api.port)},
      dir + "/api.log");
  ASSERT_TRUE(WaitUntil([&] { return HttpGet(api.url() + "/readyz").first == 200; }, seconds(30)));
  for (std::uint32_t start : {0u, 1u, 250u, 499u}) {
    SCOPED_TRACE(start);
    auto [status, body] = HttpGet(api.url() + "/events?start_from=" + std::to_string(start) +
                                  "&max_events=" + std::to_string(500 - start));
    ASSERT_EQ(status, 200) << body;
    std::vector<std::uint32_t> ids;
    std::istringstream in(body);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("id:", 0) == 0) ids.push_back(static_cast<std::uint32_t>(std::stoul(line.substr(3))));
    }
    ASSERT_EQ(ids.size(), 500u - start);
    for (std::size_t i = 0; i < ids.size(); ++i) ASSERT_EQ(ids[i], start + i);
  }
}

TEST(AuditConsume, BadMongoUriExitsWithStatusOne) {
  const std::string dir = TempDir();
  Process p({"audit-consume", "--kafka", RequireEnv("KAFKA_BOOTSTRAP"), "--mongo", "postgres://nope", "--listen",
             "127.0.0.1:" + std::to_string(FreePort())},
            dir + "/bad.log");
  auto status = p.Wait(seconds(20));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 1);
  EXPECT_NE(p.Log().find("audit-consume failed"), std::string::npos) << p.Log();
}

}  // namespace
}  // namespace ces::test
