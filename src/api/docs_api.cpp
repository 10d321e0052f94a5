#include "ces/api/docs_api.hpp"

#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

#include "ces/common/status.hpp"

namespace ces::api {
namespace {

#ifndef CES_SWAGGER_UI_DIST_VERSION
#error "CES_SWAGGER_UI_DIST_VERSION must be defined by the build (versions.env)"
#endif

constexpr std::string_view kDefaultTools = "/opt/casper-event-store/tools";
constexpr std::string_view kStaticCacheControl = "public, max-age=86400";  // files of a pinned package version
constexpr std::string_view kRevalidate = "no-cache";                       // ours: may change with the binary
constexpr std::size_t kMaxCachedBytes = 64 * 1024 * 1024;

constexpr std::string_view kIndexHtml = R"html(<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>casper-event-store API</title>
    <link rel="stylesheet" type="text/css" href="./swagger-ui.css" />
    <link rel="stylesheet" type="text/css" href="./index.css" />
    <link rel="icon" type="image/png" href="./favicon-32x32.png" sizes="32x32" />
    <link rel="icon" type="image/png" href="./favicon-16x16.png" sizes="16x16" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="./swagger-ui-bundle.js" charset="UTF-8"></script>
    <script src="./swagger-ui-standalone-preset.js" charset="UTF-8"></script>
    <script src="./swagger-initializer.js" charset="UTF-8"></script>
  </body>
</html>
)html";

// Relative URL: the page is /swagger-ui/, the document /api-docs (also behind a reverse proxy's prefix).
// No validator: it would send the document to an outside service.
constexpr std::string_view kInitializerJs = R"js(window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "../api-docs",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    displayRequestDuration: true,
    tryItOutEnabled: false,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout"
  });
};
)js";

std::string Etag(std::string_view body) {
  std::uint64_t hash = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char c : body) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (int shift = 60; shift >= 0; shift -= 4) out += kHex[(hash >> shift) & 0xF];
  out += '-';
  out += std::to_string(body.size());
  out += '"';
  return out;
}

std::string_view ContentType(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 10> kTypes{{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".map", "application/json"},
      {".json", "application/json"},
      {".png", "image/png"},
      {".svg", "image/svg+xml"},
      {".txt", "text/plain; charset=utf-8"},
      {".md", "text/markdown; charset=utf-8"},
      {".ico", "image/x-icon"},
  }};
  for (const auto& [suffix, type] : kTypes) {
    if (name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix) return type;
  }
  return "application/octet-stream";
}

// One plain file name of the package: letters, digits, '.', '-', '_'; no leading dot (so no "..", no
// hidden files) and no separator, whatever the percent-encoding of the request was.
bool SafeFileName(std::string_view name) {
  if (name.empty() || name.size() > 128 || name.front() == '.') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
              c == '_';
    if (!ok) return false;
  }
  return name.find("..") == std::string_view::npos;
}

std::string NotInstalledMessage(const std::string& dir) {
  return "Swagger UI is not installed: no swagger-ui-dist in " + dir +
         " (run scripts/setup.sh, or pass --swagger-ui-dir / CES_SWAGGER_UI_DIR); the OpenAPI document is at /api-docs";
}

}  // namespace

std::string DefaultSwaggerUiDir() {
  const char* tools = std::getenv("CES_TOOLS");
  std::string base = tools != nullptr && *tools != '\0' ? std::string(tools) : std::string(kDefaultTools);
  return base + "/swagger-ui-dist-" CES_SWAGGER_UI_DIST_VERSION;
}

DocsApi::DocsApi(DocsApiOptions options)
    : swagger_ui_dir_(options.swagger_ui_dir.empty() ? DefaultSwaggerUiDir() : std::move(options.swagger_ui_dir)),
      document_etag_(Etag(OpenApiDocument())) {
  index_html_ = std::make_shared<const File>(
      File{"text/html; charset=utf-8", std::string(kIndexHtml), Etag(kIndexHtml)});
  initializer_js_ = std::make_shared<const File>(
      File{"text/javascript; charset=utf-8", std::string(kInitializerJs), Etag(kInitializerJs)});
}

DocsApi::~DocsApi() = default;

bool DocsApi::SwaggerUiInstalled() const {
  std::error_code ec;
  return std::filesystem::is_regular_file(std::filesystem::path(swagger_ui_dir_) / "swagger-ui-bundle.js", ec);
}

void DocsApi::Register(http::AsyncServer& server) {
  auto document = [this](const http::Request& request, http::ResponseWriter& writer) { ServeDocument(request, writer); };
  server.Route("GET", "/api-docs", http::RouteHandler(document));
  server.Route("GET", "/api-docs.json", http::RouteHandler(document));
  server.Route("GET", "/swagger-ui", http::RouteHandler([this](const http::Request&, http::ResponseWriter& writer) {
                 if (!SwaggerUiInstalled()) {
                   writer.Send(404, "application/json", common::ErrorJson(404, NotInstalledMessage(swagger_ui_dir_)));
                   return;
                 }
                 // Relative, so it also works behind a reverse proxy that adds a path prefix.
                 writer.Send(301, "application/json", R"({"code":301,"message":"moved to /swagger-ui/"})",
                             {{"Location", "swagger-ui/"}});
               }));
  server.Route("GET", "/swagger-ui/", http::RouteHandler([this](const http::Request&, http::ResponseWriter& writer) {
                 ServeUiFile("index.html", writer);
               }));
  server.Route("GET", "/swagger-ui/{file}",
               http::RouteHandler([this](const http::Request& request, http::ResponseWriter& writer) {
                 const std::string* file = request.Param("file");
                 ServeUiFile(file != nullptr ? std::string_view(*file) : std::string_view(), writer);
               }));
}

void DocsApi::ServeDocument(const http::Request&, http::ResponseWriter& writer) const {
  writer.Send(200, "application/json", OpenApiDocument(),
              {{"Cache-Control", std::string(kRevalidate)}, {"ETag", document_etag_}});
}

void DocsApi::ServeUiFile(std::string_view name, http::ResponseWriter& writer) {
  if (name.empty()) name = "index.html";
  if (!SafeFileName(name)) {
    writer.Send(400, "application/json", common::ErrorJson(400, "invalid file name", "file"));
    return;
  }
  if (!SwaggerUiInstalled()) {
    writer.Send(404, "application/json", common::ErrorJson(404, NotInstalledMessage(swagger_ui_dir_)));
    return;
  }
  std::shared_ptr<const File> file;
  std::string_view cache_control = kStaticCacheControl;
  if (name == "index.html") {
    file = index_html_;
    cache_control = kRevalidate;
  } else if (name == "swagger-initializer.js") {
    file = initializer_js_;
    cache_control = kRevalidate;
  } else {
    file = LoadFile(std::string(name));
  }
  if (file == nullptr) {
    writer.Send(404, "application/json", common::ErrorJson(404, "no such file: /swagger-ui/" + std::string(name)));
    return;
  }
  writer.Send(200, file->content_type, file->body,
              {{"Cache-Control", std::string(cache_control)}, {"ETag", file->etag},
               {"X-Content-Type-Options", "nosniff"}});
}

std::shared_ptr<const DocsApi::File> DocsApi::LoadFile(const std::string& name) {
  {
    std::lock_guard lock(mutex_);
    auto it = cache_.find(name);
    if (it != cache_.end()) return it->second;
  }
  std::filesystem::path path = std::filesystem::path(swagger_ui_dir_) / name;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return nullptr;
  std::ifstream in(path, std::ios::binary);
  if (!in) return nullptr;
  std::ostringstream body;
  body << in.rdbuf();
  File loaded{std::string(ContentType(name)), body.str(), {}};
  loaded.etag = Etag(loaded.body);
  auto file = std::make_shared<const File>(std::move(loaded));
  std::lock_guard lock(mutex_);
  if (cached_bytes_ + file->body.size() <= kMaxCachedBytes) {
    auto [it, inserted] = cache_.emplace(name, file);
    if (inserted) cached_bytes_ += file->body.size();
    return it->second;
  }
  return file;
}

}  // namespace ces::api
