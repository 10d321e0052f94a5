#include "ces/common/dom_parser.hpp"

namespace ces::json {

DomParser::Parsed::~Parsed() {
  if (size_ > kKeepBytes) owner_.parser_ = simdjson::dom::parser{};
}

DomParser::Parsed::Parsed(DomParser& owner, std::string_view json) : owner_(owner), size_(json.size()) {
  error = owner.parser_.parse(json.data(), json.size(), true).get(root);
}

DomParser::Parsed DomParser::Parse(std::string_view json) { return Parsed(*this, json); }

}  // namespace ces::json
