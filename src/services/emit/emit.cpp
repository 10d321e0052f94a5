// `casper-event-store emit`: a fake Casper node serving recorded streams (wiring only; the node, the
// recording loader and the synthetic hashes are in ces::emit).

#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "ces/common/log.hpp"
#include "ces/common/metrics.hpp"
#include "ces/common/shutdown.hpp"
#include "ces/emit/node.hpp"
#include "ces/emit/rpc.hpp"
#include "ces/http/server.hpp"
#include "ces/services/commands.hpp"

namespace ces::services {
namespace {

struct EmitOptions {
  std::string listen = "127.0.0.1:18101";
  std::vector<std::string> streams;
  std::string recordings_dir;
  int protocol = 2;
  std::size_t buffer = 5000;
  double rate = 0;
  bool loop = false;
  bool synthetic = false;
  bool rpc = false;
  std::uint64_t rpc_fault_every = 0;
  double keepalive_seconds = 15;
  std::uint64_t drop_after = 0;
  std::uint64_t exit_after = 0;
  std::string port_file;
  std::string log_level = "info";
};

void WritePortFile(const std::string& path, std::uint16_t port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out) throw std::runtime_error("cannot write " + tmp);
  }
  std::filesystem::rename(tmp, path);
}

int RunEmit(const EmitOptions& options) {
  shutdown::InstallSignalHandlers();
  log::Init("emit", options.log_level);
  try {
    if (options.keepalive_seconds <= 0 || !std::isfinite(options.keepalive_seconds)) {
      throw std::invalid_argument("--keepalive must be > 0");
    }
    emit::NodeConfig config;
    config.buffer = options.buffer;
    config.rate = options.rate;
    config.loop = options.loop;
    config.synthetic = options.synthetic;
    config.keepalive = std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(options.keepalive_seconds * 1000)));
    config.drop_after = options.drop_after;
    config.exit_after = options.exit_after;

    auto [host, port] = http::ParseHostPort(options.listen);
    std::vector<std::string> files = options.streams;
    if (!options.recordings_dir.empty()) {
      for (std::string& file : emit::RecordingFiles(options.recordings_dir, options.protocol)) files.push_back(file);
    }
    emit::Node node(emit::LoadStreams(files), config);
    node.SetExitHandler([] { shutdown::Request(); });
    http::Server server(host, port);
    node.Register(server);
    std::unique_ptr<emit::RpcNode> rpc;
    if (options.rpc) {
      rpc = std::make_unique<emit::RpcNode>(node, emit::RpcFaults{options.rpc_fault_every});
      rpc->Register(server, node);
    }
    http::AddObservabilityRoutes(server, metrics::Default(), {});
    server.Start();
    node.ResetClock(std::chrono::steady_clock::now());
    log::Info("listening", {{"port", static_cast<unsigned>(server.Port())},
                            {"host", host},
                            {"api_version", node.api_version()},
                            {"chainspec_name", node.chainspec_name()},
                            {"loop", options.loop},
                            {"rate", options.rate}});
    if (!options.port_file.empty()) WritePortFile(options.port_file, server.Port());

    while (!shutdown::WaitFor(std::chrono::seconds(1))) {
    }
    log::Info("stopping", {{"events_sent", node.events_sent()}});
    server.Stop();
    log::Info("stopped", {{"events_sent", node.events_sent()}});
    return 0;
  } catch (const std::exception& e) {
    log::Error("emit failed", {{"error", e.what()}});
    return 1;
  }
}

}  // namespace

void RegisterEmit(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<EmitOptions>();
  CLI::App* cmd = app.add_subcommand(
      "emit", "Fake Casper node: serves recorded SSE streams with a node's wire format, replay buffer and timing");
  cmd->add_option("--listen", options->listen, "HOST:PORT to listen on; port 0 picks a free port")
      ->envname("CES_LISTEN")
      ->capture_default_str();
  cmd->add_option("--stream", options->streams,
                  "Stream file to serve (repeatable). ApiVersion 1.x files are served on /events/<main|deploys|sigs> "
                  "after their name, 2.x on /events")
      ->envname("CES_STREAM")
      ->delimiter(',');
  cmd->add_option("--recordings", options->recordings_dir,
                  "Recordings directory: serves DIR/v1/{main,deploys,sigs}.stream or DIR/v2/events.stream (--protocol)")
      ->envname("CES_RECORDINGS");
  cmd->add_option("--protocol", options->protocol, "Protocol of the --recordings streams: 1 or 2")
      ->envname("CES_PROTOCOL")
      ->check(CLI::IsMember({1, 2}))
      ->capture_default_str();
  cmd->add_option("--buffer", options->buffer, "Replay buffer: events a start_from can reach back")
      ->envname("CES_BUFFER")
      ->capture_default_str();
  cmd->add_option("--rate", options->rate, "Events published per second from start-up (0: all at once)")
      ->envname("CES_RATE")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_flag("--loop", options->loop, "Repeat the recording forever with increasing ids (Shutdown left out)")
      ->envname("CES_LOOP");
  cmd->add_flag("--synthetic", options->synthetic,
                "Give looped cycles new hashes (64-hex string values rewritten); /status says emit-synthetic")
      ->envname("CES_SYNTHETIC");
  cmd->add_flag("--rpc", options->rpc,
                "Also serve the node's JSON-RPC on POST /rpc (blocks, transactions, status) from the same recordings")
      ->envname("CES_RPC");
  cmd->add_option("--rpc-fault-every", options->rpc_fault_every,
                  "Every Nth RPC request fails, in turn: HTTP 500, truncated JSON, JSON-RPC error, 2 s delay (0: never)")
      ->envname("CES_RPC_FAULT_EVERY")
      ->capture_default_str();
  cmd->add_option("--keepalive", options->keepalive_seconds, "Seconds of silence before a ':' keep-alive comment")
      ->envname("CES_KEEPALIVE")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--drop-after", options->drop_after, "Close each connection abruptly after N events (0: never)")
      ->envname("CES_DROP_AFTER")
      ->capture_default_str();
  cmd->add_option("--exit-after", options->exit_after, "Exit (code 0) once N events were sent in total (0: never)")
      ->envname("CES_EXIT_AFTER")
      ->capture_default_str();
  cmd->add_option("--port-file", options->port_file, "Write the bound port to this file once listening")
      ->envname("CES_PORT_FILE");
  cmd->add_option("--log-level", options->log_level, "debug, info, warn or error")
      ->envname("CES_LOG_LEVEL")
      ->capture_default_str();
  cmd->callback([options, &exit_code] { exit_code = RunEmit(*options); });
}

}  // namespace ces::services
