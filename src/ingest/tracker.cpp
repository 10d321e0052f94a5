#include "ces/ingest/tracker.hpp"

namespace ces::ingest {

std::uint64_t StreamTracker::Begin(std::optional<std::uint32_t> event_id) {
  std::lock_guard lock(mutex_);
  const std::uint64_t seq = next_seq_++;
  pending_.push_back({seq, event_id});
  ++in_flight_;
  return seq;
}

void StreamTracker::Ack(std::uint64_t seq) {
  std::lock_guard lock(mutex_);
  if (pending_.empty() || seq < pending_.front().seq) return;  // forgotten by Rewind
  const std::size_t index = static_cast<std::size_t>(seq - pending_.front().seq);
  if (index >= pending_.size() || pending_[index].done) return;
  pending_[index].done = true;
  --in_flight_;
  Advance();
}

void StreamTracker::Fail(std::uint64_t seq, const std::string& /*error*/) {
  std::lock_guard lock(mutex_);
  if (pending_.empty() || seq < pending_.front().seq) return;
  const std::size_t index = static_cast<std::size_t>(seq - pending_.front().seq);
  if (index >= pending_.size() || pending_[index].done) return;
  pending_[index].done = true;
  pending_[index].failed = true;
  --in_flight_;
  failed_ = true;
}

void StreamTracker::Advance() {
  while (!pending_.empty() && pending_.front().done && !pending_.front().failed) {
    if (pending_.front().event_id) acked_ = pending_.front().event_id;
    pending_.pop_front();
  }
}

std::optional<std::uint32_t> StreamTracker::Acked() const {
  std::lock_guard lock(mutex_);
  return acked_;
}

std::size_t StreamTracker::InFlight() const {
  std::lock_guard lock(mutex_);
  return in_flight_;
}

bool StreamTracker::Failed() const {
  std::lock_guard lock(mutex_);
  return failed_;
}

std::optional<std::uint32_t> StreamTracker::Rewind() {
  std::lock_guard lock(mutex_);
  // Records still in flight after the rewind are acknowledged into nothing (their seq is gone).
  pending_.clear();
  in_flight_ = 0;
  failed_ = false;
  return acked_;
}

}  // namespace ces::ingest
