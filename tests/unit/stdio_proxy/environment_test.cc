#include "stdio_proxy/environment.h"

#include <gtest/gtest.h>

namespace sidecar::stdio_proxy {
namespace {

TEST(PassThroughEnvironmentTest, KeepsTheClientsVariablesButNotTheSidecars) {
  const char* parent[] = {
      "PATH=/bin", "GITHUB_TOKEN=t", "MCP_SIDECAR_KEY=s", "AIM_PRIVATE_KEY=k", "NOEQUALS",
      "LANG=C",    nullptr};
  auto env = passThroughEnvironment(const_cast<char**>(parent), {"LANG=en_US.UTF-8", "X=1"});
  EXPECT_EQ(env,
            (std::vector<std::string>{"PATH=/bin", "GITHUB_TOKEN=t", "LANG=en_US.UTF-8", "X=1"}));
  EXPECT_TRUE(passThroughEnvironment(nullptr, {}).empty());
}

TEST(PassThroughEnvironmentTest, ValidatesEnvFlags) {
  EXPECT_TRUE(validEnvEntry("A_1=x=y"));
  EXPECT_TRUE(validEnvEntry("EMPTY="));
  EXPECT_FALSE(validEnvEntry("=x"));
  EXPECT_FALSE(validEnvEntry("NOVALUE"));
  EXPECT_FALSE(validEnvEntry("BAD-NAME=1"));
}

} // namespace
} // namespace sidecar::stdio_proxy
