// Replay API parameters (validation naming the parameter, matching) and the JSON cursor.
#include <gtest/gtest.h>

#include "ces/audit/query.hpp"

namespace ces::audit {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

const std::string kHash = "5A91486C973DEEA304E26138206723278D9D269F4FE03BFC9E5FDB93E927236E";
const std::string kHashLower = "5a91486c973deea304e26138206723278d9d269f4fe03bfc9e5fdb93e927236e";
const std::string kKey = "017d96b9a63abcb61c870a4f55187a0a7ac24096bdb5fc585c12a686a4d892009e";

ReplayQuery Parse(const Params& params, QueryKind kind = QueryKind::kStream) {
  auto parsed = ParseReplayQuery(params, kind, {});
  EXPECT_TRUE(parsed.query.has_value()) << parsed.error.parameter << ": " << parsed.error.message;
  return parsed.query.value_or(ReplayQuery{});
}

QueryError Error(const Params& params, QueryKind kind = QueryKind::kStream) {
  auto parsed = ParseReplayQuery(params, kind, {}, QueryLimits{100, 500});
  EXPECT_FALSE(parsed.query.has_value());
  return parsed.error;
}

TEST(AuditQuery, ParsesEveryFilter) {
  const ReplayQuery q = Parse({{"source", "http://b:9999"},
                               {"source", "http://a:9999"},
                               {"type", "BlockAdded"},
                               {"type", "FinalitySignature"},
                               {"type", "BlockAdded"},
                               {"from_time", "2024-06-12T09:26:25.460Z"},
                               {"to_time", "2024-06-12T10:00:00Z"},
                               {"block_hash", kHash},
                               {"block_height", "18446744073709551615"},
                               {"deploy_hash", kHash},
                               {"public_key", kKey},
                               {"account", "account-hash-" + kHash},
                               {"max_events", "7"}});
  EXPECT_EQ(q.sources, (std::vector<std::string>{"http://a:9999", "http://b:9999"}));
  EXPECT_EQ(q.types, (std::vector<std::string>{"BlockAdded", "FinalitySignature"}));
  EXPECT_EQ(q.from_ms, 1718184385460);
  EXPECT_EQ(q.to_ms, 1718186400000);
  EXPECT_EQ(q.block_hash, kHashLower);
  EXPECT_EQ(q.block_height, 18446744073709551615ull);
  EXPECT_EQ(q.transaction_hash, kHashLower);
  EXPECT_EQ(q.public_key, kKey);
  EXPECT_EQ(q.account, "account-hash-" + kHashLower);
  EXPECT_EQ(q.max_events, 7u);
}

TEST(AuditQuery, ErrorsNameTheParameter) {
  EXPECT_EQ(Error({{"foo", "1"}}).parameter, "foo");
  EXPECT_EQ(Error({{"start_from", "-1"}}).parameter, "start_from");
  EXPECT_EQ(Error({{"start_from", "4294967296"}}).parameter, "start_from");
  EXPECT_EQ(Error({{"start_from", "1"}, {"start_from", "2"}}).parameter, "start_from");
  EXPECT_EQ(Error({{"start_from", "1"}, {"source", "a"}, {"source", "b"}}).parameter, "start_from");
  EXPECT_EQ(Error({{"max_events", "0"}}).parameter, "max_events");
  EXPECT_EQ(Error({{"max_events", "x"}}).parameter, "max_events");
  EXPECT_EQ(Error({{"block_hash", "abc"}}).parameter, "block_hash");
  EXPECT_EQ(Error({{"transaction_hash", std::string(64, 'g')}}).parameter, "transaction_hash");
  EXPECT_EQ(Error({{"deploy_hash", kHash}, {"transaction_hash", std::string(64, 'a')}}).parameter, "transaction_hash");
  EXPECT_EQ(Error({{"block_height", "1.5"}}).parameter, "block_height");
  EXPECT_EQ(Error({{"public_key", "03" + std::string(64, 'a')}}).parameter, "public_key");
  EXPECT_EQ(Error({{"account", "account-hash-xyz"}}).parameter, "account");
  EXPECT_EQ(Error({{"from_time", "yesterday"}}).parameter, "from_time");
  EXPECT_EQ(Error({{"from_time", "2024-06-12T10:00:00Z"}, {"to_time", "2024-06-12T09:00:00Z"}}).parameter, "to_time");
  EXPECT_EQ(Error({{"type", "Block-Added"}}).parameter, "type");
  EXPECT_EQ(Error({{"source", ""}}).parameter, "source");
  EXPECT_EQ(Error({{"source", "http://a\xff:9999"}}).parameter, "source");  // not UTF-8
  // Stream-only and list-only parameters.
  EXPECT_EQ(Error({{"limit", "10"}}).parameter, "limit");
  EXPECT_EQ(Error({{"cursor", "x"}}).parameter, "cursor");
  EXPECT_EQ(Error({{"max_events", "10"}}, QueryKind::kList).parameter, "max_events");
  EXPECT_EQ(Error({{"limit", "501"}}, QueryKind::kList).parameter, "limit");
  EXPECT_EQ(Error({{"limit", "0"}}, QueryKind::kList).parameter, "limit");
  const QueryError e = Error({{"block_height", "tall"}});
  EXPECT_NE(e.message.find("block_height"), std::string::npos) << e.message;
}

TEST(AuditQuery, ListDefaultsAndLimits) {
  auto parsed = ParseReplayQuery({}, QueryKind::kList, {}, QueryLimits{25, 500});
  ASSERT_TRUE(parsed.query);
  EXPECT_EQ(parsed.query->limit, 25u);
  parsed = ParseReplayQuery({{"limit", "500"}, {"cursor", "abc"}}, QueryKind::kList, {}, QueryLimits{25, 500});
  ASSERT_TRUE(parsed.query);
  EXPECT_EQ(parsed.query->limit, 500u);
  EXPECT_EQ(parsed.query->cursor, "abc");
}

mongo::EventRecord Event() {
  mongo::EventRecord e;
  e.source = "http://a:9999";
  e.stream = "events";
  e.event_id = 10;
  e.type = "BlockAdded";
  e.received_ms = 1000;
  e.keys.block_hash = kHashLower;
  e.keys.block_height = 54;
  e.keys.public_key = kKey;
  return e;
}

TEST(AuditQuery, Matches) {
  const mongo::EventRecord e = Event();
  EXPECT_TRUE(Parse({}).Matches(e));
  EXPECT_TRUE(Parse({{"source", "http://a:9999"}, {"source", "http://b:9999"}}).Matches(e));
  EXPECT_FALSE(Parse({{"source", "http://b:9999"}}).Matches(e));
  EXPECT_TRUE(Parse({{"type", "Step"}, {"type", "BlockAdded"}}).Matches(e));
  EXPECT_FALSE(Parse({{"type", "Step"}}).Matches(e));
  EXPECT_TRUE(Parse({{"from_time", "1970-01-01T00:00:01Z"}, {"to_time", "1970-01-01T00:00:01Z"}}).Matches(e));
  EXPECT_FALSE(Parse({{"from_time", "1970-01-01T00:00:01.001Z"}}).Matches(e));
  EXPECT_FALSE(Parse({{"to_time", "1970-01-01T00:00:00.999Z"}}).Matches(e));
  EXPECT_TRUE(Parse({{"start_from", "10"}}).Matches(e));
  EXPECT_FALSE(Parse({{"start_from", "11"}}).Matches(e));
  EXPECT_TRUE(Parse({{"block_hash", kHash}, {"block_height", "54"}, {"public_key", kKey}}).Matches(e));
  EXPECT_FALSE(Parse({{"block_height", "55"}}).Matches(e));
  EXPECT_FALSE(Parse({{"transaction_hash", kHash}}).Matches(e));
  EXPECT_FALSE(Parse({{"account", kKey}}).Matches(e));
  mongo::EventRecord api = e;
  api.event_id.reset();
  EXPECT_FALSE(Parse({{"start_from", "0"}}).Matches(api));  // ApiVersion has no id
}

TEST(AuditQuery, OriginTellsNodeBytesFromReconstructions) {
  mongo::EventRecord node = Event();
  mongo::EventRecord rebuilt = Event();
  rebuilt.event_id.reset();
  rebuilt.origin = "rpc";
  EXPECT_TRUE(Parse({{"origin", "node"}}).Matches(node));
  EXPECT_FALSE(Parse({{"origin", "node"}}).Matches(rebuilt));
  EXPECT_TRUE(Parse({{"origin", "rpc"}}).Matches(rebuilt));
  EXPECT_FALSE(Parse({{"origin", "rpc"}}).Matches(node));
  EXPECT_TRUE(Parse({}).Matches(rebuilt));
  EXPECT_EQ(Error({{"origin", "stream"}}).parameter, "origin");
  EXPECT_NE(Parse({{"origin", "rpc"}}).Fingerprint(), Parse({}).Fingerprint());
}

TEST(AuditQuery, RoutesComeFromThePath) {
  auto parsed = ParseReplayQuery({}, QueryKind::kStream, {"sigs"});
  ASSERT_TRUE(parsed.query);
  EXPECT_TRUE(parsed.query->RouteMatches("sigs"));
  EXPECT_FALSE(parsed.query->RouteMatches("main"));
  EXPECT_TRUE(Parse({}).RouteMatches("main"));
}

TEST(AuditQuery, FingerprintIgnoresPagingAndOrder) {
  const auto a = Parse({{"type", "Step"}, {"type", "Fault"}, {"limit", "5"}}, QueryKind::kList);
  const auto b = Parse({{"type", "Fault"}, {"type", "Step"}, {"cursor", "x"}}, QueryKind::kList);
  const auto c = Parse({{"type", "Fault"}}, QueryKind::kList);
  EXPECT_EQ(a.Fingerprint(), b.Fingerprint());
  EXPECT_NE(a.Fingerprint(), c.Fingerprint());
}

TEST(AuditCursor, RoundTrip) {
  const Positions positions = {{{"main", 0}, 12, 1, 3}, {{"prod.sigs", 2}, 0, 0, 0}, {{"deploys", 1}, 4096, 9, 511}};
  const std::string cursor = EncodeCursor(positions, "f00d");
  EXPECT_EQ(cursor.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
  std::string error;
  auto decoded = DecodeCursor(cursor, "f00d", error);
  ASSERT_TRUE(decoded) << error;
  EXPECT_EQ(*decoded, positions);
  EXPECT_TRUE(DecodeCursor(EncodeCursor({}, "f"), "f", error).value().empty());
}

TEST(AuditCursor, RejectsForeignAndBrokenCursors) {
  const std::string cursor = EncodeCursor({{{"main", 0}, 1, 0, 0}}, "aaaa");
  std::string error;
  EXPECT_FALSE(DecodeCursor(cursor, "bbbb", error));
  EXPECT_NE(error.find("other filters"), std::string::npos);
  for (const std::string& bad : std::vector<std::string>{"", "!!!", "e30", "abc", cursor.substr(0, cursor.size() - 3)}) {
    error.clear();
    EXPECT_FALSE(DecodeCursor(bad, "aaaa", error)) << bad;
    EXPECT_FALSE(error.empty());
  }
}

TEST(AuditCursor, RejectsWrongTypesAndRanges) {
  // base64url of {"f":"aaaa","p":[["main",0,1,0,0]],"v":1}: the encoding the constants below are made with.
  ASSERT_EQ(EncodeCursor({{{"main", 0}, 1, 0, 0}}, "aaaa"), "eyJmIjoiYWFhYSIsInAiOltbIm1haW4iLDAsMSwwLDBdXSwidiI6MX0");
  for (const std::string& bad : std::vector<std::string>{
           "eyJ2IjpbXX0",                                                    // {"v":[]}
           "eyJmIjoiYWFhYSIsInAiOltdLCJ2IjoiMSJ9",                           // "v":"1"
           "eyJmIjoiYWFhYSIsInAiOltbIm1haW4iLDQyOTQ5NjcyOTYsMSwwLDBdXSwidiI6MX0",  // partition 2^32
           "eyJmIjoiYWFhYSIsInAiOltbIm1haW4iLC0xLDEsMCwwXV0sInYiOjF9"}) {      // partition -1
    std::string error;
    EXPECT_FALSE(DecodeCursor(bad, "aaaa", error)) << bad;
    EXPECT_EQ(error, "cursor is not a next_cursor value") << bad;
  }
}

}  // namespace
}  // namespace ces::audit
