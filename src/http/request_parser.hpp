#pragma once
// Internal to ces::http (not installed): HTTP/1.1 request parsing for the async server, apart from its
// I/O so that it can be tested and fuzzed on its own (bytes in; a Request, or the error to answer,
// out), and the small text helpers the two servers share.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ces/http/server.hpp"

namespace ces::metrics {
class Registry;
}

namespace ces::http {

// ---- Text ----

// "Not Found" for 404 ("Unknown" for a status without a phrase here).
const char* ReasonPhrase(int status);
char LowerAscii(char c);
bool IEquals(std::string_view a, std::string_view b);
bool IStartsWith(std::string_view text, std::string_view prefix);
// Without leading spaces/tabs and trailing spaces/tabs/CR.
std::string_view TrimSpace(std::string_view text);

// Calls fn(piece) for each trimmed, non-empty comma-separated piece; stops when fn returns true.
template <typename Fn>
bool AnyListItem(std::string_view value, Fn&& fn) {
  std::size_t start = 0;
  while (start <= value.size()) {
    std::size_t comma = value.find(',', start);
    if (comma == std::string_view::npos) comma = value.size();
    std::string_view piece = TrimSpace(value.substr(start, comma - start));
    if (!piece.empty() && fn(piece)) return true;
    start = comma + 1;
  }
  return false;
}

// Whether a comma-separated header value holds `token` (case-insensitive).
bool HasToken(std::string_view value, std::string_view token);
// Whether an Accept-Encoding value allows gzip (explicitly or by "*", and not with q=0).
bool AcceptsGzip(std::string_view value);
// Position just past the blank line that ends the header block, or npos.
std::size_t FindHeaderEnd(std::string_view buffer);

// ---- Requests ----

enum MethodCode : std::uint8_t { kOther, kGet, kHead, kPost, kPut, kDelete, kPatch, kOptions };
MethodCode CodeOf(std::string_view method);

struct RequestLimits {
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 1024 * 1024;
};

// What the server needs besides the Request to shape its response (filled as far as parsed, also on
// an error: an HTTP/1.0 client gets an HTTP/1.0 error).
struct RequestHead {
  MethodCode method = kOther;
  bool http10 = false;
  bool keep_alive = true;
  bool expect_continue = false;  // "Expect: 100-continue" on HTTP/1.1, the body not received yet
};

enum class ParseOutcome : std::uint8_t {
  kIncomplete,  // more bytes are needed
  kComplete,    // one request: `consumed` bytes of the input (after `skipped`)
  kError,       // answer `status` with `message`, then close the connection
};

struct ParseResult {
  ParseOutcome outcome = ParseOutcome::kIncomplete;
  std::size_t skipped = 0;   // empty lines before the request line (RFC 9112 2.2): drop them in any case
  std::size_t consumed = 0;  // kComplete: head and body, counted from `skipped`
  int status = 0;            // kError: 400, 411, 413, 431 or 505
  const char* message = "";  // kError
};

// PercentDecode and ParseQuery (ces/http/server.hpp) are defined with the parser (request_parser.cpp).

// Parses the request at the start of `input`. Fills `request` (method, target, headers with lower-case
// names and repeated ones joined by ", ", body; path, query, params and route are cleared: the server
// fills them from the target) and `head`. Never throws for any input; reads nothing past `input`.
ParseResult ParseRequest(std::string_view input, const RequestLimits& limits, Request& request, RequestHead& head);

// ---- Routes both servers add (server.cpp) ----

// /healthz, /readyz and /metrics as (pattern, handler) for GET.
std::vector<std::pair<std::string, RouteHandler>> ObservabilityHandlers(const metrics::Registry& registry,
                                                                        std::function<bool(std::string& reason)> ready);

}  // namespace ces::http
