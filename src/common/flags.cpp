#include "ces/common/flags.hpp"

#include <stdexcept>

namespace ces::flags {

std::map<std::string, std::string> ParseKeyValues(std::string_view flag, const std::vector<std::string>& items) {
  std::map<std::string, std::string> out;
  for (const std::string& kv : items) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw std::invalid_argument(std::string(flag) + " expects KEY=VALUE, got " + kv);
    }
    out[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return out;
}

}  // namespace ces::flags
