#pragma once
// Names for one wrapped server: what the logs call it, and the state directory that holds its
// audit trail, drift baseline and key. Pure functions (no I/O).
//
// Each distinct command line gets its own directory, so that several servers wrapped in one
// client configuration never share (and fight over the lock of) one audit trail, and the same
// server started again finds its baseline and resumes its chain.

#include <string>
#include <vector>

namespace sidecar::stdio_proxy {

// A short readable name for the server started by `argv` (non-empty): the package or script it
// runs, not the runner: `npx -y @modelcontextprotocol/server-filesystem /data` →
// "server-filesystem", `node /srv/weather/dist/index.js` → "weather", `uvx mcp-server-git` →
// "mcp-server-git". Only [A-Za-z0-9._-] (anything else becomes '_'), at most 48 bytes; "server"
// when nothing is left.
std::string serverName(const std::vector<std::string>& argv);

// serverName(argv) + "-" + the first 8 hex digits of SHA-256 over the arguments joined by NUL
// bytes: distinct command lines get distinct directories. Requires sodium_init().
std::string serverDirName(const std::vector<std::string>& argv);

// The default state directory: `$XDG_STATE_HOME/mcp-sidecar/<serverDirName>` when XDG_STATE_HOME
// is an absolute path, else `$HOME/.local/state/mcp-sidecar/<serverDirName>`; empty when neither
// is usable (the caller asks for --state-dir). Either pointer may be null.
std::string defaultStateDir(const std::vector<std::string>& argv, const char* xdgStateHome,
                            const char* home);

} // namespace sidecar::stdio_proxy
