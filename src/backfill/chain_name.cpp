#include "ces/backfill/events.hpp"

#include "ces/common/blake2b.hpp"

namespace ces::backfill {

std::string ChainNameHash(std::string_view chain_name) {
  const auto digest =
      common::Blake2b256(reinterpret_cast<const std::uint8_t*>(chain_name.data()), chain_name.size());
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
