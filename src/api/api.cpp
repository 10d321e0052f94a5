#include "ces/api/api.hpp"

#include <algorithm>

#include "ces/api/completeness_api.hpp"
#include "ces/api/docs_api.hpp"
#include "ces/api/replay_api.hpp"
#include "ces/api/rest_api.hpp"
#include "ces/api/sidecar_api.hpp"
#include "ces/common/metrics.hpp"
#include "ces/common/status.hpp"
#include "ces/http/async_server.hpp"
#include "ces/live/hub.hpp"
#include "ces/mongo/audit_store.hpp"
#include "ces/query/pool.hpp"

namespace ces::api {

// Declared in the order the components depend on each other: destroyed the other way round.
struct Api::Impl {
  explicit Impl(metrics::Registry& r) : registry(r) {}
  metrics::Registry& registry;
  std::unique_ptr<mongo::AuditStore> store;
  std::unique_ptr<query::Pool> pool;  // the one PostgreSQL pool: REST and sidecar routes (outlives both)
  std::unique_ptr<live::LiveHub> hub;
  std::unique_ptr<live::LiveHub> chain_hub;
  std::unique_ptr<ReplayApi> replay;
  std::unique_ptr<RestApi> rest;
  std::unique_ptr<SidecarApi> sidecar;
  std::unique_ptr<CompletenessApi> completeness;
  std::unique_ptr<DocsApi> docs;
};

Api::Api(const ApiOptions& options, metrics::Registry& registry) : impl_(std::make_unique<Impl>(registry)) {
  Impl& c = *impl_;
  if (!options.kafka.empty()) {
    live::LiveHubOptions o;
    o.kafka_bootstrap = options.kafka;
    o.topic_prefix = options.topic_prefix;
    o.kafka_settings = options.kafka_settings;
    o.keepalive = options.keepalive;
    o.max_subscribers = options.max_subscribers;
    o.subscriber_buffer_bytes = options.subscriber_buffer_bytes;
    o.ring_bytes = options.live_ring_bytes;
    o.fanout_threads = options.fanout_threads;
    c.hub = std::make_unique<live::LiveHub>(o, registry);
    if (options.chain_events) {
      o.chain = true;
      c.chain_hub = std::make_unique<live::LiveHub>(o, registry);
    }
  }
  if (!options.mongo.empty()) {
    mongo::StoreOptions so;
    so.uri = options.mongo;
    so.app_name = "casper-event-store api";
    c.store = std::make_unique<mongo::AuditStore>(so);
    ReplayApiOptions o;
    o.max_streams = options.max_streams;
    o.default_page_size = options.page_size;
    o.max_page_size = options.max_page_size;
    o.keepalive = options.keepalive;
    o.poll_interval = options.poll_interval;
    o.cache_bytes = options.cache_bytes;
    o.topic_prefix = options.topic_prefix;
    // With a live hub the replay hands over to it, so it serves the hub's pipeline only.
    o.all_prefixes = !options.topic_prefix_set && !c.hub;
    o.chain_events = options.chain_events;
    c.replay = std::make_unique<ReplayApi>(*c.store, o, registry, c.hub.get(), c.chain_hub.get());
  }
  if (!options.postgres.empty()) {
    RestApiOptions o;
    o.postgres = options.postgres;
    o.postgres_read = options.postgres_read;
    o.pool_size = options.pg_pool_size;
    o.pool_timeout = options.pg_pool_timeout;
    o.default_page_size = options.rest_page_size;
    o.max_page_size = options.rest_max_page_size;
    c.pool = std::make_unique<query::Pool>(RestApi::PoolOptionsFor(o), &registry);  // connects lazily
    c.rest = std::make_unique<RestApi>(o, registry, c.pool.get());
    c.completeness = std::make_unique<CompletenessApi>(*c.pool, options.kafka, options.kafka_settings, options.topic_prefix);
    if (c.store) {
      SidecarApiOptions so;
      so.network_name = options.network_name;
      c.sidecar = std::make_unique<SidecarApi>(so, *c.pool, *c.store, registry);
    }
  }
  DocsApiOptions d;
  d.swagger_ui_dir = options.swagger_ui_dir;
  c.docs = std::make_unique<DocsApi>(d);
}

Api::~Api() = default;

void Api::Register(http::AsyncServer& server) {
  Impl& c = *impl_;
  http::AddObservabilityRoutes(server, c.registry, [this](std::string& reason) { return Ready(reason); });
  if (c.replay) c.replay->Register(server);
  if (c.rest) c.rest->Register(server);
  if (c.completeness) c.completeness->Register(server);
  if (c.sidecar) {
    c.sidecar->Register(server);
    // casper-sidecar answers any other path of its REST server (its root included) with its 400.
    server.SetNotFound([](const http::Request& request, http::AsyncResponseWriter& writer) {
      static constexpr std::string_view kSidecarRoots[] = {"block", "transaction", "faults", "signatures",
                                                           "step",  "status",      "deploy"};
      const std::string_view path = request.path;
      const std::string_view first = path.substr(1, path.find('/', 1) == std::string_view::npos
                                                        ? std::string_view::npos
                                                        : path.find('/', 1) - 1);
      if (path == "/" || std::find(std::begin(kSidecarRoots), std::end(kSidecarRoots), first) != std::end(kSidecarRoots)) {
        const SidecarReply reply = SidecarApi::InvalidPath();
        writer.Send(reply.status, "application/json", reply.body);
      } else {
        writer.Send(404, "application/json", common::ErrorJson(404, "no such path: " + request.path));
      }
    });
  }
  c.docs->Register(server);
}

void Api::Start() {
  Impl& c = *impl_;
  if (c.hub) c.hub->Start();
  if (c.chain_hub) c.chain_hub->Start();
  if (c.replay) c.replay->Start();
  if (c.rest) c.rest->Start();
  if (c.sidecar) c.sidecar->Start();
}

void Api::Stop() {
  Impl& c = *impl_;
  if (c.hub) c.hub->Stop();
  if (c.chain_hub) c.chain_hub->Stop();
  if (c.replay) c.replay->Stop();
  if (c.sidecar) c.sidecar->Stop();
  if (c.rest) c.rest->Stop();
  if (c.pool) c.pool->Close();
}

bool Api::Ready(std::string& reason) {
  Impl& c = *impl_;
  if (c.rest && !c.rest->Ready(reason)) return false;
  if (c.replay && !c.replay->Ready(reason)) return false;
  if (c.sidecar && !c.sidecar->Ready(reason)) return false;
  if (c.hub && !c.hub->Ready(reason)) return false;
  if (c.chain_hub && !c.chain_hub->Ready(reason)) return false;
  return true;
}

mongo::AuditStore* Api::store() const { return impl_->store.get(); }
live::LiveHub* Api::hub() const { return impl_->hub.get(); }
live::LiveHub* Api::chain_hub() const { return impl_->chain_hub.get(); }
ReplayApi* Api::replay() const { return impl_->replay.get(); }
RestApi* Api::rest() const { return impl_->rest.get(); }
SidecarApi* Api::sidecar() const { return impl_->sidecar.get(); }
DocsApi& Api::docs() const { return *impl_->docs; }

std::vector<std::string> ApiRouteList(ApiOptions options) {
  if (options.mongo.empty()) options.mongo = "mongodb://127.0.0.1:1/list";
  if (options.postgres.empty()) options.postgres = "postgresql://127.0.0.1:1/list";
  if (options.kafka.empty()) options.kafka = "127.0.0.1:1";
  metrics::Registry registry;
  Api api(options, registry);
  http::AsyncServer server(http::AsyncServerOptions{});
  api.Register(server);
  std::vector<std::string> out;
  for (const auto& route : server.Routes()) out.push_back(route.method + " " + route.pattern);
  return out;
}

}  // namespace ces::api
