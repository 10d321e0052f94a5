#include "rpc.hpp"

#include <curl/curl.h>

#include <atomic>
#include <memory>

namespace ces::store {
namespace {

size_t OnData(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() > 256u * 1024u * 1024u) return 0;  // refuse absurd answers
  body->append(data, size * count);
  return size * count;
}

std::atomic<std::uint64_t> g_request_id{1};

}  // namespace

std::string EraInfoBySwitchBlockParams(const std::string& block_hash) {
  return "{\"block_identifier\":{\"Hash\":\"" + block_hash + "\"}}";
}

RpcResponse CallRpc(const std::string& url, const std::string& method, const std::string& params_json,
                    std::chrono::milliseconds timeout) {
  RpcResponse out;
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> h(curl_easy_init(), &curl_easy_cleanup);
  if (!h) {
    out.error = "curl_easy_init failed";
    return out;
  }
  const std::string request = "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(g_request_id++) + ",\"method\":\"" +
                              method + "\",\"params\":" + params_json + "}";
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(
      curl_slist_append(nullptr, "Content-Type: application/json"), &curl_slist_free_all);
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(h.get(), CURLOPT_POST, 1L);
  curl_easy_setopt(h.get(), CURLOPT_POSTFIELDS, request.c_str());
  curl_easy_setopt(h.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(request.size()));
  curl_easy_setopt(h.get(), CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h.get(), CURLOPT_WRITEFUNCTION, OnData);
  curl_easy_setopt(h.get(), CURLOPT_WRITEDATA, &out.body);
  curl_easy_setopt(h.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(h.get(), CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(h.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h.get(), CURLOPT_ERRORBUFFER, error);
  CURLcode rc = curl_easy_perform(h.get());
  if (rc != CURLE_OK) {
    out.error = error[0] ? error : curl_easy_strerror(rc);
    return out;
  }
  curl_easy_getinfo(h.get(), CURLINFO_RESPONSE_CODE, &out.status);
  if (out.status != 200) {
    out.error = "HTTP " + std::to_string(out.status);
    return out;
  }
  out.ok = true;
  return out;
}

}  // namespace ces::store
