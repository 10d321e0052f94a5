#include "ces/backfill/runner.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "ces/backfill/events.hpp"
#include "ces/casper/event.hpp"
#include "ces/common/log.hpp"
#include "ces/common/metrics.hpp"
#include "ces/common/time.hpp"
#include "ces/ingest/record.hpp"
#include "ces/rpc/client.hpp"

namespace ces::backfill {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// One height in progress: the block, then one answer per transaction, then its events.
struct Slot {
  bool ready = false;
  rpc::Result<std::vector<Event>> events = rpc::Error{};
};

struct Fetch {
  std::mutex mutex;
  std::condition_variable cv;
  std::map<std::uint64_t, Slot> slots;

  void Finish(std::uint64_t height, rpc::Result<std::vector<Event>> events) {
    {
      std::lock_guard lock(mutex);
      Slot& slot = slots[height];
      slot.ready = true;
      slot.events = std::move(events);
    }
    cv.notify_all();
  }
};

// The answers of one block, gathered by the client's callbacks.
struct Gather {
  rpc::Block block;
  std::vector<rpc::Transaction> transactions;
  std::size_t pending = 0;
  std::optional<rpc::Error> error;
  std::mutex mutex;
};

std::string KindName(rpc::ErrorKind kind) {
  switch (kind) {
    case rpc::ErrorKind::kTransport: return "transport";
    case rpc::ErrorKind::kMalformed: return "malformed";
    case rpc::ErrorKind::kNotFound: return "not_found";
    case rpc::ErrorKind::kNode: return "node";
    case rpc::ErrorKind::kHttp: return "http";
    case rpc::ErrorKind::kInvalidArgument: return "invalid_argument";
    case rpc::ErrorKind::kCancelled: return "cancelled";
  }
  return "other";
}

}  // namespace

std::string DefaultRpcUrl(const std::string& node) {
  std::string base = ingest::NormalizeNodeUrl(node);
  const auto scheme = base.find("://");
  const std::size_t host_start = scheme == std::string::npos ? 0 : scheme + 3;
  const std::size_t path = base.find('/', host_start);
  std::string authority = base.substr(host_start, path == std::string::npos ? std::string::npos : path - host_start);
  const std::size_t bracket = authority.rfind(']');
  const std::size_t colon = authority.rfind(':');
  if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) authority.resize(colon);
  return base.substr(0, host_start) + authority + ":7777/rpc";
}

struct Runner::Impl {
  explicit Impl(RunnerOptions opts)
      : options(std::move(opts)), registry(options.registry ? *options.registry : metrics::Default()) {
    options.source = ingest::NormalizeNodeUrl(options.source);
    rpc::ClientOptions client_options;
    client_options.url = options.rpc_url;
    client_options.max_in_flight = options.rpc_in_flight;
    client_options.rate = options.rpc_rate;
    client_options.timeout = options.rpc_timeout;
    client_options.registry = &registry;
    client = std::make_unique<rpc::Client>(client_options);
    producer = std::make_unique<kafka::Producer>(options.brokers, options.producer_settings);
    std::vector<kafka::TopicSpec> specs = ingest::TopicSpecs({options.topic_prefix, options.partitions,
                                                              options.replication_factor, std::nullopt});
    kafka::TopicSpec spec;
    spec.name = Topic(kCheckpointsTopic);
    spec.partitions = 1;
    spec.replication_factor = options.replication_factor;
    spec.config["cleanup.policy"] = "compact";
    specs.push_back(spec);
    kafka::EnsureTopics(options.brokers, options.producer_settings, specs);
    for (const auto& record : kafka::ReadAll(options.brokers, options.producer_settings, Topic(kCheckpointsTopic))) {
      if (!record.key) continue;
      auto json = nlohmann::json::parse(record.value, nullptr, false);
      if (!json.is_object() || !json.contains("next")) continue;
      checkpoints[*record.key] = Checkpoint{json.value("first", std::uint64_t{0}), json.value("last", std::uint64_t{0}),
                                            json.value("next", std::uint64_t{0})};
    }
    poller = std::thread([this] {
      while (!poller_stop) producer->Poll(milliseconds(50));
    });
  }

  ~Impl() {
    client->Cancel();
    poller_stop = true;
    if (poller.joinable()) poller.join();
    producer->Flush(std::chrono::seconds(30));
  }

  RunnerOptions options;
  metrics::Registry& registry;
  std::unique_ptr<rpc::Client> client;
  std::unique_ptr<kafka::Producer> producer;
  std::thread poller;
  std::atomic<bool> poller_stop{false};
  std::map<std::string, Checkpoint> checkpoints;
  std::atomic<std::uint64_t> delivery_failures{0};

  std::string Topic(std::string_view name) const { return kafka::TopicName(options.topic_prefix, name); }
  std::string CheckpointKey(const std::string& key) const { return options.source + " " + key; }

  metrics::Counter& Errors(const std::string& kind) {
    return registry.GetCounter("ces_backfill_errors_total", "Heights whose RPC answers failed (retried), by kind",
                               {{"kind", kind}});
  }
  metrics::Counter& Heights() {
    return registry.GetCounter("ces_backfill_heights_total", "Heights whose events were written to Kafka");
  }
  metrics::Counter& Events(const std::string& type) {
    return registry.GetCounter("ces_backfill_events_total", "Reconstructed events written to Kafka, by type",
                               {{"type", type}});
  }
  metrics::Gauge& Remaining() {
    return registry.GetGauge("ces_backfill_remaining_heights", "Heights of the current range still to write");
  }
  metrics::Gauge& Rate() {
    return registry.GetGauge("ces_backfill_blocks_per_second", "Heights written per second (current range)");
  }
  metrics::Gauge& Eta() {
    return registry.GetGauge("ces_backfill_eta_seconds", "Estimated seconds until the current range is written");
  }

  void Start(Fetch& fetch, std::uint64_t height) {
    {
      std::lock_guard lock(fetch.mutex);
      fetch.slots[height] = Slot{};
    }
    client->GetBlockAsync(height, [this, &fetch, height](rpc::Result<rpc::Block> block) {
      if (!block) {
        fetch.Finish(height, block.error());
        return;
      }
      auto gather = std::make_shared<Gather>();
      gather->block = std::move(*block);
      gather->pending = gather->block.transactions.size();
      if (gather->pending == 0) {
        fetch.Finish(height, Reconstruct({&gather->block, gather->transactions, chain_name}));
        return;
      }
      auto done = [this, &fetch, height, gather](rpc::Result<rpc::Transaction> tx) {
        bool last = false;
        {
          std::lock_guard lock(gather->mutex);
          if (tx) {
            gather->transactions.push_back(std::move(*tx));
          } else if (!gather->error) {
            gather->error = tx.error();
          }
          last = --gather->pending == 0;
        }
        if (!last) return;
        if (gather->error) {
          fetch.Finish(height, *gather->error);
        } else {
          fetch.Finish(height, Reconstruct({&gather->block, gather->transactions, chain_name}));
        }
      };
      for (const rpc::TransactionId& id : gather->block.transactions) {
        if (gather->block.generation == rpc::Generation::kV1) {
          client->GetDeployAsync(id.hash, done);
        } else {
          client->GetTransactionAsync(id, done);
        }
      }
    });
  }

  void ProduceEvents(const std::vector<Event>& events) {
    for (const Event& e : events) {
      const casper::Stream route = casper::RouteByType(e.type);
      const std::string stream = e.generation == rpc::Generation::kV2 ? "events" : std::string(casper::StreamName(route));
      ingest::EventMeta meta{options.source, stream, std::nullopt, api_version, e.type, time::FormatRfc3339(time::Now())};
      std::vector<kafka::Header> headers = ingest::RecordHeaders(meta);
      headers.push_back({std::string(header::kOrigin), "rpc"});
      headers.push_back({std::string(header::kRpcMethod), std::string(e.rpc_method)});
      headers.push_back({std::string(header::kSubject), e.block_hash + " " + e.subject});
      if (!e.missing.empty()) {
        std::string missing;
        for (const std::string& field : e.missing) missing += (missing.empty() ? "" : ",") + field;
        headers.push_back({std::string(header::kMissing), missing});
      }
      metrics::Counter& counter = Events(e.type);
      producer->Produce(Topic(casper::StreamName(route)), ingest::RecordKey(options.source, stream), e.payload, headers,
                        [this, &counter](const kafka::DeliveryReport& r) {
                          if (r.ok) {
                            counter.Inc();
                          } else {
                            ++delivery_failures;
                            log::Error("kafka did not acknowledge a backfilled event", {{"error", r.error}});
                          }
                        });
    }
  }

  // Waits for every record, then stores `next` as the range's checkpoint. False if a record failed.
  bool WriteCheckpoint(const std::string& key, const Checkpoint& cp) {
    if (!producer->Flush(std::chrono::seconds(60)) || delivery_failures.load() > 0) return false;
    const std::string full = CheckpointKey(key);
    nlohmann::ordered_json value = {{"source", options.source}, {"range", key},       {"first", cp.first},
                                    {"last", cp.last},          {"next", cp.next},    {"updated_at", time::FormatRfc3339(time::Now())}};
    std::atomic<bool> ok{false};
    producer->Produce(Topic(kCheckpointsTopic), full, value.dump(), {{"next-height", std::to_string(cp.next)}},
                      [&ok](const kafka::DeliveryReport& r) { ok = r.ok; });
    if (!producer->Flush(std::chrono::seconds(60)) || !ok) return false;
    checkpoints[full] = cp;
    return true;
  }

  std::string chain_name;
  std::string api_version;

  bool LearnNode() {
    auto status = client->GetStatus();
    if (!status) {
      log::Error("info_get_status failed", {{"error", status.error().message}});
      return false;
    }
    chain_name = status->chainspec_name;
    api_version = status->api_version;
    return true;
  }

  bool Sync(std::uint64_t first, std::uint64_t last, const std::string& key, const StopFn& should_stop,
            const ProgressFn& progress) {
    Checkpoint cp{first, last, first};
    if (auto it = checkpoints.find(CheckpointKey(key)); it != checkpoints.end()) cp.next = std::max(first, it->second.next);
    if (cp.Done()) {
      log::Info("range already filled", {{"range", key}});
      return true;
    }
    if (chain_name.empty() && !LearnNode()) return false;
    log::Info("backfill range", {{"range", key}, {"first", first}, {"last", last}, {"resume_at", cp.next}});
    delivery_failures = 0;
    Fetch fetch;
    std::map<std::uint64_t, int> attempts;
    std::uint64_t issued = cp.next;  // next height to start
    std::uint64_t next = cp.next;    // next height to write
    const std::uint64_t start_next = next;
    const auto began = Clock::now();
    auto last_checkpoint = Clock::now();
    auto last_progress = Clock::now();
    Remaining().Set(static_cast<double>(last - next + 1));
    auto report = [&](bool force) {
      const auto now = Clock::now();
      if (!force && now - last_progress < std::chrono::seconds(1)) return;
      last_progress = now;
      Progress p{first, last, next - first, last - first + 1, 0, 0};
      const double elapsed = std::chrono::duration<double>(now - began).count();
      if (elapsed > 0) p.blocks_per_second = static_cast<double>(next - start_next) / elapsed;
      if (p.blocks_per_second > 0) p.eta_seconds = static_cast<double>(last + 1 - next) / p.blocks_per_second;
      Rate().Set(p.blocks_per_second);
      Eta().Set(p.eta_seconds);
      Remaining().Set(static_cast<double>(last + 1 - next));
      if (progress) progress(p);
    };
    bool ok = true;
    while (next <= last) {
      if (should_stop()) {
        ok = false;
        break;
      }
      while (issued <= last && issued < next + options.window) Start(fetch, issued++);
      Slot slot;
      {
        std::unique_lock lock(fetch.mutex);
        if (!fetch.cv.wait_for(lock, milliseconds(100), [&] { return fetch.slots[next].ready; })) continue;
        slot = std::move(fetch.slots[next]);
        fetch.slots.erase(next);
      }
      if (!slot.events) {
        const rpc::Error& error = slot.events.error();
        Errors(KindName(error.kind)).Inc();
        const int n = ++attempts[next];
        log::Warn("height failed, retrying", {{"height", next}, {"attempt", static_cast<std::int64_t>(n)},
                                              {"error", error.message}});
        if (n >= options.height_attempts) {
          log::Error("height keeps failing; the range stops before it", {{"height", next}, {"error", error.message}});
          ok = false;
          break;
        }
        const auto until = Clock::now() + options.retry_delay * n;
        while (Clock::now() < until && !should_stop()) std::this_thread::sleep_for(milliseconds(20));
        Start(fetch, next);
        continue;
      }
      ProduceEvents(*slot.events);
      attempts.erase(next);
      ++next;
      Heights().Inc();
      if (Clock::now() - last_checkpoint >= options.checkpoint_interval) {
        cp.next = next;
        if (!WriteCheckpoint(key, cp)) {
          log::Error("events not acknowledged by Kafka; the range stops at its checkpoint", {{"range", key}});
          ok = false;
          break;
        }
        last_checkpoint = Clock::now();
      }
      report(false);
    }
    // Stopping: end the calls in flight at once (the process exits; nothing more is asked).
    if (should_stop()) client->Cancel();
    // Wait for the answers still in flight so their callbacks never outlive `fetch`.
    {
      std::unique_lock lock(fetch.mutex);
      fetch.cv.wait(lock, [&] {
        for (std::uint64_t h = next; h < issued; ++h) {
          auto it = fetch.slots.find(h);
          if (it != fetch.slots.end() && !it->second.ready) return false;
        }
        return true;
      });
    }
    cp.next = next;
    if (!WriteCheckpoint(key, cp)) ok = false;
    report(true);
    log::Info(ok ? "range filled" : "range stopped", {{"range", key}, {"next", cp.next}, {"last", last}});
    return ok && cp.Done();
  }
};

Runner::Runner(RunnerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Runner::~Runner() = default;

rpc::Result<rpc::Status> Runner::Status() { return impl_->client->GetStatus(); }

bool Runner::SyncRange(std::uint64_t first, std::uint64_t last, const std::string& key, const StopFn& should_stop,
                       const ProgressFn& progress) {
  const std::string k = key.empty() ? std::to_string(first) + "-" + std::to_string(last) : key;
  return impl_->Sync(first, last, k, should_stop, progress);
}

std::optional<Checkpoint> Runner::FindCheckpoint(const std::string& key) const {
  auto it = impl_->checkpoints.find(impl_->CheckpointKey(key));
  if (it == impl_->checkpoints.end()) return std::nullopt;
  return it->second;
}

bool Runner::RunGaps(const StopFn& should_stop, const ProgressFn& progress) {
  Impl& impl = *impl_;
  kafka::Consumer consumer(impl.options.brokers, impl.options.group, {{"auto.offset.reset", "earliest"}});
  consumer.Subscribe({impl.Topic(ingest::kGapsTopic)});
  metrics::Gauge& open = impl.registry.GetGauge("ces_backfill_open_gaps", "Gap records read and not yet filled");
  metrics::Counter& filled = impl.registry.GetCounter("ces_backfill_gaps_filled_total", "Gaps filled");
  while (!should_stop()) {
    for (const kafka::Message& m : consumer.Poll(16, milliseconds(500))) {
      auto gap = nlohmann::json::parse(m.value, nullptr, false);
      const std::string key = "gap " + std::to_string(m.partition) + ":" + std::to_string(m.offset);
      bool mine = gap.is_object() && gap.contains("source") && gap["source"].is_string() &&
                  ingest::NormalizeNodeUrl(gap["source"].get<std::string>()) == impl.options.source;
      if (mine) {
        open.Set(1);
        while (!should_stop()) {
          // The range: a checkpoint's (fixed at the first attempt), else from the gap's from_height (the
          // last block before it) or the node's lowest block, to its to_height or the node's highest
          // block now (every event lost before the gap record was written is below that).
          std::optional<Checkpoint> cp = FindCheckpoint(key);
          if (!cp) {
            auto status = impl.client->GetStatus();
            if (status && status->available_block_range) {
              Checkpoint fresh;
              fresh.first = gap.contains("from_height") && gap["from_height"].is_number_unsigned()
                                ? gap["from_height"].get<std::uint64_t>()
                                : status->available_block_range->low;
              fresh.last = gap.contains("to_height") && gap["to_height"].is_number_unsigned()
                               ? gap["to_height"].get<std::uint64_t>()
                               : status->available_block_range->high;
              fresh.first = std::max(fresh.first, status->available_block_range->low);
              fresh.next = fresh.first;
              cp = fresh;
              log::Info("gap detected", {{"gap", key}, {"from_id", gap.value("from_id", std::int64_t{-1})},
                                         {"to_id", gap.value("to_id", std::int64_t{-1})}, {"first", fresh.first},
                                         {"last", fresh.last}});
            } else {
              log::Warn("info_get_status failed; gap waits",
                        {{"gap", key}, {"error", status ? std::string("no available_block_range") : status.error().message}});
            }
          }
          if (cp && impl.Sync(cp->first, cp->last, key, should_stop, progress)) {
            filled.Inc();
            break;
          }
          for (int i = 0; i < 50 && !should_stop(); ++i) std::this_thread::sleep_for(milliseconds(100));
        }
        open.Set(0);
        if (should_stop()) return true;
      }
      std::string error;
      if (!consumer.Commit({{kafka::TopicPartition{m.topic, m.partition}, m.offset + 1}}, error)) {
        log::Warn("gap offset not committed", {{"gap", key}, {"error", error}});
      }
    }
  }
  consumer.Close();
  return true;
}

}  // namespace ces::backfill
