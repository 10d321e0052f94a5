#include "ces/audit/consumer.hpp"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "ces/audit/record.hpp"
#include "ces/common/backoff.hpp"
#include "ces/common/log.hpp"
#include "ces/common/metrics.hpp"
#include "ces/kafka/topics.hpp"

namespace ces::audit {

struct AuditConsumer::Metrics {
  explicit Metrics(metrics::Registry& r)
      : stored(r.GetCounter("ces_audit_consume_events_total", "Events read from Kafka by outcome", {{"result", "stored"}})),
        recovered(r.GetCounter("ces_audit_consume_events_total", "Events read from Kafka by outcome", {{"result", "recovered"}})),
        duplicates(
            r.GetCounter("ces_audit_consume_events_total", "Events read from Kafka by outcome", {{"result", "duplicate"}})),
        already_linked(r.GetCounter("ces_audit_consume_events_total", "Events read from Kafka by outcome",
                                    {{"result", "already_linked"}})),
        conflicts(r.GetCounter("ces_audit_consume_events_total", "Events read from Kafka by outcome", {{"result", "conflict"}})),
        bytes(r.GetCounter("ces_audit_consume_bytes_total", "Payload bytes of newly stored events")),
        batches(r.GetCounter("ces_audit_consume_batches_total", "Batches written and committed")),
        links(r.GetCounter("ces_audit_consume_links_total", "Replay-log links written")),
        link_conflicts(r.GetCounter("ces_audit_consume_link_conflicts_total",
                                    "Replay-log links another writer had already claimed")),
        write_failures(r.GetCounter("ces_audit_consume_write_failures_total", "Batches that failed and were retried")),
        commit_failures(r.GetCounter("ces_audit_consume_commit_failures_total", "Kafka offset commits that failed")),
        data_omitted(r.GetCounter("ces_audit_consume_data_omitted_total", "Events stored without a queryable form")),
        record_problems(r.GetCounter("ces_audit_consume_record_problems_total",
                                     "Records stored with a fallback (missing or bad headers)")),
        gridfs_files(r.GetCounter("ces_audit_consume_gridfs_files_total", "Payloads written to GridFS")),
        lookups_in(r.GetCounter("ces_audit_consume_id_lookups_total",
                                "Lookups of the stored copies of duplicate ids by strategy", {{"lookup", "in"}})),
        lookups_per_id(r.GetCounter("ces_audit_consume_id_lookups_total",
                                    "Lookups of the stored copies of duplicate ids by strategy", {{"lookup", "per-id"}})),
        lookup_seconds(r.GetHistogram("ces_audit_consume_id_lookup_seconds",
                                      "Time to look up the stored copies of a batch's duplicate ids", {},
                                      metrics::LatencyBuckets())),
        store_up(r.GetGauge("ces_audit_consume_store_up", "1 while the last write to the store succeeded")),
        batch_seconds(r.GetHistogram("ces_audit_consume_batch_seconds", "Time to write one batch", {},
                                     metrics::LatencyBuckets())),
        batch_events(r.GetHistogram("ces_audit_consume_batch_events", "Records per batch", {},
                                    {1, 10, 100, 500, 1000, 2000, 5000, 10000})) {}

  metrics::Counter& stored;
  metrics::Counter& recovered;
  metrics::Counter& duplicates;
  metrics::Counter& already_linked;
  metrics::Counter& conflicts;
  metrics::Counter& bytes;
  metrics::Counter& batches;
  metrics::Counter& links;
  metrics::Counter& link_conflicts;
  metrics::Counter& write_failures;
  metrics::Counter& commit_failures;
  metrics::Counter& data_omitted;
  metrics::Counter& record_problems;
  metrics::Counter& gridfs_files;
  metrics::Counter& lookups_in;
  metrics::Counter& lookups_per_id;
  metrics::Histogram& lookup_seconds;
  metrics::Gauge& store_up;
  metrics::Histogram& batch_seconds;
  metrics::Histogram& batch_events;
};

AuditConsumer::AuditConsumer(ConsumerOptions options, mongo::AuditStore& store, metrics::Registry& registry)
    : options_(std::move(options)), store_(store), metrics_(std::make_unique<Metrics>(registry)) {}

AuditConsumer::~AuditConsumer() {
  if (consumer_) consumer_->Close();
}

bool AuditConsumer::Ready(std::string& reason) const {
  std::lock_guard lock(ready_mutex_);
  if (!ready_) reason = not_ready_reason_;
  return ready_;
}

void AuditConsumer::SetReady(bool ready, std::string reason) {
  std::lock_guard lock(ready_mutex_);
  ready_ = ready;
  not_ready_reason_ = std::move(reason);
}

bool AuditConsumer::Sleep(std::chrono::milliseconds duration, const std::function<bool()>& should_stop) {
  const auto deadline = std::chrono::steady_clock::now() + duration;
  while (std::chrono::steady_clock::now() < deadline) {
    if (should_stop()) return false;
    std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(
        std::chrono::milliseconds(100),
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()) +
            std::chrono::milliseconds(1)));
  }
  return !should_stop();
}

void AuditConsumer::Run(const std::function<bool()>& should_stop) {
  backoff::Backoff backoff(options_.backoff_initial, options_.backoff_max, {0.8, 1.2});
  while (!should_stop()) {
    mongo::Status status = store_.EnsureSchema(options_.segment_limits, segment_limits_);
    if (status.ok) break;
    if (status.IsRefusal()) {
      // Wrong credentials or a certificate that does not verify: an operator's fix, not a retry (as
      // for Kafka and PostgreSQL, docs/operations.md).
      throw std::runtime_error("mongodb refused the connection: " + status.message);
    }
    metrics_->store_up.Set(0);
    SetReady(false, "mongodb unavailable: " + status.message);
    log::Warn("mongodb not ready; retrying", {{"uri", store_.redacted_uri()}, {"error", status.message}});
    if (!Sleep(backoff.Next(), should_stop)) return;
  }
  if (should_stop()) return;
  metrics_->store_up.Set(1);
  log::Info("audit store ready", {{"uri", store_.redacted_uri()},
                                  {"server", std::string(mongo::ToString(store_.server_kind()))},
                                  {"segment_events", segment_limits_.max_events},
                                  {"segment_bytes", segment_limits_.max_bytes}});

  kafka::EnsureEventTopics(options_.brokers, options_.kafka_settings, options_.topic_prefix);
  // The chain topic too (its records are the chain sequence's events, docs/architecture.md); created
  // here so that the subscription does not wait for a metadata refresh when this service starts first.
  try {
    kafka::EnsureTopics(options_.brokers, options_.kafka_settings, {ChainTopicSpec(options_.topic_prefix)},
                        std::chrono::seconds(10));
  } catch (const std::exception& e) {
    log::Warn("chain topic not created (the chain stage or api creates it)", {{"error", e.what()}});
  }
  consumer_ = std::make_unique<kafka::Consumer>(options_.brokers, options_.group, options_.kafka_settings);
  std::vector<std::string> topics = kafka::EventTopicNames(options_.topic_prefix);
  topics.push_back(kafka::TopicName(options_.topic_prefix, kChainRoute));
  kafka::RebalanceHooks hooks;
  hooks.on_assign = [this](const std::vector<kafka::TopicPartition>& tps) {
    std::lock_guard lock(heads_mutex_);
    for (const auto& tp : tps) heads_.erase(tp);  // reload: another member may have written meanwhile
    return kafka::StartOffsets{};
  };
  hooks.on_revoke = [this](const std::vector<kafka::TopicPartition>& tps) {
    std::lock_guard lock(heads_mutex_);
    for (const auto& tp : tps) heads_.erase(tp);
  };
  consumer_->Subscribe(topics, hooks);
  SetReady(true, "");
  log::Info("consuming", {{"group", options_.group}, {"prefix", options_.topic_prefix}});

  backoff.Reset();
  while (!should_stop()) {
    Batch batch = Collect();
    if (batch.empty()) continue;
    const auto started = std::chrono::steady_clock::now();
    BatchStats stats;
    mongo::Status status = ProcessBatch(batch, stats);
    if (!status.ok) {
      metrics_->write_failures.Inc();
      metrics_->store_up.Set(0);
      SetReady(false, "writing to mongodb failed: " + status.message);
      log::Warn("batch not written; rewinding and retrying",
                {{"records", static_cast<std::uint64_t>(batch.size())}, {"error", status.message},
                 {"code", status.code}, {"retry_in_ms", static_cast<std::int64_t>(backoff.Step().count())}});
      {
        std::lock_guard lock(heads_mutex_);
        heads_.clear();  // a write may or may not have happened: read the chains again
      }
      Rewind(batch);
      if (!Sleep(backoff.Next(), should_stop)) break;
      continue;
    }
    if (backoff.Attempts() > 0) log::Info("mongodb writes resumed");
    backoff.Reset();
    metrics_->store_up.Set(1);
    SetReady(true, "");
    Commit(batch);
    metrics_->batches.Inc();
    metrics_->batch_events.Observe(static_cast<double>(batch.size()));
    metrics_->batch_seconds.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    metrics_->stored.Inc(stats.stored);
    metrics_->recovered.Inc(stats.recovered);
    metrics_->duplicates.Inc(stats.duplicates);
    metrics_->already_linked.Inc(stats.already_linked);
    metrics_->conflicts.Inc(stats.conflicts);
    metrics_->links.Inc(stats.links);
    if (log::Enabled(log::Level::kDebug)) {
      log::Debug("batch written", {{"records", static_cast<std::uint64_t>(batch.size())},
                                   {"stored", static_cast<std::uint64_t>(stats.stored)},
                                   {"duplicates", static_cast<std::uint64_t>(stats.duplicates)},
                                   {"already_linked", static_cast<std::uint64_t>(stats.already_linked)}});
    }
  }
  consumer_->Close();
}

AuditConsumer::Batch AuditConsumer::Collect() {
  Batch batch = consumer_->Poll(options_.batch_max_events, std::chrono::milliseconds(200));
  if (batch.empty()) return batch;
  std::size_t bytes = 0;
  for (const auto& m : batch) bytes += m.value.size();
  const auto deadline = std::chrono::steady_clock::now() + options_.batch_linger;
  while (batch.size() < options_.batch_max_events && bytes < options_.batch_max_bytes) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    auto more = consumer_->Poll(options_.batch_max_events - batch.size(),
                                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
    if (more.empty()) break;
    for (auto& m : more) {
      bytes += m.value.size();
      batch.push_back(std::move(m));
    }
  }
  return batch;
}

void AuditConsumer::Rewind(const Batch& batch) {
  std::map<kafka::TopicPartition, std::int64_t> first;
  for (const auto& m : batch) {
    kafka::TopicPartition tp{m.topic, m.partition};
    auto it = first.find(tp);
    if (it == first.end() || m.offset < it->second) first[tp] = m.offset;
  }
  for (const auto& [tp, offset] : first) consumer_->Seek(tp, offset);
}

void AuditConsumer::Commit(const Batch& batch) {
  std::map<kafka::TopicPartition, std::int64_t> next;
  for (const auto& m : batch) {
    auto& n = next[{m.topic, m.partition}];
    n = std::max(n, m.offset + 1);
  }
  std::string error;
  if (!consumer_->Commit(next, error)) {
    // The data is stored; a re-read after a rebalance is skipped by the chain's end.
    metrics_->commit_failures.Inc();
    log::Warn("kafka offset commit failed", {{"error", error}});
  }
}

mongo::Status AuditConsumer::ProcessBatch(const Batch& batch, BatchStats& stats) {
  // 1. Per partition: the chain head, and the records past its end (below it: already in the log).
  struct Part {
    mongo::ChainHead head;
    std::string route;
    std::vector<const kafka::Message*> messages;
    std::vector<mongo::EventRecord> entries;
  };
  std::map<kafka::TopicPartition, Part> parts;
  for (const auto& m : batch) parts[{m.topic, m.partition}].messages.push_back(&m);
  for (auto& [tp, part] : parts) {
    part.route = RouteOfTopic(tp.topic, options_.topic_prefix);
    std::optional<mongo::ChainHead> cached;
    {
      std::lock_guard lock(heads_mutex_);
      auto it = heads_.find(tp);
      if (it != heads_.end()) cached = it->second;
    }
    if (cached) {
      part.head = *cached;
    } else {
      auto head = store_.LoadChainHead({tp.topic, tp.partition}, part.route);
      if (!head.ok()) return head.status;
      part.head = head.value;
    }
    if (part.head.seq >= 0) {
      const auto before = part.messages.size();
      std::erase_if(part.messages, [end = part.head.end](const kafka::Message* m) { return m->offset < end; });
      stats.already_linked += before - part.messages.size();
    }
  }

  // 2. Records; one per identity in this batch (the first by offset wins; later ones are re-sends).
  std::vector<mongo::EventRecord*> to_insert;
  std::map<std::string, mongo::EventRecord*> by_id;
  std::map<std::string, std::string> seen;  // identity -> sha256 of its first record in this batch
  std::vector<BuiltRecord> batch_conflicts;
  for (auto& [tp, part] : parts) {
    part.entries.reserve(part.messages.size());
    for (const kafka::Message* m : part.messages) {
      BuiltRecord built = BuildRecord(*m);
      if (!built.problem.empty()) {
        metrics_->record_problems.Inc();
        log::Warn("record stored with a fallback", {{"id", built.record.id}, {"topic", m->topic},
                                                    {"offset", m->offset}, {"problem", built.problem}});
      }
      auto [it, first] = seen.emplace(built.record.id, built.record.sha256);
      if (!first) {
        ++stats.duplicates;
        if (it->second != built.record.sha256) batch_conflicts.push_back(std::move(built));
        continue;
      }
      part.entries.push_back(std::move(built.record));
    }
  }
  for (const BuiltRecord& c : batch_conflicts) {
    ++stats.conflicts;
    log::Warn("event identity stored with a different payload; kept in conflicts",
              {{"id", c.record.id}, {"stored_sha256", seen[c.record.id]}, {"sha256", c.record.sha256},
               {"topic", c.record.topic}, {"offset", c.record.offset}});
    mongo::Status s = store_.InsertConflict(c.record, seen[c.record.id]);
    if (!s.ok) return s;
  }
  for (auto& [tp, part] : parts) {
    for (auto& e : part.entries) {
      to_insert.push_back(&e);
      by_id[e.id] = &e;
    }
  }

  // 3. Payloads too big for a document go to GridFS first: an event document always has its payload.
  for (mongo::EventRecord* r : to_insert) {
    if (!r->payload_in_gridfs) continue;
    mongo::Status s = store_.PutPayloadFile(r->id, r->payload);
    if (!s.ok) return s;
    metrics_->gridfs_files.Inc();
  }

  // 4. Events. A duplicate identity is either ours from an interrupted attempt (same Kafka position:
  //    link it now) or a re-send of an event stored from an earlier record (not linked again).
  std::vector<const mongo::EventRecord*> records(to_insert.begin(), to_insert.end());
  mongo::InsertOutcome outcome;
  mongo::Status status = store_.InsertEvents(records, outcome);
  if (!status.ok) return status;
  metrics_->data_omitted.Inc(outcome.data_omitted);
  if (options_.abort_after_insert_batch > 0 && ++batches_seen_ == options_.abort_after_insert_batch) {
    log::Warn("fault injection: aborting after inserting the events of a batch",
              {{"batch", static_cast<std::uint64_t>(batches_seen_)}, {"records", static_cast<std::uint64_t>(records.size())}});
    std::abort();
  }
  std::set<std::string> excluded;
  if (!outcome.duplicates.empty()) {
    std::vector<std::string> ids;
    for (std::size_t i : outcome.duplicates) ids.push_back(records[i]->id);
    std::map<std::string, mongo::StoredIdentity> stored;
    const auto lookup_started = std::chrono::steady_clock::now();
    mongo::IdLookup lookup = mongo::IdLookup::kIn;
    status = store_.FindStored(ids, stored, &lookup);
    if (!status.ok) return status;
    const double lookup_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - lookup_started).count();
    (lookup == mongo::IdLookup::kPerId ? metrics_->lookups_per_id : metrics_->lookups_in).Inc();
    metrics_->lookup_seconds.Observe(lookup_s);
    if (lookup_s >= 1.0 || log::Enabled(log::Level::kDebug)) {
      log::Info("looked up the stored copies of duplicate ids",
                {{"ids", static_cast<std::uint64_t>(ids.size())},
                 {"lookup", std::string(mongo::ToString(lookup))},
                 {"seconds", lookup_s}});
    }
    for (const std::string& id : ids) {
      auto it = stored.find(id);
      if (it == stored.end()) return mongo::Status::Error(-1, "duplicate key reported for " + id + " but not found");
      const mongo::EventRecord& r = *by_id[id];
      const mongo::StoredIdentity& s = it->second;
      if (s.topic == r.topic && s.partition == r.partition && s.offset == r.offset) {
        ++stats.recovered;
        continue;
      }
      excluded.insert(id);
      ++stats.duplicates;
      if (s.sha256 != r.sha256) {
        ++stats.conflicts;
        log::Warn("event identity stored with a different payload; kept in conflicts",
                  {{"id", id}, {"stored_sha256", s.sha256}, {"sha256", r.sha256}, {"topic", r.topic},
                   {"offset", r.offset}});
        status = store_.InsertConflict(r, s.sha256);
        if (!status.ok) return status;
      }
    }
  }
  stats.stored += records.size() - outcome.duplicates.size();
  for (const auto* r : records) {
    if (!excluded.count(r->id)) metrics_->bytes.Inc(static_cast<std::uint64_t>(r->size));
  }

  // 5. Sources (for the API's listing and default source).
  for (const auto* r : records) {
    if (r->source == kChainRoute) continue;  // the chain sequence is not a node
    const std::string key = r->source + " " + r->stream + " " + r->api_version;
    if (known_sources_.count(key)) continue;
    status = store_.NoteSource(r->source, r->stream, r->api_version);
    if (!status.ok) return status;
    known_sources_.insert(key);
  }

  // 6. The replay log: extend each chain over the batch's offsets.
  for (auto& [tp, part] : parts) {
    if (part.messages.empty()) continue;
    if (!excluded.empty()) {
      std::erase_if(part.entries, [&](const mongo::EventRecord& e) { return excluded.count(e.id) > 0; });
    }
    const std::int64_t batch_start = part.messages.front()->offset;
    const std::int64_t batch_end = part.messages.back()->offset + 1;
    mongo::ChainHead head = part.head;
    head.chain = {tp.topic, tp.partition};
    head.route = part.route;
    std::size_t cursor = 0;
    while (auto link = NextLink(head, part.route, batch_start, batch_end, part.entries, cursor, options_.link_limits,
                                segment_limits_)) {
      auto checkpoints = CheckpointsOf(*link, known_checkpoints_);
      status = store_.PrepareLink(*link, checkpoints);
      if (!status.ok) return status;
      mongo::Link winner;
      auto claimed = store_.ClaimLink(*link, winner);
      if (!claimed.ok()) return claimed.status;
      if (claimed.value) {
        status = store_.PublishHead(*link);
        if (!status.ok) return status;
        head = HeadAfter(*link);
        ++stats.links;
        if (known_checkpoints_.size() > 500000) known_checkpoints_.clear();
        for (const auto& c : checkpoints) known_checkpoints_.insert(CheckpointKey(c));
      } else {
        metrics_->link_conflicts.Inc();
        log::Info("replay-log link already written by another consumer; continuing after it",
                  {{"chain", head.chain.Key()}, {"seq", link->seq}, {"end", winner.end}});
        winner.route = part.route;
        head = HeadAfter(winner);
        cursor = 0;  // entries past the winner's end go into the next link
      }
    }
    std::lock_guard lock(heads_mutex_);
    heads_[tp] = head;
  }

  return mongo::Status::Ok();
}

}  // namespace ces::audit
