#pragma once
// `mcp-sidecar detect`: the MCP servers configured in the clients' files, as the AIM integration
// guide prints them (`name: command args`) or as JSON. Environment and header values are redacted
// unless asked for.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "clients/config_file.h"
#include "clients/sources.h"

namespace sidecar::clients {

struct ServerEntry {
  std::string name;
  Client client = Client::Other;
  std::string source;  // the file
  std::string scope;   // "user", "local", "project", "workspace"
  std::string project; // Claude Code's local scope: the project's path
  // "stdio", the file's "type" ("http", "sse", ...), or "remote" for a URL of unstated type.
  std::string transport;
  std::optional<std::string> command; // stdio servers
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::optional<std::string> url; // remote servers ("url", or Windsurf's "serverUrl")
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<std::string> cwd;
  bool disabled = false; // Windsurf's "disabled": true
  bool wrapped = false;  // runs through `mcp-sidecar stdio --` (wrap.h)
};

// The servers of one parsed file, in file order. Entries that are not servers (not an object,
// neither "command" nor "url", a "command" that is not a string) are left out with a warning
// naming the file and the server.
std::vector<ServerEntry> serverEntries(const ConfigFile& file, std::vector<std::string>& warnings);

struct DetectResult {
  std::vector<ServerEntry> servers;
  // Files that exist but could not be used (unreadable, invalid JSON, ...), one line each with
  // the path and what to do. Any error makes `detect` exit 1, after listing everything else.
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
  std::vector<std::string> filesRead;
  std::vector<std::string> missing; // sources looked for and not there
};

// Reads every source in order. A missing file is skipped (noted in `missing`) unless `required`
// (`--config FILE`), when it is an error. The same file reached twice (a link, or the home
// directory as the project directory) is read once.
DetectResult detect(const std::vector<Source>& sources, bool required);

struct RenderOptions {
  bool showEnv = false; // show env and header values as written
};

// The guide's format, grouped by file:
//   Found 3 MCP servers in 2 files:
//
//   Claude Desktop: /home/me/.config/Claude/claude_desktop_config.json
//     - filesystem: npx -y @modelcontextprotocol/server-filesystem /data
//         env: DEBUG=***
std::string renderText(const DetectResult& r, const RenderOptions& o);
// A JSON array of {name, client, source, scope, project, transport, command, args, env, url,
// headers, cwd, disabled, wrapped}; absent values are null.
std::string renderJson(const DetectResult& r, const RenderOptions& o);

// "***" for a secret-looking value; a value that is only a placeholder (`${input:token}`,
// `${env:HOME}`, `${workspaceFolder}`) or empty is shown, since it holds no secret.
std::string redact(const std::string& value);

// `s` as one POSIX shell word: as is when it only holds safe characters, else single-quoted.
std::string shellQuote(const std::string& s);

} // namespace sidecar::clients
