#pragma once
// Private to ces::http: the per-client rate limit of the async server (a token bucket per client
// address: `rate` requests/s, bursts of twice that).

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace ces::http::detail {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RateLimiter(double rate, Clock::time_point now = Clock::now()) : rate_(rate), last_sweep_(now) {}

  // Takes a token of `client` at `now`. False when it has none: then `retry_after` is the whole seconds
  // (at least 1) until it has one again. Thread-safe.
  bool Allow(const std::string& client, Clock::time_point now, int* retry_after);
  // At most every 10 s: forgets the clients whose bucket is full again (as good as new). Called from
  // one thread at a time (the server's sweep timer).
  void Sweep(Clock::time_point now);
  // Clients with a bucket.
  std::size_t Clients() const;

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point last;
  };
  const double rate_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
  Clock::time_point last_sweep_;
};

}  // namespace ces::http::detail
