#include "config/serve_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <map>

namespace sidecar::config {
namespace {

class ServeConfigTest : public ::testing::Test {
protected:
  Result<ServeConfig> resolve(std::vector<std::string> args) {
    CLI::App app;
    ServeOptions opts;
    opts.registerFlags(app);
    std::vector<const char*> argv{"serve"};
    for (auto& a : args)
      argv.push_back(a.c_str());
    app.parse(static_cast<int>(argv.size()), const_cast<char**>(argv.data()));
    return opts.resolve([this](const char* n) -> const char* {
      auto it = env_.find(n);
      return it == env_.end() ? nullptr : it->second.c_str();
    });
  }
  std::string writeFile(const std::string& text) {
    char path[] = "/tmp/sidecar-config-XXXXXX";
    int fd = mkstemp(path);
    EXPECT_GE(fd, 0);
    ::close(fd);
    std::ofstream(path) << text;
    files_.push_back(path);
    return path;
  }
  void TearDown() override {
    for (auto& f : files_)
      unlink(f.c_str());
  }
  std::map<std::string, std::string> env_;
  std::vector<std::string> files_;
};

TEST_F(ServeConfigTest, DefaultsFromTheSpec) {
  auto c = resolve({"--upstream", "http://127.0.0.1:3001/mcp", "--verify", "off"});
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->listen.str(), "127.0.0.1:8787");
  EXPECT_EQ(c->admin.str(), "127.0.0.1:9464");
  EXPECT_EQ(c->maxBody, 4u << 20);
  EXPECT_EQ(c->maxConnections, 10000u);
  EXPECT_EQ(c->headerTimeoutMs, 10000u);
  EXPECT_EQ(c->idleTimeoutMs, 75000u);
  EXPECT_EQ(c->upstreamTimeoutMs, 300000u);
  EXPECT_EQ(c->drainTimeoutMs, 30000u);
  EXPECT_GE(c->workers, 1u);
  EXPECT_EQ(c->logLevel, log::Level::Info);
}

TEST_F(ServeConfigTest, FlagBeatsEnvBeatsFileBeatsDefault) {
  std::string file = writeFile("upstream: http://127.0.0.1:1/mcp\nverify: 'off'\n"
                               "max_body: 1MiB\nidle_timeout: 5m\nheader_timeout: 7\n");
  env_["MCP_SIDECAR_MAX_BODY"] = "2MiB";
  env_["MCP_SIDECAR_IDLE_TIMEOUT"] = "9s";
  auto c = resolve({"--config", file, "--max-body", "3MiB"});
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->maxBody, 3u << 20);          // flag
  EXPECT_EQ(c->idleTimeoutMs, 9000u);       // env over file
  EXPECT_EQ(c->headerTimeoutMs, 7000u);     // file over default
  EXPECT_EQ(c->upstream->port, 1);          // file
  EXPECT_EQ(c->upstreamTimeoutMs, 300000u); // default
}

// The HTTP upstream's own listing period: 60 s unless set; not so short that it becomes a loop.
TEST_F(ServeConfigTest, UpstreamListInterval) {
  auto byDefault = resolve({"--upstream", "http://h:1", "--verify", "off"});
  ASSERT_TRUE(byDefault.ok()) << byDefault.error();
  EXPECT_EQ(byDefault->upstreamListIntervalMs, 60000u);
  auto fast =
      resolve({"--upstream", "http://h:1", "--verify", "off", "--upstream-list-interval", "250ms"});
  ASSERT_TRUE(fast.ok()) << fast.error();
  EXPECT_EQ(fast->upstreamListIntervalMs, 250u);
  auto tooFast =
      resolve({"--upstream", "http://h:1", "--verify", "off", "--upstream-list-interval", "10ms"});
  ASSERT_FALSE(tooFast.ok());
  EXPECT_NE(tooFast.error().find("--upstream-list-interval"), std::string::npos) << tooFast.error();
  EXPECT_NE(tooFast.error().find("at least 100ms"), std::string::npos) << tooFast.error();
}

TEST_F(ServeConfigTest, ConfigFileFromEnvironment) {
  std::string file = writeFile("upstream: http://127.0.0.1:2/\nverify: 'off'\n");
  env_["MCP_SIDECAR_CONFIG"] = file;
  auto c = resolve({});
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->upstream->port, 2);
}

TEST_F(ServeConfigTest, ErrorsNameKeyValueAndWhatIsAllowed) {
  auto a = resolve({"--upstream", "http://h:1", "--verify", "off", "--max-body", "4XB"});
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().find("--max-body"), std::string::npos) << a.error();
  EXPECT_NE(a.error().find("'4XB'"), std::string::npos);
  EXPECT_NE(a.error().find("MiB"), std::string::npos);

  env_["MCP_SIDECAR_WORKERS"] = "zero";
  auto b = resolve({"--upstream", "http://h:1", "--verify", "off"});
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().find("MCP_SIDECAR_WORKERS"), std::string::npos) << b.error();
  env_.clear();

  std::string file = writeFile("upstream: http://h:1\nverify: 'off'\nlisten: nowhere\n");
  auto c = resolve({"--config", file});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().find("key listen in " + file), std::string::npos) << c.error();
  EXPECT_NE(c.error().find("HOST:PORT"), std::string::npos);
}

TEST_F(ServeConfigTest, UnknownFileKeyIsRefused) {
  std::string file = writeFile("upstream: http://h:1\nmax_bdy: 1\n");
  auto c = resolve({"--config", file});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().find("unknown key 'max_bdy'"), std::string::npos) << c.error();
  EXPECT_NE(c.error().find("max_body"), std::string::npos);
}

TEST_F(ServeConfigTest, BadYamlAndMissingFile) {
  auto a = resolve({"--config", writeFile("listen: [unclosed\n")});
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().find("not valid YAML"), std::string::npos) << a.error();
  auto b = resolve({"--config", "/nonexistent/sidecar.yaml"});
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().find("/nonexistent/sidecar.yaml"), std::string::npos);
}

TEST_F(ServeConfigTest, MissingUpstreamAndMissingTrustStore) {
  auto a = resolve({"--verify", "off"});
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().find("--upstream"), std::string::npos);
  auto b = resolve({"--upstream", "http://h:1"});
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().find("--trust-store"), std::string::npos) << b.error();
  auto c = resolve({"--upstream", "http://h:1", "--verify", "sometimes"});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().find("enforce, monitor, off"), std::string::npos);
}

} // namespace
} // namespace sidecar::config

namespace sidecar::config {
namespace {

TEST_F(ServeConfigTest, StdioUpstreamFromTheCommandLineAndTheFile) {
  auto c = resolve({"--verify", "off", "--", "npx", "-y", "pkg", "/data"});
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_FALSE(c->upstream);
  EXPECT_EQ(c->upstreamCommand, (std::vector<std::string>{"npx", "-y", "pkg", "/data"}));
  EXPECT_EQ(c->mcpPath, "/mcp");

  std::string f = writeFile("upstream:\n  command: node\n  args: [server.js, --port, '1']\n"
                            "  env: {A: b}\n  cwd: /srv\nverify: 'off'\n");
  auto fromFile = resolve({"--config", f});
  ASSERT_TRUE(fromFile.ok()) << fromFile.error();
  EXPECT_EQ(fromFile->upstreamCommand,
            (std::vector<std::string>{"node", "server.js", "--port", "1"}));
  EXPECT_EQ(fromFile->upstreamEnv, (std::vector<std::string>{"A=b"}));
  EXPECT_EQ(fromFile->upstreamCwd, "/srv");

  auto both = resolve({"--verify", "off", "--upstream", "http://127.0.0.1:1/mcp", "--", "x"});
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.error().find("not both"), std::string::npos) << both.error();
  std::string bad = writeFile("upstream:\n  args: [x]\nverify: 'off'\n");
  auto noCommand = resolve({"--config", bad});
  ASSERT_FALSE(noCommand.ok());
  EXPECT_NE(noCommand.error().find("command"), std::string::npos) << noCommand.error();
  auto badPath = resolve({"--verify", "off", "--mcp-path", "mcp", "--", "x"});
  ASSERT_FALSE(badPath.ok());
  EXPECT_NE(badPath.error().find("--mcp-path"), std::string::npos) << badPath.error();
}

TEST_F(ServeConfigTest, HostAndOriginAllowLists) {
  auto c = resolve({"--verify", "off", "--listen", "10.0.0.5:8787", "--", "x"});
  ASSERT_TRUE(c.ok()) << c.error();
  std::string why;
  EXPECT_TRUE(hostAllowed(*c, "localhost:8787", why));
  EXPECT_TRUE(hostAllowed(*c, "127.0.0.1", why));
  EXPECT_TRUE(hostAllowed(*c, "[::1]:8787", why));
  EXPECT_TRUE(hostAllowed(*c, "LOCALHOST", why));
  EXPECT_TRUE(hostAllowed(*c, "10.0.0.5:8787", why)) << "the listen host is allowed";
  EXPECT_TRUE(hostAllowed(*c, "", why)) << "no Host header: nothing to rebind";
  EXPECT_FALSE(hostAllowed(*c, "evil.example.com", why));
  EXPECT_NE(why.find("--allowed-hosts"), std::string::npos);
  EXPECT_FALSE(hostAllowed(*c, "localhost.evil.com", why));
  EXPECT_TRUE(originAllowed(*c, "", why));
  EXPECT_TRUE(originAllowed(*c, "http://localhost:6274", why));
  EXPECT_TRUE(originAllowed(*c, "https://127.0.0.1", why));
  EXPECT_FALSE(originAllowed(*c, "http://evil.example.com", why));
  EXPECT_FALSE(originAllowed(*c, "null", why));

  auto any = resolve({"--verify", "off", "--allowed-hosts", "*", "--allowed-origins",
                      "https://app.example.com, tools.example.org", "--", "x"});
  ASSERT_TRUE(any.ok()) << any.error();
  EXPECT_TRUE(hostAllowed(*any, "mcp.default.svc.cluster.local:8787", why));
  EXPECT_TRUE(originAllowed(*any, "https://app.example.com", why));
  EXPECT_FALSE(originAllowed(*any, "http://app.example.com", why)) << "a full origin is exact";
  EXPECT_TRUE(originAllowed(*any, "http://tools.example.org:3000", why)) << "a host: any scheme";
  EXPECT_FALSE(originAllowed(*any, "https://localhost", why));
}

} // namespace
} // namespace sidecar::config
