#include "test_support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <poll.h>

#include <atomic>
#include <cctype>
#include <mutex>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "ces/sse/client.hpp"
#include "ces/sse/parser.hpp"

namespace ces::test {

std::string SourceDir() { return CES_SOURCE_DIR; }
std::string BinaryPath() { return CES_BINARY; }
std::string RecordingsDir() {
  if (const char* dir = std::getenv("CES_RECORDINGS")) return dir;
  return CES_RECORDINGS_DIR;
}

std::string TempDir() {
  static std::atomic<int> counter{0};
  const char* base = std::getenv("TMPDIR");
  std::string dir = std::string(base ? base : "/tmp") + "/ces-test-" + std::to_string(getpid()) + "-" +
                    std::to_string(counter++);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string RequireEnv(const char* name) {
  const char* value = std::getenv(name);
  if (!value || !*value) {
    ADD_FAILURE() << name << " is not set: run the integration tests through `make test` (or eval \"$(scripts/stack env)\")";
    throw std::runtime_error(std::string("missing environment variable ") + name);
  }
  return value;
}

std::string MongoDatabaseUri(const std::string& database) {
  std::string uri = RequireEnv("MONGO_URI");
  const auto scheme = uri.find("://");
  const auto slash = uri.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  const auto query = uri.find('?');
  std::string base = slash == std::string::npos ? uri.substr(0, query) : uri.substr(0, slash);
  return base + "/" + database + (query == std::string::npos ? "" : uri.substr(query));
}

std::string UrlEncode(const std::string& text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::uint16_t FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    throw std::runtime_error("bind failed");
  }
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

std::string UniquePrefix() {
  static std::atomic<int> counter{0};
  return "t" + std::to_string(getpid()) + "-" + std::to_string(counter++) + "-";
}

Process::Process(std::vector<std::string> args, std::string log_path) : log_path_(std::move(log_path)) {
  std::vector<char*> argv;
  std::string binary = BinaryPath();
  argv.push_back(binary.data());
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_ = fork();
  if (pid_ == 0) {
    int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    sigset_t set;
    sigemptyset(&set);
    sigprocmask(SIG_SETMASK, &set, nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  if (pid_ < 0) throw std::runtime_error("fork failed");
}

Process::~Process() {
  if (Running()) {
    kill(pid_, SIGKILL);
    Wait(std::chrono::seconds(10));
  }
}

bool Process::Running() {
  if (status_) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return r == 0;
}

void Process::Signal(int sig) {
  if (Running()) kill(pid_, sig);
}

std::optional<int> Process::Wait(std::chrono::milliseconds timeout) {
  WaitUntil([&] { return !Running(); }, timeout);
  return status_;
}

void Process::Kill9() {
  Signal(SIGKILL);
  Wait(std::chrono::seconds(10));
}

std::string Process::Log() const { return ReadFile(log_path_); }

bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

std::pair<long, std::string> HttpGet(const std::string& url) {
  try {
    return sse::Get(url, std::chrono::seconds(5));
  } catch (const std::exception&) {
    return {0, ""};
  }
}

namespace {
class Collector : public sse::Handler {
 public:
  explicit Collector(std::vector<RecordedEvent>& out) : out_(out) {}
  void OnEvent(const sse::Event& e) override {
    RecordedEvent r;
    if (e.id) r.id = static_cast<std::uint32_t>(std::stoul(std::string(*e.id)));
    r.data = std::string(e.data);
    out_.push_back(std::move(r));
  }

 private:
  std::vector<RecordedEvent>& out_;
};
}  // namespace

std::vector<RecordedEvent> ReadRecording(const std::string& path) {
  std::vector<RecordedEvent> out;
  Collector collector(out);
  sse::Parser parser(collector);
  parser.Feed(ReadFile(path));
  parser.Finish();
  return out;
}

struct RawNode::Impl {
  std::string body;
  int listen_fd = -1;
  std::uint16_t port = 0;
  std::atomic<bool> stop{false};
  std::atomic<int> connections{0};
  std::thread acceptor;
  std::mutex mutex;
  std::vector<int> fds;
  std::vector<std::thread> workers;

  void Serve(int fd) {
    std::string request;
    char buf[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return;
      request.append(buf, static_cast<std::size_t>(n));
    }
    const auto sp1 = request.find(' ');
    const auto sp2 = request.find(' ', sp1 + 1);
    std::string target = request.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string path = target.substr(0, target.find('?'));
    if (path != "/events") {
      const std::string resp = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      send(fd, resp.data(), resp.size(), MSG_NOSIGNAL);
      return;
    }
    ++connections;
    const std::string head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";
    send(fd, head.data(), head.size(), MSG_NOSIGNAL);
    send(fd, body.data(), body.size(), MSG_NOSIGNAL);
    while (!stop) {
      if (send(fd, ":\n\n", 3, MSG_NOSIGNAL) < 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
};

RawNode::RawNode(std::string body) : impl_(new Impl) {
  impl_->body = std::move(body);
  impl_->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(impl_->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(impl_->listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(impl_->listen_fd, 16) != 0) {
    throw std::runtime_error("RawNode: cannot listen");
  }
  socklen_t len = sizeof addr;
  getsockname(impl_->listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
  impl_->port = ntohs(addr.sin_port);
  impl_->acceptor = std::thread([impl = impl_] {
    while (!impl->stop) {
      pollfd pfd{impl->listen_fd, POLLIN, 0};
      if (poll(&pfd, 1, 100) <= 0) continue;
      int fd = accept(impl->listen_fd, nullptr, nullptr);
      if (fd < 0) continue;
      std::lock_guard lock(impl->mutex);
      impl->fds.push_back(fd);
      impl->workers.emplace_back([impl, fd] { impl->Serve(fd); });
    }
  });
}

RawNode::~RawNode() {
  impl_->stop = true;
  impl_->acceptor.join();
  {
    std::lock_guard lock(impl_->mutex);
    for (int fd : impl_->fds) shutdown(fd, SHUT_RDWR);
  }
  for (auto& t : impl_->workers) t.join();
  for (int fd : impl_->fds) close(fd);
  close(impl_->listen_fd);
  delete impl_;
}

std::string RawNode::url() const { return "http://127.0.0.1:" + std::to_string(impl_->port); }
int RawNode::connections() const { return impl_->connections.load(); }

namespace {
std::string StackCommand(const std::vector<std::string>& args) {
  std::string cmd = SourceDir() + "/scripts/stack";
  for (const auto& a : args) cmd += " '" + a + "'";
  return cmd;
}
}  // namespace

int Stack(const std::vector<std::string>& args) {
  int status = std::system((StackCommand(args) + " >&2").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

namespace {
int RunPipe(const std::string& command, std::string& output) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
}  // namespace

std::string StackOutput(const std::vector<std::string>& args) {
  std::string out;
  return RunPipe(StackCommand(args), out) == 0 ? out : "";
}

int RunShell(const std::string& command, std::string& output) { return RunPipe(command + " 2>&1", output); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string RecordedPayload(const std::string& relative) {
  const std::string path = RecordingsDir() + "/" + relative;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

}  // namespace ces::test
