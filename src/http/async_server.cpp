// The public API's HTTP/1.1 server on Boost.Asio.
//
// Threads: `io_threads` run the io_context (accept, read, parse, write); every connection has its own
// strand, so its reads, writes and state changes are serialised without locks. Handlers run on the
// worker pool (kPooled) or on a thread of their own (kDedicated). A connection serves one request at
// a time: while a handler runs nothing more is read, so pipelined requests wait in the socket.
//
// Output goes through one queue per connection (`pending_`, guarded by `out_mutex_`, shared with the
// handler and publisher threads); the strand swaps it out and writes it gathered, at once when the
// socket takes it (no completion handler), else through async_write. Other threads do not post a
// flush per connection: they queue the connection to its flush shard, and one task per shard flushes
// every queued connection on an I/O thread (see ServerCore::FlushShard). A detached stream's Offer
// to a connection with nothing queued or in flight writes the frame itself, at once, on the calling
// thread (Connection::Offer): the live fan-out's usual case costs one send, no hop. Idle connections
// wait with async_wait(wait_read) and hold no read buffer; timeouts are checked by one sweep timer.

#include "ces/http/async_server.hpp"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <list>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "ces/common/log.hpp"
#include "ces/common/metrics.hpp"
#include "request_parser.hpp"

namespace ces::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kReadChunk = 16 * 1024;
constexpr std::size_t kKeepInputCapacity = 4 * 1024;  // larger input buffers are released when idle
constexpr int kMaxSegments = 64;
constexpr auto kStopFlushGrace = std::chrono::milliseconds(1000);  // Stop(): final stream data to drain
constexpr auto kBlockedWriterPoll = std::chrono::milliseconds(100);
constexpr int kGzipLevel = 3;  // JSON compresses well already at low levels; higher ones cost CPU

std::atomic<std::uint64_t> g_server_generation{0};

std::string_view StripWeak(std::string_view tag) {
  if (tag.size() >= 2 && (tag[0] == 'W' || tag[0] == 'w') && tag[1] == '/') tag.remove_prefix(2);
  return tag;
}

bool EtagMatches(std::string_view if_none_match, std::string_view etag) {
  std::string_view strong = StripWeak(TrimSpace(etag));
  return AnyListItem(if_none_match, [&](std::string_view piece) { return piece == "*" || StripWeak(piece) == strong; });
}

bool Compressible(std::string_view content_type) {
  return IStartsWith(content_type, "application/json") || IStartsWith(content_type, "text/") ||
         IStartsWith(content_type, "application/javascript") || IStartsWith(content_type, "image/svg+xml");
}

// gzip of `data` with a deflate state kept per thread (deflateInit2 allocates ~256 KiB).
bool Gzip(std::string_view data, std::string& out) {
  struct Deflater {
    z_stream stream{};
    bool ok = false;
    Deflater() { ok = deflateInit2(&stream, kGzipLevel, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK; }
    ~Deflater() {
      if (ok) deflateEnd(&stream);
    }
  };
  thread_local Deflater deflater;
  if (!deflater.ok || deflateReset(&deflater.stream) != Z_OK) return false;
  z_stream& z = deflater.stream;
  out.resize(deflateBound(&z, static_cast<uLong>(data.size())) + 32);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) return false;
  out.resize(out.size() - z.avail_out);
  return true;
}

// Compressed bodies of responses that carry an ETag (static documents: /api-docs, the Swagger UI
// files), so that a large document is compressed once rather than on every request. Keyed by the ETag,
// the body's size and a hash of it (two resources may share an ETag); the least recently used entries
// go beyond `capacity` bytes.
class GzipCache {
 public:
  static constexpr std::size_t kMinBytes = 16 * 1024;  // smaller bodies are compressed per request

  explicit GzipCache(std::size_t capacity) : capacity_(capacity) {}

  // The gzip form of `body` (compressed now on a miss), or null when it cannot be compressed.
  std::shared_ptr<const std::string> Get(std::string_view etag, std::string_view body) {
    std::string key(etag);
    key += '\0';
    key += std::to_string(body.size());
    key += ':';
    key += std::to_string(std::hash<std::string_view>{}(body));
    {
      std::lock_guard lock(mutex_);
      auto it = index_.find(key);
      if (it != index_.end()) {
        lru_.splice(lru_.begin(), lru_, it->second);
        return it->second->second;
      }
    }
    std::string out;
    if (!Gzip(body, out)) return nullptr;
    auto value = std::make_shared<const std::string>(std::move(out));
    if (value->size() > capacity_) return value;
    std::lock_guard lock(mutex_);
    if (index_.count(key)) return value;  // another thread compressed it meanwhile
    lru_.emplace_front(key, value);
    index_.emplace(std::move(key), lru_.begin());
    bytes_ += value->size();
    while (bytes_ > capacity_) {
      bytes_ -= lru_.back().second->size();
      index_.erase(lru_.back().first);
      lru_.pop_back();
    }
    return value;
  }

 private:
  using Entry = std::pair<std::string, std::shared_ptr<const std::string>>;
  const std::size_t capacity_;
  std::mutex mutex_;
  std::list<Entry> lru_;
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  std::size_t bytes_ = 0;
};

void AppendNumber(std::string& out, std::uint64_t value) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  (void)ec;
  out.append(buf, static_cast<std::size_t>(end - buf));
}

const char* MethodLabel(MethodCode code) {
  static const char* const kLabels[] = {"OTHER", "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
  return kLabels[code];
}

// One piece of output: an optional chunk-size line, shared data, an optional chunk suffix (CRLF).
struct OutItem {
  std::shared_ptr<const std::string> data;
  std::array<char, 20> prefix{};
  std::uint8_t prefix_len = 0;
  bool chunk_suffix = false;

  std::size_t Bytes() const { return prefix_len + (data ? data->size() : 0) + (chunk_suffix ? 2 : 0); }

  static OutItem Plain(std::shared_ptr<const std::string> data) {
    OutItem item;
    item.data = std::move(data);
    return item;
  }
  // The framing of a chunk of `size` bytes, without the data.
  static OutItem ChunkHead(std::size_t size) {
    OutItem item;
    auto [end, ec] = std::to_chars(item.prefix.data(), item.prefix.data() + 16, size, 16);
    (void)ec;
    *end++ = '\r';
    *end++ = '\n';
    item.prefix_len = static_cast<std::uint8_t>(end - item.prefix.data());
    item.chunk_suffix = true;
    return item;
  }
  static OutItem Chunk(std::shared_ptr<const std::string> data) {
    OutItem item = ChunkHead(data->size());
    item.data = std::move(data);
    return item;
  }

};

const std::shared_ptr<const std::string>& LastChunk() {
  static const auto kLast = std::make_shared<const std::string>("0\r\n\r\n");
  return kLast;
}

enum class After : std::uint8_t { kNothing, kNextRequest, kClose };

// What the server needs to know about the current request to shape its response.
struct RequestInfo {
  bool head = false;
  bool http10 = false;
  bool keep_alive = true;
  bool accept_gzip = false;
  bool has_if_none_match = false;
  std::string cors_origin;  // allowed Origin to echo; empty: no CORS headers
  std::string if_none_match;
  MethodCode method = kOther;
};


struct RouteEntry {
  std::string method;
  std::string pattern;
  std::vector<std::string> segments;
  std::vector<bool> is_param;
  std::uint64_t param_mask = 0;  // bit (63 - i) set when segment i is a parameter: smaller = more exact
  AsyncHandler handler;
  RouteKind kind = RouteKind::kPooled;
  metrics::Histogram* latency = nullptr;
};

class Connection;

struct ServerCore {
  explicit ServerCore(AsyncServerOptions opts) : options(std::move(opts)), io(static_cast<int>(std::max(1u, options.io_threads))) {
    for (unsigned i = 0; i < std::max(1u, options.io_threads); ++i) flush_shards.push_back(std::make_unique<FlushShard>());
  }

  AsyncServerOptions options;
  std::uint64_t generation = ++g_server_generation;
  asio::io_context io;  // first: outlives every socket below
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::steady_timer> sweep_timer;
  std::optional<asio::steady_timer> accept_retry_timer;
  std::vector<std::thread> io_threads;
  std::vector<std::thread> workers;
  std::atomic<bool> started{false};
  std::atomic<bool> stopping{false};
  bool running = false;  // Start() completed
  bool stopped = false;
  std::uint16_t port = 0;
  std::mutex stop_mutex;

  std::vector<RouteEntry> routes;
  AsyncHandler not_found;
  bool custom_not_found = false;
  bool cors_any = false;

  // Worker pool.
  std::mutex pool_mutex;
  std::condition_variable pool_cv;
  std::deque<std::shared_ptr<Connection>> pool_queue;
  bool pool_stop = false;
  std::atomic<int> active_handlers{0};

  // Dedicated handler threads.
  struct Dedicated {
    std::thread thread;
    std::atomic<bool> done{false};
  };
  std::mutex dedicated_mutex;
  std::list<Dedicated> dedicated;

  // Flushes requested from other threads (handlers, the live publisher), batched per shard: the
  // first request of an empty shard posts ONE task, which flushes every queued connection on an I/O
  // thread (each on its strand, run inline when the strand is idle). A publisher offering a frame to
  // 10,000 streams thus costs a few posts per event, not one cross-thread post per connection.
  struct FlushShard {
    std::mutex mutex;
    std::vector<std::shared_ptr<Connection>> queue;
    std::vector<std::shared_ptr<Connection>> spare;  // the last batch's storage, reused
    bool posted = false;
  };
  std::vector<std::unique_ptr<FlushShard>> flush_shards;
  std::atomic<std::size_t> next_flush_shard{0};
  void QueueFlush(std::shared_ptr<Connection> conn, std::size_t shard);
  void RunFlushShard(std::size_t shard);

  // Open connections (owning).
  mutable std::mutex conns_mutex;
  std::unordered_map<Connection*, std::shared_ptr<Connection>> conns;

  // Rate limiting.
  struct Bucket {
    double tokens = 0;
    Clock::time_point last;
  };
  std::mutex rate_mutex;
  std::unordered_map<std::string, Bucket> buckets;
  Clock::time_point last_bucket_sweep = Clock::now();

  // Metrics (set at Start when options.registry is set).
  metrics::Gauge* connections_gauge = nullptr;
  metrics::Gauge* streams_gauge = nullptr;
  metrics::Gauge* queue_gauge = nullptr;
  metrics::Counter* rejected_queue_full = nullptr;
  metrics::Counter* rejected_rate_limited = nullptr;
  metrics::Counter* rejected_too_large = nullptr;
  metrics::Counter* rejected_header_too_large = nullptr;
  metrics::Counter* rejected_connections = nullptr;
  metrics::Counter* rejected_slow_client = nullptr;
  metrics::Histogram* unmatched_latency = nullptr;
  mutable GzipCache gzip_cache{16u * 1024u * 1024u};

  void DoAccept();
  void OnAccept(tcp::socket socket);
  void ScheduleSweep();
  void Sweep();
  void Unregister(Connection* conn);
  std::vector<std::shared_ptr<Connection>> Snapshot() const;

  // Best route for (raw path, method): index or -1; `path_matched` = some route matches the path.
  int Match(std::string_view raw_path, std::string_view method, int* any_route, std::string* allow) const;
  bool Submit(const std::shared_ptr<Connection>& conn);
  bool SpawnDedicated(const std::shared_ptr<Connection>& conn);
  void WorkerLoop();
  void RunHandler(const std::shared_ptr<Connection>& conn);
  bool AllowRequest(const std::string& client, int* retry_after);

  // A complete response (or, with `stream`, the head of a chunked one). `status` may become 304.
  std::string BuildResponse(const RequestInfo& info, int& status, std::string_view content_type, std::string_view body,
                            const Headers& headers, bool stream) const;
  void RecordRequest(int route_index, MethodCode method, int status, Clock::time_point started);
  void Reject(metrics::Counter* counter) {
    if (counter != nullptr) counter->Inc();
  }
};

}  // namespace

struct AsyncServer::Impl : ServerCore {
  using ServerCore::ServerCore;
};

namespace {

// One client connection. Strand-only state is marked; the output queue is shared under out_mutex_.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Impl = ServerCore;

  Connection(Impl& server, tcp::socket socket)
      : server_(server),
        socket_(std::move(socket)),
        flush_shard_(server.next_flush_shard.fetch_add(1, std::memory_order_relaxed) % server.flush_shards.size()),
        fd_(socket_.native_handle()) {}

  // On an I/O thread (a flush shard's task): flushes on the strand, inline when it is idle.
  void DispatchFlush() {
    asio::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->Flush(); });
  }

  void Begin() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->StartRead(); });
  }

  // --- any thread ---

  // Queues items; `after` says what to do once everything queued is written. False if closed.
  bool Enqueue(std::initializer_list<OutItem> items, After after, bool end_stream = false) {
    bool post = false;
    {
      std::lock_guard lock(out_mutex_);
      if (closed_ || ended_) return false;
      for (const OutItem& item : items) {
        queued_bytes_ += item.Bytes();
        pending_.push_back(item);
      }
      if (after != After::kNothing) after_ = after;
      if (end_stream) ended_ = true;
      if (!flush_scheduled_) post = flush_scheduled_ = true;
    }
    if (post) PostFlush();
    return true;
  }

  // Blocking stream write: waits while more than `limit` bytes are queued.
  bool EnqueueBlocking(OutItem item, std::size_t limit) {
    bool post = false;
    {
      std::unique_lock lock(out_mutex_);
      while (queued_bytes_ > limit && !closed_ && !ended_ && !server_.stopping.load(std::memory_order_relaxed)) {
        out_cv_.wait_for(lock, kBlockedWriterPoll);
      }
      if (closed_ || ended_ || server_.stopping.load()) return false;
      queued_bytes_ += item.Bytes();
      pending_.push_back(std::move(item));
      if (!flush_scheduled_) post = flush_scheduled_ = true;
    }
    if (post) PostFlush();
    return true;
  }

  // Detached sink's Offer: never blocks. Beyond `limit` queued bytes, or (with `slow_limit` > 0) when
  // bytes are already queued and this frame would take them past `slow_limit`, the connection is
  // dropped. When nothing is queued or being written (a live stream whose client keeps up: the usual
  // case), the frame is written to the socket right here, on the calling thread, under out_mutex_:
  // a publisher fanning one frame out to many streams then costs one send per stream, with no hop to
  // an I/O thread. Whatever the socket does not take is queued for the strand. CloseNow() sets
  // closed_ under the same lock before it closes the descriptor, so the send never meets a closed
  // (or reused) one.
  StreamSink::OfferResult Offer(const std::shared_ptr<const std::string>& data, std::size_t limit,
                                std::size_t slow_limit) {
    if (!data) return Closed() ? StreamSink::OfferResult::kClosed : StreamSink::OfferResult::kQueued;
    bool post = false;
    bool drop = false;
    bool failed = false;
    {
      std::lock_guard lock(out_mutex_);
      if (closed_ || ended_) return StreamSink::OfferResult::kClosed;
      if (data->empty()) return StreamSink::OfferResult::kQueued;  // an empty chunk would end the response
      // The chunk's framing (or nothing), built once: sent around the frame, or queued with it.
      OutItem item = chunked_ ? OutItem::ChunkHead(data->size()) : OutItem();
      const std::size_t bytes = item.Bytes() + data->size();
      if (queued_bytes_ + bytes > limit || (slow_limit > 0 && queued_bytes_ > 0 && queued_bytes_ + bytes > slow_limit)) {
        drop = true;
        closed_ = true;
        pending_.clear();
        queued_bytes_ = 0;
      } else if (!flush_scheduled_ && pending_.empty()) {
        // The frame is referenced, not copied: nothing of it outlives the send unless the socket is full.
        const ssize_t sent = SendNow(item, *data);
        if (sent == static_cast<ssize_t>(bytes)) return StreamSink::OfferResult::kQueued;
        if (sent < 0) {
          failed = true;  // the peer is gone: the strand closes the connection
          closed_ = true;
        } else {
          auto rest = std::make_shared<std::string>();
          rest->reserve(bytes - static_cast<std::size_t>(sent));
          AppendFrom(*rest, item, *data, static_cast<std::size_t>(sent));
          queued_bytes_ += rest->size();
          pending_.push_back(OutItem::Plain(std::move(rest)));
          post = flush_scheduled_ = true;
        }
      } else {
        queued_bytes_ += bytes;
        item.data = data;
        pending_.push_back(std::move(item));
        if (!flush_scheduled_) post = flush_scheduled_ = true;
      }
    }
    if (drop || failed) {
      if (drop) server_.Reject(server_.rejected_slow_client);
      out_cv_.notify_all();
      asio::post(socket_.get_executor(), [self = shared_from_this(), drop] {
        if (drop) {
          self->ResetNow();
        } else {
          self->CloseNow();
        }
      });
      return drop ? StreamSink::OfferResult::kDropped : StreamSink::OfferResult::kClosed;
    }
    if (post) PostFlush();
    return StreamSink::OfferResult::kQueued;
  }

  // Ends a stream: queued data, `final_data` (if any), the terminating chunk, then close.
  void EndStream(std::string_view final_data) {
    std::shared_ptr<const std::string> final_ptr;
    if (!final_data.empty()) final_ptr = std::make_shared<const std::string>(final_data);
    bool post = false;
    {
      std::lock_guard lock(out_mutex_);
      if (closed_ || ended_) return;
      ended_ = true;
      if (final_ptr) {
        OutItem item = chunked_ ? OutItem::Chunk(std::move(final_ptr)) : OutItem::Plain(std::move(final_ptr));
        queued_bytes_ += item.Bytes();
        pending_.push_back(std::move(item));
      }
      if (chunked_) {
        pending_.push_back(OutItem::Plain(LastChunk()));
        queued_bytes_ += 5;
      }
      after_ = After::kClose;
      if (!flush_scheduled_) post = flush_scheduled_ = true;
    }
    if (post) PostFlush();
  }

  // Detached sink's Abort: discards what is queued now and resets the connection on the strand.
  void AbortStream() {
    {
      std::lock_guard lock(out_mutex_);
      if (closed_) return;
      closed_ = true;
      pending_.clear();
      queued_bytes_ = 0;
    }
    out_cv_.notify_all();
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->ResetNow(); });
  }

  // Closes once what is queued is written, without ending the stream (Abort).
  void CloseAfterFlush() {
    bool post = false;
    {
      std::lock_guard lock(out_mutex_);
      if (closed_) return;
      ended_ = true;
      after_ = After::kClose;
      if (!flush_scheduled_) post = flush_scheduled_ = true;
    }
    if (post) PostFlush();
  }

  void SetOnClose(std::function<void()> callback) {
    {
      std::lock_guard lock(out_mutex_);
      if (!closed_) {
        on_close_ = std::move(callback);
        return;
      }
    }
    if (callback) callback();
  }

  bool Closed() const {
    std::lock_guard lock(out_mutex_);
    return closed_ || ended_;
  }
  bool Gone() const { return gone_.load(std::memory_order_acquire); }
  std::size_t Buffered() const {
    std::lock_guard lock(out_mutex_);
    return queued_bytes_;
  }
  void WakeWriters() {
    std::lock_guard lock(out_mutex_);
    out_cv_.notify_all();
  }
  void PostStartStream() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->StartStreamWatch(); });
  }

  // Stop(): ends open streams with the final data, closes idle connections. Runs on the strand.
  void PostStopping() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      if (self->streaming_) {
        self->EndStream(self->server_.options.stream_final_data);
      } else if (self->phase_ == Phase::kReading) {
        self->CloseNow();
      }
    });
  }
  void PostClose() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->CloseNow(); });
  }
  void PostCloseIfExpired(std::int64_t now) {
    asio::post(socket_.get_executor(), [self = shared_from_this(), now] {
      std::int64_t deadline = self->deadline_.load(std::memory_order_relaxed);
      if (deadline != 0 && deadline <= now) self->CloseNow();
    });
  }
  std::int64_t Deadline() const { return deadline_.load(std::memory_order_relaxed); }

  // Request state, handed to the handler thread while no read is pending.
  Request request_;
  RequestInfo info_;
  int route_index_ = -1;
  Clock::time_point started_;
  std::string remote_;
  bool chunked_ = true;  // stream framing (false for HTTP/1.0: the body ends with the connection)

 private:
  enum class Phase { kReading, kHandling, kStreaming };
  enum class Parse { kIncomplete, kDone };

  // Under out_mutex_, nothing queued or in flight: one non-blocking send of `head` (a chunk's framing,
  // or nothing) around `data`. Bytes sent (0 when the socket is full), or -1 when the connection failed.
  ssize_t SendNow(const OutItem& head, const std::string& data) {
    iovec iov[3];
    int n = 0;
    if (head.prefix_len > 0) iov[n++] = {const_cast<char*>(head.prefix.data()), head.prefix_len};
    iov[n++] = {const_cast<char*>(data.data()), data.size()};
    if (head.chunk_suffix) iov[n++] = {const_cast<char*>("\r\n"), 2};
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<decltype(msg.msg_iovlen)>(n);
    while (true) {
      const ssize_t sent = ::sendmsg(fd_, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (sent >= 0) return sent;
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    }
  }
  // Appends the bytes of `head` around `data` from `skip` on.
  static void AppendFrom(std::string& out, const OutItem& head, const std::string& data, std::size_t skip) {
    auto part = [&](std::string_view bytes) {
      const std::size_t from = std::min(skip, bytes.size());
      out.append(bytes.substr(from));
      skip -= from;
    };
    part(std::string_view(head.prefix.data(), head.prefix_len));
    part(data);
    if (head.chunk_suffix) part("\r\n");
  }

  void PostFlush() { server_.QueueFlush(shared_from_this(), flush_shard_); }

  void SetDeadline(std::chrono::milliseconds after) {
    deadline_.store((Clock::now() + after).time_since_epoch().count(), std::memory_order_relaxed);
  }
  void ClearDeadline() { deadline_.store(0, std::memory_order_relaxed); }

  // --- strand ---

  void Flush() {
    while (true) {
      After after = After::kNothing;
      {
        std::lock_guard lock(out_mutex_);
        if (closed_) {
          flush_scheduled_ = false;
          return;
        }
        if (pending_.empty()) {
          flush_scheduled_ = false;
          after = after_;
          after_ = After::kNothing;
        } else {
          writing_.swap(pending_);
        }
      }
      if (writing_.empty()) {
        DoAfter(after);
        return;
      }
      buffers_.clear();
      std::size_t total = 0;
      for (const OutItem& item : writing_) {
        if (item.prefix_len > 0) buffers_.emplace_back(item.prefix.data(), item.prefix_len);
        if (item.data && !item.data->empty()) buffers_.emplace_back(item.data->data(), item.data->size());
        if (item.chunk_suffix) buffers_.emplace_back("\r\n", 2);
        total += item.Bytes();
      }
      if (!streaming_) SetDeadline(server_.options.request_timeout);
      // The socket is non-blocking: try the write at once. A frame to a client that reads (the usual
      // case) is written here, without a completion handler; what is left waits for the socket.
      boost::system::error_code ec;
      const std::size_t written = socket_.write_some(buffers_, ec);
      if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
        writing_.clear();
        CloseNow();
        return;
      }
      if (!ec && written == total) {
        Written();
        continue;
      }
      if (!ec) {
        std::size_t skip = written;
        std::size_t first = 0;
        while (first < buffers_.size() && skip >= buffers_[first].size()) skip -= buffers_[first++].size();
        buffers_.erase(buffers_.begin(), buffers_.begin() + static_cast<std::ptrdiff_t>(first));
        if (skip > 0) buffers_.front() += skip;
      }
      asio::async_write(socket_, buffers_, [self = shared_from_this()](const boost::system::error_code& e, std::size_t) {
        self->OnWritten(e);
      });
      return;
    }
  }

  // `writing_` is on the wire: releases it and its bytes from the queue.
  void Written() {
    std::size_t bytes = 0;
    for (const OutItem& item : writing_) bytes += item.Bytes();
    writing_.clear();
    {
      std::lock_guard lock(out_mutex_);
      queued_bytes_ -= std::min(queued_bytes_, bytes);
    }
    out_cv_.notify_all();
  }

  void OnWritten(const boost::system::error_code& ec) {
    if (ec) {
      writing_.clear();
      CloseNow();
      return;
    }
    Written();
    Flush();
  }

  void DoAfter(After after) {
    switch (after) {
      case After::kNothing:
        break;
      case After::kNextRequest:
        if (server_.stopping.load()) {
          CloseNow();
        } else {
          StartRead();
        }
        break;
      case After::kClose: {
        boost::system::error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_send, ignored);
        CloseNow();
        break;
      }
    }
  }

  void StartRead() {
    phase_ = Phase::kReading;
    ClearDeadline();
    request_deadline_set_ = false;
    continue_sent_ = false;
    if (!in_.empty()) {
      SetDeadline(server_.options.request_timeout);
      request_deadline_set_ = true;
      if (TryParse() == Parse::kDone) return;
    } else {
      if (in_.capacity() > kKeepInputCapacity) std::string().swap(in_);
      SetDeadline(server_.options.idle_timeout);
    }
    WaitReadable();
  }

  void WaitReadable() {
    socket_.async_wait(tcp::socket::wait_read,
                       [self = shared_from_this()](const boost::system::error_code& ec) { self->OnReadable(ec); });
  }

  // Reads what is available without blocking. False when the peer is gone.
  bool ReadAvailable(bool keep) {
    thread_local std::array<char, kReadChunk> buffer;
    const std::size_t limit = server_.options.max_header_bytes + server_.options.max_body_bytes + kReadChunk;
    while (true) {
      boost::system::error_code ec;
      std::size_t n = socket_.read_some(asio::buffer(buffer), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) return true;
      if (ec) return false;
      if (keep) in_.append(buffer.data(), n);
      if (n < buffer.size() || (keep && in_.size() > limit)) return true;
    }
  }

  void OnReadable(const boost::system::error_code& ec) {
    if (ec || phase_ != Phase::kReading) {
      if (ec) CloseNow();
      return;
    }
    if (!ReadAvailable(true)) {
      CloseNow();
      return;
    }
    if (!in_.empty() && !request_deadline_set_) {
      SetDeadline(server_.options.request_timeout);
      request_deadline_set_ = true;
    }
    if (TryParse() == Parse::kDone) return;
    WaitReadable();
  }

  // During a stream: notices the client closing (reads and discards anything else).
  void StartStreamWatch() {
    if (streaming_ || Closed()) return;
    streaming_ = true;
    phase_ = Phase::kStreaming;
    ClearDeadline();
    if (server_.streams_gauge != nullptr) server_.streams_gauge->Add(1);
    WatchStream();
  }

  void WatchStream() {
    socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) return;  // closed or cancelled
      if (!self->ReadAvailable(false)) {
        self->gone_.store(true, std::memory_order_release);
        self->CloseNow();
        return;
      }
      self->WatchStream();
    });
  }

  // A response from the server itself (errors, OPTIONS), written on the strand.
  void RespondInline(int status, std::string_view content_type, std::string_view body, const Headers& headers,
                     bool close, int route_index = -1) {
    if (close) info_.keep_alive = false;
    if (server_.stopping.load()) info_.keep_alive = false;
    int final_status = status;
    auto response = std::make_shared<const std::string>(
        server_.BuildResponse(info_, final_status, content_type, body, headers, false));
    server_.RecordRequest(route_index, info_.method, final_status, started_);
    phase_ = Phase::kHandling;
    ClearDeadline();
    Enqueue({OutItem::Plain(std::move(response))}, info_.keep_alive ? After::kNextRequest : After::kClose);
  }

  void RespondError(int status, std::string_view message, bool close, Headers headers = {}) {
    RespondInline(status, "application/json", JsonError(status, message), headers, close);
  }

  Parse TryParse() {
    const AsyncServerOptions& options = server_.options;
    RequestHead head;
    const ParseResult parsed =
        ParseRequest(in_, RequestLimits{options.max_header_bytes, options.max_body_bytes}, request_, head);
    if (parsed.skipped > 0) in_.erase(0, parsed.skipped);
    if (parsed.outcome == ParseOutcome::kIncomplete) {
      if (head.expect_continue && !continue_sent_) {
        continue_sent_ = true;
        static const auto kContinue = std::make_shared<const std::string>("HTTP/1.1 100 Continue\r\n\r\n");
        Enqueue({OutItem::Plain(kContinue)}, After::kNothing);
      }
      return Parse::kIncomplete;
    }
    started_ = Clock::now();
    info_ = RequestInfo{};
    info_.method = head.method;
    info_.head = head.method == kHead;
    info_.http10 = head.http10;
    info_.keep_alive = head.keep_alive;
    const Request& req = request_;
    if (auto it = req.headers.find("accept-encoding"); it != req.headers.end()) {
      info_.accept_gzip = AcceptsGzip(it->second);
    }
    if (parsed.outcome == ParseOutcome::kError) {
      if (parsed.status == 431) server_.Reject(server_.rejected_header_too_large);
      if (parsed.status == 413) server_.Reject(server_.rejected_too_large);
      RespondError(parsed.status, parsed.message, true);
      return Parse::kDone;
    }
    if (auto it = req.headers.find("if-none-match"); it != req.headers.end()) {
      info_.has_if_none_match = true;
      info_.if_none_match = it->second;
    }
    if (!options.cors_origins.empty()) {
      if (auto it = req.headers.find("origin"); it != req.headers.end()) {
        if (server_.cors_any ||
            std::find(options.cors_origins.begin(), options.cors_origins.end(), it->second) != options.cors_origins.end()) {
          info_.cors_origin = it->second;
        }
      }
    }
    in_.erase(0, parsed.consumed);
    Dispatch();
    return Parse::kDone;
  }

  void Dispatch() {
    Request& req = request_;
    ClearDeadline();
    phase_ = Phase::kHandling;
    std::string_view target = req.target;
    std::size_t question = target.find('?');
    std::string_view raw_path = target.substr(0, question);
    if (question != std::string_view::npos) req.query = ParseQuery(target.substr(question + 1));
    req.path = PercentDecode(raw_path, false);

    if (server_.stopping.load()) {
      RespondError(503, "server is shutting down", true, {{"Retry-After", "1"}});
      return;
    }
    if (server_.options.rate_limit_per_client > 0) {
      int retry_after = 1;
      if (!server_.AllowRequest(remote_, &retry_after)) {
        server_.Reject(server_.rejected_rate_limited);
        RespondError(429, "too many requests", false, {{"Retry-After", std::to_string(retry_after)}});
        return;
      }
    }
    if (info_.method == kOptions) {
      HandleOptions(raw_path);
      return;
    }
    int any_route = -1;
    std::string allow;
    const std::string_view lookup = info_.head ? std::string_view("GET") : std::string_view(req.method);
    int index = server_.Match(raw_path, lookup, &any_route, &allow);
    if (index < 0 && any_route >= 0) {
      RespondInline(405, "application/json", JsonError(405, "method " + req.method + " not allowed on " + req.path),
                    {{"Allow", allow}}, false, any_route);
      return;
    }
    route_index_ = index;
    if (index >= 0) {
      const RouteEntry& route = server_.routes[static_cast<std::size_t>(index)];
      req.route = route.pattern;
      // Parameters: segments of the raw path, percent-decoded.
      std::size_t start = 1;
      for (std::size_t i = 0; i < route.segments.size(); ++i) {
        std::size_t slash = raw_path.find('/', start);
        if (slash == std::string_view::npos) slash = raw_path.size();
        if (route.is_param[i]) req.params[route.segments[i]] = PercentDecode(raw_path.substr(start, slash - start), false);
        start = slash + 1;
      }
      bool ok = route.kind == RouteKind::kDedicated ? server_.SpawnDedicated(shared_from_this())
                                                     : server_.Submit(shared_from_this());
      if (!ok) {
        server_.Reject(server_.rejected_queue_full);
        RespondInline(503, "application/json", JsonError(503, "server busy, retry later"), {{"Retry-After", "1"}}, false,
                      index);
      }
      return;
    }
    if (!server_.custom_not_found) {
      RespondInline(404, "application/json", JsonError(404, "no such path: " + req.path), {}, false);
      return;
    }
    if (!server_.Submit(shared_from_this())) {
      server_.Reject(server_.rejected_queue_full);
      RespondInline(503, "application/json", JsonError(503, "server busy, retry later"), {{"Retry-After", "1"}}, false);
    }
  }

  void HandleOptions(std::string_view raw_path) {
    std::string allow;
    int any_route = -1;
    if (raw_path == "*") {
      allow = "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS";
    } else {
      server_.Match(raw_path, "\n", &any_route, &allow);  // no method matches "\n": collects Allow
      if (any_route < 0) {
        RespondInline(404, "application/json", JsonError(404, "no such path: " + request_.path), {}, false);
        return;
      }
    }
    Headers headers{{"Allow", allow}};
    auto requested = request_.headers.find("access-control-request-method");
    if (!info_.cors_origin.empty() && requested != request_.headers.end()) {
      headers.emplace_back("Access-Control-Allow-Methods", allow);
      auto requested_headers = request_.headers.find("access-control-request-headers");
      headers.emplace_back("Access-Control-Allow-Headers", requested_headers != request_.headers.end()
                                                               ? requested_headers->second
                                                               : std::string("Content-Type, If-None-Match, Last-Event-ID"));
      headers.emplace_back("Access-Control-Max-Age", "86400");
    }
    RespondInline(204, "", "", headers, false, any_route);
  }

 public:
  // CloseNow with SO_LINGER 0: the kernel drops its send buffer and the client gets a reset at once
  // (a plain close keeps unsent data, and the socket, until a client that does not read takes it).
  void ResetNow() {
    if (!socket_closed_) {
      boost::system::error_code ignored;
      socket_.set_option(asio::socket_base::linger(true, 0), ignored);
    }
    CloseNow();
  }

  void CloseNow() {
    std::function<void()> callback;
    {
      std::lock_guard lock(out_mutex_);
      closed_ = true;
      pending_.clear();
      queued_bytes_ = 0;  // nothing more will be written
      callback = std::move(on_close_);
      on_close_ = nullptr;
    }
    out_cv_.notify_all();
    if (!socket_closed_) {
      socket_closed_ = true;
      gone_.store(true, std::memory_order_release);
      boost::system::error_code ignored;
      socket_.close(ignored);
      ClearDeadline();
      if (streaming_ && server_.streams_gauge != nullptr) server_.streams_gauge->Add(-1);
      std::string().swap(in_);
      server_.Unregister(this);
    }
    if (callback) callback();
  }

  Impl& server_;

 private:
  tcp::socket socket_;
  // strand-only
  std::string in_;
  Phase phase_ = Phase::kReading;
  bool streaming_ = false;
  bool socket_closed_ = false;
  bool request_deadline_set_ = false;
  bool continue_sent_ = false;
  std::vector<OutItem> writing_;
  std::vector<asio::const_buffer> buffers_;
  std::atomic<std::int64_t> deadline_{0};
  std::atomic<bool> gone_{false};
  // shared
  mutable std::mutex out_mutex_;
  std::condition_variable out_cv_;
  std::vector<OutItem> pending_;
  std::size_t queued_bytes_ = 0;
  bool flush_scheduled_ = false;
  bool closed_ = false;
  bool ended_ = false;
  After after_ = After::kNothing;
  std::function<void()> on_close_;
  const std::size_t flush_shard_;
  const int fd_;  // the socket's descriptor, for SendNow (closed only after closed_ is set)
};

void ServerCore::QueueFlush(std::shared_ptr<Connection> conn, std::size_t shard) {
  FlushShard& s = *flush_shards[shard];
  bool post = false;
  {
    std::lock_guard lock(s.mutex);
    s.queue.push_back(std::move(conn));
    if (!s.posted) post = s.posted = true;
  }
  if (post) asio::post(io, [this, shard] { RunFlushShard(shard); });
}

void ServerCore::RunFlushShard(std::size_t shard) {
  FlushShard& s = *flush_shards[shard];
  std::vector<std::shared_ptr<Connection>> batch;
  {
    std::lock_guard lock(s.mutex);
    batch.swap(s.spare);
    batch.swap(s.queue);
    s.posted = false;
  }
  for (auto& conn : batch) conn->DispatchFlush();
  batch.clear();
  std::lock_guard lock(s.mutex);
  if (s.spare.capacity() < batch.capacity()) s.spare.swap(batch);
}



class Sink final : public StreamSink {
 public:
  Sink(std::shared_ptr<Connection> conn, std::size_t limit) : conn_(std::move(conn)), limit_(limit) {}

  bool Offer(std::shared_ptr<const std::string> data) override {
    auto conn = conn_.lock();
    return conn && conn->Offer(data, limit_, 0) == OfferResult::kQueued;
  }
  OfferResult OfferOrDrop(const std::shared_ptr<const std::string>& data, std::size_t slow_limit) override {
    auto conn = conn_.lock();
    return conn ? conn->Offer(data, limit_, slow_limit) : OfferResult::kClosed;
  }
  bool Closed() const override {
    auto conn = conn_.lock();
    return !conn || conn->Closed();
  }
  void Close(std::string final_data) override {
    if (auto conn = conn_.lock()) conn->EndStream(final_data);
  }
  void Abort() override {
    if (auto conn = conn_.lock()) conn->AbortStream();
  }
  void OnClose(std::function<void()> callback) override {
    if (auto conn = conn_.lock()) {
      conn->SetOnClose(std::move(callback));
    } else if (callback) {
      callback();
    }
  }
  std::size_t Buffered() const override {
    auto conn = conn_.lock();
    return conn ? conn->Buffered() : 0;
  }

 private:
  std::weak_ptr<Connection> conn_;  // the server owns open connections; a sink does not keep one alive
  std::size_t limit_;
};

class Writer final : public AsyncResponseWriter {
 public:
  enum class State { kNone, kSent, kStreaming, kDetached, kFailed, kAborted };

  Writer(ServerCore& server, std::shared_ptr<Connection> conn) : server_(server), conn_(std::move(conn)) {}

  bool Send(int status, std::string_view content_type, std::string_view body, const Headers& headers) override {
    if (state_ != State::kNone) return false;
    if (conn_->Gone()) {
      state_ = State::kFailed;
      return false;
    }
    if (server_.stopping.load()) conn_->info_.keep_alive = false;
    status_ = status;
    response_ = std::make_shared<const std::string>(
        server_.BuildResponse(conn_->info_, status_, content_type, body, headers, false));
    state_ = State::kSent;
    return true;
  }

  bool StartStream(int status, std::string_view content_type, const Headers& headers) override {
    if (state_ != State::kNone) return false;
    conn_->info_.keep_alive = false;  // a stream ends its connection
    conn_->chunked_ = !conn_->info_.http10;
    status_ = status;
    auto head = std::make_shared<const std::string>(
        server_.BuildResponse(conn_->info_, status_, content_type, {}, headers, true));
    server_.RecordRequest(conn_->route_index_, conn_->info_.method, status_, conn_->started_);
    recorded_ = true;
    if (!conn_->Enqueue({OutItem::Plain(std::move(head))}, After::kNothing)) {
      state_ = State::kFailed;
      return false;
    }
    state_ = State::kStreaming;
    if (!conn_->info_.head) conn_->PostStartStream();
    return true;
  }

  bool WriteChunk(std::string_view data) override {
    if (state_ != State::kStreaming || conn_->info_.head || Cancelled()) return false;
    if (data.empty()) return true;  // an empty chunk would end the response
    auto shared = std::make_shared<const std::string>(data);
    OutItem item = conn_->chunked_ ? OutItem::Chunk(std::move(shared)) : OutItem::Plain(std::move(shared));
    if (!conn_->EnqueueBlocking(std::move(item), server_.options.stream_write_buffer)) return false;
    return true;
  }

  bool Cancelled() const override {
    return server_.stopping.load(std::memory_order_relaxed) || conn_->Gone() || state_ == State::kFailed ||
           state_ == State::kAborted;
  }

  void Abort() override {
    if (state_ == State::kAborted || state_ == State::kDetached) return;
    state_ = State::kAborted;
    conn_->CloseAfterFlush();
  }

  std::shared_ptr<StreamSink> Detach(std::size_t max_buffer_bytes) override {
    if (state_ != State::kStreaming || conn_->info_.head || conn_->Closed()) return nullptr;
    state_ = State::kDetached;
    return std::make_shared<Sink>(conn_, max_buffer_bytes);
  }

  const std::string& RemoteAddress() const override { return conn_->remote_; }

  State state() const { return state_; }

  // After the handler returned: completes the response.
  void Finish() {
    if (state_ == State::kNone) {
      Send(500, "application/json", JsonError(500, "handler sent no response"), {});
    }
    switch (state_) {
      case State::kSent:
        server_.RecordRequest(conn_->route_index_, conn_->info_.method, status_, conn_->started_);
        conn_->Enqueue({OutItem::Plain(std::move(response_))},
                       conn_->info_.keep_alive ? After::kNextRequest : After::kClose);
        break;
      case State::kStreaming:
        if (conn_->info_.head) {
          conn_->CloseAfterFlush();
        } else {
          conn_->EndStream(server_.stopping.load() ? std::string_view(server_.options.stream_final_data)
                                                   : std::string_view());
        }
        break;
      case State::kDetached:
        break;
      case State::kNone:
      case State::kFailed:
      case State::kAborted:
        if (!recorded_) server_.RecordRequest(conn_->route_index_, conn_->info_.method, 500, conn_->started_);
        conn_->CloseAfterFlush();
        break;
    }
  }

 private:
  ServerCore& server_;
  std::shared_ptr<Connection> conn_;
  State state_ = State::kNone;
  int status_ = 0;
  bool recorded_ = false;
  std::shared_ptr<const std::string> response_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Impl

std::string ServerCore::BuildResponse(const RequestInfo& info, int& status, std::string_view content_type,
                                             std::string_view body, const Headers& headers, bool stream) const {
  const bool cors_managed = !options.cors_origins.empty();
  std::string_view etag;
  std::string_view handler_vary;
  bool handler_encoding = false;
  bool handler_expose = false;
  for (const auto& [name, value] : headers) {
    if (IEquals(name, "etag")) etag = value;
    else if (IEquals(name, "vary")) handler_vary = value;
    else if (IEquals(name, "content-encoding")) handler_encoding = true;
    else if (IEquals(name, "access-control-expose-headers")) handler_expose = true;
  }
  bool not_modified = !stream && info.has_if_none_match && !etag.empty() && status >= 200 && status < 300 &&
                      EtagMatches(info.if_none_match, etag);
  if (not_modified) status = 304;

  bool vary_encoding = false;
  std::string compressed;
  std::shared_ptr<const std::string> cached_gzip;
  bool gzipped = false;
  if (!stream && !not_modified && options.gzip && !handler_encoding && body.size() >= options.gzip_min_bytes &&
      Compressible(content_type)) {
    vary_encoding = true;
    if (info.accept_gzip && !etag.empty() && body.size() >= GzipCache::kMinBytes) {
      cached_gzip = gzip_cache.Get(etag, body);
      if (cached_gzip) {
        gzipped = true;
        body = *cached_gzip;
      }
    } else if (info.accept_gzip && Gzip(body, compressed)) {
      gzipped = true;
      body = compressed;
    }
  }
  const bool no_body_status = status == 204 || status == 304 || (status >= 100 && status < 200);

  std::string out;
  out.reserve(192 + (info.head || no_body_status ? 0 : body.size()));
  out += info.http10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  AppendNumber(out, static_cast<std::uint64_t>(status));
  out += ' ';
  out += ReasonPhrase(status);
  out += "\r\n";
  if (!content_type.empty() && !not_modified) {
    out += "Content-Type: ";
    out += content_type;
    out += "\r\n";
  }
  if (stream) {
    if (info.http10) {
      out += "Connection: close\r\n";
    } else {
      out += "Transfer-Encoding: chunked\r\n";
    }
  } else if (!no_body_status) {
    out += "Content-Length: ";
    AppendNumber(out, body.size());
    out += "\r\n";
  }
  if (gzipped) out += "Content-Encoding: gzip\r\n";
  for (const auto& [name, value] : headers) {
    if (IEquals(name, "content-length") || IEquals(name, "transfer-encoding") || IEquals(name, "connection") ||
        IEquals(name, "vary") || (cors_managed && IEquals(name, "access-control-allow-origin"))) {
      continue;
    }
    if (not_modified && !IEquals(name, "etag") && !IEquals(name, "cache-control") &&
        !IStartsWith(name, "access-control-") && !IEquals(name, "last-modified") && !IEquals(name, "expires")) {
      continue;
    }
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  if (!info.cors_origin.empty()) {
    out += "Access-Control-Allow-Origin: ";
    out += info.cors_origin;
    out += "\r\n";
    if (!handler_expose) out += "Access-Control-Expose-Headers: ETag\r\n";
  }
  if (!handler_vary.empty() || cors_managed || vary_encoding) {
    out += "Vary: ";
    bool first = true;
    auto add = [&](std::string_view v) {
      if (!first) out += ", ";
      out += v;
      first = false;
    };
    if (!handler_vary.empty()) add(handler_vary);
    if (cors_managed && !HasToken(handler_vary, "origin")) add("Origin");
    if (vary_encoding && !HasToken(handler_vary, "accept-encoding")) add("Accept-Encoding");
    out += "\r\n";
  }
  if (!stream) {
    if (!info.keep_alive) {
      out += "Connection: close\r\n";
    } else if (info.http10) {
      out += "Connection: keep-alive\r\n";
    }
  }
  out += "\r\n";
  if (!stream && !info.head && !no_body_status) out += body;
  return out;
}

void ServerCore::RecordRequest(int route_index, MethodCode method, int status, Clock::time_point started) {
  if (options.registry == nullptr) return;
  // Counter per (server, route, method, status), cached per thread: no registry lock per request.
  thread_local std::unordered_map<std::uint64_t, metrics::Counter*> cache;
  const std::uint64_t key = (generation << 40) | (static_cast<std::uint64_t>(route_index + 1) << 24) |
                            (static_cast<std::uint64_t>(method) << 16) | static_cast<std::uint64_t>(status & 0xffff);
  auto it = cache.find(key);
  if (it == cache.end()) {
    const std::string route =
        route_index >= 0 ? routes[static_cast<std::size_t>(route_index)].pattern : std::string("unmatched");
    metrics::Counter& counter = options.registry->GetCounter(
        "ces_api_http_requests_total", "HTTP requests by route pattern, method and status",
        {{"route", route}, {"method", MethodLabel(method)}, {"status", std::to_string(status)}});
    it = cache.emplace(key, &counter).first;
  }
  it->second->Inc();
  metrics::Histogram* latency =
      route_index >= 0 ? routes[static_cast<std::size_t>(route_index)].latency : unmatched_latency;
  if (latency != nullptr) latency->Observe(std::chrono::duration<double>(Clock::now() - started).count());
}

int ServerCore::Match(std::string_view raw_path, std::string_view method, int* any_route,
                             std::string* allow) const {
  std::array<std::string_view, kMaxSegments> segments;
  std::size_t count = 0;
  if (raw_path.empty() || raw_path[0] != '/') return -1;
  std::size_t start = 1;
  while (true) {
    if (count == segments.size()) return -1;
    std::size_t slash = raw_path.find('/', start);
    if (slash == std::string_view::npos) {
      segments[count++] = raw_path.substr(start);
      break;
    }
    segments[count++] = raw_path.substr(start, slash - start);
    start = slash + 1;
  }
  int best = -1;
  int best_any = -1;
  std::uint64_t best_mask = ~std::uint64_t{0};
  std::uint64_t best_any_mask = ~std::uint64_t{0};
  for (std::size_t r = 0; r < routes.size(); ++r) {
    const RouteEntry& route = routes[r];
    if (route.segments.size() != count) continue;
    bool match = true;
    for (std::size_t i = 0; i < count && match; ++i) {
      match = route.is_param[i] ? !segments[i].empty() : segments[i] == route.segments[i];
    }
    if (!match) continue;
    if (route.method == method) {
      if (best < 0 || route.param_mask < best_mask) {
        best = static_cast<int>(r);
        best_mask = route.param_mask;
      }
    } else if (allow != nullptr) {
      if (best_any < 0 || route.param_mask < best_any_mask) {
        best_any = static_cast<int>(r);
        best_any_mask = route.param_mask;
      }
    }
  }
  if (best < 0 && best_any >= 0 && allow != nullptr) {
    // Allow lists every method whose route matches the path (HEAD with GET; OPTIONS by the server).
    std::vector<std::string_view> methods;
    for (const RouteEntry& route : routes) {
      if (route.segments.size() != count) continue;
      bool match = true;
      for (std::size_t i = 0; i < count && match; ++i) {
        match = route.is_param[i] ? !segments[i].empty() : segments[i] == route.segments[i];
      }
      if (match && std::find(methods.begin(), methods.end(), route.method) == methods.end()) {
        methods.push_back(route.method);
        if (route.method == "GET") methods.push_back("HEAD");
      }
    }
    methods.push_back("OPTIONS");
    for (std::string_view m : methods) {
      if (!allow->empty()) *allow += ", ";
      *allow += m;
    }
    *any_route = best_any;
  }
  if (best >= 0 && any_route != nullptr) *any_route = best;
  return best;
}

bool ServerCore::Submit(const std::shared_ptr<Connection>& conn) {
  {
    std::lock_guard lock(pool_mutex);
    if (pool_stop || pool_queue.size() >= options.max_queued_requests) return false;
    pool_queue.push_back(conn);
    if (queue_gauge != nullptr) queue_gauge->Set(static_cast<double>(pool_queue.size()));
  }
  pool_cv.notify_one();
  return true;
}

void ServerCore::WorkerLoop() {
  while (true) {
    std::shared_ptr<Connection> conn;
    {
      std::unique_lock lock(pool_mutex);
      pool_cv.wait(lock, [&] { return pool_stop || !pool_queue.empty(); });
      if (pool_queue.empty()) return;
      conn = std::move(pool_queue.front());
      pool_queue.pop_front();
      if (queue_gauge != nullptr) queue_gauge->Set(static_cast<double>(pool_queue.size()));
      active_handlers.fetch_add(1);
    }
    RunHandler(conn);
    active_handlers.fetch_sub(1);
  }
}

bool ServerCore::SpawnDedicated(const std::shared_ptr<Connection>& conn) {
  std::list<Dedicated> finished;
  bool ok = true;
  {
    std::lock_guard lock(dedicated_mutex);
    for (auto it = dedicated.begin(); it != dedicated.end();) {
      auto next = std::next(it);
      if (it->done.load()) finished.splice(finished.end(), dedicated, it);
      it = next;
    }
    if (stopping.load()) {
      ok = false;
    } else {
      dedicated.emplace_back();
      Dedicated* slot = &dedicated.back();
      active_handlers.fetch_add(1);
      try {
        slot->thread = std::thread([this, conn, slot] {
          RunHandler(conn);
          active_handlers.fetch_sub(1);
          slot->done.store(true);
        });
      } catch (const std::system_error& e) {
        active_handlers.fetch_sub(1);
        dedicated.pop_back();
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

void ServerCore::RunHandler(const std::shared_ptr<Connection>& conn) {
  Writer writer(*this, conn);
  const AsyncHandler& handler = conn->route_index_ >= 0 ? routes[static_cast<std::size_t>(conn->route_index_)].handler
                                                         : not_found;
  try {
    handler(conn->request_, writer);
  } catch (const std::exception& e) {
    log::Warn("http handler failed", {{"path", conn->request_.path}, {"error", e.what()}});
    if (writer.state() == Writer::State::kNone) {
      writer.Send(500, "application/json", JsonError(500, "internal error"), {});
    } else if (writer.state() == Writer::State::kStreaming) {
      writer.Abort();
    }
  } catch (...) {
    log::Warn("http handler failed", {{"path", conn->request_.path}, {"error", "unknown exception"}});
    if (writer.state() == Writer::State::kNone) {
      writer.Send(500, "application/json", JsonError(500, "internal error"), {});
    } else if (writer.state() == Writer::State::kStreaming) {
      writer.Abort();
    }
  }
  writer.Finish();
}

bool ServerCore::AllowRequest(const std::string& client, int* retry_after) {
  const double rate = options.rate_limit_per_client;
  const double burst = std::max(1.0, rate * 2);
  const auto now = Clock::now();
  std::lock_guard lock(rate_mutex);
  auto [it, inserted] = buckets.try_emplace(client);
  Bucket& bucket = it->second;
  if (inserted) {
    bucket.tokens = burst;
  } else {
    bucket.tokens = std::min(burst, bucket.tokens + rate * std::chrono::duration<double>(now - bucket.last).count());
  }
  bucket.last = now;
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return true;
  }
  *retry_after = std::max(1, static_cast<int>(std::ceil((1 - bucket.tokens) / rate)));
  return false;
}

void ServerCore::Unregister(Connection* conn) {
  std::shared_ptr<Connection> owned;  // released outside the lock
  {
    std::lock_guard lock(conns_mutex);
    auto it = conns.find(conn);
    if (it == conns.end()) return;
    owned = std::move(it->second);
    conns.erase(it);
  }
  if (connections_gauge != nullptr) connections_gauge->Add(-1);
}

std::vector<std::shared_ptr<Connection>> ServerCore::Snapshot() const {
  std::vector<std::shared_ptr<Connection>> out;
  std::lock_guard lock(conns_mutex);
  out.reserve(conns.size());
  for (const auto& [ptr, conn] : conns) out.push_back(conn);
  return out;
}

void ServerCore::DoAccept() {
  acceptor->async_accept(asio::make_strand(io), [this](const boost::system::error_code& ec, tcp::socket socket) {
    if (stopping.load() || ec == asio::error::operation_aborted) return;
    if (ec) {
      static std::atomic<std::int64_t> last_log{0};
      const std::int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count();
      if (last_log.exchange(now_s) != now_s) log::Warn("http accept failed", {{"error", ec.message()}});
      accept_retry_timer->expires_after(std::chrono::milliseconds(50));
      accept_retry_timer->async_wait([this](const boost::system::error_code& timer_ec) {
        if (!timer_ec && !stopping.load()) DoAccept();
      });
      return;
    }
    OnAccept(std::move(socket));
    DoAccept();
  });
}

void ServerCore::OnAccept(tcp::socket socket) {
  boost::system::error_code ec;
  {
    std::lock_guard lock(conns_mutex);
    if (conns.size() >= options.max_connections) {
      Reject(rejected_connections);
      socket.close(ec);
      return;
    }
  }
  socket.set_option(tcp::no_delay(true), ec);
  socket.non_blocking(true, ec);
  auto endpoint = socket.remote_endpoint(ec);
  auto conn = std::make_shared<Connection>(*this, std::move(socket));
  if (!ec) conn->remote_ = endpoint.address().to_string();
  {
    std::lock_guard lock(conns_mutex);
    conns.emplace(conn.get(), conn);
  }
  if (connections_gauge != nullptr) connections_gauge->Add(1);
  conn->Begin();
}

void ServerCore::ScheduleSweep() {
  auto period = std::min(options.idle_timeout, options.request_timeout) / 4;
  period = std::clamp(period, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
  sweep_timer->expires_after(period);
  sweep_timer->async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping.load()) return;
    Sweep();
    ScheduleSweep();
  });
}

void ServerCore::Sweep() {
  const auto now_point = Clock::now();
  const std::int64_t now = now_point.time_since_epoch().count();
  std::vector<std::shared_ptr<Connection>> expired;
  {
    std::lock_guard lock(conns_mutex);
    for (const auto& [ptr, conn] : conns) {
      std::int64_t deadline = conn->Deadline();
      if (deadline != 0 && deadline <= now) expired.push_back(conn);
    }
  }
  for (auto& conn : expired) conn->PostCloseIfExpired(now);
  if (options.rate_limit_per_client > 0 && now_point - last_bucket_sweep > std::chrono::seconds(10)) {
    last_bucket_sweep = now_point;
    // A bucket untouched for longer than it takes to refill is the same as a new one.
    const double rate = options.rate_limit_per_client;
    const double full_after = std::max(1.0, rate * 2) / rate + 1.0;
    std::lock_guard lock(rate_mutex);
    for (auto it = buckets.begin(); it != buckets.end();) {
      if (std::chrono::duration<double>(now_point - it->second.last).count() > full_after) {
        it = buckets.erase(it);
      } else {
        ++it;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// AsyncServer

AsyncServer::AsyncServer(AsyncServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  for (const std::string& origin : impl_->options.cors_origins) {
    if (origin == "*") impl_->cors_any = true;
  }
  impl_->not_found = [](const Request& request, AsyncResponseWriter& writer) {
    writer.Send(404, "application/json", JsonError(404, "no such path: " + request.path));
  };
}

AsyncServer::~AsyncServer() { Stop(); }

void AsyncServer::Route(std::string method, std::string pattern, AsyncHandler handler, RouteKind kind) {
  if (impl_->started.load()) throw std::logic_error("http routes must be added before Start()");
  if (pattern.empty() || pattern[0] != '/') throw std::invalid_argument("route pattern must start with '/': " + pattern);
  RouteEntry entry;
  entry.method = std::move(method);
  entry.pattern = pattern;
  entry.handler = std::move(handler);
  entry.kind = kind;
  std::size_t start = 1;
  while (true) {
    std::size_t slash = pattern.find('/', start);
    std::string segment = pattern.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    bool param = segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
    if (param) segment = segment.substr(1, segment.size() - 2);
    if (entry.segments.size() >= static_cast<std::size_t>(kMaxSegments)) {
      throw std::invalid_argument("route pattern has too many segments: " + pattern);
    }
    if (param) entry.param_mask |= std::uint64_t{1} << (63 - entry.segments.size());
    entry.segments.push_back(std::move(segment));
    entry.is_param.push_back(param);
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  for (const RouteEntry& existing : impl_->routes) {
    if (existing.method == entry.method && existing.pattern == entry.pattern) {
      throw std::invalid_argument("duplicate route: " + entry.method + " " + entry.pattern);
    }
  }
  impl_->routes.push_back(std::move(entry));
}

void AsyncServer::Route(std::string method, std::string pattern, RouteHandler handler, RouteKind kind) {
  Route(std::move(method), std::move(pattern),
        AsyncHandler([handler = std::move(handler)](const Request& request, AsyncResponseWriter& writer) {
          handler(request, writer);
        }),
        kind);
}

void AsyncServer::SetNotFound(AsyncHandler handler) {
  if (impl_->started.load()) throw std::logic_error("http not-found handler must be set before Start()");
  impl_->not_found = std::move(handler);
  impl_->custom_not_found = true;
}

std::vector<AsyncServer::RouteInfo> AsyncServer::Routes() const {
  std::vector<RouteInfo> out;
  for (const RouteEntry& route : impl_->routes) out.push_back({route.method, route.pattern});
  return out;
}

void AsyncServer::Start() {
  Impl& impl = *impl_;
  if (impl.started.exchange(true)) throw std::logic_error("http server started twice");
  const AsyncServerOptions& options = impl.options;

  // Thousands of sockets need more descriptors than the usual soft limit of 1024.
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    rlim_t wanted = limit.rlim_max;
    limit.rlim_cur = wanted;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      log::Warn("could not raise the open file limit", {{"error", std::strerror(errno)}});
    }
  }
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
      limit.rlim_cur < options.max_connections + 64) {
    log::Debug("open file limit is below max connections",
              {{"limit", static_cast<std::uint64_t>(limit.rlim_cur)},
               {"max_connections", static_cast<std::uint64_t>(options.max_connections)}});
  }

  if (metrics::Registry* registry = options.registry) {
    impl.connections_gauge = &registry->GetGauge("ces_api_http_connections", "Open HTTP connections");
    impl.streams_gauge = &registry->GetGauge("ces_api_http_streams", "Open streamed HTTP responses");
    impl.queue_gauge = &registry->GetGauge("ces_api_http_worker_queue", "HTTP requests waiting for a worker");
    auto rejected = [&](const char* reason) {
      return &registry->GetCounter("ces_api_http_rejected_total", "HTTP requests or connections refused, by reason",
                                   {{"reason", reason}});
    };
    impl.rejected_queue_full = rejected("queue_full");
    impl.rejected_rate_limited = rejected("rate_limited");
    impl.rejected_too_large = rejected("too_large");
    impl.rejected_header_too_large = rejected("header_too_large");
    impl.rejected_connections = rejected("connections");
    impl.rejected_slow_client = rejected("slow_client");
    const char* help = "HTTP request latency by route pattern, seconds";
    for (RouteEntry& route : impl.routes) {
      route.latency = &registry->GetHistogram("ces_api_http_request_seconds", help, {{"route", route.pattern}},
                                              metrics::LatencyBuckets());
    }
    impl.unmatched_latency = &registry->GetHistogram("ces_api_http_request_seconds", help, {{"route", "unmatched"}},
                                                     metrics::LatencyBuckets());
  }

  const std::string where = options.host + ":" + std::to_string(options.port);
  try {
    tcp::resolver resolver(impl.io);
    auto results = resolver.resolve(options.host, std::to_string(options.port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service);
    std::string error = "no address";
    for (const auto& entry : results) {
      tcp::acceptor acceptor(asio::make_strand(impl.io));
      boost::system::error_code ec;
      acceptor.open(entry.endpoint().protocol(), ec);
      if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
      if (!ec) acceptor.bind(entry.endpoint(), ec);
      if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
      if (ec) {
        error = ec.message();
        continue;
      }
      impl.acceptor.emplace(std::move(acceptor));
      break;
    }
    if (!impl.acceptor) throw std::runtime_error("cannot listen on " + where + ": " + error);
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("cannot listen on " + where + ": " + e.what());
  }
  impl.port = impl.acceptor->local_endpoint().port();
  impl.work.emplace(impl.io.get_executor());
  impl.sweep_timer.emplace(impl.io);
  impl.accept_retry_timer.emplace(impl.acceptor->get_executor());
  asio::post(impl.acceptor->get_executor(), [&impl] { impl.DoAccept(); });
  impl.ScheduleSweep();

  const unsigned io_threads = std::max(1u, options.io_threads);
  const unsigned workers = std::max(1u, options.worker_threads);
  for (unsigned i = 0; i < io_threads; ++i) impl.io_threads.emplace_back([&impl] { impl.io.run(); });
  for (unsigned i = 0; i < workers; ++i) impl.workers.emplace_back([&impl] { impl.WorkerLoop(); });
  impl.running = true;
}

std::uint16_t AsyncServer::Port() const { return impl_->port; }

void AsyncServer::Stop() {
  Impl& impl = *impl_;
  std::lock_guard stop_lock(impl.stop_mutex);
  if (impl.stopped) return;
  impl.stopped = true;
  impl.stopping.store(true);
  if (!impl.running) return;

  // 1. Stop accepting.
  asio::post(impl.acceptor->get_executor(), [&impl] {
    boost::system::error_code ignored;
    impl.acceptor->close(ignored);
    impl.accept_retry_timer->cancel();
  });
  asio::post(impl.io, [&impl] { impl.sweep_timer->cancel(); });

  // 2. Queued requests that no worker started get 503; workers exit once idle.
  std::deque<std::shared_ptr<Connection>> queued;
  {
    std::lock_guard lock(impl.pool_mutex);
    queued.swap(impl.pool_queue);
    impl.pool_stop = true;
    if (impl.queue_gauge != nullptr) impl.queue_gauge->Set(0);
  }
  impl.pool_cv.notify_all();
  for (auto& conn : queued) {
    Writer writer(impl, conn);
    writer.Send(503, "application/json", JsonError(503, "server is shutting down"), {{"Retry-After", "1"}});
    writer.Finish();
  }
  queued.clear();

  // 3. Running handlers see Cancelled(); blocked stream writers wake up.
  for (auto& conn : impl.Snapshot()) conn->WakeWriters();
  const auto drain_deadline = Clock::now() + impl.options.drain_timeout;
  while (impl.active_handlers.load() > 0 && Clock::now() < drain_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (impl.active_handlers.load() > 0) {
    log::Warn("http handlers still running after the drain timeout",
              {{"handlers", impl.active_handlers.load()}});
  }

  // 4. Open streams get the final data and their end; idle connections close.
  for (auto& conn : impl.Snapshot()) conn->PostStopping();
  const auto flush_deadline = Clock::now() + std::min<std::chrono::milliseconds>(impl.options.drain_timeout, kStopFlushGrace);
  while (OpenConnections() > 0 && Clock::now() < flush_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  for (auto& conn : impl.Snapshot()) conn->PostClose();

  // 5. Join the handler threads, then the I/O threads.
  for (auto& worker : impl.workers) {
    if (worker.joinable()) worker.join();
  }
  {
    std::list<Impl::Dedicated> dedicated;
    {
      std::lock_guard lock(impl.dedicated_mutex);
      dedicated.swap(impl.dedicated);
    }
    for (auto& d : dedicated) {
      if (d.thread.joinable()) d.thread.join();
    }
  }
  // Connections closed by handlers that finished late.
  for (auto& conn : impl.Snapshot()) conn->PostClose();
  const auto close_deadline = Clock::now() + std::chrono::milliseconds(500);
  while (OpenConnections() > 0 && Clock::now() < close_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  impl.work.reset();
  impl.io.stop();
  for (auto& thread : impl.io_threads) {
    if (thread.joinable()) thread.join();
  }
  {
    std::lock_guard lock(impl.conns_mutex);
    impl.conns.clear();
  }
}

std::size_t AsyncServer::OpenConnections() const {
  std::lock_guard lock(impl_->conns_mutex);
  return impl_->conns.size();
}

std::string JsonError(int status, std::string_view message, std::string_view parameter) {
  std::string out = "{\"code\":";
  AppendNumber(out, static_cast<std::uint64_t>(status));
  out += ",\"message\":\"";
  log::AppendJsonEscaped(out, message);
  out += '"';
  if (!parameter.empty()) {
    out += ",\"parameter\":\"";
    log::AppendJsonEscaped(out, parameter);
    out += '"';
  }
  out += '}';
  return out;
}

void AddObservabilityRoutes(AsyncServer& server, const metrics::Registry& registry,
                            std::function<bool(std::string& reason)> ready) {
  for (auto& [pattern, handler] : ObservabilityHandlers(registry, std::move(ready))) {
    server.Route("GET", std::move(pattern), std::move(handler));
  }
}

}  // namespace ces::http
