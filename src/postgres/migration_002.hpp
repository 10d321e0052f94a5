#pragma once
// Migration 2: where each row's event came from (source, stream, event id), so the API can fetch the
// node's payload from the audit store by identity. Released migrations are never edited.
#include <string_view>

namespace ces::postgres {

inline constexpr std::string_view kMigration002Name = "event identity";
inline constexpr std::string_view kMigration002 = R"sql(
ALTER TABLE blocks
  ADD COLUMN event_source text, ADD COLUMN event_stream text, ADD COLUMN event_id bigint,
  ADD COLUMN event_api_version text;
ALTER TABLE transactions
  ADD COLUMN accepted_source text, ADD COLUMN accepted_stream text, ADD COLUMN accepted_event_id bigint,
  ADD COLUMN accepted_api_version text,
  ADD COLUMN processed_source text, ADD COLUMN processed_stream text, ADD COLUMN processed_event_id bigint,
  ADD COLUMN processed_api_version text,
  ADD COLUMN expired_source text, ADD COLUMN expired_stream text, ADD COLUMN expired_event_id bigint,
  ADD COLUMN expired_api_version text;
ALTER TABLE faults
  ADD COLUMN event_source text, ADD COLUMN event_stream text, ADD COLUMN event_id bigint,
  ADD COLUMN event_api_version text;
ALTER TABLE finality_signatures
  ADD COLUMN event_source text, ADD COLUMN event_stream text, ADD COLUMN event_id bigint,
  ADD COLUMN event_api_version text;
ALTER TABLE steps
  ADD COLUMN event_source text, ADD COLUMN event_stream text, ADD COLUMN event_id bigint,
  ADD COLUMN event_api_version text;
)sql";

}  // namespace ces::postgres
