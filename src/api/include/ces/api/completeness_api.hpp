#pragma once
// GET /api/v1/completeness?from_height=A&to_height=B: which heights of the range lack a block in the
// model, which blocks lack their transactions or signatures, and the recorded ingest gaps with their
// backfill state (docs/api.md, ces::backfill::CompletenessJson).

#include <string>

#include "ces/kafka/client.hpp"

namespace ces::http {
class AsyncServer;
}
namespace ces::query {
class Pool;
}

namespace ces::api {

class CompletenessApi {
 public:
  // `pool`: the model's database; `kafka` (bootstrap servers, may be empty: no gaps in the report) and
  // `topic_prefix`: where ingest-gaps and backfill-checkpoints are.
  CompletenessApi(query::Pool& pool, std::string kafka, kafka::Settings kafka_settings, std::string topic_prefix)
      : pool_(pool),
        kafka_(std::move(kafka)),
        kafka_settings_(std::move(kafka_settings)),
        topic_prefix_(std::move(topic_prefix)) {}
  void Register(http::AsyncServer& server);

 private:
  query::Pool& pool_;
  std::string kafka_;
  kafka::Settings kafka_settings_;
  std::string topic_prefix_;
};

}  // namespace ces::api
