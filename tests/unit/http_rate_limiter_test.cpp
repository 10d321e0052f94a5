// The async server's per-client rate limit (src/http/rate_limiter.hpp) on its own, on a clock the
// test moves: bursts of twice the rate, refill, Retry-After, clients apart, and the sweep.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "rate_limiter.hpp"

namespace ces::http::detail {
namespace {

using namespace std::chrono_literals;
using Clock = RateLimiter::Clock;

TEST(RateLimiter, BurstOfTwiceTheRateThenRetryAfter) {
  const Clock::time_point t0{};
  RateLimiter limiter(2.0, t0);  // 2/s, bursts of 4
  int retry_after = 0;
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(limiter.Allow("a", t0, &retry_after)) << i;
  EXPECT_FALSE(limiter.Allow("a", t0, &retry_after));
  EXPECT_EQ(retry_after, 1);  // half a second to the next token, rounded up to whole seconds
  EXPECT_TRUE(limiter.Allow("b", t0, &retry_after));  // every client has its own bucket
  EXPECT_EQ(limiter.Clients(), 2u);
}

TEST(RateLimiter, TokensComeBackAtTheRate) {
  const Clock::time_point t0{};
  RateLimiter limiter(2.0, t0);
  int retry_after = 0;
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(limiter.Allow("a", t0, &retry_after));
  EXPECT_FALSE(limiter.Allow("a", t0 + 100ms, &retry_after));
  EXPECT_TRUE(limiter.Allow("a", t0 + 600ms, &retry_after));  // 0.2 + 0.5 * 2 tokens: one
  EXPECT_FALSE(limiter.Allow("a", t0 + 600ms, &retry_after));
  // Never more than the burst, however long the client was quiet.
  const auto later = t0 + 1h;
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(limiter.Allow("a", later, &retry_after)) << i;
  EXPECT_FALSE(limiter.Allow("a", later, &retry_after));
}

TEST(RateLimiter, RetryAfterCountsWholeSeconds) {
  const Clock::time_point t0{};
  RateLimiter limiter(0.25, t0);  // one request per 4 s, bursts of 1
  int retry_after = 0;
  EXPECT_TRUE(limiter.Allow("a", t0, &retry_after));
  EXPECT_FALSE(limiter.Allow("a", t0, &retry_after));
  EXPECT_EQ(retry_after, 4);
  EXPECT_FALSE(limiter.Allow("a", t0 + 3s, &retry_after));
  EXPECT_EQ(retry_after, 1);
  EXPECT_TRUE(limiter.Allow("a", t0 + 4s, &retry_after));
}

TEST(RateLimiter, SweepForgetsClientsWhoseBucketIsFullAgain) {
  const Clock::time_point t0{};
  RateLimiter limiter(1.0, t0);  // full again 2 s after the last request (+1 s of margin)
  int retry_after = 0;
  ASSERT_TRUE(limiter.Allow("old", t0, &retry_after));
  ASSERT_TRUE(limiter.Allow("recent", t0 + 9s, &retry_after));
  limiter.Sweep(t0 + 10s);  // not yet 10 s since the limiter started: nothing happens
  EXPECT_EQ(limiter.Clients(), 2u);
  limiter.Sweep(t0 + 11s);
  EXPECT_EQ(limiter.Clients(), 1u);  // "old" is gone, "recent" (2 s ago) stays
  limiter.Sweep(t0 + 15s);           // within 10 s of the last sweep: skipped
  EXPECT_EQ(limiter.Clients(), 1u);
  limiter.Sweep(t0 + 22s);
  EXPECT_EQ(limiter.Clients(), 0u);
}

}  // namespace
}  // namespace ces::http::detail
