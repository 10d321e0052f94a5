// ces::sse::Parser: every framing quirk Casper nodes (and other SSE servers) produce, chunk boundaries
// anywhere, the max_frame_bytes guard, and property tests over the recorded node streams in
// tests/data/casper.

#include "ces/sse/parser.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <ostream>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace ces::sse {
namespace {

namespace fs = std::filesystem;
using namespace std::string_literals;
using namespace std::string_view_literals;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

#ifdef NDEBUG
constexpr bool kNdebug = true;
#else
constexpr bool kNdebug = false;
#endif
constexpr bool kOptimized = kNdebug && !kSanitized;

// CPU-time budget for the large-input tests: well under a second in an optimised build, generous in
// debug and sanitizer builds (which only check correctness). A quadratic scan of these 8 MiB inputs
// takes minutes. The thread's CPU time, not the wall clock: other processes on a loaded machine do not
// count against it.
constexpr std::chrono::milliseconds kLargeInputBudget{kOptimized ? 1000 : 20000};

std::chrono::nanoseconds ThreadCpuNow() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

const fs::path kDataDir = fs::path(CES_RECORDINGS_DIR);

// What the handler saw, as owned copies, in callback order.
struct Item {
  enum class Kind { kEvent, kComment, kTooLarge };
  Kind kind = Kind::kEvent;
  std::string data;  // event data, comment text or too-large prefix
  std::optional<std::string> id;
  std::string event_type;
  bool has_data = false;
  std::string raw;

  bool operator==(const Item&) const = default;
};

std::string Abbreviate(const std::string& text) {
  std::string shown = text.size() > 80 ? text.substr(0, 80) + "...(" + std::to_string(text.size()) + " B)" : text;
  std::string out;
  for (char c : shown) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void PrintTo(const Item& item, std::ostream* os) {
  switch (item.kind) {
    case Item::Kind::kEvent:
      *os << "Event{data=\"" << Abbreviate(item.data) << "\" id="
          << (item.id ? "\"" + Abbreviate(*item.id) + "\"" : "none"s) << " type=\"" << item.event_type
          << "\" has_data=" << item.has_data << " raw=\"" << Abbreviate(item.raw) << "\"}";
      break;
    case Item::Kind::kComment:
      *os << "Comment{\"" << Abbreviate(item.data) << "\"}";
      break;
    case Item::Kind::kTooLarge:
      *os << "TooLarge{\"" << Abbreviate(item.data) << "\"}";
      break;
  }
}

struct Recorder : Handler {
  void OnEvent(const Event& event) override {
    Item item;
    item.kind = Item::Kind::kEvent;
    item.data = std::string(event.data);
    if (event.id) item.id = std::string(*event.id);
    item.event_type = std::string(event.event_type);
    item.has_data = event.has_data;
    item.raw = std::string(event.raw);
    items.push_back(std::move(item));
  }
  void OnComment(std::string_view text) override {
    Item item;
    item.kind = Item::Kind::kComment;
    item.data = std::string(text);
    items.push_back(std::move(item));
  }
  void OnFrameTooLarge(std::string_view prefix) override {
    Item item;
    item.kind = Item::Kind::kTooLarge;
    item.data = std::string(prefix);
    items.push_back(std::move(item));
  }

  std::vector<Item> Events() const { return Only(Item::Kind::kEvent); }
  std::vector<Item> Comments() const { return Only(Item::Kind::kComment); }
  std::vector<Item> TooLarge() const { return Only(Item::Kind::kTooLarge); }

  std::vector<Item> Only(Item::Kind kind) const {
    std::vector<Item> out;
    for (const Item& item : items) {
      if (item.kind == kind) out.push_back(item);
    }
    return out;
  }

  std::vector<Item> items;
};

struct Outcome {
  std::vector<Item> items;
  std::size_t discarded = 0;  // Finish()
};

Outcome ParseChunks(const std::vector<std::string_view>& chunks, std::size_t max_frame_bytes = kDefaultMaxFrameBytes) {
  Recorder recorder;
  Parser parser(recorder, max_frame_bytes);
  for (std::string_view chunk : chunks) parser.Feed(chunk);
  Outcome outcome;
  outcome.discarded = parser.Finish();
  outcome.items = std::move(recorder.items);
  return outcome;
}

Outcome ParseWhole(std::string_view text, std::size_t max_frame_bytes = kDefaultMaxFrameBytes) {
  return ParseChunks({text}, max_frame_bytes);
}

// Feeds `text` in pieces of `chunk_size` bytes. Each piece is copied into its own allocation so that
// a view kept past its Feed call would be caught by the sanitizers.
Outcome ParseFixedChunks(std::string_view text, std::size_t chunk_size,
                         std::size_t max_frame_bytes = kDefaultMaxFrameBytes) {
  Recorder recorder;
  Parser parser(recorder, max_frame_bytes);
  for (std::size_t pos = 0; pos < text.size(); pos += chunk_size) {
    const std::string piece(text.substr(pos, chunk_size));
    parser.Feed(piece);
  }
  Outcome outcome;
  outcome.discarded = parser.Finish();
  outcome.items = std::move(recorder.items);
  return outcome;
}

// Feeds `text` in random pieces; sizes are drawn from a mix of tiny, medium and large ranges.
Outcome ParseRandomChunks(std::string_view text, std::uint64_t seed,
                          std::size_t max_frame_bytes = kDefaultMaxFrameBytes) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> pick_range(0, 2);
  const std::size_t kLimits[] = {8, 512, 70000};
  Recorder recorder;
  Parser parser(recorder, max_frame_bytes);
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::uniform_int_distribution<std::size_t> size(0, kLimits[pick_range(rng)]);
    const std::string piece(text.substr(pos, size(rng)));  // empty pieces are legal too
    parser.Feed(piece);
    pos += piece.size();
  }
  Outcome outcome;
  outcome.discarded = parser.Finish();
  outcome.items = std::move(recorder.items);
  return outcome;
}

Item Ev(std::string data, std::optional<std::string> id, std::string raw, bool has_data = true,
        std::string event_type = "") {
  Item item;
  item.kind = Item::Kind::kEvent;
  item.data = std::move(data);
  item.id = std::move(id);
  item.event_type = std::move(event_type);
  item.has_data = has_data;
  item.raw = std::move(raw);
  return item;
}

Item Comment(std::string text) {
  Item item;
  item.kind = Item::Kind::kComment;
  item.data = std::move(text);
  return item;
}

Item TooLarge(std::string prefix) {
  Item item;
  item.kind = Item::Kind::kTooLarge;
  item.data = std::move(prefix);
  return item;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string Replace(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(text.size() + text.size() / 16);
  std::size_t pos = 0;
  while (true) {
    const std::size_t hit = text.find(from, pos);
    if (hit == std::string_view::npos) break;
    out.append(text.substr(pos, hit - pos));
    out.append(to);
    pos = hit + from.size();
  }
  out.append(text.substr(pos));
  return out;
}

std::string WithLineEnding(std::string_view lf_text, std::string_view eol) { return Replace(lf_text, "\n", eol); }

// Events without `raw` (which legitimately differs between line-ending variants).
struct Semantic {
  std::string data;
  std::optional<std::string> id;
  std::string event_type;
  bool has_data;
  bool operator==(const Semantic&) const = default;
};

std::vector<Semantic> SemanticEvents(const std::vector<Item>& items) {
  std::vector<Semantic> out;
  for (const Item& item : items) {
    if (item.kind == Item::Kind::kEvent) out.push_back({item.data, item.id, item.event_type, item.has_data});
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Field order and the Casper wire format

TEST(SseParser, DataBeforeIdAsCasperNodesSend) {
  const auto out = ParseWhole("data:{\"BlockAdded\":{}}\nid:7\n\n");
  ASSERT_EQ(out.items.size(), 1u);
  EXPECT_EQ(out.items[0], Ev("{\"BlockAdded\":{}}", "7", "data:{\"BlockAdded\":{}}\nid:7\n"));
  EXPECT_EQ(out.discarded, 0u);
}

TEST(SseParser, IdBeforeData) {
  const auto out = ParseWhole("id:7\ndata:{\"Step\":{}}\n\n");
  ASSERT_EQ(out.items.size(), 1u);
  EXPECT_EQ(out.items[0], Ev("{\"Step\":{}}", "7", "id:7\ndata:{\"Step\":{}}\n"));
}

TEST(SseParser, ApiVersionFrameHasNoId) {
  const auto out = ParseWhole("data:{\"ApiVersion\":\"2.0.0\"}\n\ndata:{\"Step\":{}}\nid:0\n\n");
  ASSERT_EQ(out.items.size(), 2u);
  EXPECT_EQ(out.items[0], Ev("{\"ApiVersion\":\"2.0.0\"}", std::nullopt, "data:{\"ApiVersion\":\"2.0.0\"}\n"));
  EXPECT_EQ(out.items[1], Ev("{\"Step\":{}}", "0", "data:{\"Step\":{}}\nid:0\n"));
}

TEST(SseParser, BareShutdownPayload) {
  const auto out = ParseWhole("data:\"Shutdown\"\nid:30\n\n");
  ASSERT_EQ(out.items.size(), 1u);
  EXPECT_EQ(out.items[0].data, "\"Shutdown\"");
  EXPECT_EQ(out.items[0].id, "30");
  EXPECT_TRUE(out.items[0].has_data);
}

TEST(SseParser, ShutdownThenReconnectApiVersion) {
  const auto out = ParseWhole(
      "data:{\"ApiVersion\":\"1.5.2\"}\n\ndata:\"Shutdown\"\nid:2\n\n:\n\n"
      "data:{\"ApiVersion\":\"1.5.3\"}\n\ndata:{\"BlockAdded\":{}}\nid:3\n\n");
  const auto events = SemanticEvents(out.items);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].data, "{\"ApiVersion\":\"1.5.2\"}");
  EXPECT_EQ(events[1].data, "\"Shutdown\"");
  EXPECT_EQ(events[2].data, "{\"ApiVersion\":\"1.5.3\"}");
  EXPECT_FALSE(events[2].id.has_value());
  EXPECT_EQ(events[3].id, "3");
}

TEST(SseParser, LastIdFieldWins) {
  const auto out = ParseWhole("id:1\ndata:x\nid:2\n\n");
  ASSERT_EQ(out.items.size(), 1u);
  EXPECT_EQ(out.items[0].id, "2");
}

TEST(SseParser, EmptyIdIsPresentButEmpty) {
  const auto out = ParseWhole("data:x\nid:\n\ndata:y\nid\n\n");
  ASSERT_EQ(out.items.size(), 2u);
  EXPECT_EQ(out.items[0].id, "");
  EXPECT_EQ(out.items[1].id, "");
}

TEST(SseParser, IdContainingNulIsIgnored) {
  const auto out = ParseWhole("data:x\nid:1\0002\n\n"s);
  ASSERT_EQ(out.items.size(), 1u);
  EXPECT_FALSE(out.items[0].id.has_value());
  EXPECT_EQ(out.items[0].data, "x");
}

TEST(SseParser, FrameWithIdButNoData) {
  const auto out = ParseWhole("id:42\n\n");
  ASSERT_EQ(out.items.size(), 1u);
  EXPECT_EQ(out.items[0], Ev("", "42", "id:42\n", /*has_data=*/false));
}

TEST(SseParser, EmptyDataLineHasData) {
  const auto out = ParseWhole("data:\n\n");
  ASSERT_EQ(out.items.size(), 1u);
  EXPECT_EQ(out.items[0], Ev("", std::nullopt, "data:\n"));
}

TEST(SseParser, DataFieldWithoutColon) {
  const auto out = ParseWhole("data\n\ndata\ndata\n\n");
  ASSERT_EQ(out.items.size(), 2u);
  EXPECT_EQ(out.items[0], Ev("", std::nullopt, "data\n"));
  EXPECT_EQ(out.items[1], Ev("\n", std::nullopt, "data\ndata\n"));
}

TEST(SseParser, OneLeadingSpaceIsStripped) {
  const auto out = ParseWhole("data: x\n\ndata:  x\n\ndata:x \n\ndata: \n\nid: 5\ndata:y\n\n");
  ASSERT_EQ(out.items.size(), 5u);
  EXPECT_EQ(out.items[0].data, "x");
  EXPECT_EQ(out.items[1].data, " x");
  EXPECT_EQ(out.items[2].data, "x ");
  EXPECT_EQ(out.items[3].data, "");
  EXPECT_TRUE(out.items[3].has_data);
  EXPECT_EQ(out.items[4].id, "5");
}

TEST(SseParser, TabIsNotStripped) {
  const auto out = ParseWhole("data:\tx\n\n");
  ASSERT_EQ(out.items.size(), 1u);
  EXPECT_EQ(out.items[0].data, "\tx");
}

TEST(SseParser, ColonsInsideTheValueAreKept) {
  const auto out = ParseWhole("data:{\"a\":\"b:c\"}\nid:1:2\n\n");
  ASSERT_EQ(out.items.size(), 1u);
  EXPECT_EQ(out.items[0].data, "{\"a\":\"b:c\"}");
  EXPECT_EQ(out.items[0].id, "1:2");
}

TEST(SseParser, MultiLineDataJoinedWithNewline) {
  const auto out = ParseWhole("data:{\"a\":\ndata: 1\ndata:}\nid:3\n\n");
  ASSERT_EQ(out.items.size(), 1u);
  EXPECT_EQ(out.items[0], Ev("{\"a\":\n1\n}", "3", "data:{\"a\":\ndata: 1\ndata:}\nid:3\n"));
}

TEST(SseParser, MultiLineDataWithTrailingEmptyLine) {
  const auto out = ParseWhole("data:a\ndata:b\ndata:\n\n");
  ASSERT_EQ(out.items.size(), 1u);
  EXPECT_EQ(out.items[0].data, "a\nb\n");
}

TEST(SseParser, MultiLineDataInterleavedWithIdAndComment) {
  const auto out = ParseWhole("data:a\nid:1\n: note\ndata:b\n\n");
  ASSERT_EQ(out.items.size(), 2u);
  EXPECT_EQ(out.items[0], Comment(" note"));
  EXPECT_EQ(out.items[1], Ev("a\nb", "1", "data:a\nid:1\n: note\ndata:b\n"));
}

TEST(SseParser, SingleLineDataIsNotCopied) {
  struct Check : Handler {
    std::string_view chunk;
    int events = 0;
    bool inside = false;
    void OnEvent(const Event& event) override {
      ++events;
      inside = event.data.data() >= chunk.data() &&
               event.data.data() + event.data.size() <= chunk.data() + chunk.size();
    }
  } check;
  const std::string chunk = "data:{\"BlockAdded\":{}}\nid:1\n\n";
  check.chunk = chunk;
  Parser parser(check);
  parser.Feed(chunk);
  EXPECT_EQ(check.events, 1);
  EXPECT_TRUE(check.inside);
}

// ---------------------------------------------------------------------------------------------------
// Other fields

TEST(SseParser, EventFieldSetsType) {
  const auto out = ParseWhole("event:message\ndata:x\n\nevent: a\nevent: b\ndata:y\n\n");
  ASSERT_EQ(out.items.size(), 2u);
  EXPECT_EQ(out.items[0], Ev("x", std::nullopt, "event:message\ndata:x\n", true, "message"));
  EXPECT_EQ(out.items[1].event_type, "b");
}

TEST(SseParser, EventFieldAloneIsAFrameWithoutData) {
  const auto out = ParseWhole("event:ping\n\n");
  ASSERT_EQ(out.items.size(), 1u);
  EXPECT_EQ(out.items[0], Ev("", std::nullopt, "event:ping\n", false, "ping"));
}

TEST(SseParser, RetryFieldIsNotAnEvent) {
  const auto out = ParseWhole("retry:1000\n\nretry: 5000\ndata:x\nid:1\n\ndata:y\nretry:1\n\n");
  const auto events = SemanticEvents(out.items);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0], (Semantic{"x", "1"s, "", true}));
  EXPECT_EQ(events[1], (Semantic{"y", std::nullopt, "", true}));
}

TEST(SseParser, UnknownFieldsStillReportTheFrame) {
  const auto out = ParseWhole("foo:bar\n\ndata:x\nDATA:y\nid:1\n\nData:z\n\nxyz\n\n");
  ASSERT_EQ(out.items.size(), 4u);
  EXPECT_EQ(out.items[0], Ev("", std::nullopt, "foo:bar\n", false));
  EXPECT_EQ(out.items[1], Ev("x", "1", "data:x\nDATA:y\nid:1\n"));  // field names are case-sensitive
  EXPECT_EQ(out.items[2], Ev("", std::nullopt, "Data:z\n", false));
  EXPECT_EQ(out.items[3], Ev("", std::nullopt, "xyz\n", false));
}

// ---------------------------------------------------------------------------------------------------
// Comments and blank lines

TEST(SseParser, KeepAliveCommentsBetweenFrames) {
  const auto out = ParseWhole(":\n\ndata:a\nid:1\n\n:\n\n:\n\ndata:b\nid:2\n\n:\n\n");
  ASSERT_EQ(out.items.size(), 6u);
  EXPECT_EQ(out.items[0], Comment(""));
  EXPECT_EQ(out.items[1], Ev("a", "1", "data:a\nid:1\n"));
  EXPECT_EQ(out.items[2], Comment(""));
  EXPECT_EQ(out.items[3], Comment(""));
  EXPECT_EQ(out.items[4], Ev("b", "2", "data:b\nid:2\n"));
  EXPECT_EQ(out.items[5], Comment(""));
}

TEST(SseParser, CommentTextExcludesOnlyTheColon) {
  const auto out = ParseWhole(": hello\n:world\n::x\n\n");
  ASSERT_EQ(out.items.size(), 3u);
  EXPECT_EQ(out.items[0], Comment(" hello"));
  EXPECT_EQ(out.items[1], Comment("world"));
  EXPECT_EQ(out.items[2], Comment(":x"));
}

TEST(SseParser, CommentsInsideAFrame) {
  const auto out = ParseWhole("data:a\n:\nid:1\n\n:before\ndata:b\n:after\n\n");
  ASSERT_EQ(out.items.size(), 5u);
  EXPECT_EQ(out.items[0], Comment(""));
  EXPECT_EQ(out.items[1], Ev("a", "1", "data:a\n:\nid:1\n"));
  EXPECT_EQ(out.items[2], Comment("before"));
  EXPECT_EQ(out.items[3], Comment("after"));
  // raw starts at the first field line: leading comments are not part of the frame
  EXPECT_EQ(out.items[4], Ev("b", std::nullopt, "data:b\n:after\n"));
}

TEST(SseParser, CommentOnlyFramesAndBlankLinesAreNotEvents) {
  const auto out = ParseWhole("\n\n\r\n\r:\n\n\n:x\n:y\n\n\n");
  for (const Item& item : out.items) EXPECT_EQ(item.kind, Item::Kind::kComment);
  EXPECT_EQ(out.items.size(), 3u);
  EXPECT_EQ(out.discarded, 0u);
}

// ---------------------------------------------------------------------------------------------------
// Line endings

class SseParserLineEnding : public ::testing::TestWithParam<std::string_view> {};

TEST_P(SseParserLineEnding, SameEventsAsLf) {
  const std::string lf =
      "data:{\"ApiVersion\":\"2.0.0\"}\n\n:\n\ndata:{\"BlockAdded\":{}}\nid:1\n\n"
      "id:2\ndata:a\ndata:b\n: c\n\nevent:e\ndata\n\ndata:\"Shutdown\"\nid:3\n\n";
  const std::string text = WithLineEnding(lf, GetParam());
  const auto expected = SemanticEvents(ParseWhole(lf).items);
  ASSERT_EQ(expected.size(), 5u);
  const auto whole = ParseWhole(text);
  EXPECT_EQ(SemanticEvents(whole.items), expected);
  EXPECT_EQ(whole.discarded, 0u);
  for (std::size_t chunk = 1; chunk <= text.size(); ++chunk) {
    const auto chunked = ParseFixedChunks(text, chunk);
    ASSERT_EQ(chunked.items, whole.items) << "chunk size " << chunk;
    ASSERT_EQ(chunked.discarded, 0u);
  }
  // every split into two and three pieces
  for (std::size_t i = 0; i <= text.size(); ++i) {
    const std::string_view all(text);
    ASSERT_EQ(ParseChunks({all.substr(0, i), all.substr(i)}).items, whole.items) << "split at " << i;
    for (std::size_t j = i; j <= text.size(); ++j) {
      ASSERT_EQ(ParseChunks({all.substr(0, i), all.substr(i, j - i), all.substr(j)}).items, whole.items)
          << "split at " << i << ", " << j;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllEndings, SseParserLineEnding, ::testing::Values("\n"sv, "\r\n"sv, "\r"sv),
                         [](const ::testing::TestParamInfo<std::string_view>& param) {
                           return param.param == "\n" ? "LF" : param.param == "\r" ? "CR" : "CRLF";
                         });

TEST(SseParser, MixedLineEndingsInOneStream) {
  const auto out = ParseWhole("data:a\r\nid:1\n\rdata:b\rid:2\r\n\r\ndata:c\nid:3\r\r");
  const auto events = SemanticEvents(out.items);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0], (Semantic{"a", "1"s, "", true}));
  EXPECT_EQ(events[1], (Semantic{"b", "2"s, "", true}));
  EXPECT_EQ(events[2], (Semantic{"c", "3"s, "", true}));
}

TEST(SseParser, CrAtChunkEndThenLfInNextChunkIsOneLineEnd) {
  const auto out = ParseChunks({"data:x\r", "\nid:1\r", "\n\r", "\n"});
  ASSERT_EQ(out.items.size(), 1u);
  EXPECT_EQ(out.items[0], Ev("x", "1", "data:x\r\nid:1\r\n"));
  EXPECT_EQ(out.discarded, 0u);
}

TEST(SseParser, CrAtChunkEndThenLfAfterEmptyChunks) {
  const auto out = ParseChunks({"data:x\r", "", "", "\n", "\r", "", "\n"});
  ASSERT_EQ(out.items.size(), 1u);
  EXPECT_EQ(out.items[0].data, "x");
}

TEST(SseParser, CrLfSplitMustNotProduceAnExtraBlankLine) {
  // If the LF after a chunk-final CR were taken as a second (blank) line, "a" would be dispatched
  // before its id arrives.
  const auto out = ParseChunks({"data:a\r", "\nid:9\r\n\r\n"});
  ASSERT_EQ(out.items.size(), 1u);
  EXPECT_EQ(out.items[0].id, "9");
}

TEST(SseParser, CrAtChunkEndThenCrIsABlankLine) {
  const auto out = ParseChunks({"data:a\r", "\r", "data:b\r", "\r"});
  const auto events = SemanticEvents(out.items);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].data, "a");
  EXPECT_EQ(events[1].data, "b");
}

TEST(SseParser, OnlyOneLfIsSkippedAfterAChunkFinalCr) {
  const auto out = ParseChunks({"data:a\r", "\n\n"});
  ASSERT_EQ(out.items.size(), 1u);
  EXPECT_EQ(out.items[0].data, "a");
}

TEST(SseParser, CrAtChunkEndWhileFrameIsBuffered) {
  // The CR is the last byte of the parser's own buffer, not of a caller's chunk.
  const auto out = ParseChunks({"da", "ta:a\r", "\nid:1\r", "\n", "\r", "\n"});
  ASSERT_EQ(out.items.size(), 1u);
  EXPECT_EQ(out.items[0], Ev("a", "1", "data:a\r\nid:1\r\n"));
}

// ---------------------------------------------------------------------------------------------------
// Chunking

TEST(SseParser, EmptyFeedIsANoOp) {
  const auto out = ParseChunks({"", "data:x", "", "\n", "", "\n", ""});
  ASSERT_EQ(out.items.size(), 1u);
  EXPECT_EQ(out.items[0].data, "x");
}

TEST(SseParser, ByteByByte) {
  const std::string text = "data:{\"a\":1}\nid:1\n\n:\n\ndata:l1\r\ndata:l2\r\nid:2\r\n\r\n";
  const auto whole = ParseWhole(text);
  EXPECT_EQ(ParseFixedChunks(text, 1).items, whole.items);
  ASSERT_EQ(SemanticEvents(whole.items).size(), 2u);
}

TEST(SseParser, BufferedBytesCountsTheIncompleteFrame) {
  Recorder recorder;
  Parser parser(recorder);
  EXPECT_EQ(parser.BufferedBytes(), 0u);
  parser.Feed("data:abc\nid:1\n\ndata:de");
  EXPECT_EQ(recorder.Events().size(), 1u);
  EXPECT_EQ(parser.BufferedBytes(), 7u);
  parser.Feed("f\n");
  EXPECT_EQ(parser.BufferedBytes(), 9u);
  parser.Feed("\n");
  EXPECT_EQ(parser.BufferedBytes(), 0u);
  ASSERT_EQ(recorder.Events().size(), 2u);
  EXPECT_EQ(recorder.Events()[1].data, "def");
}

// ---------------------------------------------------------------------------------------------------
// Finish and Reset

TEST(SseParser, FinishDiscardsAnUnterminatedFrame) {
  Recorder recorder;
  Parser parser(recorder);
  parser.Feed("data:a\nid:1\n\ndata:b\nid:2\n");
  ASSERT_EQ(recorder.Events().size(), 1u);
  EXPECT_EQ(parser.Finish(), "data:b\nid:2\n"sv.size());
  EXPECT_EQ(recorder.Events().size(), 1u);
  EXPECT_EQ(parser.BufferedBytes(), 0u);
  // usable again afterwards, from a clean state
  parser.Feed("data:c\n\n");
  ASSERT_EQ(recorder.Events().size(), 2u);
  EXPECT_EQ(recorder.Events()[1], Ev("c", std::nullopt, "data:c\n"));
}

TEST(SseParser, FinishDiscardsAPartialLine) {
  Recorder recorder;
  Parser parser(recorder);
  parser.Feed("data:a\n\ndata:{\"Blo");
  EXPECT_EQ(parser.Finish(), 10u);
  EXPECT_EQ(recorder.Events().size(), 1u);
  EXPECT_EQ(parser.Finish(), 0u);
}

TEST(SseParser, FinishOnACleanStreamDiscardsNothing) {
  Recorder recorder;
  Parser parser(recorder);
  EXPECT_EQ(parser.Finish(), 0u);
  parser.Feed("data:a\nid:1\n\n:\n\n");
  EXPECT_EQ(parser.Finish(), 0u);
  EXPECT_EQ(recorder.Events().size(), 1u);
}

TEST(SseParser, ResetForgetsThePartialFrame) {
  Recorder recorder;
  Parser parser(recorder);
  parser.Feed("data:stale\nid:1\n");
  parser.Reset();
  EXPECT_EQ(parser.BufferedBytes(), 0u);
  parser.Feed("data:fresh\n\n");
  ASSERT_EQ(recorder.Events().size(), 1u);
  EXPECT_EQ(recorder.Events()[0], Ev("fresh", std::nullopt, "data:fresh\n"));
}

TEST(SseParser, ResetForgetsAPendingCr) {
  Recorder recorder;
  Parser parser(recorder);
  parser.Feed("data:stale\r");
  parser.Reset();
  // Without the reset the LF would be swallowed as the second half of the CR LF pair; with it, it is
  // a blank line (nothing to dispatch) and the next frame parses normally.
  parser.Feed("\ndata:fresh\n\n");
  ASSERT_EQ(recorder.Events().size(), 1u);
  EXPECT_EQ(recorder.Events()[0].data, "fresh");
}

TEST(SseParser, ResetLeavesDiscardMode) {
  Recorder recorder;
  Parser parser(recorder, 16);
  parser.Feed("data:" + std::string(64, 'x'));
  ASSERT_EQ(recorder.TooLarge().size(), 1u);
  parser.Reset();
  parser.Feed("data:fresh\n\n");
  ASSERT_EQ(recorder.Events().size(), 1u);
  EXPECT_EQ(recorder.Events()[0].data, "fresh");
}

// ---------------------------------------------------------------------------------------------------
// Long lines and max_frame_bytes

TEST(SseParser, VeryLongLineIn64KiBChunks) {
  constexpr std::size_t kPayload = 32u * 1024u * 1024u + 123u;
  constexpr std::size_t kChunk = 64u * 1024u;
  std::string payload(kPayload, 'x');
  for (std::size_t i = 0; i < payload.size(); i += 4099) payload[i] = static_cast<char>('a' + i % 26);
  for (std::string_view eol : {"\n"sv, "\r\n"sv, "\r"sv}) {
    const std::string text = "data:" + payload + std::string(eol) + "id:1" + std::string(eol) + std::string(eol) +
                             "data:next" + std::string(eol) + std::string(eol);
    std::size_t events = 0;
    bool payload_matches = false;
    bool next_seen = false;
    struct Check : Handler {
      std::size_t* events;
      bool* payload_matches;
      bool* next_seen;
      const std::string* payload;
      void OnEvent(const Event& event) override {
        if (++*events == 1) {
          *payload_matches = event.data == *payload && event.id == "1";
        } else {
          *next_seen = event.data == "next";
        }
      }
    } check;
    check.events = &events;
    check.payload_matches = &payload_matches;
    check.next_seen = &next_seen;
    check.payload = &payload;
    Parser parser(check);
    const auto start = ThreadCpuNow();
    const std::string_view all(text);
    for (std::size_t pos = 0; pos < all.size(); pos += kChunk) parser.Feed(all.substr(pos, kChunk));
    const auto elapsed = ThreadCpuNow() - start;
    EXPECT_EQ(events, 2u) << "eol size " << eol.size();
    EXPECT_TRUE(payload_matches);
    EXPECT_TRUE(next_seen);
    EXPECT_EQ(parser.Finish(), 0u);
    EXPECT_LT(elapsed, kLargeInputBudget)
        << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms";
  }
}

TEST(SseParser, ManyLoneCrLinesAreLinear) {
  // Lone CR line ends with no LF anywhere: the search for the next LF must not rescan the rest of the
  // input for every line.
  std::string text;
  std::size_t frames = 0;
  while (text.size() < 8u * 1024u * 1024u) {
    text += "data:{\"n\":" + std::to_string(frames) + "}\rid:" + std::to_string(frames) + "\r\r";
    ++frames;
  }
  for (std::size_t chunk : {text.size(), std::size_t{1} << 20, std::size_t{4096}}) {
    std::size_t events = 0;
    struct Count : Handler {
      std::size_t* events;
      void OnEvent(const Event&) override { ++*events; }
    } count;
    count.events = &events;
    Parser parser(count);
    const auto start = ThreadCpuNow();
    const std::string_view all(text);
    for (std::size_t pos = 0; pos < all.size(); pos += chunk) parser.Feed(all.substr(pos, chunk));
    const auto elapsed = ThreadCpuNow() - start;
    EXPECT_EQ(events, frames) << "chunk " << chunk;
    EXPECT_LT(elapsed, kLargeInputBudget)
        << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms, chunk " << chunk;
  }
}

TEST(SseParser, ManyShortLfLinesBeforeOneCrAreLinear) {
  std::string text;
  std::size_t frames = 0;
  while (text.size() < 8u * 1024u * 1024u) {
    text += "data:" + std::to_string(frames) + "\n\n";
    ++frames;
  }
  text += "data:last\r\r";
  std::size_t events = 0;
  struct Count : Handler {
    std::size_t* events;
    void OnEvent(const Event&) override { ++*events; }
  } count;
  count.events = &events;
  Parser parser(count);
  const auto start = ThreadCpuNow();
  parser.Feed(text);
  const auto elapsed = ThreadCpuNow() - start;
  EXPECT_EQ(events, frames + 1);
  EXPECT_LT(elapsed, kLargeInputBudget);
}

TEST(SseParser, FrameAtExactlyTheLimitIsAccepted) {
  constexpr std::size_t kMax = 64;
  // raw = "data:" + payload + "\n" == kMax bytes
  const std::string payload(kMax - 6, 'p');
  const std::string text = "data:" + payload + "\n\n";
  for (std::size_t chunk = 1; chunk <= text.size(); ++chunk) {
    const auto out = ParseFixedChunks(text, chunk, kMax);
    ASSERT_EQ(out.items.size(), 1u) << "chunk " << chunk;
    EXPECT_EQ(out.items[0].kind, Item::Kind::kEvent);
    EXPECT_EQ(out.items[0].data, payload);
    EXPECT_EQ(out.items[0].raw.size(), kMax);
  }
}

TEST(SseParser, FrameOneByteOverTheLimitIsRejected) {
  constexpr std::size_t kMax = 64;
  const std::string big = "data:" + std::string(kMax - 5, 'p') + "\n";  // raw is kMax + 1 bytes
  const std::string text = big + "\n" + "data:ok\nid:2\n\n";
  for (std::size_t chunk = 1; chunk <= text.size(); ++chunk) {
    const auto out = ParseFixedChunks(text, chunk, kMax);
    ASSERT_EQ(out.items.size(), 2u) << "chunk " << chunk;
    EXPECT_EQ(out.items[0], TooLarge(big.substr(0, kMax))) << "chunk " << chunk;
    EXPECT_EQ(out.items[1], Ev("ok", "2", "data:ok\nid:2\n")) << "chunk " << chunk;
  }
}

TEST(SseParser, OversizedFrameInOneChunkThenRecovery) {
  constexpr std::size_t kMax = 1024;
  const std::string big = "data:" + std::string(4000, 'x') + "\nid:1\n";
  const std::string text = "data:before\nid:0\n\n" + big + "\n" + "data:after\nid:2\n\n";
  const auto out = ParseWhole(text, kMax);
  ASSERT_EQ(out.items.size(), 3u);
  EXPECT_EQ(out.items[0], Ev("before", "0", "data:before\nid:0\n"));
  EXPECT_EQ(out.items[1], TooLarge(big.substr(0, kMax)));
  EXPECT_EQ(out.items[2], Ev("after", "2", "data:after\nid:2\n"));
  EXPECT_EQ(out.discarded, 0u);
}

TEST(SseParser, OversizedFrameAcrossChunksThenRecovery) {
  constexpr std::size_t kMax = 1024;
  const std::string big = "data:" + std::string(4000, 'x') + "\ndata:" + std::string(3000, 'y') + "\nid:1\n";
  const std::string text = "data:before\nid:0\n\n" + big + "\n" + "data:after\nid:2\n\n";
  for (std::size_t chunk : {1u, 7u, 100u, 1000u, 1023u, 1024u, 1025u, 4096u}) {
    Recorder recorder;
    Parser parser(recorder, kMax);
    std::size_t max_buffered = 0;
    for (std::size_t pos = 0; pos < text.size(); pos += chunk) {
      parser.Feed(std::string(text.substr(pos, chunk)));
      max_buffered = std::max(max_buffered, parser.BufferedBytes());
    }
    EXPECT_EQ(parser.Finish(), 0u);
    ASSERT_EQ(recorder.items.size(), 3u) << "chunk " << chunk;
    EXPECT_EQ(recorder.items[0], Ev("before", "0", "data:before\nid:0\n"));
    EXPECT_EQ(recorder.items[1], TooLarge(big.substr(0, kMax))) << "chunk " << chunk;
    EXPECT_EQ(recorder.items[2], Ev("after", "2", "data:after\nid:2\n"));
    // while discarding, nothing of the oversized frame is held
    EXPECT_LE(max_buffered, kMax + chunk) << "chunk " << chunk;
  }
}

TEST(SseParser, OversizedFrameEveryChunkingMatchesWhole) {
  constexpr std::size_t kMax = 40;
  const std::string text =
      ":\n\ndata:a\nid:1\n\ndata:" + std::string(50, 'x') + "\r\n:in\r\nid:2\r\n\r\n:c\n\ndata:" +
      std::string(20, 'y') + "\n:inside\ndata:" + std::string(30, 'z') + "\n:late\n\n:" + std::string(45, 'k') +
      "\ndata:lost\n\nretry:" + std::string(45, '9') + "\r\rdata:b\rid:3\r\r";
  const auto whole = ParseWhole(text, kMax);
  const auto events = SemanticEvents(whole.items);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].data, "a");
  EXPECT_EQ(events[1].data, "b");
  std::vector<std::string> comments;
  std::size_t too_large = 0;
  for (const Item& item : whole.items) {
    too_large += item.kind == Item::Kind::kTooLarge ? 1 : 0;
    if (item.kind == Item::Kind::kComment) comments.push_back(item.data);
  }
  EXPECT_EQ(too_large, 4u);
  // ":inside" precedes the overflow of its frame; ":in" and ":late" come after it
  EXPECT_EQ(comments, (std::vector<std::string>{"", "c", "inside"}));
  for (std::size_t chunk = 1; chunk <= text.size(); ++chunk) {
    ASSERT_EQ(ParseFixedChunks(text, chunk, kMax).items, whole.items) << "chunk " << chunk;
  }
  for (std::size_t i = 0; i <= text.size(); ++i) {
    const std::string_view all(text);
    ASSERT_EQ(ParseChunks({all.substr(0, i), all.substr(i)}, kMax).items, whole.items) << "split at " << i;
  }
}

TEST(SseParser, FrameLimitBoundaryIndependentOfChunking) {
  // Frames and leading comment lines around the limit, with every line ending; all two-way splits must
  // agree with the whole-buffer parse.
  for (std::size_t max : {std::size_t{8}, std::size_t{9}, std::size_t{10}, std::size_t{11}, std::size_t{12}}) {
    for (std::string_view eol : {"\n"sv, "\r\n"sv, "\r"sv}) {
      const std::string e(eol);
      const std::string text = "data:abc" + e + ":c" + e + e + ":1234567" + e + "data:x" + e + e + "data:1" + e +
                               "id:22" + e + e + "retry:1234" + e + "data:y" + e + e + "data:k" + e + e;
      const auto whole = ParseWhole(text, max);
      for (std::size_t i = 0; i <= text.size(); ++i) {
        const std::string_view all(text);
        ASSERT_EQ(ParseChunks({all.substr(0, i), all.substr(i)}, max).items, whole.items)
            << "max " << max << " eol " << eol.size() << " split at " << i;
      }
      ASSERT_EQ(ParseFixedChunks(text, 1, max).items, whole.items);
      const auto events = SemanticEvents(whole.items);
      ASSERT_FALSE(events.empty());
      EXPECT_EQ(events.back().data, "k");
    }
  }
}

TEST(SseParser, DiscardedPartialLineEndingAtChunkEndIsNotABlankLine) {
  // The oversized frame's unfinished line ends exactly at a chunk boundary; the LF that starts the next
  // chunk terminates that line, it is not a blank line. "data:y" still belongs to the oversized frame.
  constexpr std::size_t kMax = 16;
  const auto out = ParseChunks({"data:" + std::string(30, 'x'), "\n", "data:y\n\n", "data:ok\n\n"}, kMax);
  const auto events = SemanticEvents(out.items);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "ok");
}

TEST(SseParser, DiscardEndsOnBlankLineSplitAcrossChunks) {
  constexpr std::size_t kMax = 16;
  const auto out =
      ParseChunks({"data:" + std::string(30, 'x') + "\r", "\n", "\r", "\n", "data:ok\r\n\r\n"}, kMax);
  const auto events = SemanticEvents(out.items);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "ok");
}

TEST(SseParser, LongCommentCountsAgainstTheLimit) {
  // A comment line longer than the limit cannot be buffered: it is reported as too large and skipped up
  // to the next blank line, whether it arrives whole or in pieces.
  constexpr std::size_t kMax = 16;
  const std::string text = ":" + std::string(40, 'c') + "\n\ndata:ok\n\n";
  for (std::size_t chunk : {std::size_t{1}, std::size_t{5}, std::size_t{20}, text.size()}) {
    const auto out = ParseFixedChunks(text, chunk, kMax);
    ASSERT_EQ(out.items.size(), 2u) << "chunk " << chunk;
    EXPECT_EQ(out.items[0], TooLarge(text.substr(0, kMax)));
    EXPECT_EQ(out.items[1], Ev("ok", std::nullopt, "data:ok\n"));
  }
}

TEST(SseParser, LongRetryLineCountsAgainstTheLimit) {
  constexpr std::size_t kMax = 16;
  const std::string text = "retry:" + std::string(40, '1') + "\ndata:lost\n\ndata:ok\n\n";
  for (std::size_t chunk : {std::size_t{1}, std::size_t{5}, std::size_t{20}, text.size()}) {
    const auto out = ParseFixedChunks(text, chunk, kMax);
    ASSERT_EQ(out.items.size(), 2u) << "chunk " << chunk;
    EXPECT_EQ(out.items[0], TooLarge(text.substr(0, kMax)));
    EXPECT_EQ(out.items[1].data, "ok");
  }
}

// ---------------------------------------------------------------------------------------------------
// Recorded node streams

struct TypeCounts {
  std::map<std::string, int> counts;
  std::vector<std::uint64_t> ids;
  int invalid_json = 0;
  int without_data = 0;
};

// Casper event type of a payload: "Shutdown" for the bare string, else the first key of the object.
std::optional<std::string> CasperType(simdjson::dom::parser& json, std::string_view payload) {
  simdjson::dom::element root;
  if (json.parse(payload.data(), payload.size()).get(root) != simdjson::SUCCESS) return std::nullopt;
  std::string_view text;
  if (root.get_string().get(text) == simdjson::SUCCESS) return std::string(text);
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS || object.begin() == object.end()) return std::nullopt;
  return std::string((*object.begin()).key);
}

TypeCounts Tally(const std::vector<Item>& items) {
  TypeCounts out;
  simdjson::dom::parser json;
  for (const Item& item : items) {
    if (item.kind != Item::Kind::kEvent) continue;
    if (!item.has_data) {
      ++out.without_data;
      continue;
    }
    auto type = CasperType(json, item.data);
    if (!type) {
      ++out.invalid_json;
      continue;
    }
    ++out.counts[*type];
    if (item.id) out.ids.push_back(std::stoull(*item.id));
  }
  return out;
}

std::vector<fs::path> RecordingFiles() {
  std::vector<fs::path> files;
  for (const char* version : {"v1", "v2"}) {
    for (const auto& entry : fs::directory_iterator(kDataDir / version)) {
      if (entry.is_regular_file() && entry.path().extension() == ".stream") files.push_back(entry.path());
    }
    for (const auto& entry : fs::recursive_directory_iterator(kDataDir / version / "raw")) {
      if (entry.is_regular_file()) files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(SseParserRecordings, DataDirectoryIsPresent) {
  ASSERT_TRUE(fs::is_directory(kDataDir)) << kDataDir;
  EXPECT_GE(RecordingFiles().size(), 9u);
}

TEST(SseParserRecordings, EveryChunkingGivesTheSameEvents) {
  constexpr std::size_t kSmallFile = 8 * 1024;
  for (const fs::path& path : RecordingFiles()) {
    SCOPED_TRACE(path.string());
    const std::string text = ReadFile(path);
    ASSERT_FALSE(text.empty());
    const auto whole = ParseWhole(text);
    ASSERT_FALSE(whole.items.empty());
    for (const Item& item : whole.items) ASSERT_NE(item.kind, Item::Kind::kTooLarge);
    if (text.size() <= kSmallFile) {
      for (std::size_t chunk = 1; chunk <= text.size(); ++chunk) {
        const auto chunked = ParseFixedChunks(text, chunk);
        ASSERT_EQ(chunked.items, whole.items) << "chunk size " << chunk;
        ASSERT_EQ(chunked.discarded, whole.discarded) << "chunk size " << chunk;
      }
    } else {
      for (std::size_t chunk : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7}, std::size_t{64},
                                std::size_t{1000}, std::size_t{4096}, std::size_t{16384}, std::size_t{65536}}) {
        const auto chunked = ParseFixedChunks(text, chunk);
        ASSERT_EQ(chunked.items, whole.items) << "chunk size " << chunk;
        ASSERT_EQ(chunked.discarded, whole.discarded) << "chunk size " << chunk;
      }
    }
    for (std::uint64_t seed = 1; seed <= 24; ++seed) {
      const auto chunked = ParseRandomChunks(text, seed * 0x9E3779B97F4A7C15ull);
      ASSERT_EQ(chunked.items, whole.items) << "seed " << seed;
      ASSERT_EQ(chunked.discarded, whole.discarded) << "seed " << seed;
    }
  }
}

TEST(SseParserRecordings, CrLfAndCrVariantsGiveTheSameEvents) {
  for (const fs::path& path : RecordingFiles()) {
    SCOPED_TRACE(path.string());
    const std::string text = ReadFile(path);
    const auto expected = SemanticEvents(ParseWhole(text).items);
    for (std::string_view eol : {"\r\n"sv, "\r"sv}) {
      const std::string variant = WithLineEnding(text, eol);
      const auto whole = ParseWhole(variant);
      EXPECT_EQ(SemanticEvents(whole.items), expected) << "eol size " << eol.size();
      for (std::uint64_t seed = 100; seed < 112; ++seed) {
        const auto chunked = ParseRandomChunks(variant, seed);
        ASSERT_EQ(chunked.items, whole.items) << "eol size " << eol.size() << " seed " << seed;
        ASSERT_EQ(chunked.discarded, whole.discarded) << "eol size " << eol.size() << " seed " << seed;
      }
      // a CR LF pair split after every CR
      std::vector<std::string_view> at_cr;
      std::size_t begin = 0;
      for (std::size_t i = 0; i < variant.size(); ++i) {
        if (variant[i] == '\r') {
          at_cr.push_back(std::string_view(variant).substr(begin, i + 1 - begin));
          begin = i + 1;
        }
      }
      at_cr.push_back(std::string_view(variant).substr(begin));
      ASSERT_EQ(ParseChunks(at_cr).items, whole.items) << "eol size " << eol.size();
    }
  }
}

TEST(SseParserRecordings, EveryPayloadIsCasperJsonWithIncreasingIds) {
  for (const fs::path& path : RecordingFiles()) {
    SCOPED_TRACE(path.string());
    const auto out = ParseWhole(ReadFile(path));
    const TypeCounts tally = Tally(out.items);
    EXPECT_EQ(tally.invalid_json, 0);
    EXPECT_EQ(tally.without_data, 0);
    EXPECT_TRUE(std::adjacent_find(tally.ids.begin(), tally.ids.end(), std::greater_equal<>()) == tally.ids.end())
        << "ids not strictly increasing";
    for (const Item& item : out.items) {
      if (item.kind == Item::Kind::kComment) {
        EXPECT_EQ(item.data, "");  // keep-alives are bare ':'
      }
      if (item.kind != Item::Kind::kEvent) continue;
      // The node sends an id with everything but ApiVersion.
      const bool api_version = item.data.starts_with("{\"ApiVersion\":");
      EXPECT_EQ(item.id.has_value(), !api_version) << item.data.substr(0, 60);
      EXPECT_EQ(item.data.find('\n'), std::string::npos);  // single-line payloads
    }
  }
}

TEST(SseParserRecordings, V1MainStreamComposition) {
  const auto out = ParseWhole(ReadFile(kDataDir / "v1" / "main.stream"));
  const TypeCounts tally = Tally(out.items);
  EXPECT_EQ(tally.invalid_json, 0);
  const std::map<std::string, int> expected = {{"ApiVersion", 1}, {"BlockAdded", 12}, {"DeployProcessed", 7},
                                               {"DeployExpired", 1}, {"Fault", 1}, {"Step", 1},
                                               {"Shutdown", 1}};
  EXPECT_EQ(tally.counts, expected);
  ASSERT_EQ(tally.ids.size(), 23u);  // ids 0..30 with gaps (other ids went to deploys/sigs)
  EXPECT_EQ(tally.ids.front(), 0u);
  EXPECT_EQ(tally.ids.back(), 30u);
  EXPECT_EQ(std::count_if(out.items.begin(), out.items.end(),
                          [](const Item& item) { return item.kind == Item::Kind::kComment; }),
            1);
  EXPECT_EQ(out.discarded, 0u);
}

TEST(SseParserRecordings, V1DeploysAndSigsStreamComposition) {
  {
    const auto out = ParseWhole(ReadFile(kDataDir / "v1" / "deploys.stream"));
    const TypeCounts tally = Tally(out.items);
    EXPECT_EQ(tally.counts, (std::map<std::string, int>{{"ApiVersion", 1}, {"DeployAccepted", 2}, {"Shutdown", 1}}));
    EXPECT_EQ(tally.ids, (std::vector<std::uint64_t>{18, 19, 30}));
  }
  {
    const auto out = ParseWhole(ReadFile(kDataDir / "v1" / "sigs.stream"));
    const TypeCounts tally = Tally(out.items);
    EXPECT_EQ(tally.counts, (std::map<std::string, int>{{"ApiVersion", 1}, {"FinalitySignature", 6}, {"Shutdown", 1}}));
    EXPECT_EQ(tally.ids.front(), 20u);
    EXPECT_EQ(tally.ids.back(), 30u);
  }
}

TEST(SseParserRecordings, V2EventsStreamComposition) {
  const auto out = ParseWhole(ReadFile(kDataDir / "v2" / "events.stream"));
  const TypeCounts tally = Tally(out.items);
  EXPECT_EQ(tally.invalid_json, 0);
  const std::map<std::string, int> expected = {
      {"ApiVersion", 1},          {"FinalitySignature", 5},    {"BlockAdded", 4}, {"Step", 1},
      {"TransactionAccepted", 2}, {"TransactionProcessed", 3}, {"TransactionExpired", 1},
      {"Fault", 1},               {"Shutdown", 1}};
  EXPECT_EQ(tally.counts, expected);
  std::vector<std::uint64_t> ids(18);
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = i;
  EXPECT_EQ(tally.ids, ids);  // ids 0..17, no gaps on the single 2.x endpoint
  EXPECT_EQ(out.discarded, 0u);
}

TEST(SseParserRecordings, JavaSdkCaptureComposition) {
  const std::string text = ReadFile(kDataDir / "v2" / "raw" / "casper-java-sdk" / "events-with-deploy.txt");
  const auto out = ParseWhole(text);
  const TypeCounts tally = Tally(out.items);
  const std::map<std::string, int> expected = {{"ApiVersion", 1},          {"FinalitySignature", 799},
                                               {"BlockAdded", 160},         {"Step", 14},
                                               {"TransactionAccepted", 1}, {"TransactionProcessed", 1}};
  EXPECT_EQ(tally.counts, expected);
  ASSERT_FALSE(tally.ids.empty());
  EXPECT_EQ(tally.ids.front(), 24249u);
  EXPECT_EQ(tally.ids.back(), 25223u);
  EXPECT_EQ(out.discarded, 0u);
}

TEST(SseParserRecordings, SidecarShutdownRestartCapture) {
  const auto out =
      ParseWhole(ReadFile(kDataDir / "v1" / "raw" / "casper-sidecar" / "usage-1.5.2-shutdown-restart.stream"));
  std::vector<std::string> sequence;
  simdjson::dom::parser json;
  for (const Item& item : out.items) {
    if (item.kind == Item::Kind::kComment) {
      sequence.push_back(":");
    } else {
      sequence.push_back(CasperType(json, item.data).value_or("?") + (item.id ? "#" + *item.id : ""));
    }
  }
  const std::vector<std::string> expected = {"ApiVersion", "BlockAdded#1", ":", "Shutdown#2", ":", ":", ":",
                                             "ApiVersion", "BlockAdded#3", ":", ":"};
  EXPECT_EQ(sequence, expected);
}

TEST(SseParserRecordings, CapturesWithoutFinalBlankLineLoseTheLastFrame) {
  // The cspr-events-store captures were cut after the last `id:` line. A conforming parser holds that
  // frame until its blank line and Finish() drops it.
  struct Case {
    const char* file;
    std::map<std::string, int> counts;
  };
  const Case cases[] = {
      {"main.events.stream", {{"ApiVersion", 1}, {"BlockAdded", 2}}},
      {"deploys.events.stream", {{"ApiVersion", 1}, {"DeployAccepted", 1}}},
      {"sigs.events.stream", {{"ApiVersion", 1}, {"FinalitySignature", 4}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    const std::string text = ReadFile(kDataDir / "v1" / "raw" / "cspr-events-store" / c.file);
    const auto out = ParseWhole(text);
    EXPECT_EQ(Tally(out.items).counts, c.counts);
    const std::size_t last_frame = text.rfind("\ndata:") + 1;
    EXPECT_EQ(out.discarded, text.size() - last_frame);
    // with the blank line added, the last frame arrives
    const auto completed = ParseWhole(text + (text.ends_with('\n') ? "\n" : "\n\n"));
    EXPECT_EQ(completed.discarded, 0u);
    EXPECT_EQ(SemanticEvents(completed.items).size(), SemanticEvents(out.items).size() + 1);
  }
}

// Each events/*.json file (minus its final newline) is byte-identical to the data of an event in the
// assembled streams of its version, and the java-sdk samples also to an event of the raw capture.
TEST(SseParserRecordings, SingleEventFilesAppearByteIdenticalInTheStreams) {
  auto payloads_of = [](const std::vector<fs::path>& files) {
    std::vector<std::string> out;
    for (const fs::path& file : files) {
      for (const Item& item : ParseWhole(ReadFile(file)).items) {
        if (item.kind == Item::Kind::kEvent) out.push_back(item.data);
      }
    }
    return out;
  };
  const auto v1 = payloads_of({kDataDir / "v1" / "main.stream", kDataDir / "v1" / "deploys.stream",
                               kDataDir / "v1" / "sigs.stream"});
  const auto v2 = payloads_of({kDataDir / "v2" / "events.stream"});
  const auto java = payloads_of({kDataDir / "v2" / "raw" / "casper-java-sdk" / "events-with-deploy.txt"});
  auto contains = [](const std::vector<std::string>& all, const std::string& payload) {
    return std::find(all.begin(), all.end(), payload) != all.end();
  };
  int checked = 0;
  for (const char* version : {"v1", "v2"}) {
    for (const auto& entry : fs::directory_iterator(kDataDir / version / "events")) {
      if (entry.path().extension() != ".json") continue;
      std::string payload = ReadFile(entry.path());
      ASSERT_TRUE(payload.ends_with('\n')) << entry.path();
      payload.pop_back();
      EXPECT_TRUE(contains(std::string_view(version) == "v1" ? v1 : v2, payload)) << entry.path();
      ++checked;
    }
  }
  EXPECT_EQ(checked, 13 + 14);
  for (const char* name : {"ApiVersion", "BlockAdded.era_end", "BlockAdded.with_deploy", "FinalitySignature", "Step",
                           "TransactionAccepted.Deploy", "TransactionProcessed.Deploy"}) {
    std::string payload = ReadFile(kDataDir / "v2" / "events" / (std::string(name) + ".json"));
    payload.pop_back();
    EXPECT_TRUE(contains(java, payload)) << name;
  }
}

}  // namespace
}  // namespace ces::sse
