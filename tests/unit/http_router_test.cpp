// The async server's router (src/http/router.hpp) on its own: matching on the raw path, precedence of
// literal segments over parameters, percent-decoded parameters, no match (404), another method's
// route (405 with Allow), the OPTIONS probe, and the patterns it refuses.
#include <gtest/gtest.h>

#include <map>
#include <stdexcept>
#include <string>

#include "router.hpp"

namespace ces::http::detail {
namespace {

void Nothing(const Request&, AsyncResponseWriter&) {}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& [method, pattern] : std::initializer_list<std::pair<const char*, const char*>>{
             {"GET", "/blocks/{hash}"},        // 0
             {"GET", "/blocks/latest"},        // 1
             {"GET", "/a/{x}/c"},              // 2
             {"GET", "/a/b/{y}"},              // 3
             {"POST", "/echo"},                // 4
             {"GET", "/"},                     // 5
             {"DELETE", "/blocks/{hash}"},     // 6
             {"PUT", "/items/{id}/{part}"},    // 7
         }) {
      router_.Add(method, pattern, Nothing, RouteKind::kPooled);
    }
  }

  // The route index for (path, method), -1 if none.
  int Match(std::string_view path, std::string_view method = "GET") const {
    return router_.Match(path, method, nullptr, nullptr);
  }

  Router router_;
};

TEST_F(RouterTest, MatchesSegmentsAndPrefersLiteralOnes) {
  EXPECT_EQ(Match("/blocks/abc"), 0);
  EXPECT_EQ(Match("/blocks/latest"), 1);  // literal beats {hash}, whichever was added first
  EXPECT_EQ(Match("/a/b/c"), 3);          // the literal second segment wins over {x}
  EXPECT_EQ(Match("/a/z/c"), 2);
  EXPECT_EQ(Match("/a/b/z"), 3);
  EXPECT_EQ(Match("/echo", "POST"), 4);
  EXPECT_EQ(Match("/"), 5);
  EXPECT_EQ(Match("/blocks/abc", "DELETE"), 6);
  EXPECT_EQ(router_[0].pattern, "/blocks/{hash}");
  EXPECT_EQ(router_.Entries().size(), 8u);
}

TEST_F(RouterTest, NoMatchIsMinusOne) {
  int any = -1;
  std::string allow;
  EXPECT_EQ(router_.Match("/nope", "GET", &any, &allow), -1);
  EXPECT_EQ(any, -1);
  EXPECT_EQ(allow, "");
  EXPECT_EQ(Match("/blocks/"), -1);          // an empty segment does not fill a parameter
  EXPECT_EQ(Match("/blocks"), -1);           // segment counts differ
  EXPECT_EQ(Match("/blocks/abc/more"), -1);
  EXPECT_EQ(Match("blocks/abc"), -1);        // not a path
  EXPECT_EQ(Match(""), -1);
  EXPECT_EQ(Match("/BLOCKS/latest"), -1);    // literal segments are case-sensitive
}

TEST_F(RouterTest, AnotherMethodsRouteGivesAllow) {
  int any = -1;
  std::string allow;
  EXPECT_EQ(router_.Match("/echo", "GET", &any, &allow), -1);
  EXPECT_EQ(any, 4);
  EXPECT_EQ(allow, "POST, OPTIONS");

  any = -1;
  allow.clear();
  EXPECT_EQ(router_.Match("/blocks/abc", "PATCH", &any, &allow), -1);
  EXPECT_EQ(allow, "GET, HEAD, DELETE, OPTIONS");  // HEAD with GET, each method once, in route order
  EXPECT_EQ(any, 0);

  any = -1;
  allow.clear();
  EXPECT_EQ(router_.Match("/blocks/latest", "PUT", &any, &allow), -1);
  EXPECT_EQ(allow, "GET, HEAD, DELETE, OPTIONS");  // every route that matches the path counts
  EXPECT_EQ(any, 1);                               // the most exact one is the route of the 405

  // A matching route sets any_route too, and leaves Allow alone.
  any = -1;
  allow.clear();
  EXPECT_EQ(router_.Match("/blocks/abc", "GET", &any, &allow), 0);
  EXPECT_EQ(any, 0);
  EXPECT_EQ(allow, "");
}

TEST_F(RouterTest, OptionsProbeCollectsAllow) {
  int any = -1;
  std::string allow;
  EXPECT_EQ(router_.Match("/a/b/c", "\n", &any, &allow), -1);  // no route has method "\n"
  EXPECT_EQ(any, 3);
  EXPECT_EQ(allow, "GET, HEAD, OPTIONS");
}

TEST_F(RouterTest, ParametersArePercentDecodedSegments) {
  std::map<std::string, std::string> params;
  const std::string path = "/items/ab%2Fcd%20e/x%41";
  const int index = Match(path, "PUT");
  ASSERT_EQ(index, 7);
  router_.FillParams(index, path, params);
  EXPECT_EQ(params.at("id"), "ab/cd e");  // an encoded '/' stays inside its segment
  EXPECT_EQ(params.at("part"), "xA");
  EXPECT_EQ(params.size(), 2u);

  params.clear();
  router_.FillParams(Match("/blocks/latest"), "/blocks/latest", params);
  EXPECT_TRUE(params.empty());  // a literal route has no parameters
}

TEST_F(RouterTest, RefusesBadAndDuplicatePatterns) {
  EXPECT_THROW(router_.Add("GET", "blocks", Nothing, RouteKind::kPooled), std::invalid_argument);
  EXPECT_THROW(router_.Add("GET", "", Nothing, RouteKind::kPooled), std::invalid_argument);
  std::string deep;
  for (int i = 0; i <= kMaxSegments; ++i) deep += "/s";
  EXPECT_THROW(router_.Add("GET", deep, Nothing, RouteKind::kPooled), std::invalid_argument);
  EXPECT_EQ(Match(deep), -1);  // a path with more segments than any route can have
  EXPECT_THROW(router_.Add("GET", "/blocks/{hash}", Nothing, RouteKind::kPooled), std::invalid_argument);
  router_.Add("POST", "/blocks/{hash}", Nothing, RouteKind::kDedicated);  // another method: fine
  EXPECT_EQ(router_[Match("/blocks/x", "POST")].kind, RouteKind::kDedicated);
}

}  // namespace
}  // namespace ces::http::detail
