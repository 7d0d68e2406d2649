#pragma once
// `mcp-sidecar drift accept [--admin HOST:PORT]`: asks the running sidecar (admin
// POST /drift/accept) to take the current tool definitions as the new drift baseline.

#include <string>

namespace CLI {
class App;
}

namespace sidecar::app {

struct DriftAcceptOptions {
  std::string admin = "127.0.0.1:9464";
};

// Adds `drift accept`; returns the `accept` subcommand so main can tell it was chosen.
CLI::App* addDriftCommand(CLI::App& app, DriftAcceptOptions& o);
int runDriftAccept(const DriftAcceptOptions& o);

} // namespace sidecar::app
