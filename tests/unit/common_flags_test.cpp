// ces::flags: KEY=VALUE items of repeatable flags.
#include "ces/common/flags.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace ces::flags {
namespace {

TEST(CommonFlags, KeyValuesLastOneWins) {
  const auto m = ParseKeyValues("--kafka-setting", {"a=1", "b=x=y", "c=", "a=2"});
  EXPECT_EQ(m.size(), 3u);
  EXPECT_EQ(m.at("a"), "2");
  EXPECT_EQ(m.at("b"), "x=y");
  EXPECT_EQ(m.at("c"), "");
  EXPECT_TRUE(ParseKeyValues("--kafka-setting", {}).empty());
}

TEST(CommonFlags, KeyValuesWithoutKeyOrEqualsAreRefused) {
  EXPECT_THROW(ParseKeyValues("--kafka-setting", {"novalue"}), std::invalid_argument);
  EXPECT_THROW(ParseKeyValues("--kafka-setting", {"=value"}), std::invalid_argument);
  try {
    ParseKeyValues("--kafka-setting", {"ok=1", "broken"});
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "--kafka-setting expects KEY=VALUE, got broken");
  }
}

}  // namespace
}  // namespace ces::flags
