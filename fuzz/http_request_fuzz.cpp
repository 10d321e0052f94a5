// libFuzzer target for the async HTTP server's request parsing (src/http/request_parser.hpp): the bytes
// a client sends, parsed as the server does — requests one after another from one buffer (pipelining),
// then the target's path and query decoded and the header lists read. Checked: no crash or sanitizer
// report; a complete request lies within the input and parsing it again with more bytes after it gives
// the same request; an error is one of the statuses the server answers with a message; a buffer that
// stays incomplete is within the header limit or waits for a body within the body limit.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ces/http/server.hpp"
#include "request_parser.hpp"
#include "fuzz_check.hpp"

namespace {

using ces::http::ParseOutcome;
using ces::http::ParseResult;
using ces::http::Request;
using ces::http::RequestHead;
using ces::http::RequestLimits;

using ces::fuzz::Check;

// Small limits so that 431 and 413 are reached within -max_len.
constexpr RequestLimits kLimits{4096, 8192};

bool SameRequest(const Request& a, const Request& b) {
  return a.method == b.method && a.target == b.target && a.headers == b.headers && a.body == b.body;
}

void Use(const Request& request) {
  const std::string_view target = request.target;
  const std::size_t question = target.find('?');
  const std::string path = ces::http::PercentDecode(target.substr(0, question), false);
  Check(path.size() <= target.size(), "decoding made the path longer");
  if (question != std::string_view::npos) {
    for (const auto& [key, value] : ces::http::ParseQuery(target.substr(question + 1))) {
      Check(key.size() + value.size() < target.size(), "a query pair longer than the target");
    }
  }
  for (const auto& [name, value] : request.headers) {
    Check(!name.empty(), "empty header name");
    for (char c : name) Check(!(c >= 'A' && c <= 'Z'), "header name not lower-case");
    (void)ces::http::AcceptsGzip(value);
    (void)ces::http::HasToken(value, "close");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  Request request;  // reused, as the server reuses one per connection
  RequestHead head;
  for (int n = 0; n < 64; ++n) {
    const ParseResult result = ces::http::ParseRequest(input, kLimits, request, head);
    Check(result.skipped <= input.size(), "skipped past the input");
    const std::string_view rest = input.substr(result.skipped);
    switch (result.outcome) {
      case ParseOutcome::kIncomplete: {
        const std::size_t header_end = ces::http::FindHeaderEnd(rest);
        if (header_end == std::string_view::npos) {
          Check(rest.size() <= kLimits.max_header_bytes, "incomplete header block past the limit");
        } else {
          Check(header_end <= kLimits.max_header_bytes, "incomplete with a header block past the limit");
          Check(rest.size() - header_end < kLimits.max_body_bytes, "incomplete with a body past the limit");
        }
        Check(!head.expect_continue || !head.http10, "100-continue for HTTP/1.0");
        return 0;
      }
      case ParseOutcome::kError:
        Check(result.status == 400 || result.status == 411 || result.status == 413 || result.status == 431 ||
                  result.status == 505,
              "unexpected error status");
        Check(result.message != nullptr && result.message[0] != '\0', "error without a message");
        return 0;
      case ParseOutcome::kComplete: {
        Check(result.consumed > 0 && result.consumed <= rest.size(), "consumed outside the input");
        Check(!request.method.empty() && !request.target.empty(), "empty method or target");
        Check(request.method.find(' ') == std::string::npos, "space in the method");
        Check(request.body.size() <= kLimits.max_body_bytes, "body past the limit");
        Check(head.method != ces::http::kHead || request.method == "HEAD", "method code does not match");
        // The same request with other bytes after it (a pipelined request, garbage) parses the same.
        const std::string longer = std::string(rest.substr(0, result.consumed)) + "\r\nGET / HTTP/1.1\r\n";
        Request again;
        RequestHead again_head;
        const ParseResult second = ces::http::ParseRequest(longer, kLimits, again, again_head);
        Check(second.outcome == ParseOutcome::kComplete && second.skipped == 0 &&
                  second.consumed == result.consumed,
              "bytes after a complete request changed its length");
        Check(SameRequest(again, request), "bytes after a complete request changed it");
        Check(again_head.keep_alive == head.keep_alive && again_head.http10 == head.http10,
              "bytes after a complete request changed its head");
        Use(request);
        input = rest.substr(result.consumed);
        break;
      }
    }
  }
  return 0;
}
