#include "ces/api/replay_api.hpp"

#include <charconv>
#include <set>
#include <thread>

#include "ces/audit/keys.hpp"
#include "ces/audit/lookup.hpp"
#include "ces/audit/query.hpp"
#include "ces/audit/record.hpp"
#include "ces/audit/sse.hpp"
#include "ces/common/json.hpp"
#include "ces/common/log.hpp"
#include "ces/common/metrics.hpp"
#include "ces/common/time.hpp"
#include "ces/common/version.hpp"
#include "ces/kafka/topics.hpp"
#include "ces/legacy/translate.hpp"
#include "json_error.hpp"

namespace ces::api {

namespace {

constexpr std::size_t kStreamFlushBytes = 256u * 1024u;
constexpr std::size_t kStreamBatchBytes = 8u * 1024u * 1024u;
constexpr std::size_t kListMaxBytes = 16u * 1024u * 1024u;

// CORS headers come from the server (--cors-origin), as for every route.
const http::Headers kNoExtraHeaders = {};
const http::Headers kStreamHeaders = {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
// A replay written through a sink waits while this much is unwritten.
constexpr std::size_t kSinkHighWater = 1024u * 1024u;

// What a legacy stream (/events/main|deploys|sigs) starts with, as casper-sidecar's emulation does.
constexpr std::string_view kLegacyNotice =
    ":This endpoint is NOT a 1 to 1 representation of events coming off of the node. Some events are not "
    "transformable to legacy format. Please consult the documentation for details. This endpoint is deprecated "
    "and will be removed in a future release. Please migrate to the /events endpoint instead.\n\n";

std::int64_t NowMs() { return time::UnixMillis(time::Now()); }

// One event of the JSON list: metadata and the payload embedded as JSON.
void AppendEventJson(std::string& out, const mongo::EventRecord& e) {
  out += "{\"source\":";
  json::AppendString(out, e.source);
  out += ",\"stream\":";
  json::AppendString(out, e.stream);
  out += ",\"event_id\":";
  out += e.event_id ? std::to_string(*e.event_id) : "null";
  out += ",\"type\":";
  json::AppendString(out, e.type);
  out += ",\"api_version\":";
  json::AppendString(out, e.api_version);
  out += ",\"received_at\":";
  json::AppendString(out, e.received_at);
  out += ",\"origin\":";
  json::AppendString(out, e.origin == "rpc" ? "rpc" : "node");
  out += ",\"sha256\":";
  json::AppendString(out, e.sha256);
  out += ",\"size\":" + std::to_string(e.size);
  out += ",\"kafka\":{\"topic\":";
  json::AppendString(out, e.topic);
  out += ",\"partition\":" + std::to_string(e.partition) + ",\"offset\":" + std::to_string(e.offset) + "}";
  if (e.payload_in_gridfs) {
    out += ",\"payload\":null,\"payload_in_gridfs\":true";
  } else if (audit::IsValidJson(e.payload)) {
    out += ",\"payload\":";
    out += e.payload;
  } else {
    out += ",\"payload\":null,\"payload_text\":";
    json::AppendString(out, e.payload);
  }
  out += "}";
}

class StreamSlot {
 public:
  StreamSlot(std::atomic<std::size_t>& counter, std::size_t max) : counter_(counter) {
    acquired_ = counter_.fetch_add(1) < max;
    if (!acquired_) counter_.fetch_sub(1);
  }
  ~StreamSlot() {
    if (acquired_) counter_.fetch_sub(1);
  }
  StreamSlot(const StreamSlot&) = delete;
  StreamSlot& operator=(const StreamSlot&) = delete;
  bool acquired() const { return acquired_; }

 private:
  std::atomic<std::size_t>& counter_;
  bool acquired_ = false;
};

}  // namespace

struct ReplayApi::Metrics {
  explicit Metrics(metrics::Registry& r)
      : streams(r.GetGauge("ces_api_replay_streams", "Open replay SSE streams")),
        streams_total(r.GetCounter("ces_api_replay_streams_total", "Replay SSE streams opened")),
        streams_rejected(r.GetCounter("ces_api_replay_streams_rejected_total",
                                      "Replay SSE streams refused at the concurrency limit")),
        events(r.GetCounter("ces_api_replay_events_total", "Events sent on replay SSE streams")),
        list_requests(r.GetCounter("ces_api_list_requests_total", "JSON event list requests")),
        bad_requests(r.GetCounter("ces_api_bad_requests_total", "Requests answered 400")),
        store_errors(r.GetCounter("ces_api_store_errors_total", "Store errors met while serving")),
        first_event(r.GetHistogram("ces_api_replay_first_event_seconds",
                                   "Time from request to the first event of a replay stream", {},
                                   metrics::LatencyBuckets())) {}
  metrics::Gauge& streams;
  metrics::Counter& streams_total;
  metrics::Counter& streams_rejected;
  metrics::Counter& events;
  metrics::Counter& list_requests;
  metrics::Counter& bad_requests;
  metrics::Counter& store_errors;
  metrics::Histogram& first_event;
};

ReplayApi::ReplayApi(mongo::AuditStore& store, ReplayApiOptions options, metrics::Registry& registry,
                     live::LiveHub* hub, live::LiveHub* chain_hub)
    : store_(store),
      options_(std::move(options)),
      metrics_(std::make_unique<Metrics>(registry)),
      log_(store, options_.cache_bytes),
      watcher_(log_, options_.poll_interval),
      hub_(hub),
      chain_hub_(chain_hub) {}

ReplayApi::~ReplayApi() { Stop(); }

void ReplayApi::Start() {
  mongo::Status status = store_.DetectServer();
  if (status.ok) status = log_.Preload();
  if (!status.ok) log::Warn("mongodb not reachable yet; will keep trying", {{"error", status.message}});
  // Until a node announces one through Kafka, live subscribers are greeted with the stored version.
  if (status.ok) SeedHubVersions();
  watcher_.PollOnce();
  watcher_.Start();
}

void ReplayApi::Stop() { watcher_.Stop(); }

bool ReplayApi::Ready(std::string& reason) const {
  auto snapshot = watcher_.Current();
  if (!snapshot.ok) reason = "mongodb unavailable: " + snapshot.error;
  return snapshot.ok;
}

std::vector<mongo::ChainHead> ReplayApi::Heads(const audit::HeadWatcher::Snapshot& snapshot) const {
  if (options_.all_prefixes) return snapshot.heads;
  std::vector<mongo::ChainHead> out;
  for (const auto& h : snapshot.heads) {
    if (h.chain.topic == options_.topic_prefix + h.route) out.push_back(h);
  }
  return out;
}

void ReplayApi::Register(http::AsyncServer& server) {
  using http::AsyncResponseWriter;
  using http::Request;
  server.Route(
      "GET", "/events", [this](const Request& r, AsyncResponseWriter& w) { HandleStream(r, w, {}, &w); },
      http::RouteKind::kDedicated);
  for (std::string_view name : kafka::kEventTopics) {
    const std::string route(name);
    server.Route(
        "GET", "/events/" + route,
        [this, route](const Request& r, AsyncResponseWriter& w) { HandleStream(r, w, {route}, &w, Endpoint::kLegacy); },
        http::RouteKind::kDedicated);
  }
  server.Route(
      "GET", "/events/sidecar",
      [this](const Request& r, AsyncResponseWriter& w) { HandleStream(r, w, {}, &w, Endpoint::kSidecar); },
      http::RouteKind::kDedicated);
  server.Route("GET", "/api/v1/events", [this](const Request& r, AsyncResponseWriter& w) { HandleList(r, w); });
  server.Route("GET", "/api/v1/sources", [this](const Request& r, AsyncResponseWriter& w) { HandleSources(r, w); });
  server.Route("GET", "/api/v1/events/{source}/{stream}/{id}",
               [this](const Request& r, AsyncResponseWriter& w) { HandleEvent(r, w); });
}

namespace {

// start_from without a source: the store's only source, if it has one. Fills `streams` with the
// source's streams (for the checkpoints). False when a 400 was sent.
bool ResolveStartFrom(mongo::AuditStore& store, audit::ReplayQuery& query, std::vector<std::string>& streams,
                      http::ResponseWriter& writer, bool& store_error) {
  store_error = false;
  if (!query.start_from) return true;
  if (query.routes == std::vector<std::string>{std::string(audit::kChainRoute)}) {
    // Chain ids: one sequence, no source to name.
    query.sources = {std::string(audit::kChainRoute)};
    streams = {std::string(audit::kChainRoute)};
    return true;
  }
  auto sources = store.ListSources();
  if (!sources.ok()) {
    store_error = true;
    return false;
  }
  if (query.sources.empty()) {
    std::set<std::string> distinct;
    for (const auto& s : sources.value) distinct.insert(s.source);
    if (distinct.size() != 1) {
      SendJsonError(writer, common::ErrorKind::kBadData,
                    "start_from needs a source parameter (event ids are per node; the store holds " +
                        std::to_string(distinct.size()) + " sources)",
                    "start_from");
      return false;
    }
    query.sources = {*distinct.begin()};
  }
  for (const auto& s : sources.value) {
    if (s.source == query.sources.front()) streams.push_back(s.stream);
  }
  if (streams.empty()) streams = {"events", "main", "deploys", "sigs"};
  return true;
}

}  // namespace

std::optional<audit::HeadWatcher::Snapshot> ReplayApi::Prepare(audit::ReplayQuery& query,
                                                                std::vector<std::string>& streams,
                                                                http::ResponseWriter& writer) {
  auto snapshot = watcher_.Current();
  if (!snapshot.ok) {
    watcher_.PollOnce();
    snapshot = watcher_.Current();
  }
  if (!snapshot.ok) {
    metrics_->store_errors.Inc();
    SendJsonError(writer, common::ErrorKind::kUnavailable, "the audit store is unavailable: " + snapshot.error);
    return std::nullopt;
  }
  bool store_error = false;
  if (!ResolveStartFrom(store_, query, streams, writer, store_error)) {
    if (store_error) {
      metrics_->store_errors.Inc();
      SendJsonError(writer, common::ErrorKind::kUnavailable, "the audit store is unavailable");
    } else {
      metrics_->bad_requests.Inc();
    }
    return std::nullopt;
  }
  return snapshot;
}

void ReplayApi::SeedHubVersions() {
  if (!hub_ && !chain_hub_) return;
  auto sources = store_.ListSources();
  if (!sources.ok()) return;
  for (const auto& s : sources.value) {
    if (hub_) hub_->SeedApiVersion(s.source, s.api_version);
    if (chain_hub_) chain_hub_->SeedApiVersion(std::string(audit::kChainRoute), s.api_version);
  }
}

namespace {

// The first bytes of a stream before any event: the legacy notice, or the sidecar's version.
std::string Preamble(bool legacy, bool sidecar) {
  if (legacy) return std::string(kLegacyNotice);
  if (sidecar) return "data:{\"SidecarVersion\":\"" + std::string(common::kVersion) + "\"}\n\n";
  return {};
}

}  // namespace

void ReplayApi::HandleLive(live::LiveHub& hub, audit::ReplayQuery query, http::ResponseWriter& writer,
                           http::AsyncResponseWriter& async, Endpoint endpoint) {
  auto ticket = hub.Admit();
  if (!ticket) {
    SendJsonError(writer, common::ErrorKind::kUnavailable,
                  "too many live subscribers (limit " + std::to_string(hub.options().max_subscribers) + ")");
    return;
  }
  if (!hub.HasApiVersion()) SeedHubVersions();  // the store filled after start-up; nothing through Kafka yet
  if (!writer.StartStream(200, "text/event-stream", kStreamHeaders)) return;
  auto sink = async.Detach(hub.SinkLimit());
  if (!sink) return;
  const std::string preamble = Preamble(endpoint == Endpoint::kLegacy, endpoint == Endpoint::kSidecar);
  if (!preamble.empty() && !sink->Offer(preamble)) return;
  live::LiveHub::Subscription subscription;
  subscription.query = std::move(query);
  subscription.legacy = endpoint == Endpoint::kLegacy;
  subscription.api_versions = endpoint != Endpoint::kSidecar;
  hub.Subscribe(std::move(ticket), std::move(sink), std::move(subscription));
}

std::optional<std::map<kafka::TopicPartition, std::int64_t>> ReplayApi::LiveEdge(
    const live::LiveHub& hub, const audit::Positions& positions, const std::vector<mongo::ChainHead>& heads) const {
  const auto topics = hub.Topics();
  std::map<kafka::TopicPartition, std::int64_t> out;
  for (const auto& pos : positions) {
    if (std::find(topics.begin(), topics.end(), pos.chain.topic) == topics.end()) return std::nullopt;
    auto head = std::find_if(heads.begin(), heads.end(), [&](const mongo::ChainHead& h) { return h.chain == pos.chain; });
    if (head == heads.end() || head->seq < 0) {
      if (pos.seq != 0 || pos.index != 0) return std::nullopt;
      continue;  // nothing stored of this partition: 0
    }
    if (pos.seq != head->seq + 1 || pos.index != 0) return std::nullopt;
    out[{pos.chain.topic, pos.chain.partition}] = head->end;
  }
  return out;
}

void ReplayApi::HandleStream(const http::Request& request, http::ResponseWriter& writer,
                             std::vector<std::string> routes, http::AsyncResponseWriter* async, Endpoint endpoint) {
  const bool legacy = endpoint == Endpoint::kLegacy;
  const bool announce_versions = endpoint != Endpoint::kSidecar;
  const auto started = std::chrono::steady_clock::now();
  audit::QueryLimits limits{options_.default_page_size, options_.max_page_size};
  auto parsed = audit::ParseReplayQuery(request.query, audit::QueryKind::kStream, std::move(routes), limits);
  if (!parsed.query) {
    metrics_->bad_requests.Inc();
    SendJsonError(writer, common::ErrorKind::kBadData, parsed.error.message, parsed.error.parameter);
    return;
  }
  if (endpoint == Endpoint::kSidecar) parsed.query->types = {"Shutdown"};  // the nodes' Shutdowns only
  // /events without a source: the chain sequence (each distinct event once, ids = chain ids). The 1.x
  // paths without a source: the chain filtered to the events a 1.x node sends on that path, with chain
  // ids (a 1.x node's endpoints are filters over one id sequence too).
  const bool chain = options_.chain_events && (endpoint == Endpoint::kEvents || legacy) &&
                     parsed.query->sources.empty();
  if (chain) {
    if (legacy) parsed.query->type_routes = parsed.query->routes;
    parsed.query->routes = {std::string(audit::kChainRoute)};
  }
  live::LiveHub* hub = chain ? chain_hub_ : hub_;
  if (hub && async && !parsed.query->start_from && !parsed.query->from_ms && !parsed.query->to_ms) {
    HandleLive(*hub, std::move(*parsed.query), writer, *async, endpoint);
    return;
  }
  StreamSlot slot(streams_, options_.max_streams);
  if (!slot.acquired()) {
    metrics_->streams_rejected.Inc();
    SendJsonError(writer, common::ErrorKind::kUnavailable, "too many concurrent streams (limit " + std::to_string(options_.max_streams) + ")");
    return;
  }
  audit::ReplayQuery query = std::move(*parsed.query);
  std::vector<std::string> streams;
  auto prepared = Prepare(query, streams, writer);
  if (!prepared) return;
  const audit::HeadWatcher::Snapshot& snapshot = *prepared;
  const auto heads = Heads(snapshot);
  auto positions = audit::InitialPositions(log_, query, audit::ChainsInScope(heads, query), streams);
  if (!positions.ok()) {
    metrics_->store_errors.Inc();
    SendJsonError(writer, common::ErrorKind::kUnavailable, "the audit store is unavailable: " + positions.status.message);
    return;
  }
  audit::ReplayReader::Options reader_options;
  reader_options.prefetch = true;  // overlap the store's work with sending
  audit::ReplayReader reader(log_, query, positions.value, reader_options);
  reader.UpdateHeads(heads);
  if (!writer.StartStream(200, "text/event-stream", kStreamHeaders)) return;
  // With the hub, the stream is written through a sink from the start (flow control on its buffer),
  // so that it can be handed over to the hub at the live edge.
  std::shared_ptr<http::StreamSink> sink;
  if (hub && async && !query.to_ms) {
    sink = async->Detach(hub->SinkLimit());
    if (!sink) return;
  }
  bool handed_over = false;
  struct EndSink {  // a stream that was not handed over ends with its handler
    std::shared_ptr<http::StreamSink>& sink;
    bool& handed_over;
    ~EndSink() {
      if (sink && !handed_over) sink->Close();
    }
  } end_sink{sink, handed_over};
  std::vector<mongo::ChainHead> current_heads = heads;
  metrics_->streams_total.Inc();
  metrics_->streams.Add(1);
  struct Gauge {
    metrics::Gauge& g;
    ~Gauge() { g.Add(-1); }
  } gauge{metrics_->streams};

  std::uint64_t seen_version = snapshot.version;
  std::string announced;  // ApiVersion last sent
  bool initial_announcement_done = !announce_versions;
  std::uint64_t sent = 0;
  bool first_event_observed = false;
  std::string out = Preamble(legacy, endpoint == Endpoint::kSidecar);
  auto last_write = std::chrono::steady_clock::now();
  auto cancelled = [&writer, &sink] { return sink ? sink->Closed() : writer.Cancelled(); };
  auto flush = [&]() -> bool {
    if (out.empty()) return true;
    bool ok = false;
    if (sink) {
      while (sink->Buffered() > kSinkHighWater && !sink->Closed()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      ok = sink->Offer(std::move(out));
    } else {
      ok = writer.WriteChunk(out);
    }
    out.clear();
    last_write = std::chrono::steady_clock::now();
    return ok;
  };
  std::chrono::milliseconds retry{500};
  while (!cancelled()) {
    std::size_t want = 1024;
    if (query.max_events) want = static_cast<std::size_t>(std::min<std::uint64_t>(want, *query.max_events - sent));
    audit::ReplayReader::Batch batch;
    mongo::Status status = reader.Next(want, kStreamBatchBytes, batch);
    if (!status.ok) {
      metrics_->store_errors.Inc();
      log::Warn("replay stream: store read failed; retrying", {{"error", status.message}});
      if (std::chrono::steady_clock::now() - last_write >= options_.keepalive) {
        audit::AppendSseKeepAlive(out);
        if (!flush()) return;
      }
      watcher_.WaitForChange(~0ull, retry, cancelled);
      retry = std::min(retry * 2, std::chrono::milliseconds(5000));
      continue;
    }
    retry = std::chrono::milliseconds(500);
    for (auto& e : batch.events) {
      if (e.type == "ApiVersion") continue;  // announced from the events' own api_version instead
      if (e.payload_in_gridfs) {
        auto payload = log_.GetPayloadFile(e.id);
        if (!payload.ok()) {
          // Ending the stream is the only way not to skip it; the client resumes with start_from.
          metrics_->store_errors.Inc();
          log::Warn("replay stream: payload not readable from GridFS; ending the stream",
                    {{"id", e.id}, {"error", payload.status.message}});
          flush();
          return;
        }
        e.payload = std::move(payload.value);
      }
      if (legacy) {
        legacy::Translation translation = legacy::ToLegacy(e.payload);
        if (translation.outcome == legacy::Outcome::kDropped) continue;  // no 1.x form
        if (translation.outcome == legacy::Outcome::kTranslated) e.payload = std::move(translation.payload);
      }
      if (announce_versions && e.api_version != announced) {
        audit::AppendSseApiVersion(out, e.api_version);
        announced = e.api_version;
        initial_announcement_done = true;
      }
      audit::AppendSseEvent(out, e.payload, e.event_id);
      ++sent;
      metrics_->events.Inc();
      if (!first_event_observed) {
        first_event_observed = true;
        metrics_->first_event.Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
        if (!flush()) return;
      }
      if (query.max_events && sent >= *query.max_events) {
        flush();
        return;
      }
      if (out.size() >= kStreamFlushBytes && !flush()) return;
    }
    if (!flush()) return;
    if (!batch.caught_up) continue;
    if (query.to_ms && NowMs() > *query.to_ms) return;  // nothing after to_time can match any more
    if (!initial_announcement_done) {
      // A node starts every stream with its ApiVersion: do the same when the sources agree on one.
      initial_announcement_done = true;
      auto sources = store_.ListSources();
      if (sources.ok()) {
        std::set<std::string> versions;
        for (const auto& s : sources.value) {
          if (chain || query.sources.empty() ||
              std::find(query.sources.begin(), query.sources.end(), s.source) != query.sources.end()) {
            versions.insert(s.api_version);
          }
        }
        if (versions.size() == 1 && !versions.begin()->empty()) {
          announced = *versions.begin();
          audit::AppendSseApiVersion(out, announced);
          if (!flush()) return;
        }
      }
    }
    if (sink) {
      // The live edge: join the hub if its ring reaches back to where the store ends.
      if (auto edge = LiveEdge(*hub, reader.positions(), current_heads)) {
        auto ticket = hub->Admit();
        if (ticket) {
          live::LiveHub::Subscription subscription;
          subscription.query = query;
          subscription.sent = sent;
          subscription.announced = announced;
          subscription.legacy = legacy;
          subscription.api_versions = announce_versions;
          const auto result = hub->Attach(ticket, sink, std::move(subscription), *edge);
          if (result == live::LiveHub::AttachResult::kAttached) handed_over = true;
          if (result != live::LiveHub::AttachResult::kNotCovered) return;
        }
      }
    }
    auto next = watcher_.WaitForChange(
        seen_version,
        std::max<std::chrono::milliseconds>(
            std::chrono::milliseconds(50),
            options_.keepalive - std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now() - last_write)),
        cancelled);
    if (next.version != seen_version) {
      seen_version = next.version;
      current_heads = Heads(next);
      reader.UpdateHeads(current_heads);
    } else if (std::chrono::steady_clock::now() - last_write >= options_.keepalive) {
      audit::AppendSseKeepAlive(out);
      if (!flush()) return;
    }
  }
}

void ReplayApi::HandleList(const http::Request& request, http::ResponseWriter& writer) {
  metrics_->list_requests.Inc();
  audit::QueryLimits limits{options_.default_page_size, options_.max_page_size};
  auto parsed = audit::ParseReplayQuery(request.query, audit::QueryKind::kList, {}, limits);
  if (!parsed.query) {
    metrics_->bad_requests.Inc();
    SendJsonError(writer, common::ErrorKind::kBadData, parsed.error.message, parsed.error.parameter);
    return;
  }
  audit::ReplayQuery query = std::move(*parsed.query);
  std::vector<std::string> streams;
  auto prepared = Prepare(query, streams, writer);
  if (!prepared) return;
  const audit::HeadWatcher::Snapshot& snapshot = *prepared;
  const std::string fingerprint = query.Fingerprint();
  const auto heads = Heads(snapshot);
  audit::Positions positions;
  if (query.cursor) {
    std::string error;
    auto decoded = audit::DecodeCursor(*query.cursor, fingerprint, error);
    if (!decoded) {
      metrics_->bad_requests.Inc();
      SendJsonError(writer, common::ErrorKind::kBadData, error, "cursor");
      return;
    }
    positions = std::move(*decoded);
  } else {
    auto initial = audit::InitialPositions(log_, query, audit::ChainsInScope(heads, query), streams);
    if (!initial.ok()) {
      metrics_->store_errors.Inc();
      SendJsonError(writer, common::ErrorKind::kUnavailable, "the audit store is unavailable: " + initial.status.message);
      return;
    }
    positions = std::move(initial.value);
  }
  audit::ReplayReader reader(log_, query, positions);
  reader.UpdateHeads(heads);
  audit::ReplayReader::Batch batch;
  mongo::Status status = reader.Next(query.limit, kListMaxBytes, batch);
  if (!status.ok) {
    metrics_->store_errors.Inc();
    SendJsonError(writer, common::ErrorKind::kUnavailable, "the audit store is unavailable: " + status.message);
    return;
  }
  std::string body = "{\"events\":[";
  for (std::size_t i = 0; i < batch.events.size(); ++i) {
    if (i) body += ',';
    AppendEventJson(body, batch.events[i]);
  }
  body += "],\"next_cursor\":";
  json::AppendString(body, audit::EncodeCursor(reader.positions(), fingerprint));
  body += ",\"caught_up\":";
  body += batch.caught_up ? "true" : "false";
  body += "}";
  writer.Send(200, "application/json", body, kNoExtraHeaders);
}

void ReplayApi::HandleEvent(const http::Request& request, http::ResponseWriter& writer) {
  // /api/v1/events/{source}/{stream}/{id}: the source is URL-encoded but may hold '/' once decoded, so
  // split from the right (stream names and ids have no '/').
  static constexpr std::string_view kPrefix = "/api/v1/events/";
  std::string joined;  // the AsyncServer's pattern route gives the parts as parameters
  if (request.Param("source") && request.Param("stream") && request.Param("id")) {
    joined = *request.Param("source") + "/" + *request.Param("stream") + "/" + *request.Param("id");
  } else {
    joined = request.path.substr(std::min(request.path.size(), kPrefix.size()));
  }
  std::string_view rest = joined;
  const auto id_slash = rest.rfind('/');
  if (id_slash == std::string_view::npos) {
    SendJsonError(writer, common::ErrorKind::kNotFound, "expected /api/v1/events/{source}/{stream}/{id}");
    return;
  }
  const std::string_view id_text = rest.substr(id_slash + 1);
  rest = rest.substr(0, id_slash);
  const auto stream_slash = rest.rfind('/');
  if (stream_slash == std::string_view::npos || stream_slash == 0) {
    SendJsonError(writer, common::ErrorKind::kNotFound, "expected /api/v1/events/{source}/{stream}/{id}");
    return;
  }
  const std::string_view stream = rest.substr(stream_slash + 1);
  const std::string_view source = rest.substr(0, stream_slash);
  std::uint32_t id = 0;
  auto [ptr, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
  if (id_text.empty() || ec != std::errc() || ptr != id_text.data() + id_text.size()) {
    metrics_->bad_requests.Inc();
    SendJsonError(writer, common::ErrorKind::kBadData, "the event id must be a decimal u32, got '" + std::string(id_text) + "'", "id");
    return;
  }
  if (stream.empty()) {
    SendJsonError(writer, common::ErrorKind::kBadData, "the stream must not be empty", "stream");
    return;
  }
  // On FerretDB the lookup goes through the replay log from the watcher's heads (an _id lookup there
  // reads the whole `events` collection); on MongoDB through the `events` _id index.
  std::vector<mongo::ChainHead> heads;
  if (store_.server_kind() == mongo::ServerKind::kFerretDb) {
    auto snapshot = watcher_.Current();
    if (!snapshot.ok) {
      metrics_->store_errors.Inc();
      SendJsonError(writer, common::ErrorKind::kUnavailable, "the audit store is unavailable: " + snapshot.error);
      return;
    }
    heads = Heads(snapshot);
  }
  auto event = audit::FindEvent(store_, log_, &heads, std::string(source), std::string(stream), id);
  if (!event.ok()) {
    metrics_->store_errors.Inc();
    SendJsonError(writer, common::ErrorKind::kUnavailable, "the audit store is unavailable: " + event.status.message);
    return;
  }
  if (!event.value) {
    SendJsonError(writer, common::ErrorKind::kNotFound, "no event " + std::to_string(id) + " of " + std::string(source) + " stream " +
                                   std::string(stream));
    return;
  }
  http::Headers headers = kNoExtraHeaders;
  headers.push_back({"ETag", "\"" + event.value->sha256 + "\""});
  headers.push_back({"X-Event-Type", event.value->type});
  writer.Send(200, "application/json", event.value->payload, headers);
}

void ReplayApi::HandleSources(const http::Request& request, http::ResponseWriter& writer) {
  if (!request.query.empty()) {
    SendJsonError(writer, common::ErrorKind::kBadData, "unknown parameter '" + request.query.front().first + "'", request.query.front().first);
    return;
  }
  auto sources = store_.ListSources();
  if (!sources.ok()) {
    metrics_->store_errors.Inc();
    SendJsonError(writer, common::ErrorKind::kUnavailable, "the audit store is unavailable: " + sources.status.message);
    return;
  }
  std::string body = "{\"sources\":[";
  for (std::size_t i = 0; i < sources.value.size(); ++i) {
    const auto& s = sources.value[i];
    if (i) body += ',';
    body += "{\"source\":";
    json::AppendString(body, s.source);
    body += ",\"stream\":";
    json::AppendString(body, s.stream);
    body += ",\"api_version\":";
    json::AppendString(body, s.api_version);
    body += "}";
  }
  body += "]}";
  writer.Send(200, "application/json", body, kNoExtraHeaders);
}

}  // namespace ces::api
