#include "ces/sse/parser.hpp"

#include <cstring>

namespace ces::sse {

Parser::Parser(Handler& handler, std::size_t max_frame_bytes)
    : handler_(handler), max_frame_bytes_(max_frame_bytes) {}

void Parser::Reset() {
  buffer_.clear();
  ClearFrame();
  frame_start_ = line_start_ = scan_from_ = 0;
  skip_lf_ = false;
  discarding_ = false;
  partial_line_nonempty_ = false;
}

void Parser::ClearFrame() {
  data_lines_.clear();
  id_.reset();
  event_type_.reset();
  frame_has_fields_ = false;
}

void Parser::Feed(std::string_view chunk) {
  if (chunk.empty()) return;
  // The previous chunk ended with CR: a leading LF completes that CR LF line end.
  const bool lf_completes_cr = skip_lf_ && chunk.front() == '\n';
  skip_lf_ = false;
  if (buffer_.empty()) {
    if (lf_completes_cr) chunk.remove_prefix(1);
    if (!chunk.empty()) Process(chunk);
  } else {
    buffer_.append(chunk);
    if (lf_completes_cr) {
      // Keep the LF in the buffered frame (so Event::raw is the bytes as received) and step over it:
      // the CR already ended the line, so line_start_ == scan_from_ == the LF's offset.
      ++line_start_;
      ++scan_from_;
    }
    Process(buffer_);
  }
}

std::size_t Parser::Finish() {
  std::size_t discarded = buffer_.size();
  Reset();
  return discarded;
}

namespace {

// Capacity the frame buffer keeps between frames.
constexpr std::size_t kKeptBufferBytes = 1024 * 1024;

// Position of the first `c` in [from, n), or n.
std::size_t FindByte(const char* base, std::size_t from, std::size_t n, char c) {
  const void* hit = std::memchr(base + from, c, n - from);
  return hit ? static_cast<std::size_t>(static_cast<const char*>(hit) - base) : n;
}

}  // namespace

void Parser::Process(std::string_view input) {
  const char* base = input.data();
  const std::size_t n = input.size();
  std::size_t pos = scan_from_;
  // Next LF and CR at or after pos (n: none). Each is searched again only once pos has passed it, so
  // every byte is scanned at most once per character whatever the mix of line endings.
  std::size_t lf = pos < n ? FindByte(base, pos, n, '\n') : n;
  std::size_t cr = pos < n ? FindByte(base, pos, n, '\r') : n;
  while (pos < n) {
    if (lf < pos) lf = FindByte(base, pos, n, '\n');
    if (cr < pos) cr = FindByte(base, pos, n, '\r');
    const std::size_t end = lf < cr ? lf : cr;
    if (end == n) break;
    std::size_t next = end + 1;
    if (end == cr) {
      if (next < n) {
        if (base[next] == '\n') ++next;
      } else {
        skip_lf_ = true;  // CR ends the chunk: an LF starting the next chunk belongs to this line end
      }
    }
    HandleLine(input, line_start_, end);
    line_start_ = next;
    pos = next;
    if (!frame_has_fields_) frame_start_ = line_start_;
  }

  if (discarding_) {
    partial_line_nonempty_ = partial_line_nonempty_ || line_start_ < n;
    buffer_.clear();
    frame_start_ = line_start_ = scan_from_ = 0;
    ClearFrame();
    return;
  }
  if (n - frame_start_ > max_frame_bytes_) {
    handler_.OnFrameTooLarge(input.substr(frame_start_, max_frame_bytes_));
    discarding_ = true;
    partial_line_nonempty_ = line_start_ < n;
    buffer_.clear();
    frame_start_ = line_start_ = scan_from_ = 0;
    ClearFrame();
    return;
  }
  // Keep the incomplete frame; rebase offsets so they are relative to buffer_.
  const std::size_t shift = frame_start_;
  for (Span& span : data_lines_) span.offset -= shift;
  if (id_) id_->offset -= shift;
  if (event_type_) event_type_->offset -= shift;
  line_start_ -= shift;
  scan_from_ = n - shift;
  frame_start_ = 0;
  if (input.data() == buffer_.data()) {
    buffer_.erase(0, shift);
  } else {
    buffer_.assign(input.substr(shift));
  }
  // A multi-MB frame (a Step) grew the buffer: give that memory back once the frame is through.
  if (buffer_.capacity() > kKeptBufferBytes && buffer_.size() < kKeptBufferBytes / 2) buffer_.shrink_to_fit();
}

void Parser::HandleLine(std::string_view input, std::size_t line_begin, std::size_t line_end) {
  const bool empty = line_end == line_begin && !partial_line_nonempty_;
  partial_line_nonempty_ = false;
  if (discarding_) {
    if (empty) discarding_ = false;
    return;
  }
  if (empty) {
    if (frame_has_fields_) Dispatch(input, line_begin);
    ClearFrame();
    return;
  }
  // The frame so far (or a comment/retry line before its first field) is too large. Checking every line,
  // not only at the end of a chunk, makes the outcome independent of how the stream was chunked.
  if (line_end - frame_start_ > max_frame_bytes_) {
    handler_.OnFrameTooLarge(input.substr(frame_start_, max_frame_bytes_));
    ClearFrame();
    discarding_ = true;
    return;
  }
  std::string_view line = input.substr(line_begin, line_end - line_begin);
  if (line.front() == ':') {
    handler_.OnComment(line.substr(1));
    return;
  }
  std::size_t colon = line.find(':');
  std::string_view name = colon == std::string_view::npos ? line : line.substr(0, colon);
  std::size_t value_offset = colon == std::string_view::npos ? line.size() : colon + 1;
  if (value_offset < line.size() && line[value_offset] == ' ') ++value_offset;
  Span value{line_begin + value_offset, line.size() - value_offset};
  if (name == "data") {
    data_lines_.push_back(value);
    frame_has_fields_ = true;
  } else if (name == "id") {
    if (input.substr(value.offset, value.length).find('\0') == std::string_view::npos) id_ = value;
    frame_has_fields_ = true;
  } else if (name == "event") {
    event_type_ = value;
    frame_has_fields_ = true;
  } else if (name == "retry") {
    // Reconnection time hint: not part of an event.
  } else {
    frame_has_fields_ = true;  // unknown field: the frame is reported so the caller can reject it
  }
}

void Parser::Dispatch(std::string_view input, std::size_t blank_line_begin) {
  Event event;
  event.raw = input.substr(frame_start_, blank_line_begin - frame_start_);
  if (event.raw.size() > max_frame_bytes_) {
    handler_.OnFrameTooLarge(event.raw.substr(0, max_frame_bytes_));
    return;
  }
  if (data_lines_.size() == 1) {
    event.data = input.substr(data_lines_[0].offset, data_lines_[0].length);
  } else if (data_lines_.size() > 1) {
    joined_.clear();
    for (std::size_t i = 0; i < data_lines_.size(); ++i) {
      if (i > 0) joined_.push_back('\n');
      joined_.append(input.substr(data_lines_[i].offset, data_lines_[i].length));
    }
    event.data = joined_;
  }
  event.has_data = !data_lines_.empty();
  if (id_) event.id = input.substr(id_->offset, id_->length);
  if (event_type_) event.event_type = input.substr(event_type_->offset, event_type_->length);
  handler_.OnEvent(event);
}

}  // namespace ces::sse
