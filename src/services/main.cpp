// casper-event-store: one binary, one subcommand per service.
#include <CLI/CLI.hpp>

#include "ces/common/version.hpp"
#include "ces/services/commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"casper-event-store: captures Casper node events without loss and serves them.\n"
               "Every option can also be set through the environment variable named in its help."};
  app.require_subcommand(1, 1);
  app.set_version_flag("--version", "casper-event-store " + std::string(ces::common::kVersion));
  int exit_code = 0;
  ces::services::RegisterEmit(app, exit_code);
  ces::services::RegisterGenerate(app, exit_code);
  ces::services::RegisterProduce(app, exit_code);
  ces::services::RegisterStoreConsume(app, exit_code);
  ces::services::RegisterMigrate(app, exit_code);
  ces::services::RegisterAuditConsume(app, exit_code);
  ces::services::RegisterChain(app, exit_code);
  ces::services::RegisterApi(app, exit_code);
  ces::services::RegisterBackfill(app, exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
