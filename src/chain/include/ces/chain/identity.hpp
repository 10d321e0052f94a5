#pragma once
// The identity of a Casper event by its content (docs/architecture.md "The chain sequence"): two nodes
// delivering the same event give the same key, whatever their event ids. Pure: no I/O.
//
//   BlockAdded                                   block <block hash>
//   Deploy*/Transaction* (Accepted/Processed/Expired)  <event type> <deploy or transaction hash>
//   FinalitySignature                            sig <block hash> <signer public key>
//   Step                                         step <era>
//   Fault                                        fault <era> <public key>
//   anything else, or a payload lacking a field  <event type> sha256:<payload sha-256>
//   Shutdown, ApiVersion                         none: per node, not part of the chain
//
// Hex values are lower-cased, so a node that spells a hash in upper case is still the same event.

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace ces::chain {

// The key of an event of type `event_type` (the Kafka `event-type` header) with node payload `payload`;
// nullopt for the per-node messages (Shutdown, ApiVersion).
std::optional<std::string> IdentityKey(std::string_view event_type, std::string_view payload);

// 128 bits of the key's SHA-256: what the chain stage remembers of each event it has seen.
using Digest = std::array<std::uint64_t, 2>;
Digest DigestOf(std::string_view key);

struct DigestHash {
  std::size_t operator()(const Digest& d) const noexcept { return static_cast<std::size_t>(d[0] ^ (d[1] * 31)); }
};

}  // namespace ces::chain
