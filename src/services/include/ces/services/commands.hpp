#pragma once
// Subcommand registration. Each Register* adds a CLI11 subcommand whose callback runs the service and
// stores its exit status in `exit_code` (0 success, 1 runtime failure; CLI11 reports usage errors).

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
void RegisterChain(CLI::App& app, int& exit_code);
void RegisterApi(CLI::App& app, int& exit_code);
void RegisterBackfill(CLI::App& app, int& exit_code);

}  // namespace ces::services
