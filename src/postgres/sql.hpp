#pragma once
// Private to ces::postgres: multi-row INSERT statements for model rows.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ces/model/rows.hpp"

namespace ces::postgres {

// Builds the values of rows: as SQL literals (kSql: strings as E'…' with quotes and backslashes
// escaped, integers and booleans bare, NULL for empty optionals, Sep() a comma) or as a line of
// COPY text (kCopy: backslash escapes, \N for NULL, Sep() a tab). Both: NUL removed, invalid UTF-8
// replaced by '?'.
class SqlWriter {
 public:
  enum class Mode { kSql, kCopy };
  explicit SqlWriter(Mode mode = Mode::kSql) : mode_(mode) {}

  std::string& str() { return sql_; }
  SqlWriter& Raw(std::string_view text) {
    sql_ += text;
    return *this;
  }
  SqlWriter& Sep() { return Raw(mode_ == Mode::kSql ? "," : "\t"); }
  SqlWriter& Null() { return Raw(mode_ == Mode::kSql ? "NULL" : "\\N"); }
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
  Mode mode_;
  std::string sql_;
};

// One statement of a batch. With `copy_data`, the rows travel by COPY into the session's temporary
// table ces_copy_<target> (made LIKE `target`, emptied at commit) and `sql` is the INSERT … SELECT
// from it (same ON CONFLICT rule): the server parses no literals, about twice as fast for large
// tables. Without, `sql` is a multi-row INSERT with literals (fewer round trips for a few rows).
//
// A copy statement of a table whose conflict rule is DO NOTHING may also have `direct_check`: a query
// that returns a row when the table may already hold a key of these rows (no key repeats among the
// rows themselves, or it is left empty). When it returns none, the rows go by COPY straight into
// `target` (`copy_rows` of them), which is what the INSERT … ON CONFLICT DO NOTHING would have written,
// at about half the server's cost; a writer that stores one of the keys meanwhile makes the COPY fail
// with a unique violation, and the batch is then written again the usual way (Store::Apply).
struct Statement {
  const char* table;
  std::string sql;
  std::string target;                     // copy: the table written
  std::vector<std::string> copy_columns;  // copy: the columns, in the order of the data
  std::string copy_data;                  // copy: COPY text lines, no newline after the last
  std::size_t copy_rows = 0;              // copy: lines in copy_data
  std::string direct_check;               // copy: see above; empty: always through the temporary table
};

// Appends the INSERT statements for every non-empty table of `rows` (at most `chunk` rows each, or
// one copy statement for a table of `copy_min_rows` rows or more).
// Rows that upsert (transactions, eras, era_validators) are merged by key first, so one statement
// never touches a row twice.
void BuildInserts(const model::Rows& rows, std::vector<Statement>& out, std::size_t chunk, std::size_t copy_min_rows);

}  // namespace ces::postgres
