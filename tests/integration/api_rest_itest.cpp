// The REST endpoints (ces::query::Engine, served by RestApi) against a PostgreSQL store filled from the
// recordings through the real store path (ces::model parsers + ces::postgres::Store): values checked
// against the event files, the Java-compatible page shape and field names, the errors that need the
// store, and cursor pagination against the page form. The parameter checks are unit tests
// (tests/unit/query_params_test.cpp).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "ces/common/metrics.hpp"
#include "ces/model/parser.hpp"
#include "ces/postgres/migrations.hpp"
#include "ces/postgres/store.hpp"
#include "ces/query/engine.hpp"
#include "ces/query/pool.hpp"
#include "ces/query/values.hpp"
#include "store_itest_support.hpp"
#include "test_support.hpp"

namespace ces::test {
namespace {

using nlohmann::json;

json Event(const std::string& relative) { return json::parse(ReadFile(RecordingsDir() + "/" + relative)); }

class ApiRest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    uri_ = new std::string(CreateDatabase());
    postgres::Connection conn(*uri_);
    postgres::Migrate(conn);
    model::Parser parser;
    model::Rows rows;
    for (const char* dir : {"v1/events", "v2/events"}) {
      for (const auto& entry : std::filesystem::directory_iterator(RecordingsDir() + "/" + dir)) {
        std::string text = ReadFile(entry.path().string());
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
        parser.Parse(text, rows);  // v1 Step.json is a corrupted fixture: rejected, as the store does
      }
    }
    postgres::Store store(conn);
    auto result = store.Apply("g", {{{"t-main", 0}, std::nullopt, 1}}, rows);
    ASSERT_EQ(result.status, postgres::ApplyStatus::kApplied) << result.error.message;
    query::PoolOptions options;
    options.uri = *uri_;
    options.size = 4;
    pool_ = new query::Pool(options);
    query::EngineOptions engine_options;
    engine_options.max_page_size = 100;
    engine_ = new query::Engine(*pool_, engine_options);
  }
  static void TearDownTestSuite() {
    delete engine_;
    delete pool_;
    delete uri_;
  }

  // GET `route` with path parameters and a query string "a=1&b=2".
  static query::Response Get(const std::string& route, std::map<std::string, std::string> path = {},
                             const std::string& query = "") {
    std::vector<std::pair<std::string, std::string>> q;
    std::size_t start = 0;
    while (start < query.size()) {
      auto amp = query.find('&', start);
      if (amp == std::string::npos) amp = query.size();
      const std::string piece = query.substr(start, amp - start);
      const auto eq = piece.find('=');
      q.emplace_back(piece.substr(0, eq), eq == std::string::npos ? "" : piece.substr(eq + 1));
      start = amp + 1;
    }
    query::Args args{&path, &q};
    return engine_->Handle(route, args);
  }
  static json GetJson(const std::string& route, std::map<std::string, std::string> path = {},
                      const std::string& query = "", int status = 200) {
    auto r = Get(route, std::move(path), query);
    EXPECT_EQ(r.status, status) << route << "?" << query << " -> " << r.body;
    return json::parse(r.body);
  }
  static void ExpectBad(const std::string& route, std::map<std::string, std::string> path, const std::string& query,
                        const std::string& parameter) {
    auto r = Get(route, std::move(path), query);
    EXPECT_EQ(r.status, 400) << route << "?" << query << " -> " << r.body;
    auto body = json::parse(r.body);
    EXPECT_EQ(body["code"], 400);
    EXPECT_EQ(body.value("parameter", ""), parameter) << r.body;
  }
  static long Sql(const std::string& sql) {
    postgres::Connection conn(*uri_);
    return std::stol(Scalar(conn, sql));
  }

  static std::string* uri_;
  static query::Pool* pool_;
  static query::Engine* engine_;
};

std::string* ApiRest::uri_ = nullptr;
query::Pool* ApiRest::pool_ = nullptr;
query::Engine* ApiRest::engine_ = nullptr;

TEST_F(ApiRest, BlockByHashHeightAndLatest) {
  const json event = Event("v1/events/BlockAdded.json")["BlockAdded"];
  const std::string hash = event["block_hash"];
  const json& header = event["block"]["header"];
  auto r = Get("/api/v1/blocks/{hash}", {{"hash", hash}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(r.etag.empty());
  EXPECT_NE(r.cache_control.find("immutable"), std::string::npos);
  json b = json::parse(r.body);
  EXPECT_EQ(b["blockHash"], hash);
  EXPECT_EQ(b["parentHash"], header["parent_hash"]);
  EXPECT_EQ(b["state"], header["state_root_hash"]);
  EXPECT_EQ(b["blockHeight"], header["height"]);
  EXPECT_EQ(b["eraId"], header["era_id"]);
  EXPECT_EQ(b["timestamp"], header["timestamp"]);  // "2022-08-10T08:22:57.280Z"
  EXPECT_EQ(b["proposer"], event["block"]["body"]["proposer"]);
  EXPECT_EQ(b["deployCount"], 0);
  EXPECT_EQ(b["transferCount"], 0);
  EXPECT_EQ(b["protocolVersion"], "1.4.7");
  // Served again from memory: same body and ETag.
  auto again = Get("/api/v1/blocks/{hash}", {{"hash", hash}});
  EXPECT_EQ(again.body, r.body);
  EXPECT_EQ(again.etag, r.etag);
  // Upper-case hex is accepted.
  std::string upper = hash;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(Get("/api/v1/blocks/{hash}", {{"hash", upper}}).body, r.body);

  json by_height = GetJson("/api/v1/blocks/{hash}", {{"hash", std::to_string(header["height"].get<long>())}});
  EXPECT_EQ(by_height["blockHash"], hash);
  json latest = GetJson("/api/v1/blocks/{hash}", {{"hash", "latest"}});
  EXPECT_EQ(latest["blockHeight"].get<long>(), Sql("SELECT max(height) FROM blocks"));

  auto missing = Get("/api/v1/blocks/{hash}", {{"hash", std::string(64, 'a')}});
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(json::parse(missing.body)["code"], 404);
  EXPECT_EQ(Get("/api/v1/blocks/{hash}", {{"hash", "99999999"}}).status, 404);
}

TEST_F(ApiRest, BlockListShapeOrdersAndFilters) {
  const long blocks = Sql("SELECT count(*) FROM blocks");
  ASSERT_GE(blocks, 4);
  json page = GetJson("/api/v1/blocks", {}, "size=2");
  EXPECT_EQ(page["itemCount"], blocks);
  EXPECT_EQ(page["pageCount"], (blocks + 1) / 2);
  EXPECT_EQ(page["pageNumber"], 1);
  ASSERT_EQ(page["data"].size(), 2u);
  EXPECT_TRUE(page["next"].is_string());
  for (const char* field : {"blockHash", "parentHash", "timestamp", "state", "deployCount", "transferCount", "eraId",
                            "proposer", "blockHeight"}) {
    EXPECT_TRUE(page["data"][0].contains(field)) << field;
  }
  // Default: timestamp DESC.
  EXPECT_GE(page["data"][0]["timestamp"].get<std::string>(), page["data"][1]["timestamp"].get<std::string>());
  json by_height = GetJson("/api/v1/blocks", {}, "size=100&order_by=blockHeight&order_direction=ASC");
  ASSERT_EQ(static_cast<long>(by_height["data"].size()), blocks);
  for (std::size_t i = 1; i < by_height["data"].size(); ++i) {
    EXPECT_LE(by_height["data"][i - 1]["blockHeight"].get<long>(), by_height["data"][i]["blockHeight"].get<long>());
  }
  EXPECT_TRUE(by_height["next"].is_null());
  // Filters: proposer, era, time range.
  const json event = Event("v1/events/BlockAdded.json")["BlockAdded"];
  json by_proposer = GetJson("/api/v1/validators/{key}/blocks", {{"key", event["block"]["body"]["proposer"]}});
  ASSERT_GE(by_proposer["data"].size(), 1u);
  for (const auto& b : by_proposer["data"]) EXPECT_EQ(b["proposer"], event["block"]["body"]["proposer"]);
  json in_range = GetJson("/api/v1/blocks", {}, "from_time=2022-08-10T08:22:57.280Z&to_time=2022-08-10T08:22:57.281Z");
  ASSERT_EQ(in_range["data"].size(), 1u);
  EXPECT_EQ(in_range["data"][0]["blockHash"], event["block_hash"]);
  EXPECT_EQ(in_range["itemCount"], 1);
}

// Page counts: requests that arrive together for a filter not counted yet share one count(*), and
// a cached count serves the requests within its lifetime.
TEST_F(ApiRest, ConcurrentFirstPagesShareOneCount) {
  metrics::Registry registry;
  query::PoolOptions options;
  options.uri = *uri_;
  options.size = 1;
  options.acquire_timeout = std::chrono::seconds(10);
  query::Pool pool(options);
  query::EngineOptions engine_options;
  engine_options.count_ttl = std::chrono::minutes(1);
  query::Engine engine(pool, engine_options, &registry);
  auto& count_queries = registry.GetCounter("ces_api_count_queries_total", "");
  const long blocks = Sql("SELECT count(*) FROM blocks");
  std::vector<std::pair<std::string, std::string>> q = {{"from_time", "2000-01-01T00:00:00Z"}, {"size", "1"}};
  std::map<std::string, std::string> path;
  std::vector<std::thread> threads;
  std::vector<query::Response> answers(8);
  // The requests line up behind a lock on blocks (held 1 s by another session), then share the
  // pool's one connection: each count waits for it, so all of them want a count at about once.
  std::thread blocker([&] {
    std::string output;
    RunShell("psql -qX '" + *uri_ + "' -c 'BEGIN; LOCK TABLE blocks IN ACCESS EXCLUSIVE MODE; "
             "SELECT pg_sleep(1); COMMIT' 2>&1", output);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (std::size_t i = 0; i < answers.size(); ++i) {
    threads.emplace_back([&, i] { answers[i] = engine.Handle("/api/v1/blocks", {&path, &q}); });
  }
  blocker.join();
  for (auto& t : threads) t.join();
  for (const auto& a : answers) {
    ASSERT_EQ(a.status, 200) << a.body;
    EXPECT_EQ(json::parse(a.body)["itemCount"], blocks);
  }
  EXPECT_EQ(count_queries.Value(), 1u);
  EXPECT_EQ(engine.Handle("/api/v1/blocks", {&path, &q}).status, 200);
  EXPECT_EQ(count_queries.Value(), 1u);  // within count_ttl: the cached count
}

TEST_F(ApiRest, CursorWalkEqualsPageForm) {
  for (const char* route : {"/api/v1/blocks", "/api/v1/transactions", "/api/v1/era-validators"}) {
    std::vector<json> paged, walked;
    json first = GetJson(route, {}, "size=3");
    const long pages = first["pageCount"];
    for (long p = 1; p <= pages; ++p) {
      const json page = GetJson(route, {}, "size=3&page=" + std::to_string(p));
      for (const auto& row : page["data"]) paged.push_back(row);
    }
    std::string query = "size=3";
    for (int guard = 0; guard < 1000; ++guard) {
      json r = GetJson(route, {}, query);
      EXPECT_EQ(r.contains("itemCount"), query == "size=3");
      for (const auto& row : r["data"]) walked.push_back(row);
      if (r["next"].is_null()) break;
      query = "size=3&after=" + r["next"].get<std::string>();
    }
    EXPECT_EQ(static_cast<long>(paged.size()), first["itemCount"].get<long>()) << route;
    EXPECT_EQ(walked, paged) << route;
  }
  // Ascending cursors too.
  json asc = GetJson("/api/v1/blocks", {}, "size=2&order_direction=ASC");
  json next = GetJson("/api/v1/blocks", {}, "size=2&after=" + asc["next"].get<std::string>());
  EXPECT_GE(next["data"][0]["timestamp"].get<std::string>(), asc["data"][1]["timestamp"].get<std::string>());
}

// The digits of a JSON number (the Java store's amounts are numbers with every digit).
std::string Digits(const json& v) {
  EXPECT_TRUE(v.is_number_unsigned()) << v.dump();
  return v.is_number_unsigned() ? std::to_string(v.get<std::uint64_t>()) : v.dump();
}

// "2022-08-10T08:22:57.280Z" as the Java store's Jackson wrote dates: "2022-08-10T08:22:57.280+00:00".
std::string JavaTime(const std::string& iso) { return iso.substr(0, iso.size() - 1) + "+00:00"; }

TEST_F(ApiRest, DeploysTransfersAndAccounts) {
  const json d = Event("v1/events/DeployProcessed.transfer.json")["DeployProcessed"];
  const std::string hash = d["deploy_hash"];
  auto r = Get("/api/v1/deploys/{hash}", {{"hash", hash}});
  ASSERT_EQ(r.status, 200) << r.body;
  json deploy = json::parse(r.body);
  EXPECT_EQ(deploy["deployHash"], hash);
  EXPECT_EQ(deploy["blockHash"], d["block_hash"]);
  EXPECT_EQ(deploy["account"], d["account"]);
  EXPECT_EQ(Digits(deploy["cost"]), d["execution_result"]["Success"]["cost"]);  // a JSON number
  EXPECT_NE(r.body.find("\"cost\":" + d["execution_result"]["Success"]["cost"].get<std::string>() + ","),
            std::string::npos);
  EXPECT_TRUE(deploy["errorMessage"].is_null());
  EXPECT_EQ(deploy["timestamp"], JavaTime(d["timestamp"]));
  EXPECT_FALSE(r.etag.empty());

  json failure = GetJson("/api/v1/deploys/{hash}",
                         {{"hash", Event("v1/events/DeployProcessed.failure.json")["DeployProcessed"]["deploy_hash"]}});
  EXPECT_EQ(failure["errorMessage"],
            Event("v1/events/DeployProcessed.failure.json")["DeployProcessed"]["execution_result"]["Failure"]["error_message"]);

  json wt;
  for (const auto& t : d["execution_result"]["Success"]["effect"]["transforms"]) {
    if (t["transform"].is_object() && t["transform"].contains("WriteTransfer")) wt = t["transform"]["WriteTransfer"];
  }
  ASSERT_FALSE(wt.is_null());
  json transfers = GetJson("/api/v1/deploys/{hash}/transfers", {{"hash", hash}});
  ASSERT_EQ(transfers["data"].size(), 1u);
  const json& t = transfers["data"][0];
  EXPECT_EQ(Digits(t["amount"]), wt["amount"]);
  EXPECT_EQ(t["timestamp"], JavaTime(d["timestamp"]));
  EXPECT_EQ(t["deployHash"], hash);
  EXPECT_EQ("account-hash-" + t["fromAccount"].get<std::string>(), wt["from"]);
  EXPECT_EQ("account-hash-" + t["toAccount"].get<std::string>(), wt["to"]);
  EXPECT_EQ(t["sourcePurse"], wt["source"]);
  EXPECT_TRUE(t["transferId"].is_null());
  EXPECT_EQ(GetJson("/api/v1/transactions/{hash}/transfers", {{"hash", hash}})["data"], transfers["data"]);

  // The deploy's account key hashes to the transfer's source account (blake2b account hash).
  EXPECT_EQ(query::AccountHashOf(d["account"]), t["fromAccount"]);
  for (const std::string& account : {d["account"].get<std::string>(), t["fromAccount"].get<std::string>(),
                                     t["toAccount"].get<std::string>()}) {
    json by_account = GetJson("/api/v1/accounts/{account}/transfers", {{"account", account}});
    ASSERT_EQ(by_account["data"].size(), 1u) << account;
    EXPECT_EQ(Digits(by_account["data"][0]["amount"]), wt["amount"]);
    EXPECT_EQ(GetJson("/api/v1/transfers", {}, "account=" + account)["data"], by_account["data"]);
  }
  json by_key = GetJson("/api/v1/transactions", {}, "account=" + d["account"].get<std::string>());
  bool found = false;
  for (const auto& x : by_key["data"]) found |= x["transactionHash"] == hash;
  EXPECT_TRUE(found);

  EXPECT_EQ(Get("/api/v1/deploys/{hash}", {{"hash", std::string(64, 'b')}}).status, 404);
  EXPECT_EQ(Get("/api/v1/transactions/{hash}", {{"hash", std::string(64, 'b')}}).status, 404);
  EXPECT_EQ(Get("/api/v1/deploys/{hash}/transfers", {{"hash", std::string(64, 'b')}}).status, 404);
}

TEST_F(ApiRest, TransactionsV2) {
  const json p = Event("v2/events/TransactionProcessed.Version1.json")["TransactionProcessed"];
  const std::string hash = p["transaction_hash"]["Version1"];
  json x = GetJson("/api/v1/transactions/{hash}", {{"hash", hash}});
  EXPECT_EQ(x["kind"], "version1");
  EXPECT_EQ(x["status"], "processed");
  EXPECT_EQ(x["blockHash"], p["block_hash"]);
  EXPECT_EQ(x["cost"], p["execution_result"]["Version2"]["cost"]);
  json list = GetJson("/api/v1/transactions", {}, "kind=version1&status=processed&size=100");
  bool found = false;
  for (const auto& row : list["data"]) {
    EXPECT_EQ(row["kind"], "version1");
    found |= row["transactionHash"] == hash;
  }
  EXPECT_TRUE(found);
  json by_block = GetJson("/api/v1/transactions", {}, "block=" + p["block_hash"].get<std::string>());
  ASSERT_GE(by_block["data"].size(), 1u);
  // Deploys are the legacy rows only.
  const json deploys = GetJson("/api/v1/deploys", {}, "size=100");
  for (const auto& row : deploys["data"]) EXPECT_TRUE(row.contains("deployHash"));
  EXPECT_EQ(GetJson("/api/v1/deploys", {}, "size=100")["itemCount"].get<long>(),
            Sql("SELECT count(*) FROM transactions WHERE kind = 'deploy'"));
  // A block's transactions.
  const json b = Event("v2/events/BlockAdded.with_deploy.json")["BlockAdded"];
  json txs = GetJson("/api/v1/blocks/{hash}/transactions", {{"hash", b["block_hash"]}});
  EXPECT_EQ(txs["itemCount"].get<long>(),
            Sql("SELECT count(*) FROM block_transactions WHERE block_hash = '" + b["block_hash"].get<std::string>() + "'"));
  EXPECT_GE(txs["itemCount"].get<long>(), 1);
  EXPECT_EQ(Get("/api/v1/blocks/{hash}/transactions", {{"hash", std::string(64, 'c')}}).status, 404);
}

TEST_F(ApiRest, EraValidatorsRewardsAndEras) {
  // v2 switch block: rewards in motes, next-era weights.
  const json v2 = Event("v2/events/BlockAdded.era_end.json")["BlockAdded"]["block"]["Version2"];
  const json& era_end = v2["header"]["era_end"];
  const long era = v2["header"]["era_id"];
  const std::string validator = era_end["next_era_validator_weights"][0]["validator"];
  json next = GetJson("/api/v1/era-validators/{era}", {{"era", std::to_string(era + 1)}}, "size=100");
  bool seen = false;
  for (const auto& v : next["data"]) {
    EXPECT_EQ(v["eraId"], era + 1);
    for (const char* field : {"eraId", "publicKey", "weight", "rewards", "hasEquivocation", "wasActive"}) {
      EXPECT_TRUE(v.contains(field)) << field;
    }
    if (v["publicKey"] == validator) {
      seen = true;
      EXPECT_EQ(Digits(v["weight"]), era_end["next_era_validator_weights"][0]["weight"]);
      EXPECT_EQ(v["wasActive"], true);  // not in inactive_validators
    }
  }
  EXPECT_TRUE(seen);

  // Rewards of a validator: the amounts of the switch block, their sum as a string.
  std::vector<std::string> amounts = era_end["rewards"][validator];
  json rewards = GetJson("/api/v1/validators/{key}/rewards", {{"key", validator}}, "order_direction=ASC");
  ASSERT_EQ(rewards["data"].size(), amounts.size());
  for (std::size_t i = 0; i < amounts.size(); ++i) {
    EXPECT_EQ(Digits(rewards["data"][i]["amount"]), amounts[i]);
    EXPECT_EQ(rewards["data"][i]["timestamp"], JavaTime(v2["header"]["timestamp"]));
    EXPECT_EQ(rewards["data"][i]["eraId"], era);
    EXPECT_EQ(rewards["data"][i]["rewardsStatus"], "complete");
  }
  // Totals: the bare number, as the Java store (the eras not in it yet: header X-Pending-Eras).
  auto total = Get("/api/v1/validators/{key}/total-rewards", {{"key", validator}});
  ASSERT_EQ(total.status, 200) << total.body;
  std::uint64_t sum = 0;
  for (const auto& a : amounts) sum += std::stoull(a);
  EXPECT_EQ(total.body, std::to_string(sum));
  EXPECT_EQ(total.pending_eras, "[]");
  EXPECT_EQ(Get("/api/v1/validators/{key}/total-delegator-rewards", {{"key", validator}}).body, "0");
  EXPECT_EQ(Get("/api/v1/delegators/{key}/total-rewards", {{"key", validator}}).body, "0");
  EXPECT_EQ(GetJson("/api/v1/delegators/{key}/rewards", {{"key", validator}})["itemCount"], 0);

  // The era summary.
  json summary = GetJson("/api/v1/eras/{era}", {{"era", std::to_string(era)}});
  EXPECT_EQ(summary["lastBlockHash"], v2["hash"]);
  EXPECT_EQ(summary["lastBlockHeight"], v2["header"]["height"]);
  EXPECT_EQ(summary["endTimestamp"], v2["header"]["timestamp"]);
  EXPECT_EQ(summary["protocolVersion"], v2["header"]["protocol_version"]);
  EXPECT_EQ(summary["rewardsStatus"], "complete");
  EXPECT_TRUE(summary["totalRewards"].is_string());
  EXPECT_GE(GetJson("/api/v1/eras", {}, "size=100")["itemCount"].get<long>(), 2);
  EXPECT_EQ(Get("/api/v1/eras/{era}", {{"era", "123456789"}}).status, 404);

  // v1 switch block: rewards pending (no node RPC), so the totals say which eras are not known yet.
  const json v1 = Event("v1/events/BlockAdded.era_end.json")["BlockAdded"]["block"];
  const long era1 = v1["header"]["era_id"];
  json s1 = GetJson("/api/v1/eras/{era}", {{"era", std::to_string(era1)}});
  EXPECT_EQ(s1["rewardsStatus"], "pending");
  EXPECT_TRUE(s1["totalRewards"].is_null());
  const std::string v1_validator = v1["header"]["era_end"]["era_report"]["rewards"][0]["validator"];
  auto t1 = Get("/api/v1/validators/{key}/total-rewards", {{"key", v1_validator}});
  EXPECT_EQ(t1.body, "0");
  EXPECT_EQ(json::parse(t1.pending_eras), json::array({era1}));
  json all = GetJson("/api/v1/era-validators", {}, "size=100&public_key=" + v1_validator);
  ASSERT_GE(all["data"].size(), 1u);
}

TEST_F(ApiRest, FaultsSignaturesSteps) {
  const json f = Event("v1/events/Fault.json")["Fault"];
  json faults = GetJson("/api/v1/faults", {}, "era=" + std::to_string(f["era_id"].get<long>()));
  ASSERT_EQ(faults["data"].size(), 1u);
  EXPECT_EQ(faults["data"][0]["publicKey"], f["public_key"]);
  EXPECT_EQ(faults["data"][0]["timestamp"], f["timestamp"]);
  EXPECT_EQ(GetJson("/api/v1/faults", {}, "public_key=" + f["public_key"].get<std::string>())["data"].size(), 1u);

  const json s = Event("v1/events/FinalitySignature.json")["FinalitySignature"];
  json sigs = GetJson("/api/v1/blocks/{hash}/signatures", {{"hash", s["block_hash"]}});
  ASSERT_EQ(sigs["data"].size(), 1u);
  EXPECT_EQ(sigs["data"][0]["signature"], s["signature"]);
  EXPECT_EQ(sigs["data"][0]["eraId"], s["era_id"]);

  const json step = Event("v2/events/Step.json")["Step"];
  json st = GetJson("/api/v1/steps/{era}", {{"era", std::to_string(step["era_id"].get<long>())}});
  EXPECT_EQ(st["eraId"], step["era_id"]);
  EXPECT_EQ(st["effectCount"].get<long>(), static_cast<long>(step["execution_effects"].size()));
  EXPECT_EQ(Get("/api/v1/steps/{era}", {{"era", "123456789"}}).status, 404);
}

TEST_F(ApiRest, StakesAndWithdrawals) {
  json validators = GetJson("/api/v1/validators", {}, "size=100");
  EXPECT_EQ(validators["itemCount"].get<long>(),
            Sql("SELECT count(DISTINCT validator_public_key) FROM bids WHERE kind IN ('validator', 'unified')"));
  if (!validators["data"].empty()) {
    const std::string key = validators["data"][0]["publicKey"];
    json v = GetJson("/api/v1/validators/{key}", {{"key", key}});
    EXPECT_EQ(v["publicKey"], key);
    EXPECT_TRUE(v["delegators"].is_array());
  }
  json withdrawals = GetJson("/api/v1/withdrawals", {}, "size=100");
  EXPECT_EQ(withdrawals["itemCount"].get<long>(), Sql("SELECT count(*) FROM withdrawals"));
  if (!withdrawals["data"].empty()) {
    const json& w = withdrawals["data"][0];
    const std::string key = w["unbonderPublicKey"].is_string() ? w["unbonderPublicKey"] : w["validatorPublicKey"];
    EXPECT_GE(GetJson("/api/v1/withdrawals", {}, "public_key=" + key)["data"].size(), 1u);
  }
  EXPECT_EQ(Get("/api/v1/validators/{key}", {{"key", "01" + std::string(64, 'd')}}).status, 404);
  EXPECT_EQ(GetJson("/api/v1/delegators/{key}/delegations", {{"key", "01" + std::string(64, 'd')}})["itemCount"], 0);
}

// The parameter checks that need no database are unit tests (tests/unit/query_params_test.cpp); here
// what needs the store: a value only PostgreSQL refuses, and a paged route of a resource that must exist
// first (404 for a missing block before its paging parameters are looked at).
TEST_F(ApiRest, ErrorsThatNeedTheStoreNameTheParameter) {
  ExpectBad("/api/v1/blocks", {}, "after=" + query::Base64UrlEncode("d\x1fnot a time\x1fx"), "after");
  const std::string block = Event("v2/events/BlockAdded.with_deploy.json")["BlockAdded"]["block_hash"];
  ExpectBad("/api/v1/blocks/{hash}/transactions", {{"hash", block}}, "size=0", "size");
  EXPECT_EQ(Get("/api/v1/blocks/{hash}/transactions", {{"hash", std::string(64, 'c')}}, "size=0").status, 404);
}

TEST_F(ApiRest, DatabaseDownIs503) {
  query::PoolOptions options;
  options.uri = "postgresql://postgres@127.0.0.1:" + std::to_string(FreePort()) + "/none";
  options.acquire_timeout = std::chrono::milliseconds(200);
  options.connect_timeout_s = 1;
  query::Pool pool(options);
  query::Engine engine(pool, {});
  std::map<std::string, std::string> path{{"hash", std::string(64, 'a')}};
  std::vector<std::pair<std::string, std::string>> q;
  for (const char* route : {"/api/v1/blocks", "/api/v1/blocks/{hash}"}) {
    auto r = engine.Handle(route, query::Args{&path, &q});
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(json::parse(r.body)["code"], 503);
  }
}

}  // namespace
}  // namespace ces::test
