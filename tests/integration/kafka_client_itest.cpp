// The Kafka client's memory bounds against a real broker: a record close to kMaxRecordBytes, far above
// the fetch, pre-fetch and producer queue sizes, still goes through a producer, a consumer-group member
// and a whole-topic read, in order with the small records around it.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <utility>
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

// librdkafka 2.0 stops fetching while the read-ahead queue is full and looked again only when its
// broker thread woke up, up to a second later: a reader faster than that got about one read-ahead
// (queued.max.messages.kbytes) per second. Poll wakes the fetcher once it has taken half of the bound,
// so 24 MiB through a 1 MiB read-ahead take well under the 20 s they took before, in order and whole.
TEST(KafkaClient, AReaderFasterThanTheReadAheadIsNotHeldToItPerSecond) {
  const std::string brokers = RequireEnv("KAFKA_BOOTSTRAP");
  const std::string topic = test::UniquePrefix() + "readahead";
  kafka::TopicSpec spec;
  spec.name = topic;
  spec.partitions = 1;
  kafka::EnsureTopics(brokers, {}, {spec});
  const int records = 6000;
  {
    kafka::Producer producer(brokers);
    std::size_t acked = 0;
    for (int i = 0; i < records; ++i) {
      const std::string value = std::to_string(i) + std::string(4096, 'r');
      ASSERT_TRUE(producer.Produce(topic, "k", value, {}, [&](const kafka::DeliveryReport& r) { acked += r.ok; }));
    }
    ASSERT_TRUE(producer.Flush(milliseconds(60000)));
    ASSERT_EQ(acked, static_cast<std::size_t>(records));
  }

  kafka::Consumer consumer(brokers, topic + "-group", {{"queued.max.messages.kbytes", "1024"}});
  consumer.Subscribe({topic});
  // Timed from the first record: the group join before it is not the subject.
  std::vector<kafka::Message> got;
  const auto deadline = std::chrono::steady_clock::now() + seconds(60);
  while (got.empty() && std::chrono::steady_clock::now() < deadline) got = consumer.Poll(100, milliseconds(200));
  const auto start = std::chrono::steady_clock::now();
  while (got.size() < static_cast<std::size_t>(records) && std::chrono::steady_clock::now() < deadline) {
    for (auto& m : consumer.Poll(500, milliseconds(200))) got.push_back(std::move(m));
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  consumer.Close();
  ASSERT_EQ(got.size(), static_cast<std::size_t>(records));
  for (int i = 0; i < records; ++i) ASSERT_EQ(got[i].offset, i);
  EXPECT_LT(elapsed, 8.0) << "24 MiB through a 1 MiB read-ahead";
}

// Topics created just before the subscription (as a consumer does when it starts first): the member
// must be assigned every partition of every topic. A metadata answer that lacked a topic when the
// group formed used to leave its partitions unassigned until a restart.
TEST(KafkaClient, AConsumerOfTopicsItJustCreatedIsAssignedEveryPartition) {
  const std::string brokers = RequireEnv("KAFKA_BOOTSTRAP");
  for (int round = 0; round < 20; ++round) {
    const std::string prefix = test::UniquePrefix() + "r" + std::to_string(round) + "-";
    std::vector<kafka::TopicSpec> specs;
    int expected = 0;
    for (const char* name : {"main", "deploys", "sigs"}) {
      kafka::TopicSpec spec;
      spec.name = prefix + name;
      spec.partitions = 3;
      specs.push_back(spec);
      expected += spec.partitions;
    }
    kafka::EnsureTopics(brokers, {}, specs);
    kafka::TopicSpec chain;
    chain.name = prefix + "chain";
    chain.partitions = 1;
    kafka::EnsureTopics(brokers, {}, {chain});
    expected += 1;

    std::vector<std::string> topics;
    for (const auto& s : specs) topics.push_back(s.name);
    topics.push_back(chain.name);
    kafka::Consumer consumer(brokers, prefix + "group");
    std::set<std::pair<std::string, std::int32_t>> assigned;
    kafka::RebalanceHooks hooks;
    hooks.on_assign = [&](const std::vector<kafka::TopicPartition>& tps) {
      for (const auto& tp : tps) assigned.insert({tp.topic, tp.partition});
      return kafka::StartOffsets{};
    };
    hooks.on_revoke = [&](const std::vector<kafka::TopicPartition>& tps) {
      for (const auto& tp : tps) assigned.erase({tp.topic, tp.partition});
    };
    consumer.Subscribe(topics, hooks);
    const auto deadline = std::chrono::steady_clock::now() + seconds(15);
    while (static_cast<int>(assigned.size()) < expected && std::chrono::steady_clock::now() < deadline) {
      consumer.Poll(100, milliseconds(200));
    }
    const int got = static_cast<int>(assigned.size());
    consumer.Close();
    ASSERT_EQ(got, expected) << "round " << round;
  }
}

// What a lag is computed from: the high watermark of each partition, and the offsets a group committed
// (a partition where it committed nothing is missing), both asked from outside the group.
TEST(KafkaClient, HighWatermarksAndAGroupsCommittedOffsetsCanBeAsked) {
  const std::string brokers = RequireEnv("KAFKA_BOOTSTRAP");
  kafka::TopicSpec spec;
  spec.name = test::UniquePrefix() + "lag";
  spec.partitions = 2;
  kafka::EnsureTopics(brokers, {}, {spec});
  {
    kafka::Producer producer(brokers);
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(producer.Produce(spec.name, "key-" + std::to_string(i), "value", {}, [](const kafka::DeliveryReport&) {}));
    }
    ASSERT_TRUE(producer.Flush(milliseconds(30000)));
  }
  const std::vector<kafka::TopicPartition> partitions = {{spec.name, 0}, {spec.name, 1}};
  const auto ends = kafka::HighWatermarks(brokers, {}, partitions);
  ASSERT_EQ(ends.size(), 2u);
  EXPECT_EQ(ends.at(partitions[0]) + ends.at(partitions[1]), 20);

  const std::string group = spec.name + "-group";
  EXPECT_TRUE(kafka::CommittedOffsets(brokers, {}, group, partitions).empty());
  kafka::Consumer consumer(brokers, group);
  consumer.Subscribe({spec.name});
  std::map<kafka::TopicPartition, std::int64_t> next;
  const auto deadline = std::chrono::steady_clock::now() + seconds(30);
  while (next.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    for (const auto& m : consumer.Poll(100, milliseconds(200))) next[{m.topic, m.partition}] = m.offset + 1;
  }
  ASSERT_EQ(next.size(), 2u) << "both partitions get records";
  std::string error;
  ASSERT_TRUE(consumer.Commit({{partitions[1], next.at(partitions[1])}}, error)) << error;
  consumer.Close();
  const auto committed = kafka::CommittedOffsets(brokers, {}, group, partitions);
  ASSERT_EQ(committed.size(), 1u) << "nothing committed on partition 0";
  EXPECT_EQ(committed.at(partitions[1]), next.at(partitions[1]));
}

}  // namespace
}  // namespace ces
