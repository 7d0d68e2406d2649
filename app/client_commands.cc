#include "app/client_commands.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <set>

#include "app/aim_register.h"
#include "clients/detect.h"
#include "clients/rewrite.h"
#include "clients/sources.h"

namespace sidecar::app {

namespace {

constexpr const char* kDetect = "mcp-sidecar detect";

// The sources a command reads: the --config file, or every known place (of --client's client).
// Returns false after printing why when the current directory cannot be found.
bool selectSources(const std::string& config, const std::string& clientName,
                   const std::string& project, const char* prog,
                   std::vector<clients::Source>& out) {
  std::optional<clients::Client> client;
  if (!clientName.empty())
    client = clients::parseClient(clientName); // CLI11 checked the name
  std::string dir = project;
  if (!dir.empty()) {
    std::error_code ec;
    std::filesystem::path abs = std::filesystem::absolute(dir, ec);
    if (!ec)
      dir = abs.lexically_normal().string();
  } else {
    std::error_code ec;
    dir = std::filesystem::current_path(ec).string();
    if (ec) {
      std::fprintf(stderr,
                   "%s: cannot tell the current directory (%s); pass --project DIR, the "
                   "project whose .mcp.json, .cursor/ and .vscode/ files to read\n",
                   prog, ec.message().c_str());
      return false;
    }
  }
  clients::Environment env =
      clients::Environment::fromProcess([](const char* n) { return std::getenv(n); }, dir);
  if (!config.empty()) {
    out.push_back(clients::sourceForFile(config, client, env.home));
    return true;
  }
  for (clients::Source& s : clients::knownSources(clients::currentPlatform(), env))
    if (!client || s.client == *client)
      out.push_back(std::move(s));
  return true;
}

void addSelection(CLI::App* c, std::string& config, std::string& client, std::string& project) {
  CLI::Option* cfg =
      c->add_option("--config", config,
                    "one client configuration file instead of every known place; its format is "
                    "recognised from its name and content");
  c->add_option("--client", client, "only this client's files; with --config, whose file it is")
      ->check(CLI::IsMember(clients::clientNames()));
  c->add_option("--project", project,
                "the project directory whose .mcp.json, .cursor/mcp.json and .vscode/mcp.json "
                "are read (default: the current directory)")
      ->excludes(cfg);
}

// The absolute path of this very binary, from the kernel.
std::optional<std::string> selfPath() {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec || p.empty())
    return std::nullopt;
  std::string s = p.string();
  if (s.size() > 10 && s.compare(s.size() - 10, 10, " (deleted)") == 0)
    return std::nullopt; // replaced since it started: the path is no longer this binary
  return s;
}

} // namespace

CLI::App* addDetectCommand(CLI::App& app, DetectOptions& o) {
  CLI::App* c = app.add_subcommand(
      "detect",
      "List the MCP servers configured in Claude Desktop, Claude Code, Cursor, VS Code\n"
      "and Windsurf: `name: command args` per server, grouped by file (docs/clients.md).\n"
      "Exit 0 every file found was read; 1 a file could not be read (named on stderr;\n"
      "the others are still listed).");
  addSelection(c, o.config, o.client, o.project);
  c->add_flag("--json", o.json,
              "a JSON list of {name, client, source, scope, project, transport, command, args, "
              "env, url, headers, cwd, disabled, wrapped}");
  c->add_flag("--show-env", o.showEnv,
              "show env and header values as written (default: *** for anything but a "
              "${...} placeholder)");
  return c;
}

CLI::App* addWrapCommand(CLI::App& app, WrapCommandOptions& o) {
  CLI::App* c = app.add_subcommand(
      "wrap", "Rewrite MCP client configurations so that every stdio server runs through\n"
              "`mcp-sidecar stdio -- COMMAND ARGS...`. Only the servers' command and args change;\n"
              "the original is kept as FILE.mcp-sidecar.bak and the change printed as a diff.\n"
              "A second run changes nothing; --undo restores the original. Never prompts.");
  addSelection(c, o.config, o.client, o.project);
  c->add_option("--sidecar", o.sidecar,
                "the mcp-sidecar path to write as each server's command (default: this binary, "
                "made absolute)");
  c->add_option("--server", o.servers, "only the server with this name (repeatable)");
  c->add_flag("--dry-run", o.dryRun, "print the diff, write nothing");
  CLI::Option* undo = c->add_flag(
      "--undo", o.undo,
      "put back the backup byte for byte and remove it; when the file changed since the wrap, "
      "unwrap its servers in place instead (keeping the backup)");
  c->add_flag("--force", o.force,
              "with --undo: put back the backup even when the file changed since the wrap")
      ->needs(undo);
  return c;
}

int runDetect(const DetectOptions& o) {
  std::vector<clients::Source> sources;
  if (!selectSources(o.config, o.client, o.project, kDetect, sources))
    return 1;
  clients::DetectResult r = clients::detect(sources, !o.config.empty());
  for (const std::string& w : r.warnings)
    std::fprintf(stderr, "%s: warning: %s\n", kDetect, w.c_str());
  for (const std::string& e : r.errors)
    std::fprintf(stderr, "%s: %s\n", kDetect, e.c_str());
  clients::RenderOptions ro;
  ro.showEnv = o.showEnv;
  std::string text = o.json ? clients::renderJson(r, ro) : clients::renderText(r, ro);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  if (!r.errors.empty()) {
    std::fprintf(stderr, "%s: %zu file%s could not be read (above)%s\n", kDetect, r.errors.size(),
                 r.errors.size() == 1 ? "" : "s",
                 r.filesRead.empty() ? "" : "; the servers of the files that could are listed");
    return 1;
  }
  return 0;
}

int runWrap(const WrapCommandOptions& o) {
  const char* prog = o.undo ? "mcp-sidecar wrap --undo" : "mcp-sidecar wrap";
  clients::RewriteOptions ro;
  ro.dryRun = o.dryRun;
  ro.force = o.force;
  ro.wrap.servers = o.servers;
  if (!o.sidecar.empty()) {
    std::error_code ec;
    ro.wrap.sidecarPath = std::filesystem::absolute(o.sidecar, ec).lexically_normal().string();
    if (ec) {
      std::fprintf(stderr, "%s: --sidecar %s: %s (give an absolute path)\n", prog,
                   o.sidecar.c_str(), ec.message().c_str());
      return 2;
    }
    if (!o.undo && ::access(ro.wrap.sidecarPath.c_str(), X_OK) != 0)
      std::fprintf(stderr,
                   "%s: warning: --sidecar %s is not an executable file here; the clients will "
                   "fail to start their servers until it is\n",
                   prog, ro.wrap.sidecarPath.c_str());
  } else {
    std::optional<std::string> self = selfPath();
    if (!self) {
      std::fprintf(stderr,
                   "%s: cannot tell the path of this mcp-sidecar binary (/proc/self/exe); pass "
                   "--sidecar PATH\n",
                   prog);
      return 1;
    }
    ro.wrap.sidecarPath = *self;
  }

  std::vector<clients::Source> sources;
  if (!selectSources(o.config, o.client, o.project, prog, sources))
    return 1;
  const bool required = !o.config.empty();
  clients::RewriteTally tally;
  std::set<std::string> seen;
  for (const clients::Source& s : sources) {
    // The same file reached twice (a link; the home directory as the project) is handled once.
    std::error_code ec;
    std::string real = std::filesystem::weakly_canonical(s.path, ec).string();
    if (!seen.insert(ec ? s.path : real).second)
      continue;
    if (o.undo)
      clients::undoSource(s, ro, required, prog, std::cout, std::cerr, tally);
    else
      clients::wrapSource(s, ro, required, prog, std::cout, std::cerr, tally);
    std::cout.flush();
  }

  int rc = tally.filesFailed ? 1 : 0;
  for (const std::string& name : o.servers) {
    if (std::find(tally.namesSeen.begin(), tally.namesSeen.end(), name) == tally.namesSeen.end()) {
      std::fprintf(stderr,
                   "%s: no server named \"%s\" in the files read (see mcp-sidecar detect)\n", prog,
                   name.c_str());
      rc = 1;
    }
  }
  if (tally.filesFound == 0 && !required) {
    if (o.undo) {
      std::fprintf(stderr, "%s: nothing to undo: no client configuration found\n", prog);
    } else {
      std::fprintf(stderr,
                   "%s: no MCP client configuration found (`mcp-sidecar detect` lists where it "
                   "looks); pass --config FILE\n",
                   prog);
      rc = 1;
    }
  } else if (o.undo && tally.filesChanged == 0 && tally.filesFailed == 0 &&
             tally.backupsFound == 0 && !o.dryRun && !required) {
    std::fprintf(stderr, "%s: nothing to undo: no wrapped servers and no backups found\n", prog);
  }
  return rc;
}

CLI::App* addRegisterCommand(CLI::App& app, RegisterCommandOptions& o) {
  CLI::App* c = app.add_subcommand(
      "register",
      "Register the MCP servers configured in this machine's clients with AIM, each with an\n"
      "Ed25519 key of its own (kept 0600 under --keys-dir and reused), and print each server's\n"
      "id and public key. A second run registers nothing new (docs/aim.md).");
  addSelection(c, o.config, o.client, o.project);
  c->add_flag("--all", o.all, "every server found");
  c->add_option("names", o.names, "the servers to register, by name");
  c->add_option("--aim-url", o.aimUrl, "the AIM platform (default: AIM_URL)");
  c->add_option("--aim-api-key", o.apiKey,
                "AIM API key, needed once to register this machine's agent (default: AIM_API_KEY)");
  c->add_option("--aim-ca-file", o.caFile, "CA bundle for AIM's TLS certificate");
  c->add_option("--keys-dir", o.keysDir,
                "where the agent's and the servers' keys and what was registered are kept "
                "(default: $XDG_CONFIG_HOME or ~/.config, then mcp-sidecar/aim)");
  return c;
}

int runRegister(const RegisterCommandOptions& o) {
  const char* prog = "mcp-sidecar register";
  if (!o.all && o.names.empty()) {
    std::fprintf(stderr, "%s: say which servers: --all, or their names (see mcp-sidecar detect)\n",
                 prog);
    return 2;
  }
  RegisterConfig cfg;
  const char* envUrl = std::getenv("AIM_URL");
  const char* envKey = std::getenv("AIM_API_KEY");
  cfg.aimUrl = !o.aimUrl.empty() ? o.aimUrl : (envUrl ? envUrl : "");
  cfg.apiKey = !o.apiKey.empty() ? o.apiKey : (envKey ? envKey : "");
  cfg.caFile = o.caFile;
  cfg.keysDir = o.keysDir;
  std::vector<clients::Source> sources;
  if (!selectSources(o.config, o.client, o.project, prog, sources))
    return 1;
  clients::DetectResult r = clients::detect(sources, !o.config.empty());
  for (const std::string& e : r.errors)
    std::fprintf(stderr, "%s: %s\n", prog, e.c_str());
  std::vector<clients::ServerEntry> chosen;
  std::set<std::string> seen;
  for (const clients::ServerEntry& s : r.servers) {
    bool wanted = o.all || std::find(o.names.begin(), o.names.end(), s.name) != o.names.end();
    if (wanted && seen.insert(s.name).second) // a name in several scopes: its first definition
      chosen.push_back(s);
  }
  int missing = 0;
  for (const std::string& n : o.names)
    if (!seen.count(n)) {
      std::fprintf(stderr,
                   "%s: no server named '%s' in the clients' files (see mcp-sidecar detect)\n",
                   prog, n.c_str());
      ++missing;
    }
  if (chosen.empty() && missing == 0) {
    std::fprintf(stdout, "no MCP servers found: nothing to register\n");
    return r.errors.empty() ? 0 : 1;
  }
  int rc = registerServers(cfg, chosen, stdout, stderr);
  if (rc == 2)
    return 2;
  return rc != 0 || missing || !r.errors.empty() ? 1 : 0;
}

} // namespace sidecar::app
