#include "ces/backfill/events.hpp"

// BLAKE2b is ces::query's (private header, reached through this library's include path) until it
// moves to a shared library; this file is the only user here.
#include "blake2b.hpp"

namespace ces::backfill {

std::string ChainNameHash(std::string_view chain_name) {
  const auto digest =
      query::Blake2b256(reinterpret_cast<const std::uint8_t*>(chain_name.data()), chain_name.size());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * digest.size());
  for (std::uint8_t b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 0x0f];
  }
  return out;
}

}  // namespace ces::backfill
