#pragma once
// The flags of `api` (api.cpp) and running it with them (run.cpp).

#include <cstddef>
#include <string>
#include <vector>

#include "ces/api/api.hpp"

namespace ces::services {

struct ApiFlags {
  api::ApiOptions options;                  // the backends' flags in their own units
  std::vector<std::string> kafka_settings;  // KEY=VALUE, for options.kafka_settings
  double pg_pool_timeout_s = 2;
  double keepalive_s = 15;
  double poll_interval_s = 0.1;
  std::size_t cache_mb = 128;
  std::size_t subscriber_buffer_kb = 4096;
  std::size_t live_ring_kb = 2048;
  // the HTTP server
  std::string listen = "127.0.0.1:8080";
  std::vector<std::string> cors_origins = {"*"};  // open for GET from any origin, as casper-sidecar
  unsigned io_threads = 2;
  unsigned workers = 16;
  std::size_t max_queue = 4096;
  double rate_limit = 0;
  double drain_s = 5;
  bool list_routes = false;
  std::string log_level = "info";
};

// Serves until SIGTERM/SIGINT (or prints the routes with --list-routes). Returns the exit status;
// throws std::invalid_argument on bad flags.
int RunApi(const ApiFlags& flags);

}  // namespace ces::services
