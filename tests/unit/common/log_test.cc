#include "common/log.h"

#include <gtest/gtest.h>

namespace sidecar::log {
namespace {

TEST(LogTest, ParseLevel) {
  Level l;
  EXPECT_TRUE(parseLevel("debug", l));
  EXPECT_EQ(l, Level::Debug);
  EXPECT_TRUE(parseLevel("warn", l));
  EXPECT_EQ(l, Level::Warn);
  EXPECT_FALSE(parseLevel("loud", l));
}

TEST(LogTest, RateLimiterAllowsBurstThenOnePerInterval) {
  RateLimiter r(3, 1000);
  uint64_t suppressed = 0;
  int allowed = 0;
  for (int i = 0; i < 10; ++i)
    allowed += r.allow(100, suppressed);
  EXPECT_EQ(allowed, 3);
  EXPECT_TRUE(r.allow(1100, suppressed)); // one token refilled
  EXPECT_EQ(suppressed, 7u);              // the lines held back are reported
  EXPECT_FALSE(r.allow(1100, suppressed));
}

TEST(LogTest, LinesAreJson) {
  testing::internal::CaptureStderr();
  write(Level::Warn, "hello \"x\"", {{"n", 3}, {"s", "a\nb"}, {"b", true}});
  std::string out = testing::internal::GetCapturedStderr();
  EXPECT_NE(out.find(R"("level":"warn","msg":"hello \"x\"","n":3,"s":"a\nb","b":true})"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.back(), '\n');
}

} // namespace
} // namespace sidecar::log
