#pragma once
// Acknowledgement tracking for one node stream. Records of a stream may be acknowledged out of order
// (2.x events go to three topics), so the resumable position is the highest event id such that it and
// every event sent before it on this stream were acknowledged by Kafka.

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

namespace ces::ingest {

class StreamTracker {
 public:
  explicit StreamTracker(std::optional<std::uint32_t> acked = std::nullopt) : acked_(acked) {}

  // Registers a record about to be produced; returns its sequence number for Ack/Fail.
  std::uint64_t Begin(std::optional<std::uint32_t> event_id);
  void Ack(std::uint64_t seq);
  // Delivery failed: the position stops before this record until Rewind().
  void Fail(std::uint64_t seq, const std::string& error);

  std::optional<std::uint32_t> Acked() const;
  std::size_t InFlight() const;
  bool Failed() const;
  // After a failure, once nothing is in flight: forget outstanding records so the stream can be re-read
  // from Acked(). Returns the position to resume after.
  std::optional<std::uint32_t> Rewind();

 private:
  struct Entry {
    std::uint64_t seq;
    std::optional<std::uint32_t> event_id;
    bool done = false;
    bool failed = false;
  };
  void Advance();  // pops the acknowledged prefix

  mutable std::mutex mutex_;
  std::deque<Entry> pending_;
  std::uint64_t next_seq_ = 0;
  std::optional<std::uint32_t> acked_;
  bool failed_ = false;
  std::size_t in_flight_ = 0;
};

}  // namespace ces::ingest
