#include "request_parser.hpp"

#include <charconv>

#include "ces/common/text.hpp"

namespace ces::http {

const char* ReasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (LowerAscii(a[i]) != LowerAscii(b[i])) return false;
  }
  return true;
}

bool IStartsWith(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && IEquals(text.substr(0, prefix.size()), prefix);
}

std::string_view TrimSpace(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) text.remove_suffix(1);
  return text;
}

bool HasToken(std::string_view value, std::string_view token) {
  return AnyListItem(value, [&](std::string_view piece) { return IEquals(piece, token); });
}

bool AcceptsGzip(std::string_view value) {
  int gzip = -1;  // -1 unknown, 0 refused, 1 accepted
  int star = -1;
  AnyListItem(value, [&](std::string_view piece) {
    std::string_view name = piece;
    bool zero = false;
    if (std::size_t semi = piece.find(';'); semi != std::string_view::npos) {
      name = TrimSpace(piece.substr(0, semi));
      std::string_view params = piece.substr(semi + 1);
      std::size_t q = params.find("q=");
      if (q != std::string_view::npos) {
        std::string_view number = TrimSpace(params.substr(q + 2));
        zero = !number.empty() && number[0] == '0' && number.find_first_of("123456789") == std::string_view::npos;
      }
    }
    if (IEquals(name, "gzip") || IEquals(name, "x-gzip")) gzip = zero ? 0 : 1;
    if (name == "*") star = zero ? 0 : 1;
    return false;
  });
  if (gzip >= 0) return gzip == 1;
  return star == 1;
}

std::size_t FindHeaderEnd(std::string_view buffer) {
  std::size_t pos = 0;
  while ((pos = buffer.find('\n', pos)) != std::string_view::npos) {
    if (pos + 1 < buffer.size() && buffer[pos + 1] == '\n') return pos + 2;
    if (pos + 2 < buffer.size() && buffer[pos + 1] == '\r' && buffer[pos + 2] == '\n') return pos + 3;
    ++pos;
  }
  return std::string_view::npos;
}

MethodCode CodeOf(std::string_view method) {
  if (method == "GET") return kGet;
  if (method == "HEAD") return kHead;
  if (method == "POST") return kPost;
  if (method == "PUT") return kPut;
  if (method == "DELETE") return kDelete;
  if (method == "PATCH") return kPatch;
  if (method == "OPTIONS") return kOptions;
  return kOther;
}

namespace {

ParseResult Error(ParseResult result, int status, const char* message) {
  result.outcome = ParseOutcome::kError;
  result.status = status;
  result.message = message;
  return result;
}

}  // namespace

std::string PercentDecode(std::string_view text, bool plus_as_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      int hi = text::HexDigitValue(text[i + 1]);
      int lo = text::HexDigitValue(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_as_space && c == '+' ? ' ' : c);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> ParseQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t start = 0;
  while (start <= query.size()) {
    std::size_t amp = query.find('&', start);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view piece = query.substr(start, amp - start);
    if (!piece.empty()) {
      std::size_t eq = piece.find('=');
      if (eq == std::string_view::npos) {
        out.emplace_back(PercentDecode(piece, true), std::string());
      } else {
        out.emplace_back(PercentDecode(piece.substr(0, eq), true), PercentDecode(piece.substr(eq + 1), true));
      }
    }
    start = amp + 1;
  }
  return out;
}

ParseResult ParseRequest(std::string_view input, const RequestLimits& limits, Request& request, RequestHead& head) {
  ParseResult result;
  head = RequestHead{};
  request.headers.clear();
  request.params.clear();
  request.route.clear();
  request.body.clear();
  request.query.clear();
  request.path.clear();

  while (result.skipped < input.size() && (input[result.skipped] == '\r' || input[result.skipped] == '\n')) {
    ++result.skipped;
  }
  input.remove_prefix(result.skipped);
  if (input.empty()) return result;

  const std::size_t header_end = FindHeaderEnd(input);
  if (header_end == std::string_view::npos) {
    if (input.size() > limits.max_header_bytes) return Error(result, 431, "request header too large");
    return result;
  }
  if (header_end > limits.max_header_bytes) return Error(result, 431, "request header too large");

  // Request line.
  const std::string_view block = input.substr(0, header_end);
  const std::size_t line_end = block.find('\n');  // found: the block ends with an empty line
  const std::string_view line = TrimSpace(block.substr(0, line_end));
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos || sp1 == 0 || sp2 == sp1 + 1) {
    return Error(result, 400, "malformed request line");
  }
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (version == "HTTP/1.0") {
    head.http10 = true;
  } else if (version != "HTTP/1.1") {
    return Error(result, version.substr(0, 5) == "HTTP/" ? 505 : 400, "unsupported HTTP version");
  }
  request.method.assign(method);
  request.target.assign(target);
  head.method = CodeOf(method);

  // Headers.
  std::size_t pos = line_end + 1;
  std::string name;
  while (pos < header_end) {
    std::size_t eol = block.find('\n', pos);
    if (eol == std::string_view::npos) eol = header_end;
    std::string_view header_line = block.substr(pos, eol - pos);
    pos = eol + 1;
    if (!header_line.empty() && header_line.back() == '\r') header_line.remove_suffix(1);
    if (header_line.empty()) continue;
    const std::size_t colon = header_line.find(':');
    if (colon == std::string_view::npos || colon == 0 || header_line[0] == ' ' || header_line[0] == '\t') {
      return Error(result, 400, "malformed header line");
    }
    name.resize(colon);
    for (std::size_t i = 0; i < colon; ++i) name[i] = LowerAscii(header_line[i]);
    const std::string_view value = TrimSpace(header_line.substr(colon + 1));
    auto [it, inserted] = request.headers.try_emplace(name, value);
    if (!inserted) {
      it->second += ", ";
      it->second.append(value);
    }
  }

  // Connection semantics.
  const auto connection = request.headers.find("connection");
  if (head.http10) {
    head.keep_alive = connection != request.headers.end() && HasToken(connection->second, "keep-alive");
  } else {
    head.keep_alive = connection == request.headers.end() || !HasToken(connection->second, "close");
  }

  // Body.
  if (request.headers.count("transfer-encoding")) {
    return Error(result, 411, "chunked request bodies are not supported; send Content-Length");
  }
  std::size_t body_length = 0;
  if (auto it = request.headers.find("content-length"); it != request.headers.end()) {
    const std::string& text = it->second;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), body_length);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
      return Error(result, 400, "bad Content-Length");
    }
    if (body_length > limits.max_body_bytes) return Error(result, 413, "request body too large");
  }
  if (input.size() - header_end < body_length) {
    if (!head.http10) {
      auto expect = request.headers.find("expect");
      head.expect_continue = expect != request.headers.end() && IEquals(expect->second, "100-continue");
    }
    return result;
  }
  request.body.assign(input.substr(header_end, body_length));
  result.consumed = header_end + body_length;
  result.outcome = ParseOutcome::kComplete;
  return result;
}

}  // namespace ces::http
