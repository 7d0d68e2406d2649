#include "stdio_proxy/naming.h"

#include <gtest/gtest.h>
#include <sodium.h>

namespace sidecar::stdio_proxy {
namespace {

TEST(ServerNameTest, NamesThePackageNotTheRunner) {
  EXPECT_EQ(serverName({"npx", "-y", "@modelcontextprotocol/server-filesystem", "/data"}),
            "server-filesystem");
  EXPECT_EQ(serverName({"npx", "-y", "@browsermcp/mcp@latest"}), "mcp");
  EXPECT_EQ(serverName({"uvx", "mcp-server-git", "--repository", "."}), "mcp-server-git");
  EXPECT_EQ(serverName({"/usr/bin/node", "/srv/weather/dist/index.js"}), "weather");
  EXPECT_EQ(serverName({"python3", "-m", "server"}), "server");
  EXPECT_EQ(serverName({"npm", "exec", "some-server@1.2.3"}), "some-server");
  EXPECT_EQ(serverName({"/opt/bin/my-server", "--flag"}), "my-server");
}

TEST(ServerNameTest, IsAlwaysASafePathComponent) {
  EXPECT_EQ(serverName({}), "server");
  EXPECT_EQ(serverName({"npx"}), "npx");
  EXPECT_EQ(serverName({".."}), "server");
  EXPECT_EQ(serverName({"my server$"}), "my_server_");
  EXPECT_LE(serverName({std::string(200, 'a')}).size(), 48u);
}

TEST(ServerNameTest, DistinctCommandLinesGetDistinctDirectories) {
  ASSERT_GE(sodium_init(), 0);
  std::string a = serverDirName({"npx", "-y", "@modelcontextprotocol/server-filesystem", "/a"});
  std::string b = serverDirName({"npx", "-y", "@modelcontextprotocol/server-filesystem", "/b"});
  EXPECT_NE(a, b);
  EXPECT_EQ(a, serverDirName({"npx", "-y", "@modelcontextprotocol/server-filesystem", "/a"}));
  EXPECT_EQ(a.rfind("server-filesystem-", 0), 0u) << a;
  EXPECT_EQ(a.size(), std::string("server-filesystem-").size() + 8);
  // Arguments are separated: ("ab") and ("a", "b") differ.
  EXPECT_NE(serverDirName({"x", "ab"}), serverDirName({"x", "a", "b"}));
}

TEST(DefaultStateDirTest, PrefersXdgStateHomeThenHome) {
  ASSERT_GE(sodium_init(), 0);
  std::vector<std::string> argv{"uvx", "mcp-server-git"};
  std::string name = serverDirName(argv);
  EXPECT_EQ(defaultStateDir(argv, "/xdg/state", "/home/me"), "/xdg/state/mcp-sidecar/" + name);
  EXPECT_EQ(defaultStateDir(argv, nullptr, "/home/me/"),
            "/home/me/.local/state/mcp-sidecar/" + name);
  EXPECT_EQ(defaultStateDir(argv, "relative", "/home/me"),
            "/home/me/.local/state/mcp-sidecar/" + name);
  EXPECT_EQ(defaultStateDir(argv, nullptr, nullptr), "");
}

} // namespace
} // namespace sidecar::stdio_proxy
