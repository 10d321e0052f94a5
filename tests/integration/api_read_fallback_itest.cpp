// HA tier (scripts/stack up --ha): the api reads from the replicas given with --postgres-read and falls
// back to the primary (--postgres) while none of them answers, so that it stays Ready and serves the REST
// API: when the replicas are killed, and when the replica address does not exist at all (the Kubernetes
// `single` overlay, which has no replica Service). When the replicas come back, reads return to them.
#include <gtest/gtest.h>
#include <signal.h>

#include <string>
#include <vector>

#include "store_itest_support.hpp"

namespace ces::test {
namespace {

struct Server {
  std::string name;  // postgres-N (scripts/stack)
  std::string host_port;
};

// The servers of the stack's multi-host POSTGRES_URI, in order (postgres-1, -2, -3).
std::vector<Server> StackServers() {
  const std::string uri = RequireEnv("POSTGRES_URI");
  const auto at = uri.find('@');
  const auto slash = uri.find('/', at);
  const std::string hosts = uri.substr(at + 1, slash - at - 1);
  std::vector<Server> out;
  std::size_t start = 0;
  while (start <= hosts.size()) {
    const auto comma = hosts.find(',', start);
    const std::string h = hosts.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    out.push_back({"postgres-" + std::to_string(out.size() + 1), h});
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string ServerUri(const std::string& host_port, const std::string& database) {
  return "postgresql://postgres@" + host_port + "/" + database;
}

bool InRecovery(const Server& s) {
  postgres::Connection c(ServerUri(s.host_port, "postgres"));
  return Scalar(c, "SELECT pg_is_in_recovery()") == "t";
}

// Connections of the api (application_name set by its pool) to `database` on one server; -1 when the
// server does not answer.
int ApiConnections(const Server& s, const std::string& database) {
  try {
    postgres::Connection c(ServerUri(s.host_port, "postgres"));
    return std::stoi(Scalar(c, "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                               "'casper-event-store-api' AND datname = " + postgres::QuoteLiteral(database)));
  } catch (const std::exception&) {
    return -1;
  }
}

Service StartApi(const std::string& dir, const std::string& primary, const std::string& read) {
  Service s;
  s.port = FreePort();
  s.process = std::make_unique<Process>(
      std::vector<std::string>{"api", "--postgres", primary, "--postgres-read", read, "--listen",
                               "127.0.0.1:" + std::to_string(s.port), "--pg-pool-size", "2", "--pg-pool-timeout", "8"},
      dir + "/api.log");
  return s;
}

bool Serves(const Service& api) {
  return HttpGet(api.url() + "/readyz").first == 200 && HttpGet(api.url() + "/api/v1/blocks?size=1").first == 200;
}

// A migrated database on the primary, present on every running replica.
std::string MigratedDatabase(const std::string& dir, const std::vector<Server>& replicas) {
  const std::string uri = CreateDatabase("fallback");
  Process migrate({"migrate", "--postgres", uri}, dir + "/migrate.log");
  EXPECT_EQ(migrate.Wait(seconds(120)), 0) << migrate.Log();
  const std::string database = uri.substr(uri.rfind('/') + 1, uri.find('?') - uri.rfind('/') - 1);
  for (const Server& r : replicas) {
    EXPECT_TRUE(WaitUntil(
        [&] {
          try {
            postgres::Connection c(ServerUri(r.host_port, database));
            return Scalar(c, "SELECT count(*) FROM blocks") == "0";
          } catch (const std::exception&) {
            return false;
          }
        },
        seconds(60)))
        << r.name << " does not replay the primary's WAL (does it follow the current primary?)";
  }
  return database;
}

TEST(ApiReadFallback, NoReplicaServiceMeansReadsFromThePrimary) {
  const std::string dir = TempDir();
  const std::string database = MigratedDatabase(dir, {});
  const std::string primary = DatabaseUri(RequireEnv("POSTGRES_URI"), database);
  // What the single overlay has: a replica Service name that does not resolve.
  Service api = StartApi(dir, primary, "postgresql://postgres@postgres-events-replica.invalid:5432/" + database);
  ASSERT_TRUE(WaitUntil([&] { return Serves(api); }, seconds(30))) << api.process->Log();
  EXPECT_EQ(Metric(api.url(), "ces_api_db_read_target_up"), 0);
  EXPECT_GE(Metric(api.url(), "ces_api_db_fallback_connects_total"), 1);
  StopGracefully(api);
}

TEST(ApiReadFallback, ReplicasKilledThenBack) {
  std::vector<Server> primaries, replicas;
  for (const Server& s : StackServers()) {
    if (Stack({"pid", s.name}) != 0) continue;
    (InRecovery(s) ? replicas : primaries).push_back(s);
  }
  ASSERT_EQ(primaries.size(), 1u) << "needs the --ha stack with one primary";
  ASSERT_FALSE(replicas.empty()) << "needs at least one running replica";
  const std::string dir = TempDir();
  const std::string database = MigratedDatabase(dir, replicas);
  std::string read = "postgresql://postgres@";
  for (std::size_t i = 0; i < replicas.size(); ++i) read += (i ? "," : "") + replicas[i].host_port;
  read += "/" + database + "?target_session_attrs=any";
  Service api = StartApi(dir, ServerUri(primaries[0].host_port, database), read);

  // Replicas up: reads go to them, none to the primary.
  ASSERT_TRUE(WaitUntil([&] { return Serves(api); }, seconds(30))) << api.process->Log();
  EXPECT_EQ(Metric(api.url(), "ces_api_db_read_target_up"), 1);
  EXPECT_EQ(ApiConnections(primaries[0], database), 0);
  int on_replicas = 0;
  for (const Server& r : replicas) on_replicas += ApiConnections(r, database);
  EXPECT_GE(on_replicas, 1);

  // Every replica down: still Ready, REST answers from the primary.
  for (const Server& r : replicas) ASSERT_EQ(Stack({"kill", r.name}), 0) << r.name;
  ASSERT_TRUE(WaitUntil([&] { return Serves(api); }, seconds(60)))
      << "the api did not fall back to the primary\n" << api.process->Log();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(HttpGet(api.url() + "/api/v1/blocks?size=1").first, 200);
  EXPECT_EQ(Metric(api.url(), "ces_api_db_read_target_up"), 0);
  EXPECT_GE(Metric(api.url(), "ces_api_db_fallback_connects_total"), 1);
  EXPECT_GE(ApiConnections(primaries[0], database), 1);

  // Replicas back: after the retry interval (30 s) the connections move back to them.
  for (const Server& r : replicas) ASSERT_EQ(Stack({"start", r.name}), 0) << r.name;
  ASSERT_TRUE(WaitUntil(
      [&] {
        if (!Serves(api)) return false;
        int n = 0;
        for (const Server& r : replicas) n += std::max(0, ApiConnections(r, database));
        return n >= 1 && Metric(api.url(), "ces_api_db_read_target_up") == 1;
      },
      seconds(120)))
      << "reads did not return to the replicas\n" << api.process->Log();
  EXPECT_EQ(HttpGet(api.url() + "/readyz").first, 200);
  StopGracefully(api);
}

}  // namespace
}  // namespace ces::test
