#pragma once
// Process-wide stop signal: SIGTERM and SIGINT request a graceful shutdown.

#include <chrono>

namespace ces::shutdown {

// Blocks SIGTERM/SIGINT in the calling thread (call first in main, before any thread starts) and
// starts a watcher thread that turns them into a shutdown request.
void InstallSignalHandlers();
void Request();
bool Requested();
// Sleeps up to `timeout`; returns true as soon as a shutdown was requested.
bool WaitFor(std::chrono::milliseconds timeout);

}  // namespace ces::shutdown
