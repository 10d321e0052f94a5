// libFuzzer target for ces::casper::Classifier (simdjson validation + event type extraction), RouteByType,
// ApiMajor and ParseStream. Checked: no crash or sanitizer report; a result is either ok with an event
// type or rejected with a reason; reusing the classifier (one per thread in the pipeline) gives the same
// result; JSON whitespace around the payload does not change it; a view into a larger buffer is parsed
// only up to its end.

#include "ces/casper/event.hpp"
#include "fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using ces::casper::Classification;
using ces::casper::Classifier;

using ces::fuzz::Check;

bool Same(const Classification& a, const Classification& b) {
  return a.ok == b.ok && a.event_type == b.event_type && a.api_version == b.api_version;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Classifier classifier;  // reused across inputs, as in the pipeline
  const std::string payload(reinterpret_cast<const char*>(data), size);

  const Classification first = classifier.Classify(payload);
  Check(first.ok != !first.error.empty(), "ok must come without an error, a rejection with one");
  if (first.ok) {
    Check(!first.event_type.empty() || payload.find("\"\"") != std::string::npos, "empty type from a non-empty key");
    Check(first.event_type != "ApiVersion" || !first.api_version.empty() || payload.find("\"\"") != std::string::npos,
          "ApiVersion without its version");
    Check(first.event_type == "ApiVersion" || first.api_version.empty(), "api_version on another type");
    (void)ces::casper::RouteByType(first.event_type);
    (void)ces::casper::ApiMajor(first.api_version);
  }
  Check(Same(classifier.Classify(payload), first), "classifying again gives another result");
  Check(Same(classifier.Classify(" \n" + payload + "\r\t "), first), "surrounding whitespace changes the result");
  // The payload as a view into a larger buffer: bytes after the view must not be read.
  const std::string padded = payload + "}]\"x";
  Check(Same(classifier.Classify(std::string_view(padded).substr(0, payload.size())), first),
        "bytes past the view changed the result");

  const auto major = ces::casper::ApiMajor(payload);
  Check(!major || *major >= 0, "negative major version");
  if (const auto stream = ces::casper::ParseStream(payload)) {
    Check(ces::casper::StreamName(*stream) == payload, "ParseStream/StreamName do not round-trip");
  }
  (void)ces::casper::RouteByType(payload);
  return 0;
}
