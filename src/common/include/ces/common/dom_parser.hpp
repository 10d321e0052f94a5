#pragma once
// A simdjson DOM parser kept per thread (`thread_local json::DomParser parser;`) that does not keep
// the memory of a rare large document: simdjson sizes its buffers for the largest document parsed so
// far (tape, string buffer and structural index: about 14x the document) and keeps them, so one 8 MiB
// Step left a service with tens of MB it no longer used. After a document larger than kKeepBytes,
// the parser gives that memory back once the caller is done with the document.

#include <simdjson.h>

#include <cstddef>
#include <string_view>

namespace ces::json {

class DomParser {
 public:
  // Documents up to this size keep the parser's buffers (no allocation per document). Kept for a
  // 256 KiB document, they were 3.5 MB of an idle api's 6 MB heap; the events above 64 KiB (1.x
  // blocks with an era report or a Step) are about 1 % of the 1.x mix.
  static constexpr std::size_t kKeepBytes = 64 * 1024;

  // One parse: `root` is valid while it lives (and no other Parse of the same parser runs); when it
  // goes, a document larger than kKeepBytes has its buffers freed.
  class Parsed {
   public:
    ~Parsed();
    Parsed(const Parsed&) = delete;
    Parsed& operator=(const Parsed&) = delete;

    simdjson::error_code error = simdjson::SUCCESS;
    simdjson::dom::element root;

   private:
    friend class DomParser;
    Parsed(DomParser& owner, std::string_view json);
    DomParser& owner_;
    std::size_t size_;
  };

  // Parses `json` (copied into a padded buffer when its end is too close to a page boundary).
  [[nodiscard]] Parsed Parse(std::string_view json);

  // Bytes the parser holds for its documents (0 before the first parse and after a large one).
  std::size_t Capacity() const { return parser_.capacity(); }

 private:
  simdjson::dom::parser parser_;
};

}  // namespace ces::json
