#pragma once
// One SSE frame as a test client saw it: id, data and the frame's raw text (to check bytes on the wire).

#include <optional>
#include <string>

#include "ces/sse/parser.hpp"

namespace ces::test {

struct SseFrame {
  std::optional<std::string> id;
  std::string data;
  std::string raw;
};

inline SseFrame ToFrame(const sse::Event& e) {
  SseFrame f;
  if (e.id) f.id = std::string(*e.id);
  f.data = std::string(e.data);
  f.raw = std::string(e.raw);
  return f;
}

}  // namespace ces::test
