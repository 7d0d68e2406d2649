// Reading a client's file: missing versus unreadable versus invalid (with line:column), layouts
// decided from the content, and the server lists of each layout.

#include "clients/config_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "tests/unit/clients/clients_test_util.h"

namespace sidecar::clients {
namespace {

using namespace test;

std::vector<std::string> names(const ServerList& list) {
  std::vector<std::string> out;
  for (const ServerRef& r : list.servers)
    out.push_back(r.name + (r.project.empty() ? "" : "@" + r.project) + "/" + r.scope);
  return out;
}

TEST(ConfigFileTest, ClaudeDesktopFixture) {
  Source s = sourceOf(Client::ClaudeDesktop, Layout::McpServers, fixturePath("x"));
  s.path = fixturePath("claude_desktop_config.json");
  ConfigRead r = readConfig(s);
  ASSERT_EQ(r.status, ConfigRead::Status::Ok) << r.error;
  EXPECT_EQ(r.file.text, fixture("claude_desktop_config.json"));
  EXPECT_EQ(names(listServers(r.file)), (std::vector<std::string>{"filesystem/user", "weather/user",
                                                                  "github/user", "sqlite/user"}));
}

TEST(ConfigFileTest, ClaudeCodeStateHasUserAndLocalScopes) {
  ConfigFile f =
      parsed(sourceOf(Client::ClaudeCode, Layout::ClaudeCodeState), fixture("claude.json"));
  ServerList list = listServers(f);
  EXPECT_EQ(names(list), (std::vector<std::string>{"memory/user", "sentry/user",
                                                   "postgres@/home/me/src/shop/local",
                                                   "linear@/home/me/src/shop/local"}));
  EXPECT_TRUE(list.problems.empty());
}

TEST(ConfigFileTest, VsCodeLayouts) {
  ConfigFile ws = parsed(sourceOf(Client::VsCode, Layout::VsCodeServers, "w", "workspace"),
                         fixture("vscode_mcp.json"));
  EXPECT_EQ(names(listServers(ws)), (std::vector<std::string>{"github/workspace", "fetch/workspace",
                                                              "workspace-files/workspace"}));
  ConfigFile settings =
      parsed(sourceOf(Client::VsCode, Layout::VsCodeSettings), fixture("vscode_settings.json"));
  EXPECT_EQ(names(listServers(settings)), (std::vector<std::string>{"time/user"}));
  // settings.json without "mcp" is normal: no servers, no problem.
  ConfigFile plain =
      parsed(sourceOf(Client::VsCode, Layout::VsCodeSettings), "{\"editor.fontSize\": 12}");
  EXPECT_TRUE(listServers(plain).servers.empty());
  EXPECT_TRUE(listServers(plain).problems.empty());
}

TEST(ConfigFileTest, AutoLayoutFromContent) {
  struct Case {
    std::string fixture;
    Layout layout;
  } cases[] = {{"claude.json", Layout::ClaudeCodeState},
               {"claude_desktop_config.json", Layout::McpServers},
               {"windsurf_mcp_config.json", Layout::McpServers},
               {"vscode_mcp.json", Layout::VsCodeServers},
               {"vscode_settings.json", Layout::VsCodeSettings}};
  for (const Case& c : cases) {
    ConfigFile f = parsed(sourceOf(Client::Other, Layout::Auto), fixture(c.fixture));
    EXPECT_EQ(f.source.layout, c.layout) << c.fixture;
  }
  ConfigRead none = parseConfig(sourceOf(Client::Other, Layout::Auto, "/x/a.json"),
                                "{\"theme\": \"dark\"}", FileMeta{});
  EXPECT_EQ(none.status, ConfigRead::Status::Failed);
  EXPECT_NE(none.error.find("/x/a.json: no MCP server list in it"), std::string::npos)
      << none.error;
  EXPECT_NE(none.error.find("--client"), std::string::npos);
}

TEST(ConfigFileTest, InvalidJsonNamesFileLineAndColumn) {
  Source s = sourceOf(Client::ClaudeDesktop, Layout::McpServers);
  s.path = fixturePath("invalid.json");
  ConfigRead r = readConfig(s);
  ASSERT_EQ(r.status, ConfigRead::Status::Failed);
  EXPECT_EQ(r.error, s.path +
                         ":7:5: invalid JSON: Missing a comma or '}' after an object member (fix "
                         "the file: Claude Desktop cannot read it either)");
}

TEST(ConfigFileTest, CommentsInAStrictClientsFileAreNamed) {
  ConfigRead r = parseConfig(sourceOf(Client::ClaudeDesktop, Layout::McpServers, "/c.json"),
                             "{\n  // mine\n  \"mcpServers\": {}\n}\n", FileMeta{});
  ASSERT_EQ(r.status, ConfigRead::Status::Failed);
  EXPECT_NE(r.error.find("/c.json:2:3: invalid JSON"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("comments and trailing commas are not JSON, and Claude Desktop does not "
                         "accept them"),
            std::string::npos)
      << r.error;
  // The same text is fine for VS Code.
  EXPECT_EQ(
      parseConfig(sourceOf(Client::VsCode, Layout::McpServers), "{\n// mine\n}", FileMeta{}).status,
      ConfigRead::Status::Ok);
}

TEST(ConfigFileTest, TopLevelMustBeAnObject) {
  ConfigRead r =
      parseConfig(sourceOf(Client::Cursor, Layout::McpServers, "/c.json"), "[1]", FileMeta{});
  ASSERT_EQ(r.status, ConfigRead::Status::Failed);
  EXPECT_EQ(r.error.rfind("/c.json: the top level is an array", 0), 0u) << r.error;
}

TEST(ConfigFileTest, ServerListThatIsNotAnObjectIsAProblem) {
  ConfigFile f =
      parsed(sourceOf(Client::Cursor, Layout::McpServers, "/c.json"), "{\"mcpServers\": [\"a\"]}");
  ServerList list = listServers(f);
  EXPECT_TRUE(list.servers.empty());
  ASSERT_EQ(list.problems.size(), 1u);
  EXPECT_EQ(list.problems[0],
            "/c.json: \"mcpServers\" is an array, not an object of servers; ignored (fix it, or "
            "remove it)");
  // null is as good as absent.
  EXPECT_TRUE(
      listServers(parsed(sourceOf(Client::Cursor, Layout::McpServers), "{\"mcpServers\": null}"))
          .problems.empty());
}

TEST(ConfigFileTest, MissingUnreadableAndDirectory) {
  TempDir dir;
  Source s = sourceOf(Client::Cursor, Layout::McpServers, dir.file("none.json"));
  EXPECT_EQ(readConfig(s).status, ConfigRead::Status::Missing);
  s.path = dir.file("no-dir/mcp.json");
  EXPECT_EQ(readConfig(s).status, ConfigRead::Status::Missing);

  s.path = dir.path();
  ConfigRead d = readConfig(s);
  EXPECT_EQ(d.status, ConfigRead::Status::Failed);
  EXPECT_EQ(d.error, "cannot read " + dir.path() +
                         ": it is a directory (name the client's JSON configuration file)");

  ASSERT_EQ(::mkfifo(dir.file("fifo").c_str(), 0600), 0);
  s.path = dir.file("fifo");
  EXPECT_EQ(readConfig(s).status, ConfigRead::Status::Failed); // and does not block
}

TEST(ConfigFileTest, PermissionDeniedIsReported) {
  TempDir dir;
  writeFile(dir.file("locked.json"), "{}");
  ASSERT_EQ(::chmod(dir.file("locked.json").c_str(), 0), 0);
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  std::string error = asAnotherUser([&] {
    ConfigRead r =
        readConfig(sourceOf(Client::Cursor, Layout::McpServers, dir.file("locked.json")));
    return r.status == ConfigRead::Status::Failed ? r.error : "not failed";
  });
  EXPECT_EQ(error,
            "cannot read " + dir.file("locked.json") +
                ": Permission denied (run as the user whose client configuration it is, or fix "
                "its permissions)");
}

TEST(ConfigFileTest, ModeAndOwnerAreKept) {
  TempDir dir;
  writeFile(dir.file("m.json"), "{}");
  ASSERT_EQ(::chmod(dir.file("m.json").c_str(), 0640), 0);
  ConfigRead r = readConfig(sourceOf(Client::Cursor, Layout::McpServers, dir.file("m.json")));
  ASSERT_EQ(r.status, ConfigRead::Status::Ok);
  EXPECT_EQ(r.file.meta.mode, 0640u);
  EXPECT_EQ(r.file.meta.uid, ::geteuid());
}

} // namespace
} // namespace sidecar::clients
