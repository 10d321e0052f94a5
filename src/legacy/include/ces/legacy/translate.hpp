#pragma once
// The 1.x form of Casper node events, as casper-sidecar's legacy SSE emulation gives it on
// /events/main, /events/deploys and /events/sigs (its `types/src/legacy_sse_data` module; the rules and
// every difference from it: docs/api.md "Legacy streams"). Pure: no I/O, no state.
//
// A 2.x event becomes the 1.x event a 1.x node would have sent for it, or is dropped when 1.x has no
// such event (a Version1 transaction, a Step). 1.x events, ApiVersion and Shutdown pass unchanged. The
// node's bytes of every value that is carried over are kept (numbers, strings, key order); only the
// objects that change shape are rebuilt.

#include <string>
#include <string_view>

namespace ces::legacy {

enum class Outcome {
  kUnchanged,   // already a 1.x event (or ApiVersion, Shutdown, not a known 2.x shape): send as it is
  kTranslated,  // `payload` is the 1.x event
  kDropped,     // no 1.x form: not sent on the legacy streams (`reason` says why)
};

struct Translation {
  Outcome outcome = Outcome::kUnchanged;
  std::string payload;      // kTranslated: the 1.x payload (compact JSON)
  std::string_view type;    // kTranslated: its event type (DeployAccepted, BlockAdded, ...)
  std::string_view reason;  // kDropped: why
};

// The 1.x form of one SSE `data` payload.
Translation ToLegacy(std::string_view payload);

// The same for a whole SSE frame ("data:<payload>\n" lines, then "id:…\n" and the blank line, as
// audit::AppendSseEvent writes them): the frame with its data lines replaced by the 1.x payload and
// everything after them (id, terminator) kept; the frame unchanged when the payload is; an empty
// string when the event is dropped. A frame that is not an event (a comment, a keep-alive) is
// returned unchanged.
std::string ToLegacyFrame(std::string_view frame);

}  // namespace ces::legacy
