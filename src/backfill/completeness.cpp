#include "ces/backfill/completeness.hpp"

#include <nlohmann/json.hpp>

#include <map>

namespace ces::backfill {
namespace {

std::optional<std::uint64_t> Unsigned(const nlohmann::json& doc, const char* key) {
  if (!doc.contains(key) || !doc[key].is_number_unsigned()) return std::nullopt;
  return doc[key].get<std::uint64_t>();
}

nlohmann::json OrNull(const std::optional<std::uint64_t>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

}  // namespace

std::vector<GapState> GapStates(const std::vector<kafka::Message>& gaps, const std::vector<kafka::Message>& checkpoints) {
  std::map<std::string, nlohmann::json> latest;  // checkpoint key -> its last value
  for (const kafka::Message& m : checkpoints) {
    if (!m.key) continue;
    auto doc = nlohmann::json::parse(m.value, nullptr, false);
    if (doc.is_object()) latest[*m.key] = std::move(doc);
  }
  std::vector<GapState> out;
  for (const kafka::Message& m : gaps) {
    auto doc = nlohmann::json::parse(m.value, nullptr, false);
    if (!doc.is_object()) continue;
    GapState g;
    g.gap = "gap " + std::to_string(m.partition) + ":" + std::to_string(m.offset);
    g.source = doc.value("source", std::string());
    g.stream = doc.value("stream", std::string());
    g.from_id = doc.value("from_id", std::int64_t{-1});
    g.to_id = doc.value("to_id", std::int64_t{-1});
    g.from_height = Unsigned(doc, "from_height");
    g.to_height = Unsigned(doc, "to_height");
    g.detected_at = doc.value("detected_at", std::string());
    g.state = "detected";
    // Backfill names the checkpoint after the source as produce normalised it, which the record holds.
    if (auto it = latest.find(g.source + " " + g.gap); it != latest.end()) {
      g.first = Unsigned(it->second, "first");
      g.last = Unsigned(it->second, "last");
      g.next = Unsigned(it->second, "next");
      g.state = g.next && g.last && *g.next > *g.last ? "filled" : "filling";
    }
    out.push_back(std::move(g));
  }
  return out;
}

std::string CompletenessJson(std::uint64_t from, std::uint64_t to, const std::vector<StoredBlock>& blocks,
                             const std::vector<GapState>& gaps) {
  nlohmann::ordered_json missing = nlohmann::ordered_json::array();
  nlohmann::ordered_json unsigned_blocks = nlohmann::ordered_json::array();
  nlohmann::ordered_json short_blocks = nlohmann::ordered_json::array();
  std::uint64_t expected = from;
  std::uint64_t present = 0;
  auto add_missing = [&](std::uint64_t a, std::uint64_t b) { missing.push_back({a, b}); };
  for (const StoredBlock& b : blocks) {
    if (b.height < expected || b.height > to) continue;  // a second block at one height is not counted twice
    if (b.height > expected) add_missing(expected, b.height - 1);
    expected = b.height + 1;
    ++present;
    if (b.signatures == 0) unsigned_blocks.push_back(b.height);
    if (b.processed < b.transactions) {
      short_blocks.push_back({{"height", b.height}, {"block_hash", b.hash}, {"transactions", b.transactions},
                              {"stored", b.processed}});
    }
  }
  if (expected <= to) add_missing(expected, to);
  nlohmann::ordered_json gap_list = nlohmann::ordered_json::array();
  std::size_t open = 0;
  for (const GapState& g : gaps) {
    const auto low = g.first ? g.first : g.from_height;
    const auto high = g.last ? g.last : g.to_height;
    if ((low && *low > to) || (high && *high < from)) continue;
    if (g.state != "filled") ++open;
    gap_list.push_back({{"gap", g.gap}, {"source", g.source}, {"stream", g.stream}, {"from_id", g.from_id},
                        {"to_id", g.to_id}, {"from_height", OrNull(g.from_height)}, {"to_height", OrNull(g.to_height)},
                        {"detected_at", g.detected_at}, {"state", g.state}, {"first", OrNull(g.first)},
                        {"last", OrNull(g.last)}, {"next", OrNull(g.next)}});
  }
  nlohmann::ordered_json report = {{"from_height", from},
                                   {"to_height", to},
                                   {"blocks", present},
                                   {"missing_heights", missing},
                                   {"blocks_without_signatures", unsigned_blocks},
                                   {"blocks_missing_transactions", short_blocks},
                                   {"gaps", gap_list},
                                   {"open_gaps", open},
                                   {"complete", missing.empty() && unsigned_blocks.empty() && short_blocks.empty() && open == 0}};
  return report.dump();
}

}  // namespace ces::backfill
