// The async server's request parser (src/http/request_parser.hpp) on its own: complete, partial and
// malformed requests, limits, pipelining, and every prefix of a valid request.
#include <gtest/gtest.h>

#include <string>

#include "request_parser.hpp"

namespace ces::http {
namespace {

struct Parsed {
  ParseResult result;
  Request request;
  RequestHead head;
};

Parsed Parse(std::string_view input, RequestLimits limits = {}) {
  Parsed p;
  p.result = ParseRequest(input, limits, p.request, p.head);
  return p;
}

TEST(RequestParser, CompleteRequestWithHeadersAndBody) {
  const std::string text =
      "\r\n\r\nPOST /echo?q=1 HTTP/1.1\r\nHost: a\r\nX-Two: 1\r\nx-two:  2 \r\nContent-Length: 5\r\n\r\nhelloGET";
  Parsed p = Parse(text);
  ASSERT_EQ(p.result.outcome, ParseOutcome::kComplete);
  EXPECT_EQ(p.result.skipped, 4u);
  EXPECT_EQ(p.result.consumed, text.size() - 4 - 3);  // "GET" is the next request
  EXPECT_EQ(p.request.method, "POST");
  EXPECT_EQ(p.request.target, "/echo?q=1");
  EXPECT_EQ(p.request.body, "hello");
  EXPECT_EQ(p.request.headers.at("host"), "a");
  EXPECT_EQ(p.request.headers.at("x-two"), "1, 2");
  EXPECT_EQ(p.head.method, kPost);
  EXPECT_FALSE(p.head.http10);
  EXPECT_TRUE(p.head.keep_alive);
}

TEST(RequestParser, BareLineFeedsAndConnectionSemantics) {
  Parsed p = Parse("GET / HTTP/1.0\nConnection: Keep-Alive\n\n");
  ASSERT_EQ(p.result.outcome, ParseOutcome::kComplete);
  EXPECT_TRUE(p.head.http10);
  EXPECT_TRUE(p.head.keep_alive);
  EXPECT_FALSE(Parse("GET / HTTP/1.0\r\n\r\n").head.keep_alive);
  EXPECT_FALSE(Parse("GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n").head.keep_alive);
  EXPECT_EQ(Parse("HEAD / HTTP/1.1\r\n\r\n").head.method, kHead);
  EXPECT_EQ(Parse("BREW / HTTP/1.1\r\n\r\n").head.method, kOther);
}

TEST(RequestParser, EveryPrefixOfAValidRequestIsIncomplete) {
  const std::string text = "POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
  for (std::size_t n = 0; n < text.size(); ++n) {
    Parsed p = Parse(std::string_view(text).substr(0, n));
    EXPECT_EQ(p.result.outcome, ParseOutcome::kIncomplete) << n;
  }
  EXPECT_EQ(Parse(text).result.outcome, ParseOutcome::kComplete);
}

TEST(RequestParser, ExpectContinueOnlyWhileTheBodyIsMissing) {
  const std::string head = "PUT /x HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n";
  Parsed waiting = Parse(head);
  EXPECT_EQ(waiting.result.outcome, ParseOutcome::kIncomplete);
  EXPECT_TRUE(waiting.head.expect_continue);
  EXPECT_FALSE(Parse(head + "ok").head.expect_continue);
  EXPECT_FALSE(Parse("PUT /x HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n").head.expect_continue);
}

TEST(RequestParser, MalformedRequestsAreErrors) {
  struct Case {
    std::string text;
    int status;
  };
  const Case cases[] = {
      {"GET\r\n\r\n", 400},
      {"GET /\r\n\r\n", 400},
      {" GET / HTTP/1.1\r\n\r\n", 400},  // leading blanks are trimmed: then "GET / HTTP/1.1" is fine
      {"GET  / HTTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/2.0\r\n\r\n", 505},
      {"GET / FTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\n: empty name\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\n folded: x\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411},
      {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400},
  };
  for (const Case& c : cases) {
    Parsed p = Parse(c.text);
    if (c.text[0] == ' ') {
      EXPECT_EQ(p.result.outcome, ParseOutcome::kComplete) << c.text;
      continue;
    }
    EXPECT_EQ(p.result.outcome, ParseOutcome::kError) << c.text;
    EXPECT_EQ(p.result.status, c.status) << c.text;
    EXPECT_NE(std::string(p.result.message), "") << c.text;
  }
}

TEST(RequestParser, LimitsGive431And413) {
  RequestLimits limits{64, 10};
  // No end of the header block yet, but already past the limit.
  Parsed open = Parse("GET /" + std::string(100, 'a'), limits);
  EXPECT_EQ(open.result.outcome, ParseOutcome::kError);
  EXPECT_EQ(open.result.status, 431);
  Parsed big_head = Parse("GET /" + std::string(100, 'a') + " HTTP/1.1\r\n\r\n", limits);
  EXPECT_EQ(big_head.result.status, 431);
  EXPECT_EQ(Parse("GET /" + std::string(40, 'a'), limits).result.outcome, ParseOutcome::kIncomplete);
  Parsed big_body = Parse("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", limits);
  EXPECT_EQ(big_body.result.status, 413);
  EXPECT_EQ(Parse("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", limits).result.outcome,
            ParseOutcome::kComplete);
}

TEST(RequestParser, ReusedRequestIsCleared) {
  Request request;
  RequestHead head;
  ParseRequest("POST /a HTTP/1.1\r\nX-Old: 1\r\nContent-Length: 1\r\n\r\nx", {}, request, head);
  request.params["p"] = "v";
  request.route = "/a";
  ParseResult r = ParseRequest("GET / HTTP/1.1\r\n\r\n", {}, request, head);
  ASSERT_EQ(r.outcome, ParseOutcome::kComplete);
  EXPECT_TRUE(request.headers.empty());
  EXPECT_TRUE(request.params.empty());
  EXPECT_TRUE(request.route.empty());
  EXPECT_TRUE(request.body.empty());
  // An error before the headers leaves none of the previous request's headers either.
  ParseRequest("POST /a HTTP/1.1\r\nX-Old: 1\r\n\r\n", {}, request, head);
  EXPECT_EQ(ParseRequest("nonsense\r\n\r\n", {}, request, head).status, 400);
  EXPECT_TRUE(request.headers.empty());
}

TEST(RequestParser, ListHelpers) {
  EXPECT_TRUE(AcceptsGzip("gzip, deflate"));
  EXPECT_TRUE(AcceptsGzip("br;q=1, *;q=0.5"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0, *"));
  EXPECT_FALSE(AcceptsGzip("identity"));
  EXPECT_TRUE(HasToken("a, Keep-Alive ,b", "keep-alive"));
  EXPECT_FALSE(HasToken("keep-alives", "keep-alive"));
  EXPECT_EQ(FindHeaderEnd("a\r\n\r\nb"), 5u);
  EXPECT_EQ(FindHeaderEnd("a\n\nb"), 3u);
  EXPECT_EQ(FindHeaderEnd("a\r\n\r"), std::string_view::npos);
  EXPECT_STREQ(ReasonPhrase(431), "Request Header Fields Too Large");
}

}  // namespace
}  // namespace ces::http
