#pragma once
// BLAKE2b (RFC 7693), unkeyed: Casper account hashes and chain name hashes.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ces::common {

std::array<std::uint8_t, 32> Blake2b256(const std::uint8_t* data, std::size_t size);

}  // namespace ces::common
