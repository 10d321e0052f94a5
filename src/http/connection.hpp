#pragma once
// Private to ces::http: one client connection of the async server.
//
// A connection serves one request at a time: while a handler runs nothing more is read, so pipelined
// requests wait in the socket. Output goes through one queue per connection (`pending_`, guarded by
// `out_mutex_`, shared with the handler and publisher threads); the strand swaps it out and writes it
// gathered, at once when the socket takes it (no completion handler), else through async_write. Other
// threads do not post a flush per connection: they queue the connection to its flush shard, and one
// task per shard flushes every queued connection on an I/O thread (ServerCore::RunFlushShard). A
// detached stream's Offer to a connection with nothing queued or in flight writes the frame itself, at
// once, on the calling thread: the live fan-out's usual case costs one send, no hop. Idle connections
// wait with async_wait(wait_read) and hold no read buffer; timeouts are checked by one sweep timer.

#include <sys/types.h>

#include <array>
#include <atomic>
#include <utility>  // before Boost.Asio, which uses std::exchange
#include <boost/asio.hpp>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "ces/http/async_server.hpp"
#include "response.hpp"
#include "server_core.hpp"

namespace ces::http::detail {

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

// What a connection does once everything queued is written.
enum class After : std::uint8_t { kNothing, kNextRequest, kClose };

// One client connection. Strand-only state is marked; the output queue is shared under out_mutex_.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(ServerCore& server, tcp::socket socket)
      : server_(server),
        socket_(std::move(socket)),
        flush_shard_(server.next_flush_shard.fetch_add(1, std::memory_order_relaxed) % server.flush_shards.size()),
        fd_(socket_.native_handle()) {}

  // On an I/O thread (a flush shard's task): flushes on the strand, inline when it is idle.
  void DispatchFlush();

  void Begin();

  // --- any thread ---

  // Queues items; `after` says what to do once everything queued is written. False if closed.
  bool Enqueue(std::initializer_list<OutItem> items, After after, bool end_stream = false);

  // Blocking stream write: waits while more than `limit` bytes are queued.
  bool EnqueueBlocking(OutItem item, std::size_t limit);

  // Detached sink's Offer: never blocks. Beyond `limit` queued bytes, or (with `slow_limit` > 0) when
  // bytes are already queued and this frame would take them past `slow_limit`, the connection is
  // dropped. When nothing is queued or being written (a live stream whose client keeps up: the usual
  // case), the frame is written to the socket right here, on the calling thread, under out_mutex_:
  // a publisher fanning one frame out to many streams then costs one send per stream, with no hop to
  // an I/O thread. Whatever the socket does not take is queued for the strand. CloseNow() sets
  // closed_ under the same lock before it closes the descriptor, so the send never meets a closed
  // (or reused) one.
  StreamSink::OfferResult Offer(const std::shared_ptr<const std::string>& data, std::size_t limit,
                                std::size_t slow_limit);

  // Ends a stream: queued data, `final_data` (if any), the terminating chunk, then close.
  void EndStream(std::string_view final_data);

  // Detached sink's Abort: discards what is queued now and resets the connection on the strand.
  void AbortStream();

  // Closes once what is queued is written, without ending the stream (Abort).
  void CloseAfterFlush();

  void SetOnClose(std::function<void()> callback);

  bool Closed() const;
  bool Gone() const { return gone_.load(std::memory_order_acquire); }
  std::size_t Buffered() const;
  void WakeWriters();
  void PostStartStream();

  // Stop(): ends open streams with the final data, closes idle connections. Runs on the strand.
  void PostStopping();
  void PostClose();
  void PostCloseIfExpired(std::int64_t now);
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
  ssize_t SendNow(const OutItem& head, const std::string& data);
  // Appends the bytes of `head` around `data` from `skip` on.
  static void AppendFrom(std::string& out, const OutItem& head, const std::string& data, std::size_t skip);

  void PostFlush() { server_.QueueFlush(shared_from_this(), flush_shard_); }

  void SetDeadline(std::chrono::milliseconds after);
  void ClearDeadline() { deadline_.store(0, std::memory_order_relaxed); }

  // --- strand ---

  void Flush();

  // `writing_` is on the wire: releases it and its bytes from the queue.
  void Written();

  void OnWritten(const boost::system::error_code& ec);

  void DoAfter(After after);

  void StartRead();

  void WaitReadable();

  // Reads what is available without blocking. False when the peer is gone.
  bool ReadAvailable(bool keep);

  void OnReadable(const boost::system::error_code& ec);

  // During a stream: notices the client closing (reads and discards anything else).
  void StartStreamWatch();

  void WatchStream();

  // A response from the server itself (errors, OPTIONS), written on the strand.
  void RespondInline(int status, std::string_view content_type, std::string_view body, const Headers& headers,
                     bool close, int route_index = -1);

  void RespondError(int status, std::string_view message, bool close, Headers headers = {});

  Parse TryParse();

  // Routes the parsed request: 503 while stopping, 429 over the rate limit, OPTIONS, 405, or a handler.
  void Dispatch();
  // Answers 429 when the client is over its rate limit.
  bool Throttled();
  // Hands the request to its route's handler (worker pool or a thread of its own).
  void RunRoute(int index, std::string_view raw_path);
  // 404, or the custom not-found handler on the worker pool.
  void RunNotFound();
  // 503: no worker can take the request.
  void RespondBusy(int route_index);

  void HandleOptions(std::string_view raw_path);

 public:
  // CloseNow with SO_LINGER 0: the kernel drops its send buffer and the client gets a reset at once
  // (a plain close keeps unsent data, and the socket, until a client that does not read takes it).
  void ResetNow();

  void CloseNow();

  ServerCore& server_;

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

}  // namespace ces::http::detail
