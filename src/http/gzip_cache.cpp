#include "gzip_cache.hpp"

#include <zlib.h>

#include <functional>

namespace ces::http::detail {
namespace {

constexpr int kGzipLevel = 3;  // JSON compresses well already at low levels; higher ones cost CPU

}  // namespace

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

std::shared_ptr<const std::string> GzipCache::Get(std::string_view etag, std::string_view body) {
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

std::size_t GzipCache::Bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

}  // namespace ces::http::detail
