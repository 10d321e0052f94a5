#include "ces/common/backoff.hpp"

#include <algorithm>
#include <random>

namespace ces::backoff {

milliseconds Delay(milliseconds initial, milliseconds max, int attempt) {
  milliseconds delay = std::min(initial, max);
  for (int i = 0; i < attempt && delay < max; ++i) delay = std::min(max, delay * 2);
  return delay;
}

milliseconds Apply(milliseconds d, Jitter jitter) {
  if (jitter.low == 1.0 && jitter.high == 1.0) return d;
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> factor(jitter.low, jitter.high);
  return milliseconds(static_cast<long long>(static_cast<double>(d.count()) * factor(rng)));
}

milliseconds Backoff::Next() {
  const milliseconds delay = std::min(Apply(Step(), jitter_), max_);
  if (attempts_ < kMaxCountedAttempts) ++attempts_;
  return delay;
}

}  // namespace ces::backoff
