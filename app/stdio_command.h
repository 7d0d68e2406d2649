#pragma once
// `mcp-sidecar stdio [flags] -- COMMAND ARGS...`: the stdio-to-stdio mode that `mcp-sidecar wrap`
// writes into MCP client configurations (docs/stdio-proxy.md). The client starts it as its
// server's command; it starts COMMAND and relays every message unchanged, with the audit trail,
// drift detection and AIM policy (gated tools, usage) of the HTTP modes.

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace sidecar::app {

struct StdioOptions {
  std::vector<std::string> command; // after --
  std::string name;                 // --name: the server's name in logs (and its state dir)
  std::string stateDir;             // empty: the per-server default
  std::string keyFile;
  std::string auditLog;
  bool auditCaptureArgs = false;
  std::string driftPolicy = "alert";
  std::string driftBaseline;
  std::vector<std::string> env; // --env NAME=VALUE
  bool scrubEnv = false;
  std::string logLevel = "info";
  std::string admin; // --admin HOST:PORT: /metrics and /healthz; empty: none
  // AIM, as serve's flags of the same names (docs/aim.md).
  std::vector<std::string> gate; // --gate TOOL[,TOOL...], repeatable
  std::string gateTimeout = "300";
  std::string aimUrl;    // --aim-url, else AIM_URL; empty: AIM off
  std::string aimApiKey; // --aim-api-key, else AIM_API_KEY
  std::string aimAgentId;
  std::string aimCaFile;
  std::string aimHeartbeatInterval = "30";
  std::string aimUsageInterval = "60";
  std::string aimRevocationInterval = "300";
  std::string aimRetryMax = "60";
  std::string spoolMaxBytes = "256MiB";
};

CLI::App* addStdioCommand(CLI::App& app, StdioOptions& o);

// Runs until the client closes stdin (exit 0), a SIGTERM/SIGINT (0), or the server exits (its
// exit status, 128 + signal when killed). 1 when it cannot start (state directory, key, audit
// trail in use, drift baseline, the command), 2 bad usage.
int runStdio(const StdioOptions& o);

} // namespace sidecar::app
