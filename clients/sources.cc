#include "clients/sources.h"

#include <pwd.h>
#include <unistd.h>

#include <filesystem>

namespace sidecar::clients {

namespace {

struct ClientInfo {
  Client client;
  std::string_view name;
  std::string_view title;
};

constexpr ClientInfo kClients[] = {
    {Client::ClaudeDesktop, "claude-desktop", "Claude Desktop"},
    {Client::ClaudeCode, "claude-code", "Claude Code"},
    {Client::Cursor, "cursor", "Cursor"},
    {Client::VsCode, "vscode", "VS Code"},
    {Client::Windsurf, "windsurf", "Windsurf"},
    {Client::Other, "other", "MCP client"},
};

// Joins `dir` and a relative path written with '/', in the platform's spelling. An empty `dir`
// (the variable was unset) yields "": the caller drops the source.
std::string join(Platform p, const std::string& dir, std::string_view rel) {
  if (dir.empty())
    return {};
  const char sep = p == Platform::Windows ? '\\' : '/';
  std::string out = dir;
  while (out.size() > 1 && (out.back() == '/' || out.back() == '\\'))
    out.pop_back();
  out += sep;
  for (char c : rel)
    out += c == '/' ? sep : c;
  return out;
}

bool vsCodeFamily(Client c) {
  return c == Client::VsCode || c == Client::Cursor;
}

} // namespace

std::string_view clientName(Client c) {
  for (const ClientInfo& i : kClients)
    if (i.client == c)
      return i.name;
  return "other";
}

std::string_view clientTitle(Client c) {
  for (const ClientInfo& i : kClients)
    if (i.client == c)
      return i.title;
  return "MCP client";
}

std::optional<Client> parseClient(std::string_view name) {
  for (const ClientInfo& i : kClients)
    if (i.name == name && i.client != Client::Other)
      return i.client;
  return std::nullopt;
}

std::vector<std::string> clientNames() {
  std::vector<std::string> out;
  for (const ClientInfo& i : kClients)
    if (i.client != Client::Other)
      out.emplace_back(i.name);
  return out;
}

Platform currentPlatform() {
#if defined(_WIN32)
  return Platform::Windows;
#elif defined(__APPLE__)
  return Platform::MacOS;
#else
  return Platform::Linux;
#endif
}

Environment Environment::fromProcess(const std::function<const char*(const char*)>& getenv,
                                     std::string projectDir) {
  auto var = [&](const char* name) {
    const char* v = getenv(name);
    return std::string(v ? v : "");
  };
  Environment env;
  env.home = var("HOME");
  if (env.home.empty()) {
    // A service manager may start us without HOME; the password database still knows it.
    if (const passwd* pw = getpwuid(getuid()); pw && pw->pw_dir)
      env.home = pw->pw_dir;
  }
  env.xdgConfigHome = var("XDG_CONFIG_HOME");
  // The XDG spec ignores a relative value.
  if (!env.xdgConfigHome.empty() && env.xdgConfigHome.front() != '/')
    env.xdgConfigHome.clear();
  env.appData = var("APPDATA");
  env.userProfile = var("USERPROFILE");
  env.projectDir = std::move(projectDir);
  return env;
}

std::vector<Source> knownSources(Platform p, const Environment& env) {
  const bool win = p == Platform::Windows;
  // The home directory of the dot-directories: %USERPROFILE% on Windows, $HOME elsewhere.
  const std::string& home = win ? env.userProfile : env.home;
  // Where Electron applications (Claude Desktop, VS Code) keep their user data.
  std::string appData;
  if (win)
    appData = env.appData;
  else if (p == Platform::MacOS)
    appData = join(p, env.home, "Library/Application Support");
  else
    appData = !env.xdgConfigHome.empty() ? env.xdgConfigHome : join(p, env.home, ".config");

  std::vector<Source> out;
  auto add = [&](Client c, Layout layout, std::string path, std::string scope) {
    if (path.empty())
      return;
    for (const Source& s : out)
      if (s.path == path)
        return; // the home directory is the project directory
    out.push_back(Source{c, layout, std::move(path), std::move(scope), vsCodeFamily(c)});
  };

  add(Client::ClaudeDesktop, Layout::McpServers,
      join(p, appData, "Claude/claude_desktop_config.json"), "user");
  add(Client::ClaudeDesktop, Layout::McpServers,
      join(p, home, ".claude/claude_desktop_config.json"), "user");

  add(Client::ClaudeCode, Layout::ClaudeCodeState, join(p, home, ".claude.json"), "user");
  add(Client::ClaudeCode, Layout::ClaudeCodeState, join(p, home, ".claude/.claude.json"), "user");
  add(Client::ClaudeCode, Layout::McpServers, join(p, env.projectDir, ".mcp.json"), "project");

  add(Client::Cursor, Layout::McpServers, join(p, home, ".cursor/mcp.json"), "user");
  add(Client::Cursor, Layout::McpServers, join(p, env.projectDir, ".cursor/mcp.json"), "project");

  add(Client::VsCode, Layout::VsCodeServers, join(p, appData, "Code/User/mcp.json"), "user");
  add(Client::VsCode, Layout::VsCodeSettings, join(p, appData, "Code/User/settings.json"), "user");
  add(Client::VsCode, Layout::VsCodeServers, join(p, env.projectDir, ".vscode/mcp.json"),
      "workspace");

  add(Client::Windsurf, Layout::McpServers, join(p, home, ".codeium/windsurf/mcp_config.json"),
      "user");
  return out;
}

Source sourceForFile(const std::string& path, std::optional<Client> client,
                     const std::string& home) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path abs = fs::absolute(fs::path(path), ec);
  if (ec)
    abs = fs::path(path); // no current directory: judge the path as given
  abs = abs.lexically_normal();
  const std::string name = abs.filename().string();
  const std::string parent = abs.parent_path().filename().string();
  const fs::path grand = abs.parent_path().parent_path();
  std::string homeDir = home.empty() ? "" : fs::path(home).lexically_normal().string();
  while (homeDir.size() > 1 && homeDir.back() == '/')
    homeDir.pop_back();
  const bool inHome = !homeDir.empty() && grand.string() == homeDir;

  Source s;
  s.path = path;
  if (name == "claude_desktop_config.json") {
    s.client = Client::ClaudeDesktop;
    s.layout = Layout::McpServers;
  } else if (name == ".claude.json") {
    s.client = Client::ClaudeCode;
    s.layout = Layout::ClaudeCodeState;
  } else if (name == ".mcp.json") {
    s.client = Client::ClaudeCode;
    s.layout = Layout::McpServers;
    s.scope = "project";
  } else if (name == "mcp.json" && parent == ".cursor") {
    s.client = Client::Cursor;
    s.layout = Layout::McpServers;
    s.scope = inHome ? "user" : "project";
  } else if (name == "mcp.json" && parent == ".vscode") {
    s.client = Client::VsCode;
    s.layout = Layout::VsCodeServers;
    s.scope = "workspace";
  } else if ((name == "mcp.json" || name == "settings.json") && parent == "User" &&
             grand.filename() == "Code") {
    s.client = Client::VsCode;
    s.layout = name == "mcp.json" ? Layout::VsCodeServers : Layout::VsCodeSettings;
  } else if (name == "mcp_config.json" && parent == "windsurf") {
    s.client = Client::Windsurf;
    s.layout = Layout::McpServers;
  }
  if (client && *client != s.client) {
    // The user knows better than the file's name: keep only what the name makes certain.
    s.client = *client;
    if (name == ".claude.json")
      s.layout = Layout::ClaudeCodeState;
    else if (name == "settings.json" && *client == Client::VsCode)
      s.layout = Layout::VsCodeSettings;
    else
      s.layout = Layout::Auto;
  }
  // A file of unknown origin may come from an editor that allows comments: accept them.
  s.jsonc = vsCodeFamily(s.client) || s.client == Client::Other;
  return s;
}

} // namespace sidecar::clients
