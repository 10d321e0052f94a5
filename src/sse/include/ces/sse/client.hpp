#pragma once
// Blocking SSE client over libcurl: GETs a URL and feeds the response body into a Parser until the
// server closes the stream, an error occurs, nothing arrives for idle_timeout, or should_stop() is true.

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

#include "ces/sse/parser.hpp"

namespace ces::sse {

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{5000};
  // No byte (not even a keep-alive comment) for this long ends the stream. Nodes send one every ~15 s.
  std::chrono::milliseconds idle_timeout{60000};
  std::size_t max_frame_bytes = kDefaultMaxFrameBytes;
  std::string user_agent = "casper-event-store";
};

enum class StreamEnd {
  kClosed,        // the server ended the response normally
  kHttpError,     // non-2xx status (see http_status, body)
  kNetworkError,  // connect failure, reset, ... (see error)
  kIdleTimeout,   // nothing received for idle_timeout
  kStopped,       // should_stop() returned true
};

struct StreamResult {
  StreamEnd end = StreamEnd::kClosed;
  long http_status = 0;
  std::string error;        // curl's message for network errors
  std::string body;         // the first bytes of a non-2xx response body
  std::size_t bytes = 0;    // body bytes received
  std::size_t discarded = 0;  // bytes of an unterminated last frame
};

const char* ToString(StreamEnd end);

// Streams `url` into `handler`. `should_stop` is polled at least every 100 ms.
StreamResult Stream(const std::string& url, Handler& handler, const ClientOptions& options,
                    const std::function<bool()>& should_stop);

// Plain GET returning status and body (for /status and tests). Throws std::runtime_error on network errors.
std::pair<long, std::string> Get(const std::string& url, std::chrono::milliseconds timeout);

}  // namespace ces::sse
