#include "config/units.h"

#include <gtest/gtest.h>

namespace sidecar::config {
namespace {

TEST(UnitsTest, Durations) {
  EXPECT_EQ(*parseDurationMs("30"), 30000u);
  EXPECT_EQ(*parseDurationMs("30s"), 30000u);
  EXPECT_EQ(*parseDurationMs("250ms"), 250u);
  EXPECT_EQ(*parseDurationMs("5m"), 300000u);
  EXPECT_EQ(*parseDurationMs("1h"), 3600000u);
  EXPECT_EQ(*parseDurationMs("0.5"), 500u);
  for (const char* bad : {"", "s", "5x", "-1", "five", "5 minutes"}) {
    auto r = parseDurationMs(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.error().find("e.g. 30"), std::string::npos);
    }
  }
}

TEST(UnitsTest, Sizes) {
  EXPECT_EQ(*parseSize("4096"), 4096u);
  EXPECT_EQ(*parseSize("4MiB"), 4u << 20);
  EXPECT_EQ(*parseSize("64KiB"), 64u << 10);
  EXPECT_EQ(*parseSize("1GiB"), 1ull << 30);
  EXPECT_EQ(*parseSize("10MB"), 10000000u);
  EXPECT_EQ(*parseSize("100B"), 100u);
  for (const char* bad : {"", "MiB", "4XB", "4 mb", "-3"})
    EXPECT_FALSE(parseSize(bad).ok()) << bad;
}

TEST(UnitsTest, HostPort) {
  auto a = parseHostPort("127.0.0.1:8787");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8787);
  auto b = parseHostPort("[::1]:9");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->str(), "[::1]:9");
  auto c = parseHostPort(":80");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "0.0.0.0");
  for (const char* bad : {"127.0.0.1", "host:", "host:70000", "::1:80", "[::1]80", "h:p"})
    EXPECT_FALSE(parseHostPort(bad).ok()) << bad;
}

TEST(UnitsTest, HttpUrl) {
  auto u = parseHttpUrl("http://127.0.0.1:3001/mcp");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 3001);
  EXPECT_EQ(u->path, "/mcp");
  EXPECT_EQ(u->authority(), "127.0.0.1:3001");
  auto d = parseHttpUrl("http://localhost");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->port, 80);
  EXPECT_EQ(d->path, "/");
  EXPECT_EQ(d->authority(), "localhost");
  auto q = parseHttpUrl("http://h:1?x=1");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->path, "/?x=1");
  auto s = parseHttpUrl("https://h/mcp");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("https"), std::string::npos);
  for (const char* bad : {"ftp://h", "http://", "http://u:p@h/", "http://h:0/", "127.0.0.1:3001"})
    EXPECT_FALSE(parseHttpUrl(bad).ok()) << bad;
}

} // namespace
} // namespace sidecar::config
