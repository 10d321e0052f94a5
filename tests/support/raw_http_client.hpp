#pragma once
// A blocking HTTP/1.1 client on one loopback connection for the HTTP servers' unit tests: raw bytes
// out, responses parsed by Content-Length or chunks (header-only; gtest assertions).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>

namespace ces::test {

// A blocking HTTP/1.1 client on one connection, reading responses by Content-Length or chunks.
class RawClient {
 public:
  explicit RawClient(std::uint16_t port, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      throw std::runtime_error("connect failed");
    }
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;
  ~RawClient() { Close(); }

  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  void Send(const std::string& text) {
    ASSERT_EQ(::send(fd_, text.data(), text.size(), MSG_NOSIGNAL), static_cast<ssize_t>(text.size()));
  }

  struct Response {
    int status = 0;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
    bool complete = false;
    std::string Header(const std::string& name) const {
      auto it = headers.find(name);
      return it == headers.end() ? std::string() : it->second;
    }
  };

  // Reads one response. `head`: no body follows (HEAD request, 304, 204).
  Response Read(bool head = false, const std::function<bool(const std::string&)>& on_chunk = {}) {
    Response r;
    std::size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return r;
    }
    std::string head_text = buffer_.substr(0, end);
    buffer_.erase(0, end + 4);
    r.status = std::stoi(head_text.substr(9, 3));
    std::size_t pos = head_text.find("\r\n");
    while (pos != std::string::npos) {
      std::size_t next = head_text.find("\r\n", pos + 2);
      std::string line = head_text.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
      std::size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      EXPECT_EQ(r.headers.count(name), 0u) << "duplicate header " << name;
      r.headers[name] = line.substr(colon + 2);
      pos = next;
    }
    if (head || r.status == 304 || r.status == 204) {
      r.complete = true;
      return r;
    }
    if (r.headers.count("transfer-encoding")) {
      while (true) {
        std::size_t line_end;
        while ((line_end = buffer_.find("\r\n")) == std::string::npos) {
          if (!Fill()) return r;
        }
        std::size_t size = std::stoul(buffer_.substr(0, line_end), nullptr, 16);
        while (buffer_.size() < line_end + 2 + size + 2) {
          if (!Fill()) return r;
        }
        std::string chunk = buffer_.substr(line_end + 2, size);
        EXPECT_EQ(buffer_.substr(line_end + 2 + size, 2), "\r\n");
        buffer_.erase(0, line_end + 2 + size + 2);
        if (size == 0) {
          r.complete = true;
          return r;
        }
        r.body += chunk;
        if (on_chunk && !on_chunk(chunk)) return r;
      }
    }
    std::size_t length = r.headers.count("content-length") ? std::stoul(r.headers["content-length"]) : 0;
    while (buffer_.size() < length) {
      if (!Fill()) return r;
    }
    r.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
    r.complete = true;
    return r;
  }

  // True if the server closed the connection (EOF) within `timeout` (other data is skipped).
  bool ClosedWithin(std::chrono::milliseconds timeout) {
    using Clock = std::chrono::steady_clock;
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      pollfd pfd{fd_, POLLIN, 0};
      int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
      if (::poll(&pfd, 1, std::max(left, 1)) <= 0) continue;
      char chunk[4096];
      ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return true;
    }
    return false;
  }

  std::string& buffer() { return buffer_; }
  bool Fill(int timeout_ms = 5000) {
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, timeout_ms) <= 0) return false;
    char chunk[16384];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

 private:
  int fd_ = -1;
  std::string buffer_;
};

}  // namespace ces::test
