// Where each client keeps its servers on Linux, macOS and Windows (shared reference
// client-configs.md), with the home directory, %APPDATA% and the project directory injected.

#include "clients/sources.h"

#include <gtest/gtest.h>

#include <map>

namespace sidecar::clients {
namespace {

Environment unixEnv() {
  Environment e;
  e.home = "/home/me";
  e.projectDir = "/src/app";
  return e;
}

Environment windowsEnv() {
  Environment e;
  e.appData = "C:\\Users\\me\\AppData\\Roaming";
  e.userProfile = "C:\\Users\\me";
  e.projectDir = "D:\\src\\app";
  return e;
}

// path -> "client layout scope" for compact comparison.
std::map<std::string, std::string> describe(const std::vector<Source>& sources) {
  std::map<std::string, std::string> out;
  for (const Source& s : sources) {
    std::string layout;
    switch (s.layout) {
    case Layout::McpServers:
      layout = "mcpServers";
      break;
    case Layout::ClaudeCodeState:
      layout = "claude-state";
      break;
    case Layout::VsCodeServers:
      layout = "servers";
      break;
    case Layout::VsCodeSettings:
      layout = "settings";
      break;
    case Layout::Auto:
      layout = "auto";
      break;
    }
    out[s.path] = std::string(clientName(s.client)) + " " + layout + " " + s.scope +
                  (s.jsonc ? " jsonc" : "");
  }
  return out;
}

TEST(SourcesTest, Linux) {
  std::vector<Source> sources = knownSources(Platform::Linux, unixEnv());
  std::map<std::string, std::string> expected = {
      {"/home/me/.config/Claude/claude_desktop_config.json", "claude-desktop mcpServers user"},
      {"/home/me/.claude/claude_desktop_config.json", "claude-desktop mcpServers user"},
      {"/home/me/.claude.json", "claude-code claude-state user"},
      {"/home/me/.claude/.claude.json", "claude-code claude-state user"},
      {"/src/app/.mcp.json", "claude-code mcpServers project"},
      {"/home/me/.cursor/mcp.json", "cursor mcpServers user jsonc"},
      {"/src/app/.cursor/mcp.json", "cursor mcpServers project jsonc"},
      {"/home/me/.config/Code/User/mcp.json", "vscode servers user jsonc"},
      {"/home/me/.config/Code/User/settings.json", "vscode settings user jsonc"},
      {"/src/app/.vscode/mcp.json", "vscode servers workspace jsonc"},
      {"/home/me/.codeium/windsurf/mcp_config.json", "windsurf mcpServers user"},
  };
  EXPECT_EQ(describe(sources), expected);
  // By client, user files before project files.
  EXPECT_EQ(sources.front().client, Client::ClaudeDesktop);
  EXPECT_EQ(sources.back().client, Client::Windsurf);
}

TEST(SourcesTest, LinuxHonoursXdgConfigHome) {
  Environment e = unixEnv();
  e.xdgConfigHome = "/cfg";
  std::map<std::string, std::string> d = describe(knownSources(Platform::Linux, e));
  EXPECT_TRUE(d.count("/cfg/Claude/claude_desktop_config.json"));
  EXPECT_TRUE(d.count("/cfg/Code/User/mcp.json"));
  EXPECT_FALSE(d.count("/home/me/.config/Code/User/mcp.json"));
  // Dot-directories stay in the home directory.
  EXPECT_TRUE(d.count("/home/me/.cursor/mcp.json"));
}

TEST(SourcesTest, MacOS) {
  std::map<std::string, std::string> d = describe(knownSources(Platform::MacOS, unixEnv()));
  EXPECT_EQ(d["/home/me/Library/Application Support/Claude/claude_desktop_config.json"],
            "claude-desktop mcpServers user");
  EXPECT_EQ(d["/home/me/Library/Application Support/Code/User/mcp.json"],
            "vscode servers user jsonc");
  EXPECT_EQ(d["/home/me/Library/Application Support/Code/User/settings.json"],
            "vscode settings user jsonc");
  EXPECT_EQ(d["/home/me/.claude.json"], "claude-code claude-state user");
  EXPECT_EQ(d["/home/me/.codeium/windsurf/mcp_config.json"], "windsurf mcpServers user");
  EXPECT_FALSE(d.count("/home/me/.config/Claude/claude_desktop_config.json"));
  EXPECT_EQ(d.size(), 11u);
}

TEST(SourcesTest, Windows) {
  std::map<std::string, std::string> d = describe(knownSources(Platform::Windows, windowsEnv()));
  EXPECT_EQ(d["C:\\Users\\me\\AppData\\Roaming\\Claude\\claude_desktop_config.json"],
            "claude-desktop mcpServers user");
  EXPECT_EQ(d["C:\\Users\\me\\AppData\\Roaming\\Code\\User\\mcp.json"],
            "vscode servers user jsonc");
  EXPECT_EQ(d["C:\\Users\\me\\.claude.json"], "claude-code claude-state user");
  EXPECT_EQ(d["C:\\Users\\me\\.cursor\\mcp.json"], "cursor mcpServers user jsonc");
  EXPECT_EQ(d["C:\\Users\\me\\.codeium\\windsurf\\mcp_config.json"], "windsurf mcpServers user");
  EXPECT_EQ(d["D:\\src\\app\\.vscode\\mcp.json"], "vscode servers workspace jsonc");
  EXPECT_EQ(d["D:\\src\\app\\.mcp.json"], "claude-code mcpServers project");
  EXPECT_EQ(d.size(), 11u);
}

TEST(SourcesTest, UnsetVariablesDropTheirSources) {
  Environment e;
  e.projectDir = "/src/app";
  std::map<std::string, std::string> d = describe(knownSources(Platform::Linux, e));
  EXPECT_EQ(d.size(), 3u); // the project's .mcp.json, .cursor/mcp.json and .vscode/mcp.json
  EXPECT_TRUE(d.count("/src/app/.mcp.json"));
}

TEST(SourcesTest, HomeAsProjectDirectoryListsEachFileOnce) {
  Environment e = unixEnv();
  e.projectDir = "/home/me";
  std::vector<Source> sources = knownSources(Platform::Linux, e);
  std::map<std::string, std::string> d = describe(sources);
  EXPECT_EQ(d.size(), sources.size());
  EXPECT_EQ(d["/home/me/.cursor/mcp.json"], "cursor mcpServers user jsonc");
}

TEST(SourcesTest, EnvironmentFromProcess) {
  std::map<std::string, std::string> vars = {
      {"HOME", "/home/me"}, {"XDG_CONFIG_HOME", "relative/ignored"}, {"APPDATA", "X"}};
  Environment e = Environment::fromProcess(
      [&](const char* n) { return vars.count(n) ? vars[n].c_str() : nullptr; }, "/p");
  EXPECT_EQ(e.home, "/home/me");
  EXPECT_EQ(e.xdgConfigHome, ""); // the XDG spec ignores relative paths
  EXPECT_EQ(e.appData, "X");
  EXPECT_EQ(e.projectDir, "/p");
  // Without HOME the password database answers.
  Environment noHome = Environment::fromProcess([](const char*) { return nullptr; }, "/p");
  EXPECT_FALSE(noHome.home.empty());
}

TEST(SourcesTest, ClientNames) {
  for (const std::string& n : clientNames()) {
    std::optional<Client> c = parseClient(n);
    ASSERT_TRUE(c) << n;
    EXPECT_EQ(clientName(*c), n);
  }
  EXPECT_EQ(clientNames().size(), 5u);
  EXPECT_FALSE(parseClient("other"));
  EXPECT_FALSE(parseClient("Claude Desktop"));
  EXPECT_EQ(clientTitle(Client::VsCode), "VS Code");
}

TEST(SourcesTest, SourceForFileRecognisesKnownPlaces) {
  struct Case {
    std::string path;
    Client client;
    Layout layout;
    std::string scope;
  } cases[] = {
      {"/x/Claude/claude_desktop_config.json", Client::ClaudeDesktop, Layout::McpServers, "user"},
      {"/home/me/.claude.json", Client::ClaudeCode, Layout::ClaudeCodeState, "user"},
      {"/src/app/.mcp.json", Client::ClaudeCode, Layout::McpServers, "project"},
      {"/home/me/.cursor/mcp.json", Client::Cursor, Layout::McpServers, "user"},
      {"/src/app/.cursor/mcp.json", Client::Cursor, Layout::McpServers, "project"},
      {"/src/app/.vscode/mcp.json", Client::VsCode, Layout::VsCodeServers, "workspace"},
      {"/home/me/.config/Code/User/mcp.json", Client::VsCode, Layout::VsCodeServers, "user"},
      {"/home/me/.config/Code/User/settings.json", Client::VsCode, Layout::VsCodeSettings, "user"},
      {"/home/me/.codeium/windsurf/mcp_config.json", Client::Windsurf, Layout::McpServers, "user"},
      {"/tmp/servers.json", Client::Other, Layout::Auto, "user"},
  };
  for (const Case& c : cases) {
    Source s = sourceForFile(c.path, std::nullopt, "/home/me/");
    EXPECT_EQ(s.client, c.client) << c.path;
    EXPECT_EQ(s.layout, c.layout) << c.path;
    EXPECT_EQ(s.scope, c.scope) << c.path;
    EXPECT_EQ(s.path, c.path);
  }
  EXPECT_TRUE(sourceForFile("/tmp/servers.json", std::nullopt, "").jsonc);
  EXPECT_FALSE(sourceForFile("/a/.mcp.json", std::nullopt, "").jsonc);
}

TEST(SourcesTest, SourceForFileWithClient) {
  // --client says whose file it is; the layout then comes from the content.
  Source s = sourceForFile("/tmp/servers.json", Client::Windsurf, "/home/me");
  EXPECT_EQ(s.client, Client::Windsurf);
  EXPECT_EQ(s.layout, Layout::Auto);
  EXPECT_FALSE(s.jsonc);
  Source v = sourceForFile("/tmp/settings.json", Client::VsCode, "/home/me");
  EXPECT_EQ(v.layout, Layout::VsCodeSettings);
  EXPECT_TRUE(v.jsonc);
  Source c = sourceForFile("/backup/.claude.json", Client::ClaudeCode, "/home/me");
  EXPECT_EQ(c.layout, Layout::ClaudeCodeState);
}

} // namespace
} // namespace sidecar::clients
