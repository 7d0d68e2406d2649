#include "drift/canonical_json.h"

#include <gtest/gtest.h>

#include <string>

namespace sidecar::drift {
namespace {

std::string canon(std::string_view text) {
  Result<std::string> r = canonicalJson(text);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error());
  return r.ok() ? *r : std::string();
}

std::string errorOf(std::string_view text) {
  Result<std::string> r = canonicalJson(text);
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? std::string() : r.error();
}

TEST(CanonicalJsonTest, SortsMembersAndDropsWhitespace) {
  EXPECT_EQ(canon(" { \"b\" : 1 ,\n \"a\" : [ true , null , { \"d\" : \"x\" , \"c\" : 2 } ] }\n"),
            R"({"a":[true,null,{"c":2,"d":"x"}],"b":1})");
}

TEST(CanonicalJsonTest, KeepsArrayOrder) {
  EXPECT_EQ(canon("[3, 1, 2]"), "[3,1,2]");
}

TEST(CanonicalJsonTest, EmptyContainersAndScalars) {
  EXPECT_EQ(canon("{ }"), "{}");
  EXPECT_EQ(canon("[ ]"), "[]");
  EXPECT_EQ(canon(" false "), "false");
  EXPECT_EQ(canon("\"\""), "\"\"");
  EXPECT_EQ(canon("-12"), "-12");
}

TEST(CanonicalJsonTest, KeepsNumbersAsWritten) {
  EXPECT_EQ(canon("[1.0, 1e2, -0, 10E-1, 1.50, 12345678901234567890123]"),
            "[1.0,1e2,-0,10E-1,1.50,12345678901234567890123]");
  EXPECT_NE(canon(R"({"maximum":10})"), canon(R"({"maximum":10.0})"));
}

TEST(CanonicalJsonTest, OrdersMembersByUtf8Bytes) {
  // 'B' 0x42 < 'a' 0x61 < 'b' 0x62 < "é" 0xC3 0xA9 < "😀" 0xF0 …
  EXPECT_EQ(canon(R"({"😀":5,"é":4,"b":3,"a":2,"B":1})"), R"({"B":1,"a":2,"b":3,"é":4,"😀":5})");
  // A prefix sorts first.
  EXPECT_EQ(canon(R"({"ab":2,"a":1})"), R"({"a":1,"ab":2})");
}

TEST(CanonicalJsonTest, EscapesStringsLikePythonJsonDumps) {
  // Escapes decoded; `/` and non-ASCII written raw; control bytes escaped, short forms where
  // JSON has them; U+007F written raw.
  EXPECT_EQ(canon(R"("\u0041\/\u00e9\ud83d\ude00 \" \\ \b\f\n\r\t \u0001\u001f\u007f")"),
            "\"A/\xc3\xa9\xf0\x9f\x98\x80 \\\" \\\\ \\b\\f\\n\\r\\t \\u0001\\u001f\x7f\"");
  EXPECT_EQ(canon(R"({"k\n":"\u0000"})"), R"({"k\n":"\u0000"})");
}

TEST(CanonicalJsonTest, IsIdempotent) {
  std::string once = canon(R"({"z":{"y":[1.5,{"b":"\t","a":null}]},"a":"é"})");
  EXPECT_EQ(canon(once), once);
}

TEST(CanonicalJsonTest, RefusesWhatIsNotOneJsonText) {
  EXPECT_NE(errorOf(""), "");
  EXPECT_NE(errorOf("{\"a\":1} x"), "");
  EXPECT_NE(errorOf("{\"a\":1,}"), "");
  EXPECT_NE(errorOf("[NaN]"), "");
  EXPECT_NE(errorOf("[Infinity]"), "");
  EXPECT_NE(errorOf("{'a':1}"), "");
  EXPECT_NE(errorOf("\"\xff\""), "");              // invalid UTF-8
  EXPECT_NE(errorOf("\"\xc3\""), "");              // truncated UTF-8
  EXPECT_NE(errorOf(R"("\ud800")"), "");           // lone high surrogate
  EXPECT_NE(errorOf(std::string("[1]\0", 4)), ""); // a NUL after the text
  EXPECT_NE(errorOf("[1").find("at byte"), std::string::npos);
}

TEST(CanonicalJsonTest, RefusesDuplicateMemberNamesAtAnyDepth) {
  EXPECT_NE(errorOf(R"({"a":1,"a":2})").find("two members named \"a\""), std::string::npos);
  EXPECT_NE(errorOf(R"({"x":[{"b":1,"c":2,"b":1}]})").find("\"b\""), std::string::npos);
  // The same name in different objects is fine.
  EXPECT_EQ(canon(R"({"a":{"a":1},"b":{"a":2}})"), R"({"a":{"a":1},"b":{"a":2}})");
}

TEST(CanonicalJsonTest, LimitsNesting) {
  std::string ok = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  EXPECT_EQ(canon(ok), ok);
  std::string deep = "[" + ok + "]";
  EXPECT_NE(errorOf(deep).find("nesting deeper than 128"), std::string::npos);
  // Far deeper input fails the same way, without recursion (the reader is iterative).
  std::string huge = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_NE(errorOf(huge).find("nesting deeper"), std::string::npos);
}

TEST(CanonicalJsonTest, FindReturnsMembersOfObjectsOnly) {
  Result<JsonValue> v = parseJson(R"({"a":{"b":"c"},"n":1})");
  ASSERT_TRUE(v.ok());
  ASSERT_NE(v->find("a"), nullptr);
  EXPECT_EQ(v->find("a")->find("b")->text, "c");
  EXPECT_EQ(v->find("n")->type, JsonValue::Type::Number);
  EXPECT_EQ(v->find("n")->text, "1");
  EXPECT_EQ(v->find("missing"), nullptr);
  EXPECT_EQ(v->find("n")->find("x"), nullptr);
}

TEST(CanonicalJsonTest, Sha256Hex) {
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

} // namespace
} // namespace sidecar::drift
