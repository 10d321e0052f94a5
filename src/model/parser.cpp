// The parser's front: the payload's top-level key picks the event family (parser_block.cpp,
// parser_transaction.cpp, parser_signature.cpp, parser_fault.cpp, parser_step.cpp); the RPC era
// summaries are read by parser_rewards.cpp. Rejections thrown by the families become values here.

#include "ces/model/parser.hpp"

#include <cstring>

#include "parser_internal.hpp"

namespace ces::model {

namespace detail {

void Fail(std::string reason) { throw Reject{std::move(reason)}; }

void Fail(std::string_view path, std::string_view what, simdjson::error_code error) {
  std::string reason(path);
  reason += ": ";
  reason += what;
  if (error != simdjson::SUCCESS) {
    reason += " (";
    reason += simdjson::error_message(error);
    reason += ")";
  }
  Fail(std::move(reason));
}

}  // namespace detail

using namespace detail;

namespace {

void Dispatch(std::string_view type, od::value& body, Rows& out, ParseResult& result) {
  if (type == "BlockAdded") {
    BlockAdded(body, out);
  } else if (type == "DeployAccepted") {
    Deploy(body, "DeployAccepted", out);
  } else if (type == "TransactionAccepted") {
    TransactionAccepted(body, out);
  } else if (type == "DeployProcessed") {
    DeployProcessed(body, out);
  } else if (type == "TransactionProcessed") {
    TransactionProcessed(body, out);
  } else if (type == "DeployExpired") {
    Expired(body, false, out);
  } else if (type == "TransactionExpired") {
    Expired(body, true, out);
  } else if (type == "FinalitySignature") {
    FinalitySignature(body, out);
  } else if (type == "Fault") {
    Fault(body, out);
  } else if (type == "Step") {
    Step(body, out);
  } else if (type == "ApiVersion") {
    Str(body, "ApiVersion");
    result.outcome = Outcome::kIgnored;
    return;
  } else {
    Fail("unknown event type " + std::string(type));
  }
  result.outcome = Outcome::kStored;
}

// Records the event's identity on the rows that keep one (a transaction under the slot of its event).
void StampIdentity(Rows& rows, std::string_view event_type, const EventIdentity& identity) {
  for (auto& r : rows.blocks) r.event = identity;
  for (auto& r : rows.faults) r.event = identity;
  for (auto& r : rows.finality_signatures) r.event = identity;
  for (auto& r : rows.steps) r.event = identity;
  auto ends_with = [&](std::string_view suffix) {
    return event_type.size() >= suffix.size() && event_type.substr(event_type.size() - suffix.size()) == suffix;
  };
  for (auto& r : rows.transactions) {
    if (ends_with("Accepted")) {
      r.accepted_event = identity;
    } else if (ends_with("Processed")) {
      r.processed_event = identity;
    } else if (ends_with("Expired")) {
      r.expired_event = identity;
    }
  }
}

}  // namespace

struct Parser::Impl {
  od::parser parser;
  std::string buffer;  // payload + padding
  Rows scratch;

  simdjson::padded_string_view Pad(std::string_view payload) {
    if (buffer.size() < payload.size() + simdjson::SIMDJSON_PADDING) {
      buffer.resize(payload.size() + simdjson::SIMDJSON_PADDING);
    }
    std::memcpy(buffer.data(), payload.data(), payload.size());
    std::memset(buffer.data() + payload.size(), 0, simdjson::SIMDJSON_PADDING);
    return simdjson::padded_string_view(buffer.data(), payload.size(), buffer.size());
  }

  // The parser keeps what its largest document needed (about 7x its size: the padded copy, simdjson's
  // structural index and string buffer, the rows). After a document larger than this, that memory is
  // given back, so that a rare large event (a 1.x era's Step) does not stay resident for good.
  static constexpr std::size_t kKeepBytes = 256 * 1024;
  struct ShrinkAfter {
    Impl& impl;
    std::size_t payload_size;
    ~ShrinkAfter() {
      if (payload_size <= kKeepBytes) return;
      impl.parser = od::parser{};
      std::string().swap(impl.buffer);
      impl.scratch = Rows{};
    }
  };
};

Parser::Parser() : impl_(std::make_unique<Impl>()) {}
Parser::~Parser() = default;

ParseResult Parser::Parse(std::string_view payload, Rows& out, const EventIdentity& identity) {
  const Impl::ShrinkAfter shrink{*impl_, payload.size()};
  ParseResult result;
  Rows& rows = impl_->scratch;
  rows.Clear();
  try {
    od::document doc;
    if (auto e = impl_->parser.iterate(impl_->Pad(payload)).get(doc)) Fail("", "invalid JSON", e);
    od::json_type type;
    if (auto e = doc.type().get(type)) Fail("", "invalid JSON", e);
    if (type == od::json_type::string) {
      std::string_view text;
      if (auto e = doc.get_string().get(text)) Fail("", "invalid JSON", e);
      if (text != "Shutdown") Fail("a JSON string payload other than \"Shutdown\"");
      result.event_type = "Shutdown";
      result.outcome = Outcome::kIgnored;
      return result;
    }
    if (type != od::json_type::object) Fail("payload is neither a JSON object nor \"Shutdown\"");
    od::object root;
    if (auto e = doc.get_object().get(root)) Fail("", "invalid JSON", e);
    int keys = 0;
    for (auto field_result : root) {
      od::field field;
      if (auto e = std::move(field_result).get(field)) Fail("", "invalid JSON", e);
      std::string_view key;
      if (auto e = field.unescaped_key().get(key)) Fail("", "invalid JSON", e);
      if (++keys > 1) Fail("more than one top-level key (" + result.event_type + ", " + std::string(key) + ")");
      result.event_type = std::string(key);
      Dispatch(key, field.value(), rows, result);
    }
    if (keys == 0) Fail("empty JSON object: no event type");
  } catch (const Reject& r) {
    rows.Clear();
    result.outcome = Outcome::kRejected;
    result.reason = r.reason;
    return result;
  } catch (const simdjson::simdjson_error& e) {
    rows.Clear();
    result.outcome = Outcome::kRejected;
    result.reason = std::string("invalid JSON (") + e.what() + ")";
    return result;
  }
  if (identity.Known()) StampIdentity(rows, result.event_type, identity);
  result.rows = rows.Count();
  out.Append(std::move(rows));
  return result;
}

bool Parser::ParseEraInfoResponse(std::string_view response, std::int64_t era_id, const std::string& switch_block_hash,
                                  Rows& out, std::string& error) {
  return ParseEraSummary(response, era_id, switch_block_hash, true, out, error);
}

bool Parser::ParseEraSummaryResponse(std::string_view response, std::int64_t era_id,
                                     const std::string& switch_block_hash, Rows& out, std::string& error) {
  return ParseEraSummary(response, era_id, switch_block_hash, false, out, error);
}

bool Parser::ParseEraSummary(std::string_view response, std::int64_t era_id, const std::string& switch_block_hash,
                             bool validators, Rows& out, std::string& error) {
  const Impl::ShrinkAfter shrink{*impl_, response.size()};
  Rows& rows = impl_->scratch;
  rows.Clear();
  try {
    od::document doc;
    if (auto e = impl_->parser.iterate(impl_->Pad(response)).get(doc)) Fail("", "invalid JSON", e);
    od::value root;
    if (auto e = doc.get_value().get(root)) Fail("", "invalid JSON", e);
    EraSummaryResponse(root, era_id, switch_block_hash, validators, rows);
  } catch (const Reject& r) {
    rows.Clear();
    error = r.reason;
    return false;
  } catch (const simdjson::simdjson_error& e) {
    rows.Clear();
    error = std::string("invalid JSON (") + e.what() + ")";
    return false;
  }
  out.Append(std::move(rows));
  return true;
}

}  // namespace ces::model
