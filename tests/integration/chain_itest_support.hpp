#pragma once
// The chain sequence as /events serves it: the distinct events of a recording by identity, and the
// checks of a client's frames against them.

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "ces/chain/identity.hpp"
#include "sse_reader.hpp"

namespace ces::test {

inline std::string TypeOf(const std::string& payload) {
  const auto a = payload.find('"');
  const auto b = payload.find('"', a + 1);
  return payload.substr(a + 1, b - a - 1);
}

struct ChainEvents {
  std::string api_version;                      // the recording's ApiVersion payload
  std::map<std::string, std::string> payloads;  // identity -> the payload
};

inline ChainEvents ExpectedChain(const std::string& stream) {
  ChainEvents out;
  for (const auto& e : ReadRecording(stream)) {
    if (!e.id) {
      out.api_version = e.data;
      continue;
    }
    const auto key = chain::IdentityKey(TypeOf(e.data), e.data);
    if (key) out.payloads.emplace(*key, e.data);
  }
  return out;
}

// The events of a stream (ApiVersion frames left out), checked against the chain: byte-exact frames,
// strictly increasing ids, each identity at most once. Returns the identities in order.
inline std::vector<std::string> CheckChainFrames(const std::vector<SseFrame>& frames, const ChainEvents& expected,
                                                 const std::string& what) {
  std::vector<std::string> keys;
  std::set<std::string> seen;
  long long last = -1;
  for (const SseFrame& f : frames) {
    if (!f.id) {
      EXPECT_EQ(f.data, expected.api_version) << what;
      continue;
    }
    const long long id = std::stoll(*f.id);
    EXPECT_GT(id, last) << what << ": ids must increase strictly";
    last = id;
    const auto key = chain::IdentityKey(TypeOf(f.data), f.data);
    EXPECT_TRUE(key) << what;
    if (!key) continue;
    EXPECT_TRUE(seen.insert(*key).second) << what << ": " << *key << " twice";
    auto it = expected.payloads.find(*key);
    EXPECT_NE(it, expected.payloads.end()) << what << ": unexpected " << *key;
    if (it != expected.payloads.end()) {
      EXPECT_EQ(f.data, it->second) << what << ": payload of " << *key;
    }
    EXPECT_EQ(f.raw, "data:" + f.data + "\nid:" + *f.id + "\n") << what;
    keys.push_back(*key);
  }
  return keys;
}

}  // namespace ces::test
