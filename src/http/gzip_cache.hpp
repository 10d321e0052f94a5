#pragma once
// Private to ces::http: gzip of response bodies, and the cache of compressed bodies that carry an ETag.

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace ces::http::detail {

// gzip of `data` into `out` with a deflate state kept per thread (deflateInit2 allocates ~256 KiB).
// False if zlib fails.
bool Gzip(std::string_view data, std::string& out);

// Compressed bodies of responses that carry an ETag (static documents: /api-docs, the Swagger UI
// files), so that a large document is compressed once rather than on every request. Keyed by the ETag,
// the body's size and a hash of it (two resources may share an ETag); the least recently used entries
// go beyond `capacity` bytes. Thread-safe.
class GzipCache {
 public:
  static constexpr std::size_t kMinBytes = 16 * 1024;  // smaller bodies are compressed per request

  explicit GzipCache(std::size_t capacity) : capacity_(capacity) {}

  // The gzip form of `body` (compressed now on a miss), or null when it cannot be compressed.
  std::shared_ptr<const std::string> Get(std::string_view etag, std::string_view body);
  // Compressed bytes held.
  std::size_t Bytes() const;

 private:
  using Entry = std::pair<std::string, std::shared_ptr<const std::string>>;
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::list<Entry> lru_;
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  std::size_t bytes_ = 0;
};

}  // namespace ces::http::detail
