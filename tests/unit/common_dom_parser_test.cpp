// ces::json::DomParser: a per-thread simdjson parser that gives back what a large document took.
#include "ces/common/dom_parser.hpp"

#include <gtest/gtest.h>
#include <malloc.h>

#include <cstddef>
#include <cstdlib>
#include <string>

namespace ces::json {
namespace {

// Bytes malloc has handed out and not had back (heap and separately mapped blocks).
std::size_t HeapInUse() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

// Whether mallinfo2 counts this process's allocations: not under a sanitizer, whose allocator replaces
// glibc's (mallinfo2 then reports 0).
bool HeapIsCounted() {
  const std::size_t before = HeapInUse();
  auto* block = static_cast<char*>(std::malloc(1 << 20));
  block[0] = 1;
  const bool counted = HeapInUse() >= before + (1 << 20);
  std::free(block);
  return counted;
}

// A JSON array of `n` short strings: a document of about 12 * n bytes.
std::string Array(std::size_t n) {
  std::string out = "[";
  for (std::size_t i = 0; i < n; ++i) out += (i ? ",\"" : "\"") + std::to_string(100000 + i) + "\"";
  return out + "]";
}

TEST(CommonDomParser, KeepsItsBuffersForSmallDocuments) {
  DomParser parser;
  const std::string doc = Array(100);
  {
    const auto parsed = parser.Parse(doc);
    ASSERT_EQ(parsed.error, simdjson::SUCCESS);
    EXPECT_EQ(parsed.root.get_array().size(), 100u);
  }
  const std::size_t capacity = parser.Capacity();
  EXPECT_GE(capacity, doc.size());
  const auto again = parser.Parse(R"({"a":1})");
  ASSERT_EQ(again.error, simdjson::SUCCESS);
  EXPECT_EQ(parser.Capacity(), capacity);
}

TEST(CommonDomParser, GivesBackTheMemoryOfALargeDocument) {
  DomParser parser;
  const std::string doc = Array(200000);  // ~2.4 MB
  ASSERT_GT(doc.size(), DomParser::kKeepBytes);
  const bool counted = HeapIsCounted();  // else only the parser's own capacity is checked
  const std::size_t before = HeapInUse();
  {
    const auto parsed = parser.Parse(doc);
    ASSERT_EQ(parsed.error, simdjson::SUCCESS);
    // The document stays readable until the parse goes.
    EXPECT_EQ(parsed.root.get_array().size(), 200000u);
    EXPECT_EQ(std::string_view(parsed.root.at(199999)), "299999");
    EXPECT_GE(parser.Capacity(), doc.size());
    if (counted) {
      EXPECT_GT(HeapInUse(), before + 8 * doc.size());  // tape, strings, structural index
    }
  }
  EXPECT_EQ(parser.Capacity(), 0u);
  if (counted) {
    EXPECT_LT(HeapInUse(), before + 64 * 1024);
  }
  // And the parser still works.
  const auto small = parser.Parse(R"(["x"])");
  ASSERT_EQ(small.error, simdjson::SUCCESS);
  EXPECT_EQ(std::string_view(small.root.at(0)), "x");
}

TEST(CommonDomParser, ReportsInvalidJson) {
  DomParser parser;
  EXPECT_NE(parser.Parse("{\"a\":").error, simdjson::SUCCESS);
  const std::string large = Array(50000) + ",";
  EXPECT_NE(parser.Parse(large).error, simdjson::SUCCESS);
  EXPECT_EQ(parser.Capacity(), 0u);
}

}  // namespace
}  // namespace ces::json
