// ces::json: JSON string literals over the logger's escaper.
#include "ces/common/json.hpp"

#include <gtest/gtest.h>

namespace ces::json {
namespace {

TEST(CommonJson, AppendStringQuotesAndEscapes) {
  std::string out = "x:";
  AppendString(out, "a\"b\\c\n\x01");
  EXPECT_EQ(out, "x:\"a\\\"b\\\\c\\n\\u0001\"");
  out.clear();
  AppendString(out, "");
  EXPECT_EQ(out, "\"\"");
  out.clear();
  AppendString(out, "\xc3\xa9");
  EXPECT_EQ(out, "\"\xc3\xa9\"");
}

}  // namespace
}  // namespace ces::json
