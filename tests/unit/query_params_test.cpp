// The REST API's parameter checks (src/query/params.hpp, routes.hpp) without a database: every route's
// refusals name the parameter, valid values come out normalised, and the engine answers 400 before it
// needs PostgreSQL (its pool here has no server to connect to: reaching it would be a 503).
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "ces/http/server.hpp"
#include "ces/query/engine.hpp"
#include "ces/query/pool.hpp"
#include "ces/query/values.hpp"
#include "params.hpp"
#include "routes.hpp"

namespace ces::query::detail {
namespace {

using nlohmann::json;

// Path parameters and a query string "a=1&b=2" as the engine gets them from the HTTP server.
struct Request {
  std::map<std::string, std::string> path;
  std::vector<std::pair<std::string, std::string>> query;
  Args args() const { return Args{&path, &query}; }
};

Request Make(std::map<std::string, std::string> path, const std::string& query) {
  return Request{std::move(path), http::ParseQuery(query)};
}

class QueryParams : public ::testing::Test {
 protected:
  QueryParams() : pool_(PoolOptions{"host=/nonexistent/ces-no-server dbname=none", 1,
                                    std::chrono::milliseconds(100), 1, 1000, "", std::chrono::milliseconds(30000)}),
                  engine_(pool_, options_) {}

  // The check's refusal of `route` with these parameters (nullopt when it passes).
  std::optional<ParamError> Check(const std::string& route, std::map<std::string, std::string> path,
                                  const std::string& query) const {
    const Route* r = FindRoute(route);
    EXPECT_NE(r, nullptr) << route;
    if (!r) return std::nullopt;
    const Request request = Make(std::move(path), query);
    return ValidateRequest(*r, request.args(), options_);
  }

  // The refusal names `parameter`, and the engine answers it with a 400 that names it too.
  void ExpectBad(const std::string& route, std::map<std::string, std::string> path, const std::string& query,
                 const std::string& parameter) {
    auto error = Check(route, path, query);
    ASSERT_TRUE(error) << route << "?" << query;
    EXPECT_EQ(error->parameter, parameter) << route << "?" << query << ": " << error->message;
    const Request request = Make(std::move(path), query);
    const Response response = engine_.Handle(route, request.args());
    EXPECT_EQ(response.status, 400) << route << "?" << query << " -> " << response.body;
    const json body = json::parse(response.body);
    EXPECT_EQ(body["code"], 400);
    EXPECT_EQ(body.value("parameter", ""), parameter) << response.body;
    EXPECT_EQ(body.value("message", ""), error->message);
  }

  EngineOptions options_{10, 100};
  Pool pool_;
  Engine engine_;
};

TEST_F(QueryParams, ErrorsNameTheParameter) {
  ExpectBad("/api/v1/blocks", {}, "size=0", "size");
  ExpectBad("/api/v1/blocks", {}, "size=101", "size");  // above the maximum: refused, not clamped
  ExpectBad("/api/v1/blocks", {}, "size=abc", "size");
  ExpectBad("/api/v1/blocks", {}, "page=0", "page");
  ExpectBad("/api/v1/blocks", {}, "page=-1", "page");
  ExpectBad("/api/v1/blocks", {}, "order_by=height", "order_by");
  ExpectBad("/api/v1/blocks", {}, "order_by=blockheight", "order_by");  // case-sensitive, as Java
  ExpectBad("/api/v1/blocks", {}, "order_direction=desc", "order_direction");
  ExpectBad("/api/v1/blocks", {}, "from_time=2024-02-30T00:00:00Z", "from_time");
  ExpectBad("/api/v1/blocks", {}, "to_time=yesterday", "to_time");
  ExpectBad("/api/v1/blocks", {}, "after=!!", "after");
  ExpectBad("/api/v1/blocks", {}, "after=" + Base64UrlEncode("d\x1fonly-one"), "after");
  ExpectBad("/api/v1/era-validators", {}, "after=" + Base64UrlEncode("d\x1fx\x1fy"), "after");
  ExpectBad("/api/v1/blocks", {}, "order_by=blockHeight&after=" + Base64UrlEncode("d\x1f" "1\x1fx"), "order_by");
  ExpectBad("/api/v1/blocks", {}, "page=2&after=" + Base64UrlEncode("d\x1f" "1\x1fx"), "page");
  ExpectBad("/api/v1/blocks", {}, "proposer=01abc", "proposer");
  ExpectBad("/api/v1/blocks", {}, "era=x", "era");
  ExpectBad("/api/v1/blocks/{hash}", {{"hash", "abc"}}, "", "hash");
  ExpectBad("/api/v1/blocks/{hash}", {{"hash", std::string(63, 'a') + "g"}}, "", "hash");
  ExpectBad("/api/v1/deploys/{hash}", {{"hash", "xyz"}}, "", "hash");
  ExpectBad("/api/v1/transactions/{hash}/transfers", {{"hash", "xyz"}}, "", "hash");
  ExpectBad("/api/v1/validators/{key}/rewards", {{"key", "03" + std::string(64, 'a')}}, "", "key");
  ExpectBad("/api/v1/validators/{key}/total-rewards", {{"key", "01" + std::string(66, 'a')}}, "", "key");
  ExpectBad("/api/v1/delegators/{key}/rewards", {{"key", "02" + std::string(64, 'a')}}, "", "key");
  ExpectBad("/api/v1/era-validators/{era}", {{"era", "-1"}}, "", "era");
  ExpectBad("/api/v1/era-validators/{era}", {{"era", "99999999999999999999"}}, "", "era");
  ExpectBad("/api/v1/steps/{era}", {{"era", "x"}}, "", "era");
  ExpectBad("/api/v1/accounts/{account}/transfers", {{"account", "nope"}}, "", "account");
  ExpectBad("/api/v1/transfers", {}, "account=12", "account");
  ExpectBad("/api/v1/transactions", {}, "kind=Deploy", "kind");
  ExpectBad("/api/v1/transactions", {}, "status=done", "status");
  ExpectBad("/api/v1/transactions", {}, "block=12", "block");
  ExpectBad("/api/v1/faults", {}, "public_key=zz", "public_key");
  ExpectBad("/api/v1/withdrawals", {}, "public_key=zz", "public_key");
  ExpectBad("/api/v1/era-validators", {}, "from_time=2024-01-01T00:00:00Z", "from_time");  // no time column
}

TEST_F(QueryParams, MessagesSayWhatIsExpected) {
  EXPECT_EQ(Check("/api/v1/blocks", {}, "size=101")->message, "size must be at most 100");
  EXPECT_EQ(Check("/api/v1/blocks", {}, "order_by=x")->message,
            "order_by must be one of: timestamp, blockHeight, eraId, deployCount, transferCount");
  EXPECT_EQ(Check("/api/v1/transactions", {}, "status=x")->message,
            "status must be one of: accepted, expired, processed");
  EXPECT_EQ(Check("/api/v1/blocks/{hash}", {{"hash", "x"}}, "")->message,
            "hash must be 64 hex digits, a decimal height or latest");
  EXPECT_EQ(Check("/api/v1/validators/{key}", {{"key", "x"}}, "")->message,
            "key must be a public key (01 + 64 or 02 + 66 hex digits)");
  EXPECT_EQ(Check("/api/v1/blocks", {}, "after=" + Base64UrlEncode("a\x1f" "1\x1fx") + "&order_direction=DESC")->message,
            "the cursor was made for the other direction");
}

TEST_F(QueryParams, TheFirstRefusalWins) {
  // Path, then the query filters in the route's order, then paging.
  EXPECT_EQ(Check("/api/v1/delegators/{key}/rewards", {{"key", "x"}}, "validator=y&size=0")->parameter, "key");
  EXPECT_EQ(Check("/api/v1/delegators/{key}/rewards", {{"key", "01" + std::string(64, 'a')}}, "size=0&validator=y")
                ->parameter,
            "validator");
  EXPECT_EQ(Check("/api/v1/faults", {}, "public_key=x&era=y")->parameter, "era");
  EXPECT_EQ(Check("/api/v1/blocks", {}, "order_by=x&size=0")->parameter, "size");
}

TEST_F(QueryParams, ValidRequestsPass) {
  const std::string key = "01" + std::string(64, 'a');
  EXPECT_FALSE(Check("/api/v1/blocks", {}, ""));
  EXPECT_FALSE(Check("/api/v1/blocks", {}, "size=100&page=3&order_by=blockHeight&order_direction=ASC"));
  EXPECT_FALSE(Check("/api/v1/blocks", {}, "from_time=2024-02-29T00:00:00Z&to_time=2024-03-01T00:00:00.5%2B01:00"));
  EXPECT_FALSE(Check("/api/v1/blocks", {}, "after=" + Base64UrlEncode("d\x1fnot a time\x1fx")));  // PostgreSQL's to judge
  EXPECT_FALSE(Check("/api/v1/blocks/{hash}", {{"hash", "latest"}}, ""));
  EXPECT_FALSE(Check("/api/v1/blocks/{hash}", {{"hash", "12"}}, ""));
  EXPECT_FALSE(Check("/api/v1/transactions", {}, "account=account-hash-" + std::string(64, 'B') + "&kind=version1"));
  EXPECT_FALSE(Check("/api/v1/delegators/{key}/delegations", {{"key", key}}, "order_by=stakedAmount"));
  EXPECT_FALSE(Check("/api/v1/eras/{era}", {{"era", "0"}}, "size=0"));  // an object route has no paging
}

TEST(QueryParamValues, AreNormalised) {
  const std::string upper_key = "01" + std::string(64, 'A');
  std::map<std::string, std::string> path{{"key", upper_key}};
  std::vector<std::pair<std::string, std::string>> query{{"validator", "02" + std::string(66, 'B')}, {"era", "007"}};
  Params params;
  ASSERT_FALSE(CheckParams(RouteParams{ParamRule{"key", ParamType::kPublicKey},
                                       {{"validator", ParamType::kPublicKey}, {"era", ParamType::kInteger},
                                        {"absent", ParamType::kHash}}},
                           Args{&path, &query}, params));
  EXPECT_EQ(params.path.text, "01" + std::string(64, 'a'));
  EXPECT_EQ(params.Query("validator")->text, "02" + std::string(66, 'b'));
  EXPECT_EQ(params.Query("era")->text, "7");
  EXPECT_EQ(params.Query("era")->number, 7);
  EXPECT_EQ(params.Query("absent"), nullptr);

  path = {{"hash", "0042"}};
  ASSERT_FALSE(CheckParams(RouteParams{ParamRule{"hash", ParamType::kBlockId}, {}}, Args{&path, nullptr}, params));
  EXPECT_EQ(params.path.text, "42");
  EXPECT_EQ(params.path.number, 42);

  path = {{"account", upper_key}};
  ASSERT_FALSE(CheckParams(RouteParams{ParamRule{"account", ParamType::kAccount}, {}}, Args{&path, nullptr}, params));
  ASSERT_TRUE(params.path.account);
  EXPECT_EQ(params.path.account->public_key, "01" + std::string(64, 'a'));
  EXPECT_EQ(params.path.text, AccountHashOf("01" + std::string(64, 'a')));
}

TEST(QueryListParams, DefaultsAndCursor) {
  const Route* blocks = FindRoute("/api/v1/blocks");
  ASSERT_NE(blocks, nullptr);
  ASSERT_NE(blocks->list, nullptr);
  EngineOptions options{7, 50};
  std::vector<std::pair<std::string, std::string>> query;
  ListParams list;
  ASSERT_FALSE(CheckList(*blocks->list, Args{nullptr, &query}, options, list));
  EXPECT_EQ(list.size, 7u);
  EXPECT_EQ(list.page, 1);
  EXPECT_STREQ(list.order->name, "timestamp");
  EXPECT_TRUE(list.KeysetOrder());
  EXPECT_EQ(list.direction, "DESC");
  EXPECT_FALSE(list.after);

  query = {{"after", Base64UrlEncode("a\x1f" "2024-01-01 00:00:00+00\x1f" "abc")}, {"size", "3"}};
  list = {};
  ASSERT_FALSE(CheckList(*blocks->list, Args{nullptr, &query}, options, list));
  EXPECT_TRUE(list.after);
  EXPECT_EQ(list.direction, "ASC");  // the cursor's direction
  EXPECT_EQ(list.cursor, (std::vector<std::string>{"2024-01-01 00:00:00+00", "abc"}));
  EXPECT_EQ(list.size, 3u);

  query = {{"order_by", "eraId"}, {"from_time", "2024-01-01T00:00:00Z"}};
  list = {};
  ASSERT_FALSE(CheckList(*blocks->list, Args{nullptr, &query}, options, list));
  EXPECT_FALSE(list.KeysetOrder());
  EXPECT_EQ(list.from_time, "2024-01-01T00:00:00Z");
  EXPECT_FALSE(list.to_time);
}

TEST(QueryRoutes, EveryPatternHasARoute) {
  ASSERT_EQ(Engine::Routes().size(), RouteTable().size());
  for (const std::string& pattern : Engine::Routes()) {
    const Route* route = FindRoute(pattern);
    ASSERT_NE(route, nullptr) << pattern;
    EXPECT_EQ(pattern, route->pattern);
    // A path parameter is named as in the pattern.
    if (route->params.path) {
      EXPECT_NE(pattern.find(std::string("{") + route->params.path->name + "}"), std::string::npos) << pattern;
    } else {
      EXPECT_EQ(pattern.find('{'), std::string::npos) << pattern;
    }
  }
  EXPECT_EQ(FindRoute("/api/v1/nope"), nullptr);
}

TEST(QueryValues, AccountHashAndTimes) {
  // Casper's documented example: account-hash of an Ed25519 key.
  EXPECT_EQ(ParsePublicKey("01" + std::string(64, 'A')), "01" + std::string(64, 'a'));
  EXPECT_FALSE(ParsePublicKey("00" + std::string(64, 'a')));
  std::string out;
  AppendJsonTime(out, "2022-10-12 11:18:39.1+00");
  EXPECT_EQ(out, "\"2022-10-12T11:18:39.100Z\"");
  out.clear();
  AppendJsonTime(out, "2022-10-12 11:18:39+00");
  EXPECT_EQ(out, "\"2022-10-12T11:18:39.000Z\"");
  EXPECT_EQ(Base64UrlDecode(Base64UrlEncode(std::string("d\x1f\xff\x00z", 5))), std::string("d\x1f\xff\x00z", 5));
}

}  // namespace
}  // namespace ces::query::detail
