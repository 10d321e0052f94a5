#pragma once
// Private to ces::http: the AsyncResponseWriter a handler gets. A complete response is built on the
// handler's thread and queued on the connection when the handler returns (Finish); a stream's head and
// chunks are queued as they come (WriteChunk waits while too much is unwritten); Detach hands the
// stream to the I/O threads as a StreamSink.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "ces/http/async_server.hpp"

namespace ces::http::detail {

class Connection;
struct ServerCore;

class Writer final : public AsyncResponseWriter {
 public:
  enum class State { kNone, kSent, kStreaming, kDetached, kFailed, kAborted };

  Writer(ServerCore& server, std::shared_ptr<Connection> conn) : server_(server), conn_(std::move(conn)) {}

  bool Send(int status, std::string_view content_type, std::string_view body, const Headers& headers) override;
  bool StartStream(int status, std::string_view content_type, const Headers& headers) override;
  bool WriteChunk(std::string_view data) override;
  bool Cancelled() const override;
  void Abort() override;
  std::shared_ptr<StreamSink> Detach(std::size_t max_buffer_bytes) override;
  const std::string& RemoteAddress() const override;

  State state() const { return state_; }

  // After the handler returned: completes the response.
  void Finish();

 private:
  ServerCore& server_;
  std::shared_ptr<Connection> conn_;
  State state_ = State::kNone;
  int status_ = 0;
  bool recorded_ = false;
  std::shared_ptr<const std::string> response_;
};

}  // namespace ces::http::detail
