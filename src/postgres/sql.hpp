#pragma once
// Private to ces::postgres: multi-row INSERT statements for model rows.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ces/model/rows.hpp"

namespace ces::postgres {

// Builds SQL text with literals: strings as E'…' (quotes and backslashes escaped, NUL removed,
// invalid UTF-8 replaced by '?'), integers and booleans bare, NULL for empty optionals.
class SqlWriter {
 public:
  std::string& str() { return sql_; }
  SqlWriter& Raw(std::string_view text) {
    sql_ += text;
    return *this;
  }
  SqlWriter& Text(std::string_view text);
  SqlWriter& Text(const std::string& text) { return Text(std::string_view(text)); }
  SqlWriter& Text(const char* text) { return Text(std::string_view(text)); }
  SqlWriter& Text(const model::OptText& text);
  SqlWriter& Int(std::int64_t value);
  SqlWriter& Int(const model::OptInt& value);
  SqlWriter& Bool(bool value);
  SqlWriter& Bool(const std::optional<bool>& value);
  SqlWriter& Interval(const model::OptInt& millis);

 private:
  std::string sql_;
};

struct Statement {
  const char* table;
  std::string sql;
};

// Appends the INSERT statements for every non-empty table of `rows` (at most `chunk` rows each).
// Rows that upsert (transactions, eras, era_validators) are merged by key first, so one statement
// never touches a row twice.
void BuildInserts(const model::Rows& rows, std::vector<Statement>& out, std::size_t chunk = 1000);

}  // namespace ces::postgres
