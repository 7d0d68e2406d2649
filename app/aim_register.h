#pragma once
// `mcp-sidecar register`: registers MCP servers found in the clients' configurations with AIM, as
// the integration guide's register_mcp_server does (docs/aim.md, "Registering the servers a
// machine's clients use"). Each server gets an Ed25519 key of its own, kept (0600) in the keys
// directory and reused; the servers are registered by an agent whose key is kept there too.
// What was registered is remembered, so a second run registers nothing new.

#include <cstdio>
#include <string>
#include <vector>

#include "clients/detect.h"

namespace sidecar::app {

struct RegisterConfig {
  std::string aimUrl;  // --aim-url / AIM_URL
  std::string apiKey;  // --aim-api-key / AIM_API_KEY: registers the agent the first time
  std::string caFile;  // --aim-ca-file
  std::string keysDir; // --keys-dir; default $XDG_CONFIG_HOME (or ~/.config)/mcp-sidecar/aim
};

// The URL a server is registered under: a remote server's own URL; for a stdio server, which has
// none, stdio://<host name>/<server name> (unique per machine and name; AIM only checks that it
// is a URL, and never calls it).
std::string registrationUrl(const clients::ServerEntry& s, const std::string& hostName);
// The stdio://<host name>/<name> form of it, `name` percent-encoded (`mcp-sidecar stdio` registers
// its server under stdio://<host name>/<name>-<hash of the command line> this way).
std::string stdioServerUrl(const std::string& serverName, const std::string& hostName);

// Registers `servers` (already selected); prints one line per server to `out`, problems to
// `err`. 0 all registered (or already were), 1 any failed (the others are still done).
int registerServers(const RegisterConfig& cfg, const std::vector<clients::ServerEntry>& servers,
                    std::FILE* out, std::FILE* err);

} // namespace sidecar::app
