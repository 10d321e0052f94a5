#pragma once
// The API's own documentation: the OpenAPI 3 document (docs/openapi.json, embedded at build time) at
// /api-docs and /api-docs.json, and Swagger UI (the npm package swagger-ui-dist, installed by
// scripts/setup.sh) at /swagger-ui/ with an initializer that opens /api-docs.

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "ces/http/async_server.hpp"

namespace ces::api {

// The embedded docs/openapi.json, byte for byte.
std::string_view OpenApiDocument();

struct DocsApiOptions {
  // Folder of the unpacked swagger-ui-dist package (swagger-ui-bundle.js, swagger-ui.css, …).
  // Empty: DefaultSwaggerUiDir().
  std::string swagger_ui_dir;
};

// $CES_TOOLS (default /opt/casper-event-store/tools) + "/swagger-ui-dist-<version pinned in versions.env>".
std::string DefaultSwaggerUiDir();

class DocsApi {
 public:
  explicit DocsApi(DocsApiOptions options);
  ~DocsApi();
  DocsApi(const DocsApi&) = delete;
  DocsApi& operator=(const DocsApi&) = delete;

  // GET /api-docs, /api-docs.json, /swagger-ui (redirect), /swagger-ui/, /swagger-ui/{file}.
  // Routes only: the Swagger UI folder is read when a file is asked for (a missing folder gives 404 JSON
  // saying how to install it; the server starts anyway).
  void Register(http::AsyncServer& server);

  // Whether the folder holds swagger-ui-dist (for a start-up log line).
  bool SwaggerUiInstalled() const;
  const std::string& swagger_ui_dir() const { return swagger_ui_dir_; }

 private:
  struct File {
    std::string content_type;
    std::string body;
    std::string etag;
  };
  void ServeDocument(const http::Request& request, http::ResponseWriter& writer) const;
  void ServeUiFile(std::string_view name, http::ResponseWriter& writer);
  std::shared_ptr<const File> LoadFile(const std::string& name);

  std::string swagger_ui_dir_;
  std::string document_etag_;
  std::shared_ptr<const File> index_html_;
  std::shared_ptr<const File> initializer_js_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const File>> cache_;  // files read from swagger_ui_dir_
  std::size_t cached_bytes_ = 0;
};

}  // namespace ces::api
