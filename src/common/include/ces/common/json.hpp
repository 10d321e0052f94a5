#pragma once
// Writing JSON strings by hand (the hot paths build bodies without a DOM): one quoting function over
// the logger's escaper (log::AppendJsonEscaped), so every body and log line escapes alike.

#include <string>
#include <string_view>

namespace ces::json {

// Appends `text` as a JSON string literal, quotes included.
void AppendString(std::string& out, std::string_view text);

}  // namespace ces::json
