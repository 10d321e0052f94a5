#pragma once
// The replay endpoints of `api` (docs/api.md):
//   GET /events, /events/main, /events/deploys, /events/sigs   SSE replay, then live (with a LiveHub:
//                                                              live-only clients go straight to the hub,
//                                                              replays are handed over at the live edge);
//                                                              main|deploys|sigs in their 1.x form (ces::legacy)
//   GET /events/sidecar                                        SidecarVersion, then the nodes' Shutdowns
//   GET /api/v1/events                                         JSON pages with a cursor
//   GET /api/v1/events/{source}/{stream}/{id}                  one payload, byte-exact
//   GET /api/v1/sources                                        the nodes and streams in the store

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "ces/audit/replay.hpp"
#include "ces/http/async_server.hpp"
#include "ces/http/server.hpp"
#include "ces/live/hub.hpp"
#include "ces/mongo/audit_store.hpp"

namespace ces::metrics {
class Registry;
}

namespace ces::api {

struct ReplayApiOptions {
  std::size_t max_streams = 100;
  std::size_t default_page_size = 100;
  std::size_t max_page_size = 1000;
  std::chrono::milliseconds keepalive{15000};
  std::chrono::milliseconds poll_interval{100};
  std::size_t cache_bytes = 128u * 1024u * 1024u;
  std::string topic_prefix;  // serve only chains of topics with this prefix ("" and all_prefixes: any)
  bool all_prefixes = true;
  // /events without `source` serves the chain sequence (the audit store's <prefix>chain records, then
  // the chain hub): chain ids, start_from without a source. false: the node streams, as before.
  bool chain_events = false;
};

class ReplayApi {
 public:
  // `hub` (optional, outlives this object): live events come from Kafka through the hub instead of
  // by tailing the store.
  // `chain_hub` (optional): the live side of the chain sequence.
  ReplayApi(mongo::AuditStore& store, ReplayApiOptions options, metrics::Registry& registry,
            live::LiveHub* hub = nullptr, live::LiveHub* chain_hub = nullptr);
  ~ReplayApi();
  ReplayApi(const ReplayApi&) = delete;
  ReplayApi& operator=(const ReplayApi&) = delete;

  // Adds the routes (no I/O): SSE routes run on dedicated threads (a live-only stream returns at once
  // after handing its connection to the hub), the JSON routes on the worker pool.
  void Register(http::AsyncServer& server);
  // Starts the head watcher (the store may be down: it keeps polling); seeds the hub's ApiVersion.
  void Start();
  void Stop();
  bool Ready(std::string& reason) const;

 private:
  struct Metrics;
  // Which SSE route: /events, a 1.x stream (main|deploys|sigs: events in their 1.x form, after the
  // sidecar's notice), or /events/sidecar (SidecarVersion, then Shutdown events, no ApiVersion lines).
  enum class Endpoint { kEvents, kLegacy, kSidecar };
  // Greets live subscribers with the stored ApiVersion until one comes through Kafka.
  void SeedHubVersions();
  // The chain heads for a query and, for start_from, its source's streams; nullopt once an error
  // (503 store unavailable, 400 bad start_from) was sent.
  std::optional<audit::HeadWatcher::Snapshot> Prepare(audit::ReplayQuery& query, std::vector<std::string>& streams,
                                                      http::ResponseWriter& writer);
  void HandleStream(const http::Request& request, http::ResponseWriter& writer, std::vector<std::string> routes,
                    http::AsyncResponseWriter* async, Endpoint endpoint = Endpoint::kEvents);
  // A client without start_from/from_time/to_time: straight to the hub.
  void HandleLive(live::LiveHub& hub, audit::ReplayQuery query, http::ResponseWriter& writer,
                  http::AsyncResponseWriter& async, Endpoint endpoint);
  // The replay's next Kafka offset per partition when every chain of `positions` is read to its head
  // in `heads` and belongs to the hub's topics; nullopt otherwise.
  std::optional<std::map<kafka::TopicPartition, std::int64_t>> LiveEdge(const live::LiveHub& hub,
                                                                        const audit::Positions& positions,
                                                                        const std::vector<mongo::ChainHead>& heads) const;
  void HandleList(const http::Request& request, http::ResponseWriter& writer);
  void HandleEvent(const http::Request& request, http::ResponseWriter& writer);
  void HandleSources(const http::Request& request, http::ResponseWriter& writer);
  std::vector<mongo::ChainHead> Heads(const audit::HeadWatcher::Snapshot& snapshot) const;

  mongo::AuditStore& store_;
  ReplayApiOptions options_;
  std::unique_ptr<Metrics> metrics_;
  audit::StoreLogSource log_;
  audit::HeadWatcher watcher_;
  live::LiveHub* hub_ = nullptr;
  live::LiveHub* chain_hub_ = nullptr;
  std::atomic<std::size_t> streams_{0};
};

}  // namespace ces::api
