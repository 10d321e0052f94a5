// The OpenAPI document (docs/openapi.json) against the routes the api really registers
// (`casper-event-store api --list-routes`), the document's own consistency, and the docs routes
// (/api-docs, /swagger-ui/) served by DocsApi on an in-process server.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "ces/api/api.hpp"
#include "ces/api/docs_api.hpp"
#include "ces/common/metrics.hpp"
#include "ces/http/async_server.hpp"
#include "test_support.hpp"

namespace {

using nlohmann::json;

const std::set<std::string> kMethods = {"get", "put", "post", "delete", "patch", "options", "head", "trace"};

json LoadDocument() { return json::parse(ces::test::ReadFile(ces::test::SourceDir() + "/docs/openapi.json")); }

// "/api/v1/blocks/{hash}" -> "/api/v1/blocks/{}": the server matches by position, not by name.
std::string Shape(const std::string& pattern) { return std::regex_replace(pattern, std::regex(R"(\{[^}/]*\})"), "{}"); }

std::vector<std::string> Split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, separator)) parts.push_back(part);
  return parts;
}

// Whether the registered "METHOD shape" serves the documented "METHOD shape": same method and segments,
// where a registered "{}" segment takes any documented literal.
bool Serves(const std::string& registered, const std::string& documented) {
  auto r = Split(registered, '/');
  auto d = Split(documented, '/');
  if (r.size() != d.size()) return false;
  for (std::size_t i = 0; i < r.size(); ++i) {
    if (r[i] != d[i] && !(r[i] == "{}" && d[i] != "{}")) return false;
  }
  return true;
}

std::vector<std::string> PathParams(const std::string& pattern) {
  std::vector<std::string> names;
  std::regex re(R"(\{([^}/]*)\})");
  for (auto it = std::sregex_iterator(pattern.begin(), pattern.end(), re); it != std::sregex_iterator(); ++it) {
    names.push_back((*it)[1]);
  }
  return names;
}

// Resolves a local "$ref" ("#/components/schemas/Block"); nullptr when it does not resolve.
const json* Resolve(const json& doc, const std::string& ref) {
  if (ref.rfind("#/", 0) != 0) return nullptr;
  try {
    const json& target = doc.at(json::json_pointer(ref.substr(1)));
    return &target;
  } catch (const std::exception&) {
    return nullptr;
  }
}

const json& Deref(const json& doc, const json& node) {
  if (node.is_object() && node.contains("$ref")) {
    const json* target = Resolve(doc, node["$ref"].get<std::string>());
    if (target != nullptr) return *target;
  }
  return node;
}

void CollectRefs(const json& node, const std::string& where, std::vector<std::pair<std::string, std::string>>& out) {
  if (node.is_object()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (it.key() == "$ref" && it.value().is_string()) out.emplace_back(where, it.value().get<std::string>());
      CollectRefs(it.value(), where + "/" + it.key(), out);
    }
  } else if (node.is_array()) {
    for (std::size_t i = 0; i < node.size(); ++i) CollectRefs(node[i], where + "/" + std::to_string(i), out);
  }
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// "METHOD shape" -> "METHOD pattern" as written.
std::map<std::string, std::string> DocumentedRoutes(const json& doc) {
  std::map<std::string, std::string> routes;
  for (const auto& [path, item] : doc.at("paths").items()) {
    for (const auto& [method, operation] : item.items()) {
      if (!kMethods.contains(method) || method == "options" || method == "head") continue;
      routes[Upper(method) + " " + Shape(path)] = Upper(method) + " " + path;
    }
  }
  return routes;
}

// The routes of `api --list-routes`, built in-process (also under the sanitizers).
std::string RunListRoutes(int& status) {
  status = 0;
  std::string out;
  for (const std::string& route : ces::api::ApiRouteList()) out += route + "\n";
  return out;
}

TEST(OpenApiDocument, IsOpenApi303WithInfoAndPaths) {
  json doc = LoadDocument();  // throws (fails) on invalid JSON
  EXPECT_EQ(doc.value("openapi", ""), "3.0.3");
  ASSERT_TRUE(doc.contains("info"));
  EXPECT_FALSE(doc["info"].value("title", "").empty());
  EXPECT_FALSE(doc["info"].value("version", "").empty());
  ASSERT_TRUE(doc.contains("paths"));
  EXPECT_GT(doc["paths"].size(), 40u);
  ASSERT_TRUE(doc["components"]["schemas"].contains("Error"));
  const json& error = doc["components"]["schemas"]["Error"];
  EXPECT_EQ(error["properties"]["code"]["type"], "integer");
  EXPECT_EQ(error["properties"]["message"]["type"], "string");
  EXPECT_EQ(error["properties"]["parameter"]["type"], "string");
  EXPECT_EQ(error["required"], json::array({"code", "message"}));
}

TEST(OpenApiDocument, EveryRefResolves) {
  json doc = LoadDocument();
  std::vector<std::pair<std::string, std::string>> refs;
  CollectRefs(doc, "", refs);
  EXPECT_GT(refs.size(), 50u);
  for (const auto& [where, ref] : refs) EXPECT_NE(Resolve(doc, ref), nullptr) << ref << " at " << where;
}

TEST(OpenApiDocument, ParametersAreCompleteAndPathParametersDeclared) {
  json doc = LoadDocument();
  for (const auto& [path, item] : doc.at("paths").items()) {
    std::vector<std::string> in_template = PathParams(path);
    for (const auto& [method, operation] : item.items()) {
      if (!kMethods.contains(method)) continue;
      std::string op = Upper(method) + " " + path;
      EXPECT_TRUE(operation.contains("responses") && !operation["responses"].empty()) << op << ": no responses";
      EXPECT_TRUE(operation.contains("summary")) << op << ": no summary";
      std::set<std::string> declared_path;
      std::set<std::string> seen;
      json parameters = operation.value("parameters", json::array());
      for (const json& p : item.value("parameters", json::array())) parameters.push_back(p);
      for (const json& raw : parameters) {
        const json& p = Deref(doc, raw);
        ASSERT_TRUE(p.contains("name") && p.contains("in")) << op << ": parameter without name/in: " << raw.dump();
        std::string name = p["name"];
        std::string in = p["in"];
        EXPECT_TRUE(p.contains("schema")) << op << ": parameter " << name << " has no schema";
        EXPECT_FALSE(p.value("description", "").empty()) << op << ": parameter " << name << " has no description";
        EXPECT_TRUE(seen.insert(in + ":" + name).second) << op << ": parameter " << name << " declared twice";
        if (in == "path") {
          EXPECT_TRUE(p.value("required", false)) << op << ": path parameter " << name << " must be required";
          declared_path.insert(name);
        }
      }
      for (const std::string& name : in_template) {
        EXPECT_TRUE(declared_path.contains(name)) << op << ": {" << name << "} is not declared as an in: path parameter";
      }
      for (const std::string& name : declared_path) {
        EXPECT_NE(std::find(in_template.begin(), in_template.end(), name), in_template.end())
            << op << ": path parameter " << name << " is not in the path";
      }
      for (const auto& [code, response] : operation["responses"].items()) {
        const json& r = Deref(doc, response);
        EXPECT_TRUE(r.contains("description")) << op << " " << code << ": response without description";
        if (code.size() == 3 && (code[0] == '4' || code[0] == '5') && r.contains("content")) {
          EXPECT_TRUE(r["content"].contains("application/json")) << op << " " << code << ": errors are JSON";
        }
      }
    }
  }
}

TEST(OpenApiDocument, IsEmbeddedInTheBinaryByteForByte) {
  EXPECT_EQ(std::string(ces::api::OpenApiDocument()),
            ces::test::ReadFile(ces::test::SourceDir() + "/docs/openapi.json"));
}

// The agreement check: every registered route is documented, every documented operation is routed.
TEST(OpenApiDocument, MatchesTheRegisteredRoutes) {
  int status = 0;
  std::string out = RunListRoutes(status);
  ASSERT_EQ(status, 0) << "ApiRouteList() failed";
  std::map<std::string, std::string> registered;
  std::regex line_re(R"(^([A-Z]+) (/\S*)\s*$)");
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (!std::regex_match(line, m, line_re)) continue;
    if (m[1] == "OPTIONS" || m[1] == "HEAD") continue;
    registered[m[1].str() + " " + Shape(m[2])] = m[1].str() + " " + m[2].str();
  }
  ASSERT_GT(registered.size(), 10u) << "--list-routes printed no routes:\n" << out;
  std::map<std::string, std::string> documented = DocumentedRoutes(LoadDocument());
  for (const auto& [shape, route] : registered) {
    EXPECT_TRUE(documented.contains(shape)) << "route not in docs/openapi.json: " << route;
  }
  for (const auto& [shape, route] : documented) {
    // A documented literal path ("/api/v1/blocks/latest") may be served by a pattern ("/api/v1/blocks/{hash}").
    bool routed = registered.contains(shape);
    for (auto it = registered.begin(); !routed && it != registered.end(); ++it) routed = Serves(it->first, shape);
    EXPECT_TRUE(routed) << "documented but not routed by the api: " << route;
  }
}

// ---- DocsApi over HTTP ----

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

Response Get(std::uint16_t port, const std::string& target) {
  Response response;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return response;
  }
  std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  (void)!write(fd, request.data(), request.size());
  std::string raw;
  char buffer[65536];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof buffer)) > 0) raw.append(buffer, static_cast<std::size_t>(n));
  close(fd);
  auto head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) return response;
  std::istringstream head(raw.substr(0, head_end));
  std::string line;
  std::getline(head, line);
  response.status = std::stoi(line.substr(9, 3));
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    response.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
  }
  std::string body = raw.substr(head_end + 4);
  if (response.headers["transfer-encoding"] == "chunked") {
    std::string decoded;
    std::size_t pos = 0;
    while (pos < body.size()) {
      std::size_t eol = body.find("\r\n", pos);
      std::size_t size = std::stoul(body.substr(pos, eol - pos), nullptr, 16);
      if (size == 0) break;
      decoded += body.substr(eol + 2, size);
      pos = eol + 2 + size + 2;
    }
    body = decoded;
  }
  response.body = body;
  return response;
}

class DocsApiTest : public ::testing::Test {
 protected:
  void Start(const std::string& dir) {
    ces::http::AsyncServerOptions options;
    options.gzip = false;
    server_ = std::make_unique<ces::http::AsyncServer>(options);
    docs_ = std::make_unique<ces::api::DocsApi>(ces::api::DocsApiOptions{dir});
    docs_->Register(*server_);
    server_->Start();
    port_ = server_->Port();
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }
  std::unique_ptr<ces::http::AsyncServer> server_;
  std::unique_ptr<ces::api::DocsApi> docs_;
  std::uint16_t port_ = 0;
};

TEST_F(DocsApiTest, ServesTheDocument) {
  Start("/nonexistent");
  for (const char* path : {"/api-docs", "/api-docs.json"}) {
    Response r = Get(port_, path);
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.headers["content-type"].rfind("application/json", 0), 0u) << path;
    EXPECT_EQ(r.body, std::string(ces::api::OpenApiDocument())) << path;
    EXPECT_FALSE(r.headers["etag"].empty());
  }
}

TEST_F(DocsApiTest, MissingSwaggerUiIs404JsonAndSaysHowToInstall) {
  Start(ces::test::TempDir() + "/missing");
  EXPECT_FALSE(docs_->SwaggerUiInstalled());
  for (const char* path : {"/swagger-ui", "/swagger-ui/", "/swagger-ui/index.html", "/swagger-ui/swagger-ui.css"}) {
    Response r = Get(port_, path);
    EXPECT_EQ(r.status, 404) << path;
    json body = json::parse(r.body);
    EXPECT_EQ(body["code"], 404);
    EXPECT_NE(body["message"].get<std::string>().find("scripts/setup.sh"), std::string::npos) << r.body;
  }
  EXPECT_EQ(Get(port_, "/api-docs").status, 200);
}

TEST_F(DocsApiTest, ServesSwaggerUiFilesWithTypesAndCaching) {
  std::string base = ces::test::TempDir();
  std::string dir = base + "/ui";
  std::filesystem::create_directories(dir);
  ces::test::WriteFile(dir + "/swagger-ui-bundle.js", "var SwaggerUIBundle = 1;\n");
  ces::test::WriteFile(dir + "/swagger-ui.css", "body{}\n");
  ces::test::WriteFile(dir + "/favicon-32x32.png", std::string("\x89PNG\r\n\x1a\n", 8));
  ces::test::WriteFile(dir + "/swagger-initializer.js", "petstore.swagger.io\n");
  ces::test::WriteFile(dir + "/.hidden", "TOPSECRET-CONTENT\n");
  ces::test::WriteFile(base + "/outside-secret.txt", "TOPSECRET-CONTENT\n");
  Start(dir);
  EXPECT_TRUE(docs_->SwaggerUiInstalled());

  Response redirect = Get(port_, "/swagger-ui");
  EXPECT_EQ(redirect.status, 301);
  EXPECT_EQ(redirect.headers["location"], "swagger-ui/");

  Response index = Get(port_, "/swagger-ui/");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.headers["content-type"].rfind("text/html", 0), 0u);
  EXPECT_NE(index.body.find("swagger-initializer.js"), std::string::npos);

  Response init = Get(port_, "/swagger-ui/swagger-initializer.js");
  EXPECT_EQ(init.status, 200);
  EXPECT_EQ(init.headers["content-type"].rfind("text/javascript", 0), 0u);
  EXPECT_NE(init.body.find("\"../api-docs\""), std::string::npos) << init.body;
  EXPECT_EQ(init.body.find("petstore"), std::string::npos);
  EXPECT_EQ(init.headers["cache-control"], "no-cache");

  Response bundle = Get(port_, "/swagger-ui/swagger-ui-bundle.js");
  EXPECT_EQ(bundle.status, 200);
  EXPECT_EQ(bundle.body, "var SwaggerUIBundle = 1;\n");
  EXPECT_EQ(bundle.headers["content-type"], "text/javascript; charset=utf-8");
  EXPECT_NE(bundle.headers["cache-control"].find("max-age="), std::string::npos);
  EXPECT_FALSE(bundle.headers["etag"].empty());
  EXPECT_EQ(Get(port_, "/swagger-ui/swagger-ui.css").headers["content-type"], "text/css; charset=utf-8");
  Response png = Get(port_, "/swagger-ui/favicon-32x32.png");
  EXPECT_EQ(png.headers["content-type"], "image/png");
  EXPECT_EQ(png.body.size(), 8u);

  EXPECT_EQ(Get(port_, "/swagger-ui/nope.js").status, 404);
  for (const char* evil : {"/swagger-ui/..%2Foutside-secret.txt", "/swagger-ui/.hidden", "/swagger-ui/..",
                           "/swagger-ui/%2E%2E%2Foutside-secret.txt", "/swagger-ui/..%5Coutside-secret.txt",
                           "/swagger-ui/%2Fetc%2Fpasswd", "/swagger-ui/../outside-secret.txt"}) {
    Response r = Get(port_, evil);
    EXPECT_TRUE(r.status == 400 || r.status == 404) << evil << " -> " << r.status;
    EXPECT_EQ(r.body.find("TOPSECRET-CONTENT"), std::string::npos) << evil << ": " << r.body;
    EXPECT_EQ(r.body.find("root:"), std::string::npos) << evil;
  }
}

// ces::api::Api on an in-process server: the routes it registers for the backends it is given.
class ApiRoutesTest : public ::testing::Test {
 protected:
  void Start(const ces::api::ApiOptions& options) {
    api_ = std::make_unique<ces::api::Api>(options, registry_);
    ces::http::AsyncServerOptions server_options;
    server_options.gzip = false;
    server_ = std::make_unique<ces::http::AsyncServer>(server_options);
    api_->Register(*server_);
    server_->Start();
    port_ = server_->Port();
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }
  ces::metrics::Registry registry_;
  std::unique_ptr<ces::api::Api> api_;
  std::unique_ptr<ces::http::AsyncServer> server_;
  std::uint16_t port_ = 0;
};

TEST_F(ApiRoutesTest, WithoutBackendsOnlyTheDocumentationAndObservability) {
  Start({});
  EXPECT_EQ(api_->rest(), nullptr);
  EXPECT_EQ(api_->replay(), nullptr);
  EXPECT_EQ(api_->hub(), nullptr);
  EXPECT_EQ(Get(port_, "/healthz").status, 200);
  EXPECT_EQ(Get(port_, "/readyz").status, 200);
  EXPECT_EQ(Get(port_, "/api-docs").status, 200);
  for (const char* path : {"/api/v1/blocks", "/events", "/block", "/api/v1/events"}) {
    EXPECT_EQ(Get(port_, path).status, 404) << path;
  }
  EXPECT_LT(server_->Routes().size(), ces::api::ApiRouteList().size());
}

TEST_F(ApiRoutesTest, EveryBackendGivesEveryRouteAndNotStartedIsNotReady) {
  ces::api::ApiOptions options;
  options.postgres = "postgresql://127.0.0.1:1/none";  // nothing connects before Start()
  options.mongo = "mongodb://127.0.0.1:1/none";
  options.kafka = "127.0.0.1:1";
  Start(options);
  ASSERT_NE(api_->rest(), nullptr);
  ASSERT_NE(api_->replay(), nullptr);
  ASSERT_NE(api_->sidecar(), nullptr);
  ASSERT_NE(api_->hub(), nullptr);
  std::vector<std::string> routes;
  for (const auto& route : server_->Routes()) routes.push_back(route.method + " " + route.pattern);
  EXPECT_EQ(routes, ces::api::ApiRouteList());
  Response ready = Get(port_, "/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_NE(ready.body.find("the REST API is not started"), std::string::npos) << ready.body;
  Response blocks = Get(port_, "/api/v1/blocks");
  EXPECT_EQ(blocks.status, 503);
  EXPECT_EQ(json::parse(blocks.body)["message"], "the REST API is not started");
}

}  // namespace
