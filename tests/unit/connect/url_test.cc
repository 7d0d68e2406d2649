#include "connect/url.h"

#include <gtest/gtest.h>

namespace sidecar::connect {
namespace {

TEST(ServerUrl, SplitsOriginAndTarget) {
  auto u = parseServerUrl("http://127.0.0.1:8787/mcp");
  ASSERT_TRUE(u.ok()) << u.error();
  EXPECT_EQ(u->origin, "http://127.0.0.1:8787");
  EXPECT_EQ(u->target, "/mcp");
  EXPECT_EQ(u->url, "http://127.0.0.1:8787/mcp");
  EXPECT_FALSE(u->tls);
  EXPECT_EQ(u->at("/.well-known/mcp/capabilities"),
            "http://127.0.0.1:8787/.well-known/mcp/capabilities");
}

TEST(ServerUrl, NormalisesAsLibcurlSends) {
  auto u = parseServerUrl("HTTPS://MCP.Example.COM:443/a/../mcp?x=1&y=2#frag");
  ASSERT_TRUE(u.ok()) << u.error();
  EXPECT_EQ(u->origin, "https://mcp.example.com");
  EXPECT_EQ(u->target, "/mcp?x=1&y=2");
  EXPECT_TRUE(u->tls);
  auto root = parseServerUrl("http://h:80");
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->origin, "http://h");
  EXPECT_EQ(root->target, "/");
  auto v6 = parseServerUrl("http://[::1]:9000/mcp");
  ASSERT_TRUE(v6.ok()) << v6.error();
  EXPECT_EQ(v6->origin, "http://[::1]:9000");
}

TEST(ServerUrl, RefusesWhatCannotBeSigned) {
  for (const char* bad : {"", "127.0.0.1:8787/mcp", "ftp://h/mcp", "http://user:pw@h/mcp"}) {
    auto u = parseServerUrl(bad);
    EXPECT_FALSE(u.ok()) << bad;
    if (!u.ok()) {
      EXPECT_FALSE(u.error().empty());
    }
  }
}

} // namespace
} // namespace sidecar::connect
