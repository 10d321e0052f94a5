#include "handler_pool.hpp"

#include <system_error>

#include "ces/common/log.hpp"
#include "ces/common/metrics.hpp"

namespace ces::http::detail {

void HandlerPool::Start(unsigned workers) {
  for (unsigned i = 0; i < workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

bool HandlerPool::Submit(const Job& job) {
  {
    std::lock_guard lock(mutex_);
    if (closed_ || queue_.size() >= max_queued_) return false;
    queue_.push_back(job);
    if (queue_gauge_ != nullptr) queue_gauge_->Set(static_cast<double>(queue_.size()));
  }
  cv_.notify_one();
  return true;
}

void HandlerPool::WorkerLoop() {
  while (true) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return closed_ || !queue_.empty(); });
      if (queue_.empty()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      if (queue_gauge_ != nullptr) queue_gauge_->Set(static_cast<double>(queue_.size()));
      active_.fetch_add(1);
    }
    run_(job);
    active_.fetch_sub(1);
  }
}

bool HandlerPool::SpawnDedicated(const Job& job) {
  std::list<Dedicated> finished;
  bool ok = true;
  {
    std::lock_guard lock(dedicated_mutex_);
    for (auto it = dedicated_.begin(); it != dedicated_.end();) {
      auto next = std::next(it);
      if (it->done.load()) finished.splice(finished.end(), dedicated_, it);
      it = next;
    }
    if (stopping_.load()) {
      ok = false;
    } else {
      dedicated_.emplace_back();
      Dedicated* slot = &dedicated_.back();
      active_.fetch_add(1);
      try {
        slot->thread = std::thread([this, job, slot] {
          run_(job);
          active_.fetch_sub(1);
          slot->done.store(true);
        });
      } catch (const std::system_error& e) {
        active_.fetch_sub(1);
        dedicated_.pop_back();
        log::Warn("http handler thread failed", {{"error", e.what()}});
        ok = false;
      }
    }
  }
  for (auto& d : finished) {
    if (d.thread.joinable()) d.thread.join();
  }
  return ok;
}

std::deque<HandlerPool::Job> HandlerPool::Close() {
  std::deque<Job> queued;
  {
    std::lock_guard lock(mutex_);
    queued.swap(queue_);
    closed_ = true;
    if (queue_gauge_ != nullptr) queue_gauge_->Set(0);
  }
  cv_.notify_all();
  return queued;
}

void HandlerPool::Join() {
  for (auto& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
  std::list<Dedicated> dedicated;
  {
    std::lock_guard lock(dedicated_mutex_);
    dedicated.swap(dedicated_);
  }
  for (auto& d : dedicated) {
    if (d.thread.joinable()) d.thread.join();
  }
}

}  // namespace ces::http::detail
