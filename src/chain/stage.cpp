#include "ces/chain/stage.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <stdexcept>
#include <thread>

#include "ces/audit/record.hpp"
#include "ces/common/log.hpp"
#include "ces/common/metrics.hpp"
#include "ces/ingest/record.hpp"

namespace ces::chain {
namespace {

constexpr std::chrono::milliseconds kPollTimeout{100};
constexpr std::chrono::milliseconds kTxnTimeout{60000};
constexpr char kIndexMagic[8] = {'C', 'E', 'S', 'C', 'H', 'N', '0', '1'};

std::string EventType(const kafka::Message& m) {
  const std::string* type = m.HeaderValue(ingest::header::kEventType);
  return type && !type->empty() ? *type : std::string("unknown");
}

}  // namespace

struct ChainStage::Metrics {
  explicit Metrics(metrics::Registry& r)
      : first(r.GetCounter("ces_chain_events_total", "Node records read by the chain stage, by outcome",
                           {{"result", "appended"}})),
        duplicate(r.GetCounter("ces_chain_events_total", "Node records read by the chain stage, by outcome",
                               {{"result", "duplicate"}})),
        excluded(r.GetCounter("ces_chain_events_total", "Node records read by the chain stage, by outcome",
                              {{"result", "excluded"}})),
        conflicts(r.GetCounter("ces_chain_events_total", "Node records read by the chain stage, by outcome",
                               {{"result", "conflict"}})),
        aborted(r.GetCounter("ces_chain_aborted_batches_total", "Transactions aborted and retried")),
        seen(r.GetGauge("ces_chain_identities", "Distinct event identities in the chain")),
        commit(r.GetHistogram("ces_chain_batch_seconds",
                              "From polling a batch to its transaction committed (records and offsets)", {},
                              metrics::LatencyBuckets())) {}
  metrics::Counter& first;
  metrics::Counter& duplicate;
  metrics::Counter& excluded;
  metrics::Counter& conflicts;
  metrics::Counter& aborted;
  metrics::Gauge& seen;
  metrics::Histogram& commit;
};

ChainStage::ChainStage(StageOptions options, metrics::Registry& registry)
    : options_(std::move(options)),
      metrics_(std::make_unique<Metrics>(registry)),
      chain_topic_(kafka::TopicName(options_.topic_prefix, audit::kChainRoute)) {
  if (options_.group.empty()) {
    options_.group = options_.topic_prefix.empty() ? "chain" : "chain-" + options_.topic_prefix;
  }
  if (options_.transactional_id.empty()) {
    options_.transactional_id = "casper-event-store-chain-" + options_.topic_prefix;
  }
}

ChainStage::~ChainStage() = default;

void ChainStage::SetStatus(bool ready, std::string reason) {
  std::lock_guard lock(status_mutex_);
  ready_ = ready;
  reason_ = std::move(reason);
}

bool ChainStage::Ready(std::string& reason) const {
  std::lock_guard lock(status_mutex_);
  reason = reason_;
  return ready_;
}

void ChainStage::Run(const std::function<bool()>& should_stop) {
  kafka::EnsureTopics(options_.brokers, options_.kafka_settings,
                      {audit::ChainTopicSpec(options_.topic_prefix, options_.replication_factor)});

  kafka::Settings producer_settings = options_.kafka_settings;
  producer_settings.emplace("transactional.id", options_.transactional_id);
  producer_settings.emplace("linger.ms", "0");  // the commit sends the batch at once anyway
  producer_settings.emplace("message.timeout.ms", "60000");  // at most transaction.timeout.ms (60 s)
  producer_ = std::make_unique<kafka::Producer>(options_.brokers, producer_settings);
  SetStatus(false, "fencing earlier instances");
  producer_->InitTransactions(kTxnTimeout);  // aborts what a crashed instance left open

  SetStatus(false, "reading the chain topic");
  const auto started = std::chrono::steady_clock::now();
  const std::int64_t indexed = LoadIndex();
  std::size_t records = kafka::ReadEach(options_.brokers, chain_topic_, options_.kafka_settings, indexed,
                                        [this](const kafka::Message& m) {
                                          if (const std::string* key = m.HeaderValue(ingest::header::kChainKey)) {
                                            seen_.emplace(DigestOf(*key), DigestOf(m.value)[0]);
                                          }
                                        });
  metrics_->seen.Set(static_cast<double>(seen_.size()));
  log::Info("chain: seen identities loaded",
            {{"from_index", indexed},
             {"records", static_cast<std::uint64_t>(records)},
             {"identities", static_cast<std::uint64_t>(seen_.size())},
             {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()}});

  consumer_ = std::make_unique<kafka::Consumer>(options_.brokers, options_.group, options_.kafka_settings);
  std::vector<std::string> topics;
  for (const char* name : {"main", "deploys", "sigs"}) topics.push_back(kafka::TopicName(options_.topic_prefix, name));
  kafka::RebalanceHooks hooks;
  hooks.on_revoke = [this](const std::vector<kafka::TopicPartition>&) {
    if (!pending_offsets_.empty()) ProcessBatch({}, true);
    pending_offsets_.clear();
  };
  consumer_->Subscribe(topics, hooks);
  SetStatus(true, "");
  log::Info("chain: consuming", {{"group", options_.group}, {"chain_topic", chain_topic_}});

  std::chrono::milliseconds backoff = options_.backoff_initial;
  auto last_index = std::chrono::steady_clock::now();
  while (!should_stop()) {
    if (!options_.index_path.empty() && std::chrono::steady_clock::now() - last_index >= options_.index_interval) {
      SaveIndex();
      last_index = std::chrono::steady_clock::now();
    }
    auto batch = consumer_->Poll(options_.batch_max_events, kPollTimeout);
    if (batch.empty()) continue;
    const Outcome outcome = ProcessBatch(batch, false);
    if (outcome == Outcome::kFenced) {
      SetStatus(false, "fenced by another chain instance");
      throw std::runtime_error("chain: the producer was fenced (another instance with transactional id " +
                               options_.transactional_id + " is running)");
    }
    if (outcome == Outcome::kCommitted) {
      backoff = options_.backoff_initial;
      SetStatus(true, "");
      continue;
    }
    // Rewind to the batch's start: the aborted batch is read again.
    std::map<kafka::TopicPartition, std::int64_t> first;
    for (const auto& m : batch) {
      auto [it, inserted] = first.emplace(kafka::TopicPartition{m.topic, m.partition}, m.offset);
      if (!inserted) it->second = std::min(it->second, m.offset);
    }
    for (const auto& [tp, offset] : first) consumer_->Seek(tp, offset);
    SetStatus(false, "transaction aborted; retrying");
    for (auto waited = std::chrono::milliseconds(0); waited < backoff && !should_stop();
         waited += std::chrono::milliseconds(100)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    backoff = std::min(backoff * 2, options_.backoff_max);
  }
  if (!pending_offsets_.empty()) ProcessBatch({}, true);
  consumer_->Close();
  if (!options_.index_path.empty()) SaveIndex();
  log::Info("chain: stopped");
}

std::int64_t ChainStage::LoadIndex() {
  if (options_.index_path.empty()) return 0;
  std::ifstream in(options_.index_path, std::ios::binary);
  if (!in) {
    log::Info("chain: no index file; reading the whole chain topic", {{"index", options_.index_path}});
    return 0;
  }
  char magic[sizeof kIndexMagic] = {};
  std::int64_t next = 0;
  std::uint64_t count = 0;
  in.read(magic, sizeof magic);
  in.read(reinterpret_cast<char*>(&next), sizeof next);
  in.read(reinterpret_cast<char*>(&count), sizeof count);
  if (!in || std::string_view(magic, sizeof magic) != std::string_view(kIndexMagic, sizeof kIndexMagic) || next < 0) {
    log::Warn("chain: index file unreadable; reading the whole chain topic", {{"index", options_.index_path}});
    return 0;
  }
  seen_.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    Digest d{};
    std::uint64_t payload = 0;
    in.read(reinterpret_cast<char*>(d.data()), sizeof d);
    in.read(reinterpret_cast<char*>(&payload), sizeof payload);
    if (!in) break;
    seen_.emplace(d, payload);
  }
  std::uint64_t trailer = 0;
  in.read(reinterpret_cast<char*>(&trailer), sizeof trailer);
  if (!in || trailer != count || seen_.size() != count) {
    log::Warn("chain: index file truncated; reading the whole chain topic", {{"index", options_.index_path}});
    seen_.clear();
    return 0;
  }
  return next;
}

void ChainStage::SaveIndex() {
  const kafka::TopicPartition tp{chain_topic_, 0};
  const auto high = kafka::HighWatermarks(options_.brokers, options_.kafka_settings, {tp});
  auto it = high.find(tp);
  if (it == high.end()) return;  // logged; the next attempt comes at the next interval
  const std::string tmp = options_.index_path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    const std::int64_t next = it->second;
    const std::uint64_t count = seen_.size();
    out.write(kIndexMagic, sizeof kIndexMagic);
    out.write(reinterpret_cast<const char*>(&next), sizeof next);
    out.write(reinterpret_cast<const char*>(&count), sizeof count);
    for (const auto& [d, payload] : seen_) {
      out.write(reinterpret_cast<const char*>(d.data()), sizeof d);
      out.write(reinterpret_cast<const char*>(&payload), sizeof payload);
    }
    out.write(reinterpret_cast<const char*>(&count), sizeof count);
    out.flush();
    if (!out) {
      log::Warn("chain: index not written", {{"index", tmp}});
      return;
    }
  }
  if (std::rename(tmp.c_str(), options_.index_path.c_str()) != 0) {
    log::Warn("chain: index not renamed", {{"index", options_.index_path}});
  }
}

ChainStage::Outcome ChainStage::ProcessBatch(const std::vector<kafka::Message>& batch, bool flush) {
  const auto started = std::chrono::steady_clock::now();
  std::vector<Digest> added;
  std::map<kafka::TopicPartition, std::int64_t> next = pending_offsets_;
  std::uint64_t duplicates = 0;
  std::uint64_t excluded = 0;
  auto fail = [&](const kafka::TxnStatus& status, const char* step) {
    for (const Digest& d : added) seen_.erase(d);
    log::Warn("chain: transaction failed", {{"step", step}, {"error", status.error}, {"fatal", status.fatal}});
    if (status.fatal) return Outcome::kFenced;
    metrics_->aborted.Inc();
    const kafka::TxnStatus abort = producer_->AbortTransaction(kTxnTimeout);
    if (!abort.ok) {
      log::Warn("chain: abort failed", {{"error", abort.error}, {"fatal", abort.fatal}});
      if (abort.fatal) return Outcome::kFenced;
    }
    return Outcome::kRetry;
  };
  kafka::TxnStatus status = producer_->BeginTransaction();
  if (!status.ok) {
    log::Warn("chain: begin transaction failed", {{"error", status.error}, {"fatal", status.fatal}});
    return status.fatal ? Outcome::kFenced : Outcome::kRetry;
  }
  for (const auto& m : batch) {
    auto& n = next[{m.topic, m.partition}];
    n = std::max(n, m.offset + 1);
    const std::string type = EventType(m);
    const auto key = IdentityKey(type, m.value);
    if (!key) {
      ++excluded;
      continue;
    }
    const Digest digest = DigestOf(*key);
    const std::uint64_t payload = DigestOf(m.value)[0];
    auto [it, inserted] = seen_.emplace(digest, payload);
    if (!inserted) {
      if (it->second == payload) {
        ++duplicates;
      } else {
        // The node topics and the audit store keep it; the chain has the first payload of this identity.
        metrics_->conflicts.Inc();
        log::Warn("chain: an event with a seen identity but another payload; not appended",
                  {{"identity", *key}, {"topic", m.topic}, {"offset", m.offset}});
      }
      continue;
    }
    added.push_back(digest);
    std::vector<kafka::Header> headers = m.headers;
    headers.push_back({std::string(ingest::header::kChainKey), *key});
    headers.push_back({std::string(ingest::header::kChainTopic), audit::RouteOfTopic(m.topic, options_.topic_prefix)});
    // Delivery failures make the commit fail (the transaction is then aborted and the batch re-read).
    producer_->Produce(chain_topic_, m.key.value_or(""), m.value, headers, [](const kafka::DeliveryReport&) {});
  }
  // The offsets are not part of the transaction: they only say where to resume, and whatever is
  // re-read after a crash is in the seen set (rebuilt from the committed chain records), so it is
  // skipped. Committing them outside keeps two round trips off every batch.
  status = producer_->CommitTransaction(kTxnTimeout);
  if (!status.ok) return fail(status, "commit");
  pending_offsets_ = std::move(next);
  if (flush) {
    std::string error;
    if (!consumer_->Commit(pending_offsets_, error)) {
      log::Warn("chain: offsets not committed; the next start re-reads (and skips) those records", {{"error", error}});
    }
    pending_offsets_.clear();
    offsets_sent_ = started;
  } else if (started - offsets_sent_ >= options_.offsets_interval) {
    consumer_->CommitAsync(pending_offsets_);
    pending_offsets_.clear();
    offsets_sent_ = started;
  }
  producer_->Poll(std::chrono::milliseconds(0));  // release the delivery callbacks
  metrics_->first.Inc(added.size());
  metrics_->duplicate.Inc(duplicates);
  metrics_->excluded.Inc(excluded);
  metrics_->seen.Set(static_cast<double>(seen_.size()));
  metrics_->commit.Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return Outcome::kCommitted;
}

}  // namespace ces::chain
