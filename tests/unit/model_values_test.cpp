// ces::model scalar validation (what the parser lets through must never make PostgreSQL refuse a row).
#include "ces/model/values.hpp"

#include <gtest/gtest.h>

namespace ces::model {
namespace {

TEST(ModelValues, Hashes) {
  EXPECT_TRUE(IsHash("5a91486c973deea304e26138206723278d9d269f4fe03bfc9e5fdb93e927236e"));
  EXPECT_TRUE(IsHash("5A91486C973DEEA304E26138206723278D9D269F4FE03BFC9E5FDB93E927236E"));
  EXPECT_FALSE(IsHash("5a91486c973deea304e26138206723278d9d269f4fe03bfc9e5fdb93e927236"));
  EXPECT_FALSE(IsHash("5a91486c973deea304e26138206723278d9d269f4fe03bfc9e5fdb93e927236g"));
  EXPECT_FALSE(IsHash(""));
}

TEST(ModelValues, PublicKeysAndSignatures) {
  EXPECT_TRUE(IsPublicKey("017d96b9a63abcb61c870a4f55187a0a7ac24096bdb5fc585c12a686a4d892009e"));
  EXPECT_TRUE(IsPublicKey("02034ce1acbceeb5eb2b20eeeef9965e3ca8e7a95655f2089342bcbb51319a0d70d1"));
  EXPECT_TRUE(IsPublicKey("00"));
  EXPECT_FALSE(IsPublicKey("037d96b9a63abcb61c870a4f55187a0a7ac24096bdb5fc585c12a686a4d892009e"));
  EXPECT_FALSE(IsPublicKey("017d96b9a63abcb61c870a4f55187a0a7ac24096bdb5fc585c12a686a4d892009e00"));
  EXPECT_TRUE(IsSignature("01" + std::string(128, 'a')));
  EXPECT_FALSE(IsSignature("01" + std::string(127, 'a')));
}

TEST(ModelValues, KeysAndURefs) {
  EXPECT_TRUE(IsURef("uref-b06a1ab0cfb52b5d4f9a08b68a5dbe78e999de0b0484c03e64f5c03897cf637b-007"));
  EXPECT_FALSE(IsURef("uref-b06a1ab0cfb52b5d4f9a08b68a5dbe78e999de0b0484c03e64f5c03897cf637b-008"));
  EXPECT_FALSE(IsURef("hash-b06a1ab0cfb52b5d4f9a08b68a5dbe78e999de0b0484c03e64f5c03897cf637b-007"));
  EXPECT_EQ(AccountHashHex("account-hash-B383c7cc23d18bc1b42406a1b2d29fc8dba86425197b6f553d7fd61375b5e446"),
            "b383c7cc23d18bc1b42406a1b2d29fc8dba86425197b6f553d7fd61375b5e446");
  EXPECT_FALSE(AccountHashHex("b383c7cc23d18bc1b42406a1b2d29fc8dba86425197b6f553d7fd61375b5e446").has_value());
  EXPECT_TRUE(IsKey("bid-addr-043bb47b19ea663fe884d9e474f6420c2fd681d3b60d18ace600067f9b8d8fd0867901000000000000"));
  EXPECT_TRUE(IsKey("era-363"));
  EXPECT_FALSE(IsKey("bid-'; drop table"));
  EXPECT_FALSE(IsKey(""));
}

TEST(ModelValues, DecimalsHoldU512) {
  EXPECT_TRUE(IsDecimal("0"));
  EXPECT_TRUE(IsDecimal(std::string(155, '9')));  // U512 max has 155 digits
  EXPECT_FALSE(IsDecimal(std::string(156, '9')));
  EXPECT_FALSE(IsDecimal("-1"));
  EXPECT_FALSE(IsDecimal("1.5"));
  EXPECT_FALSE(IsDecimal(""));
}

TEST(ModelValues, HumantimeTtl) {
  EXPECT_EQ(ParseTtlMillis("30m"), 1800000);
  EXPECT_EQ(ParseTtlMillis("5m"), 300000);
  EXPECT_EQ(ParseTtlMillis("1h 56m 52s 389ms"), ((1 * 60 + 56) * 60 + 52) * 1000 + 389);
  EXPECT_EQ(ParseTtlMillis("1day"), 86400000);
  EXPECT_EQ(ParseTtlMillis("2days 1h"), 2 * 86400000 + 3600000);
  EXPECT_EQ(ParseTtlMillis("1h30m"), 5400000);
  EXPECT_FALSE(ParseTtlMillis("").has_value());
  EXPECT_FALSE(ParseTtlMillis("30").has_value());
  EXPECT_FALSE(ParseTtlMillis("30 parsecs").has_value());
  EXPECT_FALSE(ParseTtlMillis("m").has_value());
}

}  // namespace
}  // namespace ces::model
