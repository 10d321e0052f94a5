#include "ces/store/consumer.hpp"

#include <algorithm>
#include <atomic>
#include <future>
#include <memory>
#include <stdexcept>
#include <ctime>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "ces/common/backoff.hpp"
#include "ces/common/log.hpp"
#include "ces/common/metrics.hpp"
#include "ces/common/time.hpp"
#include "ces/ingest/record.hpp"
#include "ces/kafka/topics.hpp"
#include "ces/model/parser.hpp"
#include "ces/postgres/connection.hpp"
#include "ces/postgres/migrations.hpp"
#include "ces/postgres/store.hpp"
#include "rpc.hpp"

namespace ces::store {
namespace {

using Clock = std::chrono::steady_clock;
using kafka::TopicPartition;

// librdkafka's logical offset "beginning of the partition" (RD_KAFKA_OFFSET_BEGINNING).
constexpr std::int64_t kOffsetBeginning = -2;
constexpr std::size_t kPayloadHeadBytes = 512;
constexpr std::chrono::milliseconds kStopCheckInterval{100};

postgres::PartitionKey Key(const TopicPartition& tp) { return {tp.topic, tp.partition}; }

// Event types used as metric labels (anything else is "other", to bound the label set).
std::string TypeLabel(const std::string& type) {
  static const std::set<std::string> kKnown = {
      "ApiVersion",      "BlockAdded",        "DeployAccepted",       "DeployExpired",      "DeployProcessed",
      "TransactionAccepted", "TransactionExpired", "TransactionProcessed", "FinalitySignature", "Fault",
      "Step",            "Shutdown"};
  return kKnown.count(type) ? type : "other";
}

// Per-batch tallies, added to the counters only when the batch is committed.
struct Tally {
  std::map<std::string, std::uint64_t> stored, ignored, rejected;
  std::vector<std::int64_t> received_ms;  // received-at of stored events (latency)
};

enum class Outcome { kApplied, kConflict, kDataError, kAborted };

}  // namespace

struct StoreConsumer::Impl {
  ConsumerOptions options;
  postgres::Connection db;
  postgres::Store store{db};
  model::Parser parser;
  model::Parser second_parser;  // the second half of a large batch, on its own thread
  std::atomic<bool> db_ok{false};
  std::atomic<bool> subscribed{false};
  std::map<TopicPartition, std::optional<std::int64_t>> positions;  // assigned partitions -> stored position
  Clock::time_point last_kafka_commit = Clock::now();
  bool kafka_commit_due = false;
  std::set<std::string> logged_rejections;  // guarded by rejections_mutex
  std::mutex rejections_mutex;
  std::thread rewards_thread;
  kafka::Consumer* consumer = nullptr;
  // The caller's stop condition (Start, Run), and the end of Run for the rewards thread.
  std::function<bool()> should_stop;
  std::atomic<bool> run_ended{false};

  metrics::Registry& reg;
  std::map<std::string, metrics::Counter*> events_c, ignored_c, rejected_c, rows_c;
  metrics::Counter& batches = reg.GetCounter("ces_store_consume_batches_total", "Batches committed to PostgreSQL");
  metrics::Counter& conflicts = reg.GetCounter(
      "ces_store_consume_position_conflicts_total",
      "Batches discarded because the stored positions were not the expected ones (then re-read from there)");
  metrics::Counter& retries = reg.GetCounter("ces_store_consume_db_retries_total",
                                             "Failed PostgreSQL attempts that were retried (connection, failover, deadlock)");
  metrics::Counter& reconnects = reg.GetCounter("ces_store_consume_db_connects_total", "PostgreSQL (re)connections");
  metrics::Counter& refused = reg.GetCounter("ces_store_consume_db_refused_batches_total",
                                             "Batches PostgreSQL refused as data, then applied event by event");
  metrics::Counter& dropped_stale = reg.GetCounter("ces_store_consume_dropped_records_total",
                                                   "Kafka records skipped before parsing (already stored / not assigned)",
                                                   {{"reason", "stale"}});
  metrics::Counter& dropped_unassigned = reg.GetCounter(
      "ces_store_consume_dropped_records_total", "Kafka records skipped before parsing (already stored / not assigned)",
      {{"reason", "unassigned"}});
  metrics::Histogram& batch_seconds = reg.GetHistogram(
      "ces_store_consume_batch_seconds", "Time to apply one batch in PostgreSQL", {}, metrics::LatencyBuckets());
  metrics::Histogram& batch_events = reg.GetHistogram("ces_store_consume_batch_events", "Records per committed batch", {},
                                                      {1, 10, 100, 500, 1000, 2000, 5000, 10000});
  metrics::Histogram& latency = reg.GetHistogram(
      "ces_store_consume_event_latency_seconds",
      "From the producer reading an event (received-at header) to its rows being committed", {},
      {0.002, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2, 5, 10});
  metrics::Gauge& assigned = reg.GetGauge("ces_store_consume_assigned_partitions", "Kafka partitions assigned");
  metrics::Gauge& rewards_pending = reg.GetGauge("ces_store_consume_rewards_pending_eras",
                                                 "1.x eras whose rewards wait for the node RPC");
  metrics::Gauge& delegator_rewards_pending = reg.GetGauge(
      "ces_store_consume_delegator_rewards_pending_eras",
      "2.x eras whose per-delegator rewards wait for the node RPC (chain_get_era_summary)");
  metrics::Counter& rpc_ok = reg.GetCounter("ces_store_consume_rpc_requests_total", "Node RPC calls for era rewards",
                                            {{"outcome", "ok"}});
  metrics::Counter& rpc_error = reg.GetCounter("ces_store_consume_rpc_requests_total", "Node RPC calls for era rewards",
                                               {{"outcome", "error"}});

  Impl(ConsumerOptions o, metrics::Registry& registry) : options(std::move(o)), db(options.postgres), reg(registry) {}

  bool Stopping() const { return run_ended || (should_stop && should_stop()); }

  // Sleeps up to `duration`; true as soon as the consumer is to stop (asked every 100 ms).
  bool WaitStopping(std::chrono::milliseconds duration) const {
    const auto deadline = Clock::now() + duration;
    while (!Stopping()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left <= std::chrono::milliseconds::zero()) return false;
      std::this_thread::sleep_for(std::min(left, kStopCheckInterval));
    }
    return true;
  }

  metrics::Counter& Labelled(std::map<std::string, metrics::Counter*>& cache, const char* name, const char* help,
                             const char* label, const std::string& value) {
    auto it = cache.find(value);
    if (it != cache.end()) return *it->second;
    metrics::Counter& c = reg.GetCounter(name, help, {{label, value}});
    cache[value] = &c;
    return c;
  }

  // ---- PostgreSQL connection ----

  bool EnsureConnected() {
    if (db.IsOpen()) return true;
    backoff::Backoff backoff(options.backoff_initial, options.backoff_max, {1.0, 1.25});
    int attempts = 0;
    while (!db.IsOpen()) {
      postgres::DbError e = db.Connect();
      if (!e) {
        reconnects.Inc();
        log::Info("connected to postgresql", {{"server", db.Server()}});
        return true;
      }
      db_ok = false;
      if (attempts++ % 20 == 0) log::Warn("postgresql unreachable, retrying", {{"error", e.message}});
      if (WaitStopping(backoff.Next())) return false;
    }
    return true;
  }

  // ---- Kafka assignment ----

  kafka::StartOffsets OnAssign(const std::vector<TopicPartition>& tps) {
    Finish();  // the connection is the writer's until then
    kafka::StartOffsets offsets;
    std::vector<postgres::PartitionKey> keys;
    for (const auto& tp : tps) keys.push_back(Key(tp));
    backoff::Backoff backoff(options.backoff_initial, options.backoff_max, {1.0, 1.25});
    while (true) {
      if (!EnsureConnected()) return offsets;  // shutting down: these partitions are never applied
      postgres::StoredPositions stored;
      postgres::DbError e = store.LoadPositions(options.group, keys, stored);
      if (!e) {
        db_ok = true;
        for (const auto& tp : tps) {
          std::optional<std::int64_t> position = stored[Key(tp)];
          positions[tp] = position;
          offsets[tp] = position.value_or(kOffsetBeginning);
          log::Info("partition assigned", {{"topic", tp.topic},
                                           {"partition", static_cast<int>(tp.partition)},
                                           {"position", position ? std::to_string(*position) : std::string("beginning")}});
        }
        assigned.Set(static_cast<double>(positions.size()));
        return offsets;
      }
      retries.Inc();
      log::Warn("loading positions failed, retrying", {{"error", e.message}});
      db.Disconnect();
      db_ok = false;
      if (WaitStopping(backoff.Next())) return offsets;
    }
  }

  void OnRevoke(const std::vector<TopicPartition>& tps) {
    Finish();
    for (const auto& tp : tps) positions.erase(tp);
    assigned.Set(static_cast<double>(positions.size()));
  }

  // ---- parsing ----

  model::RejectedEventRow Rejected(const kafka::Message& m, const std::string& type, const std::string& reason) {
    model::RejectedEventRow row;
    const ingest::EventMeta meta = ingest::DecodeHeaders(m);
    if (meta.event_id) {
      row.source = meta.source;
      row.stream = meta.stream;
      row.event_id = *meta.event_id;
    } else {  // no node identity: the Kafka coordinates are the identity
      row.source = "kafka:" + m.topic + "/" + std::to_string(m.partition);
      row.stream = "";
      row.event_id = m.offset;
    }
    row.topic = m.topic;
    row.partition = m.partition;
    row.offset = m.offset;
    row.event_type = type;
    row.api_version = meta.api_version;
    row.reason = reason;
    row.payload_bytes = static_cast<std::int64_t>(m.value.size());
    std::size_t cut = std::min(m.value.size(), kPayloadHeadBytes);
    while (cut > 0 && cut < m.value.size() && (static_cast<unsigned char>(m.value[cut]) & 0xC0) == 0x80) --cut;
    row.payload_head = m.value.substr(0, cut);
    row.received_at = meta.received_at;
    return row;
  }

  void Parse(model::Parser& with, const kafka::Message& m, model::Rows& rows, Tally& tally) {
    // The event's identity in the audit store, recorded on its rows (docs/schema.md, migration 2).
    model::EventIdentity identity;
    const ingest::EventMeta meta = ingest::DecodeHeaders(m);
    if (meta.event_id) {
      identity.source = meta.source;
      identity.stream = meta.stream;
      identity.event_id = *meta.event_id;
      identity.api_version = meta.api_version;
    }
    model::ParseResult r = with.Parse(m.value, rows, identity);
    const std::string label = TypeLabel(r.event_type);
    switch (r.outcome) {
      case model::Outcome::kStored: {
        ++tally.stored[label];
        if (auto ms = time::ParseRfc3339Millis(meta.received_at)) tally.received_ms.push_back(*ms);
        break;
      }
      case model::Outcome::kIgnored:
        ++tally.ignored[label];
        break;
      case model::Outcome::kRejected: {
        ++tally.rejected[label];
        model::RejectedEventRow row = Rejected(m, r.event_type, r.reason);
        bool first_of_type = false;
        {
          std::lock_guard lock(rejections_mutex);
          first_of_type = logged_rejections.insert(label).second;
        }
        if (first_of_type) {
          log::Warn("event rejected (logged once per event type; all are in rejected_events)",
                    {{"event_type", r.event_type},
                     {"reason", r.reason},
                     {"source", row.source},
                     {"stream", row.stream},
                     {"event_id", row.event_id},
                     {"topic", m.topic},
                     {"offset", m.offset}});
        }
        rows.rejected_events.push_back(std::move(row));
        break;
      }
    }
  }

  void Count(const Tally& tally, std::size_t records, std::int64_t committed_ms) {
    for (const auto& [type, n] : tally.stored) {
      Labelled(events_c, "ces_store_consume_events_total", "Events stored as rows, by type", "type", type).Inc(n);
    }
    for (const auto& [type, n] : tally.ignored) {
      Labelled(ignored_c, "ces_store_consume_ignored_events_total",
               "Valid events the model does not store (ApiVersion, Shutdown)", "type", type)
          .Inc(n);
    }
    for (const auto& [type, n] : tally.rejected) {
      Labelled(rejected_c, "ces_store_consume_rejected_events_total",
               "Events recorded in rejected_events (unknown type or shape)", "type", type)
          .Inc(n);
    }
    const auto commit_ms = static_cast<double>(committed_ms);
    for (std::int64_t ms : tally.received_ms) latency.Observe(std::max(0.0, (commit_ms - static_cast<double>(ms)) / 1000.0));
    batches.Inc();
    batch_events.Observe(static_cast<double>(records));
  }

  // ---- applying ----

  // What writing one batch came to, before the consumer's state follows it (Settle).
  struct Attempt {
    Outcome outcome = Outcome::kAborted;
    postgres::ApplyResult result;  // the rows written (applied) or the stored positions (conflict)
    std::string data_error;
    int failures = 0;
    std::int64_t committed_ms = 0;  // unix time of the commit
  };

  // Writes a batch, retrying on connection errors (reconnecting, with a backoff) until it is applied,
  // found in conflict, refused as data, or the consumer stops. Uses only the PostgreSQL connection and
  // the counters (an applied batch's rows and time at once, with its commit): it runs on the writer
  // thread while the next batch is parsed. The counters' label caches are only touched by the one
  // thread writing: the writer while a batch is in flight, else the main thread.
  Attempt Write(const std::vector<postgres::PositionUpdate>& updates, const model::Rows& rows) {
    backoff::Backoff backoff(options.backoff_initial, options.backoff_max, {1.0, 1.25});
    Attempt a;
    while (true) {
      if (!EnsureConnected()) return a;  // kAborted
      const auto start = Clock::now();
      a.result = store.Apply(options.group, updates, rows);
      switch (a.result.status) {
        case postgres::ApplyStatus::kApplied:
          db_ok = true;
          a.committed_ms = time::UnixMillis(time::Now());
          batch_seconds.Observe(std::chrono::duration<double>(Clock::now() - start).count());
          for (const auto& t : a.result.written) {
            Labelled(rows_c, "ces_store_consume_rows_total", "Rows inserted or updated, by table", "table", t.table)
                .Inc(t.rows);
          }
          a.outcome = Outcome::kApplied;
          return a;
        case postgres::ApplyStatus::kConflict:
          db_ok = true;
          a.outcome = Outcome::kConflict;
          return a;
        case postgres::ApplyStatus::kFailed:
          break;
      }
      if (a.result.error.kind == postgres::ErrorKind::kData) {
        a.data_error = a.result.error.message;
        a.outcome = Outcome::kDataError;
        return a;
      }
      retries.Inc();
      db_ok = false;
      if (a.failures++ % 20 == 0) {
        log::Warn("applying a batch failed, reconnecting and retrying the same batch",
                  {{"error", a.result.error.message}, {"sqlstate", a.result.error.sqlstate}});
      }
      db.Disconnect();
      if (WaitStopping(backoff.Next())) return a;  // kAborted
    }
  }

  // The consumer's state after a write (main thread): the positions and counters of an applied batch,
  // the seeks of one in conflict.
  Outcome Settle(const std::vector<postgres::PositionUpdate>& updates, const Attempt& a, std::string& data_error) {
    switch (a.outcome) {
      case Outcome::kApplied: {
        for (const auto& u : updates) {
          TopicPartition tp{u.partition.topic, u.partition.partition};
          if (positions.count(tp)) positions[tp] = u.next;
        }
        kafka_commit_due = true;
        if (a.failures > 0) log::Info("batch applied after retries", {{"attempts", a.failures + 1}});
        return Outcome::kApplied;
      }
      case Outcome::kConflict: {
        conflicts.Inc();
        for (const auto& [key, stored] : a.result.stored) {
          TopicPartition tp{key.topic, key.partition};
          std::optional<std::int64_t> expected;
          for (const auto& u : updates) {
            if (u.partition == key) expected = u.expected;
          }
          if (stored == expected) {
            // Not in conflict, but the batch was rolled back as a whole: read its records again.
            if (positions.count(tp)) consumer->Seek(tp, stored.value_or(kOffsetBeginning));
            continue;
          }
          log::Warn("stored position differs from the batch's start, re-reading from the stored position",
                    {{"topic", key.topic},
                     {"partition", static_cast<int>(key.partition)},
                     {"expected", expected ? std::to_string(*expected) : std::string("none")},
                     {"stored", stored ? std::to_string(*stored) : std::string("none")}});
          if (positions.count(tp)) {
            positions[tp] = stored;
            consumer->Seek(tp, stored.value_or(kOffsetBeginning));
          }
        }
        return Outcome::kConflict;
      }
      case Outcome::kDataError:
        data_error = a.data_error;
        return Outcome::kDataError;
      case Outcome::kAborted:
        break;
    }
    return Outcome::kAborted;
  }

  Outcome ApplyWithRetry(const std::vector<postgres::PositionUpdate>& updates, const model::Rows& rows,
                         std::string& data_error) {
    return Settle(updates, Write(updates, rows), data_error);
  }

  // PostgreSQL refused a batch's data (it should not happen: the parser validates every value). Apply
  // its events one by one so only the offending ones end in rejected_events.
  Outcome ApplyEventByEvent(const std::vector<const kafka::Message*>& messages, const std::string& batch_error) {
    refused.Inc();
    log::Error("postgresql refused a batch, applying its events one by one", {{"error", batch_error}});
    for (const kafka::Message* m : messages) {
      TopicPartition tp{m->topic, m->partition};
      auto it = positions.find(tp);
      if (it == positions.end() || (it->second && m->offset < *it->second)) continue;
      std::vector<postgres::PositionUpdate> updates = {{Key(tp), it->second, m->offset + 1}};
      model::Rows rows;
      Tally tally;
      Parse(parser, *m, rows, tally);
      std::string error;
      Outcome outcome = ApplyWithRetry(updates, rows, error);
      if (outcome == Outcome::kDataError) {
        model::Rows rejected, scratch;
        model::ParseResult r = parser.Parse(m->value, scratch);
        rejected.rejected_events.push_back(Rejected(*m, r.event_type, "postgresql refused the event's rows: " + error));
        log::Error("postgresql refused an event's rows, recorded in rejected_events",
                   {{"topic", m->topic}, {"offset", m->offset}, {"error", error}});
        tally = Tally{};
        ++tally.rejected[TypeLabel(r.event_type)];
        outcome = ApplyWithRetry(updates, rejected, error);
        if (outcome == Outcome::kDataError) {
          // Even the rejection record was refused: store the position alone so the stream goes on,
          // and say so loudly (the event stays in Kafka).
          log::Error("postgresql refused the rejection record too, skipping the event",
                     {{"topic", m->topic}, {"offset", m->offset}, {"error", error}});
          outcome = ApplyWithRetry(updates, model::Rows{}, error);
          if (outcome == Outcome::kDataError) {  // the positions alone: the database is unusable, wait
            WaitStopping(options.backoff_max);
            return Outcome::kAborted;
          }
        }
      }
      if (outcome != Outcome::kApplied) return outcome;
      Count(tally, 1, time::UnixMillis(time::Now()));
    }
    return Outcome::kApplied;
  }

  // Parses the records in order into `rows`. A large batch (1.x DeployProcessed events are tens of
  // kilobytes each) is parsed in two halves at once, the second on another thread with its own
  // parser; its rows are appended after the first half's, so the rows are those of one parse in order.
  void ParseAll(const std::vector<const kafka::Message*>& records, model::Rows& rows, Tally& tally) {
    std::size_t bytes = 0;
    for (const kafka::Message* m : records) bytes += m->value.size();
    std::size_t split = records.size();
    if (options.parse_split_bytes > 0 && bytes >= options.parse_split_bytes && records.size() > 1) {
      std::size_t first = 0;
      for (split = 0; split < records.size() && first < bytes / 2; ++split) first += records[split]->value.size();
    }
    model::Rows second_rows;
    Tally second_tally;
    std::thread second;
    if (split < records.size()) {
      second = std::thread([&] {
        for (std::size_t i = split; i < records.size(); ++i) Parse(second_parser, *records[i], second_rows, second_tally);
      });
    }
    for (std::size_t i = 0; i < split; ++i) Parse(parser, *records[i], rows, tally);
    if (!second.joinable()) return;
    second.join();
    rows.Append(std::move(second_rows));
    for (const auto& [type, n] : second_tally.stored) tally.stored[type] += n;
    for (const auto& [type, n] : second_tally.ignored) tally.ignored[type] += n;
    for (const auto& [type, n] : second_tally.rejected) tally.rejected[type] += n;
    tally.received_ms.insert(tally.received_ms.end(), second_tally.received_ms.begin(), second_tally.received_ms.end());
  }

  // ---- one batch written while the next is parsed ----
  // The records of a batch, what they parsed to and the positions they move.
  struct Batch {
    std::vector<kafka::Message> messages;  // owns the records `accepted` points into
    std::vector<const kafka::Message*> accepted;
    std::vector<postgres::PositionUpdate> updates;
    model::Rows rows;
    Tally tally;
  };
  // The batch being written on the writer thread (at most one), and its write. The next batch is
  // parsed meanwhile and handed over only once this one is settled, so each batch's expected
  // positions are the ones its predecessor stored.
  std::unique_ptr<Batch> writing;
  std::future<Attempt> written;

  // The accepted records of `messages` (assigned partitions, not stored yet, counting the batch being
  // written as stored), parsed; nullptr when none is.
  std::unique_ptr<Batch> Prepare(std::vector<kafka::Message> messages) {
    auto batch = std::make_unique<Batch>();
    batch->messages = std::move(messages);
    std::map<TopicPartition, std::optional<std::int64_t>> ahead = positions;
    if (writing) {
      for (const auto& u : writing->updates) {
        auto it = ahead.find({u.partition.topic, u.partition.partition});
        if (it != ahead.end()) it->second = u.next;
      }
    }
    std::map<TopicPartition, postgres::PositionUpdate> updates;
    batch->accepted.reserve(batch->messages.size());
    for (const kafka::Message& m : batch->messages) {
      TopicPartition tp{m.topic, m.partition};
      auto it = ahead.find(tp);
      if (it == ahead.end()) {
        dropped_unassigned.Inc();
        continue;
      }
      if (it->second && m.offset < *it->second) {
        dropped_stale.Inc();
        continue;
      }
      auto [u, inserted] = updates.try_emplace(tp);
      if (inserted) {
        u->second.partition = Key(tp);
        u->second.expected = it->second;
      }
      u->second.next = m.offset + 1;
      batch->accepted.push_back(&m);
    }
    if (updates.empty()) return nullptr;
    ParseAll(batch->accepted, batch->rows, batch->tally);
    for (auto& [tp, u] : updates) batch->updates.push_back(u);
    return batch;
  }

  // Rewinds the partitions of a batch that was read but not (fully) applied to what the database
  // holds: its records are read again (or at the next start).
  void Rewind(const std::vector<postgres::PositionUpdate>& updates) {
    for (const auto& u : updates) {
      TopicPartition tp{u.partition.topic, u.partition.partition};
      auto it = positions.find(tp);
      if (it != positions.end()) consumer->Seek(tp, it->second.value_or(kOffsetBeginning));
    }
  }

  // Waits for the batch being written and settles it; false when it was not (fully) applied.
  bool Finish() {
    if (!writing) return true;
    const Attempt a = written.get();
    const std::unique_ptr<Batch> batch = std::move(writing);
    std::string error;
    Outcome outcome = Settle(batch->updates, a, error);
    if (outcome == Outcome::kApplied) return true;  // counted by the writer
    if (outcome == Outcome::kDataError) outcome = ApplyEventByEvent(batch->accepted, error);
    if (outcome == Outcome::kApplied) return true;
    if (outcome != Outcome::kConflict) Rewind(batch->updates);  // a conflict already seeked
    return false;
  }

  void ProcessBatch(std::vector<kafka::Message> messages) {
    std::unique_ptr<Batch> next = Prepare(std::move(messages));  // while the batch before is written
    if (!Finish()) {
      // The batch before did not apply, and this one was read past it: read both again.
      if (next) Rewind(next->updates);
      return;
    }
    if (!next) return;
    writing = std::move(next);
    written = std::async(std::launch::async, [this, batch = writing.get()] {
      Attempt a = Write(batch->updates, batch->rows);
      // Counted as soon as committed (as the rows are visible), not when the main thread settles it.
      if (a.outcome == Outcome::kApplied) Count(batch->tally, batch->accepted.size(), a.committed_ms);
      return a;
    });
  }

  void MaybeCommitKafka(bool force) {
    if (!kafka_commit_due || (!force && Clock::now() - last_kafka_commit < std::chrono::seconds(1))) return;
    std::map<TopicPartition, std::int64_t> offsets;
    for (const auto& [tp, position] : positions) {
      if (position) offsets[tp] = *position;
    }
    std::string error;
    if (!consumer->Commit(offsets, error)) log::Debug("kafka offset commit failed", {{"error", error}});
    kafka_commit_due = false;
    last_kafka_commit = Clock::now();
  }

  // ---- era rewards over the node RPC ----
  // 1.x eras whose Step (WriteEraInfo) was never seen: chain_get_era_info_by_switch_block; 2.x eras:
  // per-delegator rewards from chain_get_era_summary. Each era is retried with a backoff (1 s doubling
  // to 60 s) until the node answers; nothing is dropped.

  struct Schedule {
    Clock::time_point next{};
    std::chrono::milliseconds delay{0};
  };

  enum class RewardsKind { kEraInfo, kDelegators };

  // One pass over the pending eras of one kind; false when the database connection was lost.
  bool FetchRewards(RewardsKind kind, const std::vector<postgres::PendingRewards>& pending, postgres::Store& store,
                    model::Parser& parser, std::map<std::int64_t, Schedule>& schedule) {
    const bool era_info = kind == RewardsKind::kEraInfo;
    const char* method = era_info ? "chain_get_era_info_by_switch_block" : "chain_get_era_summary";
    for (const auto& p : pending) {
      if (Stopping()) break;
      Schedule& s = schedule[p.era_id];
      if (Clock::now() < s.next) continue;
      RpcResponse response = CallRpc(options.node_rpc, method, EraInfoBySwitchBlockParams(p.switch_block_hash));
      model::Rows rows;
      std::string error = response.error;
      bool ok = response.ok &&
                (era_info ? parser.ParseEraInfoResponse(response.body, p.era_id, p.switch_block_hash, rows, error)
                          : parser.ParseEraSummaryResponse(response.body, p.era_id, p.switch_block_hash, rows, error));
      if (ok) {
        postgres::DbError e = era_info ? store.CompleteRewards(p.era_id, rows)
                                       : store.CompleteDelegatorRewards(p.era_id, rows);
        if (e) {
          log::Warn("storing era rewards failed, will retry",
                    {{"era_id", p.era_id}, {"method", method}, {"error", e.message}});
          return false;
        }
        rpc_ok.Inc();
        schedule.erase(p.era_id);
        log::Info("era rewards stored", {{"era_id", p.era_id},
                                         {"method", method},
                                         {"validator_rewards", static_cast<std::uint64_t>(rows.validator_rewards.size())},
                                         {"delegator_rewards", static_cast<std::uint64_t>(rows.delegator_rewards.size())}});
      } else {
        rpc_error.Inc();
        s.delay = std::min<std::chrono::milliseconds>(std::chrono::seconds(60),
                                                      std::max<std::chrono::milliseconds>(std::chrono::seconds(1), s.delay * 2));
        s.next = Clock::now() + s.delay;
        log::Warn("era rewards not available yet, will retry",
                  {{"era_id", p.era_id}, {"method", method}, {"attempts", p.attempts + 1}, {"error", error}});
        if (era_info) {
          store.RecordRewardsFailure(p.era_id, error);
        } else {
          store.RecordDelegatorRewardsFailure(p.era_id, error);
        }
      }
    }
    return true;
  }

  void RewardsLoop() {
    postgres::Connection conn(options.postgres);
    postgres::Store rewards_store(conn);
    model::Parser rpc_parser;
    std::map<std::int64_t, Schedule> era_info_schedule, delegator_schedule;
    bool warned = false;
    while (!WaitStopping(options.rewards_interval)) {
      if (!conn.IsOpen() && conn.Connect()) continue;
      std::vector<postgres::PendingRewards> pending, pending_delegators;
      if (rewards_store.PendingRewardEras(100, pending) ||
          rewards_store.PendingDelegatorRewardEras(100, pending_delegators)) {
        conn.Disconnect();
        continue;
      }
      rewards_pending.Set(static_cast<double>(pending.size()));
      delegator_rewards_pending.Set(static_cast<double>(pending_delegators.size()));
      if (pending.empty() && pending_delegators.empty()) continue;
      if (options.node_rpc.empty()) {
        if (!warned) {
          log::Warn("era rewards are pending and stay so: no --node-rpc to fetch them from",
                    {{"pending_eras", static_cast<std::uint64_t>(pending.size())},
                     {"pending_delegator_reward_eras", static_cast<std::uint64_t>(pending_delegators.size())}});
          warned = true;
        }
        continue;
      }
      if (!FetchRewards(RewardsKind::kEraInfo, pending, rewards_store, rpc_parser, era_info_schedule) ||
          !FetchRewards(RewardsKind::kDelegators, pending_delegators, rewards_store, rpc_parser, delegator_schedule)) {
        conn.Disconnect();
      }
    }
  }
};

StoreConsumer::StoreConsumer(ConsumerOptions options, metrics::Registry& registry)
    : impl_(std::make_unique<Impl>(std::move(options), registry)) {}

StoreConsumer::~StoreConsumer() = default;

void StoreConsumer::Start(const std::function<bool()>& should_stop) {
  Impl& impl = *impl_;
  if (impl.options.postgres.empty()) throw std::invalid_argument("--postgres is required");
  impl.should_stop = should_stop;
  const auto deadline = Clock::now() + impl.options.startup_timeout;
  postgres::DbError e;
  while ((e = impl.db.Connect())) {
    if (Clock::now() >= deadline || impl.Stopping()) {
      throw std::runtime_error("cannot connect to PostgreSQL: " + e.message);
    }
    log::Warn("postgresql unreachable at start, retrying", {{"error", e.message}});
    impl.WaitStopping(std::chrono::seconds(1));
  }
  impl.reconnects.Inc();
  log::Info("connected to postgresql", {{"server", impl.db.Server()}});
  if (impl.options.migrate) {
    postgres::MigrateResult m = postgres::Migrate(impl.db);
    log::Info("schema migrated", {{"from_version", m.from_version},
                                  {"to_version", m.to_version},
                                  {"applied", static_cast<std::uint64_t>(m.applied.size())}});
  } else {
    postgres::RequireCurrentSchema(impl.db);
  }
  impl.db_ok = true;
}

void StoreConsumer::Run(const std::function<bool()>& should_stop) {
  Impl& impl = *impl_;
  impl.should_stop = should_stop;
  impl.run_ended = false;
  kafka::EnsureEventTopics(impl.options.brokers, impl.options.kafka_settings, impl.options.topic_prefix);
  kafka::Consumer consumer(impl.options.brokers, impl.options.group, impl.options.kafka_settings);
  impl.consumer = &consumer;
  // However Run ends (also by an exception): the rewards thread stops, nothing points at `consumer`.
  struct EndOfRun {
    Impl& impl;
    ~EndOfRun() {
      impl.run_ended = true;
      if (impl.writing) {  // Run ended by an exception: the write stops; the next assignment reloads the positions
        impl.written.wait();
        impl.writing.reset();
      }
      if (impl.rewards_thread.joinable()) impl.rewards_thread.join();
      impl.subscribed = false;
      impl.consumer = nullptr;
      impl.should_stop = nullptr;
    }
  } end_of_run{impl};
  kafka::RebalanceHooks hooks;
  hooks.on_assign = [&impl](const std::vector<TopicPartition>& tps) { return impl.OnAssign(tps); };
  hooks.on_revoke = [&impl](const std::vector<TopicPartition>& tps) { impl.OnRevoke(tps); };
  const std::vector<std::string> topics = kafka::EventTopicNames(impl.options.topic_prefix);
  consumer.Subscribe(topics, hooks);
  impl.subscribed = true;
  log::Info("consuming", {{"topics", topics[0] + "," + topics[1] + "," + topics[2]}, {"group", impl.options.group}});
  impl.rewards_thread = std::thread([&impl] { impl.RewardsLoop(); });

  while (!should_stop()) {
    std::vector<kafka::Message> messages = consumer.Poll(impl.options.max_batch, impl.options.poll_timeout, impl.options.max_batch_bytes);
    if (!messages.empty() && !should_stop()) {
      impl.ProcessBatch(std::move(messages));
    } else {
      impl.Finish();
    }
    impl.MaybeCommitKafka(false);
  }
  log::Info("stopping after the current batch");
  impl.Finish();
  impl.MaybeCommitKafka(true);
  impl.subscribed = false;
  consumer.Close();
}

bool StoreConsumer::Ready(std::string& reason) const {
  if (!impl_->db_ok) {
    reason = "postgresql not reachable";
    return false;
  }
  if (!impl_->subscribed) {
    reason = "not subscribed to kafka";
    return false;
  }
  return true;
}

}  // namespace ces::store
