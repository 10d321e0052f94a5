// The chain sequence end to end, with real processes on the stack's Kafka and MongoDB: two fake nodes
// (`emit`) serve the same recording, one `produce` each, `chain`, `audit-consume` and two `api`
// replicas. The api replica and the chain stage restart while the nodes publish. /events must give every distinct event exactly once, byte for byte, with strictly
// increasing chain ids: to a live client connected before any node topic existed, to start_from=0
// clients of both replicas (one of them restarted), and to a client that resumes after the restart.
// The 1.x paths without a source are that sequence filtered by route, in 1.x form, live and replayed.

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ces/casper/event.hpp"
#include "ces/legacy/translate.hpp"
#include "chain_itest_support.hpp"

namespace ces::test {
namespace {

using namespace std::chrono_literals;

using Frame = SseFrame;
using Reader = SseReader;

// (id, data) of the events.
std::vector<std::pair<std::string, std::string>> Events(const std::vector<Frame>& frames) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Frame& f : frames) {
    if (f.id) out.emplace_back(*f.id, f.data);
  }
  return out;
}

using EventList = std::vector<std::pair<std::string, std::string>>;

// The same (id, payload) sequence; on a difference, where.
void ExpectSameEvents(const EventList& got, const EventList& want, const std::string& what) {
  EXPECT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    if (got[i] != want[i]) {
      ADD_FAILURE() << what << ": event " << i << " is id " << got[i].first << ", expected id " << want[i].first;
      return;
    }
  }
}

class Service {
 public:
  Service(const std::string& dir, const std::string& name, std::vector<std::string> args)
      : name_(name), args_(std::move(args)), log_(dir + "/" + name) {
    Start();
  }
  void Start() { process_ = std::make_unique<Process>(args_, log_ + "-" + std::to_string(++starts_) + ".log"); }
  void Restart() {
    process_->Signal(SIGTERM);
    EXPECT_EQ(process_->Wait(20s), 0) << name_ << ":\n" << process_->Log();
    Start();
  }
  Process& process() { return *process_; }

 private:
  std::string name_;
  std::vector<std::string> args_;
  std::string log_;
  int starts_ = 0;
  std::unique_ptr<Process> process_;
};

// The chain events a 1.x path serves: those the node sends on `route`, in their 1.x form, same ids.
EventList LegacyView(const EventList& chain_events, std::string_view route) {
  EventList out;
  for (const auto& [id, data] : chain_events) {
    if (casper::StreamName(casper::RouteByType(TypeOf(data))) != route) continue;
    legacy::Translation t = legacy::ToLegacy(data);
    if (t.outcome == legacy::Outcome::kDropped) continue;
    out.emplace_back(id, t.outcome == legacy::Outcome::kTranslated ? t.payload : data);
  }
  return out;
}

bool Healthy(std::uint16_t port) { return HttpGet("http://127.0.0.1:" + std::to_string(port) + "/healthz").first == 200; }

TEST(ChainItest, OneSequenceForTwoNodesLiveReplayRestartAndReplicas) {
  const std::string brokers = RequireEnv("KAFKA_BOOTSTRAP");
  const std::string dir = TempDir();
  const std::string prefix = UniquePrefix();
  const std::string mongo = MongoDatabaseUri("chain_" + prefix.substr(0, prefix.size() - 1));
  const std::string stream = dir + "/nodes.stream";
  {
    Process generate({"generate", "--out", stream, "--events", "240", "--recordings", RecordingsDir()},
                     dir + "/generate.log");
    ASSERT_EQ(generate.Wait(60s), 0) << generate.Log();
  }
  const ChainEvents expected = ExpectedChain(stream);
  const std::size_t n = expected.payloads.size();
  ASSERT_GT(n, 200u);

  // The api first: no node topic exists yet, and a live client connects at once.
  const std::uint16_t api1_port = FreePort();
  const std::uint16_t api2_port = FreePort();
  auto api_args = [&](std::uint16_t port) {
    return std::vector<std::string>{"api",          "--listen", "127.0.0.1:" + std::to_string(port), "--kafka", brokers,
                                    "--topic-prefix", prefix,   "--mongo", mongo, "--keepalive", "1"};
  };
  Service api1(dir, "api1", api_args(api1_port));
  ASSERT_TRUE(WaitUntil([&] { return Healthy(api1_port); }, 30s)) << api1.process().Log();
  auto api1_url = [&] { return "http://127.0.0.1:" + std::to_string(api1_port); };
  Reader live(api1_url() + "/events");
  Reader live_sigs(api1_url() + "/events/sigs");
  // And one of a node's own stream: its topics are created by produce later still.
  const std::vector<std::uint16_t> node_ports = {FreePort(), FreePort()};
  Reader live_node(api1_url() + "/events?source=" + UrlEncode("http://127.0.0.1:" + std::to_string(node_ports[0])));

  Service api2(dir, "api2", api_args(api2_port));
  Service chain(dir, "chain", {"chain", "--kafka", brokers, "--topic-prefix", prefix, "--listen", "127.0.0.1:0",
                               "--index", dir + "/chain.index"});
  Service audit(dir, "audit", {"audit-consume", "--kafka", brokers, "--topic-prefix", prefix, "--mongo", mongo,
                               "--listen", "127.0.0.1:0", "--batch-linger", "0.05"});
  std::vector<std::unique_ptr<Service>> nodes;
  std::vector<std::string> node_urls;
  for (const char* name : {"node-a", "node-b"}) {
    const std::uint16_t port = node_ports[node_urls.size()];
    node_urls.push_back("http://127.0.0.1:" + std::to_string(port));
    nodes.push_back(std::make_unique<Service>(
        dir, name, std::vector<std::string>{"emit", "--stream", stream, "--listen", "127.0.0.1:" + std::to_string(port),
                                            "--rate", "25", "--keepalive", "1"}));
    nodes.push_back(std::make_unique<Service>(
        dir, std::string("produce-") + name,
        std::vector<std::string>{"produce", "--node", "http://127.0.0.1:" + std::to_string(port), "--kafka", brokers,
                                 "--topic-prefix", prefix, "--listen", "127.0.0.1:0", "--partitions", "1"}));
  }

  // A client of the replica reads part of the chain, the replica restarts, the client resumes after
  // its last id.
  ASSERT_TRUE(WaitUntil([&] { return Healthy(api2_port); }, 30s)) << api2.process().Log();
  const std::string api2_url = "http://127.0.0.1:" + std::to_string(api2_port);
  const std::vector<Frame> first_part = ReadEvents(api2_url + "/events", 60, 60s);
  const auto first_events = Events(first_part);
  ASSERT_EQ(first_events.size(), 60u) << api2.process().Log();
  api2.Restart();
  chain.Restart();  // while the nodes publish: the index written at exit, the rest read from the chain topic
  EXPECT_NE(ReadFile(dir + "/chain.index").size(), 0u);
  ASSERT_TRUE(WaitUntil([&] { return Healthy(api2_port); }, 30s)) << api2.process().Log();
  const std::string resume_from = std::to_string(std::stoll(first_events.back().first) + 1);
  const std::vector<Frame> second_part = ReadEvents(api2_url + "/events?start_from=" + resume_from, n - 60, 60s);

  ASSERT_TRUE(WaitUntil([&] { return live.collector().Events() >= n; }, 60s))
      << "live client got " << live.collector().Events() << " of " << n << "\n"
      << chain.process().Log();
  std::this_thread::sleep_for(1s);  // nothing more may come
  live.Stop();
  const std::vector<Frame> live_frames = live.collector().Frames();

  // The live client: the ApiVersion first, then every distinct event once.
  ASSERT_FALSE(live_frames.empty());
  EXPECT_FALSE(live_frames.front().id) << "the ApiVersion frame comes first";
  const auto live_keys = CheckChainFrames(live_frames, expected, "live");
  EXPECT_EQ(live_keys.size(), n);
  EXPECT_EQ(std::set<std::string>(live_keys.begin(), live_keys.end()).size(), n);
  const auto live_events = Events(live_frames);

  // Resumed across the restart: nothing missed, nothing twice, the same ids.
  EXPECT_FALSE(second_part.empty() || second_part.front().id) << "the ApiVersion frame comes first";
  auto resumed = first_events;
  for (auto& e : Events(second_part)) resumed.push_back(std::move(e));
  CheckChainFrames(second_part, expected, "resumed");
  ExpectSameEvents(resumed, live_events, "resumed after the restart");

  // start_from=0 on both replicas (api2 restarted): the same sequence.
  for (std::uint16_t port : {api1_port, api2_port}) {
    const auto replay = ReadEvents("http://127.0.0.1:" + std::to_string(port) + "/events?start_from=0", n, 30s);
    EXPECT_FALSE(replay.empty() || replay.front().id) << "the ApiVersion frame comes first";
    CheckChainFrames(replay, expected, "start_from=0 on " + std::to_string(port));
    ExpectSameEvents(Events(replay), live_events, "start_from=0 on port " + std::to_string(port));
  }

  // The 1.x paths: the same sequence by route, in 1.x form, with chain ids; live and from start_from=0.
  live_sigs.Stop();
  EXPECT_EQ(Events(live_sigs.collector().Frames()), LegacyView(live_events, "sigs")) << "live /events/sigs";
  for (std::string_view route : {"main", "deploys", "sigs"}) {
    const EventList want = LegacyView(live_events, route);
    ASSERT_FALSE(want.empty()) << route;
    const auto replay =
        Events(ReadEvents(api2_url + "/events/" + std::string(route) + "?start_from=0", want.size(), 30s));
    EXPECT_EQ(replay, want) << "/events/" << route << "?start_from=0";
    // Resumed after an event: the rest of that route only.
    const std::string from = std::to_string(std::stoll(want[want.size() / 2].first) + 1);
    const auto rest = Events(ReadEvents(api2_url + "/events/" + std::string(route) + "?start_from=" + from,
                                        want.size() - want.size() / 2 - 1, 30s));
    EXPECT_EQ(rest, EventList(want.begin() + static_cast<long>(want.size() / 2) + 1, want.end()))
        << "/events/" << route << "?start_from=" << from;
  }

  // The node streams stay available per source, with the node's own ids: live, to a client connected
  // before the node topics existed, every event of the node byte for byte.
  std::vector<RecordedEvent> recorded;
  for (auto& e : ReadRecording(stream)) {
    if (e.id) recorded.push_back(std::move(e));
  }
  const std::size_t node_events = recorded.size();
  ASSERT_TRUE(WaitUntil([&] { return live_node.collector().Events() >= node_events; }, 30s))
      << "live node client got " << live_node.collector().Events() << " of " << node_events;
  live_node.Stop();
  auto node_live = Events(live_node.collector().Frames());
  ASSERT_EQ(node_live.size(), node_events);
  // The node's events travel through three topics (main, deploys, sigs), and a live reader of several
  // partitions gets them in the order they are fetched, not in node id order: compare in id order.
  std::stable_sort(node_live.begin(), node_live.end(),
                   [](const auto& a, const auto& b) { return std::stoull(a.first) < std::stoull(b.first); });
  for (std::size_t i = 0; i < node_events; ++i) {
    ASSERT_EQ(node_live[i], std::make_pair(std::to_string(*recorded[i].id), recorded[i].data)) << "node event " << i;
  }
  // (audit-consume may still be storing the node topics: a chain joins the replay once it has links)
  EventList raw_events;
  WaitUntil(
      [&] {
        raw_events = Events(ReadEvents(api1_url() + "/events?source=" + UrlEncode(node_urls[0]) + "&start_from=0",
                                       node_events, 5s));
        return raw_events.size() == node_events && raw_events.front().first == "0";
      },
      30s);
  ASSERT_EQ(raw_events.size(), node_events);
  EXPECT_EQ(raw_events.front().first, "0");
  EXPECT_EQ(raw_events.back().first, std::to_string(node_events - 1));
}

}  // namespace
}  // namespace ces::test
