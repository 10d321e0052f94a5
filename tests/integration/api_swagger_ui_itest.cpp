// Browser check: the api (on a migrated PostgreSQL and the audit store) serves Swagger UI, which loads
// in headless Chromium and executes requests (tests/browser/swagger_ui_check.js, puppeteer-core).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using ces::test::RunShell;

std::string Chromium() {
  const char* path = std::getenv("CES_CHROMIUM");
  return path != nullptr && *path != '\0' ? path : "/usr/bin/chromium";
}

TEST(ApiSwaggerUi, LoadsInChromiumAndExecutesARequest) {
  if (!std::filesystem::exists(Chromium())) {
    GTEST_SKIP() << "chromium is not installed at " << Chromium()
                 << " (scripts/setup.sh installs Debian's chromium; CES_CHROMIUM points elsewhere)";
  }
  std::string postgres = ces::test::RequireEnv("POSTGRES_URI");
  std::string mongo = ces::test::RequireEnv("MONGO_URI");
  std::string node_version;
  ASSERT_EQ(RunShell("node --version", node_version), 0) << "node is missing (scripts/setup.sh installs it)";

  std::string dir = ces::test::TempDir();
  {
    ces::test::Process migrate({"migrate", "--postgres", postgres}, dir + "/migrate.log");
    auto status = migrate.Wait(60s);
    ASSERT_TRUE(status.has_value() && *status == 0) << migrate.Log();
  }

  std::uint16_t port = ces::test::FreePort();
  std::string base = "http://127.0.0.1:" + std::to_string(port);
  ces::test::Process api({"api", "--listen", "127.0.0.1:" + std::to_string(port), "--postgres", postgres, "--mongo",
                          mongo},
                         dir + "/api.log");
  ASSERT_TRUE(ces::test::WaitUntil([&] { return ces::test::HttpGet(base + "/readyz").first == 200; }, 60s))
      << "api not ready:\n"
      << api.Log();
  auto ui = ces::test::HttpGet(base + "/swagger-ui/");
  ASSERT_EQ(ui.first, 200) << "Swagger UI not served (run scripts/setup.sh): " << ui.second;

  std::string script = ces::test::SourceDir() + "/tests/browser/swagger_ui_check.js";
  std::string screenshot = dir + "/swagger-ui.png";
  // One operation without a backend (observability) and one of the store API on the migrated database.
  for (const char* operation : {"/healthz", "/api/v1/blocks"}) {
    std::string output;
    int status = RunShell("CES_SCREENSHOT='" + screenshot + "' node '" + script + "' '" + base + "' '" + operation + "'",
                     output);
    EXPECT_EQ(status, 0) << operation << ":\n" << output << "\napi log:\n" << api.Log();
    EXPECT_NE(output.find("rendered status 200"), std::string::npos) << output;
    std::printf("%s", output.c_str());
  }
  EXPECT_TRUE(api.Running()) << api.Log();
}

}  // namespace
