#include "connection.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>

#include "ces/common/metrics.hpp"
#include "ces/common/status.hpp"

namespace ces::http::detail {
namespace {

constexpr std::size_t kReadChunk = 16 * 1024;
constexpr std::size_t kKeepInputCapacity = 4 * 1024;  // larger input buffers are released when idle
constexpr auto kBlockedWriterPoll = std::chrono::milliseconds(100);

const std::shared_ptr<const std::string>& LastChunk() {
  static const auto kLast = std::make_shared<const std::string>("0\r\n\r\n");
  return kLast;
}

}  // namespace

void Connection::DispatchFlush() {
  asio::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->Flush(); });
}

void Connection::Begin() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] { self->StartRead(); });
}

bool Connection::Enqueue(std::initializer_list<OutItem> items, After after, bool end_stream) {
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

bool Connection::EnqueueBlocking(OutItem item, std::size_t limit) {
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

StreamSink::OfferResult Connection::Offer(const std::shared_ptr<const std::string>& data, std::size_t limit,
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

void Connection::EndStream(std::string_view final_data) {
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

void Connection::AbortStream() {
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

void Connection::CloseAfterFlush() {
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

void Connection::SetOnClose(std::function<void()> callback) {
  {
    std::lock_guard lock(out_mutex_);
    if (!closed_) {
      on_close_ = std::move(callback);
      return;
    }
  }
  if (callback) callback();
}

bool Connection::Closed() const {
  std::lock_guard lock(out_mutex_);
  return closed_ || ended_;
}

std::size_t Connection::Buffered() const {
  std::lock_guard lock(out_mutex_);
  return queued_bytes_;
}

void Connection::WakeWriters() {
  std::lock_guard lock(out_mutex_);
  out_cv_.notify_all();
}

void Connection::PostStartStream() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] { self->StartStreamWatch(); });
}

void Connection::PostStopping() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    if (self->streaming_) {
      self->EndStream(self->server_.options.stream_final_data);
    } else if (self->phase_ == Phase::kReading) {
      self->CloseNow();
    }
  });
}

void Connection::PostClose() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] { self->CloseNow(); });
}

void Connection::PostCloseIfExpired(std::int64_t now) {
  asio::post(socket_.get_executor(), [self = shared_from_this(), now] {
    std::int64_t deadline = self->deadline_.load(std::memory_order_relaxed);
    if (deadline != 0 && deadline <= now) self->CloseNow();
  });
}

ssize_t Connection::SendNow(const OutItem& head, const std::string& data) {
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

void Connection::AppendFrom(std::string& out, const OutItem& head, const std::string& data, std::size_t skip) {
  auto part = [&](std::string_view bytes) {
    const std::size_t from = std::min(skip, bytes.size());
    out.append(bytes.substr(from));
    skip -= from;
  };
  part(std::string_view(head.prefix.data(), head.prefix_len));
  part(data);
  if (head.chunk_suffix) part("\r\n");
}

void Connection::SetDeadline(std::chrono::milliseconds after) {
  deadline_.store((Clock::now() + after).time_since_epoch().count(), std::memory_order_relaxed);
}

void Connection::Flush() {
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

void Connection::Written() {
  std::size_t bytes = 0;
  for (const OutItem& item : writing_) bytes += item.Bytes();
  writing_.clear();
  {
    std::lock_guard lock(out_mutex_);
    queued_bytes_ -= std::min(queued_bytes_, bytes);
  }
  out_cv_.notify_all();
}

void Connection::OnWritten(const boost::system::error_code& ec) {
  if (ec) {
    writing_.clear();
    CloseNow();
    return;
  }
  Written();
  Flush();
}

void Connection::DoAfter(After after) {
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

void Connection::StartRead() {
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

void Connection::WaitReadable() {
  socket_.async_wait(tcp::socket::wait_read,
                     [self = shared_from_this()](const boost::system::error_code& ec) { self->OnReadable(ec); });
}

bool Connection::ReadAvailable(bool keep) {
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

void Connection::OnReadable(const boost::system::error_code& ec) {
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

void Connection::StartStreamWatch() {
  if (streaming_ || Closed()) return;
  streaming_ = true;
  phase_ = Phase::kStreaming;
  ClearDeadline();
  if (server_.streams_gauge != nullptr) server_.streams_gauge->Add(1);
  WatchStream();
}

void Connection::WatchStream() {
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

void Connection::RespondInline(int status, std::string_view content_type, std::string_view body,
                               const Headers& headers, bool close, int route_index) {
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

void Connection::RespondError(int status, std::string_view message, bool close, Headers headers) {
  RespondInline(status, "application/json", common::ErrorJson(status, message), headers, close);
}

Connection::Parse Connection::TryParse() {
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

void Connection::Dispatch() {
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
  if (Throttled()) return;
  if (info_.method == kOptions) {
    HandleOptions(raw_path);
    return;
  }
  int any_route = -1;
  std::string allow;
  const std::string_view lookup = info_.head ? std::string_view("GET") : std::string_view(req.method);
  int index = server_.router.Match(raw_path, lookup, &any_route, &allow);
  if (index < 0 && any_route >= 0) {
    RespondInline(405, "application/json", common::ErrorJson(405, "method " + req.method + " not allowed on " + req.path),
                  {{"Allow", allow}}, false, any_route);
    return;
  }
  route_index_ = index;
  if (index >= 0) {
    RunRoute(index, raw_path);
  } else {
    RunNotFound();
  }
}

bool Connection::Throttled() {
  if (server_.options.rate_limit_per_client <= 0) return false;
  int retry_after = 1;
  if (server_.AllowRequest(remote_, &retry_after)) return false;
  server_.Reject(server_.rejected_rate_limited);
  RespondError(429, "too many requests", false, {{"Retry-After", std::to_string(retry_after)}});
  return true;
}

void Connection::RunRoute(int index, std::string_view raw_path) {
  const RouteEntry& route = server_.router[index];
  request_.route = route.pattern;
  server_.router.FillParams(index, raw_path, request_.params);
  const bool ok = route.kind == RouteKind::kDedicated ? server_.pool.SpawnDedicated(shared_from_this())
                                                       : server_.pool.Submit(shared_from_this());
  if (!ok) RespondBusy(index);
}

void Connection::RunNotFound() {
  if (!server_.custom_not_found) {
    RespondInline(404, "application/json", common::ErrorJson(404, "no such path: " + request_.path), {}, false);
    return;
  }
  if (!server_.pool.Submit(shared_from_this())) RespondBusy(-1);
}

void Connection::RespondBusy(int route_index) {
  server_.Reject(server_.rejected_queue_full);
  RespondInline(503, "application/json", common::ErrorJson(503, "server busy, retry later"), {{"Retry-After", "1"}}, false,
                route_index);
}

void Connection::HandleOptions(std::string_view raw_path) {
  std::string allow;
  int any_route = -1;
  if (raw_path == "*") {
    allow = "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS";
  } else {
    server_.router.Match(raw_path, "\n", &any_route, &allow);  // no method matches "\n": collects Allow
    if (any_route < 0) {
      RespondInline(404, "application/json", common::ErrorJson(404, "no such path: " + request_.path), {}, false);
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

void Connection::ResetNow() {
  if (!socket_closed_) {
    boost::system::error_code ignored;
    socket_.set_option(asio::socket_base::linger(true, 0), ignored);
  }
  CloseNow();
}

void Connection::CloseNow() {
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

}  // namespace ces::http::detail
