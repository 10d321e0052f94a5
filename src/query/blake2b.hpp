#pragma once
// BLAKE2b (RFC 7693), unkeyed, for Casper account hashes. Private to ces::query.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ces::query {

std::array<std::uint8_t, 32> Blake2b256(const std::uint8_t* data, std::size_t size);

}  // namespace ces::query
