// The resilience suite on the --ha stack (ZooKeeper x3, Kafka x3, PostgreSQL primary + 2 replicas,
// FerretDB). Each scenario runs the whole pipeline on topics and databases of its own: two fake nodes
// (`emit`) serving the same synthetic chain at a steady rate, `produce` reading both, `chain`,
// `audit-consume`, `store-consume` and `api`, with a live /events client connected before the first
// event. Faults are injected by PID at seeded random moments of the load. Afterwards:
// - the PostgreSQL tables equal those of a clean run of the same chain (table digests), so every
//   expected row is there exactly once with the same values;
// - the audit store holds every event of both nodes exactly once (replay log and `events`);
// - the live /events client saw every distinct event of the chain exactly once, in id order.
// Scenario 5 stops both nodes' streams past their replay buffer and runs `backfill --gaps` per node: the
// events the streams skipped are in the audit store as documents rebuilt from the node's JSON-RPC
// (origin rpc) instead of with their ids, each once.
// In scenarios 1 and 6, REST clients read the api meanwhile (scenario 8: only right blocks or 503 JSON
// errors). Each fault's recovery time is measured, and a summary table is printed at the end. Scenario 6
// (PostgreSQL failover) runs last and makes postgres-1 the primary again (scripts/stack failback).
//
// Environment: CES_RESILIENCE=quick (the default, what ctest runs: fewer events, one round of each
// fault) or full (make resilience); CES_RESILIENCE_SEED replays a run (printed at the start);
// CES_RESILIENCE_REPORT: a file to write the summary to (Markdown). Scenario 11, the soak, runs at the
// end (Soak.*, see there): CES_SOAK_MINUTES for a long one (make soak), CES_SOAK_REPORT for its report.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "audit_itest_support.hpp"
#include "backfill_itest_support.hpp"
#include "ces/audit/record.hpp"
#include "ces/sse/client.hpp"
#include "chain_itest_support.hpp"

namespace ces::test {
namespace {

using Clock = std::chrono::steady_clock;

struct Mode {
  std::string name;
  std::uint64_t events = 0;  // per scenario; each node serves all of them
  int rate = 0;              // events per second of each node
  int rounds = 0;            // faults of each kind per scenario
  int broker_rounds = 0;     // broker faults (ZooKeeper: follower and leader) per scenario, each waits for a restart
  seconds outage{0};         // how long a killed broker, ZooKeeper server or FerretDB stays down
  seconds pause{0};          // how long a broker stays stopped (SIGSTOP), past its 6 s ZooKeeper session
  bool replica_lag = false;  // the PostgreSQL replicas receive no WAL for 1-3 s before the primary is killed
};

const Mode& CurrentMode() {
  static const Mode mode = [] {
    const char* name = std::getenv("CES_RESILIENCE");
    if (name && std::string(name) == "full") return Mode{"full", 40000, 200, 10, 3, seconds(30), seconds(20), true};
    return Mode{"quick", 3000, 200, 1, 1, seconds(5), seconds(10), false};
  }();
  return mode;
}

std::uint64_t Seed() {
  static const std::uint64_t seed = [] {
    const char* text = std::getenv("CES_RESILIENCE_SEED");
    return text && *text ? std::stoull(text) : std::uint64_t{std::random_device{}()};
  }();
  return seed;
}

// One row of the summary.
struct Outcome {
  explicit Outcome(std::string name) : scenario(std::move(name)) {}
  std::string scenario;
  std::uint64_t events = 0;  // events the two nodes published
  int faults = 0;
  long lost = 0;        // expected rows, audit documents and /events frames missing
  long duplicated = 0;  // ... present more than once
  std::vector<double> recovery;  // seconds, one per fault
};

std::vector<Outcome>& Outcomes() {
  static std::vector<Outcome> outcomes;
  return outcomes;
}

std::string Fixed(double value, int digits) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << value;
  return out.str();
}

std::string SummaryRow(Outcome o) {
  std::sort(o.recovery.begin(), o.recovery.end());
  const bool measured = !o.recovery.empty();
  std::ostringstream out;
  out << "| " << o.scenario << " | " << o.events << " | " << o.faults << " | " << o.lost << " | " << o.duplicated
      << " | " << (measured ? Fixed(o.recovery[(o.recovery.size() - 1) / 2], 1) : "-") << " | "
      << (measured ? Fixed(o.recovery.back(), 1) : "-") << " |\n";
  return out.str();
}

std::string SummaryTable() {
  std::string out = "| scenario | events | faults injected | lost | duplicated | recovery p50 (s) | recovery max (s) |\n"
                    "|---|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& o : Outcomes()) out += SummaryRow(o);
  return out;
}

// Adds a scenario's row to the summary, and prints it at once.
void Record(const Outcome& outcome) {
  Outcomes().push_back(outcome);
  std::cout << "resilience: " << SummaryRow(outcome) << std::flush;
}

// Prints the summary after the last scenario and writes it to CES_RESILIENCE_REPORT.
class Summary : public ::testing::Environment {
 public:
  void TearDown() override {
    if (Outcomes().empty()) return;
    const Mode& mode = CurrentMode();
    std::ostringstream text;
    text << "mode " << mode.name << ", seed " << Seed() << ": " << mode.events << " events per node at " << mode.rate
         << " events/s per node, per scenario\n\n"
         << SummaryTable();
    std::cout << "\n" << text.str() << std::flush;
    const char* report = std::getenv("CES_RESILIENCE_REPORT");
    if (!report || !*report) return;
    const std::time_t now = std::time(nullptr);
    char date[32];
    std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
    // The run goes below the marker of the results file, newest first, so that the file's other
    // sections (scenario 5, the soak, the known failures) stay.
    const std::string run = "### `make resilience SEED=" + std::to_string(Seed()) +
                            (mode.name == "full" ? "" : " MODE=" + mode.name) + "`, " + date + "\n\n" + text.str() + "\n";
    const std::string marker = "<!-- make resilience adds its runs below, newest first -->\n";
    std::string file = std::filesystem::exists(report) ? ReadFile(report) : "# Resilience suite: results\n\n" + marker;
    auto at = file.find(marker);
    if (at == std::string::npos) {
      file += "\n" + marker;
      at = file.find(marker);
    }
    file.insert(at + marker.size(), "\n" + run);
    WriteFile(report, file);
  }
};
[[maybe_unused]] const auto* const kSummary = ::testing::AddGlobalTestEnvironment(new Summary);

// The chain every scenario serves, and its clean run.
struct Chain {
  std::uint64_t events = 0;                       // generated (0: the mode's); each node serves all
  std::string dir;
  std::string stream;
  ChainEvents expected;                           // the distinct events, by identity
  std::vector<std::uint32_t> ids;                 // the node event ids
  std::map<std::string, std::string> clean;       // table digests of a clean run
  std::map<std::string, long> clean_rows;         // its row counts
};

// Row count of a Digest ("count:md5").
long Rows(const std::string& digest) { return std::stol(digest.substr(0, digest.find(':'))); }

// A fresh --ha stack lists its three brokers before its controller counts them all (topics with three
// replicas are refused meanwhile): true once such a topic can be created.
bool AllBrokersAvailable() {
  try {
    kafka::EnsureTopics(RequireEnv("KAFKA_BOOTSTRAP"), {}, {{UniquePrefix() + "probe", 1, 3, {}}}, seconds(10));
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

// Generates `chain` (chain.events events, seeded; `generate_flags`: extra flags of generate) and its clean
// run (databases named after `tag`).
void BuildChain(Chain& chain, const std::vector<std::string>& generate_flags, const std::string& tag) {
  if (chain.events == 0) chain.events = CurrentMode().events;
  chain.dir = TempDir();
  chain.stream = chain.dir + "/chain.stream";
  std::vector<std::string> args = {"generate", "--recordings", RecordingsDir(), "--out", chain.stream, "--events",
                                   std::to_string(chain.events), "--seed", std::to_string(Seed() % 1000000 + 1)};
  args.insert(args.end(), generate_flags.begin(), generate_flags.end());
  Process gen(args, chain.dir + "/generate.log");
  ASSERT_EQ(gen.Wait(seconds(300)), 0) << gen.Log();
  chain.expected = ExpectedChain(chain.stream);
  for (const auto& e : ReadRecording(chain.stream)) {
    if (e.id) chain.ids.push_back(*e.id);
  }
  postgres::Connection db(StreamedDatabase(chain.dir, {chain.stream}, tag));
  chain.clean = Digests(db);
  for (const auto& [table, digest] : chain.clean) chain.clean_rows[table] = Rows(digest);
  ASSERT_GT(chain.clean_rows["blocks"], 0);
}

class Resilience : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const Mode& mode = CurrentMode();
    std::cout << "resilience: mode " << mode.name << ", seed " << Seed() << " (replay: CES_RESILIENCE=" << mode.name
              << " CES_RESILIENCE_SEED=" << Seed() << ")" << std::endl;
    ASSERT_TRUE(WaitUntil(AllBrokersAvailable, seconds(90))) << "the controller does not count three brokers";
    chain_ = new Chain;
    BuildChain(*chain_, {}, "res");
  }
  static void TearDownTestSuite() {
    delete chain_;
    chain_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(chain_, nullptr); }

  static Chain* chain_;
};
Chain* Resilience::chain_ = nullptr;

// Seconds from `since` until `done` holds (polled every 50 ms); fails the test after `timeout`.
// `detail` (optional) adds the state seen at the timeout to the failure message.
double SecondsUntil(Clock::time_point since, const std::function<bool()>& done, const std::string& what,
                    seconds timeout = seconds(120), const std::function<std::string()>& detail = {}) {
  if (!WaitUntil(done, timeout)) {
    ADD_FAILURE() << "no recovery within " << timeout.count() << " s: " << what << (detail ? "; " + detail() : "");
  }
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// A killed member of a consumer group holds its partitions until its session times out: 6 s.
const std::vector<std::string> kShortSession = {"--kafka-setting", "session.timeout.ms=6000"};

// How a pipeline's fake nodes serve the chain and how produce reads them (scenario 5).
struct NodeOptions {
  std::uint64_t buffer = 0;                 // the nodes' replay buffer, events (0: the whole chain)
  bool rpc = false;                         // the nodes' JSON-RPC (emit --rpc), for backfill
  std::vector<std::string> produce_flags;  // further flags of produce
};

// One pipeline on topics, databases and ports of its own.
class Pipeline {
 public:
  // `rate`: events per second of each node (the mode's unless given).
  Pipeline(const Chain& chain, const std::string& name, int rate = CurrentMode().rate, NodeOptions nodes = {})
      : chain_(chain), name_(name), dir_(TempDir()), prefix_(UniquePrefix() + name + "-"), rate_(rate),
        node_options_(std::move(nodes)) {
    mongo_ = "res_" + prefix_.substr(0, prefix_.size() - 1);
    uri_ = CreateDatabase(name);
    // The event topics exist before the consumers subscribe, as in a deployment (an audit-consume that
    // created them itself and subscribed at once was seen assigned 7 of their 10 partitions, for good:
    // report). The api creates the chain topic and its /events hub subscribes at once (known failure 2).
    kafka::EnsureEventTopics(RequireEnv("KAFKA_BOOTSTRAP"), {}, prefix_);
    StartApi();
    live_ = std::make_unique<SseReader>(api_.url() + "/events");
    chain_stage_.port = FreePort();
    chain_stage_.process = std::make_unique<Process>(
        std::vector<std::string>{"chain", "--kafka", RequireEnv("KAFKA_BOOTSTRAP"), "--topic-prefix", prefix_,
                                 "--listen", "127.0.0.1:" + std::to_string(chain_stage_.port), "--index",
                                 dir_ + "/chain.index"},
        dir_ + "/chain.log");
    EXPECT_TRUE(WaitUntil([&] { return HttpGet(chain_stage_.url() + "/readyz").first == 200; }, seconds(30)))
        << chain_stage_.process->Log();  // its topic created
    StartAudit();
    StartStoreConsume();
    const std::uint64_t buffer = node_options_.buffer ? node_options_.buffer : chain_.events + 1;
    for (const char* node : {"node-a", "node-b"}) {
      std::vector<std::string> args = {"--stream", chain_.stream, "--rate", std::to_string(rate_), "--buffer",
                                       std::to_string(buffer)};
      if (node_options_.rpc) args.push_back("--rpc");
      nodes_.push_back(StartEmit(dir_, node, args));
    }
    load_start_ = Clock::now();
    StartProduceNodes();
  }
  ~Pipeline() { live_->Stop(); }

  const std::string& prefix() const { return prefix_; }
  const std::string& dir() const { return dir_; }
  const std::string& mongo() const { return mongo_; }
  const std::string& uri() const { return uri_; }
  std::vector<Service>& nodes() { return nodes_; }
  Service& produce() { return produce_; }
  Service& store() { return store_; }
  Service& audit() { return audit_; }
  Service& api() { return api_; }
  SseReader& live() { return *live_; }
  Service& chain_stage() { return chain_stage_; }
  Clock::time_point load_start() const { return load_start_; }

  // How long the nodes publish.
  Clock::duration LoadDuration() const {
    return std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(static_cast<double>(chain_.events) / rate_));
  }
  // `count` seeded random moments within the load (15 % to 60 % of it, sorted), so that load goes on
  // after each fault.
  std::vector<Clock::time_point> FaultTimes(std::mt19937_64& rng, int count) const {
    std::uniform_real_distribution<double> at(0.15, 0.6);
    std::vector<Clock::time_point> out;
    for (int i = 0; i < count; ++i) {
      out.push_back(load_start_ +
                    std::chrono::duration_cast<Clock::duration>(LoadDuration() * at(rng)));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  void StartProduceNodes() {
    produce_ = StartProduce(dir_, prefix_, {nodes_[0].url(), nodes_[1].url()}, node_options_.produce_flags);
  }
  void StartStoreConsume() {
    std::vector<std::string> extra = kShortSession;
    extra.push_back("--group");
    extra.push_back(prefix_ + "store");
    store_ = StartStore(dir_, "store-consume", prefix_, uri_, extra);
  }
  void StartAudit() { audit_ = StartAuditConsumer(dir_, prefix_, mongo_, kShortSession); }
  void StartApi() {
    api_.port = api_.port ? api_.port : FreePort();
    api_.process = std::make_unique<Process>(
        std::vector<std::string>{"api", "--listen", "127.0.0.1:" + std::to_string(api_.port), "--kafka",
                                 RequireEnv("KAFKA_BOOTSTRAP"), "--topic-prefix", prefix_, "--mongo",
                                 MongoDatabaseUri(mongo_), "--postgres", uri_, "--keepalive", "1"},
        dir_ + "/api.log");
    EXPECT_TRUE(WaitUntil([&] { return HttpGet(api_.url() + "/healthz").first == 200; }, seconds(30)))
        << api_.process->Log();
  }

  // Records produce had acknowledged, store-consume applied and audit-consume handled (by the
  // current processes).
  struct Progress {
    double produced = 0;
    double stored = 0;
    double audited = 0;
  };
  Progress Now() {
    return {Metric(produce_.url(), "ces_produce_events_total"), Metric(store_.url(), "ces_store_consume_events_total"),
            Metric(audit_.url(), "ces_audit_consume_events_total")};
  }
  // True once each of the three moved a second of load (both nodes) past `from`.
  bool MovedOn(const Progress& from) {
    const double step = 2.0 * rate_;
    const Progress now = Now();
    return now.produced >= from.produced + step && now.stored >= from.stored + step &&
           now.audited >= from.audited + step;
  }
  // MovedOn, or (a fault near the end of the load) the whole load is through.
  bool MovedOnOrCaughtUp(const Progress& from) {
    if (MovedOn(from)) return true;
    // The full checks read whole tables and the replay log: at most every 2 s.
    const auto now = Clock::now();
    if (now <= load_start_ + LoadDuration() || now - last_caught_up_check_ < seconds(2)) return false;
    last_caught_up_check_ = now;
    return Stored() && Audited();
  }
  // For a failure message: how far each stage moved since `from`.
  std::string MovedSince(const Progress& from) {
    const Progress now = Now();
    std::ostringstream out;
    out << "since the fault: produced +" << now.produced - from.produced << ", stored +" << now.stored - from.stored
        << ", audited +" << now.audited - from.audited << " (each must move " << 2.0 * rate_ << ")";
    return out.str();
  }

  // A new live /events client that starts at chain id `from`.
  void ResumeLive(long long from) {
    live_ = std::make_unique<SseReader>(api_.url() + "/events?start_from=" + std::to_string(from));
  }

  // Waits until both nodes' events are in Kafka, in PostgreSQL, in the audit store and on /events
  // (`seen_before`: events an earlier live client got).
  void Drain(std::size_t seen_before = 0) {
    ASSERT_TRUE(WaitUntil([&] { return Delivered(); },
                          std::chrono::duration_cast<milliseconds>(LoadDuration() + seconds(180) -
                                                                   (Clock::now() - load_start_))))
        << produce_.process->Log();
    EXPECT_TRUE(WaitUntil([&] { return Stored(); }, seconds(180))) << store_.process->Log();
    EXPECT_TRUE(WaitUntil([&] { return Audited(); }, seconds(180))) << audit_.process->Log();
    const std::size_t n = chain_.expected.payloads.size();
    EXPECT_TRUE(WaitUntil([&] { return seen_before + live_->collector().Events() >= n; }, seconds(120)))
        << "the live /events client got " << seen_before + live_->collector().Events() << " of " << n;
    std::this_thread::sleep_for(seconds(1));  // nothing more may come
    live_->Stop();
  }

  // The whole load is in Kafka: produce's positions reached both nodes' last id.
  bool Delivered() { return Metric(produce_.url(), "ces_produce_position") >= 2.0 * chain_.ids.back(); }
  // ... and store-consume stored its positions at the topics' ends.
  bool Stored() {
    if (!Delivered()) return false;
    if (ends_.empty()) ends_ = EndOffsets(prefix_);
    postgres::Connection db(uri_);
    return CaughtUp(db, prefix_ + "store", ends_);
  }
  // ... and the audit store holds every event of both nodes (but those rebuilt instead) and of the chain
  // sequence.
  bool Audited() {
    if (!Delivered()) return false;
    auto audit_store = OpenStore(mongo_);
    return WithId(LogEntries(audit_store)) + rebuilt_.size() >= 2 * chain_.ids.size() + chain_.expected.payloads.size();
  }

  // Scenario 5: node events ("<node> events <id>") that the audit store cannot hold with their id, since
  // the node's stream skipped them (a recorded gap), and that backfill rebuilt from the node's RPC.
  void AcceptRebuilt(std::set<std::string> ids) { rebuilt_ = std::move(ids); }

  // Compares the stores with the clean run and the live client's frames with the chain; counts what
  // is missing or repeated into `outcome`.
  void Check(Outcome& outcome, const std::vector<SseFrame>& live_frames) {
    outcome.events = 2 * chain_.ids.size();
    postgres::Connection db(uri_);
    const auto digests = Digests(db);
    for (const auto& [table, digest] : digests) {
      const long rows = Rows(digest);
      const long want = chain_.clean_rows.at(table);
      outcome.lost += std::max(0L, want - rows);
      outcome.duplicated += std::max(0L, rows - want);
    }
    EXPECT_EQ(digests, chain_.clean) << "the tables differ from the clean run's";
    EXPECT_EQ(Count(db, "rejected_events"), 0);

    auto audit_store = OpenStore(mongo_);
    const auto entries = LogEntries(audit_store);
    ExpectUnique(entries);
    std::map<std::string, int> seen;
    for (const auto& e : entries) {
      if (e.event_id) ++seen[e.id];
    }
    // Every event of both nodes once ...
    for (const Service& node : nodes_) {
      for (std::uint32_t event_id : chain_.ids) {
        const std::string id = node.url() + " events " + std::to_string(event_id);
        auto it = seen.find(id);
        if (it == seen.end()) {
          outcome.lost += rebuilt_.count(id) == 0;
          continue;
        }
        outcome.duplicated += it->second - 1;
        seen.erase(it);
      }
    }
    // ... and the chain sequence: as many events as the chain has distinct ones (chain ids are not
    // contiguous: Kafka's transaction markers take offsets too).
    long chain_events = 0;
    for (auto it = seen.begin(); it != seen.end();) {
      if (it->first.rfind("chain chain ", 0) != 0) {
        ++it;
        continue;
      }
      chain_events += it->second;
      outcome.duplicated += it->second - 1;
      it = seen.erase(it);
    }
    const long chain_distinct = static_cast<long>(chain_.expected.payloads.size());
    outcome.lost += std::max(0L, chain_distinct - chain_events);
    outcome.duplicated += std::max(0L, chain_events - chain_distinct);
    EXPECT_TRUE(seen.empty()) << seen.size() << " unexpected events in the audit store, e.g. " << seen.begin()->first;
    auto documents = audit_store.CountEvents();
    ASSERT_TRUE(documents.ok()) << documents.status.message;
    EXPECT_EQ(documents.value, static_cast<std::int64_t>(entries.size())) << "audit documents outside the replay log";

    const auto keys = CheckChainFrames(live_frames, chain_.expected, name_ + ": /events");
    const std::set<std::string> distinct(keys.begin(), keys.end());
    outcome.lost += static_cast<long>(chain_.expected.payloads.size() - distinct.size());
    outcome.duplicated += static_cast<long>(keys.size() - distinct.size());
    EXPECT_EQ(outcome.lost, 0);
    EXPECT_EQ(outcome.duplicated, 0);
  }

  // `earlier`: the frames of live clients before the current one (see KillApiAndResumeLive).
  void Finish(Outcome& outcome, std::vector<SseFrame> earlier = {}) {
    Drain(static_cast<std::size_t>(std::count_if(earlier.begin(), earlier.end(), [](const SseFrame& f) { return f.id; })));
    for (auto& f : live_->collector().Frames()) earlier.push_back(std::move(f));
    Check(outcome, earlier);
    Record(outcome);
  }

  // SIGKILLs the api and restarts it; the live client's frames go to `frames`, and a new client resumes
  // with start_from=<the last id + 1>, which is returned.
  long long KillApiAndResumeLive(std::vector<SseFrame>& frames) {
    api_.process->Kill9();
    live_->Stop();
    for (auto& f : live_->collector().Frames()) frames.push_back(std::move(f));
    long long last = -1;
    for (const auto& f : frames) {
      if (f.id) last = std::stoll(*f.id);
    }
    StartApi();
    ResumeLive(last + 1);
    return last + 1;
  }

 private:
  const Chain& chain_;
  std::string name_;
  std::string dir_;
  std::string prefix_;
  int rate_;
  NodeOptions node_options_;
  std::string mongo_;
  std::string uri_;
  std::vector<Service> nodes_;
  Service produce_;
  Service store_;
  Service audit_;
  Service api_;
  Service chain_stage_;
  std::unique_ptr<SseReader> live_;
  Clock::time_point load_start_;
  Clock::time_point last_caught_up_check_{};
  std::map<std::pair<std::string, int>, long long> ends_;  // of the topics, once the load is in Kafka
  std::set<std::string> rebuilt_;                          // see AcceptRebuilt
};

// Scenario 8: REST clients reading a pipeline's api (/api/v1/blocks and /api/v1/blocks/{hash} of blocks
// listed before) while another scenario's faults run. Every answer must be a 200 with blocks of the chain
// or a 503 JSON error ({"code": 503, "message": ...}). The blocks are compared at the end with the api's
// answers on the complete store, whose tables equal the clean run's (Pipeline::Check).
class ApiReads {
 public:
  ApiReads(std::string api_url, int clients) : url_(std::move(api_url)) {
    for (int c = 0; c < clients; ++c) {
      threads_.emplace_back([this, c] { Client(Seed() + 1000 + static_cast<std::uint64_t>(c)); });
    }
  }
  ~ApiReads() { Stop(); }

  void Fault(Clock::time_point at) { faults_.push_back(at); }
  void Stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  // Stops the clients and checks their answers: `outcome` gets the answers that were neither correct
  // blocks nor a 503 JSON error as `lost`, and per fault the seconds until the first 200 after the last
  // other answer (0 when every answer was a 200).
  void Check(Outcome& outcome, const std::string& api_url) {
    Stop();
    std::map<std::string, nlohmann::json> final_blocks;
    for (int page = 1;; ++page) {
      const auto [status, body] =
          HttpGet(api_url + "/api/v1/blocks?size=1000&page=" + std::to_string(page));
      ASSERT_EQ(status, 200) << body;
      const auto list = nlohmann::json::parse(body);
      if (list["data"].empty()) break;
      for (const auto& block : list["data"]) final_blocks[block["blockHash"].get<std::string>()] = block;
    }
    std::lock_guard lock(mutex_);
    long wrong = wrong_;
    for (const auto& [hash, versions] : blocks_) {
      const auto it = final_blocks.find(hash);
      for (const auto& version : versions) {
        if (it != final_blocks.end() && nlohmann::json::parse(version) == it->second) continue;
        ++wrong;
        if (samples_.size() < 5) samples_.push_back("block " + hash + " answered as " + version);
      }
    }
    long unavailable = 0;
    for (const auto& a : answers_) unavailable += a.status == 503;
    for (std::size_t f = 0; f < faults_.size(); ++f) {
      const auto end = f + 1 < faults_.size() ? faults_[f + 1] : Clock::time_point::max();
      Clock::time_point last_failed = faults_[f];
      bool failed = false;
      for (const auto& a : answers_) {
        if (a.at < faults_[f] || a.at >= end || a.status == 200) continue;
        last_failed = std::max(last_failed, a.at);
        failed = true;
      }
      double recovery = 0;
      if (failed) {
        const auto next = std::find_if(answers_.begin(), answers_.end(),
                                       [&](const Answer& a) { return a.at > last_failed && a.status == 200; });
        EXPECT_NE(next, answers_.end()) << "the api did not answer 200 again after the fault";
        if (next != answers_.end()) recovery = std::chrono::duration<double>(next->at - faults_[f]).count();
      }
      outcome.recovery.push_back(recovery);
      ++outcome.faults;
    }
    outcome.scenario += " (" + std::to_string(answers_.size()) + " answers, " + std::to_string(unavailable) + " 503)";
    outcome.lost = wrong;
    EXPECT_GT(answers_.size(), 0U);
    EXPECT_EQ(wrong, 0) << "wrong answers, e.g.:\n" << [&] {
      std::string out;
      for (const auto& line : samples_) out += line + "\n";
      return out;
    }();
  }

 private:
  struct Answer {
    Clock::time_point at;  // when it came
    long status;
  };

  void Client(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<std::string> known;  // hashes this client saw listed
    for (int n = 0; !stop_; ++n) {
      const bool single = n % 2 == 1 && !known.empty();
      std::string hash;
      if (single) hash = known[std::uniform_int_distribution<std::size_t>(0, known.size() - 1)(rng)];
      std::pair<long, std::string> answer{0, ""};
      try {
        answer = sse::Get(url_ + (single ? "/api/v1/blocks/" + hash : "/api/v1/blocks"), seconds(10));
      } catch (const std::exception& e) {
        answer.second = e.what();
      }
      const auto& [status, body] = answer;
      std::vector<std::string> listed;
      std::string problem = Judge(status, body, hash, listed);
      {
        std::lock_guard lock(mutex_);
        answers_.push_back({Clock::now(), status});
        if (!problem.empty()) {
          ++wrong_;
          if (samples_.size() < 5) samples_.push_back(problem);
        }
      }
      for (auto& h : listed) {
        if (std::find(known.begin(), known.end(), h) == known.end()) known.push_back(std::move(h));
      }
      std::this_thread::sleep_for(milliseconds(50));
    }
  }

  // "" when the answer is blocks (then kept for the final comparison) or a 503 JSON error.
  std::string Judge(long status, const std::string& body, const std::string& hash, std::vector<std::string>& listed) {
    const std::string what = (hash.empty() ? "/api/v1/blocks" : "/api/v1/blocks/" + hash) + ": " +
                             std::to_string(status) + " " + body.substr(0, 200);
    try {
      const auto json = nlohmann::json::parse(body);
      if (status == 503) {
        return json.value("code", 0) == 503 && json.contains("message") && json["message"].is_string() ? "" : what;
      }
      if (status != 200) return what;
      std::vector<nlohmann::json> blocks;
      if (hash.empty()) {
        for (const auto& block : json.at("data")) blocks.push_back(block);
      } else {
        if (json.at("blockHash") != hash) return what;
        blocks.push_back(json);
      }
      std::lock_guard lock(mutex_);
      for (const auto& block : blocks) {
        const std::string h = block.at("blockHash").get<std::string>();
        blocks_[h].insert(block.dump());
        if (hash.empty()) listed.push_back(h);
      }
      return "";
    } catch (const std::exception&) {
      return what;
    }
  }

  std::string url_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  std::vector<Clock::time_point> faults_;
  std::mutex mutex_;
  std::vector<Answer> answers_;                            // in arrival order
  std::map<std::string, std::set<std::string>> blocks_;   // hash -> distinct answers (JSON text)
  long wrong_ = 0;
  std::vector<std::string> samples_;
};

// REST clients of scenario 8.
constexpr int kReaders = 3;

// SIGKILLs `service` and restarts it at once, as a supervisor would: seconds until the new process
// counted records in `metric`, or until `done` (nothing left for it to do: a kill after the end of the
// load).
double KillAndRestart(Service& service, const std::function<void()>& restart, const std::string& metric,
                      const std::function<bool()>& done) {
  const auto t0 = Clock::now();
  service.process->Kill9();
  restart();  // replaces `service`
  return SecondsUntil(t0, [&] { return Metric(service.url(), metric) > 0 || done(); }, metric + " grows again");
}

std::mt19937_64 ScenarioRng(int scenario) { return std::mt19937_64(Seed() + static_cast<std::uint64_t>(scenario)); }

// kafka-N of the broker leading partition 0 of `topic`.
std::string LeaderOf(const std::string& topic) {
  const std::string described = StackOutput({"kafka-topics", "--describe", "--topic", topic});
  const auto at = described.find("Leader: ");
  EXPECT_NE(at, std::string::npos) << "no leader of " << topic << " in:\n" << described;
  if (at == std::string::npos) return "kafka-1";
  return "kafka-" + std::to_string(std::stoi(described.substr(at + 8)));
}

// The stack's ZooKeeper servers: zookeeper-N and its client address, in the order of $ZOOKEEPER.
std::vector<std::pair<std::string, std::string>> ZooKeeperServers() {
  std::string list = RequireEnv("ZOOKEEPER");
  list = list.substr(0, list.find('/'));  // a chroot
  std::vector<std::pair<std::string, std::string>> out;
  std::istringstream in(list);
  for (std::string address; std::getline(in, address, ',');) {
    out.emplace_back("zookeeper-" + std::to_string(out.size() + 1), address);
  }
  return out;
}

// "leader" or "follower" from the `srvr` four-letter word on a ZooKeeper client address (127.0.0.1:port;
// config/zookeeper/zoo.cfg.tmpl whitelists it), "" when the server does not answer.
std::string ZooKeeperMode(const std::string& address) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(std::stoi(address.substr(address.rfind(':') + 1))));
  if (::inet_pton(AF_INET, address.substr(0, address.rfind(':')).c_str(), &to.sin_addr) != 1) return "";
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  timeval timeout{3, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  std::string reply;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0 && ::send(fd, "srvr", 4, 0) == 4) {
    char buffer[1024];
    for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) reply.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  const auto at = reply.find("Mode: ");
  if (at == std::string::npos) return "";
  return reply.substr(at + 6, reply.find('\n', at) - at - 6);
}

// Brings a server back (SIGCONT, then start if it is not running) when the scope ends, whatever
// happened: the next tests of the ha tier need the whole stack.
class RestoreOnExit {
 public:
  explicit RestoreOnExit(std::string server) : server_(std::move(server)) {}
  ~RestoreOnExit() {
    const std::string pid = StackOutput({"pid", server_});
    if (!pid.empty()) ::kill(static_cast<pid_t>(std::stol(pid)), SIGCONT);
    EXPECT_EQ(Stack({"start", server_}), 0) << server_ << " did not come back";
  }

 private:
  std::string server_;
};

// Faults that are SIGKILLs of pipeline services: each of `kills` (kills one service, restarts it and
// returns the recovery time) runs `rounds` times, in a seeded random order at seeded random moments.
void KillServices(Pipeline& p, int scenario, Outcome& outcome, const std::vector<std::function<double()>>& kills) {
  auto rng = ScenarioRng(scenario);
  std::vector<std::size_t> order;
  for (int round = 0; round < CurrentMode().rounds; ++round) {
    for (std::size_t k = 0; k < kills.size(); ++k) order.push_back(k);
  }
  std::shuffle(order.begin(), order.end(), rng);
  const auto times = p.FaultTimes(rng, static_cast<int>(order.size()));
  for (std::size_t i = 0; i < times.size(); ++i) {
    std::this_thread::sleep_until(times[i]);
    outcome.recovery.push_back(kills[order[i]]());
    ++outcome.faults;
  }
  p.Finish(outcome);
}

// Scenario 8's row for the reads during `scenario` (after its pipeline's Finish).
void CheckReads(ApiReads& reads, Pipeline& p, const Outcome& scenario_outcome, const std::string& scenario) {
  Outcome outcome("8 REST reads during " + scenario);
  outcome.events = scenario_outcome.events;
  reads.Check(outcome, p.api().url());
  Record(outcome);
}

// Scenario 5's fault: both nodes stopped (SIGSTOP) for `stop`, `rounds` times, at half the mode's rate.
// Their replay buffer holds `buffer` events (10 s): more than they publish before produce first connects
// (a fresh produce records no gap for what the buffer lost before; up to 4.2 s seen on a busy machine),
// less than they publish meanwhile.
struct StreamStop {
  int rounds = 0;
  seconds stop{0};
  std::uint64_t buffer = 0;
};

StreamStop CurrentStreamStop() {
  return CurrentMode().name == "full" ? StreamStop{3, seconds(30), 1000} : StreamStop{1, seconds(15), 1000};
}

// The gap records produce wrote, per node: the missing ids from_id..to_id.
std::map<std::string, std::vector<std::pair<std::uint32_t, std::uint32_t>>> GapRecords(const std::string& prefix) {
  std::map<std::string, std::vector<std::pair<std::uint32_t, std::uint32_t>>> out;
  for (const auto& m : kafka::ReadAll(RequireEnv("KAFKA_BOOTSTRAP"), {}, prefix + "ingest-gaps")) {
    const auto gap = nlohmann::json::parse(m.value);
    out[gap.at("source").get<std::string>()].emplace_back(gap.at("from_id").get<std::uint32_t>(),
                                                          gap.at("to_id").get<std::uint32_t>());
  }
  return out;
}

// What the audit store holds of the events the nodes' streams skipped (their recorded gaps).
struct GapAudit {
  std::set<std::string> skipped;  // "<node> events <id>" of the chain's events in a recorded gap
  std::set<std::string> rebuilt;  // ... not stored with their id, but rebuilt from that node's RPC
  long missing = 0;               // ... neither
  long documents = 0;             // documents rebuilt by backfill (origin rpc)
  long wrong = 0;                 // ... that are no event of the chain, or differ from it
};

// `identities`: the chain's node event ids -> the events' identities (chain::IdentityKey).
GapAudit AuditGaps(Pipeline& p, const Chain& chain, const std::map<std::uint32_t, std::string>& identities) {
  GapAudit out;
  auto store = OpenStore(p.mongo());
  std::set<std::string> stored;                            // documents with an event id
  std::map<std::string, std::set<std::string>> rebuilt;  // node -> identities of its rebuilt events
  for (const auto& e : LogEntries(store)) {
    if (e.event_id) {
      stored.insert(e.id);
      continue;
    }
    if (e.origin != "rpc") continue;
    ++out.documents;
    const auto key = chain::IdentityKey(e.type, e.payload);
    const auto it = key ? chain.expected.payloads.find(*key) : chain.expected.payloads.end();
    if (it == chain.expected.payloads.end() || it->second != e.payload) {
      ++out.wrong;
      continue;
    }
    rebuilt[e.source].insert(*key);
  }
  for (const auto& [node, gaps] : GapRecords(p.prefix())) {
    for (const auto& [from, to] : gaps) {
      for (std::uint64_t id = from; id <= to; ++id) {
        const auto identity = identities.find(static_cast<std::uint32_t>(id));
        if (identity == identities.end()) continue;
        const std::string audit_id = node + " events " + std::to_string(id);
        if (!out.skipped.insert(audit_id).second || stored.count(audit_id) != 0) continue;
        if (rebuilt[node].count(identity->second) != 0) {
          out.rebuilt.insert(audit_id);
        } else {
          ++out.missing;
        }
      }
    }
  }
  return out;
}

// Sends SIGCONT to the nodes when the scope ends, whatever happened.
class ContinueOnExit {
 public:
  explicit ContinueOnExit(std::vector<Service>& nodes) : nodes_(nodes) {}
  ContinueOnExit(const ContinueOnExit&) = delete;
  ContinueOnExit& operator=(const ContinueOnExit&) = delete;
  ~ContinueOnExit() {
    for (auto& node : nodes_) node.process->Signal(SIGCONT);
  }

 private:
  std::vector<Service>& nodes_;
};

// Scenario 5: both nodes' streams stop (the emit processes SIGSTOPped: streams and JSON-RPC silent) for
// longer than their replay buffer, while their chain moves on (a fake node publishes by the clock: once
// continued it holds every block up to now, its buffer only the last events). produce reconnects the
// silent streams, resumes past the buffer and records the gaps; a `backfill --gaps` per node fills them
// from the node's JSON-RPC. The chain has blocks and signatures only: the fake node's RPC serves a block
// only when it agrees with its events (no synthetic transactions), and a Step is not reconstructable
// (docs/backfill.md). The tables must equal the clean run's, /events must carry every event once; in the
// audit store, the events a node's stream skipped are there as rebuilt documents of that node (origin
// rpc, the node's bytes) instead of with their id. Recovery: from SIGCONT until produce recorded a gap of
// each node and the backfills filled every recorded gap.
TEST_F(Resilience, Scenario5_NodeStreamsStopPastTheirBuffer) {
  auto rng = ScenarioRng(5);
  const StreamStop fault = CurrentStreamStop();
  Chain chain;
  BuildChain(chain, {"--mix", "blocks,signatures=5,era_blocks=1000000"}, "gap");
  ASSERT_FALSE(HasFatalFailure());
  std::map<std::uint32_t, std::string> identities;
  for (const auto& e : ReadRecording(chain.stream)) {
    if (!e.id) continue;
    if (const auto key = chain::IdentityKey(TypeOf(e.data), e.data)) identities.emplace(*e.id, *key);
  }
  // produce reconnects a stream silent for 2 s (a node sends a keep-alive comment every second).
  const int rate = CurrentMode().rate / 2;
  Pipeline p(chain, "s5", rate, {fault.buffer, true, {"--idle-timeout", "2"}});
  std::vector<Service> backfills;
  for (auto& node : p.nodes()) {
    const std::string name = "backfill-" + std::to_string(backfills.size() + 1);
    backfills.push_back(StartBackfill(p.dir(), name, p.prefix(), node.url(), {"--gaps", "--group", p.prefix() + name}));
  }
  Outcome outcome("5 both nodes' streams stopped " + std::to_string(fault.stop.count()) + " s (buffer " +
                  Fixed(static_cast<double>(fault.buffer) / rate, 0) + " s), backfill --gaps");
  auto free_at = Clock::now();
  for (const auto at : p.FaultTimes(rng, fault.rounds)) {
    std::this_thread::sleep_until(std::max(at, free_at));
    auto before = GapRecords(p.prefix());
    {
      ContinueOnExit resume(p.nodes());
      std::cout << "SIGSTOP both nodes for " << fault.stop.count() << " s" << std::endl;
      for (auto& node : p.nodes()) node.process->Signal(SIGSTOP);
      std::this_thread::sleep_for(fault.stop);
    }
    const auto t0 = Clock::now();
    outcome.recovery.push_back(SecondsUntil(
        t0,
        [&] {
          auto gaps = GapRecords(p.prefix());
          for (std::size_t n = 0; n < backfills.size(); ++n) {
            const double recorded = static_cast<double>(gaps[p.nodes()[n].url()].size());
            if (recorded <= static_cast<double>(before[p.nodes()[n].url()].size()) ||
                Metric(backfills[n].url(), "ces_backfill_gaps_filled_total") < recorded) {
              return false;
            }
          }
          return true;
        },
        "a gap of each node recorded and filled"));
    ++outcome.faults;
    free_at = Clock::now() + seconds(2);
  }
  // The rebuilt events reach the audit store.
  GapAudit audit;
  EXPECT_TRUE(WaitUntil(
      [&] {
        audit = AuditGaps(p, chain, identities);
        return audit.missing == 0;
      },
      seconds(180)))
      << audit.missing << " of the " << audit.skipped.size() << " events the streams skipped are not in the audit store";
  p.AcceptRebuilt(audit.rebuilt);
  p.Drain();
  audit = AuditGaps(p, chain, identities);
  EXPECT_EQ(audit.wrong, 0) << "rebuilt documents that are no event of the chain or differ from it";
  EXPECT_GT(audit.rebuilt.size(), 0U);
  outcome.lost += audit.wrong;
  postgres::Connection db(p.uri());
  std::size_t gap_records = 0;
  for (const auto& [node, gaps] : GapRecords(p.prefix())) gap_records += gaps.size();
  std::cout << "scenario 5: " << gap_records << " gap records; the streams skipped " << audit.skipped.size()
            << " events, " << audit.rebuilt.size()
            << " of them rebuilt by backfill (" << audit.documents << " rebuilt documents in all); "
            << Count(db, "blocks", "event_id IS NULL") << " blocks only the RPC gave" << std::endl;
  p.Check(outcome, p.live().collector().Frames());
  Record(outcome);
}

// Scenario 3: produce SIGKILLed at random moments and restarted at once: it resumes from its positions.
TEST_F(Resilience, Scenario3_ProduceKilled) {
  Pipeline p(*chain_, "s3");
  Outcome outcome("3 SIGKILL produce");
  KillServices(p, 3, outcome, {[&] {
                 return KillAndRestart(p.produce(), [&] { p.StartProduceNodes(); }, "ces_produce_events_total",
                                       [&] { return p.Delivered(); });
               }});
}

// Scenario 4: store-consume and audit-consume SIGKILLed at random moments (as many times each),
// restarted at once.
TEST_F(Resilience, Scenario4_ConsumersKilled) {
  Pipeline p(*chain_, "s4");
  Outcome outcome("4 SIGKILL store-consume, audit-consume");
  const auto kill_store = [&] {
    return KillAndRestart(p.store(), [&] { p.StartStoreConsume(); }, "ces_store_consume_events_total",
                          [&] { return p.Stored(); });
  };
  const auto kill_audit = [&] {
    return KillAndRestart(p.audit(), [&] { p.StartAudit(); }, "ces_audit_consume_events_total",
                          [&] { return p.Audited(); });
  };
  KillServices(p, 4, outcome, {kill_store, kill_audit});
}

// Scenario 1: the broker leading a topic's partition SIGKILLed under load (main, then deploys, then
// sigs), restarted after a while.
TEST_F(Resilience, Scenario1_PartitionLeaderKilled) {
  auto rng = ScenarioRng(1);
  Pipeline p(*chain_, "s1");
  ApiReads reads(p.api().url(), kReaders);
  Outcome outcome("1 SIGKILL the partition leader broker, restart");
  const std::vector<std::string> topics = {"main", "deploys", "sigs"};
  const auto times = p.FaultTimes(rng, CurrentMode().broker_rounds);
  for (std::size_t i = 0; i < times.size(); ++i) {
    const std::string broker = LeaderOf(p.prefix() + topics[i % topics.size()]);
    std::this_thread::sleep_until(times[i]);
    RestoreOnExit restore(broker);
    const auto before = p.Now();
    const auto t0 = Clock::now();
    std::cout << "SIGKILL " << broker << " (leader of " << topics[i % topics.size()] << ")" << std::endl;
    ASSERT_EQ(Stack({"kill", broker}), 0);
    reads.Fault(t0);
    outcome.recovery.push_back(SecondsUntil(
        t0, [&] { return p.MovedOnOrCaughtUp(before); }, "the pipeline moves on", seconds(120),
        [&] { return p.MovedSince(before); }));
    ++outcome.faults;
    std::this_thread::sleep_until(t0 + CurrentMode().outage);
  }
  p.Finish(outcome);
  CheckReads(reads, p, outcome, "1");
}

// Scenario 10: the api SIGKILLed and restarted; a client reconnects after each kill with
// start_from=<its last id + 1> and sees every chain event exactly once, in id order (the live client
// of every other scenario checks the same without reconnecting).
TEST_F(Resilience, Scenario10_EventsClientResumesAcrossApiKills) {
  auto rng = ScenarioRng(10);
  Pipeline p(*chain_, "s10");
  Outcome outcome("10 SIGKILL api, /events client resumes");
  std::vector<SseFrame> frames;
  for (const auto at : p.FaultTimes(rng, CurrentMode().rounds)) {
    std::this_thread::sleep_until(at);
    const auto t0 = Clock::now();
    p.KillApiAndResumeLive(frames);
    outcome.recovery.push_back(
        SecondsUntil(t0, [&] { return p.live().collector().Events() > 0; }, "the resumed client gets events"));
    ++outcome.faults;
  }
  p.Finish(outcome, std::move(frames));
}

// Scenario 7: FerretDB stopped for a while under load: audit-consume waits, then catches up.
TEST_F(Resilience, Scenario7_FerretDbStopped) {
  auto rng = ScenarioRng(7);
  Pipeline p(*chain_, "s7");
  Outcome outcome("7 FerretDB stopped " + std::to_string(CurrentMode().outage.count()) + " s");
  for (const auto at : p.FaultTimes(rng, 1)) {
    std::this_thread::sleep_until(at);
    RestoreOnExit restore("ferretdb");
    ASSERT_EQ(Stack({"stop", "ferretdb"}), 0);
    std::this_thread::sleep_for(CurrentMode().outage);
    const double audited = p.Now().audited;
    const auto t0 = Clock::now();
    ASSERT_EQ(Stack({"start", "ferretdb"}), 0);
    outcome.recovery.push_back(SecondsUntil(
        t0, [&] { return p.Now().audited > audited; }, "audit-consume stores again"));
    ++outcome.faults;
  }
  p.Finish(outcome);
}

// Scenario 9: a broker leading a partition of sigs SIGSTOPped past its ZooKeeper session, then SIGCONT
// (a "grey" failure: the process is there, but answers nothing).
TEST_F(Resilience, Scenario9_BrokerPaused) {
  auto rng = ScenarioRng(9);
  Pipeline p(*chain_, "s9");
  Outcome outcome("9 SIGSTOP a broker " + std::to_string(CurrentMode().pause.count()) + " s, SIGCONT");
  for (const auto at : p.FaultTimes(rng, 1)) {
    const std::string broker = LeaderOf(p.prefix() + "sigs");
    const std::string pid = StackOutput({"pid", broker});
    ASSERT_FALSE(pid.empty()) << broker << " is not running";
    std::this_thread::sleep_until(at);
    RestoreOnExit restore(broker);
    const auto before = p.Now();
    const auto t0 = Clock::now();
    std::cout << "SIGSTOP " << broker << " (pid " << std::stol(pid) << ")" << std::endl;
    ASSERT_EQ(::kill(static_cast<pid_t>(std::stol(pid)), SIGSTOP), 0);
    // The pipeline may move on while the broker is stopped (other leaders elected), or only after SIGCONT.
    double recovery = -1;
    WaitUntil(
        [&] {
          if (!p.MovedOn(before)) return false;
          recovery = std::chrono::duration<double>(Clock::now() - t0).count();
          return true;
        },
        CurrentMode().pause);
    std::this_thread::sleep_until(t0 + CurrentMode().pause);
    ASSERT_EQ(::kill(static_cast<pid_t>(std::stol(pid)), SIGCONT), 0);
    if (recovery < 0) {
      recovery = SecondsUntil(
          t0, [&] { return p.MovedOnOrCaughtUp(before); }, "the pipeline moves on", seconds(120),
          [&] { return p.MovedSince(before); });
    }
    outcome.recovery.push_back(recovery);
    ++outcome.faults;
  }
  p.Finish(outcome);
}

// Scenario 2: a ZooKeeper follower SIGKILLed under load and restarted, then the ZooKeeper leader (found
// with `srvr`): the two others keep a quorum, and the pipeline moves on while each is down. At half the
// rate (a longer load), so that both kills and restarts fall within it.
TEST_F(Resilience, Scenario2_ZooKeeperFollowerThenLeaderKilled) {
  auto rng = ScenarioRng(2);
  Pipeline p(*chain_, "s2", CurrentMode().rate / 2);
  Outcome outcome("2 SIGKILL a ZooKeeper follower, then the leader, restart");
  const auto times = p.FaultTimes(rng, 2 * CurrentMode().broker_rounds);
  for (std::size_t i = 0; i < times.size(); ++i) {
    const std::string role = i % 2 == 0 ? "follower" : "leader";
    std::this_thread::sleep_until(times[i]);
    std::vector<std::string> candidates;
    for (const auto& [server, address] : ZooKeeperServers()) {
      if (ZooKeeperMode(address) == role) candidates.push_back(server);
    }
    ASSERT_FALSE(candidates.empty()) << "no ZooKeeper " << role << "\n" << StackOutput({"status"});
    const std::string server = candidates[std::uniform_int_distribution<std::size_t>(0, candidates.size() - 1)(rng)];
    RestoreOnExit restore(server);
    const auto before = p.Now();
    const auto t0 = Clock::now();
    std::cout << "SIGKILL " << server << " (ZooKeeper " << role << ")" << std::endl;
    ASSERT_EQ(Stack({"kill", server}), 0);
    outcome.recovery.push_back(SecondsUntil(
        t0, [&] { return p.MovedOnOrCaughtUp(before); }, "the pipeline moves on with " + server + " down",
        seconds(120), [&] { return p.MovedSince(before); }));
    ++outcome.faults;
    std::this_thread::sleep_until(t0 + CurrentMode().outage);
  }
  p.Finish(outcome);
}

// Makes postgres-1 the primary again with its two replicas (scripts/stack failback) when the scope ends,
// whatever happened: the next scenarios and tests of the ha tier need the stack as it was.
class FailBackOnExit {
 public:
  FailBackOnExit() = default;
  FailBackOnExit(const FailBackOnExit&) = delete;
  FailBackOnExit& operator=(const FailBackOnExit&) = delete;
  ~FailBackOnExit() {
    const auto t0 = Clock::now();
    EXPECT_EQ(Stack({"failback"}), 0) << "postgres-1 is not the primary again";
    std::cout << "failback: " << Fixed(std::chrono::duration<double>(Clock::now() - t0).count(), 1) << " s"
              << std::endl;
  }
};

// How long the PostgreSQL primary is down before the operator promotes a replica.
constexpr seconds kPromoteAfter{3};

// "127.0.0.1:port" of postgres-N, from the stack's multi-host POSTGRES_URI (postgres-1, -2, -3 in order).
std::string PostgresAddress(int n) {
  const std::string uri = RequireEnv("POSTGRES_URI");
  const auto from = uri.find('@') + 1;
  std::istringstream hosts(uri.substr(from, uri.find('/', from) - from));
  std::string address;
  for (int i = 0; i < n && std::getline(hosts, address, ','); ++i) {
  }
  return address;
}

std::string AdminUri(int n) { return "postgresql://postgres@" + PostgresAddress(n) + "/postgres"; }

// Stops the WAL receiver of postgres-N (primary_conninfo emptied by ALTER SYSTEM, configuration reloaded;
// what its socket still held is dropped) until the end of the scope (reset): the primary goes on
// committing what the replica does not get.
class ReplicationCut {
 public:
  explicit ReplicationCut(int n) : replica_(AdminUri(n)) {
    Configure("ALTER SYSTEM SET primary_conninfo = ''");
    EXPECT_TRUE(WaitUntil([&] { return replica_.Query("SELECT count(*) FROM pg_stat_wal_receiver")[0][0] == "0"; },
                          seconds(10)))
        << "postgres-" << n << " still receives WAL";
  }
  ReplicationCut(const ReplicationCut&) = delete;
  ReplicationCut& operator=(const ReplicationCut&) = delete;
  ~ReplicationCut() {
    try {
      Configure("ALTER SYSTEM RESET primary_conninfo");
    } catch (const std::exception& e) {
      ADD_FAILURE() << "primary_conninfo not reset: " << e.what();
    }
  }

 private:
  void Configure(const std::string& sql) {
    replica_.ExecuteNoTransaction(sql);
    replica_.Query("SELECT pg_reload_conf()");
  }
  postgres::Connection replica_;
};

// The last WAL position postgres-N received ("0/0" when none).
std::string ReceivedWal(int n) {
  postgres::Connection replica(AdminUri(n));
  return replica.Query("SELECT pg_last_wal_receive_lsn()").at(0).at(0).value_or("0/0");
}

// Bytes of WAL the primary wrote that postgres-N has not received.
long long ReplicationLag(int n) {
  const std::string received = ReceivedWal(n);
  postgres::Connection primary(AdminUri(1));
  return std::stoll(primary.Query("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '" + received + "')")
                        .at(0).at(0).value_or("0"));
}

// The replica an operator promotes: the one that received the most WAL (postgres-2 or -3; a tie: seeded).
int MostAdvancedReplica(std::mt19937_64& rng) {
  const std::string lsn2 = ReceivedWal(2);
  const std::string lsn3 = ReceivedWal(3);
  postgres::Connection replica(AdminUri(2));
  const double ahead = std::stod(
      replica.Query("SELECT pg_wal_lsn_diff('" + lsn3 + "', '" + lsn2 + "')").at(0).at(0).value_or("0"));
  if (ahead == 0) return std::uniform_int_distribution<int>(2, 3)(rng);
  return ahead > 0 ? 3 : 2;
}

// Scenario 6: the PostgreSQL primary SIGKILLed under load; a few seconds later the replica that received
// the most WAL is promoted, as an operator would (scripts/stack promote: pg_ctl promote). store-consume and
// the api find the new primary by themselves through the stack's multi-host URI
// (target_session_attrs=read-write). The tables must still equal the clean run's. In the full mode both
// replicas stop receiving WAL a seeded 1-3 s before the kill (asynchronous replication lagging), so the
// promoted one lacks the last commits of the old primary, and store-consume must re-read them from the
// positions stored in it. One round in every mode: afterwards postgres-1 becomes the primary again
// (scripts/stack failback).
TEST_F(Resilience, Scenario6_PostgresPrimaryKilledReplicaPromoted) {
  ASSERT_NE(RequireEnv("POSTGRES_URI").find("target_session_attrs=read-write"), std::string::npos)
      << "needs the --ha stack's multi-host URI";
  ASSERT_EQ(StackOutput({"pid", "postgres-1"}).empty(), false) << "postgres-1 is not running";
  auto rng = ScenarioRng(6);
  FailBackOnExit failback;  // after the pipeline's processes are gone
  Pipeline p(*chain_, "s6");
  ApiReads reads(p.api().url(), kReaders);
  Outcome outcome(std::string("6 SIGKILL the PostgreSQL primary, promote a replica") +
                  (CurrentMode().replica_lag ? " (replication cut 1-3 s before)" : ""));
  for (const auto at : p.FaultTimes(rng, 1)) {
    std::vector<std::unique_ptr<ReplicationCut>> cuts;
    if (CurrentMode().replica_lag) {
      std::this_thread::sleep_until(at - milliseconds(std::uniform_int_distribution<int>(1000, 3000)(rng)));
      for (int n : {2, 3}) cuts.push_back(std::make_unique<ReplicationCut>(n));
    }
    std::this_thread::sleep_until(at);
    const long long behind[] = {ReplicationLag(2), ReplicationLag(3)};
    const auto before = p.Now();
    const auto t0 = Clock::now();
    ASSERT_EQ(Stack({"kill", "postgres-1"}), 0);
    reads.Fault(t0);
    const std::string replica = "postgres-" + std::to_string(MostAdvancedReplica(rng));
    std::cout << "SIGKILL postgres-1 (primary; postgres-2 " << behind[0] << ", postgres-3 " << behind[1]
              << " bytes of WAL behind), promote " << replica << " after " << kPromoteAfter.count() << " s"
              << std::endl;
    std::this_thread::sleep_until(t0 + kPromoteAfter);
    ASSERT_EQ(Stack({"promote", replica}), 0);
    cuts.clear();
    outcome.recovery.push_back(SecondsUntil(
        t0,
        [&] { return p.MovedOnOrCaughtUp(before) && HttpGet(p.api().url() + "/api/v1/blocks").first == 200; },
        "the pipeline and the api move on with " + replica));
    ++outcome.faults;
  }
  p.Finish(outcome);
  std::cout << "store-consume re-read " << Metric(p.store().url(), "ces_store_consume_position_conflicts_total")
            << " batches from the positions stored in the promoted replica" << std::endl;
  CheckReads(reads, p, outcome, "6");
}

// Scenario 11, the soak: the pipeline at 10x mainnet's event rate for CES_SOAK_MINUTES minutes (`make
// soak`; unset: the quick mode that ctest runs) with one fault per minute, rotating through the fault
// kinds of the scenarios above in a seeded order. Meanwhile the RSS of every service is sampled
// (/proc/PID/status VmRSS; a restarted service starts a new series) and, after each fault, the lag of
// the pipeline until it is back to zero. At the end the checks of every scenario (Pipeline::Check), the
// scenario's row in the summary, and a report of its own (printed, and written to CES_SOAK_REPORT).

// Mainnet's event rate is about 3.2 events/s per node (docs/resilience.md, scenario 11: the recordings'
// testnet captures have 102 and 104 events per 32.768 s block); each node of the soak publishes 10x that.
constexpr int kSoakRate = 32;

struct SoakMode {
  std::string name;
  seconds load{0};            // how long the nodes publish
  seconds warm_up{0};         // before the first fault
  seconds fault_every{0};     // one fault per period, at a seeded moment of its first quarter
  seconds series_warm_up{0};  // cut from the start of each RSS series before its slope is fitted
  seconds sample_every{0};    // RSS
  seconds outage{0};          // how long a killed broker or ZooKeeper server, or FerretDB, stays down
  seconds pause{0};           // how long a broker stays stopped (SIGSTOP), past its 6 s ZooKeeper session
  bool full = false;          // RSS slopes are checked (when a service's series span 10 minutes)
};

const SoakMode& CurrentSoak() {
  static const SoakMode mode = [] {
    const char* text = std::getenv("CES_SOAK_MINUTES");
    if (text && *text) {
      const long m = std::stol(text);
      return SoakMode{std::to_string(m) + " min", seconds(60 * m), seconds(60), seconds(60), seconds(120),
                      seconds(5), seconds(15), seconds(10), true};
    }
    return SoakMode{"quick", seconds(60), seconds(10), seconds(30), seconds(10), seconds(2), seconds(5),
                    seconds(10), false};
  }();
  return mode;
}

// Resident set size of `pid` in MB (VmRSS), nullopt when it has none (gone, or a zombie).
std::optional<double> RssMb(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // "VmRSS:  1234 kB"
  }
  return std::nullopt;
}

// Samples the RSS of the tracked processes every `every` in a thread of its own. Each (name, pid) is a
// series: a restarted service starts a new one.
class RssSampler {
 public:
  struct Series {
    std::string name;
    pid_t pid = 0;
    std::vector<std::pair<double, double>> samples;  // minutes since the sampler started, MB
  };

  explicit RssSampler(seconds every) : every_(every), start_(Clock::now()), thread_([this] { Run(); }) {}
  ~RssSampler() { Stop(); }
  RssSampler(const RssSampler&) = delete;
  RssSampler& operator=(const RssSampler&) = delete;

  void Track(const std::string& name, pid_t pid) {
    std::lock_guard lock(mutex_);
    tracked_[name] = pid;
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::vector<Series> Snapshot() {
    std::lock_guard lock(mutex_);
    return series_;
  }

 private:
  void Run() {
    for (auto next = Clock::now(); !stop_; next += every_) {
      std::map<std::string, pid_t> tracked;
      {
        std::lock_guard lock(mutex_);
        tracked = tracked_;
      }
      const double at = std::chrono::duration<double>(Clock::now() - start_).count() / 60.0;
      for (const auto& [name, pid] : tracked) {
        const auto mb = RssMb(pid);
        if (!mb) continue;
        std::lock_guard lock(mutex_);
        auto it = std::find_if(series_.begin(), series_.end(),
                               [&](const Series& s) { return s.name == name && s.pid == pid; });
        if (it == series_.end()) it = series_.insert(series_.end(), Series{name, pid, {}});
        it->samples.emplace_back(at, *mb);
      }
      while (!stop_ && Clock::now() < next + every_) std::this_thread::sleep_for(milliseconds(100));
    }
  }

  seconds every_;
  Clock::time_point start_;
  std::mutex mutex_;
  std::map<std::string, pid_t> tracked_;
  std::vector<Series> series_;
  std::atomic<bool> stop_{false};
  std::thread thread_;  // last: starts once the members above exist
};

// The servers of the --ha stack whose RSS the soak samples (PostgreSQL: the postmaster).
const std::vector<std::string>& StackServers() {
  static const std::vector<std::string> servers = {"zookeeper-1", "zookeeper-2", "zookeeper-3", "kafka-1",
                                                   "kafka-2",     "kafka-3",     "ferretdb",    "postgres-1",
                                                   "postgres-2",  "postgres-3"};
  return servers;
}

// The services of the pipeline, in the order of PipelineProcesses.
const std::vector<std::string>& PipelineServices() {
  static const std::vector<std::string> services = {"produce", "chain", "store-consume", "audit-consume", "api"};
  return services;
}
std::vector<Service*> PipelineProcesses(Pipeline& p) {
  return {&p.produce(), &p.chain_stage(), &p.store(), &p.audit(), &p.api()};
}

// Points the sampler at the current processes of the pipeline and of the stack (after every fault).
void TrackServices(RssSampler& rss, Pipeline& p) {
  const auto processes = PipelineProcesses(p);
  for (std::size_t i = 0; i < processes.size(); ++i) rss.Track(PipelineServices()[i], processes[i]->process->pid());
  for (const auto& server : StackServers()) {
    const std::string pid = StackOutput({"pid", server});
    if (!pid.empty()) rss.Track(server, static_cast<pid_t>(std::stol(pid)));
  }
}

// One service's RSS over the soak: the slope is fitted by least squares over all its series at once
// (one slope, an intercept per series), each series without its first `warm_up`.
struct Flatness {
  std::string name;
  int series = 0;
  std::size_t samples = 0;  // after warm-up
  double span = 0;          // minutes covered by the series after warm-up, summed
  double first = 0;         // MB at the start and end of the longest series after warm-up
  double last = 0;
  double max = 0;           // MB, over every sample
  std::optional<double> slope;  // MB per minute
};

Flatness Flat(const std::string& name, const std::vector<RssSampler::Series>& all, double warm_up) {
  Flatness f;
  f.name = name;
  double sxy = 0;
  double sxx = 0;
  double longest = -1;
  for (const auto& s : all) {
    if (s.name != name || s.samples.empty()) continue;
    ++f.series;
    std::vector<std::pair<double, double>> kept;
    for (const auto& [t, mb] : s.samples) {
      f.max = std::max(f.max, mb);
      if (t >= s.samples.front().first + warm_up) kept.emplace_back(t, mb);
    }
    if (kept.size() < 3) continue;
    const double span = kept.back().first - kept.front().first;
    f.samples += kept.size();
    f.span += span;
    if (span > longest) {
      longest = span;
      f.first = kept.front().second;
      f.last = kept.back().second;
    }
    double mt = 0;
    double my = 0;
    for (const auto& [t, mb] : kept) {
      mt += t;
      my += mb;
    }
    mt /= static_cast<double>(kept.size());
    my /= static_cast<double>(kept.size());
    for (const auto& [t, mb] : kept) {
      sxy += (t - mt) * (mb - my);
      sxx += (t - mt) * (t - mt);
    }
  }
  if (sxx > 0) f.slope = sxy / sxx;
  return f;
}

// The lag of the pipeline, stage by stage: the events the nodes published that produce has not put in
// Kafka, and the records of the event topics that store-consume has not stored (its positions in
// PostgreSQL) and audit-consume has not stored (its offsets committed in Kafka).
class LagProbe {
 public:
  struct Heads {
    std::vector<std::uint64_t> published;                   // per node
    std::map<kafka::TopicPartition, std::int64_t> ends;     // high watermarks of the event topics
  };
  struct Sample {
    Heads heads;
    std::vector<std::uint64_t> produced;                    // per node: events produce has in Kafka
    std::map<kafka::TopicPartition, std::int64_t> stored;   // store-consume's positions
    std::map<kafka::TopicPartition, std::int64_t> audited;  // audit-consume's committed offsets
  };

  LagProbe(Pipeline& p, const Chain& chain) : p_(p), chain_(chain) {
    for (const auto& spec : kafka::EventTopicSpecs(p.prefix())) {
      for (int i = 0; i < spec.partitions; ++i) partitions_.push_back({spec.name, i});
    }
  }

  Sample Take() {
    Sample s;
    for (const Service& node : p_.nodes()) {
      const auto [status, body] = HttpGet(node.url() + "/status");
      s.heads.published.push_back(status == 200 ? nlohmann::json::parse(body)["emit"]["published"].get<std::uint64_t>()
                                                : 0);
    }
    const std::string metrics = HttpGet(p_.produce().url() + "/metrics").second;
    for (const Service& node : p_.nodes()) {
      // produce's position on the node: the last id it has in Kafka; the chain's ids ascend.
      const double position = PositionOf(metrics, node.url());
      s.produced.push_back(static_cast<std::uint64_t>(
          std::upper_bound(chain_.ids.begin(), chain_.ids.end(), position) - chain_.ids.begin()));
    }
    const std::string brokers = RequireEnv("KAFKA_BOOTSTRAP");
    s.heads.ends = kafka::HighWatermarks(brokers, {}, partitions_, seconds(5));
    try {
      postgres::Connection db(p_.uri());
      if (const auto positions = GroupPositions(db, p_.prefix() + "store")) {
        for (const auto& [tp, next] : *positions) s.stored[{tp.first, tp.second}] = next;
      }
    } catch (const std::exception&) {
      // PostgreSQL unreachable: every stored record counts as lag
    }
    s.audited = kafka::CommittedOffsets(brokers, {}, p_.prefix() + "audit", partitions_, seconds(2));
    return s;
  }

  // Records (events at the nodes, records in Kafka) behind the heads of the same sample, all stages.
  static long long Behind(const Sample& s) {
    long long behind = 0;
    for (std::size_t i = 0; i < s.produced.size(); ++i) {
      behind += std::max<long long>(0, static_cast<long long>(s.heads.published[i]) - static_cast<long long>(s.produced[i]));
    }
    for (const auto& [tp, end] : s.heads.ends) behind += Missing(s.stored, tp, end) + Missing(s.audited, tp, end);
    return behind;
  }

  // True when every stage reached the heads `before` (of a sample taken earlier): nothing that was
  // published or in Kafka then is still waiting. A partition whose watermark was not read counts as
  // behind.
  bool CaughtUp(const Heads& before, const Sample& now) const {
    if (before.ends.size() != partitions_.size()) return false;
    for (std::size_t i = 0; i < now.produced.size(); ++i) {
      if (now.produced[i] < before.published[i]) return false;
    }
    for (const auto& [tp, end] : before.ends) {
      if (Missing(now.stored, tp, end) > 0 || Missing(now.audited, tp, end) > 0) return false;
    }
    return true;
  }

  // Seconds from `since` until a sample (about one a second) finds every stage caught up with the
  // heads of the sample before; -1 when that did not happen before `deadline`. `max_behind` takes the
  // largest lag seen (records).
  double SecondsToZero(Clock::time_point since, Clock::time_point deadline, long long& max_behind) {
    std::optional<Heads> before;
    while (Clock::now() < deadline) {
      const auto tick = Clock::now();
      const Sample s = Take();
      max_behind = std::max(max_behind, Behind(s));
      if (before && CaughtUp(*before, s)) return std::chrono::duration<double>(Clock::now() - since).count();
      before = s.heads;
      std::this_thread::sleep_until(tick + milliseconds(1000));
    }
    return -1;
  }

 private:
  static long long Missing(const std::map<kafka::TopicPartition, std::int64_t>& positions,
                           const kafka::TopicPartition& tp, std::int64_t end) {
    const auto it = positions.find(tp);
    return std::max<long long>(0, end - (it == positions.end() ? 0 : it->second));
  }
  // The value of produce's ces_produce_position for `node` (0 when produce does not answer).
  static double PositionOf(const std::string& metrics, const std::string& node) {
    std::istringstream lines(metrics);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("ces_produce_position{", 0) == 0 && line.find("node=\"" + node + "\"") != std::string::npos) {
        return std::stod(line.substr(line.rfind(' ') + 1));
      }
    }
    return 0;
  }

  Pipeline& p_;
  const Chain& chain_;
  std::vector<kafka::TopicPartition> partitions_;
};

// A fault of the soak, injected: what it was, and the server to bring back when its outage ends (none
// for a service killed and restarted at once).
struct Injected {
  std::string what;
  std::unique_ptr<RestoreOnExit> restore;
  seconds outage{0};
  // false: no lag sample during the outage. Offset queries that meet a paused or killed broker hang far
  // past their timeout (HighWatermarks took minutes), which would hold the outage that long.
  bool probe = true;
};

// One row of the soak's fault table.
struct SoakFault {
  int number = 0;
  double at = 0;             // minutes into the load
  std::string what;
  double zero = -1;          // seconds from the fault until the lag was back to zero (-1: it was not)
  double after_restore = -1; // seconds from the server's return until it was again (faults with an outage)
  long long max_lag = 0;     // records
};

// The kinds of fault the soak rotates through, each injecting one fault on `p`; the api's restarts keep
// the live /events client's frames in `frames` (it resumes from its last id, as in scenario 10).
std::vector<std::function<Injected()>> SoakFaultKinds(Pipeline& p, std::mt19937_64& rng, const SoakMode& mode,
                                                     std::vector<SseFrame>& frames) {
  // A restarted service must handle records again: the load goes on after every fault.
  const auto kill = [&p](const std::string& name, Service& (Pipeline::*service)(), void (Pipeline::*restart)(),
                         const std::string& metric) {
    return [&p, name, service, restart, metric] {
      const double moved = KillAndRestart((p.*service)(), [&] { (p.*restart)(); }, metric, [] { return false; });
      return Injected{"SIGKILL " + name + ", restart (handles records after " + Fixed(moved, 1) + " s)", nullptr,
                      seconds(0)};
    };
  };
  const auto topic = [&rng] {
    static const std::vector<std::string> topics = {"main", "deploys", "sigs"};
    return topics[std::uniform_int_distribution<std::size_t>(0, topics.size() - 1)(rng)];
  };
  return {
      kill("produce", &Pipeline::produce, &Pipeline::StartProduceNodes, "ces_produce_events_total"),
      kill("store-consume", &Pipeline::store, &Pipeline::StartStoreConsume, "ces_store_consume_events_total"),
      kill("audit-consume", &Pipeline::audit, &Pipeline::StartAudit, "ces_audit_consume_events_total"),
      [&p, &frames] {
        const long long from = p.KillApiAndResumeLive(frames);
        return Injected{"SIGKILL api, restart; the /events client resumes from id " + std::to_string(from), nullptr,
                        seconds(0)};
      },
      [&p, &mode, topic] {
        const std::string t = topic();
        const std::string broker = LeaderOf(p.prefix() + t);
        auto restore = std::make_unique<RestoreOnExit>(broker);
        EXPECT_EQ(Stack({"kill", broker}), 0);
        Injected injected{"SIGKILL " + broker + " (leader of " + t + "), restart after " +
                              std::to_string(mode.outage.count()) + " s",
                          std::move(restore), mode.outage};
        injected.probe = false;
        return injected;
      },
      [&p, &mode, topic] {
        const std::string t = topic();
        const std::string broker = LeaderOf(p.prefix() + t);
        const std::string pid = StackOutput({"pid", broker});
        auto restore = std::make_unique<RestoreOnExit>(broker);
        EXPECT_FALSE(pid.empty()) << broker << " is not running";
        if (!pid.empty()) {
          EXPECT_EQ(::kill(static_cast<pid_t>(std::stol(pid)), SIGSTOP), 0);
        }
        Injected injected{"SIGSTOP " + broker + " (leader of " + t + ") " + std::to_string(mode.pause.count()) +
                              " s, SIGCONT",
                          std::move(restore), mode.pause};
        injected.probe = false;
        return injected;
      },
      [&mode] {
        auto restore = std::make_unique<RestoreOnExit>("ferretdb");
        EXPECT_EQ(Stack({"stop", "ferretdb"}), 0);
        return Injected{"FerretDB stopped " + std::to_string(mode.outage.count()) + " s", std::move(restore),
                        mode.outage};
      },
      [&mode, &rng] {
        const auto servers = ZooKeeperServers();
        const auto& [server, address] = servers[std::uniform_int_distribution<std::size_t>(0, servers.size() - 1)(rng)];
        const std::string role = ZooKeeperMode(address);
        auto restore = std::make_unique<RestoreOnExit>(server);
        EXPECT_EQ(Stack({"kill", server}), 0);
        return Injected{"SIGKILL " + server + " (ZooKeeper " + role + "), restart after " +
                            std::to_string(mode.outage.count()) + " s",
                        std::move(restore), mode.outage};
      },
  };
}

// The soak's report (Markdown): the run, the RSS of every service, the faults and their lag recovery.
std::string SoakReport(const SoakMode& mode, const Outcome& outcome, const std::vector<Flatness>& rss,
                       const std::vector<SoakFault>& faults, double baseline, long long baseline_lag) {
  const std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  std::ostringstream out;
  out << "### Soak " << mode.name << ", seed " << Seed() << " (" << date << ")\n\n"
      << kSoakRate << " events/s per node (10x mainnet), " << outcome.events << " events from the two nodes in "
      << mode.load.count() / 60.0 << " min, " << outcome.faults << " faults (one per " << mode.fault_every.count()
      << " s after " << mode.warm_up.count() << " s); lost " << outcome.lost << ", duplicated "
      << outcome.duplicated << ". Before the first fault the lag was back to zero after "
      << (baseline < 0 ? std::string("-") : Fixed(baseline, 1) + " s") << " (at most " << baseline_lag
      << " records behind).\n\n"
      << "| service | series | samples | RSS first → last (MB) | max (MB) | slope (MB/min) | span (min) |\n"
      << "|---|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& f : rss) {
    out << "| " << f.name << " | " << f.series << " | " << f.samples << " | " << Fixed(f.first, 1) << " → "
        << Fixed(f.last, 1) << " | " << Fixed(f.max, 1) << " | " << (f.slope ? Fixed(*f.slope, 3) : "-") << " | "
        << Fixed(f.span, 1) << " |\n";
  }
  out << "\n| # | at (min) | fault | lag back to zero (s) | again after the restore (s) | max lag (records) |\n"
      << "|---:|---:|---|---:|---:|---:|\n";
  for (const auto& f : faults) {
    out << "| " << f.number << " | " << Fixed(f.at, 1) << " | " << f.what << " | "
        << (f.zero < 0 ? std::string("**no**") : Fixed(f.zero, 1)) << " | "
        << (f.after_restore < 0 ? std::string("-") : Fixed(f.after_restore, 1)) << " | " << f.max_lag << " |\n";
  }
  return out.str();
}

// The most a service of the pipeline's RSS may grow in a long soak, fitted over at least 10 minutes.
constexpr double kFlatSlope = 0.5;  // MB per minute

TEST(Soak, Scenario11_TenTimesMainnetRateWithAFaultPerMinute) {
  const SoakMode& mode = CurrentSoak();
  std::cout << "soak: " << mode.name << ", seed " << Seed() << " (replay: CES_SOAK_MINUTES="
            << (mode.full ? std::to_string(mode.load.count() / 60) : "") << " CES_RESILIENCE_SEED=" << Seed() << ")"
            << std::endl;
  ASSERT_TRUE(WaitUntil(AllBrokersAvailable, seconds(90))) << "the controller does not count three brokers";
  Chain chain;
  chain.events = static_cast<std::uint64_t>(kSoakRate * mode.load.count());
  BuildChain(chain, {}, "soak");
  ASSERT_FALSE(HasFatalFailure());
  auto rng = ScenarioRng(11);
  RssSampler rss(mode.sample_every);
  Pipeline p(chain, "s11", kSoakRate);
  TrackServices(rss, p);
  LagProbe lag(p, chain);
  std::vector<SseFrame> frames;  // of the live /events clients before the api's restarts
  auto kinds = SoakFaultKinds(p, rng, mode, frames);
  std::vector<std::size_t> order(kinds.size());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  const auto start = p.load_start();
  const auto end = start + mode.load;
  std::vector<Clock::time_point> times;
  std::uniform_real_distribution<double> jitter(0, 0.25);
  for (auto slot = start + mode.warm_up; slot < end; slot += mode.fault_every) {
    times.push_back(slot + std::chrono::duration_cast<Clock::duration>(mode.fault_every * jitter(rng)));
  }
  long long baseline_lag = 0;
  const double baseline = lag.SecondsToZero(Clock::now(), times.empty() ? end : times.front(), baseline_lag);
  EXPECT_GE(baseline, 0) << "the pipeline does not keep up with " << kSoakRate << " events/s per node";

  Outcome outcome("11 soak " + mode.name + " at " + std::to_string(kSoakRate) + " events/s per node, a fault per " +
                  std::to_string(mode.fault_every.count()) + " s");
  std::vector<SoakFault> faults;
  for (std::size_t k = 0; k < times.size(); ++k) {
    const auto deadline = k + 1 < times.size() ? times[k + 1] : std::max(end, times[k] + mode.fault_every);
    std::this_thread::sleep_until(times[k]);
    SoakFault fault;
    fault.number = static_cast<int>(k + 1);
    fault.at = std::chrono::duration<double>(Clock::now() - start).count() / 60.0;
    const auto t0 = Clock::now();
    Injected injected = kinds[order[k % order.size()]]();
    fault.what = injected.what;
    std::cout << "soak: fault " << fault.number << " at " << Fixed(fault.at, 2) << " min: " << fault.what << std::endl;
    const bool outage = injected.restore != nullptr;
    if (outage) {
      if (injected.probe) fault.zero = lag.SecondsToZero(t0, t0 + injected.outage, fault.max_lag);
      std::this_thread::sleep_until(t0 + injected.outage);
      const auto t1 = Clock::now();
      injected.restore.reset();  // SIGCONT, start
      fault.after_restore = lag.SecondsToZero(t1, std::max(deadline, t1 + seconds(30)), fault.max_lag);
      if (fault.zero < 0 && fault.after_restore >= 0) fault.zero = std::chrono::duration<double>(Clock::now() - t0).count();
    } else {
      fault.zero = lag.SecondsToZero(t0, std::max(deadline, t0 + seconds(30)), fault.max_lag);
    }
    TrackServices(rss, p);
    EXPECT_GE(fault.zero, 0) << "fault " << fault.number << " (" << fault.what << "): the lag was not back to zero";
    if (outage) {
      EXPECT_GE(fault.after_restore, 0) << "fault " << fault.number << ": the lag was not back to zero";
    }
    if (fault.zero >= 0) outcome.recovery.push_back(fault.zero);
    ++outcome.faults;
    faults.push_back(fault);
  }
  p.Finish(outcome, std::move(frames));
  rss.Stop();

  const auto series = rss.Snapshot();
  std::vector<Flatness> flat;
  const double warm_up = mode.series_warm_up.count() / 60.0;
  for (const auto& name : PipelineServices()) flat.push_back(Flat(name, series, warm_up));
  for (const auto& server : StackServers()) flat.push_back(Flat(server, series, warm_up));
  const std::string report = SoakReport(mode, outcome, flat, faults, baseline, baseline_lag);
  std::cout << "\n" << report << std::flush;
  if (const char* path = std::getenv("CES_SOAK_REPORT"); path && *path) WriteFile(path, report);
  if (!mode.full) return;
  for (std::size_t i = 0; i < PipelineServices().size(); ++i) {
    const Flatness& f = flat[i];
    if (f.span < 10 || !f.slope) continue;
    EXPECT_LE(*f.slope, kFlatSlope) << f.name << ": RSS grows " << Fixed(*f.slope, 3) << " MB/min";
  }
}

}  // namespace
}  // namespace ces::test
