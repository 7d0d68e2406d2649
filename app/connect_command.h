#pragma once
// `mcp-sidecar connect URL`: a stdio MCP server for a client such as Claude Desktop that forwards
// every message to a remote mcp-sidecar over Streamable HTTP, signing each request with the
// caller's key and checking each answer against the server's key (docs/connect.md).

#include <string>

namespace CLI {
class App;
}

namespace sidecar::app {

struct ConnectOptions {
  std::string url;
  std::string key;
  std::string keyId;
  std::string serverKey;
  std::string caFile;
  std::string logLevel = "info";
  bool insecureNoVerifyAnswers = false;
};

CLI::App* addConnectCommand(CLI::App& app, ConnectOptions& o);

// Runs until the client closes stdin (or sends SIGTERM/SIGINT). Exit status: 0 after the
// session closed, 1 when it cannot start (key, URL, the server's key refused or unknown),
// 2 bad usage.
int runConnect(const ConnectOptions& o);

} // namespace sidecar::app
