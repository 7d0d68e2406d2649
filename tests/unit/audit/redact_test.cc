#include "audit/redact.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>

namespace sidecar::audit {
namespace {

TEST(Redact, SecretLookingKeys) {
  for (const char* key : {"token", "access_token", "Password", "PASSWD", "client_secret", "key",
                          "X-Api-Key", "apikey", "api_key", "Authorization", "auth", "Credentials",
                          "cookie", "Set-Cookie", "sessionId", "SESSION"})
    EXPECT_TRUE(looksSecret(key)) << key;
  for (const char* key : {"path", "name", "query", "url", "count", "", "tok", "pass"})
    EXPECT_FALSE(looksSecret(key)) << key;
}

TEST(Redact, ReplacesSecretValuesAtEveryDepth) {
  RedactedArgs r = redactArguments(
      R"({"path":"/tmp/a","token":"t0k","nested":{"list":[{"Password":"p","keep":1},"plain"],)"
      R"("Cookie":{"c":"whole object"},"n":null},"api_key":["a","b"],"ok":true})",
      4096);
  ASSERT_EQ(r.form, RedactedArgs::Form::Json);
  EXPECT_EQ(r.text, R"({"path":"/tmp/a","token":"[REDACTED]","nested":{"list":[{"Password":)"
                    R"("[REDACTED]","keep":1},"plain"],"Cookie":"[REDACTED]","n":null},)"
                    R"("api_key":"[REDACTED]","ok":true})");
  EXPECT_EQ(r.fullBytes, r.text.size());
}

TEST(Redact, ValuesWithoutSecretKeysAreKept) {
  // Only keys decide: a secret in a value under an innocent key is not recognised (documented).
  RedactedArgs r = redactArguments(R"(["token", {"q":"password=1"}, 1.5, -2])", 4096);
  ASSERT_EQ(r.form, RedactedArgs::Form::Json);
  EXPECT_EQ(r.text, R"(["token",{"q":"password=1"},1.5,-2])");
}

TEST(Redact, TruncatesAtAUtf8Boundary) {
  std::string value;
  for (int i = 0; i < 100; ++i)
    value += "\xE2\x82\xAC"; // "€", 3 bytes
  std::string json = R"({"text":")" + value + R"("})";
  for (size_t cap = 20; cap < 30; ++cap) {
    RedactedArgs r = redactArguments(json, cap);
    ASSERT_EQ(r.form, RedactedArgs::Form::Truncated);
    EXPECT_LE(r.text.size(), cap);
    EXPECT_GE(r.text.size(), cap - 2);
    EXPECT_EQ(r.fullBytes, json.size());
    // The prefix is whole characters: `{"text":"` (9 bytes) then complete euro signs.
    EXPECT_EQ((r.text.size() - 9) % 3, 0u) << cap;
  }
}

TEST(Redact, SecretsAreGoneBeforeTruncation) {
  RedactedArgs r = redactArguments(
      R"({"password":"hunter2hunter2hunter2","x":")" + std::string(100, 'y') + "\"}", 30);
  ASSERT_EQ(r.form, RedactedArgs::Form::Truncated);
  EXPECT_EQ(r.text.find("hunter2"), std::string::npos);
  EXPECT_EQ(r.text.rfind(R"({"password":"[REDACTED]")", 0), 0u);
}

TEST(Redact, NotJson) {
  EXPECT_EQ(redactArguments("{", 100).form, RedactedArgs::Form::Invalid);
  EXPECT_EQ(redactArguments("", 100).form, RedactedArgs::Form::Invalid);
  EXPECT_EQ(redactArguments("{} trailing", 100).form, RedactedArgs::Form::Invalid);
  EXPECT_EQ(redactArguments("\"\xff\"", 100).form, RedactedArgs::Form::Invalid); // not UTF-8
}

TEST(Redact, DeepNestingIsBoundedNotACrash) {
  std::string deep;
  for (int i = 0; i < 100000; ++i)
    deep += "[";
  for (int i = 0; i < 100000; ++i)
    deep += "]";
  RedactedArgs r = redactArguments(deep, 1 << 20);
  ASSERT_EQ(r.form, RedactedArgs::Form::Json);
  EXPECT_NE(r.text.find("\"[TOO DEEP]\""), std::string::npos);
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag>(r.text.data(), r.text.size());
  EXPECT_FALSE(d.HasParseError());
}

} // namespace
} // namespace sidecar::audit
