#pragma once
// Which files each MCP client keeps its server list in, on Linux, macOS and Windows
// (docs/clients.md has the table). Pure: the home directory, %APPDATA%, %USERPROFILE% and the
// project directory come in through Environment, so tests can point every source at a scratch
// directory and ask for another platform's paths.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sidecar::clients {

enum class Client { ClaudeDesktop, ClaudeCode, Cursor, VsCode, Windsurf, Other };

// "claude-desktop", "claude-code", "cursor", "vscode", "windsurf", "other": the names of
// `--client` and of the `client` field of `detect --json`.
std::string_view clientName(Client c);
// "Claude Desktop", "Claude Code", "Cursor", "VS Code", "Windsurf", "MCP client".
std::string_view clientTitle(Client c);
// The Client named `name` (clientName's spelling, "other" excluded), or nullopt.
std::optional<Client> parseClient(std::string_view name);
// The names parseClient accepts, for usage messages.
std::vector<std::string> clientNames();

// Where the server list sits in a file.
enum class Layout {
  McpServers,      // top-level "mcpServers" (Claude Desktop, .mcp.json, Cursor, Windsurf)
  ClaudeCodeState, // ~/.claude.json: "mcpServers" (user scope) and
                   // "projects": {PATH: {"mcpServers"}} (local scope)
  VsCodeServers,   // VS Code mcp.json: top-level "servers"
  VsCodeSettings,  // VS Code settings.json (older versions): "mcp": {"servers"}
  Auto,            // not known yet: decided from the file's content (config_file.h)
};

struct Source {
  Client client = Client::Other;
  Layout layout = Layout::Auto;
  std::string path;
  // "user" for files in the home directory, "project" or "workspace" for files in the project
  // directory. ~/.claude.json also holds "local" servers (config_file.h).
  std::string scope = "user";
  // Comments and trailing commas are accepted (VS Code and Cursor read their files as JSON with
  // comments); the other clients use a strict JSON parser, so a comment there is reported.
  bool jsonc = false;
};

enum class Platform { Linux, MacOS, Windows };
Platform currentPlatform();

struct Environment {
  std::string home;          // $HOME (Linux, macOS)
  std::string xdgConfigHome; // $XDG_CONFIG_HOME (Linux; empty: ~/.config)
  std::string appData;       // %APPDATA% (Windows)
  std::string userProfile;   // %USERPROFILE% (Windows)
  std::string projectDir;    // where project-scope files are looked for: the current directory

  // From the process: `getenv` for the variables (nullptr when unset; HOME falls back to the
  // password database), `projectDir` as given.
  static Environment fromProcess(const std::function<const char*(const char*)>& getenv,
                                 std::string projectDir);
};

// Every file a client may keep MCP servers in, in a fixed order (by client, user files before
// project files). A variable that is empty removes the sources under it. Files that do not exist
// are listed too: readers skip them.
std::vector<Source> knownSources(Platform platform, const Environment& env);

// The Source of a file named on the command line: the client (and layout) from where the file
// is when it is one of the known places (by its name and parent directories), else
// Client::Other and Layout::Auto. `client`, when given, overrides the guess; the layout is then
// decided from the content unless the name makes it certain (.claude.json, settings.json).
// `home` tells ~/.cursor/mcp.json (user scope) from a project's .cursor/mcp.json.
Source sourceForFile(const std::string& path, std::optional<Client> client,
                     const std::string& home);

} // namespace sidecar::clients
