// log::AppendJsonEscaped: the escapes, well-formed UTF-8 kept, anything else replaced so the output is
// always valid JSON (error messages echo client input, percent-decoded bytes included).
#include <gtest/gtest.h>

#include <string>

#include "ces/common/log.hpp"

namespace ces::log {
namespace {

std::string Escaped(std::string_view text) {
  std::string out;
  AppendJsonEscaped(out, text);
  return out;
}

TEST(AppendJsonEscaped, EscapesAndUtf8) {
  EXPECT_EQ(Escaped("a\"b\\c\nd\re\tf\x01"), "a\\\"b\\\\c\\nd\\re\\tf\\u0001");
  EXPECT_EQ(Escaped("\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"), "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf");
}

TEST(AppendJsonEscaped, InvalidBytesBecomeReplacementCharacters) {
  EXPECT_EQ(Escaped("\xff\xfe"), "\\ufffd\\ufffd");
  EXPECT_EQ(Escaped("x\xc3"), "x\\ufffd");                // truncated
  EXPECT_EQ(Escaped("\xc3\x28"), "\\ufffd(");              // bad continuation
  EXPECT_EQ(Escaped("\xc0\xaf"), "\\ufffd\\ufffd");        // overlong
  EXPECT_EQ(Escaped("\xe0\x80\xaf"), "\\ufffd\\ufffd\\ufffd");  // overlong
  EXPECT_EQ(Escaped("\xed\xa0\x80"), "\\ufffd\\ufffd\\ufffd");  // surrogate
  EXPECT_EQ(Escaped("\xf4\x90\x80\x80"), "\\ufffd\\ufffd\\ufffd\\ufffd");  // above U+10FFFF
  EXPECT_EQ(Escaped("\xe2\x82"), "\\ufffd\\ufffd");
}

}  // namespace
}  // namespace ces::log
