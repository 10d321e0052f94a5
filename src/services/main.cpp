// casper-event-store: one binary, one subcommand per service.
#include <CLI/CLI.hpp>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "ces/common/version.hpp"
#include "ces/services/commands.hpp"

namespace {

// glibc gives each thread an arena of its own (up to 8 per core) and keeps what is freed in them:
// after a burst of large batches the services held hundreds of MB they no longer used. One arena per
// core (MALLOC_ARENA_MAX, if set, wins), and every few seconds the free pages go back to the system
// (malloc_trim also releases those inside the heap, not only its top). docs/operations.md "Memory".
void BoundHeap() {
  if (!std::getenv("MALLOC_ARENA_MAX")) mallopt(M_ARENA_MAX, static_cast<int>(std::max(2u, std::thread::hardware_concurrency())));
  // The thread takes no signals: the services wait for SIGTERM/SIGINT with their own mask.
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  std::thread([] {
    while (true) {
      std::this_thread::sleep_for(std::chrono::seconds(5));
      malloc_trim(0);
    }
  }).detach();
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  BoundHeap();
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
