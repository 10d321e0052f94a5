#pragma once
// A recorded SSE stream of a Casper node (one endpoint), loaded for `emit` and `generate`.
//
// The file is memory-mapped and parsed once with ces::sse::Parser; events keep their payload bytes
// exactly (views into the mapping), so a recording of millions of events costs ~24 bytes per event
// beyond the page cache. What counts as the recording: the first `data:{"ApiVersion":…}` frame (no
// id) gives the node version; every later frame with an `id` is an event. Comments (keep-alives) and
// other frames without an id (a second ApiVersion after a restart) are not events.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ces::emit {

struct RecordedEvent {
  std::uint64_t id = 0;
  std::uint64_t offset = 0;  // where the payload starts (see Recording::Payload)
  std::uint32_t length = 0;
  bool shutdown = false;  // the bare string "Shutdown"
  bool joined = false;    // multi-line data: offset indexes the recording's joined payloads
};

class Recording {
 public:
  // Loads a stream file. Throws std::runtime_error when the file cannot be read, has no ApiVersion
  // frame before its first event, has no event, or its ids do not strictly increase.
  static Recording Load(const std::string& path);
  // Same for a stream held in memory; `name` stands for the path in messages.
  static Recording Parse(std::string text, std::string name);

  const std::string& name() const { return name_; }
  const std::string& api_version() const { return api_version_; }
  // The ApiVersion frame's data exactly as recorded, e.g. {"ApiVersion":"2.0.0"}.
  std::string_view api_version_payload() const { return api_version_payload_; }
  // Major of the ApiVersion (1 for "1.5.2").
  int api_major() const { return api_major_; }
  const std::vector<RecordedEvent>& events() const { return events_; }
  std::string_view Payload(const RecordedEvent& event) const;
  // Frames without an id that were not the first ApiVersion (left out of the recording).
  std::size_t skipped_frames() const { return skipped_frames_; }
  std::size_t comments() const { return comments_; }

 private:
  struct Storage;
  class Loader;
  static Recording FromBytes(std::shared_ptr<Storage> storage, std::string name);

  std::shared_ptr<Storage> storage_;
  std::string name_;
  std::string api_version_;
  std::string api_version_payload_;
  int api_major_ = 0;
  std::vector<RecordedEvent> events_;
  std::vector<std::string> joined_;
  std::size_t skipped_frames_ = 0;
  std::size_t comments_ = 0;
};

// The endpoint a node serves this recording on: ApiVersion 1.x -> /events/<stem> where the stem is
// the file name up to its first dot and one of main|deploys|sigs ("main.stream", "main.events.stream");
// 2.x and later -> /events. Throws std::invalid_argument for a 1.x file with another stem or a 0.x
// version.
std::string EndpointFor(const Recording& recording, std::string_view file_path);

}  // namespace ces::emit
