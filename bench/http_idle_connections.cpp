// The public API's HTTP server under load, without databases:
//   http_idle_connections serve            serves GET /x (small JSON) until stdin closes; prints the port
//   http_idle_connections idle N [stream]  holds N idle keep-alive connections (or N detached SSE
//                                          streams) from a child process; prints the server's RSS
// bench/http_idle_connections.sh runs both (wrk for requests/s).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ces/http/async_server.hpp"

namespace {

double RssMb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

void RaiseFileLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

int Connect(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::perror("connect");
    std::exit(2);
  }
  return fd;
}

// Child: opens `count` connections (each sends one request first when `request` is set), signals
// readiness on `ready_fd`, then waits until `done_fd` closes.
[[noreturn]] void RunClients(std::uint16_t port, int count, const std::string& request, int ready_fd, int done_fd) {
  RaiseFileLimit();
  std::vector<int> fds;
  fds.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    int fd = Connect(port);
    if (!request.empty()) {
      if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) < 0) std::exit(2);
    }
    fds.push_back(fd);
  }
  char c = 1;
  if (::write(ready_fd, &c, 1) != 1) std::exit(2);
  while (::read(done_fd, &c, 1) > 0) {
  }
  std::_Exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "serve";
  ces::http::AsyncServerOptions options;
  options.port = 0;
  options.worker_threads = 4;
  std::mutex sinks_mutex;
  std::vector<std::shared_ptr<ces::http::StreamSink>> sinks;
  ces::http::AsyncServer server(options);
  server.Route("GET", "/x", [](const ces::http::Request&, ces::http::AsyncResponseWriter& w) {
    w.Send(200, "application/json", "{\"ok\":true,\"height\":123456}");
  });
  server.Route("GET", "/events", [&](const ces::http::Request&, ces::http::AsyncResponseWriter& w) {
    w.StartStream(200, "text/event-stream");
    auto sink = w.Detach(256 * 1024);
    if (!sink) return;
    std::lock_guard lock(sinks_mutex);
    sinks.push_back(std::move(sink));
  });
  server.Start();

  if (mode == "serve") {
    std::cout << server.Port() << std::endl;
    std::string line;
    while (std::getline(std::cin, line)) {
    }
    server.Stop();
    return 0;
  }

  const int count = argc > 2 ? std::atoi(argv[2]) : 10000;
  const bool stream = argc > 3 && std::string(argv[3]) == "stream";
  const double before = RssMb();
  int ready[2];
  int done[2];
  if (::pipe(ready) != 0 || ::pipe(done) != 0) return 2;
  pid_t child = ::fork();
  if (child == 0) {
    ::close(ready[0]);
    ::close(done[1]);
    RunClients(server.Port(), count, stream ? "GET /events HTTP/1.1\r\nHost: b\r\n\r\n" : "", ready[1], done[0]);
  }
  ::close(ready[1]);
  ::close(done[0]);
  char c;
  if (::read(ready[0], &c, 1) != 1) return 2;
  auto start = std::chrono::steady_clock::now();
  while (server.OpenConnections() < static_cast<std::size_t>(count) &&
         std::chrono::steady_clock::now() - start < std::chrono::seconds(30)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (stream) {
    while (true) {
      std::lock_guard lock(sinks_mutex);
      if (sinks.size() >= static_cast<std::size_t>(count)) break;
      if (std::chrono::steady_clock::now() - start > std::chrono::seconds(30)) break;
      sinks_mutex.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      sinks_mutex.lock();
    }
    // One frame to every subscriber, shared (no copies).
    auto frame = std::make_shared<const std::string>("data: {\"BlockAdded\":{}}\n\n");
    auto offer_start = std::chrono::steady_clock::now();
    std::lock_guard lock(sinks_mutex);
    for (auto& sink : sinks) sink->Offer(frame);
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - offer_start);
    std::cout << "offer one frame to " << sinks.size() << " sinks: " << us.count() << " us\n";
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const double after = RssMb();
  std::cout << "connections: " << server.OpenConnections() << (stream ? " (detached streams)" : " (idle)") << "\n"
            << "server RSS before: " << before << " MB, with connections: " << after << " MB, per connection: "
            << (after - before) * 1024 * 1024 / count << " bytes\n";
  // The server still answers.
  int fd = Connect(server.Port());
  std::string request = "GET /x HTTP/1.1\r\nHost: b\r\n\r\n";
  if (::send(fd, request.data(), request.size(), 0) < 0) return 2;
  char buf[256];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  std::cout << "request while holding them: " << (n > 12 ? std::string(buf, 12) : std::string("no answer")) << "\n";
  ::close(fd);
  ::close(done[1]);
  ::waitpid(child, nullptr, 0);
  auto stop_start = std::chrono::steady_clock::now();
  server.Stop();
  std::cout << "stop: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - stop_start).count()
            << " ms\n";
  return 0;
}
