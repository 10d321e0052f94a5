// The pipeline against the secure stack (scripts/stack up --secure): Kafka only on SASL_SSL with
// SCRAM-SHA-512 and ACLs, PostgreSQL only over TLS (sslmode=verify-full), FerretDB only over TLS with a
// SCRAM user. Every subcommand gets exactly the environment of `scripts/stack env --secure` (the security
// settings come from CES_KAFKA_SETTINGS and the URIs, no security flag). The negative cases: a wrong
// Kafka password and certificates of an unknown CA end the subcommands with a clear error and a
// non-zero exit within seconds, and nothing is written.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "store_itest_support.hpp"

namespace ces::test {
namespace {

using nlohmann::json;

// Sets an environment variable for the subprocesses started in its scope; restores the old value.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// `text` with the value of `key=` (up to the next ',' or '&' or the end) replaced by `value`.
std::string WithValue(const std::string& text, const std::string& key, const std::string& value) {
  const auto at = text.find(key + "=");
  EXPECT_NE(at, std::string::npos) << key << " in " << text;
  if (at == std::string::npos) return text;
  const auto begin = at + key.size() + 1;
  const auto end = text.find_first_of(",&", begin);
  return text.substr(0, begin) + value + (end == std::string::npos ? "" : text.substr(end));
}

// A CA certificate that signed nothing the stack serves (made with openssl in `dir`).
std::string OtherCa(const std::string& dir) {
  const std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj '/CN=another CA' -keyout '" +
                              dir + "/other-ca.key' -out '" + dir + "/other-ca.crt' >'" + dir +
                              "/openssl.log' 2>&1";
  EXPECT_EQ(std::system(command.c_str()), 0) << ReadFile(dir + "/openssl.log");
  return dir + "/other-ca.crt";
}

// Waits for the exit of a subcommand that must fail; its status (-1: still running after `timeout`).
int FailedExit(Process& p, std::chrono::milliseconds timeout) {
  const auto status = p.Wait(timeout);
  EXPECT_TRUE(status.has_value()) << "still running after " << timeout.count() << " ms\n" << p.Log();
  return status.value_or(-1);
}

// The pipeline's topic `name` does not exist (nothing was written to Kafka under `prefix`).
void ExpectNoTopic(const std::string& prefix, const std::string& name) {
  try {
    kafka::ReadAll(RequireEnv("KAFKA_BOOTSTRAP"), KafkaSettingsFromEnv(), prefix + name, seconds(3));
    ADD_FAILURE() << prefix + name << " exists";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not found"), std::string::npos) << e.what();
  }
}

std::string MongoDatabaseName(const std::string& prefix) {
  std::string db = "secure_" + prefix;
  while (db.back() == '-') db.pop_back();
  return db;
}

class Secure : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* settings = std::getenv("CES_KAFKA_SETTINGS");
    ASSERT_TRUE(settings && std::string(settings).find("security.protocol=SASL_SSL") != std::string::npos)
        << "needs the environment of `scripts/stack env --secure` (a stack from `scripts/stack up --secure`)";
    ASSERT_NE(RequireEnv("POSTGRES_URI").find("sslmode=verify-full"), std::string::npos);
    ASSERT_NE(RequireEnv("MONGO_URI").find("tls=true"), std::string::npos);
    dir_ = TempDir();
    prefix_ = UniquePrefix();
  }

  // produce, store-consume and audit-consume under the current (refused) Kafka settings: each exits 1
  // within seconds with `refused` in its log; the api says it on /readyz.
  void RunRefusedSubcommands(const std::string& db_uri, const std::string& refused);

  // No topic of the pipeline, no event and no position in PostgreSQL.
  void ExpectNothingWritten(const std::string& db_uri) {
    for (const char* name : {"main", "producer-positions"}) ExpectNoTopic(prefix_, name);
    postgres::Connection db(db_uri);
    EXPECT_EQ(Count(db, "consumer_positions"), 0);
    EXPECT_EQ(Count(db, "blocks"), 0);
  }

  // audit-consume with a MongoDB URI the server refuses: exits 1 within seconds, saying why, and
  // writes nothing (no topic either: it stops before subscribing).
  void ExpectAuditRefused(const std::string& mongo_uri, const std::string& refused) {
    Process audit({"audit-consume", "--kafka", RequireEnv("KAFKA_BOOTSTRAP"), "--topic-prefix", prefix_, "--mongo",
                   mongo_uri, "--listen", "127.0.0.1:0", "--group", prefix_ + "audit"},
                  dir_ + "/audit-consume-refused.log");
    EXPECT_EQ(FailedExit(audit, seconds(30)), 1) << audit.Log();
    EXPECT_NE(audit.Log().find(refused), std::string::npos) << audit.Log();
    EXPECT_NE(audit.Log().find("mongodb refused the connection"), std::string::npos) << audit.Log();
    ExpectNoTopic(prefix_, "main");
  }

  std::string dir_;
  std::string prefix_;
};

TEST_F(Secure, PipelineOverSaslSslAndTls) {
  const std::string db_uri = CreateDatabase();
  postgres::Connection db(db_uri);
  RecordingsPipeline pipeline = StartRecordingsPipeline(dir_, prefix_);
  ASSERT_FALSE(HasFailure());

  Service store = StartStore(dir_, "store-consume", prefix_, db_uri);
  ASSERT_FALSE(HasFailure());
  const auto ends = EndOffsets(prefix_);
  ASSERT_FALSE(ends.empty());
  ASSERT_TRUE(WaitUntil([&] { return CaughtUp(db, "store-consumer", ends); }, seconds(60))) << store.process->Log();
  const long blocks = Count(db, "blocks");
  EXPECT_GT(blocks, 0);
  EXPECT_GT(Count(db, "finality_signatures"), 0);

  const std::string mongo_db = MongoDatabaseName(prefix_);
  Service audit = StartAuditConsumer(dir_, prefix_, mongo_db);
  Service api;
  api.port = FreePort();
  api.process = std::make_unique<Process>(
      std::vector<std::string>{"api", "--listen", "127.0.0.1:" + std::to_string(api.port), "--postgres", db_uri,
                               "--mongo", MongoDatabaseUri(mongo_db), "--kafka", RequireEnv("KAFKA_BOOTSTRAP"),
                               "--topic-prefix", prefix_},
      dir_ + "/api.log");
  // ready = PostgreSQL, the audit store and the live hub's Kafka consumer all answer
  ASSERT_TRUE(WaitUntil([&] { return HttpGet(api.url() + "/readyz").first == 200; }, seconds(60)))
      << HttpGet(api.url() + "/readyz").second << "\n" << api.process->Log();

  // The live hub joined its consumer group over SASL_SSL (it logs the assignment).
  EXPECT_TRUE(WaitUntil([&] { return api.process->Log().find("kafka partitions assigned") != std::string::npos; },
                        seconds(30)))
      << api.process->Log();

  // The audit store (written by audit-consume through TLS + SCRAM) has the last event of the 2.x node.
  const std::uint32_t last = *ReadRecording(RecordingsDir() + "/v2/events.stream").back().id;
  const std::string event_url =
      api.url() + "/api/v1/events/" + UrlEncode(pipeline.emit2.url()) + "/events/" + std::to_string(last);
  ASSERT_TRUE(WaitUntil([&] { return HttpGet(event_url).first == 200; }, seconds(60)))
      << HttpGet(event_url).second << "\n" << audit.process->Log();

  // The REST model (PostgreSQL through TLS) answers with every stored block.
  auto [status, body] = HttpGet(api.url() + "/api/v1/blocks?size=100");
  ASSERT_EQ(status, 200) << body;
  EXPECT_EQ(json::parse(body)["itemCount"], blocks);

  for (Service* s : {&api, &audit, &store, &pipeline.produce}) StopGracefully(*s);
  std::cout << "[ figure   ] " << blocks << " blocks through SASL_SSL Kafka into TLS PostgreSQL and the TLS audit store\n";
}

TEST_F(Secure, WrongKafkaPasswordEndsEverySubcommand) {
  const std::string db_uri = CreateDatabase();
  {
    ScopedEnv wrong("CES_KAFKA_SETTINGS", WithValue(RequireEnv("CES_KAFKA_SETTINGS"), "sasl.password", "wrong"));
    RunRefusedSubcommands(db_uri, "Authentication failed during authentication due to invalid credentials");
  }
  ExpectNothingWritten(db_uri);
}

TEST_F(Secure, LoginWithoutAclEndsEverySubcommand) {
  const std::string db_uri = CreateDatabase();
  const std::string secrets = ReadFile(RequireEnv("CES_STATE") + "/secrets.env");
  const auto at = secrets.find("KAFKA_PASSWORD_GUEST=");
  ASSERT_NE(at, std::string::npos) << "no guest user in this stack";
  const auto begin = at + std::string("KAFKA_PASSWORD_GUEST=").size();
  const std::string password = secrets.substr(begin, secrets.find('\n', begin) - begin);
  {
    ScopedEnv guest("CES_KAFKA_SETTINGS",
                    WithValue(WithValue(RequireEnv("CES_KAFKA_SETTINGS"), "sasl.username", "guest"), "sasl.password",
                              password));
    RunRefusedSubcommands(db_uri, "uthorization failed");
  }
  ExpectNothingWritten(db_uri);
}

void Secure::RunRefusedSubcommands(const std::string& db_uri, const std::string& refused) {
  Process produce({"produce", "--kafka", RequireEnv("KAFKA_BOOTSTRAP"), "--topic-prefix", prefix_, "--listen",
                   "127.0.0.1:0", "--node", "http://127.0.0.1:" + std::to_string(FreePort())},
                  dir_ + "/produce.log");
  Process store({"store-consume", "--kafka", RequireEnv("KAFKA_BOOTSTRAP"), "--topic-prefix", prefix_, "--postgres",
                 db_uri, "--listen", "127.0.0.1:0", "--migrate"},
                dir_ + "/store-consume.log");
  Process audit({"audit-consume", "--kafka", RequireEnv("KAFKA_BOOTSTRAP"), "--topic-prefix", prefix_, "--mongo",
                 MongoDatabaseUri(MongoDatabaseName(prefix_)), "--listen", "127.0.0.1:0", "--group", prefix_ + "audit"},
                dir_ + "/audit-consume.log");
  for (Process* p : {&produce, &store, &audit}) {
    EXPECT_EQ(FailedExit(*p, seconds(20)), 1) << p->Log();
    EXPECT_NE(p->Log().find(refused), std::string::npos) << p->Log();
  }
  // the api keeps running (its other routes need no Kafka) and is not ready, saying why
  Service api;
  api.port = FreePort();
  api.process = std::make_unique<Process>(
      std::vector<std::string>{"api", "--listen", "127.0.0.1:" + std::to_string(api.port), "--postgres", db_uri,
                               "--kafka", RequireEnv("KAFKA_BOOTSTRAP"), "--topic-prefix", prefix_},
      dir_ + "/api.log");
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto [status, body] = HttpGet(api.url() + "/readyz");
        return status == 503 && body.find(refused) != std::string::npos;
      },
      seconds(20)))
      << HttpGet(api.url() + "/readyz").second << "\n" << api.process->Log();
  EXPECT_TRUE(api.process->Running());
}

// ZooKeeper (where the brokers keep SCRAM credentials and ACLs) takes TLS only, and only from clients
// with a certificate of the stack's CA: a plaintext client and a TLS client without a certificate get
// no answer; the brokers, which hold one, run (the pipeline test above goes through them).
TEST_F(Secure, ZooKeeperTakesOnlyTlsWithAClientCertificate) {
  const std::string zookeeper = RequireEnv("ZOOKEEPER");
  const std::string port = zookeeper.substr(zookeeper.rfind(':') + 1);
  const std::string ca = RequireEnv("CES_STACK_CA");
  const std::string certificate = ca.substr(0, ca.rfind('/')) + "/server.pem";
  const std::string tls = "printf ruok | timeout 5 openssl s_client -quiet -connect 127.0.0.1:" + port +
                          " -CAfile '" + ca + "' -verify_return_error";
  std::string with_certificate;
  RunShell(tls + " -cert '" + certificate + "'", with_certificate);
  EXPECT_NE(with_certificate.find("imok"), std::string::npos) << with_certificate;
  std::string without_certificate;
  RunShell(tls, without_certificate);
  EXPECT_EQ(without_certificate.find("imok"), std::string::npos) << without_certificate;
  std::string plaintext;
  RunShell("timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/" + port + " && printf ruok >&3 && cat <&3'", plaintext);
  EXPECT_EQ(plaintext.find("imok"), std::string::npos) << plaintext;
}

TEST_F(Secure, UnknownCaEndsTheConnection) {
  const std::string other_ca = OtherCa(dir_);
  const std::string db_uri = CreateDatabase();

  // PostgreSQL: the server certificate does not verify against sslrootcert
  Process migrate({"migrate", "--postgres", WithValue(db_uri, "sslrootcert", other_ca)}, dir_ + "/migrate.log");
  EXPECT_EQ(FailedExit(migrate, seconds(20)), 1) << migrate.Log();
  EXPECT_NE(migrate.Log().find("certificate verify failed"), std::string::npos) << migrate.Log();
  postgres::Connection db(db_uri);
  EXPECT_EQ(Count(db, "information_schema.tables", "table_schema = 'public'"), 0);

  // Kafka: the broker's certificate does not verify against ssl.ca.location
  {
    ScopedEnv other("CES_KAFKA_SETTINGS", WithValue(RequireEnv("CES_KAFKA_SETTINGS"), "ssl.ca.location", other_ca));
    Process produce({"produce", "--kafka", RequireEnv("KAFKA_BOOTSTRAP"), "--topic-prefix", prefix_, "--listen",
                     "127.0.0.1:0", "--node", "http://127.0.0.1:" + std::to_string(FreePort())},
                    dir_ + "/produce.log");
    EXPECT_EQ(FailedExit(produce, seconds(20)), 1) << produce.Log();
    EXPECT_NE(produce.Log().find("certificate verify failed"), std::string::npos) << produce.Log();
  }
  ExpectNoTopic(prefix_, "main");

  // MongoDB: audit-consume reports the failed verification and exits
  ExpectAuditRefused(WithValue(MongoDatabaseUri(MongoDatabaseName(prefix_)), "tlsCAFile", other_ca),
                     "certificate verify failed");
}

TEST_F(Secure, WrongMongoPasswordEndsAuditConsume) {
  const std::string uri = MongoDatabaseUri(MongoDatabaseName(prefix_));
  const auto scheme = uri.find("://") + 3;
  const auto colon = uri.find(':', scheme);
  const auto at = uri.find('@', scheme);
  ASSERT_TRUE(colon < at && at != std::string::npos) << "no credentials in " << uri;
  ExpectAuditRefused(uri.substr(0, colon + 1) + "wrong" + uri.substr(at), "Authentication failed");
}

}  // namespace
}  // namespace ces::test
