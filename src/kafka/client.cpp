#include "ces/kafka/client.hpp"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>

#include "ces/common/log.hpp"
#include "ces/kafka/topics.hpp"

namespace ces::kafka {
namespace {

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
struct TopicPartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const { rd_kafka_topic_partition_list_destroy(list); }
};
struct MessageDeleter {
  void operator()(rd_kafka_message_t* msg) const { rd_kafka_message_destroy(msg); }
};
struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* md) const { rd_kafka_metadata_destroy(md); }
};
struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};
struct EventDeleter {
  void operator()(rd_kafka_event_t* ev) const { rd_kafka_event_destroy(ev); }
};
struct AdminOptionsDeleter {
  void operator()(rd_kafka_AdminOptions_t* o) const { rd_kafka_AdminOptions_destroy(o); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using ConfHandle = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;
using PartitionListHandle = std::unique_ptr<rd_kafka_topic_partition_list_t, TopicPartitionListDeleter>;
using MessageHandle = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;
using MetadataHandle = std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter>;
using QueueHandle = std::unique_ptr<rd_kafka_queue_t, QueueDeleter>;
using EventHandle = std::unique_ptr<rd_kafka_event_t, EventDeleter>;
using AdminOptionsHandle = std::unique_ptr<rd_kafka_AdminOptions_t, AdminOptionsDeleter>;

void Set(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
    throw std::invalid_argument("kafka setting " + key + "=" + value + ": " + err);
  }
}

void OnLog(const rd_kafka_t*, int level, const char* facility, const char* message) {
  const log::Level l = level <= 3 ? log::Level::kError : level <= 5 ? log::Level::kWarn : level == 6 ? log::Level::kInfo
                                                                                                  : log::Level::kDebug;
  log::Write(l, "librdkafka", {{"facility", facility ? facility : ""}, {"detail", message ? message : ""}});
}

// Fetch and pre-fetch bounds of every consumer handle (kFetchBytes, kPrefetchBytes in client.hpp).
void AddFetchLimits(Settings& defaults) {
  defaults["fetch.max.bytes"] = std::to_string(kFetchBytes);
  defaults["max.partition.fetch.bytes"] = std::to_string(kPartitionFetchBytes);
  defaults["queued.max.messages.kbytes"] = std::to_string(kPrefetchBytes / 1024);
  // A response may carry one record batch up to the largest record, whatever the fetch size.
  defaults["receive.message.max.bytes"] = std::to_string(kMaxRecordBytes + 2 * 1024 * 1024);
}

ConfHandle MakeConf(const std::string& brokers, const Settings& defaults, const Settings& overrides) {
  ConfHandle conf(rd_kafka_conf_new());
  rd_kafka_conf_set_log_cb(conf.get(), &OnLog);
  Set(conf.get(), "bootstrap.servers", brokers);
  for (const auto& [k, v] : defaults) Set(conf.get(), k, v);
  for (const auto& [k, v] : overrides) Set(conf.get(), k, v);
  return conf;
}

KafkaHandle MakeHandle(rd_kafka_type_t type, ConfHandle conf) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof err);
  if (!rk) throw std::runtime_error(std::string("kafka client: ") + err);
  conf.release();  // owned by rk now
  return KafkaHandle(rk);
}

bool IsPermanent(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
      return true;
    default:
      return false;
  }
}

// Errors that retrying with the same settings does not cure: credentials or a certificate the brokers (or
// the client) refuse, an operation no ACL allows. They end an operation with a clear error at once.
// librdkafka reports a connection that broke during the SASL or TLS handshake (a restarting broker) with
// the same codes; `reason` tells them apart.
bool IsSecurityError(int err, std::string_view reason) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
      // "SASL authentication error: SaslAuthenticateRequest failed: Local: Broker transport failure"
      return reason.find("Request failed: Local:") == std::string_view::npos;
    case RD_KAFKA_RESP_ERR__SSL:
      // "SSL handshake failed: Disconnected"
      return reason.find("Disconnected") == std::string_view::npos;
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
      return true;
    default:
      return false;
  }
}

// Settings that concern the connection to the brokers, not the client's role.
bool IsConnectionSetting(const std::string& key) {
  return key.rfind("security.", 0) == 0 || key.rfind("sasl.", 0) == 0 || key.rfind("ssl.", 0) == 0 ||
         key == "client.id" || key == "broker.address.family";
}

Settings ConnectionSettings(const Settings& settings) {
  Settings out;
  for (const auto& [key, value] : settings) {
    if (IsConnectionSetting(key)) out[key] = value;
  }
  return out;
}

// The first security error a handle's error callback reports (the callback runs in rd_kafka_poll or
// rd_kafka_consumer_poll; without one, librdkafka only logs such errors). Must outlive the handle.
class SecurityErrorTrap {
 public:
  // For handles whose opaque is free: the trap becomes the opaque.
  void Install(rd_kafka_conf_t* conf) {
    rd_kafka_conf_set_error_cb(conf, &SecurityErrorTrap::OnError);
    rd_kafka_conf_set_opaque(conf, this);
  }
  void Record(int err, const char* reason) {
    log::Warn("kafka client error", {{"error", rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err))},
                                     {"reason", reason ? reason : ""}});
    if (!IsSecurityError(err, reason ? reason : "")) return;
    std::lock_guard lock(mutex_);
    if (error_.empty()) error_ = reason ? reason : rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(err));
  }
  // Throws "kafka: <what>: <error>" once a security error was reported.
  void ThrowIfCaught(const std::string& what) {
    std::lock_guard lock(mutex_);
    if (!error_.empty()) throw std::runtime_error("kafka: " + what + ": " + error_);
  }

 private:
  static void OnError(rd_kafka_t*, int err, const char* reason, void* opaque) {
    static_cast<SecurityErrorTrap*>(opaque)->Record(err, reason);
  }

  std::mutex mutex_;
  std::string error_;
};

Message ToMessage(rd_kafka_message_t* msg) {
  Message m;
  m.topic = rd_kafka_topic_name(msg->rkt);
  m.partition = msg->partition;
  m.offset = msg->offset;
  m.timestamp_ms = rd_kafka_message_timestamp(msg, nullptr);
  if (msg->key) m.key = std::string(static_cast<const char*>(msg->key), msg->key_len);
  if (msg->payload) m.value.assign(static_cast<const char*>(msg->payload), msg->len);
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
      m.headers.push_back({name, value ? std::string(static_cast<const char*>(value), size) : std::string()});
    }
  }
  return m;
}

}  // namespace

const std::string* Message::HeaderValue(std::string_view name) const {
  for (const Header& h : headers) {
    if (h.key == name) return &h.value;
  }
  return nullptr;
}

struct Producer::Impl {
  KafkaHandle rk;
  std::atomic<bool> all_brokers_down{false};
  std::atomic<std::size_t> queued_bytes{0};  // values of the records not yet reported (kProducerQueueBytes)

  // A record's delivery callback and the bytes it counts in queued_bytes (the message's opaque).
  struct Pending {
    DeliveryCallback cb;
    std::size_t bytes = 0;
  };

  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    std::unique_ptr<Pending> pending(static_cast<Pending*>(msg->_private));
    if (pending) self->queued_bytes -= pending->bytes;
    const DeliveryCallback* cb = pending ? &pending->cb : nullptr;
    DeliveryReport report;
    report.ok = msg->err == RD_KAFKA_RESP_ERR_NO_ERROR;
    if (report.ok) {
      self->all_brokers_down = false;
      report.partition = msg->partition;
      report.offset = msg->offset;
    } else {
      report.error = rd_kafka_err2str(msg->err);
      report.permanent = IsPermanent(msg->err);
    }
    if (cb && *cb) (*cb)(report);
  }

  static void OnError(rd_kafka_t*, int err, const char* reason, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) self->all_brokers_down = true;
    log::Warn("kafka client error", {{"error", rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err))},
                                     {"reason", reason ? reason : ""}});
  }
};

Producer::Producer(const std::string& brokers, const Settings& settings) : impl_(std::make_unique<Impl>()) {
  const Settings defaults = {
      {"acks", "all"},
      {"enable.idempotence", "true"},
      {"compression.type", "lz4"},  // zstd compresses more but costs ~20% of the throughput on 2 cores (docs/benchmarks.md)
      {"linger.ms", "5"},
      {"batch.size", "1048576"},
      {"message.max.bytes", std::to_string(kMaxRecordBytes + 1024 * 1024)},
      {"message.timeout.ms", "120000"},
      // A hard limit above the largest record (librdkafka never queues a record larger than this);
      // Produce keeps the usual bound, kProducerQueueBytes.
      {"queue.buffering.max.kbytes", std::to_string((kMaxRecordBytes + 2 * 1024 * 1024) / 1024)},
      {"client.id", "casper-event-store"},
  };
  ConfHandle conf = MakeConf(brokers, defaults, settings);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &Impl::OnDelivery);
  rd_kafka_conf_set_error_cb(conf.get(), &Impl::OnError);
  rd_kafka_conf_set_opaque(conf.get(), impl_.get());
  impl_->rk = MakeHandle(RD_KAFKA_PRODUCER, std::move(conf));
}

Producer::~Producer() {
  if (impl_ && impl_->rk) {
    rd_kafka_flush(impl_->rk.get(), 10000);
    // Fail whatever is left so every callback is released exactly once.
    rd_kafka_purge(impl_->rk.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(impl_->rk.get(), 0);
  }
}

bool Producer::Produce(std::string_view topic, std::string_view key, std::string_view value,
                       const std::vector<Header>& headers, DeliveryCallback on_delivery,
                       const std::function<bool()>& should_stop) {
  auto cb = std::make_unique<Impl::Pending>(Impl::Pending{std::move(on_delivery), value.size()});
  // Room under kProducerQueueBytes; a larger record waits until nothing else is queued.
  while (true) {
    const std::size_t queued = impl_->queued_bytes.load();
    if (queued == 0 || queued + value.size() <= kProducerQueueBytes) break;
    if (should_stop && should_stop()) return false;
    rd_kafka_poll(impl_->rk.get(), 10);
  }
  impl_->queued_bytes += value.size();
  const std::string topic_name(topic);
  while (true) {
    rd_kafka_headers_t* hdrs = rd_kafka_headers_new(headers.size());
    for (const Header& h : headers) {
      rd_kafka_header_add(hdrs, h.key.data(), static_cast<ssize_t>(h.key.size()), h.value.data(),
                          static_cast<ssize_t>(h.value.size()));
    }
    rd_kafka_resp_err_t err = rd_kafka_producev(
        impl_->rk.get(), RD_KAFKA_V_TOPIC(topic_name.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_HEADERS(hdrs),
        RD_KAFKA_V_OPAQUE(cb.get()), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      cb.release();  // owned by the delivery report now
      return true;
    }
    rd_kafka_headers_destroy(hdrs);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      if (should_stop && should_stop()) {
        impl_->queued_bytes -= value.size();
        return false;
      }
      rd_kafka_poll(impl_->rk.get(), 50);
      continue;
    }
    // Rejected before queueing (e.g. larger than message.max.bytes): report it like a delivery failure.
    impl_->queued_bytes -= value.size();
    DeliveryReport report;
    report.error = rd_kafka_err2str(err);
    report.permanent = true;
    if (cb->cb) cb->cb(report);
    return true;
  }
}

void Producer::Poll(std::chrono::milliseconds timeout) {
  rd_kafka_poll(impl_->rk.get(), static_cast<int>(timeout.count()));
}

bool Producer::Flush(std::chrono::milliseconds timeout) {
  return rd_kafka_flush(impl_->rk.get(), static_cast<int>(timeout.count())) == RD_KAFKA_RESP_ERR_NO_ERROR;
}

std::size_t Producer::QueueLength() const { return static_cast<std::size_t>(rd_kafka_outq_len(impl_->rk.get())); }

bool Producer::AllBrokersDown() const { return impl_->all_brokers_down.load(); }

namespace {

// Takes ownership of `error` (null: success).
TxnStatus ToTxnStatus(rd_kafka_error_t* error) {
  TxnStatus status;
  if (!error) return status;
  status.ok = false;
  status.retriable = rd_kafka_error_is_retriable(error) != 0;
  status.abortable = rd_kafka_error_txn_requires_abort(error) != 0;
  status.fatal = rd_kafka_error_is_fatal(error) != 0;
  status.error = rd_kafka_error_string(error);
  rd_kafka_error_destroy(error);
  return status;
}

}  // namespace

void Producer::InitTransactions(std::chrono::milliseconds timeout) {
  TxnStatus status = ToTxnStatus(rd_kafka_init_transactions(impl_->rk.get(), static_cast<int>(timeout.count())));
  if (!status.ok) throw std::runtime_error("kafka: initialising transactions: " + status.error);
}

TxnStatus Producer::BeginTransaction() { return ToTxnStatus(rd_kafka_begin_transaction(impl_->rk.get())); }

TxnStatus Producer::CommitTransaction(std::chrono::milliseconds timeout) {
  return ToTxnStatus(rd_kafka_commit_transaction(impl_->rk.get(), static_cast<int>(timeout.count())));
}

TxnStatus Producer::AbortTransaction(std::chrono::milliseconds timeout) {
  return ToTxnStatus(rd_kafka_abort_transaction(impl_->rk.get(), static_cast<int>(timeout.count())));
}

void EnsureTopics(const std::string& brokers, const Settings& settings, const std::vector<TopicSpec>& topics,
                  std::chrono::milliseconds timeout) {
  SecurityErrorTrap trap;
  ConfHandle conf = MakeConf(brokers, {}, ConnectionSettings(settings));
  trap.Install(conf.get());
  KafkaHandle rk = MakeHandle(RD_KAFKA_PRODUCER, std::move(conf));
  std::vector<rd_kafka_NewTopic_t*> new_topics;
  char err[512];
  for (const TopicSpec& spec : topics) {
    rd_kafka_NewTopic_t* nt =
        rd_kafka_NewTopic_new(spec.name.c_str(), spec.partitions, spec.replication_factor, err, sizeof err);
    if (!nt) {
      for (auto* t : new_topics) rd_kafka_NewTopic_destroy(t);
      throw std::invalid_argument("topic " + spec.name + ": " + err);
    }
    for (const auto& [k, v] : spec.config) rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
    new_topics.push_back(nt);
  }
  QueueHandle queue(rd_kafka_queue_new(rk.get()));
  AdminOptionsHandle options(rd_kafka_AdminOptions_new(rk.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS));
  rd_kafka_AdminOptions_set_request_timeout(options.get(), static_cast<int>(timeout.count()), err, sizeof err);
  rd_kafka_AdminOptions_set_operation_timeout(options.get(), static_cast<int>(timeout.count()), err, sizeof err);
  rd_kafka_CreateTopics(rk.get(), new_topics.data(), new_topics.size(), options.get(), queue.get());
  for (auto* t : new_topics) rd_kafka_NewTopic_destroy(t);

  // Waits in short steps, serving the error callback in between: refused credentials end the wait.
  const auto deadline = std::chrono::steady_clock::now() + timeout + std::chrono::seconds(5);
  EventHandle event;
  while (!event && std::chrono::steady_clock::now() < deadline) {
    event.reset(rd_kafka_queue_poll(queue.get(), 200));
    rd_kafka_poll(rk.get(), 0);
    if (!event) trap.ThrowIfCaught("creating topics on " + brokers);
  }
  if (!event) throw std::runtime_error("kafka: timed out creating topics (is the broker at " + brokers + " up?)");
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error(std::string("kafka: creating topics: ") + rd_kafka_event_error_string(event.get()));
  }
  const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event.get());
  size_t count = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(result, &count);
  for (size_t i = 0; i < count; ++i) {
    rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
    const char* name = rd_kafka_topic_result_name(results[i]);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
      log::Info("kafka topic created", {{"topic", name}});
    } else if (e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      const char* msg = rd_kafka_topic_result_error_string(results[i]);
      throw std::runtime_error(std::string("kafka: creating topic ") + name + ": " + (msg ? msg : rd_kafka_err2str(e)));
    }
  }
}

std::vector<Message> ReadAll(const std::string& brokers, const Settings& settings, const std::string& topic,
                             std::chrono::milliseconds timeout) {
  std::vector<Message> out;
  ReadEach(brokers, topic, settings, 0, [&out](const Message& m) { out.push_back(m); }, timeout);
  return out;
}

std::size_t ReadEach(const std::string& brokers, const std::string& topic, const Settings& settings,
                     std::int64_t from_offset, const std::function<void(const Message&)>& on_message,
                     std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Settings defaults = {
      {"group.id", "casper-event-store-reader"},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "true"},
      {"isolation.level", "read_committed"},
  };
  AddFetchLimits(defaults);
  SecurityErrorTrap trap;
  ConfHandle conf = MakeConf(brokers, defaults, ConnectionSettings(settings));
  trap.Install(conf.get());
  KafkaHandle rk = MakeHandle(RD_KAFKA_CONSUMER, std::move(conf));
  rd_kafka_poll_set_consumer(rk.get());
  // Serves the error callback; nothing is assigned yet, so no record can be returned and lost.
  auto check_security = [&] {
    MessageHandle ignored(rd_kafka_consumer_poll(rk.get(), 0));
    trap.ThrowIfCaught("reading " + topic);
  };

  // Partitions of the topic and their watermarks. Right after a topic is created its metadata may not
  // have reached every broker yet: retry until the deadline.
  PartitionListHandle assignment;
  std::map<std::int32_t, std::int64_t> remaining;  // partition -> high watermark
  std::string last_error;
  while (true) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("kafka: reading " + topic + ": " + last_error);
    }
    const rd_kafka_metadata_t* raw_md = nullptr;
    std::unique_ptr<rd_kafka_topic_t, decltype(&rd_kafka_topic_destroy)> t(
        rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr), &rd_kafka_topic_destroy);
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk.get(), 0, t.get(), &raw_md, 5000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      last_error = std::string("metadata: ") + rd_kafka_err2str(err);
      check_security();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    MetadataHandle md(raw_md);
    if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR || md->topics[0].partition_cnt == 0) {
      last_error = "topic not found or has no leader yet";
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    assignment.reset(rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt));
    remaining.clear();
    bool ok = true;
    for (int i = 0; i < md->topics[0].partition_cnt && ok; ++i) {
      const std::int32_t p = md->topics[0].partitions[i].id;
      std::int64_t low = 0, high = 0;
      err = rd_kafka_query_watermark_offsets(rk.get(), topic.c_str(), p, &low, &high, 10000);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        last_error = std::string("watermarks: ") + rd_kafka_err2str(err);
        ok = false;
        break;
      }
      low = std::max(low, from_offset);
      if (high > low) {
        remaining[p] = high;
        rd_kafka_topic_partition_list_add(assignment.get(), topic.c_str(), p)->offset = low;
      }
    }
    if (ok) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  std::size_t count = 0;
  if (remaining.empty()) return count;
  rd_kafka_resp_err_t err = rd_kafka_assign(rk.get(), assignment.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) throw std::runtime_error(std::string("kafka assign: ") + rd_kafka_err2str(err));

  while (!remaining.empty()) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("kafka: timed out reading " + topic);
    }
    MessageHandle msg(rd_kafka_consumer_poll(rk.get(), 500));
    if (!msg) continue;
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      auto it = remaining.find(msg->partition);
      if (it != remaining.end() && msg->offset >= it->second) remaining.erase(it);
      continue;
    }
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      log::Warn("kafka read error", {{"topic", topic}, {"error", rd_kafka_message_errstr(msg.get())}});
      continue;
    }
    trap.ThrowIfCaught("reading " + topic);
    auto it = remaining.find(msg->partition);
    if (it == remaining.end() || msg->offset >= it->second) continue;
    on_message(ToMessage(msg.get()));
    ++count;
    if (msg->offset + 1 >= it->second) remaining.erase(it);
  }
  rd_kafka_consumer_close(rk.get());
  return count;
}

namespace {

// A short-lived handle for offset queries, with only the connection settings of `settings` (and the
// group id `group`, which makes it a consumer handle that joins nothing); null (logged) when it cannot
// be made.
KafkaHandle QueryHandle(const std::string& brokers, const Settings& settings, const std::string& group = "") {
  ConfHandle conf(rd_kafka_conf_new());
  rd_kafka_conf_set_log_cb(conf.get(), &OnLog);
  auto set = [&conf](const std::string& key, const std::string& value) {
    char err[512];
    if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      log::Warn("kafka setting not applied to the watermark query", {{"setting", key}, {"error", err}});
    }
  };
  set("bootstrap.servers", brokers);
  for (const auto& [key, value] : ConnectionSettings(settings)) set(key, value);
  if (!group.empty()) set("group.id", group);
  try {
    // frees the configuration when it fails
    return MakeHandle(group.empty() ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER, std::move(conf));
  } catch (const std::runtime_error& e) {
    log::Warn("no kafka handle for the watermark query", {{"error", e.what()}});
    return nullptr;
  }
}

void LogQueryFailure(const char* what, const TopicPartition& tp, rd_kafka_resp_err_t e) {
  log::Warn(what, {{"topic", tp.topic}, {"partition", static_cast<std::int64_t>(tp.partition)},
                   {"error", rd_kafka_err2str(e)}});
}

}  // namespace

std::map<TopicPartition, std::int64_t> HighWatermarks(const std::string& brokers, const Settings& settings,
                                                      const std::vector<TopicPartition>& partitions,
                                                      std::chrono::milliseconds timeout) {
  std::map<TopicPartition, std::int64_t> out;
  if (partitions.empty()) return out;
  KafkaHandle rk = QueryHandle(brokers, settings);
  if (!rk) return out;
  for (const auto& tp : partitions) {
    std::int64_t low = 0;
    std::int64_t high = 0;
    rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk.get(), tp.topic.c_str(), tp.partition, &low, &high,
                                                             static_cast<int>(timeout.count()));
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
      out[tp] = high;
    } else {
      LogQueryFailure("kafka watermark query failed", tp, e);
    }
  }
  return out;
}

std::map<TopicPartition, std::int64_t> OffsetsSince(const std::string& brokers, const Settings& settings,
                                                    const std::vector<TopicPartition>& partitions, std::int64_t unix_ms,
                                                    std::chrono::milliseconds timeout) {
  std::map<TopicPartition, std::int64_t> out = HighWatermarks(brokers, settings, partitions, timeout);
  if (out.empty()) return out;
  KafkaHandle rk = QueryHandle(brokers, settings);
  if (!rk) return {};
  PartitionListHandle list(rd_kafka_topic_partition_list_new(static_cast<int>(out.size())));
  for (const auto& [tp, high] : out) {
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition)->offset = unix_ms;
  }
  rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(rk.get(), list.get(), static_cast<int>(timeout.count()));
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    LogQueryFailure("kafka offsets-for-times query failed", out.begin()->first, e);
    return {};
  }
  for (int i = 0; i < list->cnt; ++i) {
    const auto& el = list->elems[i];
    const TopicPartition tp{el.topic, el.partition};
    if (el.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      LogQueryFailure("kafka offsets-for-times query failed", tp, el.err);
      out.erase(tp);
    } else if (el.offset >= 0) {
      out[tp] = el.offset;  // else: no record that recent, start at the watermark taken before
    }
  }
  return out;
}

std::map<TopicPartition, std::int64_t> CommittedOffsets(const std::string& brokers, const Settings& settings,
                                                        const std::string& group,
                                                        const std::vector<TopicPartition>& partitions,
                                                        std::chrono::milliseconds timeout) {
  std::map<TopicPartition, std::int64_t> out;
  if (partitions.empty()) return out;
  KafkaHandle rk = QueryHandle(brokers, settings, group);
  if (!rk) return out;
  PartitionListHandle list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  for (const auto& tp : partitions) rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition);
  rd_kafka_resp_err_t e = rd_kafka_committed(rk.get(), list.get(), static_cast<int>(timeout.count()));
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    LogQueryFailure("kafka committed-offsets query failed", partitions.front(), e);
    return out;
  }
  for (int i = 0; i < list->cnt; ++i) {
    const auto& el = list->elems[i];
    const TopicPartition tp{el.topic, el.partition};
    if (el.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      LogQueryFailure("kafka committed-offsets query failed", tp, el.err);
    } else if (el.offset >= 0) {
      out[tp] = el.offset;  // else RD_KAFKA_OFFSET_INVALID: the group committed nothing there
    }
  }
  return out;
}

namespace {

// A setting of the handle's effective configuration as a number (0 when unset or not a number).
std::size_t ConfNumber(rd_kafka_t* rk, const char* key) {
  char value[64];
  size_t size = sizeof value;
  if (rd_kafka_conf_get(rd_kafka_conf(rk), key, value, &size) != RD_KAFKA_CONF_OK) return 0;
  return static_cast<std::size_t>(std::strtoull(value, nullptr, 10));
}

}  // namespace

struct Consumer::Impl {
  SecurityErrorTrap trap;  // before rk: outlives the handle
  KafkaHandle rk;
  RebalanceHooks hooks;
  bool closed = false;
  // Read-ahead wake-ups (see WakeFetchers): half of the queue bounds, and what Poll took since the last.
  std::size_t wake_bytes = 0;
  std::size_t wake_records = 0;
  std::size_t taken_bytes = 0;
  std::size_t taken_records = 0;

  void SetWakeBounds() {
    wake_bytes = ConfNumber(rk.get(), "queued.max.messages.kbytes") * 1024 / 2;
    wake_records = ConfNumber(rk.get(), "queued.min.messages") / 2;
  }

  // librdkafka 2.0 stops fetching a partition while the read-ahead queue is at one of its bounds
  // (queued.max.messages.kbytes, queued.min.messages) and decides again only when the broker thread
  // next wakes up: up to a second later when nothing else is in flight (fetch.queue.backoff.ms of
  // librdkafka 2.2 shortens that wait; 2.0 has none). A reader that empties the queue in less than a
  // second then waits for the rest of it: store-consume stored about 8 MiB of records per second,
  // whatever its own speed. So once Poll has taken half of a bound since the last wake-up, it queues a
  // ListOffsets request to the leader of every assigned partition, which wakes that broker's thread
  // (its fetch decision sees the emptier queue). offsets_for_times with no wait sends the requests and
  // returns at once; the answers are dropped. Takes nothing from the queue and moves no offset.
  void WakeFetchers() {
    taken_bytes = 0;
    taken_records = 0;
    rd_kafka_topic_partition_list_t* raw = nullptr;
    if (rd_kafka_assignment(rk.get(), &raw) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
    PartitionListHandle list(raw);
    if (list->cnt == 0) return;
    for (int i = 0; i < list->cnt; ++i) list->elems[i].offset = -1;  // the latest offset: any request will do
    rd_kafka_offsets_for_times(rk.get(), list.get(), 0);  // __TIMED_OUT by design: nothing is awaited
  }

  void Taken(std::size_t bytes) {
    taken_bytes += bytes;
    ++taken_records;
    if ((wake_bytes > 0 && taken_bytes >= wake_bytes) || (wake_records > 0 && taken_records >= wake_records)) {
      WakeFetchers();
    }
  }

  static void OnError(rd_kafka_t*, int err, const char* reason, void* opaque) {
    static_cast<Impl*>(opaque)->trap.Record(err, reason);
  }

  static std::vector<TopicPartition> ToVector(const rd_kafka_topic_partition_list_t* list) {
    std::vector<TopicPartition> out;
    for (int i = 0; i < list->cnt; ++i) out.push_back({list->elems[i].topic, list->elems[i].partition});
    return out;
  }

  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                          void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      auto tps = ToVector(partitions);
      if (self->hooks.on_assign) {
        StartOffsets offsets = self->hooks.on_assign(tps);
        for (int i = 0; i < partitions->cnt; ++i) {
          auto it = offsets.find({partitions->elems[i].topic, partitions->elems[i].partition});
          if (it != offsets.end()) partitions->elems[i].offset = it->second;
        }
      }
      log::Info("kafka partitions assigned", {{"count", static_cast<std::uint64_t>(partitions->cnt)}});
      rd_kafka_assign(rk, partitions);
    } else {
      if (self->hooks.on_revoke) self->hooks.on_revoke(ToVector(partitions));
      log::Info("kafka partitions revoked", {{"count", static_cast<std::uint64_t>(partitions->cnt)}});
      rd_kafka_assign(rk, nullptr);
    }
  }
};

Consumer::Consumer(const std::string& brokers, const std::string& group_id, const Settings& settings)
    : impl_(std::make_unique<Impl>()) {
  Settings defaults = {
      {"group.id", group_id},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
      {"client.id", "casper-event-store"},
      {"isolation.level", "read_committed"},
      {"topic.metadata.refresh.interval.ms", std::to_string(kConsumerMetadataRefreshMs)},
  };
  AddFetchLimits(defaults);
  ConfHandle conf = MakeConf(brokers, defaults, settings);
  rd_kafka_conf_set_rebalance_cb(conf.get(), &Impl::OnRebalance);
  rd_kafka_conf_set_error_cb(conf.get(), &Impl::OnError);
  rd_kafka_conf_set_opaque(conf.get(), impl_.get());
  impl_->rk = MakeHandle(RD_KAFKA_CONSUMER, std::move(conf));
  rd_kafka_poll_set_consumer(impl_->rk.get());
  impl_->SetWakeBounds();
}

Consumer::~Consumer() { Close(); }

void Consumer::Close() {
  if (impl_ && impl_->rk && !impl_->closed) {
    impl_->closed = true;
    rd_kafka_consumer_close(impl_->rk.get());
  }
}

namespace {

// Partition count of each topic in one metadata answer when every topic is there with a leader for each
// partition; nullopt otherwise.
std::optional<std::map<std::string, int>> CompleteTopics(rd_kafka_t* rk, const std::vector<std::string>& topics) {
  const rd_kafka_metadata_t* raw = nullptr;
  if (rd_kafka_metadata(rk, 1, nullptr, &raw, 2000) != RD_KAFKA_RESP_ERR_NO_ERROR) return std::nullopt;
  MetadataHandle md(raw);
  std::map<std::string, int> counts;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& t = md->topics[i];
    if (std::find(topics.begin(), topics.end(), t.topic) == topics.end()) continue;
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR || t.partition_cnt == 0) return std::nullopt;
    for (int p = 0; p < t.partition_cnt; ++p) {
      if (t.partitions[p].leader < 0) return std::nullopt;
    }
    counts[t.topic] = t.partition_cnt;
  }
  if (counts.size() != std::set<std::string>(topics.begin(), topics.end()).size()) return std::nullopt;
  return counts;
}

}  // namespace

// A topic created moments ago reaches the brokers' metadata one broker at a time. A group formed on an
// answer that lacked a topic, or some of its partitions, may keep that assignment: librdkafka 2.0
// rejoins when a refresh shows more partitions, but not when the change lands during the join itself
// (seen on three brokers: a member kept 9 of 10 partitions for good). So the subscription waits until
// kStableAnswers answers in a row name every topic with the same partitions, each with a leader.
void Consumer::WaitForTopics(const std::vector<std::string>& topics, std::chrono::milliseconds timeout) {
  constexpr int kStableAnswers = 3;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::optional<std::map<std::string, int>> last;
  int stable = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    auto counts = CompleteTopics(impl_->rk.get(), topics);
    MessageHandle ignored(rd_kafka_consumer_poll(impl_->rk.get(), 0));  // serves the error callback
    impl_->trap.ThrowIfCaught("reading topic metadata");
    stable = counts && counts == last ? stable + 1 : (counts ? 1 : 0);
    if (stable >= kStableAnswers) return;
    last = std::move(counts);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  log::Warn("kafka topics incomplete in metadata; subscribing anyway (picked up by the periodic refresh)",
            {{"topics", static_cast<std::uint64_t>(topics.size())}});
}

void Consumer::Subscribe(const std::vector<std::string>& topics, RebalanceHooks hooks) {
  WaitForTopics(topics, kSubscribeMetadataWait);
  impl_->hooks = std::move(hooks);
  PartitionListHandle list(rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
  for (const auto& t : topics) rd_kafka_topic_partition_list_add(list.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t err = rd_kafka_subscribe(impl_->rk.get(), list.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) throw std::runtime_error(std::string("kafka subscribe: ") + rd_kafka_err2str(err));
}

std::vector<Message> Consumer::Poll(std::size_t max_messages, std::chrono::milliseconds timeout,
                                    std::size_t max_bytes) {
  std::vector<Message> out;
  int wait = static_cast<int>(timeout.count());
  std::size_t bytes = 0;
  while (out.size() < max_messages && bytes < max_bytes) {
    MessageHandle msg(rd_kafka_consumer_poll(impl_->rk.get(), wait));
    impl_->trap.ThrowIfCaught("consuming");
    if (!msg) break;
    wait = 0;  // after the first record, take only what is already fetched
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (IsSecurityError(msg->err, rd_kafka_message_errstr(msg.get()))) {
        throw std::runtime_error(std::string("kafka: ") + rd_kafka_message_errstr(msg.get()));
      }
      if (msg->err == RD_KAFKA_RESP_ERR__FATAL) {
        // The handle is unusable for good (e.g. a static group member fenced by another with the same
        // group.instance.id): polling on would consume nothing while looking alive.
        char reason[512] = "";
        rd_kafka_fatal_error(impl_->rk.get(), reason, sizeof reason);
        throw std::runtime_error(std::string("kafka: fatal consumer error: ") + reason);
      }
      if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        log::Warn("kafka consume error", {{"error", rd_kafka_message_errstr(msg.get())}});
      }
      continue;
    }
    impl_->Taken(msg->len);
    bytes += msg->len;
    out.push_back(ToMessage(msg.get()));
  }
  return out;
}

bool Consumer::Commit(const std::map<TopicPartition, std::int64_t>& next_offsets, std::string& error) {
  if (next_offsets.empty()) return true;
  PartitionListHandle list(rd_kafka_topic_partition_list_new(static_cast<int>(next_offsets.size())));
  for (const auto& [tp, offset] : next_offsets) {
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition)->offset = offset;
  }
  rd_kafka_resp_err_t err = rd_kafka_commit(impl_->rk.get(), list.get(), 0);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    error = rd_kafka_err2str(err);
    return false;
  }
  return true;
}

void Consumer::CommitAsync(const std::map<TopicPartition, std::int64_t>& next_offsets) {
  if (next_offsets.empty()) return;
  PartitionListHandle list(rd_kafka_topic_partition_list_new(static_cast<int>(next_offsets.size())));
  for (const auto& [tp, offset] : next_offsets) {
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition)->offset = offset;
  }
  rd_kafka_resp_err_t err = rd_kafka_commit(impl_->rk.get(), list.get(), 1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) log::Warn("kafka async commit failed", {{"error", rd_kafka_err2str(err)}});
}

void Consumer::Seek(const TopicPartition& tp, std::int64_t offset) {
  PartitionListHandle list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition)->offset = offset;
  rd_kafka_error_t* error = rd_kafka_seek_partitions(impl_->rk.get(), list.get(), 10000);
  if (error) {
    log::Warn("kafka seek failed", {{"topic", tp.topic}, {"error", rd_kafka_error_string(error)}});
    rd_kafka_error_destroy(error);
  }
}

std::vector<TopicPartition> Consumer::Assignment() const {
  rd_kafka_topic_partition_list_t* list = nullptr;
  if (rd_kafka_assignment(impl_->rk.get(), &list) != RD_KAFKA_RESP_ERR_NO_ERROR) return {};
  PartitionListHandle holder(list);
  return Impl::ToVector(list);
}

TxnStatus Producer::SendOffsetsToTransaction(const std::map<TopicPartition, std::int64_t>& next_offsets,
                                             const Consumer& consumer, std::chrono::milliseconds timeout) {
  if (next_offsets.empty()) return {};
  PartitionListHandle list(rd_kafka_topic_partition_list_new(static_cast<int>(next_offsets.size())));
  for (const auto& [tp, offset] : next_offsets) {
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition)->offset = offset;
  }
  std::unique_ptr<rd_kafka_consumer_group_metadata_t, decltype(&rd_kafka_consumer_group_metadata_destroy)> metadata(
      rd_kafka_consumer_group_metadata(consumer.impl_->rk.get()), &rd_kafka_consumer_group_metadata_destroy);
  return ToTxnStatus(rd_kafka_send_offsets_to_transaction(impl_->rk.get(), list.get(), metadata.get(),
                                                          static_cast<int>(timeout.count())));
}

}  // namespace ces::kafka
