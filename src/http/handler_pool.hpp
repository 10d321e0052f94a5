#pragma once
// Private to ces::http: the threads that run the async server's blocking handlers. A fixed pool of
// workers takes requests from a bounded queue (RouteKind::kPooled); a long-running stream gets a thread
// of its own (RouteKind::kDedicated, bounded by the caller).

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace ces::metrics {
class Gauge;
}

namespace ces::http::detail {

class Connection;

class HandlerPool {
 public:
  using Job = std::shared_ptr<Connection>;

  // `run` runs the handler of one request; once `stopping` is set no dedicated thread is started.
  HandlerPool(std::size_t max_queued, const std::atomic<bool>& stopping, std::function<void(const Job&)> run)
      : max_queued_(max_queued), stopping_(stopping), run_(std::move(run)) {}

  void SetQueueGauge(metrics::Gauge* gauge) { queue_gauge_ = gauge; }
  void Start(unsigned workers);

  // Queues a request for a worker. False when the queue is full or the pool closed.
  bool Submit(const Job& job);
  // Runs a request on a thread of its own (and joins the threads of finished ones). False when the
  // server is stopping or no thread can be started.
  bool SpawnDedicated(const Job& job);
  // Handlers running now.
  int Active() const { return active_.load(); }

  // Takes no more requests and returns the queued ones no worker started; workers exit once idle.
  std::deque<Job> Close();
  // Joins the workers, then the dedicated threads.
  void Join();

 private:
  struct Dedicated {
    std::thread thread;
    std::atomic<bool> done{false};
  };

  void WorkerLoop();

  const std::size_t max_queued_;
  const std::atomic<bool>& stopping_;
  const std::function<void(const Job&)> run_;
  metrics::Gauge* queue_gauge_ = nullptr;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool closed_ = false;
  std::atomic<int> active_{0};
  std::mutex dedicated_mutex_;
  std::list<Dedicated> dedicated_;
};

}  // namespace ces::http::detail
