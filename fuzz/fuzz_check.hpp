#pragma once
// Shared by the fuzz targets: an invariant check that stops the fuzzer with a message (libFuzzer then
// writes the input as a crash reproducer).

#include <cstdio>
#include <cstdlib>

namespace ces::fuzz {

inline void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

}  // namespace ces::fuzz
