#pragma once
// Subcommand registration. Each Register* adds a CLI11 subcommand whose callback runs the service and
// stores its exit status in `exit_code` (0 success, 1 runtime failure; CLI11 reports usage errors).

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace ces::services {

void RegisterEmit(CLI::App& app, int& exit_code);
void RegisterGenerate(CLI::App& app, int& exit_code);
void RegisterProduce(CLI::App& app, int& exit_code);
void RegisterStoreConsume(CLI::App& app, int& exit_code);
void RegisterMigrate(CLI::App& app, int& exit_code);
void RegisterAuditConsume(CLI::App& app, int& exit_code);
void RegisterApi(CLI::App& app, int& exit_code);

// Every route `api` registers when given all backends, "METHOD /pattern" (what `api --list-routes`
// prints). Builds the components without connecting to anything.
std::vector<std::string> ApiRouteList();

}  // namespace ces::services
