// The async server's responses (src/http/response.hpp, gzip_cache.hpp) built without a socket: ETag
// matching and 304, gzip negotiation and the cache of compressed documents, CORS and Vary, framing of
// complete and streamed responses, HEAD and HTTP/1.0.
#include <gtest/gtest.h>

#include <string>

#include "gunzip.hpp"
#include "response.hpp"

namespace ces::http::detail {
namespace {

using test::Gunzip;

std::string Json(std::size_t bytes) {
  std::string body = "[";
  while (body.size() + 20 < bytes) body += "{\"height\":12345},";
  body += "{\"height\":0}]";
  return body;
}

// The head of a response (through the blank line) and its body.
struct Split {
  std::string head;
  std::string body;
};
Split SplitResponse(const std::string& response) {
  const auto end = response.find("\r\n\r\n");
  EXPECT_NE(end, std::string::npos);
  return {response.substr(0, end + 2), response.substr(end + 4)};
}

bool Has(const std::string& head, const std::string& line) { return head.find(line + "\r\n") != std::string::npos; }

TEST(EtagMatches, StrongWeakListsAndStar) {
  EXPECT_TRUE(EtagMatches("\"abc\"", "\"abc\""));
  EXPECT_TRUE(EtagMatches("W/\"abc\"", "\"abc\""));  // weak comparison
  EXPECT_TRUE(EtagMatches("\"x\", \"abc\"", "W/\"abc\""));
  EXPECT_TRUE(EtagMatches("*", "\"anything\""));
  EXPECT_FALSE(EtagMatches("\"abd\"", "\"abc\""));
  EXPECT_FALSE(EtagMatches("", "\"abc\""));
}

TEST(Compressible, TextualTypesOnly) {
  EXPECT_TRUE(Compressible("application/json"));
  EXPECT_TRUE(Compressible("Application/JSON; charset=utf-8"));
  EXPECT_TRUE(Compressible("text/html"));
  EXPECT_TRUE(Compressible("application/javascript"));
  EXPECT_TRUE(Compressible("image/svg+xml"));
  EXPECT_FALSE(Compressible("image/png"));
  EXPECT_FALSE(Compressible("application/octet-stream"));
}

TEST(GzipCache, CompressesOnceForTheSameEtagAndBody) {
  GzipCache cache(1024 * 1024);
  const std::string body = Json(40000);
  auto first = cache.Get("\"v1\"", body);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(Gunzip(*first), body);
  EXPECT_EQ(cache.Get("\"v1\"", body), first);  // the same bytes, not compressed again
  EXPECT_EQ(cache.Bytes(), first->size());
  // Another body under the same ETag is another entry.
  const std::string other = Json(30000);
  auto second = cache.Get("\"v1\"", other);
  ASSERT_NE(second, nullptr);
  EXPECT_NE(second, first);
  EXPECT_EQ(Gunzip(*second), other);
  EXPECT_EQ(cache.Bytes(), first->size() + second->size());
}

TEST(GzipCache, DropsTheLeastRecentlyUsedBeyondItsCapacity) {
  const std::string a = Json(40000), b = Json(50000), c = Json(60000);
  std::string compressed;
  ASSERT_TRUE(Gzip(a, compressed));
  GzipCache cache(compressed.size() * 5 / 2);  // room for about two entries
  auto ga = cache.Get("\"a\"", a);
  auto gb = cache.Get("\"b\"", b);
  EXPECT_EQ(cache.Get("\"a\"", a), ga);  // a is now the most recently used
  cache.Get("\"c\"", c);                 // evicts b
  EXPECT_EQ(cache.Get("\"a\"", a), ga);
  EXPECT_NE(cache.Get("\"b\"", b), gb);  // compressed again
  EXPECT_LE(cache.Bytes(), compressed.size() * 5 / 2);
  // A body whose gzip form is larger than the whole cache is compressed, not kept.
  GzipCache tiny(16);
  auto big = tiny.Get("\"x\"", a);
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(Gunzip(*big), a);
  EXPECT_EQ(tiny.Bytes(), 0u);
}

class ResponseTest : public ::testing::Test {
 protected:
  std::string Build(const RequestInfo& info, int& status, std::string_view type, std::string_view body,
                    const Headers& headers = {}, bool stream = false) const {
    return builder_.Build(info, status, type, body, headers, stream);
  }
  AsyncServerOptions options_;
  ResponseBuilder builder_{options_};
};

TEST_F(ResponseTest, CompleteResponse) {
  int status = 200;
  const std::string response = Build({}, status, "application/json", "{\"ok\":true}", {{"ETag", "\"e1\""}});
  EXPECT_EQ(response,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\nETag: \"e1\"\r\n\r\n"
            "{\"ok\":true}");
  EXPECT_EQ(status, 200);
}

TEST_F(ResponseTest, IfNoneMatchGives304WithValidatorsOnly) {
  RequestInfo info;
  info.has_if_none_match = true;
  info.if_none_match = "W/\"e1\"";
  int status = 200;
  const Split r = SplitResponse(Build(info, status, "application/json", "{\"ok\":true}",
                                      {{"ETag", "\"e1\""}, {"Cache-Control", "no-cache"}, {"X-Other", "1"}}));
  EXPECT_EQ(status, 304);
  EXPECT_EQ(r.head, "HTTP/1.1 304 Not Modified\r\nETag: \"e1\"\r\nCache-Control: no-cache\r\n");
  EXPECT_EQ(r.body, "");
  // Only a 2xx becomes a 304, and only with a matching ETag.
  status = 404;
  EXPECT_EQ(SplitResponse(Build(info, status, "application/json", "{}", {{"ETag", "\"e1\""}})).body, "{}");
  EXPECT_EQ(status, 404);
  status = 200;
  Build(info, status, "application/json", "{}", {{"ETag", "\"e2\""}});
  EXPECT_EQ(status, 200);
}

TEST_F(ResponseTest, GzipWhenAcceptedAndWorthIt) {
  const std::string body = Json(4000);
  RequestInfo info;
  info.accept_gzip = true;
  int status = 200;
  Split r = SplitResponse(Build(info, status, "application/json", body));
  EXPECT_TRUE(Has(r.head, "Content-Encoding: gzip"));
  EXPECT_TRUE(Has(r.head, "Vary: Accept-Encoding"));
  EXPECT_TRUE(Has(r.head, "Content-Length: " + std::to_string(r.body.size())));
  EXPECT_EQ(Gunzip(r.body), body);

  // Not accepted: the same body as it is, still with Vary.
  r = SplitResponse(Build({}, status, "application/json", body));
  EXPECT_FALSE(Has(r.head, "Content-Encoding: gzip"));
  EXPECT_TRUE(Has(r.head, "Vary: Accept-Encoding"));
  EXPECT_EQ(r.body, body);

  // Too small, not compressible, or already encoded by the handler: no gzip and no Vary.
  for (const auto& [type, text, headers] : std::initializer_list<std::tuple<const char*, std::string, Headers>>{
           {"application/json", "{}", {}},
           {"image/png", body, {}},
           {"application/json", body, {{"Content-Encoding", "br"}}}}) {
    r = SplitResponse(Build(info, status, type, text, headers));
    EXPECT_FALSE(Has(r.head, "Content-Encoding: gzip")) << type;
    EXPECT_EQ(r.head.find("Vary"), std::string::npos) << type;
    EXPECT_EQ(r.body, text);
  }
}

TEST_F(ResponseTest, LargeDocumentsWithAnEtagAreCompressedOnce) {
  const std::string body = Json(GzipCache::kMinBytes * 2);
  RequestInfo info;
  info.accept_gzip = true;
  int status = 200;
  const std::string first = Build(info, status, "text/html", body, {{"ETag", "\"doc\""}});
  const std::string second = Build(info, status, "text/html", body, {{"ETag", "\"doc\""}});
  EXPECT_EQ(first, second);
  EXPECT_EQ(Gunzip(SplitResponse(first).body), body);
}

TEST_F(ResponseTest, HandlerVaryIsMergedOnce) {
  AsyncServerOptions options;
  options.cors_origins = {"https://app.example"};
  ResponseBuilder builder(options);
  RequestInfo info;
  info.cors_origin = "https://app.example";
  int status = 200;
  Split r = SplitResponse(builder.Build(info, status, "application/json", Json(4000),
                                        {{"Vary", "origin"}, {"Access-Control-Allow-Origin", "*"}}, false));
  EXPECT_TRUE(Has(r.head, "Vary: origin, Accept-Encoding"));
  EXPECT_TRUE(Has(r.head, "Access-Control-Allow-Origin: https://app.example"));  // the server's, not the handler's
  EXPECT_EQ(r.head.find("Access-Control-Allow-Origin: *"), std::string::npos);
  EXPECT_TRUE(Has(r.head, "Access-Control-Expose-Headers: ETag"));
  // Without an allowed origin: no CORS headers, but Vary: Origin all the same.
  r = SplitResponse(builder.Build({}, status, "application/json", "{}", {}, false));
  EXPECT_EQ(r.head.find("Access-Control"), std::string::npos);
  EXPECT_TRUE(Has(r.head, "Vary: Origin"));
}

TEST_F(ResponseTest, HeadStreamsAndHttp10) {
  RequestInfo head;
  head.head = true;
  int status = 200;
  Split r = SplitResponse(Build(head, status, "application/json", "{\"ok\":true}"));
  EXPECT_TRUE(Has(r.head, "Content-Length: 11"));
  EXPECT_EQ(r.body, "");

  r = SplitResponse(Build({}, status, "text/event-stream", "", {}, true));
  EXPECT_TRUE(Has(r.head, "Transfer-Encoding: chunked"));
  EXPECT_EQ(r.head.find("Content-Length"), std::string::npos);

  RequestInfo old;
  old.http10 = true;
  r = SplitResponse(Build(old, status, "text/event-stream", "", {}, true));
  EXPECT_EQ(r.head.rfind("HTTP/1.0 200 OK\r\n", 0), 0u);
  EXPECT_TRUE(Has(r.head, "Connection: close"));  // the stream ends with the connection
  r = SplitResponse(Build(old, status, "text/plain", "hi"));
  EXPECT_TRUE(Has(r.head, "Connection: keep-alive"));
  old.keep_alive = false;
  r = SplitResponse(Build(old, status, "text/plain", "hi"));
  EXPECT_TRUE(Has(r.head, "Connection: close"));

  status = 204;
  r = SplitResponse(Build({}, status, "", "ignored", {{"Content-Length", "7"}, {"Allow", "GET"}}));
  EXPECT_EQ(r.head, "HTTP/1.1 204 No Content\r\nAllow: GET\r\n");
  EXPECT_EQ(r.body, "");
}

}  // namespace
}  // namespace ces::http::detail
