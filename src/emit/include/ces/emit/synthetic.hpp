#pragma once
// Synthetic Casper events made from recorded ones: same JSON shapes, new hashes.
//
// * emit --synthetic: RewriteHashValues gives every looped cycle new hashes without re-serialising
//   (a 64-hex string becomes another 64-hex string, so lengths and structure never change).
// * generate: Generate() writes a stream file of any length from the recordings' events, block by
//   block (transactions, Step at era ends, BlockAdded, finality signatures) with linked block hashes,
//   heights and eras, streaming to disk in constant memory. Each block's body lists the transactions
//   processed in it, and a transaction's events agree with each other (hash, initiator, timestamp,
//   ttl), so the fake node's JSON-RPC serves the chain and backfill rebuilds it.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace ces::emit {

// True for exactly 64 hex digits (either case).
bool IsHex64(std::string_view text);

// 64 lowercase hex digits derived from (original, salt) with a 256-bit mixing hash; deterministic,
// so the same hash rewritten with the same salt is the same everywhere (references stay consistent).
void DeriveHex64(std::string_view original, std::uint64_t salt, char out[64]);
std::string DeriveHex64(std::string_view original, std::uint64_t salt);

// Copies `payload` to `out`, replacing every JSON string value (not member names) that is exactly 64
// hex digits by DeriveHex64(value, salt). Same length as the input; other bytes unchanged.
void RewriteHashValues(std::string_view payload, std::uint64_t salt, std::string& out);

// Copies `text` to `out`, replacing each maximal run of exactly 64 hex digits (as in "hash-<64>",
// "uref-<64>-007" or a bare hash) by DeriveHex64(run, salt). Same length as the input.
void RewriteHexRuns(std::string_view text, std::uint64_t salt, std::string& out);

// Repeats the entries of the array member `array_key` ("transforms" in a 1.x Step,
// "execution_effects" in 2.x) until the payload is at least `target_bytes` long. Copy n >= 1 of the
// entries gets its hex runs rewritten with salt n, so the copies differ. Throws std::invalid_argument
// if the payload has no such non-empty array.
std::string EnlargeArray(std::string_view payload, std::string_view array_key, std::size_t target_bytes);

struct GenerateOptions {
  std::string recordings_dir = "tests/data/casper";
  std::string out;  // file (protocol 2) or directory (protocol 1)
  std::uint64_t events = 100000;
  int protocol = 2;
  std::string mix;  // see ParseMix, e.g. "steps" or "signatures=20,era_blocks=10"
  double large_step_mb = 0;
  std::uint64_t seed = 1;
  std::uint64_t first_id = 0;
};

// How many events of each block go into the stream.
struct Mix {
  std::uint64_t signatures = 100;   // FinalitySignature events per block
  std::uint64_t transactions = 4;   // mean accepted (+ processed or expired) transactions per block
  std::uint64_t era_blocks = 50;    // blocks per era: the last one is a switch block preceded by Step
  double expired_percent = 1;       // accepted transactions that expire instead of being processed
};
// Parses a comma-separated list of presets and key=value items, applied in order over the defaults.
// Presets: mainnet (the defaults), steps (only era ends: Step + switch block), blocks (blocks and era
// ends, no transactions or signatures). Keys: signatures, transactions, era_blocks, expired.
// Throws std::invalid_argument on unknown items or bad values.
Mix ParseMix(std::string_view text);

struct GenerateStats {
  std::uint64_t events = 0;
  std::uint64_t bytes = 0;
  std::uint64_t blocks = 0;
  std::map<std::string, std::uint64_t> by_type;
};

// Writes the stream(s). Throws std::runtime_error on I/O errors or missing recordings.
GenerateStats Generate(const GenerateOptions& options);

}  // namespace ces::emit
