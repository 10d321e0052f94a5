// libFuzzer target for the SQL text ces::postgres writes (src/postgres/sql.hpp): SqlWriter's literals
// and the INSERT statements BuildInserts makes of model rows.
//
// The input is a list of values (texts of any bytes, integers, booleans, intervals, NULLs) written with
// SqlWriter, comma-separated, and read back with a reference reader of PostgreSQL's literal syntax
// (E'...' escape strings: only \\ and \' may appear, a quote always ends the literal). Checked, besides
// no crash and no sanitizer report:
//  * the reader finds exactly the values written, in order: no text can end its literal early or run
//    into the next value (no injection);
//  * a text reads back as the input with NUL bytes removed and every byte that does not start a
//    well-formed UTF-8 sequence replaced by '?' (the documented sanitising), computed here
//    independently from the Unicode table of well-formed byte sequences;
//  * the SQL text is valid UTF-8 without NUL bytes (PostgreSQL refuses anything else);
//  * integers and intervals read back as the same numbers;
//  * a rejected_events row whose texts come from the input gives one INSERT whose VALUES tuple reads
//    back as its 12 values;
//  * the same values written as a line of COPY text (SqlWriter::Mode::kCopy, what large batches send)
//    read back, field by field, as the same values: tabs, newlines and backslashes inside a text never
//    split or end a field, NULL is the only \N.

#include <fuzzer/FuzzedDataProvider.h>

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "fuzz_check.hpp"
#include "sql.hpp"

namespace {

using ces::fuzz::Check;
using ces::postgres::SqlWriter;

struct Null {
  bool operator==(const Null&) const = default;
};
struct Interval {
  std::int64_t millis;
  bool operator==(const Interval&) const = default;
};
using Value = std::variant<Null, std::string, std::int64_t, bool, Interval>;

// Length of the well-formed UTF-8 sequence at s[i] (Unicode 15, table 3-7), 0 if there is none.
std::size_t WellFormed(std::string_view s, std::size_t i) {
  auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  auto in = [&](std::size_t k, unsigned lo, unsigned hi) { return i + k < s.size() && at(k) >= lo && at(k) <= hi; };
  const unsigned b = at(0);
  if (b <= 0x7F) return 1;
  if (b >= 0xC2 && b <= 0xDF) return in(1, 0x80, 0xBF) ? 2 : 0;
  if (b == 0xE0) return in(1, 0xA0, 0xBF) && in(2, 0x80, 0xBF) ? 3 : 0;
  if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) return in(1, 0x80, 0xBF) && in(2, 0x80, 0xBF) ? 3 : 0;
  if (b == 0xED) return in(1, 0x80, 0x9F) && in(2, 0x80, 0xBF) ? 3 : 0;
  if (b == 0xF0) return in(1, 0x90, 0xBF) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF) ? 4 : 0;
  if (b >= 0xF1 && b <= 0xF3) return in(1, 0x80, 0xBF) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF) ? 4 : 0;
  if (b == 0xF4) return in(1, 0x80, 0x8F) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF) ? 4 : 0;
  return 0;
}

bool ValidUtf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = WellFormed(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string Sanitised(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = WellFormed(s, i);
    if (n == 0) {
      out += '?';
      ++i;
    } else {
      if (!(n == 1 && s[i] == '\0')) out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

// Reference reader: one value at `pos` (a literal of the forms SqlWriter writes); nullopt if malformed.
std::optional<Value> ReadValue(std::string_view sql, std::size_t& pos) {
  const std::string_view rest = sql.substr(pos);
  if (rest.substr(0, 4) == "NULL") {
    pos += 4;
    return Null{};
  }
  if (rest.substr(0, 4) == "true") {
    pos += 4;
    return true;
  }
  if (rest.substr(0, 5) == "false") {
    pos += 5;
    return false;
  }
  if (rest.substr(0, 2) == "E'") {
    std::string text;
    for (std::size_t i = 2; i < rest.size(); ++i) {
      if (rest[i] == '\\') {
        if (i + 1 == rest.size() || (rest[i + 1] != '\\' && rest[i + 1] != '\'')) return std::nullopt;
        text += rest[++i];
      } else if (rest[i] == '\'') {
        pos += i + 1;
        return text;
      } else {
        text += rest[i];
      }
    }
    return std::nullopt;  // unterminated
  }
  if (!rest.empty() && rest[0] == '\'') {  // '<integer> milliseconds'
    constexpr std::string_view kUnit = " milliseconds'";
    std::int64_t millis = 0;
    const auto [end, ec] = std::from_chars(rest.data() + 1, rest.data() + rest.size(), millis);
    const std::size_t used = static_cast<std::size_t>(end - rest.data());
    if (ec != std::errc() || rest.substr(used, kUnit.size()) != kUnit) return std::nullopt;
    pos += used + kUnit.size();
    return Interval{millis};
  }
  std::int64_t number = 0;
  const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), number);
  if (ec != std::errc() || end == rest.data()) return std::nullopt;
  pos += static_cast<std::size_t>(end - rest.data());
  return number;
}

// Reads "v1,v2,...,vn" from sql[pos...] up to `end_marker` (or the end); nullopt if malformed.
std::optional<std::vector<Value>> ReadList(std::string_view sql, std::size_t& pos, char end_marker) {
  std::vector<Value> values;
  while (true) {
    auto value = ReadValue(sql, pos);
    if (!value) return std::nullopt;
    values.push_back(std::move(*value));
    if (pos == sql.size() || sql[pos] == end_marker) return values;
    if (sql[pos] != ',') return std::nullopt;
    ++pos;
  }
}

Value Expected(const Value& written) {
  if (const auto* text = std::get_if<std::string>(&written)) return Sanitised(*text);
  return written;
}

void CheckRejectedEventsInsert(FuzzedDataProvider& provider) {
  ces::model::Rows rows;
  ces::model::RejectedEventRow row;
  row.source = provider.ConsumeRandomLengthString(64);
  row.stream = provider.ConsumeRandomLengthString(16);
  row.event_id = provider.ConsumeIntegral<std::int64_t>();
  row.topic = provider.ConsumeRandomLengthString(32);
  row.partition = provider.ConsumeIntegral<std::int32_t>();
  row.offset = provider.ConsumeIntegral<std::int64_t>();
  row.event_type = provider.ConsumeRandomLengthString(32);
  row.api_version = provider.ConsumeRandomLengthString(16);
  row.reason = provider.ConsumeRandomLengthString(128);
  row.payload_bytes = provider.ConsumeIntegral<std::int64_t>();
  row.payload_head = provider.ConsumeRandomLengthString(256);
  row.received_at = provider.ConsumeRandomLengthString(32);
  rows.rejected_events.push_back(row);

  std::vector<ces::postgres::Statement> statements;
  ces::postgres::BuildInserts(rows, statements, 1000, SIZE_MAX);
  Check(statements.size() == 1 && std::string_view(statements[0].table) == "rejected_events",
        "one INSERT for one rejected_events row");
  const std::string& sql = statements[0].sql;
  Check(ValidUtf8(sql) && sql.find('\0') == std::string::npos, "INSERT statement not valid UTF-8 or with NUL");
  const std::size_t open = sql.find(" VALUES (");
  Check(open != std::string::npos && sql.find('\'') > open, "no VALUES tuple, or a quote before it");
  std::size_t pos = open + 9;
  const auto values = ReadList(sql, pos, ')');
  Check(values.has_value() && pos < sql.size() && sql[pos] == ')', "the VALUES tuple does not read back");
  const std::vector<Value> expected{
      Sanitised(row.source),      Sanitised(row.stream), row.event_id,  Sanitised(row.topic),
      std::int64_t{row.partition}, row.offset,            Sanitised(row.event_type), Sanitised(row.api_version),
      Sanitised(row.reason),      row.payload_bytes,     Sanitised(row.payload_head), Sanitised(row.received_at)};
  Check(*values == expected, "the VALUES tuple reads back other values");
  Check(sql.substr(pos) == ") ON CONFLICT (source, stream, event_id) DO NOTHING", "text after the VALUES tuple");
}

// Reference reader of COPY text: the fields of one line (split at raw tabs), each unescaped (\\, \t,
// \n, \r; nothing else may follow a backslash); a field "\N" is NULL (nullopt). Empty on a malformed field.
std::optional<std::vector<std::optional<std::string>>> ReadCopyLine(std::string_view line) {
  std::vector<std::optional<std::string>> fields;
  std::size_t start = 0;
  while (true) {
    const std::size_t tab = line.find('\t', start);
    const std::string_view field = line.substr(start, tab == std::string_view::npos ? line.size() - start : tab - start);
    if (field == "\\N") {
      fields.emplace_back(std::nullopt);
    } else {
      std::string text;
      for (std::size_t i = 0; i < field.size(); ++i) {
        if (field[i] != '\\') {
          text += field[i];
          continue;
        }
        if (++i == field.size()) return std::nullopt;
        switch (field[i]) {
          case '\\': text += '\\'; break;
          case 't': text += '\t'; break;
          case 'n': text += '\n'; break;
          case 'r': text += '\r'; break;
          default: return std::nullopt;
        }
      }
      fields.emplace_back(std::move(text));
    }
    if (tab == std::string_view::npos) break;
    start = tab + 1;
  }
  return fields;
}

void CheckCopyLine(const std::string& line, const std::vector<Value>& written) {
  Check(ValidUtf8(line), "COPY text is not valid UTF-8");
  Check(line.find_first_of(std::string_view("\0\n\r", 3)) == std::string::npos, "COPY line holds NUL, CR or LF");
  const auto fields = ReadCopyLine(line);
  Check(fields.has_value() && fields->size() == written.size(), "the COPY line does not read back as the values");
  for (std::size_t i = 0; i < written.size(); ++i) {
    const std::optional<std::string>& f = (*fields)[i];
    const Value& v = written[i];
    if (std::holds_alternative<Null>(v)) {
      Check(!f.has_value(), "a NULL reads back from COPY as a value");
      continue;
    }
    Check(f.has_value(), "a value reads back from COPY as NULL");
    if (const auto* text = std::get_if<std::string>(&v)) {
      Check(*f == Sanitised(*text), "a text reads back from COPY as another text");
    } else if (const auto* n = std::get_if<std::int64_t>(&v)) {
      Check(*f == std::to_string(*n), "an integer reads back from COPY as another");
    } else if (const auto* b = std::get_if<bool>(&v)) {
      Check(*f == (*b ? "true" : "false"), "a boolean reads back from COPY as another");
    } else {
      Check(*f == std::to_string(std::get<Interval>(v).millis) + " milliseconds", "an interval reads back from COPY as another");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider provider(data, size);
  SqlWriter writer;
  SqlWriter copy(SqlWriter::Mode::kCopy);
  std::vector<Value> written;
  const std::size_t count = provider.ConsumeIntegralInRange<std::size_t>(1, 8);
  for (std::size_t i = 0; i < count; ++i) {
    if (i > 0) {
      writer.Sep();
      copy.Sep();
    }
    switch (provider.ConsumeIntegralInRange<int>(0, 6)) {
      case 0: {
        std::string text = provider.ConsumeRandomLengthString(512);
        writer.Text(text);
        copy.Text(text);
        written.emplace_back(std::move(text));
        break;
      }
      case 1: {
        const auto value = provider.ConsumeIntegral<std::int64_t>();
        writer.Int(value);
        copy.Int(value);
        written.emplace_back(value);
        break;
      }
      case 2: {
        const bool value = provider.ConsumeBool();
        writer.Bool(value);
        copy.Bool(value);
        written.emplace_back(value);
        break;
      }
      case 3: {
        const auto millis = provider.ConsumeIntegral<std::int64_t>();
        writer.Interval(ces::model::OptInt(millis));
        copy.Interval(ces::model::OptInt(millis));
        written.emplace_back(Interval{millis});
        break;
      }
      case 4:
        writer.Text(ces::model::OptText());
        copy.Text(ces::model::OptText());
        written.emplace_back(Null{});
        break;
      case 5:
        writer.Int(ces::model::OptInt());
        copy.Int(ces::model::OptInt());
        written.emplace_back(Null{});
        break;
      default:
        writer.Bool(std::optional<bool>());
        copy.Bool(std::optional<bool>());
        written.emplace_back(Null{});
        break;
    }
  }
  const std::string& sql = writer.str();
  Check(ValidUtf8(sql), "SQL text is not valid UTF-8");
  Check(sql.find('\0') == std::string::npos, "SQL text holds a NUL byte");
  std::size_t pos = 0;
  const auto values = ReadList(sql, pos, '\0');
  Check(values.has_value() && pos == sql.size(), "the written literals do not read back");
  Check(values->size() == written.size(), "read back another number of values than written");
  for (std::size_t i = 0; i < written.size(); ++i) {
    Check((*values)[i] == Expected(written[i]), "a value reads back as another value");
  }

  CheckCopyLine(copy.str(), written);

  CheckRejectedEventsInsert(provider);
  return 0;
}
