#pragma once
// What the pipeline needs to know about a Casper SSE payload without building its model: whether it
// is JSON, its event type (the single top-level key, or "Shutdown"), the ApiVersion it announces, and
// which topic (1.x stream) it belongs to.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace ces::casper {

// The three 1.x node streams, which are also the Kafka topics (before the prefix).
enum class Stream { kMain, kDeploys, kSigs };

std::string_view StreamName(Stream stream);
std::optional<Stream> ParseStream(std::string_view name);

// 2.x sends every event on /events; each goes to the topic of its 1.x counterpart.
// BlockAdded, Step, Fault, Shutdown, ApiVersion, DeployProcessed/Expired, TransactionProcessed/Expired
// follow 1.x /events/main; DeployAccepted/TransactionAccepted -> deploys; FinalitySignature -> sigs.
// Unknown types go to main (passed through, never dropped).
Stream RouteByType(std::string_view event_type);

// Major version of an ApiVersion string ("2.0.0" -> 2); nullopt if unparsable.
std::optional<int> ApiMajor(std::string_view api_version);

struct Classification {
  bool ok = false;
  std::string event_type;    // e.g. "BlockAdded", "Shutdown"
  std::string api_version;   // set for ApiVersion events
  std::string error;         // why the payload was rejected (when !ok)
};

// Validates payloads and extracts their type. Holds a reusable parser: one per thread.
class Classifier {
 public:
  Classifier();
  ~Classifier();
  Classifier(const Classifier&) = delete;
  Classifier& operator=(const Classifier&) = delete;

  Classification Classify(std::string_view payload);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ces::casper
