#include "writer.hpp"

#include "ces/common/status.hpp"
#include "connection.hpp"
#include "server_core.hpp"

namespace ces::http::detail {
namespace {

// A detached stream: holds its connection weakly (the server owns open connections).
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

}  // namespace

bool Writer::Send(int status, std::string_view content_type, std::string_view body, const Headers& headers) {
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

bool Writer::StartStream(int status, std::string_view content_type, const Headers& headers) {
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

bool Writer::WriteChunk(std::string_view data) {
  if (state_ != State::kStreaming || conn_->info_.head || Cancelled()) return false;
  if (data.empty()) return true;  // an empty chunk would end the response
  auto shared = std::make_shared<const std::string>(data);
  OutItem item = conn_->chunked_ ? OutItem::Chunk(std::move(shared)) : OutItem::Plain(std::move(shared));
  if (!conn_->EnqueueBlocking(std::move(item), server_.options.stream_write_buffer)) return false;
  return true;
}

bool Writer::Cancelled() const {
  return server_.stopping.load(std::memory_order_relaxed) || conn_->Gone() || state_ == State::kFailed ||
         state_ == State::kAborted;
}

void Writer::Abort() {
  if (state_ == State::kAborted || state_ == State::kDetached) return;
  state_ = State::kAborted;
  conn_->CloseAfterFlush();
}

std::shared_ptr<StreamSink> Writer::Detach(std::size_t max_buffer_bytes) {
  if (state_ != State::kStreaming || conn_->info_.head || conn_->Closed()) return nullptr;
  state_ = State::kDetached;
  return std::make_shared<Sink>(conn_, max_buffer_bytes);
}

void Writer::Finish() {
  if (state_ == State::kNone) {
    Send(500, "application/json", common::ErrorJson(500, "handler sent no response"), {});
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

const std::string& Writer::RemoteAddress() const { return conn_->remote_; }

}  // namespace ces::http::detail
