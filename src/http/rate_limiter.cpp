#include "rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace ces::http::detail {

bool RateLimiter::Allow(const std::string& client, Clock::time_point now, int* retry_after) {
  const double burst = std::max(1.0, rate_ * 2);
  std::lock_guard lock(mutex_);
  auto [it, inserted] = buckets_.try_emplace(client);
  Bucket& bucket = it->second;
  if (inserted) {
    bucket.tokens = burst;
  } else {
    bucket.tokens = std::min(burst, bucket.tokens + rate_ * std::chrono::duration<double>(now - bucket.last).count());
  }
  bucket.last = now;
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return true;
  }
  *retry_after = std::max(1, static_cast<int>(std::ceil((1 - bucket.tokens) / rate_)));
  return false;
}

void RateLimiter::Sweep(Clock::time_point now) {
  if (now - last_sweep_ <= std::chrono::seconds(10)) return;
  last_sweep_ = now;
  // A bucket untouched for longer than it takes to refill is the same as a new one.
  const double full_after = std::max(1.0, rate_ * 2) / rate_ + 1.0;
  std::lock_guard lock(mutex_);
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    if (std::chrono::duration<double>(now - it->second.last).count() > full_after) {
      it = buckets_.erase(it);
    } else {
      ++it;
    }
  }
}

std::size_t RateLimiter::Clients() const {
  std::lock_guard lock(mutex_);
  return buckets_.size();
}

}  // namespace ces::http::detail
