#pragma once
// A small HTTP/1.1 server for the services' own endpoints (/healthz, /readyz, /metrics) and for the
// fake node (`emit`). One thread per connection: fine for tens of clients, not for thousands (the
// public API server is a separate, asynchronous component).

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ces::metrics {
class Registry;
}

namespace ces::http {

struct Request {
  std::string method;
  std::string target;  // as received: path + optional "?query"
  std::string path;    // percent-decoded path without the query
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order (repeatable keys)
  std::map<std::string, std::string> headers;              // lower-case names
  std::string body;
  std::map<std::string, std::string> params;  // path parameters of the matched pattern (AsyncServer)
  std::string route;                          // the matched pattern ("/api/v1/blocks/{hash}"); AsyncServer

  // First value of a query parameter, or nullptr.
  const std::string* QueryValue(std::string_view key) const;
  // A path parameter, or nullptr.
  const std::string* Param(std::string_view key) const;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;
  // A complete response with Content-Length. Returns false if the client is gone.
  virtual bool Send(int status, std::string_view content_type, std::string_view body, const Headers& headers = {}) = 0;
  // Starts a streamed response (chunked transfer encoding); follow with WriteChunk calls.
  virtual bool StartStream(int status, std::string_view content_type, const Headers& headers = {}) = 0;
  // Writes one piece of a streamed response. Returns false if the client is gone or the server stops.
  virtual bool WriteChunk(std::string_view data) = 0;
  // True once the server is stopping or the connection was dropped (streams should end). During a
  // stream also true once the client has closed the connection. Streaming handlers must return soon
  // after Cancelled() turns true or WriteChunk fails: Stop() waits for them.
  virtual bool Cancelled() const = 0;
  // Ends a streamed response abruptly: the connection is closed without the terminating chunk, as when
  // a server dies mid-stream (fault injection). The default does nothing.
  virtual void Abort() {}
};

using RouteHandler = std::function<void(const Request&, ResponseWriter&)>;

class Server {
 public:
  // Listens on host:port (port 0 picks a free port; see Port()).
  Server(std::string host, std::uint16_t port);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Exact-path route for a method ("GET", "POST", ...). HEAD is served by the GET route.
  void Route(std::string method, std::string path, RouteHandler handler);
  // Fallback for paths without a route (default: 404 text).
  void SetNotFound(RouteHandler handler);

  void Start();  // binds and starts accepting; throws std::runtime_error if it cannot bind
  std::uint16_t Port() const;
  // Drops every open connection (streams see Cancelled()), keeps listening. For fault injection.
  void DropConnections();
  // Stops accepting, cancels open connections and waits for their threads to finish.
  void Stop();
  std::size_t OpenConnections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Percent-decodes `text` ("%2F" -> "/"); with plus_as_space, '+' becomes ' ' (query strings).
// Malformed escapes are kept as they are.
std::string PercentDecode(std::string_view text, bool plus_as_space);
// Splits and decodes a query string ("a=1&b=x%20y" -> {{"a","1"},{"b","x y"}}); empty pieces are
// skipped, a piece without '=' has an empty value.
std::vector<std::pair<std::string, std::string>> ParseQuery(std::string_view query);

// Splits "HOST:PORT" (IPv4, name or [IPv6]); throws std::invalid_argument on bad input.
std::pair<std::string, std::uint16_t> ParseHostPort(std::string_view text);

// Adds /healthz (always 200 while the process runs), /readyz (200 when ready() returns true, else 503
// with the reason) and /metrics (Prometheus text from the registry).
void AddObservabilityRoutes(Server& server, const metrics::Registry& registry,
                            std::function<bool(std::string& reason)> ready);

}  // namespace ces::http
