#include "ces/sse/client.hpp"

#include <curl/curl.h>

#include <memory>
#include <mutex>
#include <stdexcept>

namespace ces::sse {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
using CurlHandle = std::unique_ptr<CURL, CurlDeleter>;

struct StreamContext {
  CURL* curl = nullptr;
  Parser* parser = nullptr;
  const std::function<bool()>* should_stop = nullptr;
  StreamResult* result = nullptr;
  bool status_checked = false;
  bool ok_status = false;
  bool stopped = false;
  std::chrono::steady_clock::time_point last_byte;
  std::chrono::milliseconds idle_timeout{0};
  bool idle = false;
};

size_t OnData(char* ptr, size_t size, size_t nmemb, void* userdata) {
  auto* ctx = static_cast<StreamContext*>(userdata);
  const size_t n = size * nmemb;
  if (!ctx->status_checked) {
    long status = 0;
    curl_easy_getinfo(ctx->curl, CURLINFO_RESPONSE_CODE, &status);
    ctx->result->http_status = status;
    ctx->ok_status = status >= 200 && status < 300;
    ctx->status_checked = true;
  }
  ctx->last_byte = std::chrono::steady_clock::now();
  ctx->result->bytes += n;
  if (!ctx->ok_status) {
    if (ctx->result->body.size() < 4096) ctx->result->body.append(ptr, std::min<size_t>(n, 4096));
    return n;
  }
  ctx->parser->Feed(std::string_view(ptr, n));
  return n;
}

int OnProgress(void* userdata, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* ctx = static_cast<StreamContext*>(userdata);
  if ((*ctx->should_stop)()) {
    ctx->stopped = true;
    return 1;
  }
  if (std::chrono::steady_clock::now() - ctx->last_byte > ctx->idle_timeout) {
    ctx->idle = true;
    return 1;
  }
  return 0;
}

}  // namespace

const char* ToString(StreamEnd end) {
  switch (end) {
    case StreamEnd::kClosed: return "closed";
    case StreamEnd::kHttpError: return "http_error";
    case StreamEnd::kNetworkError: return "network_error";
    case StreamEnd::kIdleTimeout: return "idle_timeout";
    case StreamEnd::kStopped: return "stopped";
  }
  return "unknown";
}

StreamResult Stream(const std::string& url, Handler& handler, const ClientOptions& options,
                    const std::function<bool()>& should_stop) {
  GlobalInit();
  StreamResult result;
  CurlHandle curl(curl_easy_init());
  if (!curl) {
    result.end = StreamEnd::kNetworkError;
    result.error = "curl_easy_init failed";
    return result;
  }
  Parser parser(handler, options.max_frame_bytes);
  StreamContext ctx;
  ctx.curl = curl.get();
  ctx.parser = &parser;
  ctx.should_stop = &should_stop;
  ctx.result = &result;
  ctx.last_byte = std::chrono::steady_clock::now();
  ctx.idle_timeout = options.idle_timeout;

  char error_buffer[CURL_ERROR_SIZE] = {0};
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnData);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &ctx);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, &ctx);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(h, CURLOPT_USERAGENT, options.user_agent.c_str());
  curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  struct curl_slist* headers = curl_slist_append(nullptr, "Accept: text/event-stream");
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);

  CURLcode code = curl_easy_perform(h);
  curl_slist_free_all(headers);
  if (!ctx.status_checked) {
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    result.http_status = status;
  }
  result.discarded = parser.Finish();
  if (ctx.stopped) {
    result.end = StreamEnd::kStopped;
  } else if (ctx.idle) {
    result.end = StreamEnd::kIdleTimeout;
  } else if (result.http_status != 0 && (result.http_status < 200 || result.http_status >= 300)) {
    result.end = StreamEnd::kHttpError;
  } else if (code != CURLE_OK) {
    result.end = StreamEnd::kNetworkError;
    result.error = error_buffer[0] ? error_buffer : curl_easy_strerror(code);
  } else {
    result.end = StreamEnd::kClosed;
  }
  return result;
}

std::pair<long, std::string> Get(const std::string& url, std::chrono::milliseconds timeout) {
  GlobalInit();
  CurlHandle curl(curl_easy_init());
  std::string body;
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, +[](char* ptr, size_t size, size_t nmemb, void* userdata) -> size_t {
    static_cast<std::string*>(userdata)->append(ptr, size * nmemb);
    return size * nmemb;
  });
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
  CURLcode code = curl_easy_perform(h);
  if (code != CURLE_OK) throw std::runtime_error(std::string("GET ") + url + ": " + curl_easy_strerror(code));
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  return {status, body};
}

}  // namespace ces::sse
