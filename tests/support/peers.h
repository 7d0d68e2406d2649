#pragma once
// Where the npm test peers live (scripts/install-peers.sh puts them in .peers/) and which Node
// runs them. Header-only.

#include <cstdlib>
#include <string>

namespace sidecar::test {

inline std::string peersDir() {
  const char* env = std::getenv("MCP_SIDECAR_PEERS");
  return env && *env ? env : std::string(SIDECAR_SOURCE_DIR) + "/.peers";
}

// @modelcontextprotocol/server-everything's entry point (run it with the argument "stdio").
inline std::string everything() {
  return peersDir() + "/node_modules/@modelcontextprotocol/server-everything/dist/index.js";
}

inline std::string nodeBinary() {
  const char* env = std::getenv("MCP_SIDECAR_NODE");
  return env && *env ? env : "node";
}

} // namespace sidecar::test
