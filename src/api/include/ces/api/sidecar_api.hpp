#pragma once
// The casper-sidecar compatible lookups of `api` (docs/api-sidecar.md), so sidecar clients can switch:
//   GET /block                                   the block of the greatest height
//   GET /block/{block_hash_or_height}
//   GET /transaction/{deploy|version1}/{hash}    {transaction_hash, transaction_accepted,
//                                                 transaction_processed, transaction_expired}
//   GET /transaction/{accepted|processed|expired}/{deploy|version1}/{hash}   (type case-insensitive)
//   GET /faults/{public_key_or_era}              array
//   GET /signatures/{block_hash}                 array
//   GET /step/{era}
//   GET /status                                  {"version":…}
//   GET /deploy/{hash}, /deploy/{accepted|processed|expired}/{hash}   the 1.x sidecar's raw bodies
// Each event is the sidecar's envelope {"header":{"api_version","network_name"},"payload":…} around
// the node's event body as the node sent it (the bytes under the event-type key), in the sidecar's
// shape (a TransactionAccepted under "transaction", a Step's effects under "execution_effect").
// Errors are the sidecar's: 400 "Invalid request path provided", 404 "Query returned no results",
// 500 "Unhandled error occurred in storage: …".
//
// PostgreSQL (docs/schema.md) is the index: it finds the identity (source, stream, event id) of the
// event a row came from (migration 2); the audit store (docs/audit.md) holds the node's bytes.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "ces/http/async_server.hpp"
#include "ces/mongo/audit_store.hpp"

namespace ces::metrics {
class Registry;
}
namespace ces::query {
class Pool;
}

namespace ces::api {

struct SidecarApiOptions {
  // header.network_name of every envelope; empty: the node's chainspec name, learned from the chain
  // name its accepted transactions carry (docs/api-sidecar.md).
  std::string network_name;
  std::size_t postgres_connections = 4;   // pool size when the routes have a pool of their own (URI constructor)
  std::size_t cache_bytes = 32u * 1024u * 1024u;  // replay-log links cached for lookups (FerretDB)
  std::chrono::milliseconds heads_interval{1000};  // polls of the replay log's chain heads (FerretDB)
  std::size_t body_cache_bytes = 64u * 1024u * 1024u;  // event bodies already served (immutable)
};

// A response: status and JSON body (an error is {"code":…,"message":…}).
struct SidecarReply {
  int status = 200;
  std::string body;
  http::Headers headers;  // ETag and Cache-Control of immutable answers (a block by hash)
};

class SidecarApi {
 public:
  // `pool`: the process's PostgreSQL pool of the model's database (the api shares one with the REST
  // routes; it outlives this object and is closed by its owner). Nothing connects before Start().
  SidecarApi(SidecarApiOptions options, query::Pool& pool, mongo::AuditStore& store, metrics::Registry& registry);
  // With a pool of its own (postgres_connections) on `postgres_uri` (libpq URI or key=value).
  SidecarApi(SidecarApiOptions options, std::string postgres_uri, mongo::AuditStore& store,
             metrics::Registry& registry);
  ~SidecarApi();
  SidecarApi(const SidecarApi&) = delete;
  SidecarApi& operator=(const SidecarApi&) = delete;

  // Adds the routes above (no I/O). Defined below: binding only, every answer comes from the methods.
  void Register(http::AsyncServer& server);
  // Connects to PostgreSQL and detects the audit store's server kind; failures are logged, not thrown
  // (each request reconnects; Ready() says whether the backends answer).
  void Start();
  void Stop();
  bool Ready(std::string& reason);

  // The routes' answers, callable without a server (each blocks on PostgreSQL and the audit store).
  SidecarReply LatestBlock();
  SidecarReply Block(std::string_view hash_or_height);
  // `type`: "deploy" | "version1", in any case.
  SidecarReply Transaction(std::string_view type, std::string_view hash);
  // `event`: "accepted" | "processed" | "expired".
  SidecarReply TransactionEvent(std::string_view event, std::string_view type, std::string_view hash);
  // The 1.x sidecar: {deploy_hash, deploy_accepted, deploy_processed, deploy_expired} and the events'
  // bodies without envelope, in their 1.x form.
  SidecarReply Deploy(std::string_view hash);
  SidecarReply DeployEvent(std::string_view event, std::string_view hash);
  // {"version":"<casper-event-store version>"}
  static SidecarReply Status();
  // 400 "Invalid request path provided": for paths under the sidecar's routes that match none.
  static SidecarReply InvalidPath();
  SidecarReply Faults(std::string_view public_key_or_era);
  SidecarReply Signatures(std::string_view block_hash);
  SidecarReply Step(std::string_view era);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

inline void SidecarApi::Register(http::AsyncServer& server) {
  auto send = [](http::AsyncResponseWriter& writer, const SidecarReply& reply) {
    writer.Send(reply.status, "application/json", reply.body, reply.headers);
  };
  auto param = [](const http::Request& request, std::string_view key) -> std::string_view {
    const std::string* value = request.Param(key);
    return value ? std::string_view(*value) : std::string_view();
  };
  using W = http::AsyncResponseWriter;
  server.Route("GET", "/block", [this, send](const http::Request&, W& w) { send(w, LatestBlock()); });
  server.Route("GET", "/block/{block_id}", [this, send, param](const http::Request& r, W& w) {
    send(w, Block(param(r, "block_id")));
  });
  server.Route("GET", "/transaction/{type}/{hash}", [this, send, param](const http::Request& r, W& w) {
    send(w, Transaction(param(r, "type"), param(r, "hash")));
  });
  for (const char* event : {"accepted", "processed", "expired"}) {
    server.Route("GET", std::string("/transaction/") + event + "/{type}/{hash}",
                 [this, send, param, event](const http::Request& r, W& w) {
                   send(w, TransactionEvent(event, param(r, "type"), param(r, "hash")));
                 });
  }
  server.Route("GET", "/faults/{fault_id}", [this, send, param](const http::Request& r, W& w) {
    send(w, Faults(param(r, "fault_id")));
  });
  server.Route("GET", "/signatures/{block_hash}", [this, send, param](const http::Request& r, W& w) {
    send(w, Signatures(param(r, "block_hash")));
  });
  server.Route("GET", "/step/{era_id}", [this, send, param](const http::Request& r, W& w) {
    send(w, Step(param(r, "era_id")));
  });
  server.Route("GET", "/status", [send](const http::Request&, W& w) { send(w, Status()); });
  server.Route("GET", "/deploy/{hash}", [this, send, param](const http::Request& r, W& w) {
    send(w, Deploy(param(r, "hash")));
  });
  for (const char* event : {"accepted", "processed", "expired"}) {
    server.Route("GET", std::string("/deploy/") + event + "/{hash}", [this, send, param, event](const http::Request& r, W& w) {
      send(w, DeployEvent(event, param(r, "hash")));
    });
  }
}

}  // namespace ces::api
