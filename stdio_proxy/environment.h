#pragma once
// The wrapped server's environment.
//
// In stdio mode the client (Claude Desktop) starts the sidecar with the environment meant for the
// server — the `env` of its configuration entry, which `mcp-sidecar wrap` leaves in place — so
// the server gets everything the sidecar got, except the sidecar's own settings and secrets
// (`MCP_SIDECAR_*`, `AIM_*`), then `--env NAME=VALUE` on top. `--scrub-env` gives the serve
// bridge's allow-list instead (bridge::childEnvironment).

#include <string>
#include <vector>

namespace sidecar::stdio_proxy {

// `parent` (a NULL-terminated environ array; may be null) without MCP_SIDECAR_* and AIM_*, then
// `extra` (NAME=VALUE entries, a later one replacing an earlier one of the same NAME). Entries
// without '=' are left out. Order: parent's order, then new names from `extra`.
std::vector<std::string> passThroughEnvironment(char** parent,
                                                const std::vector<std::string>& extra);

// True when `entry` is NAME=VALUE with a non-empty NAME made of [A-Za-z0-9_] (an --env value).
bool validEnvEntry(const std::string& entry);

} // namespace sidecar::stdio_proxy
