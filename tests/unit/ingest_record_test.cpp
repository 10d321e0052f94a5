#include <gtest/gtest.h>

#include "ces/ingest/record.hpp"
#include "ces/ingest/tracker.hpp"

namespace ces::ingest {
namespace {

TEST(RecordKey, KeepsEachNodeStreamTogether) {
  EXPECT_EQ(RecordKey("http://10.0.0.1:9999", "events"), "http://10.0.0.1:9999 events");
  EXPECT_NE(RecordKey("http://a:1", "main"), RecordKey("http://a:1", "sigs"));
  EXPECT_NE(RecordKey("http://a:1", "main"), RecordKey("http://b:1", "main"));
}

TEST(RecordHeaders, CarryTheEventMetadataInOrder) {
  EventMeta meta{"http://n:9999", "main", 42u, "1.5.2", "BlockAdded", "2024-06-12T09:26:25.460Z"};
  auto headers = RecordHeaders(meta);
  ASSERT_EQ(headers.size(), 6u);
  EXPECT_EQ(headers[0].key, "source");
  EXPECT_EQ(headers[0].value, "http://n:9999");
  EXPECT_EQ(headers[1].key, "stream");
  EXPECT_EQ(headers[1].value, "main");
  EXPECT_EQ(headers[2].key, "event-id");
  EXPECT_EQ(headers[2].value, "42");
  EXPECT_EQ(headers[3].key, "api-version");
  EXPECT_EQ(headers[3].value, "1.5.2");
  EXPECT_EQ(headers[4].key, "event-type");
  EXPECT_EQ(headers[4].value, "BlockAdded");
  EXPECT_EQ(headers[5].key, "received-at");
  EXPECT_EQ(headers[5].value, "2024-06-12T09:26:25.460Z");
}

TEST(RecordHeaders, ApiVersionHasNoEventId) {
  EventMeta meta{"http://n:9999", "events", std::nullopt, "2.0.0", "ApiVersion", "2024-06-12T09:26:25.460Z"};
  for (const auto& h : RecordHeaders(meta)) EXPECT_NE(h.key, "event-id");
}

TEST(DecodeHeaders, InvertsRecordHeaders) {
  EventMeta meta{"http://n:9999", "main", 42u, "1.5.2", "BlockAdded", "2024-06-12T09:26:25.460Z"};
  kafka::Message m;
  m.headers = RecordHeaders(meta);
  const EventMeta back = DecodeHeaders(m);
  EXPECT_EQ(back.source, meta.source);
  EXPECT_EQ(back.stream, meta.stream);
  EXPECT_EQ(back.event_id, meta.event_id);
  EXPECT_EQ(back.api_version, meta.api_version);
  EXPECT_EQ(back.event_type, meta.event_type);
  EXPECT_EQ(back.received_at, meta.received_at);
}

TEST(DecodeHeaders, MissingOrBadHeadersStayEmpty) {
  kafka::Message m;
  m.headers = {{"source", "http://n:9999"}, {"event-id", "12a"}};
  const EventMeta meta = DecodeHeaders(m);
  EXPECT_EQ(meta.source, "http://n:9999");
  EXPECT_EQ(meta.stream, "");
  EXPECT_FALSE(meta.event_id);
  EXPECT_EQ(meta.event_type, "");
  EXPECT_EQ(meta.received_at, "");
  m.headers = {{"event-id", "7"}, {"event-id", "8"}};
  EXPECT_EQ(DecodeHeaders(m).event_id, 7u);  // the first header of a name counts, as HeaderValue reads it
}

TEST(ParseEventId, AcceptsOnlyU32) {
  EXPECT_EQ(ParseEventId("0"), 0u);
  EXPECT_EQ(ParseEventId("24249"), 24249u);
  EXPECT_EQ(ParseEventId("4294967295"), 4294967295u);
  EXPECT_FALSE(ParseEventId("4294967296"));
  EXPECT_FALSE(ParseEventId(""));
  EXPECT_FALSE(ParseEventId("-1"));
  EXPECT_FALSE(ParseEventId("12a"));
  EXPECT_FALSE(ParseEventId(" 12"));
  EXPECT_FALSE(ParseEventId("99999999999"));
}

TEST(StreamTracker, PositionIsTheAcknowledgedPrefix) {
  StreamTracker t;
  auto a = t.Begin(std::nullopt);  // ApiVersion: no id
  auto b = t.Begin(10u);
  auto c = t.Begin(11u);
  auto d = t.Begin(12u);
  EXPECT_FALSE(t.Acked());
  t.Ack(c);  // out of order (another topic)
  EXPECT_FALSE(t.Acked());
  t.Ack(a);
  EXPECT_FALSE(t.Acked());
  t.Ack(b);
  EXPECT_EQ(t.Acked(), 11u);
  EXPECT_EQ(t.InFlight(), 1u);
  t.Ack(d);
  EXPECT_EQ(t.Acked(), 12u);
  EXPECT_EQ(t.InFlight(), 0u);
}

TEST(StreamTracker, FailureHoldsThePositionUntilRewind) {
  StreamTracker t(5u);
  auto a = t.Begin(6u);
  auto b = t.Begin(7u);
  auto c = t.Begin(8u);
  t.Ack(a);
  t.Fail(b, "timed out");
  t.Ack(c);
  EXPECT_TRUE(t.Failed());
  EXPECT_EQ(t.Acked(), 6u);  // 8 was acknowledged but 7 was not: resume after 6
  EXPECT_EQ(t.Rewind(), 6u);
  EXPECT_FALSE(t.Failed());
  auto d = t.Begin(7u);
  t.Ack(b);  // a stale report from before the rewind changes nothing
  EXPECT_EQ(t.Acked(), 6u);
  t.Ack(d);
  EXPECT_EQ(t.Acked(), 7u);
}

TEST(StreamTracker, StartsFromTheStoredPosition) {
  StreamTracker t(99u);
  EXPECT_EQ(t.Acked(), 99u);
  auto s = t.Begin(100u);
  t.Ack(s);
  EXPECT_EQ(t.Acked(), 100u);
}

}  // namespace
}  // namespace ces::ingest
