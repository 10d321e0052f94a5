// ces::backoff: capped doubling, jitter bounds, reset.
#include "ces/common/backoff.hpp"

#include <gtest/gtest.h>

namespace ces::backoff {
namespace {

TEST(CommonBackoff, DelayDoublesUpToTheCap) {
  EXPECT_EQ(Delay(milliseconds(100), milliseconds(1000), 0), milliseconds(100));
  EXPECT_EQ(Delay(milliseconds(100), milliseconds(1000), 1), milliseconds(200));
  EXPECT_EQ(Delay(milliseconds(100), milliseconds(1000), 3), milliseconds(800));
  EXPECT_EQ(Delay(milliseconds(100), milliseconds(1000), 4), milliseconds(1000));
  EXPECT_EQ(Delay(milliseconds(100), milliseconds(1000), 1 << 30), milliseconds(1000));
  EXPECT_EQ(Delay(milliseconds(5000), milliseconds(1000), 0), milliseconds(1000));
  EXPECT_EQ(Delay(milliseconds(0), milliseconds(1000), 10), milliseconds(0));
}

TEST(CommonBackoff, JitterStaysInItsRange) {
  EXPECT_EQ(Apply(milliseconds(1000), kNoJitter), milliseconds(1000));
  for (int i = 0; i < 1000; ++i) {
    const auto d = Apply(milliseconds(1000), kHalfJitter);
    EXPECT_GE(d, milliseconds(500));
    EXPECT_LE(d, milliseconds(1000));
  }
}

TEST(CommonBackoff, NextIsCappedAndResetStartsOver) {
  Backoff b(milliseconds(100), milliseconds(1000), {1.0, 1.25});
  for (int i = 0; i < 20; ++i) {
    const auto step = b.Step();
    const auto d = b.Next();
    EXPECT_GE(d, step);
    EXPECT_LE(d, milliseconds(1000));
    EXPECT_LE(d, step * 5 / 4 + milliseconds(1));
  }
  EXPECT_EQ(b.Attempts(), 20);
  EXPECT_EQ(b.Step(), milliseconds(1000));
  b.Reset();
  EXPECT_EQ(b.Attempts(), 0);
  EXPECT_EQ(b.Step(), milliseconds(100));
  Backoff plain(milliseconds(10), milliseconds(30));
  EXPECT_EQ(plain.Next(), milliseconds(10));
  EXPECT_EQ(plain.Next(), milliseconds(20));
  EXPECT_EQ(plain.Next(), milliseconds(30));
  EXPECT_EQ(plain.Next(), milliseconds(30));
}

}  // namespace
}  // namespace ces::backoff
