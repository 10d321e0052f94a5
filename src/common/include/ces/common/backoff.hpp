#pragma once
// Capped exponential backoff, with or without jitter: the one retry delay of the code base
// (docs/conventions.md, error policy 5: bounded in delay, unbounded in count).

#include <chrono>

namespace ces::backoff {

using std::chrono::milliseconds;

// A delay is multiplied by a uniform random factor in [low, high]; {1, 1} is no jitter.
struct Jitter {
  double low = 1.0;
  double high = 1.0;
};
inline constexpr Jitter kNoJitter{1.0, 1.0};
// Reconnects of many clients to one server: spread over the lower half (full delay at most).
inline constexpr Jitter kHalfJitter{0.5, 1.0};

// initial * 2^attempt, at most `max` (attempt 0: initial). Never overflows.
milliseconds Delay(milliseconds initial, milliseconds max, int attempt);
// `d` times a random factor of `jitter` (a generator per thread).
milliseconds Apply(milliseconds d, Jitter jitter);

// The delays of one retry loop: Next() is the current step with jitter (at most max), and doubles the
// step; Reset() after a success.
class Backoff {
 public:
  Backoff(milliseconds initial, milliseconds max, Jitter jitter = kNoJitter)
      : initial_(initial), max_(max), jitter_(jitter) {}
  milliseconds Next();
  void Reset() { attempts_ = 0; }
  // The step Next() will use, before jitter.
  milliseconds Step() const { return Delay(initial_, max_, attempts_); }
  // Next() calls since the last Reset() (counted up to kMaxCountedAttempts).
  int Attempts() const { return attempts_; }
  static constexpr int kMaxCountedAttempts = 1 << 20;

 private:
  milliseconds initial_, max_;
  Jitter jitter_;
  int attempts_ = 0;
};

}  // namespace ces::backoff
