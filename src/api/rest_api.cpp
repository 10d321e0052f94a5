#include "ces/api/rest_api.hpp"

#include <stdexcept>

#include "ces/common/metrics.hpp"
#include "ces/common/status.hpp"
#include "ces/http/async_server.hpp"
#include "ces/query/engine.hpp"
#include "ces/query/pool.hpp"

namespace ces::api {

RestApi::RestApi(RestApiOptions options, metrics::Registry& registry, query::Pool* pool)
    : options_(std::move(options)), registry_(registry), pool_(pool) {}

query::PoolOptions RestApi::PoolOptionsFor(const RestApiOptions& options) {
  query::PoolOptions pool_options;
  pool_options.uri = options.postgres_read.empty() ? options.postgres : options.postgres_read;
  if (!options.postgres_read.empty()) pool_options.fallback_uri = options.postgres;  // no replica answers: the primary
  pool_options.size = options.pool_size;
  pool_options.acquire_timeout = options.pool_timeout;
  return pool_options;
}

RestApi::~RestApi() { Stop(); }

void RestApi::Register(http::AsyncServer& server) {
  for (const auto& route : query::Engine::Routes()) {
    server.Route("GET", route, [this, route](const http::Request& request, http::AsyncResponseWriter& writer) {
      if (!engine_) {
        writer.Send(503, "application/json", common::ErrorJson(503, "the REST API is not started"));
        return;
      }
      query::Args args{&request.params, &request.query};
      query::Response response = engine_->Handle(route, args);
      http::Headers headers;
      if (!response.etag.empty()) headers.emplace_back("ETag", response.etag);
      if (!response.cache_control.empty()) headers.emplace_back("Cache-Control", response.cache_control);
      if (!response.pending_eras.empty()) headers.emplace_back("X-Pending-Eras", response.pending_eras);
      writer.Send(response.status, "application/json", response.body, headers);
    });
  }
}

void RestApi::Start() {
  if (engine_) return;
  if (options_.postgres.empty() && options_.postgres_read.empty()) {
    throw std::invalid_argument("--postgres is required for the REST API");
  }
  if (!pool_) {
    owned_pool_ = std::make_unique<query::Pool>(PoolOptionsFor(options_), &registry_);
    pool_ = owned_pool_.get();
  }
  query::EngineOptions engine_options;
  engine_options.default_page_size = options_.default_page_size;
  engine_options.max_page_size = options_.max_page_size;
  engine_options.count_ttl = options_.count_ttl;
  if (options_.default_page_size == 0 || options_.default_page_size > options_.max_page_size) {
    throw std::invalid_argument("the default page size must be between 1 and the maximum page size");
  }
  engine_ = std::make_unique<query::Engine>(*pool_, engine_options, &registry_);
}

void RestApi::Stop() {
  if (owned_pool_) owned_pool_->Close();  // a shared pool is closed by its owner
}

bool RestApi::Ready(std::string& reason) const {
  if (!engine_) {
    reason = "the REST API is not started";
    return false;
  }
  auto lease = pool_->Acquire(&reason);
  if (!lease) return false;
  query::ResultSet rs;
  if (auto error = lease->Execute("SELECT 1", {}, rs)) {
    reason = "PostgreSQL: " + error.message;
    return false;
  }
  return true;
}

}  // namespace ces::api
