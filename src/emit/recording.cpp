#include "ces/emit/recording.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "ces/casper/event.hpp"
#include "ces/sse/parser.hpp"

namespace ces::emit {

// The stream's bytes: a read-only mapping of the file, or an owned string.
struct Recording::Storage {
  Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage() {
    if (mapping != nullptr) ::munmap(mapping, mapping_size);
  }
  std::string_view bytes;
  void* mapping = nullptr;
  std::size_t mapping_size = 0;
  std::string owned;
};

// Collects the events of one stream from the parser's callbacks.
class Recording::Loader final : public sse::Handler {
 public:
  explicit Loader(Recording& recording) : recording_(recording) {}

  void OnEvent(const sse::Event& event) override {
    ++frame_;
    if (!event.id) {
      if (!recording_.api_version_.empty() || !event.has_data) {
        ++recording_.skipped_frames_;
        return;
      }
      casper::Classification c = classifier_.Classify(event.data);
      if (!c.ok || c.event_type != "ApiVersion") {
        ++recording_.skipped_frames_;
        return;
      }
      recording_.api_version_ = c.api_version;
      recording_.api_version_payload_ = std::string(event.data);
      return;
    }
    if (!event.has_data) {
      ++recording_.skipped_frames_;
      return;
    }
    if (recording_.api_version_.empty()) {
      throw std::runtime_error(recording_.name_ + ": frame " + std::to_string(frame_) +
                               " has an id but no ApiVersion frame came before it");
    }
    std::uint64_t id = 0;
    std::string_view text = *event.id;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
      throw std::runtime_error(recording_.name_ + ": frame " + std::to_string(frame_) + " has a bad id '" +
                               std::string(text) + "'");
    }
    if (!recording_.events_.empty() && id <= recording_.events_.back().id) {
      throw std::runtime_error(recording_.name_ + ": ids must increase, but id " + std::to_string(id) + " follows " +
                               std::to_string(recording_.events_.back().id));
    }
    RecordedEvent recorded;
    recorded.id = id;
    recorded.length = static_cast<std::uint32_t>(event.data.size());
    recorded.shutdown = event.data == "\"Shutdown\"";
    const std::string_view bytes = recording_.storage_->bytes;
    if (event.data.data() >= bytes.data() && event.data.data() + event.data.size() <= bytes.data() + bytes.size()) {
      recorded.offset = static_cast<std::uint64_t>(event.data.data() - bytes.data());
    } else {  // data spread over several lines: the parser joined them in its own buffer
      recorded.joined = true;
      recorded.offset = recording_.joined_.size();
      recording_.joined_.emplace_back(event.data);
    }
    recording_.events_.push_back(recorded);
  }

  void OnComment(std::string_view) override { ++recording_.comments_; }

  void OnFrameTooLarge(std::string_view) override {
    throw std::runtime_error(recording_.name_ + ": frame " + std::to_string(frame_ + 1) + " is too large");
  }

 private:
  Recording& recording_;
  casper::Classifier classifier_;
  std::size_t frame_ = 0;
};

Recording Recording::FromBytes(std::shared_ptr<Storage> storage, std::string name) {
  Recording recording;
  recording.storage_ = std::move(storage);
  recording.name_ = std::move(name);
  {
    Loader loader(recording);
    sse::Parser parser(loader);
    parser.Feed(recording.storage_->bytes);
    parser.Finish();
  }
  if (recording.api_version_.empty()) {
    throw std::runtime_error(recording.name_ + ": no data:{\"ApiVersion\":…} frame");
  }
  auto major = casper::ApiMajor(recording.api_version_);
  if (!major) throw std::runtime_error(recording.name_ + ": unreadable ApiVersion '" + recording.api_version_ + "'");
  recording.api_major_ = *major;
  if (recording.events_.empty()) throw std::runtime_error(recording.name_ + ": no event with an id");
  recording.events_.shrink_to_fit();
  return recording;
}

Recording Recording::Load(const std::string& path) {
  auto storage = std::make_shared<Storage>();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw std::runtime_error("cannot read " + path + ": not a regular file");
  }
  if (st.st_size > 0) {
    void* mapping = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapping == MAP_FAILED) {
      int error = errno;
      ::close(fd);
      throw std::runtime_error("cannot map " + path + ": " + std::strerror(error));
    }
    ::madvise(mapping, static_cast<std::size_t>(st.st_size), MADV_SEQUENTIAL);
    storage->mapping = mapping;
    storage->mapping_size = static_cast<std::size_t>(st.st_size);
    storage->bytes = std::string_view(static_cast<const char*>(mapping), storage->mapping_size);
  }
  ::close(fd);
  return FromBytes(std::move(storage), path);
}

Recording Recording::Parse(std::string text, std::string name) {
  auto storage = std::make_shared<Storage>();
  storage->owned = std::move(text);
  storage->bytes = storage->owned;
  return FromBytes(std::move(storage), std::move(name));
}

std::string_view Recording::Payload(const RecordedEvent& event) const {
  if (event.joined) return joined_[event.offset];
  return storage_->bytes.substr(event.offset, event.length);
}

std::string EndpointFor(const Recording& recording, std::string_view file_path) {
  if (recording.api_major() >= 2) return "/events";
  if (recording.api_major() < 1) {
    throw std::invalid_argument(recording.name() + ": ApiVersion " + recording.api_version() + " is not 1.x or 2.x");
  }
  std::string file = std::filesystem::path(file_path).filename().string();
  std::string stem = file.substr(0, file.find('.'));
  if (!casper::ParseStream(stem)) {
    throw std::invalid_argument(recording.name() + ": a 1.x stream file must be named main, deploys or sigs (" +
                                "e.g. main.stream), not '" + file + "'");
  }
  return "/events/" + stem;
}

}  // namespace ces::emit
