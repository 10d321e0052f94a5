#include "ces/common/shutdown.hpp"

#include <csignal>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "ces/common/log.hpp"

namespace ces::shutdown {
namespace {
std::mutex g_mutex;
std::condition_variable g_cv;
bool g_requested = false;
}  // namespace

void InstallSignalHandlers() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  std::thread([set] {
    int sig = 0;
    while (sigwait(&set, &sig) == 0) {
      log::Info("signal received, shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
      Request();
    }
  }).detach();
}

void Request() {
  {
    std::lock_guard lock(g_mutex);
    g_requested = true;
  }
  g_cv.notify_all();
}

bool Requested() {
  std::lock_guard lock(g_mutex);
  return g_requested;
}

bool WaitFor(std::chrono::milliseconds timeout) {
  std::unique_lock lock(g_mutex);
  return g_cv.wait_for(lock, timeout, [] { return g_requested; });
}

}  // namespace ces::shutdown
