// The completeness report: missing heights as ranges, blocks without signatures or with transactions
// not stored, and gap states from ingest-gaps and backfill-checkpoints records.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ces/backfill/completeness.hpp"

namespace ces::backfill {
namespace {

kafka::Message Record(std::int32_t partition, std::int64_t offset, std::optional<std::string> key, std::string value) {
  kafka::Message m;
  m.partition = partition;
  m.offset = offset;
  m.key = std::move(key);
  m.value = std::move(value);
  return m;
}

TEST(Completeness, MissingHeightsSignaturesAndTransactions) {
  const std::vector<StoredBlock> blocks = {{10, "a", 0, 0, 5}, {11, "b", 2, 2, 0}, {14, "c", 3, 1, 5}};
  const auto report = nlohmann::json::parse(CompletenessJson(8, 16, blocks, {}));
  EXPECT_EQ(report["blocks"], 3);
  EXPECT_EQ(report["missing_heights"], nlohmann::json::parse("[[8,9],[12,13],[15,16]]"));
  EXPECT_EQ(report["blocks_without_signatures"], nlohmann::json::parse("[11]"));
  ASSERT_EQ(report["blocks_missing_transactions"].size(), 1u);
  EXPECT_EQ(report["blocks_missing_transactions"][0]["height"], 14);
  EXPECT_EQ(report["blocks_missing_transactions"][0]["stored"], 1);
  EXPECT_FALSE(report["complete"]);
  const auto full = nlohmann::json::parse(CompletenessJson(10, 10, {{10, "a", 1, 1, 3}}, {}));
  EXPECT_TRUE(full["complete"]);
  EXPECT_EQ(full["missing_heights"], nlohmann::json::array());
}

TEST(Completeness, GapStatesFollowTheirCheckpoints) {
  const std::string source = "http://n:9999";
  const std::vector<kafka::Message> gaps = {
      Record(0, 0, source + " events", R"({"source":"http://n:9999","stream":"events","from_id":5,"to_id":9,"from_height":100,"detected_at":"t"})"),
      Record(0, 1, source + " events", R"({"source":"http://n:9999","stream":"events","from_id":20,"to_id":29,"from_height":200,"detected_at":"t"})"),
      Record(0, 2, source + " main", R"({"source":"http://n:9999","stream":"main","from_id":40,"to_id":49,"from_height":300,"to_height":302,"detected_at":"t"})")};
  const std::vector<kafka::Message> checkpoints = {
      Record(0, 0, source + " gap 0:0", R"({"first":100,"last":120,"next":110})"),
      Record(0, 1, source + " gap 0:0", R"({"first":100,"last":120,"next":121})"),
      Record(0, 2, source + " gap 0:1", R"({"first":200,"last":220,"next":205})")};
  const auto states = GapStates(gaps, checkpoints);
  ASSERT_EQ(states.size(), 3u);
  EXPECT_EQ(states[0].state, "filled");  // the last checkpoint of the key counts
  EXPECT_EQ(states[1].state, "filling");
  EXPECT_EQ(states[2].state, "detected");
  EXPECT_EQ(states[2].to_height, 302u);
  // Only gaps meeting the range are listed; a filled one does not keep the range incomplete.
  const auto report = nlohmann::json::parse(CompletenessJson(100, 150, {}, states));
  ASSERT_EQ(report["gaps"].size(), 1u);
  EXPECT_EQ(report["gaps"][0]["state"], "filled");
  EXPECT_EQ(report["open_gaps"], 0);
  const auto later = nlohmann::json::parse(CompletenessJson(190, 400, {}, states));
  EXPECT_EQ(later["gaps"].size(), 2u);
  EXPECT_EQ(later["open_gaps"], 2);
}

}  // namespace
}  // namespace ces::backfill
