#pragma once
// Incremental Server-Sent Events parser (WHATWG "event stream interpretation").
//
// Accepts what Casper nodes and other servers send: `data:` before or after `id:`, CRLF, LF or lone CR
// line endings, comments, multi-line `data`, arbitrarily long lines (bounded by max_frame_bytes), and
// chunk boundaries anywhere (inside a line, between CR and LF). The parser never copies a single-line
// payload: Event::data points into the fed chunk or into the parser's own buffer.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ces::sse {

inline constexpr std::size_t kDefaultMaxFrameBytes = 256u * 1024u * 1024u;

// One dispatched frame. Views are valid only during the Handler callback.
struct Event {
  std::string_view data;               // `data` lines joined with '\n' (one leading space per line removed)
  std::optional<std::string_view> id;  // value of the last `id` field, if the frame had one
  std::string_view event_type;         // value of the `event` field (Casper nodes send none)
  bool has_data = false;               // at least one `data` field was present
  std::string_view raw;                // the frame's bytes as received, without the terminating blank line
};

class Handler {
 public:
  virtual ~Handler() = default;
  // A frame ended by a blank line that held at least one field line (comments alone are not frames).
  virtual void OnEvent(const Event& event) = 0;
  // A comment line (`:` + text); `text` excludes the colon. Nodes send `:` alone as keep-alive.
  virtual void OnComment(std::string_view /*text*/) {}
  // A frame grew past max_frame_bytes; its bytes are skipped up to the next blank line.
  // `prefix` is the start of the frame (at most max_frame_bytes) for dead-lettering.
  virtual void OnFrameTooLarge(std::string_view /*prefix*/) {}
};

class Parser {
 public:
  explicit Parser(Handler& handler, std::size_t max_frame_bytes = kDefaultMaxFrameBytes);

  // Feeds the next bytes of the stream; calls the handler for every frame completed by them.
  void Feed(std::string_view chunk);
  // End of stream. A frame without its terminating blank line is discarded (as the SSE standard says);
  // returns the number of bytes discarded.
  std::size_t Finish();
  // Bytes held for an incomplete frame.
  std::size_t BufferedBytes() const { return buffer_.size(); }
  // Forget all state (for a new connection).
  void Reset();

 private:
  struct Span {
    std::size_t offset;
    std::size_t length;
  };
  void Process(std::string_view input);
  void HandleLine(std::string_view input, std::size_t line_begin, std::size_t line_end);
  void Dispatch(std::string_view input, std::size_t frame_end);
  void ClearFrame();

  Handler& handler_;
  std::size_t max_frame_bytes_;
  std::string buffer_;         // unconsumed bytes of an incomplete frame
  std::string joined_;         // scratch for multi-line data
  std::size_t frame_start_ = 0;  // offsets within the current input
  std::size_t line_start_ = 0;
  std::size_t scan_from_ = 0;  // where to resume looking for a line end
  bool skip_lf_ = false;       // previous chunk ended with CR: a leading LF belongs to it
  bool discarding_ = false;    // inside an oversized frame, skipping to the next blank line
  std::vector<Span> data_lines_;
  std::optional<Span> id_;
  std::optional<Span> event_type_;
  bool frame_has_fields_ = false;
  bool partial_line_nonempty_ = false;  // discarding: the unfinished line already had bytes
};

}  // namespace ces::sse
