// libFuzzer target for ces::sse::Parser.
//
// The input is a byte stream plus, taken from its tail, a frame limit and a chunking plan. Checked:
//  * no crash, no out-of-bounds access (ASan/UBSan), every view handed to the handler is readable;
//  * views lie where they must: raw/id/event/single-line data inside the fed bytes (one-chunk feed),
//    raw never longer than max_frame_bytes, too-large prefixes exactly max_frame_bytes long;
//  * BufferedBytes() never exceeds max_frame_bytes after a Feed;
//  * one chunk, the fuzzer-chosen chunking and (for small inputs) byte-by-byte feeding report the same
//    callbacks and Finish() results;
//  * without a frame limit in play, the callbacks equal those of a straightforward reference parser
//    written from the WHATWG event-stream rules.

#include "ces/sse/parser.hpp"
#include "fuzz_check.hpp"

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using ces::sse::Event;
using ces::sse::Handler;
using ces::sse::Parser;

using ces::fuzz::Check;

bool Within(std::string_view inner, std::string_view outer) {
  if (inner.empty()) return true;
  const auto begin = reinterpret_cast<std::uintptr_t>(outer.data());
  const auto at = reinterpret_cast<std::uintptr_t>(inner.data());
  return at >= begin && at + inner.size() <= begin + outer.size();
}

struct Item {
  enum class Kind { kEvent, kComment, kTooLarge };
  Kind kind = Kind::kEvent;
  std::string data;
  std::optional<std::string> id;
  std::string event_type;
  bool has_data = false;
  std::string raw;
  bool operator==(const Item&) const = default;
};

struct Outcome {
  std::vector<Item> items;
  std::size_t discarded = 0;
  bool operator==(const Outcome&) const = default;
};

struct Recorder : Handler {
  Recorder(std::size_t limit, std::string_view input)
      : max_frame_bytes(limit), whole_input(input) {}

  void OnEvent(const Event& event) override {
    Check(event.raw.size() <= max_frame_bytes, "raw longer than max_frame_bytes");
    Check(event.has_data || event.data.empty(), "data without has_data");
    Check(event.data.size() <= event.raw.size(), "data longer than raw");
    if (!whole_input.empty()) {
      Check(Within(event.raw, whole_input), "raw outside the input");
      if (event.id) Check(Within(*event.id, event.raw), "id outside raw");
      Check(Within(event.event_type, event.raw), "event type outside raw");
    }
    Item item;
    item.kind = Item::Kind::kEvent;
    item.data.assign(event.data);  // copying reads every byte: ASan checks the views
    if (event.id) item.id = std::string(*event.id);
    item.event_type.assign(event.event_type);
    item.has_data = event.has_data;
    item.raw.assign(event.raw);
    outcome.items.push_back(std::move(item));
  }
  void OnComment(std::string_view text) override {
    if (!whole_input.empty()) Check(Within(text, whole_input), "comment outside the input");
    Item item;
    item.kind = Item::Kind::kComment;
    item.data.assign(text);
    outcome.items.push_back(std::move(item));
  }
  void OnFrameTooLarge(std::string_view prefix) override {
    Check(prefix.size() == max_frame_bytes, "too-large prefix is not max_frame_bytes long");
    if (!whole_input.empty()) Check(Within(prefix, whole_input), "prefix outside the input");
    Item item;
    item.kind = Item::Kind::kTooLarge;
    item.data.assign(prefix);
    outcome.items.push_back(std::move(item));
  }

  std::size_t max_frame_bytes;
  std::string_view whole_input;  // set when the input is fed as one chunk
  Outcome outcome;
};

Outcome ParseWhole(std::string_view stream, std::size_t max_frame_bytes) {
  // A private copy so that a view escaping into foreign memory is reported by ASan.
  const std::string copy(stream);
  Recorder recorder(max_frame_bytes, copy);
  Parser parser(recorder, max_frame_bytes);
  parser.Feed(copy);
  Check(parser.BufferedBytes() <= max_frame_bytes, "buffered more than max_frame_bytes");
  recorder.outcome.discarded = parser.Finish();
  Check(parser.BufferedBytes() == 0, "Finish left bytes buffered");
  return std::move(recorder.outcome);
}

Outcome ParseChunked(std::string_view stream, std::size_t max_frame_bytes, const std::vector<std::size_t>& sizes) {
  Recorder recorder(max_frame_bytes, {});
  Parser parser(recorder, max_frame_bytes);
  std::size_t pos = 0;
  std::size_t i = 0;
  while (pos < stream.size()) {
    const std::size_t size = sizes.empty() ? 1 : sizes[i++ % sizes.size()];
    const std::string piece(stream.substr(pos, size));  // own allocation per chunk
    parser.Feed(piece);
    Check(parser.BufferedBytes() <= max_frame_bytes, "buffered more than max_frame_bytes");
    pos += piece.size();
    if (i > 16 * stream.size() + 64) break;  // all-zero plan: stop feeding empty chunks
  }
  if (pos < stream.size()) parser.Feed(stream.substr(pos));
  recorder.outcome.discarded = parser.Finish();
  return std::move(recorder.outcome);
}

// Reference: the WHATWG "interpret an event stream" rules, plus this parser's reporting conventions
// (frames without data are reported, `retry` is not a frame field, raw starts at the first field line).
Outcome Reference(std::string_view s) {
  Outcome out;
  std::vector<std::string_view> data_lines;
  std::optional<std::string_view> id;
  std::string_view event_type;
  bool has_fields = false;
  std::size_t frame_start = 0;
  std::size_t pos = 0;
  while (true) {
    const std::size_t end = s.find_first_of("\r\n", pos);
    if (end == std::string_view::npos) break;
    std::size_t next = end + 1;
    if (s[end] == '\r' && next < s.size() && s[next] == '\n') ++next;
    const std::string_view line = s.substr(pos, end - pos);
    if (line.empty()) {
      if (has_fields) {
        Item item;
        for (std::size_t i = 0; i < data_lines.size(); ++i) {
          if (i > 0) item.data.push_back('\n');
          item.data.append(data_lines[i]);
        }
        if (id) item.id = std::string(*id);
        item.event_type = std::string(event_type);
        item.has_data = !data_lines.empty();
        item.raw = std::string(s.substr(frame_start, pos - frame_start));
        out.items.push_back(std::move(item));
      }
      data_lines.clear();
      id.reset();
      event_type = {};
      has_fields = false;
    } else if (line.front() == ':') {
      Item item;
      item.kind = Item::Kind::kComment;
      item.data = std::string(line.substr(1));
      out.items.push_back(std::move(item));
    } else {
      const std::size_t colon = line.find(':');
      const std::string_view name = line.substr(0, colon);
      std::string_view value = colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (name != "retry") {
        if (!has_fields) frame_start = pos;
        has_fields = true;
        if (name == "data") data_lines.push_back(value);
        if (name == "id" && value.find('\0') == std::string_view::npos) id = value;
        if (name == "event") event_type = value;
      }
    }
    pos = next;
  }
  out.discarded = s.size() - (has_fields ? frame_start : pos);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider provider(data, size);
  // Parameters come from the tail of the input, so a recorded stream used as a seed stays mostly intact.
  std::size_t max_frame_bytes = ces::sse::kDefaultMaxFrameBytes;
  const std::uint8_t mode = provider.ConsumeIntegral<std::uint8_t>();
  if (mode & 1u) max_frame_bytes = provider.ConsumeIntegralInRange<std::size_t>(0, (mode & 2u) ? 64 : 4096);
  std::vector<std::size_t> sizes;
  const std::size_t plan_length = provider.ConsumeIntegralInRange<std::size_t>(0, 24);
  const std::size_t largest = (mode & 4u) ? 16 : 1024;
  for (std::size_t i = 0; i < plan_length; ++i) {
    sizes.push_back(provider.ConsumeIntegralInRange<std::size_t>(0, largest));
  }
  const std::string stream = provider.ConsumeRemainingBytesAsString();

  const Outcome whole = ParseWhole(stream, max_frame_bytes);
  Check(ParseChunked(stream, max_frame_bytes, sizes) == whole, "chunked feed differs from one-chunk feed");
  if (stream.size() <= 4096) {
    Check(ParseChunked(stream, max_frame_bytes, {}) == whole, "byte-by-byte feed differs from one-chunk feed");
  }
  // Without the limit in play the parser must agree with the reference.
  if (stream.size() <= max_frame_bytes) Check(Reference(stream) == whole, "differs from the reference parser");
  return 0;
}
