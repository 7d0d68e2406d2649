#include "common/clock.h"

#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <regex>
#include <thread>

namespace sidecar {
namespace {

// The cached calendar part must follow the clock: stamps taken across a second boundary differ
// in their seconds, and each parses back to within a second of the system clock.
TEST(Clock, Rfc3339NowFollowsTheClockAcrossSeconds) {
  const std::regex shape(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)");
  std::string first = rfc3339Now();
  ASSERT_TRUE(std::regex_match(first, shape)) << first;
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  std::string second = rfc3339Now();
  ASSERT_TRUE(std::regex_match(second, shape)) << second;
  EXPECT_LT(first, second);
  EXPECT_NE(first.substr(0, 19), second.substr(0, 19));

  tm t{};
  ASSERT_NE(strptime(second.c_str(), "%Y-%m-%dT%H:%M:%S", &t), nullptr);
  time_t stamped = timegm(&t);
  time_t now = time(nullptr);
  EXPECT_LE(now - stamped, 1);
  EXPECT_GE(now - stamped, 0);
}

} // namespace
} // namespace sidecar
