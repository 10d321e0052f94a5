// `casper-event-store api` end to end, over real sockets: the binary serves a store filled by the real
// pipeline (emit of both recordings -> produce -> Kafka -> store-consume (PostgreSQL, after `migrate`)
// and audit-consume (FerretDB/MongoDB)) with all three backends (--postgres --mongo --kafka). Checked
// over HTTP: REST values and page shapes, caching (ETag, 304), gzip, CORS, the error statuses (400 naming
// the parameter, 404, 405, 413, 429, 503) and no 500 for malformed input, the sidecar routes, the
// documentation, live SSE fed through Kafka, the subscriber limit, /readyz and /metrics, and the graceful
// stop of open streams on SIGTERM.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <cctype>
#include <chrono>
#include <cstring>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "store_itest_support.hpp"

namespace ces::test {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

constexpr const char* kBlock3991 = "22ea09946b4e651d997d5e84c139a1e31c21996d011f4834f28827acf76cc8d7";
constexpr const char* kUiOrigin = "http://ui.example";

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// ---- a small HTTP/1.1 client (one request per connection) ------------------------------------------

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names; repeated headers joined with ", "
  std::string body;                            // de-chunked, not decompressed
  bool Has(const std::string& name) const { return headers.count(Lower(name)) > 0; }
  std::string Header(const std::string& name) const {
    auto it = headers.find(Lower(name));
    return it == headers.end() ? std::string() : it->second;
  }
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

class Connection {
 public:
  // Connects to 127.0.0.1:port and sends `request` verbatim.
  Connection(std::uint16_t port, const std::string& request) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      eof_ = true;
      return;
    }
    std::size_t sent = 0;
    while (sent < request.size()) {
      const ssize_t n = ::send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;  // the server may answer (413) and close before reading everything
      sent += static_cast<std::size_t>(n);
    }
  }
  ~Connection() { Close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // Reads until the status line and headers are in; false on timeout or a closed connection.
  bool ReadHead(milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!head_done_) {
      if (!Fill(deadline)) return head_done_;
    }
    return true;
  }

  // Reads until `done(body)` holds, the response ended, or `timeout` passed. Returns done(body).
  bool ReadUntil(const std::function<bool(const std::string&)>& done, milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!(head_done_ && done(reply_.body)) && !ended_) {
      if (!Fill(deadline)) break;
    }
    return head_done_ && done(reply_.body);
  }

  // Reads the whole response (until its end or the connection's).
  bool ReadAll(milliseconds timeout) {
    ReadUntil([](const std::string&) { return false; }, timeout);
    return ended_;
  }

  bool Ended() const { return ended_; }        // the response is complete (or the connection closed)
  bool Chunked() const { return chunked_; }
  bool TerminalChunk() const { return terminal_chunk_; }
  const Reply& reply() const { return reply_; }

 private:
  // One recv (waiting up to the deadline); false on timeout, EOF or error.
  bool Fill(Clock::time_point deadline) {
    if (fd_ < 0 || eof_) return false;
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char buffer[65536];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) {
      eof_ = true;
      ended_ = true;
      Decode();
      return false;
    }
    raw_.append(buffer, static_cast<std::size_t>(n));
    Decode();
    return true;
  }

  void Decode() {
    if (!head_done_) {
      const auto end = raw_.find("\r\n\r\n");
      if (end == std::string::npos) return;
      const std::string head = raw_.substr(0, end);
      raw_.erase(0, end + 4);
      head_done_ = true;
      std::size_t pos = head.find("\r\n");
      const std::string status_line = head.substr(0, pos);
      const auto space = status_line.find(' ');
      if (space != std::string::npos) reply_.status = std::atoi(status_line.c_str() + space + 1);
      while (pos != std::string::npos && pos < head.size()) {
        const std::size_t start = pos + 2;
        pos = head.find("\r\n", start);
        const std::string line = head.substr(start, pos == std::string::npos ? std::string::npos : pos - start);
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        std::string& slot = reply_.headers[Lower(line.substr(0, colon))];
        slot += (slot.empty() ? "" : ", ") + value;
      }
      chunked_ = Lower(reply_.Header("Transfer-Encoding")).find("chunked") != std::string::npos;
      if (reply_.Has("Content-Length")) content_length_ = std::stol(reply_.Header("Content-Length"));
      if (reply_.status == 204 || reply_.status == 304) content_length_ = 0;
    }
    if (chunked_) {
      while (!terminal_chunk_) {
        const auto line_end = raw_.find("\r\n");
        if (line_end == std::string::npos) return;
        const std::size_t size = std::stoul(raw_.substr(0, line_end), nullptr, 16);
        if (size == 0) {
          terminal_chunk_ = true;
          ended_ = true;
          return;
        }
        if (raw_.size() < line_end + 2 + size + 2) return;
        reply_.body.append(raw_, line_end + 2, size);
        raw_.erase(0, line_end + 2 + size + 2);
      }
    } else {
      reply_.body += raw_;
      raw_.clear();
      if (content_length_ >= 0 && static_cast<long>(reply_.body.size()) >= content_length_) ended_ = true;
    }
  }

  int fd_ = -1;
  std::string raw_;
  bool head_done_ = false;
  bool chunked_ = false;
  bool terminal_chunk_ = false;
  bool eof_ = false;
  bool ended_ = false;
  long content_length_ = -1;
  Reply reply_;
};

std::string Request(const std::string& method, const std::string& target, const HeaderList& headers = {},
                    const std::string& body = {}) {
  std::string out = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (const auto& [name, value] : headers) out += name + ": " + value + "\r\n";
  if (!body.empty()) out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return out + "\r\n" + body;
}

Reply Http(std::uint16_t port, const std::string& method, const std::string& target, const HeaderList& headers = {},
           const std::string& body = {}) {
  Connection c(port, Request(method, target, headers, body));
  c.ReadAll(seconds(15));
  return c.reply();
}

Reply Get(std::uint16_t port, const std::string& target, const HeaderList& headers = {}) {
  return Http(port, "GET", target, headers);
}

json Json(const Reply& r) {
  json j = json::parse(r.body, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON (" << r.status << "): " << r.body.substr(0, 300);
  return j;
}

std::string Gunzip(const std::string& data) {
  z_stream s{};
  EXPECT_EQ(inflateInit2(&s, 16 + MAX_WBITS), Z_OK);
  std::string out;
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  s.avail_in = static_cast<uInt>(data.size());
  char buffer[65536];
  int rc = Z_OK;
  while (rc == Z_OK) {
    s.next_out = reinterpret_cast<Bytef*>(buffer);
    s.avail_out = sizeof buffer;
    rc = inflate(&s, Z_NO_FLUSH);
    out.append(buffer, sizeof buffer - s.avail_out);
  }
  EXPECT_EQ(rc, Z_STREAM_END);
  inflateEnd(&s);
  return out;
}

// Value of the gauge/counter lines starting with `prefix` in /metrics (summed).
double MetricOf(std::uint16_t port, const std::string& prefix) {
  return Metric("http://127.0.0.1:" + std::to_string(port), prefix);
}

// ---- the api under test ---------------------------------------------------------------------------

struct Api {
  std::uint16_t port = 0;
  std::unique_ptr<Process> process;
};

Api StartApi(const std::string& dir, const std::string& name, std::vector<std::string> flags, bool wait_ready = true) {
  Api a;
  a.port = FreePort();
  std::vector<std::string> args = {"api", "--listen", "127.0.0.1:" + std::to_string(a.port)};
  args.insert(args.end(), flags.begin(), flags.end());
  a.process = std::make_unique<Process>(args, dir + "/" + name + ".log");
  const auto probe = [&] { return Get(a.port, "/healthz").status == 200; };
  EXPECT_TRUE(WaitUntil(probe, seconds(30))) << a.process->Log();
  if (wait_ready) {
    EXPECT_TRUE(WaitUntil([&] { return Get(a.port, "/readyz").status == 200; }, seconds(60)))
        << Get(a.port, "/readyz").body << "\n"
        << a.process->Log();
  }
  return a;
}

class ApiHttp : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto start = Clock::now();
    const auto phase = [&](const char* what) {
      std::cout << "[ figure   ] set-up: " << what << " after "
                << std::chrono::duration<double>(Clock::now() - start).count() << " s\n";
    };
    dir_ = new std::string(TempDir());
    prefix_ = new std::string(UniquePrefix());
    pipeline_ = new RecordingsPipeline(StartRecordingsPipeline(*dir_, *prefix_));
    ASSERT_FALSE(HasFailure());
    phase("events in Kafka");

    pg_uri_ = new std::string(CreateDatabase("http"));
    Process migrate({"migrate", "--postgres", *pg_uri_}, *dir_ + "/migrate.log");
    const auto migrated = migrate.Wait(seconds(60));
    ASSERT_TRUE(migrated.has_value() && *migrated == 0) << migrate.Log();

    mongo_db_ = new std::string("http_" + *prefix_);
    while (mongo_db_->back() == '-') mongo_db_->pop_back();
    audit_ = new Service(StartAuditConsumer(*dir_, *prefix_, *mongo_db_));
    // A group of its own: joining the shared default group waits for members of earlier runs to expire.
    const std::string group = *prefix_ + "store";
    store_ = new Service(StartStore(*dir_, "store", *prefix_, *pg_uri_, {"--group", group}));
    postgres::Connection db(*pg_uri_);
    const auto ends = EndOffsets(*prefix_);
    ASSERT_TRUE(WaitUntil([&] { return CaughtUp(db, group, ends); }, seconds(60))) << store_->process->Log();
    block_count_ = Count(db, "blocks");
    phase("PostgreSQL model caught up");

    api_ = new Api(StartApi(*dir_, "api", BackendFlags({"--cors-origin", kUiOrigin, "--max-subscribers", "2",
                                                         "--keepalive", "1", "--drain", "2"})));
    // The audit store has everything once the last block of each recording is served by the sidecar route.
    ASSERT_TRUE(WaitUntil(
        [] {
          return Get(api_->port, "/block/153d7a0d0313033cf4636187c02f44d9c68de5c273fa075f8a0e479700a7f4ee").status ==
                     200 &&
                 Get(api_->port, std::string("/block/") + kBlock3991).status == 200;
        },
        seconds(60)))
        << audit_->process->Log();
    phase("api ready, audit store filled");
  }

  static void TearDownTestSuite() {
    if (api_) {
      api_->process->Signal(SIGTERM);
      EXPECT_EQ(api_->process->Wait(seconds(10)), std::optional<int>(0)) << api_->process->Log();
    }
    delete api_;
    // The consumers leave their groups cleanly.
    for (Service* s : {store_, audit_, pipeline_ ? &pipeline_->produce : nullptr}) {
      if (s) StopGracefully(*s);
    }
    for (Service* s : {store_, audit_}) delete s;
    delete pipeline_;
  }

  // --postgres --mongo --kafka of this suite's pipeline, then `extra`.
  static std::vector<std::string> BackendFlags(std::vector<std::string> extra) {
    std::vector<std::string> flags = {"--postgres",     *pg_uri_, "--mongo", MongoDatabaseUri(*mongo_db_), "--kafka",
                                      RequireEnv("KAFKA_BOOTSTRAP"), "--topic-prefix", *prefix_,
                                      // /events as the node streams (these pipelines have no chain stage)
                                      "--events", "node"};
    flags.insert(flags.end(), extra.begin(), extra.end());
    return flags;
  }

  static std::uint16_t Port() { return api_->port; }

  static inline std::string* dir_ = nullptr;
  static inline std::string* prefix_ = nullptr;
  static inline std::string* pg_uri_ = nullptr;
  static inline std::string* mongo_db_ = nullptr;
  static inline long block_count_ = 0;
  static inline RecordingsPipeline* pipeline_ = nullptr;  // emit v2, emit v1, produce
  static inline Service* audit_ = nullptr;
  static inline Service* store_ = nullptr;
  static inline Api* api_ = nullptr;
};

// The BlockAdded of height 3991 as the node sent it.
json RecordedBlock3991() {
  for (const auto& e : ReadRecording(RecordingsDir() + "/v2/events.stream")) {
    if (e.id && *e.id == 7) return json::parse(e.data).at("BlockAdded");
  }
  ADD_FAILURE() << "event 7 not in the recording";
  return json();
}

TEST_F(ApiHttp, BlockByHashAndByHeight) {
  const json recorded = RecordedBlock3991();
  const json& header = recorded.at("block").at("Version2").at("header");
  Reply by_hash = Get(Port(), std::string("/api/v1/blocks/") + kBlock3991);
  ASSERT_EQ(by_hash.status, 200) << by_hash.body;
  EXPECT_EQ(by_hash.Header("Content-Type").rfind("application/json", 0), 0u);
  const json block = Json(by_hash);
  EXPECT_EQ(block.at("blockHash"), kBlock3991);
  EXPECT_EQ(block.at("blockHeight"), 3991);
  EXPECT_EQ(block.at("eraId"), header.at("era_id"));
  EXPECT_EQ(block.at("timestamp"), header.at("timestamp"));
  EXPECT_EQ(block.at("parentHash"), header.at("parent_hash"));
  EXPECT_EQ(block.at("proposer"), header.at("proposer"));
  EXPECT_EQ(block.at("protocolVersion"), header.at("protocol_version"));
  // Upper-case hex is the same block; the height gives the same JSON.
  std::string upper = kBlock3991;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(Get(Port(), "/api/v1/blocks/" + upper).body, by_hash.body);
  Reply by_height = Get(Port(), "/api/v1/blocks/3991");
  ASSERT_EQ(by_height.status, 200) << by_height.body;
  EXPECT_EQ(by_height.body, by_hash.body);
  EXPECT_EQ(by_height.Header("ETag"), "");
  // latest = the greatest height of both recordings (1.x block 1239489).
  Reply latest = Get(Port(), "/api/v1/blocks/latest");
  ASSERT_EQ(latest.status, 200) << latest.body;
  EXPECT_EQ(Json(latest).at("blockHeight"), 1239489);
  // HEAD: the GET's headers without a body.
  Connection head(Port(), Request("HEAD", std::string("/api/v1/blocks/") + kBlock3991));
  ASSERT_TRUE(head.ReadHead(seconds(10)));
  EXPECT_EQ(head.reply().status, 200);
  EXPECT_EQ(head.reply().Header("Content-Length"), std::to_string(by_hash.body.size()));
}

TEST_F(ApiHttp, BlocksPageShapeAndCursorWalk) {
  Reply r = Get(Port(), "/api/v1/blocks");
  ASSERT_EQ(r.status, 200) << r.body;
  const json page = Json(r);
  std::set<std::string> keys;
  for (const auto& [key, value] : page.items()) keys.insert(key);
  EXPECT_EQ(keys, (std::set<std::string>{"data", "pageCount", "itemCount", "pageNumber", "next"}));
  EXPECT_EQ(page.at("itemCount"), block_count_);
  EXPECT_EQ(page.at("pageNumber"), 1);
  EXPECT_EQ(page.at("pageCount"), (block_count_ + 9) / 10);
  EXPECT_EQ(page.at("data").size(), std::min<std::size_t>(10, static_cast<std::size_t>(block_count_)));
  EXPECT_TRUE(page.at("next").is_string());
  ASSERT_GE(block_count_, 10);

  // Page walk and cursor walk (size 3) give the same blocks in the same order, every block once.
  std::vector<std::string> by_pages;
  const long pages = (block_count_ + 2) / 3;
  for (long p = 1; p <= pages; ++p) {
    Reply rp = Get(Port(), "/api/v1/blocks?size=3&page=" + std::to_string(p));
    ASSERT_EQ(rp.status, 200) << rp.body;
    const json j = Json(rp);
    EXPECT_EQ(j.at("pageNumber"), p);
    EXPECT_EQ(j.at("pageCount"), pages);
    for (const auto& b : j.at("data")) by_pages.push_back(b.at("blockHash"));
  }
  std::vector<std::string> by_cursor;
  Reply first = Get(Port(), "/api/v1/blocks?size=3");
  json j = Json(first);
  for (const auto& b : j.at("data")) by_cursor.push_back(b.at("blockHash"));
  int steps = 0;
  while (j.at("next").is_string() && ++steps < 100) {
    Reply rc = Get(Port(), "/api/v1/blocks?size=3&after=" + j.at("next").get<std::string>());
    ASSERT_EQ(rc.status, 200) << rc.body;
    j = Json(rc);
    EXPECT_FALSE(j.contains("itemCount")) << rc.body.substr(0, 200);
    for (const auto& b : j.at("data")) by_cursor.push_back(b.at("blockHash"));
  }
  EXPECT_EQ(by_cursor, by_pages);
  EXPECT_EQ(static_cast<long>(by_pages.size()), block_count_);
  EXPECT_EQ(std::set<std::string>(by_pages.begin(), by_pages.end()).size(), by_pages.size());
  // Ascending by height: the reverse order of a 16-block store sorted the other way.
  Reply asc = Get(Port(), "/api/v1/blocks?size=100&order_by=blockHeight&order_direction=ASC");
  ASSERT_EQ(asc.status, 200) << asc.body;
  long previous = -1;
  const json ascending = Json(asc);
  for (const auto& b : ascending.at("data")) {
    EXPECT_GT(b.at("blockHeight").get<long>(), previous);
    previous = b.at("blockHeight").get<long>();
  }
}

TEST_F(ApiHttp, AmountsAreJavaNumbersOnTheJavaEntitiesAndStringsElsewhere) {
  // The Java store's entities (Deploy, Transfer, EraValidator, rewards) render amounts as its
  // BigInteger did: JSON numbers with every digit; this store's own resources keep decimal strings.
  const std::set<std::string> amounts = {"amount", "paymentAmount", "cost", "consumed", "refund", "gasLimit",
                                         "gas",    "stakedAmount",  "weight", "rewards", "transferId"};
  int numbers = 0;
  int strings = 0;
  std::set<std::string> seen;
  struct Path {
    const char* path;
    bool java;
  };
  for (const Path& p : {Path{"/api/v1/deploys?size=100", true}, Path{"/api/v1/transfers?size=100", true},
                        Path{"/api/v1/era-validators?size=100", true}, Path{"/api/v1/transactions?size=100", false},
                        Path{"/api/v1/validators?size=100", false}, Path{"/api/v1/withdrawals?size=100", false}}) {
    Reply r = Get(Port(), p.path);
    ASSERT_EQ(r.status, 200) << p.path << " " << r.body;
    const json list = Json(r);
    for (const auto& item : list.at("data")) {
      for (const auto& [key, value] : item.items()) {
        if (!amounts.count(key) || value.is_null()) continue;
        seen.insert(key);
        if (p.java) {
          EXPECT_TRUE(value.is_number_unsigned()) << p.path << " " << key << " = " << value.dump();
          // Written digit for digit: the raw body holds the number without quotes or exponent.
          EXPECT_NE(r.body.find("\"" + key + "\":" + value.dump()), std::string::npos) << key << " " << value.dump();
          ++numbers;
        } else {
          EXPECT_TRUE(value.is_string()) << p.path << " " << key << " = " << value.dump();
          if (!value.is_string()) continue;
          ++strings;
          EXPECT_FALSE(value.get<std::string>().empty());
          for (char c : value.get<std::string>()) EXPECT_TRUE(std::isdigit(static_cast<unsigned char>(c))) << value;
        }
      }
    }
  }
  EXPECT_GT(numbers, 0);
  EXPECT_GT(strings, 0);
  std::cout << "[ figure   ] " << numbers << " Java amounts checked as numbers, " << strings
            << " as strings, fields:";
  for (const auto& f : seen) std::cout << ' ' << f;
  std::cout << '\n';
}

TEST_F(ApiHttp, EtagAndNotModified) {
  const std::string path = std::string("/api/v1/blocks/") + kBlock3991;
  Reply r = Get(Port(), path);
  ASSERT_EQ(r.status, 200);
  const std::string etag = r.Header("ETag");
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(etag.front(), '"');
  EXPECT_EQ(r.Header("Cache-Control"), "public, max-age=31536000, immutable");
  Reply again = Get(Port(), path, {{"If-None-Match", etag}});
  EXPECT_EQ(again.status, 304);
  EXPECT_EQ(again.body, "");
  EXPECT_EQ(again.Header("ETag"), etag);
  EXPECT_EQ(Get(Port(), path, {{"If-None-Match", "W/" + etag}}).status, 304);
  EXPECT_EQ(Get(Port(), path, {{"If-None-Match", "\"something-else\""}}).status, 200);
  // By height: not cached.
  Reply by_height = Get(Port(), "/api/v1/blocks/3991");
  EXPECT_NE(by_height.Header("Cache-Control").find("no-cache"), std::string::npos) << by_height.Header("Cache-Control");
}

TEST_F(ApiHttp, GzipOfALargeList) {
  const std::string path = "/api/v1/blocks?size=100";
  Reply plain = Get(Port(), path);
  ASSERT_EQ(plain.status, 200);
  EXPECT_EQ(plain.Header("Content-Encoding"), "");
  ASSERT_GE(plain.body.size(), 1024u);
  Reply zipped = Get(Port(), path, {{"Accept-Encoding", "gzip, deflate, br"}});
  ASSERT_EQ(zipped.status, 200);
  EXPECT_EQ(zipped.Header("Content-Encoding"), "gzip");
  EXPECT_NE(Lower(zipped.Header("Vary")).find("accept-encoding"), std::string::npos) << zipped.Header("Vary");
  EXPECT_LT(zipped.body.size(), plain.body.size());
  EXPECT_EQ(Gunzip(zipped.body), plain.body);
  std::cout << "[ figure   ] " << path << ": " << plain.body.size() << " bytes, gzip " << zipped.body.size() << '\n';
  // Refused with q=0, and small bodies stay plain.
  EXPECT_EQ(Get(Port(), path, {{"Accept-Encoding", "gzip;q=0"}}).Header("Content-Encoding"), "");
  Reply small = Get(Port(), "/api/v1/blocks/latest", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(small.status, 200);
  if (small.body.size() < 1024) {
    EXPECT_EQ(small.Header("Content-Encoding"), "");
  }
}

TEST_F(ApiHttp, Cors) {
  Reply allowed = Get(Port(), "/api/v1/blocks/latest", {{"Origin", kUiOrigin}});
  EXPECT_EQ(allowed.status, 200);
  EXPECT_EQ(allowed.Header("Access-Control-Allow-Origin"), kUiOrigin);
  EXPECT_NE(allowed.Header("Vary").find("Origin"), std::string::npos) << allowed.Header("Vary");

  Reply preflight = Http(Port(), "OPTIONS", "/api/v1/blocks",
                         {{"Origin", kUiOrigin}, {"Access-Control-Request-Method", "GET"},
                          {"Access-Control-Request-Headers", "If-None-Match"}});
  EXPECT_EQ(preflight.status, 204);
  EXPECT_EQ(preflight.Header("Access-Control-Allow-Origin"), kUiOrigin);
  EXPECT_NE(preflight.Header("Access-Control-Allow-Methods").find("GET"), std::string::npos)
      << preflight.Header("Access-Control-Allow-Methods");
  EXPECT_NE(Lower(preflight.Header("Access-Control-Allow-Headers")).find("if-none-match"), std::string::npos);

  Reply foreign = Get(Port(), "/api/v1/blocks/latest", {{"Origin", "http://evil.example"}});
  EXPECT_EQ(foreign.status, 200);
  EXPECT_FALSE(foreign.Has("Access-Control-Allow-Origin")) << foreign.Header("Access-Control-Allow-Origin");
  Reply foreign_preflight = Http(Port(), "OPTIONS", "/api/v1/blocks",
                                 {{"Origin", "http://evil.example"}, {"Access-Control-Request-Method", "GET"}});
  EXPECT_FALSE(foreign_preflight.Has("Access-Control-Allow-Origin"));
  EXPECT_FALSE(foreign_preflight.Has("Access-Control-Allow-Methods"));
  // The SSE and sidecar routes get the same treatment.
  Reply sidecar = Get(Port(), "/block/3991", {{"Origin", kUiOrigin}});
  EXPECT_EQ(sidecar.Header("Access-Control-Allow-Origin"), kUiOrigin);
}

TEST_F(ApiHttp, CorsIsOpenByDefaultAsTheSidecars) {
  // No --cors-origin: any origin, as casper-sidecar; --cors-origin none: no CORS headers.
  Api open = StartApi(*dir_, "api-cors-open", {});
  Reply r = Get(open.port, "/api-docs", {{"Origin", "http://any.example"}});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("Access-Control-Allow-Origin"), "http://any.example");
  Reply preflight = Http(open.port, "OPTIONS", "/api-docs",
                         {{"Origin", "http://any.example"}, {"Access-Control-Request-Method", "GET"}});
  EXPECT_EQ(preflight.status, 204);
  EXPECT_EQ(preflight.Header("Access-Control-Allow-Origin"), "http://any.example");
  EXPECT_NE(preflight.Header("Access-Control-Allow-Methods").find("GET"), std::string::npos);
  Api closed = StartApi(*dir_, "api-cors-none", {"--cors-origin", "none"});
  EXPECT_FALSE(Get(closed.port, "/api-docs", {{"Origin", "http://any.example"}}).Has("Access-Control-Allow-Origin"));
}

void ExpectBadParameter(std::uint16_t port, const std::string& path, const std::string& parameter) {
  Reply r = Get(port, path);
  EXPECT_EQ(r.status, 400) << path << " " << r.body;
  const json j = Json(r);
  if (j.is_discarded()) return;
  EXPECT_EQ(j.value("code", 0), 400) << path;
  EXPECT_EQ(j.value("parameter", ""), parameter) << path << " " << r.body;
  EXPECT_FALSE(j.value("message", "").empty()) << path;
}

TEST_F(ApiHttp, ErrorStatuses) {
  ExpectBadParameter(Port(), "/api/v1/blocks/xyz", "hash");
  ExpectBadParameter(Port(), "/api/v1/deploys/abc", "hash");
  ExpectBadParameter(Port(), "/api/v1/blocks?size=0", "size");
  ExpectBadParameter(Port(), "/api/v1/blocks?size=abc", "size");
  ExpectBadParameter(Port(), "/api/v1/blocks?size=1001", "size");
  ExpectBadParameter(Port(), "/api/v1/blocks?order_by=height", "order_by");
  ExpectBadParameter(Port(), "/api/v1/blocks?order_by=timestamp;DROP%20TABLE%20blocks", "order_by");
  ExpectBadParameter(Port(), "/api/v1/blocks?page=0", "page");
  ExpectBadParameter(Port(), "/api/v1/blocks?order_direction=up", "order_direction");
  ExpectBadParameter(Port(), "/api/v1/blocks?after=not-a-cursor", "after");

  Reply missing = Get(Port(), "/api/v1/blocks/" + std::string(64, '0'));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(Json(missing).value("code", 0), 404);
  Reply no_route = Get(Port(), "/api/v1/no-such-thing");
  EXPECT_EQ(no_route.status, 404);
  EXPECT_EQ(Json(no_route).value("code", 0), 404);
  EXPECT_EQ(no_route.Header("Content-Type").rfind("application/json", 0), 0u);

  Reply post = Http(Port(), "POST", "/api/v1/blocks", {{"Content-Type", "application/json"}}, "{}");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(Json(post).value("code", 0), 405);
  EXPECT_NE(post.Header("Allow").find("GET"), std::string::npos) << post.Header("Allow");
  EXPECT_EQ(Http(Port(), "DELETE", std::string("/api/v1/blocks/") + kBlock3991).status, 405);

  // A body over the limit (1 MiB): 413, whether or not the client sends it all.
  Reply announced = Http(Port(), "POST", "/api/v1/blocks", {{"Content-Length", std::to_string(64 << 20)}});
  EXPECT_EQ(announced.status, 413) << announced.body;
  Reply sent = Http(Port(), "POST", "/api/v1/blocks", {}, std::string(2 << 20, 'x'));
  EXPECT_EQ(sent.status, 413) << sent.body;
  // The server is still fine.
  EXPECT_EQ(Get(Port(), "/api/v1/blocks/3991").status, 200);
}

TEST_F(ApiHttp, NeverA500ForBadInput) {
  const std::string long_hex(5000, 'a');
  const std::vector<std::string> targets = {
      "/api/v1/blocks/%",
      "/api/v1/blocks/%zz",
      "/api/v1/blocks/%00",
      "/api/v1/blocks/%E2%82",
      "/api/v1/blocks/%C3%A9%E2%82%AC",
      "/api/v1/blocks/\xC3\xA9\xE2\x82\xAC",
      "/api/v1/blocks/99999999999999999999999999999",
      "/api/v1/blocks/9223372036854775808",
      "/api/v1/blocks/-1",
      "/api/v1/blocks/" + long_hex,
      "/api/v1/blocks?size=%",
      "/api/v1/blocks?size=",
      "/api/v1/blocks?size=-5",
      "/api/v1/blocks?size=99999999999999999999999",
      "/api/v1/blocks?size=1&size=2",
      "/api/v1/blocks?page=-1",
      "/api/v1/blocks?page=99999999999999999999",
      "/api/v1/blocks?page=1000000000&size=1000",
      "/api/v1/blocks?order_by=",
      "/api/v1/blocks?order_direction=asc",
      "/api/v1/blocks?after=",
      "/api/v1/blocks?after=%FF%FE",
      "/api/v1/blocks?after=AAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      "/api/v1/blocks?page=2&after=x",
      "/api/v1/blocks?from_time=2024-02-30T00:00:00Z",
      "/api/v1/blocks?from_time=&to_time=",
      "/api/v1/blocks?from_time=99999-01-01T00:00:00Z",
      "/api/v1/blocks?era=-1",
      "/api/v1/blocks?era=9223372036854775808",
      "/api/v1/blocks?proposer=%27%20OR%201=1--",
      "/api/v1/blocks?&&&=&=&%3D",
      "/api/v1/deploys?status=",
      "/api/v1/transactions?kind=version3&status=pending",
      "/api/v1/transfers?account=account-hash-",
      "/api/v1/accounts/account-hash-zz/transfers",
      "/api/v1/validators/01zz/rewards",
      "/api/v1/delegators/%00/total-rewards",
      "/api/v1/eras/18446744073709551616",
      "/api/v1/era-validators/-0",
      "/api/v1/steps/1e10",
      "/api/v1/../../etc/passwd",
      "/api/v1/blocks/..%2F..%2Fetc%2Fpasswd",
      "/swagger-ui/../../etc/passwd",
      "/swagger-ui/..%2F..%2Fetc%2Fpasswd",
      "/swagger-ui/%2e%2e",
      "/api/v1/events?limit=-1",
      "/api/v1/events?limit=999999999999999999999",
      "/api/v1/events?cursor=garbage",
      "/api/v1/events?block_height=abc",
      "/api/v1/events?from_time=yesterday",
      "/api/v1/events?nonsense=1",
      "/api/v1/events/http%3A%2F%2Fx/events/4294967296",
      "/api/v1/events/%2e%2e/x/-1",
      "/events?max_events=-1",
      "/events?start_from=abc",
      "/events?block_hash=zz",
      "/events/main?type=%FF",
      "/block/-1",
      "/block/%FF%FE",
      "/block/18446744073709551616",
      "/transaction/deploy/zz",
      "/transaction/version3/" + std::string(64, 'a'),
      "/transaction/accepted/deploy/%",
      "/faults/%20",
      "/signatures/" + long_hex,
      "/step/99999999999999999999999",
      "/%",
      "//",
      "/api/v1//blocks",
      "*",
  };
  int checked = 0;
  for (const auto& target : targets) {
    Connection c(Port(), Request("GET", target));
    ASSERT_TRUE(c.ReadHead(seconds(15))) << target;
    const int status = c.reply().status;
    EXPECT_GE(status, 200) << target;
    EXPECT_LT(status, 500) << target;
    if (status >= 400) {
      ASSERT_TRUE(c.ReadAll(seconds(15))) << target;
      const json j = json::parse(c.reply().body, nullptr, false);
      EXPECT_TRUE(!j.is_discarded() && j.value("code", 0) == status) << target << " " << c.reply().body.substr(0, 200);
    }
    ++checked;
  }
  // Raw bytes the request line should not hold at all.
  for (const std::string& line : {std::string("GET /api/v1/blocks/a b HTTP/1.1"), std::string("GET /api/v1/\x01\x7f HTTP/1.1"),
                                  std::string("GET api/v1/blocks HTTP/1.1"), std::string("GET /api/v1/blocks HTTP/9.9"),
                                  std::string("GET\t/ HTTP/1.1")}) {
    Connection c(Port(), line + "\r\nHost: x\r\nConnection: close\r\n\r\n");
    c.ReadAll(seconds(15));
    // 505 is the answer to an unknown HTTP version; nothing else may be 5xx.
    const int status = c.reply().status;
    EXPECT_TRUE(status == 0 || (status >= 400 && status < 500) || (status == 505 && line.find("HTTP/9.9") != std::string::npos))
        << line << " -> " << status;
    ++checked;
  }
  std::cout << "[ figure   ] " << checked << " malformed requests, none answered 500\n";
  EXPECT_EQ(Get(Port(), "/readyz").status, 200) << Get(Port(), "/readyz").body;
}

TEST_F(ApiHttp, RateLimit) {
  Api limited = StartApi(*dir_, "api-limited", {"--postgres", *pg_uri_, "--rate-limit", "1"}, false);
  int ok = 0, limited_count = 0;
  Reply last_429;
  for (int i = 0; i < 12; ++i) {
    Reply r = Get(limited.port, "/api/v1/blocks/3991");
    if (r.status == 200) ++ok;
    if (r.status == 429) {
      ++limited_count;
      last_429 = r;
    }
  }
  EXPECT_GE(ok, 1);
  EXPECT_GE(limited_count, 8);
  EXPECT_EQ(Json(last_429).value("code", 0), 429);
  EXPECT_FALSE(last_429.Header("Retry-After").empty());
  std::cout << "[ figure   ] --rate-limit 1: 12 back-to-back requests -> " << ok << " x 200, " << limited_count
            << " x 429\n";
  limited.process->Signal(SIGTERM);
  EXPECT_EQ(limited.process->Wait(seconds(10)), std::optional<int>(0)) << limited.process->Log();
}

TEST_F(ApiHttp, PostgresDown) {
  const std::uint16_t closed = FreePort();
  const std::string uri = "postgresql://postgres@127.0.0.1:" + std::to_string(closed) + "/casper?connect_timeout=2";
  Api down = StartApi(*dir_, "api-pg-down", {"--postgres", uri, "--pg-pool-timeout", "0.5"}, false);
  Reply r = Get(down.port, "/api/v1/blocks");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(Json(r).value("code", 0), 503);
  Reply block = Get(down.port, std::string("/api/v1/blocks/") + kBlock3991);
  EXPECT_EQ(block.status, 503) << block.body;
  EXPECT_EQ(Get(down.port, "/readyz").status, 503);
  // Bad input is still a 400, not a 503.
  EXPECT_EQ(Get(down.port, "/api/v1/blocks/xyz").status, 400);
  EXPECT_EQ(Get(down.port, "/api/v1/blocks?size=0").status, 400);
  EXPECT_EQ(Get(down.port, "/healthz").status, 200);
  down.process->Signal(SIGTERM);
  EXPECT_EQ(down.process->Wait(seconds(10)), std::optional<int>(0)) << down.process->Log();
}

TEST_F(ApiHttp, SidecarRoutes) {
  Reply latest = Get(Port(), "/block");
  ASSERT_EQ(latest.status, 200) << latest.body;
  json j = Json(latest);
  ASSERT_TRUE(j.is_object());
  EXPECT_TRUE(j.at("header").contains("api_version")) << latest.body.substr(0, 200);
  // network_name: each node's chainspec name, learned from the transactions it accepted (the latest
  // block is the 1.x recording's, a casper-test node; block 3991 the 2.x one's).
  EXPECT_EQ(j.at("header").at("network_name"), "casper-test");
  EXPECT_TRUE(j.at("payload").contains("block_hash"));
  Reply by_height = Get(Port(), "/block/3991");
  ASSERT_EQ(by_height.status, 200) << by_height.body;
  j = Json(by_height);
  EXPECT_EQ(j.at("header").at("api_version"), "2.0.0");
  EXPECT_EQ(j.at("payload").at("block_hash"), kBlock3991);
  EXPECT_EQ(j.at("payload"), RecordedBlock3991());
  EXPECT_EQ(j.at("header").at("network_name"), "casper-net-1");
  Reply by_hash = Get(Port(), std::string("/block/") + kBlock3991);
  EXPECT_EQ(by_hash.body, by_height.body);
  EXPECT_FALSE(by_hash.Header("ETag").empty());
  Reply unknown = Get(Port(), "/block/1");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body, R"({"code":404,"message":"Query returned no results"})");
  // The sidecar's 400 for a bad parameter and for any other path under its routes (and its root).
  for (const char* target : {"/block/xyz", "/transaction/version3/" "0000000000000000000000000000000000000000000000000000000000000000",
                             "/faults/01zz", "/step/era", "/block/1/2", "/deploy", "/status/x", "/"}) {
    Reply bad = Get(Port(), target);
    EXPECT_EQ(bad.status, 400) << target;
    EXPECT_EQ(bad.body, R"({"code":400,"message":"Invalid request path provided"})") << target;
  }
  EXPECT_EQ(Get(Port(), "/no-such-route").status, 404);  // outside the sidecar's roots: this server's 404
  Reply status = Get(Port(), "/status");
  ASSERT_EQ(status.status, 200);
  EXPECT_TRUE(Json(status).at("version").is_string());
  EXPECT_EQ(Get(Port(), std::string("/transaction/Deploy/") + "cb04018ad3a09fc15fda0e5c18def392a135652c73c864c25968be9b2376c139").status, 200);
}

TEST_F(ApiHttp, Documentation) {
  Reply docs = Get(Port(), "/api-docs");
  ASSERT_EQ(docs.status, 200);
  EXPECT_EQ(docs.Header("Content-Type").rfind("application/json", 0), 0u);
  const json j = Json(docs);
  ASSERT_TRUE(j.contains("openapi"));
  EXPECT_TRUE(j.at("paths").contains("/api/v1/blocks/{hash}"));
  Reply ui = Get(Port(), "/swagger-ui/");
  if (ui.status == 200) {
    EXPECT_EQ(ui.Header("Content-Type").rfind("text/html", 0), 0u);
    EXPECT_NE(Lower(ui.body).find("swagger"), std::string::npos);
    std::cout << "[ figure   ] /swagger-ui/ served (swagger-ui-dist installed)\n";
  } else {
    EXPECT_EQ(ui.status, 404);
    EXPECT_NE(ui.body.find("not installed"), std::string::npos) << ui.body;
    std::cout << "[ figure   ] /swagger-ui/: swagger-ui-dist not installed (404 JSON)\n";
  }
}

TEST_F(ApiHttp, ReadyAndMetrics) {
  Reply ready = Get(Port(), "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  Get(Port(), std::string("/api/v1/blocks/") + kBlock3991);
  Reply metrics = Get(Port(), "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("ces_api_http_requests_total{"), std::string::npos);
  EXPECT_NE(metrics.body.find("route=\"/api/v1/blocks/{hash}\""), std::string::npos);
  EXPECT_NE(metrics.body.find("route=\"/block/{block_id}\""), std::string::npos)
      << "sidecar route label missing";
  EXPECT_NE(metrics.body.find("\nces_api_sse_subscribers "), std::string::npos);
  EXPECT_GT(MetricOf(Port(), "ces_api_http_requests_total{"), 10);
}

// An SSE client on a raw connection: `body` is the de-chunked stream.
class SseClient {
 public:
  SseClient(std::uint16_t port, const std::string& target)
      : connection_(port, Request("GET", target, {{"Accept", "text/event-stream"}})) {}
  bool WaitFor(const std::string& text, milliseconds timeout) {
    return connection_.ReadUntil([&](const std::string& body) { return body.find(text) != std::string::npos; },
                                 timeout);
  }
  Connection& connection() { return connection_; }
  const std::string& body() const { return connection_.reply().body; }

 private:
  Connection connection_;
};

TEST_F(ApiHttp, LiveEventsThroughKafka) {
  ASSERT_TRUE(WaitUntil([] { return MetricOf(Port(), "ces_api_sse_subscribers") == 0; }, seconds(10)));
  SseClient client(Port(), "/events?type=BlockAdded");
  ASSERT_TRUE(client.connection().ReadHead(seconds(10)));
  ASSERT_EQ(client.connection().reply().status, 200) << client.body();
  EXPECT_EQ(client.connection().reply().Header("Content-Type").rfind("text/event-stream", 0), 0u);
  ASSERT_TRUE(client.WaitFor("data:{\"ApiVersion\":", seconds(10))) << client.body();

  // A new node (another emit of the 2.x recording) behind a second produce of the same pipeline.
  Service emit = StartEmit(*dir_, "emit-live", {"--stream", RecordingsDir() + "/v2/events.stream"});
  Service produce(StartProduce(*dir_, *prefix_, {emit.url()}));
  std::vector<RecordedEvent> blocks;
  for (const auto& e : ReadRecording(RecordingsDir() + "/v2/events.stream")) {
    if (e.id && e.data.rfind("{\"BlockAdded\":", 0) == 0) blocks.push_back(e);
  }
  ASSERT_EQ(blocks.size(), 4u);
  const auto start = Clock::now();
  for (const auto& b : blocks) {
    const std::string frame = "data:" + b.data + "\nid:" + std::to_string(*b.id) + "\n\n";
    EXPECT_TRUE(client.WaitFor(frame, seconds(30))) << "missing block event " << *b.id << "\n" << client.body().substr(0, 500);
  }
  std::cout << "[ figure   ] 4 BlockAdded from a new node reached the live subscriber "
            << std::chrono::duration<double>(Clock::now() - start).count() << " s after produce was ready\n";
  // Only BlockAdded (the filter), each once.
  std::size_t events = 0;
  for (auto pos = client.body().find("\nid:"); pos != std::string::npos; pos = client.body().find("\nid:", pos + 1)) {
    ++events;
  }
  EXPECT_EQ(events, 4u) << client.body().substr(0, 2000);
  EXPECT_GE(MetricOf(Port(), "ces_api_sse_events_total"), 4);
  StopGracefully(produce);
}

TEST_F(ApiHttp, SubscriberLimit) {
  ASSERT_TRUE(WaitUntil([] { return MetricOf(Port(), "ces_api_sse_subscribers") == 0; }, seconds(10)))
      << "subscribers left from an earlier test";
  SseClient a(Port(), "/events");
  SseClient b(Port(), "/events/main");
  ASSERT_TRUE(a.WaitFor("data:{\"ApiVersion\":", seconds(10))) << a.body();
  ASSERT_TRUE(b.WaitFor("data:{\"ApiVersion\":", seconds(10))) << b.body();
  EXPECT_EQ(MetricOf(Port(), "ces_api_sse_subscribers"), 2);
  Reply third = Get(Port(), "/events/sigs");
  EXPECT_EQ(third.status, 503);
  const json j = Json(third);
  EXPECT_EQ(j.value("code", 0), 503);
  EXPECT_NE(j.value("message", "").find("too many live subscribers"), std::string::npos) << third.body;
  // Keep-alive comments flow (--keepalive 1).
  EXPECT_TRUE(a.WaitFor("\n:", seconds(5))) << a.body();
  // Once one leaves, a new subscriber is accepted.
  a.connection().Close();
  ASSERT_TRUE(WaitUntil([] { return MetricOf(Port(), "ces_api_sse_subscribers") == 1; }, seconds(10)));
  SseClient c(Port(), "/events/sigs");
  ASSERT_TRUE(c.connection().ReadHead(seconds(10)));
  EXPECT_EQ(c.connection().reply().status, 200);
}

TEST_F(ApiHttp, GracefulShutdownEndsStreams) {
  Api api = StartApi(*dir_, "api-shutdown", BackendFlags({"--drain", "2", "--keepalive", "30"}));
  SseClient live(api.port, "/events");
  ASSERT_TRUE(live.WaitFor("data:{\"ApiVersion\":", seconds(10))) << live.body();
  SseClient replay(api.port, "/events?start_from=0&source=" + std::string("http%3A%2F%2F127.0.0.1%3A") +
                                 std::to_string(pipeline_->emit2.port));
  ASSERT_TRUE(replay.WaitFor("\nid:17\n", seconds(20))) << replay.body().substr(0, 300);
  const auto start = Clock::now();
  api.process->Signal(SIGTERM);
  EXPECT_TRUE(live.WaitFor(": server shutting down", seconds(10))) << live.body();
  EXPECT_TRUE(live.connection().ReadAll(seconds(10)));
  EXPECT_TRUE(live.connection().Chunked());
  EXPECT_TRUE(live.connection().TerminalChunk()) << "the stream was cut, not ended";
  EXPECT_EQ(live.body().substr(live.body().size() - std::string(": server shutting down\n\n").size()),
            ": server shutting down\n\n");
  EXPECT_TRUE(replay.WaitFor(": server shutting down", seconds(10))) << replay.body().substr(0, 300);
  EXPECT_TRUE(replay.connection().ReadAll(seconds(10)));
  EXPECT_TRUE(replay.connection().TerminalChunk()) << "the stream was cut, not ended";
  const auto status = api.process->Wait(seconds(10));
  const double took = std::chrono::duration<double>(Clock::now() - start).count();
  ASSERT_TRUE(status.has_value()) << api.process->Log();
  EXPECT_EQ(*status, 0) << api.process->Log();
  EXPECT_LT(took, 5.0);
  std::cout << "[ figure   ] SIGTERM with 2 open streams: exit " << *status << " after " << took << " s\n";
}

}  // namespace
}  // namespace ces::test
