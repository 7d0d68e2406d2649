#include "common/json_text.h"

#include <gtest/gtest.h>

#include <string>

namespace sidecar {
namespace {

TEST(JsonNesting, CountsArraysAndObjectsButNotBracketsInStrings) {
  EXPECT_FALSE(jsonNestsDeeperThan(R"({"a":[1,{"b":[]}]})", 4));
  EXPECT_TRUE(jsonNestsDeeperThan(R"({"a":[1,{"b":[]}]})", 3));
  EXPECT_FALSE(jsonNestsDeeperThan(R"({"s":"[[[[{{{{"})", 1));
  EXPECT_FALSE(jsonNestsDeeperThan(R"({"s":"\"[[[["})", 1)) << "an escaped quote keeps the string";
  EXPECT_FALSE(jsonNestsDeeperThan(R"({"s":"\\"}, {})", 1)) << "an escaped backslash ends it";
  EXPECT_FALSE(jsonNestsDeeperThan("[]", 1));
  EXPECT_FALSE(jsonNestsDeeperThan("", 0));
  EXPECT_FALSE(jsonNestsDeeperThan("]]]]", 0)) << "stray closers do not go below zero";
}

TEST(JsonNesting, TheDefaultLimitLetsRealSchemasThroughAndStopsAbuse) {
  std::string schema = R"({"type":"object","properties":{"a":{"type":"array","items":{}}}})";
  EXPECT_FALSE(jsonNestsDeeperThan(schema));
  std::string deep = std::string(kMaxJsonNesting, '[') + std::string(kMaxJsonNesting, ']');
  EXPECT_FALSE(jsonNestsDeeperThan(deep));
  EXPECT_TRUE(jsonNestsDeeperThan("[" + deep + "]"));
}

} // namespace
} // namespace sidecar
