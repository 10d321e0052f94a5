#pragma once
// Private to ces::http: the bytes of the async server's responses. From the handler's status, type,
// body and headers and what the request asked for: 304 against If-None-Match, gzip, CORS and Vary
// headers, framing (Content-Length or chunked), keep-alive, HEAD without a body.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ces/http/async_server.hpp"
#include "gzip_cache.hpp"
#include "request_parser.hpp"

namespace ces::http::detail {

// What the server needs to know about the current request to shape its response.
struct RequestInfo {
  bool head = false;
  bool http10 = false;
  bool keep_alive = true;
  bool accept_gzip = false;
  bool has_if_none_match = false;
  std::string cors_origin;  // allowed Origin to echo; empty: no CORS headers
  std::string if_none_match;
  MethodCode method = kOther;
};

// Whether If-None-Match `if_none_match` (a list, or "*") matches `etag` (weak comparison).
bool EtagMatches(std::string_view if_none_match, std::string_view etag);
// Whether a body of `content_type` is worth compressing (JSON, text, JavaScript, SVG).
bool Compressible(std::string_view content_type);
// Appends the decimal digits of `value`.
void AppendNumber(std::string& out, std::uint64_t value);

class ResponseBuilder {
 public:
  // Uses options.cors_origins (non-empty: the server manages CORS headers), gzip and gzip_min_bytes.
  explicit ResponseBuilder(const AsyncServerOptions& options);

  // A complete response (or, with `stream`, the head of a chunked one). `status` may become 304.
  std::string Build(const RequestInfo& info, int& status, std::string_view content_type, std::string_view body,
                    const Headers& headers, bool stream) const;

 private:
  const bool cors_managed_;
  const bool gzip_;
  const std::size_t gzip_min_bytes_;
  mutable GzipCache gzip_cache_{16u * 1024u * 1024u};  // bodies with an ETag, compressed once
};

}  // namespace ces::http::detail
