#pragma once
// A live SSE client for tests: the frames of one connection, read on a thread of its own.

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ces/sse/client.hpp"
#include "sse_frame.hpp"
#include "test_support.hpp"

namespace ces::test {

// The frames of one SSE connection (thread-safe: a live reader runs on its own thread).
class SseCollector : public sse::Handler {
 public:
  void OnEvent(const sse::Event& e) override {
    std::lock_guard lock(mutex_);
    frames_.push_back(ToFrame(e));
  }
  std::size_t Events() const {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& f : frames_) n += f.id ? 1 : 0;
    return n;
  }
  std::vector<SseFrame> Frames() const {
    std::lock_guard lock(mutex_);
    return frames_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<SseFrame> frames_;
};

// Reads `url` on a thread until Stop() (or the server ends the stream).
class SseReader {
 public:
  explicit SseReader(std::string url) : url_(std::move(url)) {
    thread_ = std::thread([this] {
      sse::ClientOptions options;
      options.idle_timeout = std::chrono::seconds(120);
      sse::Stream(url_, collector_, options, [this] { return stop_.load(); });
    });
  }
  ~SseReader() { Stop(); }
  SseReader(const SseReader&) = delete;
  SseReader& operator=(const SseReader&) = delete;
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  const SseCollector& collector() const { return collector_; }

 private:
  std::string url_;
  SseCollector collector_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The frames up to the `events`-th event (frames with an id), read within `max_time`: what a client
// that disconnects after that event has seen.
inline std::vector<SseFrame> ReadEvents(const std::string& url, std::size_t events, std::chrono::milliseconds max_time) {
  SseReader reader(url);
  WaitUntil([&] { return reader.collector().Events() >= events; }, max_time);
  reader.Stop();
  std::vector<SseFrame> frames = reader.collector().Frames();
  std::size_t seen = 0;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    if (frames[i].id && ++seen == events) {
      frames.resize(i + 1);
      break;
    }
  }
  return frames;
}

}  // namespace ces::test
