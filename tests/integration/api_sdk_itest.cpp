// The official JavaScript SDK (npm casper-js-sdk, tests/sdk/sse_check.js) against a fake node (emit) and
// against the api fed by the real pipeline (emit -> produce -> Kafka -> audit-consume -> api): the same
// events, ids and SDK parse results on /events, on the 1.x streams of a 1.x node, and no SDK parse
// failure on the 1.x form of a 2.x node's events.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "ces/legacy/translate.hpp"
#include "store_itest_support.hpp"

namespace ces::test {
namespace {

using nlohmann::json;

// Runs tests/sdk/sse_check.js; its JSON lines, or a failure with its output.
std::vector<json> SdkEvents(const std::string& url, std::size_t count, const std::string& log_path) {
  const std::string command = "node '" + SourceDir() + "/tests/sdk/sse_check.js' '" + url + "' " +
                              std::to_string(count) + " 0 2>'" + log_path + "'";
  FILE* pipe = popen(command.c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  std::string out;
  char buffer[65536];
  std::size_t n;
  while (pipe && (n = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  const int status = pipe ? pclose(pipe) : -1;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << url << "\n" << ReadFile(log_path).substr(0, 2000);
  std::vector<json> events;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) events.push_back(json::parse(line));
  return events;
}

// The events of a recording the SDK delivers: the ApiVersion and every object payload ("Shutdown" is a
// bare string, which the SDK's dispatcher does not match to a type).
std::size_t Delivered(const std::string& recording) {
  std::size_t n = 1;
  for (const auto& e : ReadRecording(recording)) n += e.id && !e.data.empty() && e.data.front() == '{';
  return n;
}

class ApiSdk : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string version;
    ASSERT_EQ(std::system("node --version >/dev/null 2>&1"), 0) << "node is missing (scripts/setup.sh installs it)";
    dir_ = new std::string(TempDir());
    prefix_ = new std::string(UniquePrefix());
    pipeline_ = new RecordingsPipeline(StartRecordingsPipeline(*dir_, *prefix_));
    ASSERT_FALSE(HasFailure());
    std::string db = "sdk_" + *prefix_;
    while (db.back() == '-') db.pop_back();
    audit_ = new Service(StartAuditConsumer(*dir_, *prefix_, db));
    api_ = new Service;
    api_->port = FreePort();
    api_->process = std::make_unique<Process>(
        std::vector<std::string>{"api", "--events", "node", "--listen", "127.0.0.1:" + std::to_string(api_->port), "--mongo",
                                 MongoDatabaseUri(db), "--topic-prefix", *prefix_},
        *dir_ + "/api.log");
    ASSERT_TRUE(WaitUntil([] { return HttpGet(api_->url() + "/readyz").first == 200; }, seconds(60)))
        << api_->process->Log();
    // The audit store has both recordings once the last event of each node is stored.
    const auto stored = [](const std::string& source, const std::string& stream, std::uint32_t id) {
      return HttpGet(api_->url() + "/api/v1/events/" + UrlEncode(source) + "/" + stream + "/" + std::to_string(id))
                 .first == 200;
    };
    const auto last = [](const std::string& file) { return *ReadRecording(file).back().id; };
    const std::string v1 = RecordingsDir() + "/v1/";
    ASSERT_TRUE(WaitUntil(
        [&] {
          return stored(pipeline_->emit2.url(), "events", last(RecordingsDir() + "/v2/events.stream")) &&
                 stored(pipeline_->emit1.url(), "main", last(v1 + "main.stream")) &&
                 stored(pipeline_->emit1.url(), "deploys", last(v1 + "deploys.stream")) &&
                 stored(pipeline_->emit1.url(), "sigs", last(v1 + "sigs.stream"));
        },
        seconds(60)))
        << audit_->process->Log();
  }

  static void TearDownTestSuite() {
    delete api_;
    delete audit_;
    delete pipeline_;
  }

  static std::string Ours(const std::string& path, const std::string& source) {
    return api_->url() + path + "?source=" + UrlEncode(source);
  }

  static inline std::string* dir_ = nullptr;
  static inline std::string* prefix_ = nullptr;
  static inline RecordingsPipeline* pipeline_ = nullptr;
  static inline Service* audit_ = nullptr;
  static inline Service* api_ = nullptr;
};

void ExpectNoParseFailure(const std::vector<json>& events, const std::string& what) {
  for (const auto& e : events) {
    EXPECT_FALSE(e.at("parsed").is_object() && e.at("parsed").contains("error"))
        << what << " id " << e.at("id") << ": " << e.at("parsed").dump() << "\n" << e.at("data").get<std::string>().substr(0, 300);
  }
}

TEST_F(ApiSdk, EventsAsTheNodeGivesThem) {
  const std::size_t count = Delivered(RecordingsDir() + "/v2/events.stream");
  const auto node = SdkEvents(pipeline_->emit2.url() + "/events", count, *dir_ + "/sdk-node.log");
  const auto ours = SdkEvents(Ours("/events", pipeline_->emit2.url()), count, *dir_ + "/sdk-ours.log");
  ASSERT_EQ(node.size(), count);
  ASSERT_EQ(ours.size(), count);
  for (std::size_t i = 0; i < count; ++i) EXPECT_EQ(ours[i], node[i]) << i;  // name, id, bytes, parse result
  ExpectNoParseFailure(ours, "/events");
  std::cout << "[ figure   ] " << count << " events, the same SDK parse results from the node and from /events\n";
}

TEST_F(ApiSdk, OneXStreamsOfAOneXNodeAsTheNodeGivesThem) {
  for (const char* stream : {"main", "deploys", "sigs"}) {
    const std::string recording = RecordingsDir() + "/v1/" + stream + ".stream";
    const std::size_t count = Delivered(recording);
    const std::string path = std::string("/events/") + stream;
    const auto node = SdkEvents(pipeline_->emit1.url() + path, count, *dir_ + "/sdk-node-" + stream + ".log");
    const auto ours = SdkEvents(Ours(path, pipeline_->emit1.url()), count, *dir_ + "/sdk-ours-" + stream + ".log");
    ASSERT_EQ(node.size(), count) << stream;
    ASSERT_EQ(ours.size(), count) << stream;
    for (std::size_t i = 0; i < count; ++i) EXPECT_EQ(ours[i], node[i]) << stream << " " << i;
    ExpectNoParseFailure(ours, path);
  }
}

TEST_F(ApiSdk, OneXFormOfATwoXNodeParsesWithTheSdk) {
  // What the legacy streams carry of the 2.x recording: each event's 1.x form, where it has one.
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> expected;  // route -> (id, payload)
  for (const auto& e : ReadRecording(RecordingsDir() + "/v2/events.stream")) {
    if (!e.id || e.data.empty() || e.data.front() != '{') continue;
    const legacy::Translation t = legacy::ToLegacy(e.data);
    if (t.outcome == legacy::Outcome::kDropped) continue;
    const std::string payload = t.outcome == legacy::Outcome::kTranslated ? t.payload : e.data;
    const std::string type = payload.substr(2, payload.find('"', 2) - 2);
    const std::string route = type == "DeployAccepted" ? "deploys" : type == "FinalitySignature" ? "sigs" : "main";
    expected[route].emplace_back(std::to_string(*e.id), payload);
  }
  std::size_t total = 0;
  for (const auto& [route, events] : expected) {
    const auto ours = SdkEvents(Ours("/events/" + route, pipeline_->emit2.url()), events.size() + 1,
                                *dir_ + "/sdk-legacy-" + route + ".log");
    ASSERT_EQ(ours.size(), events.size() + 1) << route;
    EXPECT_EQ(ours[0].at("name"), "ApiVersion");
    for (std::size_t i = 0; i < events.size(); ++i) {
      EXPECT_EQ(ours[i + 1].at("id"), events[i].first) << route;
      EXPECT_EQ(ours[i + 1].at("data"), events[i].second) << route;
    }
    ExpectNoParseFailure(ours, "/events/" + route);
    total += events.size();
  }
  std::cout << "[ figure   ] " << total << " events of the 2.x node in their 1.x form, parsed by the SDK\n";
}

}  // namespace
}  // namespace ces::test
