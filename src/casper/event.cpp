#include "ces/casper/event.hpp"

#include <charconv>
#include <simdjson.h>

namespace ces::casper {

std::string_view StreamName(Stream stream) {
  switch (stream) {
    case Stream::kMain: return "main";
    case Stream::kDeploys: return "deploys";
    case Stream::kSigs: return "sigs";
  }
  return "main";
}

std::optional<Stream> ParseStream(std::string_view name) {
  if (name == "main") return Stream::kMain;
  if (name == "deploys") return Stream::kDeploys;
  if (name == "sigs") return Stream::kSigs;
  return std::nullopt;
}

Stream RouteByType(std::string_view type) {
  if (type == "DeployAccepted" || type == "TransactionAccepted") return Stream::kDeploys;
  if (type == "FinalitySignature") return Stream::kSigs;
  return Stream::kMain;
}

std::optional<int> ApiMajor(std::string_view version) {
  // Digits, then the end or '.': "2.0.0" and "2" parse; "-1.0", "+2", " 2", "2x" and out-of-range do not.
  if (version.empty() || version.front() < '0' || version.front() > '9') return std::nullopt;
  const char* end = version.data() + version.size();
  int major = 0;
  auto [ptr, ec] = std::from_chars(version.data(), end, major);
  if (ec != std::errc() || (ptr != end && *ptr != '.')) return std::nullopt;
  return major;
}

struct Classifier::Impl {
  simdjson::dom::parser parser;
};

Classifier::Classifier() : impl_(std::make_unique<Impl>()) {}
Classifier::~Classifier() = default;

Classification Classifier::Classify(std::string_view payload) {
  Classification out;
  simdjson::dom::element root;
  auto error = impl_->parser.parse(payload.data(), payload.size()).get(root);
  if (error) {
    out.error = std::string("invalid JSON: ") + simdjson::error_message(error);
    return out;
  }
  if (root.is_string()) {
    std::string_view text = root.get_string().value_unsafe();
    if (text == "Shutdown") {
      out.ok = true;
      out.event_type = "Shutdown";
    } else {
      out.error = "a JSON string payload other than \"Shutdown\"";
    }
    return out;
  }
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    out.error = "payload is neither a JSON object nor \"Shutdown\"";
    return out;
  }
  auto it = object.begin();
  if (it == object.end()) {
    out.error = "empty JSON object: no event type";
    return out;
  }
  if (it.key().empty()) {
    out.error = "empty event type (top-level key)";
    return out;
  }
  out.ok = true;
  out.event_type = std::string(it.key());
  if (out.event_type == "ApiVersion") {
    std::string_view version;
    if (it.value().get_string().get(version) != simdjson::SUCCESS) {
      out.ok = false;
      out.error = "ApiVersion value is not a string";
      return out;
    }
    out.api_version = std::string(version);
  }
  return out;
}

}  // namespace ces::casper
