#include "response.hpp"

#include <charconv>
#include <memory>

namespace ces::http::detail {
namespace {

std::string_view StripWeak(std::string_view tag) {
  if (tag.size() >= 2 && (tag[0] == 'W' || tag[0] == 'w') && tag[1] == '/') tag.remove_prefix(2);
  return tag;
}

// What the handler's own headers say about the response.
struct HandlerHeaders {
  std::string_view etag;
  std::string_view vary;
  bool encoding = false;  // Content-Encoding: the body is already encoded, sent as it is
  bool expose = false;    // Access-Control-Expose-Headers
};

HandlerHeaders Scan(const Headers& headers) {
  HandlerHeaders out;
  for (const auto& [name, value] : headers) {
    if (IEquals(name, "etag")) out.etag = value;
    else if (IEquals(name, "vary")) out.vary = value;
    else if (IEquals(name, "content-encoding")) out.encoding = true;
    else if (IEquals(name, "access-control-expose-headers")) out.expose = true;
  }
  return out;
}

// A handler header the server leaves out: one it writes itself, or one a 304 does not carry.
bool Dropped(std::string_view name, bool cors_managed, bool not_modified) {
  if (IEquals(name, "content-length") || IEquals(name, "transfer-encoding") || IEquals(name, "connection") ||
      IEquals(name, "vary") || (cors_managed && IEquals(name, "access-control-allow-origin"))) {
    return true;
  }
  return not_modified && !IEquals(name, "etag") && !IEquals(name, "cache-control") &&
         !IStartsWith(name, "access-control-") && !IEquals(name, "last-modified") && !IEquals(name, "expires");
}

void AppendHeader(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

// Vary: the handler's, then Origin (server-managed CORS) and Accept-Encoding (a compressible body),
// each once.
void AppendVary(std::string& out, std::string_view handler_vary, bool origin, bool encoding) {
  if (handler_vary.empty() && !origin && !encoding) return;
  out += "Vary: ";
  bool first = true;
  auto add = [&](std::string_view v) {
    if (!first) out += ", ";
    out += v;
    first = false;
  };
  if (!handler_vary.empty()) add(handler_vary);
  if (origin && !HasToken(handler_vary, "origin")) add("Origin");
  if (encoding && !HasToken(handler_vary, "accept-encoding")) add("Accept-Encoding");
  out += "\r\n";
}

}  // namespace

bool EtagMatches(std::string_view if_none_match, std::string_view etag) {
  std::string_view strong = StripWeak(TrimSpace(etag));
  return AnyListItem(if_none_match, [&](std::string_view piece) { return piece == "*" || StripWeak(piece) == strong; });
}

bool Compressible(std::string_view content_type) {
  return IStartsWith(content_type, "application/json") || IStartsWith(content_type, "text/") ||
         IStartsWith(content_type, "application/javascript") || IStartsWith(content_type, "image/svg+xml");
}

void AppendNumber(std::string& out, std::uint64_t value) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  (void)ec;
  out.append(buf, static_cast<std::size_t>(end - buf));
}

ResponseBuilder::ResponseBuilder(const AsyncServerOptions& options)
    : cors_managed_(!options.cors_origins.empty()), gzip_(options.gzip), gzip_min_bytes_(options.gzip_min_bytes) {}

std::string ResponseBuilder::Build(const RequestInfo& info, int& status, std::string_view content_type,
                                   std::string_view body, const Headers& headers, bool stream) const {
  const HandlerHeaders handler = Scan(headers);
  const bool not_modified = !stream && info.has_if_none_match && !handler.etag.empty() && status >= 200 &&
                            status < 300 && EtagMatches(info.if_none_match, handler.etag);
  if (not_modified) status = 304;

  // gzip of a compressible body when the client takes it: from the cache for a large one with an ETag.
  bool vary_encoding = false;
  std::string compressed;
  std::shared_ptr<const std::string> cached_gzip;
  bool gzipped = false;
  if (!stream && !not_modified && gzip_ && !handler.encoding && body.size() >= gzip_min_bytes_ &&
      Compressible(content_type)) {
    vary_encoding = true;
    if (info.accept_gzip && !handler.etag.empty() && body.size() >= GzipCache::kMinBytes) {
      cached_gzip = gzip_cache_.Get(handler.etag, body);
      if (cached_gzip) {
        gzipped = true;
        body = *cached_gzip;
      }
    } else if (info.accept_gzip && Gzip(body, compressed)) {
      gzipped = true;
      body = compressed;
    }
  }
  const bool no_body_status = status == 204 || status == 304 || (status >= 100 && status < 200);

  std::string out;
  out.reserve(192 + (info.head || no_body_status ? 0 : body.size()));
  out += info.http10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  AppendNumber(out, static_cast<std::uint64_t>(status));
  out += ' ';
  out += ReasonPhrase(status);
  out += "\r\n";
  if (!content_type.empty() && !not_modified) AppendHeader(out, "Content-Type", content_type);
  if (stream) {
    out += info.http10 ? "Connection: close\r\n" : "Transfer-Encoding: chunked\r\n";
  } else if (!no_body_status) {
    out += "Content-Length: ";
    AppendNumber(out, body.size());
    out += "\r\n";
  }
  if (gzipped) out += "Content-Encoding: gzip\r\n";
  for (const auto& [name, value] : headers) {
    if (!Dropped(name, cors_managed_, not_modified)) AppendHeader(out, name, value);
  }
  if (!info.cors_origin.empty()) {
    AppendHeader(out, "Access-Control-Allow-Origin", info.cors_origin);
    if (!handler.expose) out += "Access-Control-Expose-Headers: ETag\r\n";
  }
  AppendVary(out, handler.vary, cors_managed_, vary_encoding);
  if (!stream) {
    if (!info.keep_alive) {
      out += "Connection: close\r\n";
    } else if (info.http10) {
      out += "Connection: keep-alive\r\n";
    }
  }
  out += "\r\n";
  if (!stream && !info.head && !no_body_status) out += body;
  return out;
}

}  // namespace ces::http::detail
