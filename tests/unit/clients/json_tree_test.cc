// The span tree: every value knows its bytes, with comments, trailing commas, a byte order mark,
// and the parser's errors turned into line:column.

#include "clients/json_tree.h"

#include <gtest/gtest.h>

namespace sidecar::clients {
namespace {

std::string spanOf(const std::string& text, const JsonNode& n) {
  return text.substr(n.begin, n.end - n.begin);
}

JsonNode parseOk(const std::string& text, bool jsonc = false) {
  JsonParse p = parseJsonTree(text, jsonc);
  EXPECT_TRUE(p.ok) << p.error << " at " << p.errorOffset;
  return std::move(p.root);
}

TEST(JsonTreeTest, SpansOfEveryKind) {
  const std::string text = R"( { "s" : "a\"b" , "n":-1.50e3, "t":true, "f" :false, "z": null,)"
                           R"( "a": [ 1, "x" ,{"k":[]} ], "o": {} } )";
  JsonNode root = parseOk(text);
  ASSERT_TRUE(root.isObject());
  EXPECT_EQ(spanOf(text, root), text.substr(1, text.size() - 2));
  ASSERT_EQ(root.members.size(), 7u);
  EXPECT_EQ(spanOf(text, root.members[0].value), R"("a\"b")");
  EXPECT_EQ(root.members[0].value.text, "a\"b");
  EXPECT_EQ(
      text.substr(root.members[0].keyBegin, root.members[0].keyEnd - root.members[0].keyBegin),
      R"("s")");
  EXPECT_EQ(spanOf(text, root.members[1].value), "-1.50e3");
  EXPECT_EQ(root.members[1].value.text, "-1.50e3"); // numbers as written
  EXPECT_EQ(root.members[1].value.kind, JsonNode::Kind::Number);
  EXPECT_EQ(spanOf(text, root.members[2].value), "true");
  EXPECT_EQ(spanOf(text, root.members[3].value), "false");
  EXPECT_EQ(spanOf(text, root.members[4].value), "null");
  const JsonNode& a = root.members[5].value;
  EXPECT_EQ(spanOf(text, a), R"([ 1, "x" ,{"k":[]} ])");
  ASSERT_EQ(a.elements.size(), 3u);
  EXPECT_EQ(spanOf(text, a.elements[0]), "1");
  EXPECT_EQ(spanOf(text, a.elements[1]), R"("x")");
  EXPECT_EQ(spanOf(text, a.elements[2]), R"({"k":[]})");
  EXPECT_EQ(spanOf(text, *a.elements[2].find("k")), "[]");
  EXPECT_EQ(spanOf(text, root.members[6].value), "{}");
}

TEST(JsonTreeTest, CommentsAndTrailingCommasWhenAllowed) {
  const std::string text = "// head\n{ /* a */ \"a\" /* b */ : /* c */ \"v\" // d\n ,\n"
                           " \"b\": [1, /* e */ 2,],\n}\n";
  EXPECT_FALSE(parseJsonTree(text, false).ok);
  JsonNode root = parseOk(text, true);
  EXPECT_EQ(spanOf(text, root.members[0].value), "\"v\"");
  EXPECT_EQ(text.substr(root.members[0].keyBegin, 3), "\"a\"");
  EXPECT_EQ(spanOf(text, root.members[1].value), "[1, /* e */ 2,]");
  EXPECT_EQ(spanOf(text, root.members[1].value.elements[1]), "2");
  EXPECT_EQ(spanOf(text, root), text.substr(text.find('{'), text.rfind('}') + 1 - text.find('{')));
  JsonNode objects = parseOk("{\"a\": {\"b\": 1, }, \"c\": {},}", true);
  EXPECT_EQ(objects.end, 27u);
  EXPECT_EQ(objects.members[0].value.begin, 6u);
  EXPECT_EQ(objects.members[0].value.end, 16u);
  EXPECT_EQ(objects.members[1].value.begin, 23u);
  EXPECT_EQ(objects.members[1].value.end, 25u);
}

TEST(JsonTreeTest, ByteOrderMarkIsSkippedButCounted) {
  const std::string text = "\xEF\xBB\xBF{\"a\":\"b\"}";
  JsonNode root = parseOk(text);
  EXPECT_EQ(root.begin, 3u);
  EXPECT_EQ(spanOf(text, root.members[0].value), "\"b\"");
}

TEST(JsonTreeTest, DuplicateNamesLastWins) {
  JsonNode root = parseOk(R"({"a":1,"a":2})");
  EXPECT_EQ(root.members.size(), 2u);
  EXPECT_EQ(root.find("a")->text, "2");
  EXPECT_EQ(root.find("b"), nullptr);
  EXPECT_EQ(root.members[0].value.find("a"), nullptr); // not an object
}

TEST(JsonTreeTest, ErrorsWithOffsets) {
  JsonParse p = parseJsonTree("{\n  \"a\": 1\n  \"b\": 2\n}", false);
  EXPECT_FALSE(p.ok);
  EXPECT_EQ(p.error, "Missing a comma or '}' after an object member");
  LineColumn lc = lineColumnAt("{\n  \"a\": 1\n  \"b\": 2\n}", p.errorOffset);
  EXPECT_EQ(lc.line, 3u);
  EXPECT_EQ(lc.column, 3u);

  EXPECT_FALSE(parseJsonTree("", false).ok);
  EXPECT_FALSE(parseJsonTree("{} x", false).ok);
  EXPECT_FALSE(parseJsonTree("{\"a\": \"\xFF\"}", false).ok); // not UTF-8

  JsonParse nul = parseJsonTree(std::string("{}\0{", 4), false);
  EXPECT_FALSE(nul.ok);
  EXPECT_EQ(nul.errorOffset, 2u);
}

TEST(JsonTreeTest, DepthIsBounded) {
  std::string deep(300, '[');
  deep += std::string(300, ']');
  JsonParse p = parseJsonTree(deep, false);
  EXPECT_FALSE(p.ok);
  EXPECT_EQ(p.error, "nested deeper than 256 levels");
  std::string ok(200, '[');
  ok += std::string(200, ']');
  EXPECT_TRUE(parseJsonTree(ok, false).ok);
}

TEST(JsonTreeTest, LineColumnCountsCharacters) {
  const std::string text = "ab\n\xC3\xA9t\xE2\x82\xAC"
                           "x\n";
  EXPECT_EQ(lineColumnAt(text, 0).line, 1u);
  EXPECT_EQ(lineColumnAt(text, 0).column, 1u);
  EXPECT_EQ(lineColumnAt(text, 2).column, 3u);
  LineColumn x = lineColumnAt(text, text.find('x'));
  EXPECT_EQ(x.line, 2u);
  EXPECT_EQ(x.column, 4u); // é, t, € before it
  EXPECT_EQ(lineColumnAt(text, 1000).line, 3u);
  EXPECT_EQ(lineColumnAt("\xEF\xBB\xBF{", 3).column, 1u);
}

TEST(JsonTreeTest, Quote) {
  EXPECT_EQ(jsonQuote("a\"b\\c\n/é"), "\"a\\\"b\\\\c\\n/é\"");
  EXPECT_EQ(jsonQuote(""), "\"\"");
}

} // namespace
} // namespace sidecar::clients
