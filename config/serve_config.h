#pragma once
// The `serve` configuration: every setting is a flag, an environment variable
// MCP_SIDECAR_<NAME> and a top-level key of the YAML file, resolved flag > environment > file >
// default (docs/configuration.md). Invalid values are reported with the key as the user wrote it
// (flag, variable or file key), the value, and what is allowed.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/log.h"
#include "common/status.h"
#include "config/units.h"

namespace CLI {
class App;
class Option;
} // namespace CLI

namespace sidecar::config {

enum class VerifyMode { Enforce, Monitor, Off };

struct ServeConfig {
  std::string configFile;
  HostPort listen{"127.0.0.1", 8787};
  HostPort admin{"127.0.0.1", 9464};
  std::optional<HttpUrl> upstream;
  // A stdio upstream: `-- COMMAND ARGS...`, or `upstream: {command, args, env, cwd}` in the file.
  std::vector<std::string> upstreamCommand;
  std::vector<std::string> upstreamEnv; // KEY=VALUE, on top of what the child inherits
  std::string upstreamCwd;
  std::string mcpPath = "/mcp";
  bool childPerSession = false;
  uint32_t maxChildren = 16;
  uint64_t childIdleTimeoutMs = 600000;
  // Host and Origin allow-lists (DNS-rebinding protection). resolve() fills the defaults: the
  // loopback names plus the listen host, and for origins the same hosts; "*" = anything.
  // The sidecar's state and identity (spec/cli.md): its key, the audit trail.
  std::string stateDir = "./.mcp-sidecar";
  std::string keyFile;  // --key; empty: AIM_PRIVATE_KEY, else <state-dir>/identity.key
  std::string auditLog; // empty: <state-dir>/audit.ndjson
  uint64_t auditMaxBytes = 100ull << 20;
  uint32_t auditCheckpointEvery = 1000;
  uint64_t auditCheckpointIntervalMs = 10000;
  bool auditCaptureArgs = false;
  // --observe false: no per-operation MCP awareness (audit records and MCP metrics of answered
  // calls) for an HTTP upstream; rejections, drift, start and stop are still recorded. For
  // measuring what awareness costs (bench/http-bench.sh OBSERVE_COST=1).
  bool observe = true;
  bool driftBlock = false;   // --drift-policy block (default alert)
  std::string driftBaseline; // --drift-baseline HASH: pin instead of learning
  // AIM (docs/aim.md). aimUrl empty = AIM off; every local feature keeps working.
  std::vector<std::string> gate; // --gate: tools whose calls need AIM approval first
  uint64_t gateTimeoutMs = 300000;
  std::string serverName; // empty: the upstream's own serverInfo.name
  std::string publicUrl;  // empty: http://<listen><mcp-path>
  std::string aimUrl;
  std::string aimAgentId;
  std::string aimApiKey;
  std::string aimCaFile;
  uint64_t aimHeartbeatIntervalMs = 30000;
  uint64_t aimUsageIntervalMs = 60000;
  uint64_t aimRevocationIntervalMs = 300000;
  uint64_t aimRetryMaxMs = 60000;
  uint64_t spoolMaxBytes = 256ull << 20;
  std::vector<std::string> allowedHosts;
  std::vector<std::string> allowedOrigins;
  uint64_t maxBody = 4 << 20;
  uint64_t maxHeaderSize = 32 << 10;
  uint32_t maxConnections = 10000;
  uint64_t headerTimeoutMs = 10000;
  uint64_t idleTimeoutMs = 75000;
  uint64_t upstreamTimeoutMs = 300000;
  uint64_t upstreamKeepaliveMs = 4000;
  uint32_t upstreamMaxIdle = 128;
  // An HTTP upstream: the period of the sidecar's own listing (discovery/http_lister.h).
  uint64_t upstreamListIntervalMs = 60000;
  uint64_t drainTimeoutMs = 30000;
  unsigned workers = 1;
  log::Level logLevel = log::Level::Info;
  bool accessLog = true;
  VerifyMode verify = VerifyMode::Enforce;
  std::string trustStore;
  bool profileMcpSigV1 = true;
  bool profileSeed = false;
  bool profileAimAgentRequest = false;
  uint64_t windowSeconds = 300;
  bool requireNonce = false;
  uint64_t replayCapacity = 1 << 20;
};

// Whether a request's Host header (`hostHeader`, may carry a port) and Origin header (may be
// empty: absent) pass the allow-lists of `cfg`. On refusal `why` names the header and value.
bool hostAllowed(const ServeConfig& cfg, std::string_view hostHeader, std::string& why);
bool originAllowed(const ServeConfig& cfg, std::string_view origin, std::string& why);

// The CPUs this process may use: its affinity mask, capped by a cgroup v2 CPU quota (a
// Kubernetes CPU limit), at least 1.
unsigned usableCpus();

// A comma-separated list value (--gate, --allowed-hosts …): items trimmed of spaces and tabs,
// empty ones dropped.
std::vector<std::string> splitList(std::string_view value);

class ServeOptions {
public:
  ServeOptions();
  ~ServeOptions();

  // Adds every flag, with its help text and default, to `app` (the `serve` subcommand), and the
  // trailing `-- COMMAND ARGS...`.
  void registerFlags(CLI::App& app);

  // After CLI parsing: resolves every setting from flag, environment (`getenv`), file, default.
  // Errors name the key as given, the value and what is allowed; the caller exits with 2.
  Result<ServeConfig> resolve(const std::function<const char*(const char*)>& getenv) const;

  struct Spec;

private:
  std::vector<Spec> specs_;
  std::vector<std::string> cliValues_;
  std::vector<CLI::Option*> cliOptions_;
  std::vector<std::string> command_;
};

} // namespace sidecar::config
