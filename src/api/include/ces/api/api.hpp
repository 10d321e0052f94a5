#pragma once
// The query API put together (docs/api.md): the components of each backend it is given and every
// route they serve, so that `api` and the tests build the same thing.
//   postgres        REST over the model (RestApi) and, with mongo, the sidecar lookups (SidecarApi),
//                   on one PostgreSQL pool
//   mongo           replay of the audit store (ReplayApi), handed over to the live hub when there is one
//   kafka           live SSE fan-out (live::LiveHub)
//   always          the documentation (DocsApi) and /healthz, /readyz, /metrics

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "ces/kafka/client.hpp"

namespace ces::http {
class AsyncServer;
}
namespace ces::live {
class LiveHub;
}
namespace ces::metrics {
class Registry;
}
namespace ces::mongo {
class AuditStore;
}

namespace ces::api {

class DocsApi;
class ReplayApi;
class RestApi;
class SidecarApi;

struct ApiOptions {
  // The backends: an empty one is not served.
  std::string postgres;       // the model's database (libpq URI)
  std::string postgres_read;  // optional read replica(s) the REST and sidecar queries go to
  std::string mongo;          // the audit store (MongoDB connection string)
  std::string kafka;          // bootstrap servers
  std::string topic_prefix;
  // Without an explicit prefix (and without kafka) the replay serves every pipeline in the store.
  bool topic_prefix_set = false;
  kafka::Settings kafka_settings;  // the live hub's consumer
  // What /events serves without a `source` parameter: the chain sequence (true: every distinct event
  // once, ids = chain ids, written by the chain stage) or, as before the chain stage, the node streams
  // as stored (false).
  bool chain_events = true;
  std::string network_name;   // sidecar envelopes; empty: learned from the nodes' events
  std::string swagger_ui_dir;  // empty: DefaultSwaggerUiDir()
  // PostgreSQL pool and REST pages
  std::size_t pg_pool_size = 8;
  std::chrono::milliseconds pg_pool_timeout{2000};
  std::size_t rest_page_size = 10;
  std::size_t rest_max_page_size = 1000;
  // replay
  std::size_t max_streams = 100;
  std::size_t page_size = 100;
  std::size_t max_page_size = 1000;
  std::chrono::milliseconds poll_interval{100};
  std::size_t cache_bytes = 128u * 1024u * 1024u;
  // live (keepalive also for replay streams)
  std::size_t max_subscribers = 20000;
  std::size_t subscriber_buffer_bytes = 4u * 1024u * 1024u;
  std::size_t live_ring_bytes = 2u * 1024u * 1024u;  // recent records a replay hands over to live from
  std::size_t fanout_threads = 2;
  std::chrono::milliseconds keepalive{15000};
};

class Api {
 public:
  // Builds the components of the backends given; nothing connects before Start(). Throws
  // std::invalid_argument on bad options.
  Api(const ApiOptions& options, metrics::Registry& registry);
  ~Api();
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  // Every route: /healthz, /readyz (Ready()), /metrics (the registry), then the backends' routes and
  // the documentation. No I/O; call before server.Start().
  void Register(http::AsyncServer& server);
  // Starts the live hub's consumer, the replay's head watcher, the REST engine and the sidecar routes.
  void Start();
  // Stops them (after the server, which ends the streams) and closes the PostgreSQL pool.
  void Stop();
  // Whether every backend answers; `reason` says which does not.
  bool Ready(std::string& reason);

  // The components; null when their backend was not given.
  mongo::AuditStore* store() const;
  live::LiveHub* hub() const;        // the node streams (/events?source=, 1.x and sidecar paths)
  live::LiveHub* chain_hub() const;  // the chain sequence (/events)
  ReplayApi* replay() const;
  RestApi* rest() const;
  SidecarApi* sidecar() const;
  DocsApi& docs() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Every route Api::Register adds when all backends are given, "METHOD /pattern" (what
// `api --list-routes` prints). The backends `options` leaves empty get placeholder addresses: nothing
// connects.
std::vector<std::string> ApiRouteList(ApiOptions options = {});

}  // namespace ces::api
