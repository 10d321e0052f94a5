#include "params.hpp"

#include <utility>

#include "ces/common/time.hpp"

namespace ces::query::detail {
namespace {

ParamError Refused(std::string_view name, std::string_view requirement) {
  return ParamError{std::string(name) + " must be " + std::string(requirement), std::string(name)};
}

std::optional<ParamError> CheckOneOf(const ParamRule& rule, const std::string& text, ParamValue& out) {
  for (const char* word : rule.words) {
    if (text == word) {
      out.text = text;
      return std::nullopt;
    }
  }
  std::string list;
  for (const char* word : rule.words) list += (list.empty() ? "" : ", ") + std::string(word);
  return Refused(rule.name, "one of: " + list);
}

// "latest", a decimal height (shorter than a hash) or a block hash.
std::optional<ParamError> CheckBlockId(const ParamRule& rule, const std::string& text, ParamValue& out) {
  if (text == "latest") {
    out.text = text;
    return std::nullopt;
  }
  if (auto height = ParseNonNegative(text); height && text.size() < 64) {
    out.number = *height;
    out.text = std::to_string(*height);
    return std::nullopt;
  }
  auto hash = ParseHash(text);
  if (!hash) return Refused(rule.name, "64 hex digits, a decimal height or latest");
  out.text = std::move(*hash);
  return std::nullopt;
}

std::optional<ParamError> Check(const ParamRule& rule, const std::string& text, ParamValue& out) {
  switch (rule.type) {
    case ParamType::kHash: {
      auto hash = ParseHash(text);
      if (!hash) return Refused(rule.name, "64 hex digits");
      out.text = std::move(*hash);
      return std::nullopt;
    }
    case ParamType::kPublicKey: {
      auto key = ParsePublicKey(text);
      if (!key) return Refused(rule.name, "a public key (01 + 64 or 02 + 66 hex digits)");
      out.text = std::move(*key);
      return std::nullopt;
    }
    case ParamType::kInteger: {
      auto number = ParseNonNegative(text);
      if (!number) return Refused(rule.name, "a non-negative integer");
      out.number = *number;
      out.text = std::to_string(*number);
      return std::nullopt;
    }
    case ParamType::kAccount: {
      auto account = ParseAccount(text);
      if (!account) return Refused(rule.name, "a public key or a 64-hex account hash");
      out.text = account->account_hash;
      out.account = std::move(*account);
      return std::nullopt;
    }
    case ParamType::kBlockId:
      return CheckBlockId(rule, text, out);
    case ParamType::kOneOf:
      return CheckOneOf(rule, text, out);
  }
  return std::nullopt;
}

// size and page.
std::optional<ParamError> CheckPage(const Args& args, const EngineOptions& options, ListParams& out) {
  out.size = options.default_page_size;
  if (const auto* text = args.Query("size")) {
    auto size = ParseNonNegative(*text);
    if (!size || *size < 1) return ParamError{"size must be a positive integer", "size"};
    if (static_cast<std::uint64_t>(*size) > options.max_page_size) {
      return ParamError{"size must be at most " + std::to_string(options.max_page_size), "size"};
    }
    out.size = static_cast<std::size_t>(*size);
  }
  if (const auto* text = args.Query("page")) {
    auto page = ParseNonNegative(*text);
    if (!page || *page < 1 || *page > 1000000000) return ParamError{"page must be an integer from 1", "page"};
    out.page = *page;
  }
  return std::nullopt;
}

// order_by (the list's whitelist, case-sensitive) and order_direction.
std::optional<ParamError> CheckOrder(const ListSpec& spec, const Args& args, ListParams& out) {
  const auto* order_text = args.Query("order_by");
  const std::string order_name = order_text ? *order_text : spec.default_order;
  for (const auto& order : spec.orders) {
    if (order_name == order.name) out.order = &order;
  }
  if (!out.order) {
    std::string allowed;
    for (const auto& order : spec.orders) allowed += (allowed.empty() ? "" : ", ") + std::string(order.name);
    return ParamError{"order_by must be one of: " + allowed, "order_by"};
  }
  out.direction = spec.default_dir;
  if (const auto* dir_text = args.Query("order_direction")) {
    if (*dir_text != "ASC" && *dir_text != "DESC") {
      return ParamError{"order_direction must be ASC or DESC", "order_direction"};
    }
    out.direction = *dir_text;
  }
  return std::nullopt;
}

// from_time and to_time, on a list with a time column.
std::optional<ParamError> CheckTimeRange(const ListSpec& spec, const Args& args, ListParams& out) {
  for (const char* name : {"from_time", "to_time"}) {
    const auto* time = args.Query(name);
    if (!time) continue;
    if (!spec.time_col) return ParamError{std::string(name) + " is not supported on this list", name};
    if (!ces::time::IsRfc3339(*time)) return ParamError{std::string(name) + " must be an RFC 3339 date-time", name};
    (name[0] == 'f' ? out.from_time : out.to_time) = *time;
  }
  return std::nullopt;
}

// after: a cursor of the list's default (keyset) order, "a|d" 0x1f key values (base64url).
std::optional<ParamError> CheckCursor(const ListSpec& spec, const Args& args, ListParams& out) {
  const auto* after = args.Query("after");
  if (!after) return std::nullopt;
  if (args.Query("page")) return ParamError{"page and after cannot be combined", "page"};
  if (!out.KeysetOrder()) return ParamError{"a cursor (after) follows the default order only", "order_by"};
  const ParamError malformed{"malformed cursor", "after"};
  auto decoded = Base64UrlDecode(*after);
  if (!decoded || decoded->size() < 2 || ((*decoded)[0] != 'a' && (*decoded)[0] != 'd') || (*decoded)[1] != '\x1f') {
    return malformed;
  }
  const std::string cursor_dir = (*decoded)[0] == 'a' ? "ASC" : "DESC";
  const auto* dir_text = args.Query("order_direction");
  if (dir_text && *dir_text != cursor_dir) {
    return ParamError{"the cursor was made for the other direction", "order_direction"};
  }
  out.direction = cursor_dir;
  std::vector<std::string> values;
  std::size_t start = 2;
  while (true) {
    const auto sep = decoded->find('\x1f', start);
    values.push_back(decoded->substr(start, sep == std::string::npos ? std::string::npos : sep - start));
    if (sep == std::string::npos) break;
    start = sep + 1;
  }
  if (values.size() != spec.key.size()) return malformed;
  for (std::size_t i = 0; i < spec.key.size(); ++i) {
    const std::string_view cast = spec.key[i].cast;
    if ((cast == "bigint" || cast == "integer") && !ParseNonNegative(values[i])) return malformed;
  }
  out.after = true;
  out.cursor = std::move(values);
  return std::nullopt;
}

}  // namespace

const ParamValue* Params::Query(std::string_view name) const {
  auto it = query.find(name);
  return it == query.end() ? nullptr : &it->second;
}

std::optional<ParamError> CheckParams(const RouteParams& route, const Args& args, Params& out) {
  if (route.path) {
    const std::string* text = args.Path(route.path->name);
    if (auto error = Check(*route.path, text ? *text : std::string(), out.path)) return error;
  }
  for (const ParamRule& rule : route.query) {
    const std::string* text = args.Query(rule.name);
    if (!text) continue;
    ParamValue value;
    if (auto error = Check(rule, *text, value)) return error;
    out.query.insert_or_assign(rule.name, std::move(value));
  }
  return std::nullopt;
}

std::optional<ParamError> CheckList(const ListSpec& spec, const Args& args, const EngineOptions& options,
                                    ListParams& out) {
  if (auto error = CheckPage(args, options, out)) return error;
  if (auto error = CheckOrder(spec, args, out)) return error;
  if (auto error = CheckTimeRange(spec, args, out)) return error;
  return CheckCursor(spec, args, out);
}

}  // namespace ces::query::detail
