// The Kafka client's memory bounds against a real broker: a record close to kMaxRecordBytes, far above
// the fetch, pre-fetch and producer queue sizes, still goes through a producer, a consumer-group member
// and a whole-topic read, in order with the small records around it.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "ces/kafka/client.hpp"
#include "test_support.hpp"

namespace ces {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using test::RequireEnv;

TEST(KafkaClient, ARecordNearTheMaximumSizePassesTheDefaultLimits) {
  const std::string brokers = RequireEnv("KAFKA_BOOTSTRAP");
  const std::string topic = test::UniquePrefix() + "large";
  kafka::TopicSpec spec;
  spec.name = topic;
  spec.partitions = 1;
  spec.config["max.message.bytes"] = std::to_string(kafka::kMaxRecordBytes + 1024 * 1024);
  kafka::EnsureTopics(brokers, {}, {spec});

  const std::size_t large_size = kafka::kMaxRecordBytes - 1024 * 1024;
  static_assert(kafka::kMaxRecordBytes - 1024 * 1024 > 2 * kafka::kProducerQueueBytes);
  static_assert(kafka::kMaxRecordBytes - 1024 * 1024 > 3 * kafka::kPrefetchBytes);
  std::vector<std::string> values;
  for (int i = 0; i < 3000; ++i) values.push_back("small-" + std::to_string(i) + std::string(4000, 'x'));
  // Random bytes: compression must not shrink the record below the fetch sizes on the wire.
  std::string large(large_size, '\0');
  std::uint64_t state = 0x9e3779b97f4a7c15ull;
  for (char& c : large) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    c = static_cast<char>(state >> 56);
  }
  values.insert(values.begin() + 1500, large);

  {
    kafka::Producer producer(brokers);
    std::size_t acked = 0;
    std::size_t failed = 0;
    for (const std::string& v : values) {
      ASSERT_TRUE(producer.Produce(topic, "k", v, {}, [&](const kafka::DeliveryReport& r) { ++(r.ok ? acked : failed); }));
    }
    ASSERT_TRUE(producer.Flush(milliseconds(120000)));
    EXPECT_EQ(failed, 0u);
    EXPECT_EQ(acked, values.size());
  }

  kafka::Consumer consumer(brokers, topic + "-group");
  consumer.Subscribe({topic});
  std::vector<kafka::Message> got;
  const auto deadline = std::chrono::steady_clock::now() + seconds(120);
  while (got.size() < values.size() && std::chrono::steady_clock::now() < deadline) {
    for (auto& m : consumer.Poll(5000, milliseconds(500))) got.push_back(std::move(m));
  }
  consumer.Close();
  ASSERT_EQ(got.size(), values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    ASSERT_EQ(got[i].offset, static_cast<std::int64_t>(i));
    ASSERT_EQ(got[i].value.size(), values[i].size()) << "offset " << i;
    ASSERT_TRUE(got[i].value == values[i]) << "offset " << i;
  }

  const auto all = kafka::ReadAll(brokers, {}, topic, seconds(120));
  ASSERT_EQ(all.size(), values.size());
  EXPECT_TRUE(all[1500].value == large);
}

}  // namespace
}  // namespace ces
