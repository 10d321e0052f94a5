#pragma once
// The replay endpoints of `api` (docs/api.md):
//   GET /events, /events/main, /events/deploys, /events/sigs   SSE replay, then live
//   GET /api/v1/events                                         JSON pages with a cursor
//   GET /api/v1/events/{source}/{stream}/{id}                  one payload, byte-exact
//   GET /api/v1/sources                                        the nodes and streams in the store

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "ces/audit/replay.hpp"
#include "ces/http/server.hpp"
#include "ces/mongo/audit_store.hpp"
#include "router.hpp"

namespace ces::metrics {
class Registry;
}

namespace ces::services::api {

struct ReplayApiOptions {
  std::size_t max_streams = 100;
  std::size_t default_page_size = 100;
  std::size_t max_page_size = 1000;
  std::chrono::milliseconds keepalive{15000};
  std::chrono::milliseconds poll_interval{100};
  std::size_t cache_bytes = 128u * 1024u * 1024u;
  std::string topic_prefix;  // serve only chains of topics with this prefix ("" and all_prefixes: any)
  bool all_prefixes = true;
};

class ReplayApi {
 public:
  ReplayApi(mongo::AuditStore& store, ReplayApiOptions options, metrics::Registry& registry);
  ~ReplayApi();
  ReplayApi(const ReplayApi&) = delete;
  ReplayApi& operator=(const ReplayApi&) = delete;

  void Register(http::Server& server, ApiRouter& router);
  // Starts the head watcher (the store may be down: it keeps polling).
  void Start();
  void Stop();
  bool Ready(std::string& reason) const;

 private:
  struct Metrics;
  void HandleStream(const http::Request& request, http::ResponseWriter& writer, std::vector<std::string> routes);
  void HandleList(const http::Request& request, http::ResponseWriter& writer);
  void HandleEvent(const http::Request& request, http::ResponseWriter& writer);
  void HandleSources(const http::Request& request, http::ResponseWriter& writer);
  // An event by identity through the replay log (FerretDB: no index-backed lookups).
  mongo::Result<std::optional<mongo::EventRecord>> FindInLog(const std::string& source, const std::string& stream,
                                                              std::uint32_t id);
  std::vector<mongo::ChainHead> Heads(const audit::HeadWatcher::Snapshot& snapshot) const;

  mongo::AuditStore& store_;
  ReplayApiOptions options_;
  std::unique_ptr<Metrics> metrics_;
  audit::StoreLogSource log_;
  audit::HeadWatcher watcher_;
  std::atomic<std::size_t> streams_{0};
};

}  // namespace ces::services::api
