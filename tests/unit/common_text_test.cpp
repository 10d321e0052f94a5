// ces::text: hex digits and ASCII lower-casing.
#include "ces/common/text.hpp"

#include <gtest/gtest.h>

namespace ces::text {
namespace {

TEST(CommonText, HexDigits) {
  EXPECT_TRUE(IsHexDigit('0'));
  EXPECT_TRUE(IsHexDigit('f'));
  EXPECT_TRUE(IsHexDigit('F'));
  EXPECT_FALSE(IsHexDigit('g'));
  EXPECT_FALSE(IsHexDigit(' '));
  EXPECT_FALSE(IsHexDigit('\xe9'));
  EXPECT_EQ(HexDigitValue('7'), 7);
  EXPECT_EQ(HexDigitValue('a'), 10);
  EXPECT_EQ(HexDigitValue('F'), 15);
  EXPECT_EQ(HexDigitValue('x'), -1);
}

TEST(CommonText, HexStrings) {
  EXPECT_TRUE(IsHex(""));
  EXPECT_TRUE(IsHex("0123456789abcdefABCDEF"));
  EXPECT_FALSE(IsHex("01x"));
  EXPECT_TRUE(IsHexOfLength(std::string(64, 'a'), 64));
  EXPECT_FALSE(IsHexOfLength(std::string(63, 'a'), 64));
  EXPECT_FALSE(IsHexOfLength(std::string(63, 'a') + "z", 64));
}

TEST(CommonText, ToLowerTouchesOnlyAsciiLetters) {
  EXPECT_EQ(ToLower("AbC0-XYZ"), "abc0-xyz");
  EXPECT_EQ(ToLower("\xc3\x89t\xc3\xa9"), "\xc3\x89t\xc3\xa9");
  EXPECT_EQ(ToLower(""), "");
}

}  // namespace
}  // namespace ces::text
