// Three brokers (scripts/stack up --ha): kill -9 one broker mid-stream; no acknowledged event is lost.
#include <gtest/gtest.h>
#include <signal.h>

#include <set>

#include "ces/ingest/record.hpp"
#include "ces/kafka/client.hpp"
#include "ces/kafka/topics.hpp"
#include "test_support.hpp"

namespace ces::test {
namespace {

using std::chrono::seconds;

std::set<std::uint32_t> EventIds(const std::string& brokers, const std::string& prefix) {
  std::set<std::uint32_t> ids;
  for (const std::string& topic : kafka::EventTopicNames(prefix)) {
    for (const auto& r : kafka::ReadAll(brokers, {}, topic, seconds(120))) {
      if (const auto* id = r.HeaderValue(ingest::header::kEventId)) ids.insert(static_cast<std::uint32_t>(std::stoul(*id)));
    }
  }
  return ids;
}

TEST(ProduceHa, BrokerKilledMidStreamLosesNoAcknowledgedEvent) {
  const std::string brokers = RequireEnv("KAFKA_BOOTSTRAP");
  ASSERT_NE(brokers.find(','), std::string::npos) << "needs the --ha stack (three brokers)";
  // Start from three live brokers, and leave three live brokers whatever happens below.
  ASSERT_EQ(Stack({"start", "kafka-2"}), 0);
  struct RestartBroker {
    ~RestartBroker() { Stack({"start", "kafka-2"}); }
  } restart_broker;
  const std::string dir = TempDir();
  const std::string prefix = UniquePrefix();
  const std::uint16_t emit_port = FreePort();
  const std::string node = "http://127.0.0.1:" + std::to_string(emit_port);
  Process emit({"emit", "--listen", "127.0.0.1:" + std::to_string(emit_port), "--stream",
                RecordingsDir() + "/v2/events.stream", "--loop", "--rate", "1500", "--buffer", "100000"},
               dir + "/emit.log");
  ASSERT_TRUE(WaitUntil([&] { return HttpGet(node + "/status").first == 200; }, seconds(20))) << emit.Log();
  const std::uint16_t port = FreePort();
  Process produce({"produce", "--kafka", brokers, "--topic-prefix", prefix, "--node", node, "--listen",
                   "127.0.0.1:" + std::to_string(port), "--replication-factor", "3", "--min-insync-replicas", "2",
                   "--backoff-initial", "0.1"},
                  dir + "/produce.log");
  const std::string produce_url = "http://127.0.0.1:" + std::to_string(port);
  ASSERT_TRUE(WaitUntil([&] { return HttpGet(produce_url + "/readyz").first == 200; }, seconds(60))) << produce.Log();
  std::this_thread::sleep_for(seconds(3));
  ASSERT_EQ(Stack({"kill", "kafka-2"}), 0);
  std::this_thread::sleep_for(seconds(8));
  produce.Signal(SIGTERM);
  auto status = produce.Wait(seconds(90));
  ASSERT_TRUE(status.has_value()) << produce.Log();
  EXPECT_EQ(*status, 0) << produce.Log();
  emit.Signal(SIGTERM);

  // The position the producer persisted is what Kafka acknowledged: every id up to it must be there.
  std::optional<std::uint32_t> position;
  for (const auto& r : kafka::ReadAll(brokers, {}, prefix + "producer-positions", seconds(120))) {
    if (r.key && *r.key == node + " events") position = static_cast<std::uint32_t>(std::stoul(*r.HeaderValue("event-id")));
  }
  ASSERT_TRUE(position.has_value()) << produce.Log();
  EXPECT_GT(*position, 5000u) << "the stream should have kept flowing after the broker died";
  const auto ids = EventIds(brokers, prefix);
  for (std::uint32_t id = 0; id <= *position; ++id) {
    ASSERT_TRUE(ids.count(id)) << "acknowledged event " << id << " is missing";
  }
}

}  // namespace
}  // namespace ces::test
