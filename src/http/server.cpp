// HTTP/1.1 over blocking POSIX sockets, one thread per connection.
//
// Every blocking wait (reading a request, waiting for the peer) polls in short steps so that the
// connection notices DropConnections()/Stop(); writes block in the kernel and are released by
// shutdown(2) on the socket, which both DropConnections() and Stop() use.

#include "ces/http/server.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <list>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "ces/common/log.hpp"
#include "ces/common/metrics.hpp"
#include "ces/common/text.hpp"
#include "request_parser.hpp"

namespace ces::http {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
constexpr std::size_t kMaxBodyBytes = 16 * 1024 * 1024;
constexpr std::size_t kMaxConnections = 512;
constexpr int kPollStepMs = 50;
constexpr auto kIdleTimeout = std::chrono::seconds(60);     // keep-alive connection waiting for a request
constexpr auto kRequestTimeout = std::chrono::seconds(30);  // to receive the rest of a started request
constexpr auto kStopGrace = std::chrono::milliseconds(500);  // handlers may end their streams themselves

// Writes all of `parts` (gathered), retrying on partial writes. False if the peer is gone.
bool SendAll(int fd, std::initializer_list<std::string_view> parts) {
  iovec iov[4];
  std::size_t count = 0;
  for (std::string_view part : parts) {
    if (part.empty()) continue;
    iov[count].iov_base = const_cast<char*>(part.data());
    iov[count].iov_len = part.size();
    ++count;
  }
  std::size_t first = 0;
  while (first < count) {
    msghdr msg{};
    msg.msg_iov = iov + first;
    msg.msg_iovlen = count - first;
    ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    auto left = static_cast<std::size_t>(n);
    while (first < count && left >= iov[first].iov_len) {
      left -= iov[first].iov_len;
      ++first;
    }
    if (first < count) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return true;
}

struct Connection {
  int fd = -1;  // closed (and set to -1) by the connection's thread under Impl::mutex
  std::atomic<bool> cancelled{false};
  std::atomic<bool> done{false};
  std::thread thread;
};

enum class ReadStatus { kOk, kClosed, kBadRequest, kTooLarge, kUnsupported, kBadVersion };

}  // namespace

const std::string* Request::Param(std::string_view key) const {
  auto it = params.find(std::string(key));
  return it == params.end() ? nullptr : &it->second;
}

const std::string* Request::QueryValue(std::string_view key) const {
  for (const auto& [k, v] : query) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::pair<std::string, std::uint16_t> ParseHostPort(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      throw std::invalid_argument("bad address '" + std::string(text) + "': expected [IPV6]:PORT");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      throw std::invalid_argument("bad address '" + std::string(text) + "': expected HOST:PORT");
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      throw std::invalid_argument("bad address '" + std::string(text) + "': write IPv6 hosts as [ADDRESS]:PORT");
    }
  }
  if (host.empty()) throw std::invalid_argument("bad address '" + std::string(text) + "': empty host");
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || value > 65535) {
    throw std::invalid_argument("bad address '" + std::string(text) + "': port must be 0..65535");
  }
  return {std::string(host), static_cast<std::uint16_t>(value)};
}

struct Server::Impl {
  std::string host;
  std::uint16_t requested_port = 0;
  std::uint16_t bound_port = 0;
  int listen_fd = -1;
  int wake_fd = -1;
  std::atomic<bool> started{false};
  std::atomic<bool> stopping{false};
  std::thread accept_thread;

  mutable std::mutex mutex;  // guards routes, not_found, connections and every Connection::fd
  std::map<std::pair<std::string, std::string>, RouteHandler> routes;  // (path, method)
  RouteHandler not_found;
  std::list<std::shared_ptr<Connection>> connections;

  void AcceptLoop();
  void Serve(const std::shared_ptr<Connection>& conn);
  void Reap(bool all);
  bool WaitReadable(Connection& conn, Clock::time_point deadline);
  ReadStatus ReadRequest(Connection& conn, std::string& buffer, Request& request, bool& http10, bool& keep_alive);
  void Dispatch(const Request& request, ResponseWriter& writer);
};

namespace {

// The ResponseWriter of one request on one connection.
class ConnectionWriter final : public ResponseWriter {
 public:
  enum class State { kNone, kSent, kStreaming, kFailed, kAborted };

  ConnectionWriter(const std::atomic<bool>& stopping, Connection& conn, bool head, bool http10, bool keep_alive)
      : stopping_(stopping), conn_(conn), head_(head), http10_(http10), keep_alive_(keep_alive) {}

  bool Send(int status, std::string_view content_type, std::string_view body, const Headers& headers) override {
    if (state_ != State::kNone) return false;
    std::string head = StatusLine(status);
    if (!content_type.empty()) head += "Content-Type: " + std::string(content_type) + "\r\n";
    head += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    AppendHeaders(head, headers);
    if (!keep_alive_) {
      head += "Connection: close\r\n";
    } else if (http10_) {
      head += "Connection: keep-alive\r\n";
    }
    head += "\r\n";
    if (!SendAll(conn_.fd, {head, head_ ? std::string_view() : body})) return Fail();
    state_ = State::kSent;
    return true;
  }

  bool StartStream(int status, std::string_view content_type, const Headers& headers) override {
    if (state_ != State::kNone) return false;
    std::string head = StatusLine(status);
    if (!content_type.empty()) head += "Content-Type: " + std::string(content_type) + "\r\n";
    if (http10_) {
      head += "Connection: close\r\n";  // HTTP/1.0 has no chunked encoding: the body ends with the connection
    } else {
      head += "Transfer-Encoding: chunked\r\n";
    }
    AppendHeaders(head, headers);
    head += "\r\n";
    if (!SendAll(conn_.fd, {head})) return Fail();
    state_ = State::kStreaming;
    return true;
  }

  bool WriteChunk(std::string_view data) override {
    if (state_ != State::kStreaming || head_ || Cancelled()) return false;
    if (data.empty()) return true;  // an empty chunk would end the response
    bool ok;
    if (http10_) {
      ok = SendAll(conn_.fd, {data});
    } else {
      char size[24];
      auto [end, ec] = std::to_chars(size, size + sizeof size - 2, data.size(), 16);
      (void)ec;
      *end++ = '\r';
      *end++ = '\n';
      ok = SendAll(conn_.fd, {std::string_view(size, static_cast<std::size_t>(end - size)), data, "\r\n"});
    }
    return ok || Fail();
  }

  bool Cancelled() const override {
    if (stopping_.load() || conn_.cancelled.load() || state_ == State::kFailed || state_ == State::kAborted) return true;
    if (state_ != State::kStreaming) return false;
    // A stream only writes, so notice a client that hung up without waiting for the next write.
    pollfd pfd{conn_.fd, POLLRDHUP, 0};
    return ::poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
  }

  void Abort() override {
    if (state_ == State::kAborted) return;
    state_ = State::kAborted;
    ::shutdown(conn_.fd, SHUT_RDWR);
  }

  // After the handler returned: completes the response. Returns true if the connection may serve
  // another request.
  bool Finish() {
    switch (state_) {
      case State::kNone:
        Send(500, "text/plain; charset=utf-8", "handler sent no response\n", {});
        return state_ == State::kSent && keep_alive_;
      case State::kSent:
        return keep_alive_;
      case State::kStreaming:
        if (!head_ && !http10_) SendAll(conn_.fd, {"0\r\n\r\n"});
        return false;  // streams end their connection
      case State::kFailed:
      case State::kAborted:
        return false;
    }
    return false;
  }

  State state() const { return state_; }

 private:
  std::string StatusLine(int status) const {
    return std::string(http10_ ? "HTTP/1.0 " : "HTTP/1.1 ") + std::to_string(status) + " " + ReasonPhrase(status) + "\r\n";
  }

  static void AppendHeaders(std::string& out, const Headers& headers) {
    for (const auto& [name, value] : headers) out += name + ": " + value + "\r\n";
  }

  bool Fail() {
    state_ = State::kFailed;
    return false;
  }

  const std::atomic<bool>& stopping_;
  Connection& conn_;
  bool head_;
  bool http10_;
  bool keep_alive_;
  State state_ = State::kNone;
};

void SendSimple(int fd, int status, std::string_view body) {
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + ReasonPhrase(status) +
                     "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " + std::to_string(body.size()) +
                     "\r\nConnection: close\r\n\r\n";
  SendAll(fd, {head, body});
}

}  // namespace

bool Server::Impl::WaitReadable(Connection& conn, Clock::time_point deadline) {
  while (!stopping.load() && !conn.cancelled.load()) {
    auto now = Clock::now();
    if (now >= deadline) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    pollfd pfd{conn.fd, POLLIN, 0};
    int r = ::poll(&pfd, 1, static_cast<int>(std::min<long long>(left, kPollStepMs)));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
  }
  return false;
}

ReadStatus Server::Impl::ReadRequest(Connection& conn, std::string& buffer, Request& request, bool& http10,
                                     bool& keep_alive) {
  char chunk[16 * 1024];
  auto deadline = Clock::now() + kIdleTimeout;
  auto read_more = [&]() -> bool {
    if (!WaitReadable(conn, deadline)) return false;
    ssize_t n = ::recv(conn.fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(n));
    return true;
  };

  std::size_t header_end;
  while (true) {
    // Empty lines before a request line are ignored (RFC 9112 2.2).
    std::size_t skip = 0;
    while (skip < buffer.size() && (buffer[skip] == '\r' || buffer[skip] == '\n')) ++skip;
    if (skip > 0) buffer.erase(0, skip);
    header_end = FindHeaderEnd(buffer);
    if (header_end != std::string::npos) break;
    if (buffer.size() > kMaxHeaderBytes) return ReadStatus::kTooLarge;
    if (!buffer.empty()) deadline = std::min(deadline, Clock::now() + kRequestTimeout);
    if (!read_more()) return ReadStatus::kClosed;
  }
  if (header_end > kMaxHeaderBytes) return ReadStatus::kTooLarge;

  std::string_view head(buffer.data(), header_end);
  std::size_t line_end = head.find('\n');
  std::string_view request_line = TrimSpace(head.substr(0, line_end));
  std::size_t sp1 = request_line.find(' ');
  std::size_t sp2 = request_line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return ReadStatus::kBadRequest;
  request.method = std::string(request_line.substr(0, sp1));
  request.target = std::string(TrimSpace(request_line.substr(sp1 + 1, sp2 - sp1 - 1)));
  std::string_view version = request_line.substr(sp2 + 1);
  if (version == "HTTP/1.1") {
    http10 = false;
  } else if (version == "HTTP/1.0") {
    http10 = true;
  } else if (version.substr(0, 5) == "HTTP/") {
    return ReadStatus::kBadVersion;
  } else {
    return ReadStatus::kBadRequest;
  }
  if (request.method.empty() || request.target.empty()) return ReadStatus::kBadRequest;

  std::size_t pos = line_end + 1;
  while (pos < head.size()) {
    std::size_t end = head.find('\n', pos);
    if (end == std::string_view::npos) end = head.size();
    std::string_view line = head.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return ReadStatus::kBadRequest;
    std::string name = text::ToLower(line.substr(0, colon));
    std::string value(TrimSpace(line.substr(colon + 1)));
    auto [it, inserted] = request.headers.try_emplace(name, value);
    if (!inserted) it->second += ", " + value;
  }

  // Target: origin-form "/path?query", or absolute-form "http://host/path?query".
  std::string_view target = request.target;
  if (std::size_t scheme = target.find("://"); scheme != std::string_view::npos && target.front() != '/') {
    std::size_t slash = target.find('/', scheme + 3);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  if (target.front() != '/' && target != "*") return ReadStatus::kBadRequest;
  if (std::size_t hash = target.find('#'); hash != std::string_view::npos) target = target.substr(0, hash);
  std::size_t question = target.find('?');
  request.path = PercentDecode(target.substr(0, question), false);
  request.query.clear();
  if (question != std::string_view::npos) request.query = ParseQuery(target.substr(question + 1));

  auto connection_header = request.headers.find("connection");
  if (http10) {
    keep_alive = connection_header != request.headers.end() && HasToken(connection_header->second, "keep-alive");
  } else {
    keep_alive = connection_header == request.headers.end() || !HasToken(connection_header->second, "close");
  }

  if (request.headers.count("transfer-encoding")) return ReadStatus::kUnsupported;
  std::size_t body_length = 0;
  if (auto it = request.headers.find("content-length"); it != request.headers.end()) {
    const std::string& text = it->second;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), body_length);
    if (ec != std::errc() || ptr != text.data() + text.size()) return ReadStatus::kBadRequest;
    if (body_length > kMaxBodyBytes) return ReadStatus::kTooLarge;
  }
  if (body_length > 0 && buffer.size() < header_end + body_length) {
    if (auto it = request.headers.find("expect"); it != request.headers.end() && text::ToLower(it->second) == "100-continue") {
      SendAll(conn.fd, {"HTTP/1.1 100 Continue\r\n\r\n"});
    }
    deadline = Clock::now() + kRequestTimeout;
    while (buffer.size() < header_end + body_length) {
      if (!read_more()) return ReadStatus::kClosed;
    }
  }
  request.body.assign(buffer, header_end, body_length);
  buffer.erase(0, header_end + body_length);
  return ReadStatus::kOk;
}

void Server::Impl::Dispatch(const Request& request, ResponseWriter& writer) {
  RouteHandler handler;
  std::string allow;
  {
    std::lock_guard lock(mutex);
    const std::string method = request.method == "HEAD" ? "GET" : request.method;
    if (auto it = routes.find({request.path, method}); it != routes.end()) {
      handler = it->second;
    } else {
      for (auto r = routes.lower_bound({request.path, std::string()}); r != routes.end() && r->first.first == request.path;
           ++r) {
        if (!allow.empty()) allow += ", ";
        allow += r->first.second;
        if (r->first.second == "GET") allow += ", HEAD";
      }
      if (allow.empty()) handler = not_found;
    }
  }
  if (!handler) {
    writer.Send(405, "text/plain; charset=utf-8", "method not allowed\n", {{"Allow", allow}});
    return;
  }
  handler(request, writer);
}

void Server::Impl::Serve(const std::shared_ptr<Connection>& conn) {
  std::string buffer;
  while (!stopping.load() && !conn->cancelled.load()) {
    Request request;
    bool http10 = false;
    bool keep_alive = false;
    ReadStatus status = ReadRequest(*conn, buffer, request, http10, keep_alive);
    if (status == ReadStatus::kClosed) break;
    if (status != ReadStatus::kOk) {
      switch (status) {
        case ReadStatus::kTooLarge: SendSimple(conn->fd, 413, "request too large\n"); break;
        case ReadStatus::kUnsupported: SendSimple(conn->fd, 501, "chunked request bodies are not supported\n"); break;
        case ReadStatus::kBadVersion: SendSimple(conn->fd, 505, "HTTP version not supported\n"); break;
        default: SendSimple(conn->fd, 400, "bad request\n"); break;
      }
      break;
    }
    ConnectionWriter writer(stopping, *conn, request.method == "HEAD", http10, keep_alive);
    try {
      Dispatch(request, writer);
    } catch (const std::exception& e) {
      log::Warn("http handler failed", {{"path", request.path}, {"error", e.what()}});
      if (writer.state() == ConnectionWriter::State::kNone) {
        writer.Send(500, "text/plain; charset=utf-8", "internal error\n", {});
      } else {
        writer.Abort();
      }
    }
    if (!writer.Finish()) break;
  }
  {
    std::lock_guard lock(mutex);
    ::shutdown(conn->fd, SHUT_WR);
    ::close(conn->fd);
    conn->fd = -1;
  }
  conn->done.store(true);
}

void Server::Impl::Reap(bool all) {
  std::vector<std::shared_ptr<Connection>> finished;
  {
    std::lock_guard lock(mutex);
    for (auto it = connections.begin(); it != connections.end();) {
      if (all || (*it)->done.load()) {
        finished.push_back(*it);
        it = connections.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& conn : finished) {
    if (conn->thread.joinable()) conn->thread.join();
  }
}

void Server::Impl::AcceptLoop() {
  while (!stopping.load()) {
    pollfd fds[2] = {{listen_fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
    int r = ::poll(fds, 2, 1000);
    Reap(false);
    if (stopping.load()) break;
    if (r <= 0 || !(fds[0].revents & POLLIN)) continue;
    int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        log::Warn("http accept failed", {{"error", std::strerror(errno)}});
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard lock(mutex);
    if (connections.size() >= kMaxConnections) {
      SendSimple(fd, 503, "too many connections\n");
      ::close(fd);
      continue;
    }
    auto conn = std::make_shared<Connection>();
    conn->fd = fd;
    try {
      conn->thread = std::thread([this, conn] { Serve(conn); });
      connections.push_back(conn);
    } catch (const std::system_error& e) {
      log::Warn("http connection thread failed", {{"error", e.what()}});
      ::close(fd);
    }
  }
}

Server::Server(std::string host, std::uint16_t port) : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->requested_port = port;
  impl_->not_found = [](const Request&, ResponseWriter& writer) {
    writer.Send(404, "text/plain; charset=utf-8", "not found\n");
  };
}

Server::~Server() { Stop(); }

void Server::Route(std::string method, std::string path, RouteHandler handler) {
  std::lock_guard lock(impl_->mutex);
  impl_->routes[{std::move(path), std::move(method)}] = std::move(handler);
}

void Server::SetNotFound(RouteHandler handler) {
  std::lock_guard lock(impl_->mutex);
  impl_->not_found = std::move(handler);
}

void Server::Start() {
  if (impl_->started.exchange(true)) throw std::logic_error("http server started twice");
  const std::string where = impl_->host + ":" + std::to_string(impl_->requested_port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port_text = std::to_string(impl_->requested_port);
  int rc = ::getaddrinfo(impl_->host.empty() ? nullptr : impl_->host.c_str(), port_text.c_str(), &hints, &found);
  if (rc != 0) throw std::runtime_error("cannot resolve " + where + ": " + ::gai_strerror(rc));
  std::string error = "no address";
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      error = std::strerror(errno);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, 128) != 0) {
      error = std::strerror(errno);
      ::close(fd);
      continue;
    }
    impl_->listen_fd = fd;
    break;
  }
  ::freeaddrinfo(found);
  if (impl_->listen_fd < 0) throw std::runtime_error("cannot listen on " + where + ": " + error);

  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  ::getsockname(impl_->listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
  if (addr.ss_family == AF_INET6) {
    impl_->bound_port = ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  } else {
    impl_->bound_port = ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  }
  impl_->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (impl_->wake_fd < 0) {
    ::close(impl_->listen_fd);
    impl_->listen_fd = -1;
    throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
  }
  impl_->accept_thread = std::thread([this] { impl_->AcceptLoop(); });
}

std::uint16_t Server::Port() const { return impl_->bound_port; }

void Server::DropConnections() {
  std::lock_guard lock(impl_->mutex);
  for (auto& conn : impl_->connections) {
    conn->cancelled.store(true);
    if (conn->fd >= 0) ::shutdown(conn->fd, SHUT_RDWR);
  }
}

void Server::Stop() {
  if (impl_->stopping.exchange(true)) return;
  if (impl_->wake_fd >= 0) {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(impl_->wake_fd, &one, sizeof one);
  }
  if (impl_->accept_thread.joinable()) impl_->accept_thread.join();
  if (impl_->listen_fd >= 0) {
    ::close(impl_->listen_fd);
    impl_->listen_fd = -1;
  }
  // Handlers see Cancelled() and may end their responses cleanly; then the rest is cut off.
  const auto deadline = Clock::now() + kStopGrace;
  while (OpenConnections() > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  DropConnections();
  impl_->Reap(true);
  if (impl_->wake_fd >= 0) {
    ::close(impl_->wake_fd);
    impl_->wake_fd = -1;
  }
}

std::size_t Server::OpenConnections() const {
  std::lock_guard lock(impl_->mutex);
  return static_cast<std::size_t>(std::count_if(impl_->connections.begin(), impl_->connections.end(),
                                                [](const auto& conn) { return !conn->done.load(); }));
}

std::vector<std::pair<std::string, RouteHandler>> ObservabilityHandlers(const metrics::Registry& registry,
                                                                        std::function<bool(std::string& reason)> ready) {
  std::vector<std::pair<std::string, RouteHandler>> out;
  out.emplace_back("/healthz", [](const Request&, ResponseWriter& writer) {
    writer.Send(200, "text/plain; charset=utf-8", "ok\n");
  });
  out.emplace_back("/readyz", [ready = std::move(ready)](const Request&, ResponseWriter& writer) {
    std::string reason;
    if (!ready || ready(reason)) {
      writer.Send(200, "text/plain; charset=utf-8", "ready\n");
    } else {
      writer.Send(503, "text/plain; charset=utf-8", (reason.empty() ? std::string("not ready") : reason) + "\n");
    }
  });
  out.emplace_back("/metrics", [&registry](const Request&, ResponseWriter& writer) {
    writer.Send(200, "text/plain; version=0.0.4", registry.Render());
  });
  return out;
}

void AddObservabilityRoutes(Server& server, const metrics::Registry& registry,
                            std::function<bool(std::string& reason)> ready) {
  for (auto& [pattern, handler] : ObservabilityHandlers(registry, std::move(ready))) {
    server.Route("GET", std::move(pattern), std::move(handler));
  }
}

}  // namespace ces::http
