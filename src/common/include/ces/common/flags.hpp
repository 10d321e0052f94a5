#pragma once
// Shared command-line value parsing.

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ces::flags {

// The KEY=VALUE items of a repeatable flag such as --kafka-setting, as a map (a later key wins). The
// value may be empty or hold '='; the key may not be empty. Throws std::invalid_argument naming `flag`.
std::map<std::string, std::string> ParseKeyValues(std::string_view flag, const std::vector<std::string>& items);

}  // namespace ces::flags
