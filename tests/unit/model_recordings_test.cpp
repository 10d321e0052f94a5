// Every event of every recording in tests/data/casper (single events, assembled streams, raw
// captures; 1.x and 2.x) goes through ces::model::Parser: stored or ignored, never rejected, and the
// row counts per type are what the recordings hold.
#include "ces/model/parser.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace ces::model {
namespace {

namespace fs = std::filesystem;

const fs::path kData = fs::path(CES_RECORDINGS_DIR);

// The data payloads of an SSE file (one-line data fields, as in every recording) or a .json file.
std::vector<std::string> Payloads(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::string> out;
  std::string line;
  if (path.extension() == ".json") {
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!all.empty() && (all.back() == '\n' || all.back() == '\r')) all.pop_back();
    out.push_back(all);
    return out;
  }
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("data:", 0) == 0) out.push_back(line.substr(line[5] == ' ' ? 6 : 5));
  }
  return out;
}

std::vector<fs::path> Recordings() {
  std::vector<fs::path> out;
  for (const auto& entry : fs::recursive_directory_iterator(kData)) {
    if (!entry.is_regular_file()) continue;
    const fs::path& p = entry.path();
    if (p.string().find("/schema/") != std::string::npos || p.filename() == "README.md") continue;
    out.push_back(p);
  }
  return out;
}

TEST(ModelRecordings, EveryRecordedEventParses) {
  Parser parser;
  std::map<std::string, std::size_t> by_type;
  std::size_t files = 0, events = 0;
  for (const fs::path& file : Recordings()) {
    ++files;
    for (const std::string& payload : Payloads(file)) {
      ++events;
      Rows rows;
      ParseResult r = parser.Parse(payload, rows);
      EXPECT_NE(r.outcome, Outcome::kRejected) << file << ": " << r.event_type << ": " << r.reason;
      EXPECT_EQ(r.rows, rows.Count());
      if (r.outcome == Outcome::kStored) {
        EXPECT_GT(r.rows, 0u) << file << " " << r.event_type;
      }
      ++by_type[r.event_type];
    }
  }
  EXPECT_EQ(files, 36u);  // the 40 files of the folder minus the 4 schemas (README.md not counted)
  EXPECT_EQ(events, 1076u);
  for (const char* type : {"ApiVersion", "BlockAdded", "DeployAccepted", "DeployProcessed", "DeployExpired",
                           "TransactionAccepted", "TransactionProcessed", "TransactionExpired", "FinalitySignature",
                           "Fault", "Step", "Shutdown"}) {
    EXPECT_GT(by_type[type], 0u) << type << " never seen";
  }
}

struct Counts {
  std::size_t blocks = 0, switch_blocks = 0, transactions = 0, transfers = 0, signatures = 0, steps = 0, faults = 0,
              bids = 0, withdrawals = 0, validator_rewards = 0, ignored = 0;
};

Counts CountStream(const std::string& relative) {
  Parser parser;
  Rows rows;
  Counts c;
  for (const std::string& payload : Payloads(kData / relative)) {
    ParseResult r = parser.Parse(payload, rows);
    EXPECT_NE(r.outcome, Outcome::kRejected) << r.reason;
    c.ignored += r.outcome == Outcome::kIgnored;
  }
  c.blocks = rows.blocks.size();
  for (const auto& b : rows.blocks) c.switch_blocks += b.is_switch_block;
  c.transactions = rows.transactions.size();
  c.transfers = rows.transfers.size();
  c.signatures = rows.finality_signatures.size();
  c.steps = rows.steps.size();
  c.faults = rows.faults.size();
  c.bids = rows.bids.size();
  c.withdrawals = rows.withdrawals.size();
  c.validator_rewards = rows.validator_rewards.size();
  return c;
}

TEST(ModelRecordings, V2AssembledStream) {
  // ApiVersion 1, FinalitySignature 5, BlockAdded 4, Step 1, TransactionAccepted 2,
  // TransactionProcessed 3, TransactionExpired 1, Fault 1, Shutdown 1 (README).
  Counts c = CountStream("v2/events.stream");
  EXPECT_EQ(c.blocks, 4u);
  EXPECT_EQ(c.switch_blocks, 1u);
  EXPECT_EQ(c.signatures, 5u);
  EXPECT_EQ(c.steps, 1u);
  EXPECT_EQ(c.transactions, 6u);  // 2 accepted + 3 processed + 1 expired (before merging by hash)
  EXPECT_EQ(c.transfers, 2u);
  EXPECT_EQ(c.faults, 1u);
  EXPECT_EQ(c.bids, 2u);
  EXPECT_EQ(c.validator_rewards, 10u);
  EXPECT_EQ(c.ignored, 2u);
}

TEST(ModelRecordings, V1AssembledStreams) {
  // main: ApiVersion 1, BlockAdded 12, DeployProcessed 7, DeployExpired 1, Fault 1, Step 1, Shutdown 1.
  Counts main = CountStream("v1/main.stream");
  EXPECT_EQ(main.blocks, 12u);
  EXPECT_EQ(main.switch_blocks, 1u);
  EXPECT_EQ(main.transactions, 8u);
  EXPECT_EQ(main.transfers, 3u);  // transfer, success and withdraw_bid (the spliced fixture) deploys
  EXPECT_EQ(main.bids, 517u);
  EXPECT_EQ(main.withdrawals, 2u);
  EXPECT_EQ(main.steps, 1u);
  EXPECT_EQ(main.faults, 1u);
  EXPECT_EQ(main.validator_rewards, 0u);  // 1.x: from the node RPC
  EXPECT_EQ(CountStream("v1/deploys.stream").transactions, 2u);
  EXPECT_EQ(CountStream("v1/sigs.stream").signatures, 6u);
}

TEST(ModelRecordings, V2RawCapture) {
  // ApiVersion 1, FinalitySignature 799, BlockAdded 160, Step 14, TransactionAccepted 1, TransactionProcessed 1.
  Counts c = CountStream("v2/raw/casper-java-sdk/events-with-deploy.txt");
  EXPECT_EQ(c.signatures, 799u);
  EXPECT_EQ(c.blocks, 160u);
  EXPECT_EQ(c.switch_blocks, 14u);
  EXPECT_EQ(c.steps, 14u);
  EXPECT_EQ(c.transactions, 2u);
  EXPECT_EQ(c.validator_rewards, 140u);  // 14 era ends x 5 validators x 2 amounts
}

}  // namespace
}  // namespace ces::model
