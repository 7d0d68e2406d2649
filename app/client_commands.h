#pragma once
// `mcp-sidecar detect` and `mcp-sidecar wrap [--undo]`: the MCP servers configured in Claude
// Desktop, Claude Code, Cursor, VS Code and Windsurf, and routing their stdio servers through
// `mcp-sidecar stdio` (docs/clients.md).

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace sidecar::app {

struct DetectOptions {
  std::string config;  // one file instead of every known place
  std::string client;  // only this client's files (or: whose --config file it is)
  std::string project; // where project files are looked for; default the current directory
  bool json = false;
  bool showEnv = false;
};

struct WrapCommandOptions {
  std::string config;
  std::string client;
  std::string project;
  std::string sidecar; // the sidecar's path written into the files; default this binary
  std::vector<std::string> servers;
  bool dryRun = false;
  bool undo = false;
  bool force = false;
};

struct RegisterCommandOptions {
  std::string config;
  std::string client;
  std::string project;
  std::vector<std::string> names; // servers to register, by name
  bool all = false;               // every server found
  std::string aimUrl;             // default AIM_URL
  std::string apiKey;             // default AIM_API_KEY
  std::string caFile;
  std::string keysDir;
};

// Each returns its subcommand so main can tell it was chosen.
CLI::App* addDetectCommand(CLI::App& app, DetectOptions& o);
CLI::App* addWrapCommand(CLI::App& app, WrapCommandOptions& o);

// detect: 0 every file found was read (also when none was found); 1 a file could not be read
// (named on stderr; the servers of the others are still printed); 2 bad usage.
int runDetect(const DetectOptions& o);
// wrap: 0 done (also when there was nothing to change); 1 a file could not be handled (named on
// stderr; the others are still handled), no client configuration found, or a --server name not
// found; 2 bad usage.
int runWrap(const WrapCommandOptions& o);

CLI::App* addRegisterCommand(CLI::App& app, RegisterCommandOptions& o);
// register: 0 every selected server registered (or already was); 1 one failed (named on stderr;
// the others are still registered), a file could not be read, or a NAME was not found; 2 bad
// usage (neither --all nor a NAME, no AIM URL).
int runRegister(const RegisterCommandOptions& o);

} // namespace sidecar::app
