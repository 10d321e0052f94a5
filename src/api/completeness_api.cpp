#include "ces/api/completeness_api.hpp"

#include <charconv>
#include <optional>
#include <vector>

#include "ces/backfill/completeness.hpp"
#include "ces/backfill/runner.hpp"
#include "ces/http/async_server.hpp"
#include "ces/ingest/record.hpp"
#include "ces/query/pool.hpp"
#include "json_error.hpp"

namespace ces::api {
namespace {

std::optional<std::uint64_t> ParseHeight(const std::string* text) {
  if (text == nullptr || text->empty()) return std::nullopt;
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || ptr != text->data() + text->size()) return std::nullopt;
  return value;
}

std::int64_t Number(std::string_view text) {
  std::int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

}  // namespace

void CompletenessApi::Register(http::AsyncServer& server) {
  server.Route("GET", "/api/v1/completeness", [this](const http::Request& request, http::AsyncResponseWriter& writer) {
    const auto from = ParseHeight(request.QueryValue("from_height"));
    const auto to = ParseHeight(request.QueryValue("to_height"));
    if (!from) return SendJsonError(writer, 400, "from_height must be an unsigned integer", "from_height");
    if (!to) return SendJsonError(writer, 400, "to_height must be an unsigned integer", "to_height");
    if (*from > *to) return SendJsonError(writer, 400, "from_height is above to_height", "from_height");
    if (*to - *from >= backfill::kMaxCompletenessRange) {
      return SendJsonError(writer, 400,
                           "at most " + std::to_string(backfill::kMaxCompletenessRange) + " heights per report",
                           "to_height");
    }
    std::string error;
    auto lease = pool_.Acquire(&error);
    if (!lease) return SendJsonError(writer, 503, "PostgreSQL: " + error);
    query::ResultSet rows;
    if (const query::QueryError failed =
            lease->Execute(backfill::kCompletenessSql, {std::to_string(*from), std::to_string(*to)}, rows)) {
      return SendJsonError(writer, 503, "PostgreSQL: " + failed.message);
    }
    std::vector<backfill::StoredBlock> blocks;
    blocks.reserve(static_cast<std::size_t>(rows.Rows()));
    for (int r = 0; r < rows.Rows(); ++r) {
      blocks.push_back({static_cast<std::uint64_t>(Number(rows.Value(r, 0))), std::string(rows.Value(r, 1)),
                        Number(rows.Value(r, 2)), Number(rows.Value(r, 3)), Number(rows.Value(r, 4))});
    }
    std::vector<backfill::GapState> gaps;
    if (!kafka_.empty()) {
      try {
        gaps = backfill::GapStates(kafka::ReadAll(kafka_, kafka_settings_, kafka::TopicName(topic_prefix_, ingest::kGapsTopic)),
                                   kafka::ReadAll(kafka_, kafka_settings_, kafka::TopicName(topic_prefix_, backfill::kCheckpointsTopic)));
      } catch (const std::exception& e) {
        return SendJsonError(writer, 503, std::string("Kafka: ") + e.what());
      }
    }
    writer.Send(200, "application/json", backfill::CompletenessJson(*from, *to, blocks, gaps));
  });
}

}  // namespace ces::api
