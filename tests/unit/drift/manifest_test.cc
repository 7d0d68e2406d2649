#include "drift/manifest.h"

#include <gtest/gtest.h>

#include "tests/unit/drift/drift_test_util.h"

namespace sidecar::drift {
namespace {

using namespace drift_test;

TEST(ToolManifestTest, ToolFormKeepsOnlyTheMembersThatDescribeBehaviour) {
  ToolManifest m;
  ASSERT_TRUE(m.addTool(R"({
      "name": "echo", "title": "Echo", "description": "Echoes",
      "inputSchema": {"type": "object", "properties": {"m": {"type": "string"}}},
      "outputSchema": {"type": "object"},
      "annotations": {"readOnlyHint": true},
      "icons": [{"src": "https://x/icon.png"}], "execution": {"taskSupport": "forbidden"},
      "_meta": {"k": 1}})")
                  .ok());
  const ToolDefinition* t = m.find("echo");
  ASSERT_NE(t, nullptr);
  const std::string form =
      R"({"annotations":{"readOnlyHint":true},"description":"Echoes",)"
      R"("inputSchema":{"properties":{"m":{"type":"string"}},"type":"object"},"name":"echo",)"
      R"("outputSchema":{"type":"object"},"title":"Echo"})";
  EXPECT_EQ(t->form, form);
  EXPECT_EQ(t->hash, sha256Hex(form));
  EXPECT_EQ(t->fields.size(), 6u);
  ASSERT_NE(t->field("annotations"), nullptr);
  EXPECT_EQ(*t->field("annotations"), R"({"readOnlyHint":true})");
  EXPECT_EQ(t->field("icons"), nullptr);
}

TEST(ToolManifestTest, AbsentMembersAreLeftOutAndNullIsKept) {
  ToolManifest m;
  ASSERT_TRUE(m.addTool(R"({"name":"a","description":null})").ok());
  EXPECT_EQ(m.find("a")->form, R"({"description":null,"name":"a"})");
  EXPECT_EQ(m.find("a")->field("title"), nullptr);
}

TEST(ToolManifestTest, SameToolsInAnyOrderAndSpellingHashTheSame) {
  std::string a = tool("alpha", "first", R"({"x":{"type":"string"},"y":{"type":"integer"}})");
  std::string b = tool("beta", "second");
  std::string bPretty = R"({
      "inputSchema" : { "properties" : { "x" : { "type" : "string" } }, "type" : "object" },
      "description" : "second",
      "name" : "beta"
  })";
  std::string aReordered = R"({"description":"first","name":"alpha","inputSchema":{"properties":)"
                           R"({"y":{"type":"integer"},"x":{"type":"string"}},"type":"object"}})";
  ToolManifest m1 = manifestOf({a, b});
  ToolManifest m2 = manifestOf({bPretty, aReordered});
  EXPECT_EQ(m1.hash(), m2.hash());
  EXPECT_EQ(m1.find("alpha")->hash, m2.find("alpha")->hash);
  EXPECT_EQ(m1.find("beta")->form, m2.find("beta")->form);
}

TEST(ToolManifestTest, AnyHashedChangeChangesTheHash) {
  ToolManifest base = manifestOf({tool("a")});
  EXPECT_NE(manifestOf({tool("a", "does other things")}).hash(), base.hash());
  EXPECT_NE(manifestOf({tool("a", "does things", R"({"x":{"type":"number"}})")}).hash(),
            base.hash());
  EXPECT_NE(manifestOf({tool("a", "does things", R"({"x":{"type":"string"}})", R"(,"title":"A")")})
                .hash(),
            base.hash());
  // Numbers count as written.
  EXPECT_NE(manifestOf({tool("a", "d", R"({"x":{"maximum":10}})")}).hash(),
            manifestOf({tool("a", "d", R"({"x":{"maximum":10.0}})")}).hash());
  // Members that are not hashed do not count.
  EXPECT_EQ(manifestOf({tool("a", "does things", R"({"x":{"type":"string"}})",
                             R"(,"_meta":{"v":2},"icons":[])")})
                .hash(),
            base.hash());
}

TEST(ToolManifestTest, ManifestHashIsTheHashOfTheNameToToolHashObject) {
  ToolManifest m = manifestOf({tool("b"), tool("a")});
  std::string object = "{\"a\":\"" + m.find("a")->hash + "\",\"b\":\"" + m.find("b")->hash + "\"}";
  EXPECT_EQ(m.hash(), "sha256:" + sha256Hex(object));
}

TEST(ToolManifestTest, EmptyManifest) {
  ToolManifest m;
  EXPECT_EQ(m.hash(), "sha256:" + sha256Hex("{}"));
  EXPECT_EQ(m.hash(), "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
  ToolManifest fromEmptyList = manifestOf({});
  EXPECT_EQ(fromEmptyList.hash(), m.hash());
  EXPECT_TRUE(fromEmptyList.complete());
}

TEST(ToolManifestTest, TakesTheWholeResponseOrTheResult) {
  ToolManifest whole = manifestOf({tool("a"), tool("b")});
  ToolManifest result;
  ASSERT_TRUE(result.addPage("{\"tools\":[" + tool("a") + "," + tool("b") + "]}").ok());
  EXPECT_EQ(whole.hash(), result.hash());
}

TEST(ToolManifestTest, MergesPages) {
  ToolManifest paged;
  ASSERT_TRUE(paged.addPage(response({tool("c"), tool("a")}, "page-2")).ok());
  EXPECT_FALSE(paged.complete());
  ASSERT_TRUE(paged.nextCursor());
  EXPECT_EQ(*paged.nextCursor(), "page-2");
  ASSERT_TRUE(paged.addPage(response({tool("b")}, "page-3", 2)).ok());
  EXPECT_EQ(*paged.nextCursor(), "page-3");
  ASSERT_TRUE(paged.addPage(R"({"tools":[],"nextCursor":null})").ok());
  EXPECT_TRUE(paged.complete());
  EXPECT_EQ(paged.size(), 3u);
  EXPECT_EQ(paged.hash(), manifestOf({tool("a"), tool("b"), tool("c")}).hash());
}

TEST(ToolManifestTest, ABadPageChangesNothing) {
  ToolManifest m;
  ASSERT_TRUE(m.addPage(response({tool("a")}, "next")).ok());
  const std::string before = m.hash();
  struct Case {
    std::string page;
    std::string error;
  } cases[] = {
      {"{not json", "not valid JSON"},
      {R"({"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"no tools"}})",
       "is an error: \"no tools\""},
      {R"({"jsonrpc":"2.0","id":1,"result":{}})", "no \"tools\" array"},
      {R"({"tools":{}})", "no \"tools\" array"},
      {R"([1])", "must be a JSON object"},
      {R"({"result":[]})", "result must be a JSON object"},
      {response({tool("b"), R"({"description":"nameless"})"}), "tools[1]: a tool has no string"},
      {response({R"({"name":7})"}), "no string \"name\""},
      {response({"\"text\""}), "tools[0]: a tool must be a JSON object"},
      {response({tool("b"), tool("b")}), "\"b\" appears twice"},
      {response({tool("a")}), "\"a\" appears twice in tools/list (on an earlier page too)"},
      {R"({"tools":[],"nextCursor":3})", "\"nextCursor\" is not a string"},
      {R"({"tools":[{"name":"z","inputSchema":{"a":1,"a":2}}]})", "two members named \"a\""},
  };
  for (const Case& c : cases) {
    Status st = m.addPage(c.page);
    ASSERT_FALSE(st.ok()) << c.page;
    EXPECT_NE(st.message().find(c.error), std::string::npos) << st.message();
    EXPECT_EQ(m.hash(), before);
    EXPECT_EQ(m.size(), 1u);
    ASSERT_TRUE(m.nextCursor());
    EXPECT_EQ(*m.nextCursor(), "next");
  }
}

TEST(ToolManifestTest, AddToolRefusesDuplicates) {
  ToolManifest m;
  ASSERT_TRUE(m.addTool(tool("a")).ok());
  EXPECT_FALSE(m.addTool(tool("a", "other")).ok());
  EXPECT_FALSE(m.addTool("{").ok());
  EXPECT_FALSE(m.addTool("{}").ok());
  EXPECT_EQ(m.size(), 1u);
}

// ---- resources/list and prompts/list ----

TEST(ResourceManifestTest, KeysByUriAndHashesTheMembersThatDescribeIt) {
  ResourceManifest m;
  ASSERT_TRUE(m.addPage(R"({"jsonrpc":"2.0","id":3,"result":{"resources":[
      {"uri":"file:///a.txt","name":"a","mimeType":"text/plain","size":12,
       "annotations":{"lastModified":"2026-11-24T10:00:00Z"},"_meta":{"k":1}}]}})")
                  .ok());
  const ResourceDefinition* r = m.find("file:///a.txt");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->name, "file:///a.txt"); // the key: the URI
  // `size` and `annotations` describe the content, not the resource: not hashed.
  const std::string form = R"({"mimeType":"text/plain","name":"a","uri":"file:///a.txt"})";
  EXPECT_EQ(r->form, form);
  // printf '%s' '{"mimeType":"text/plain","name":"a","uri":"file:///a.txt"}' | sha256sum
  EXPECT_EQ(r->hash, "c3d93c7ef440483a95af053b48465a749e80f13ee0eeb1b0f18560c2ba2ae16f");
  // printf '%s' '{"file:///a.txt":"c3d93c7e…ae16f"}' | sha256sum (the whole hash in the object)
  EXPECT_EQ(m.hash(), "sha256:e57e7811e6e75bcdf12ef4e28876f2d8dd78ce9343a0cc25c4303bd5cc4a8f8f");
  // The same resource with new content (size, lastModified) is the same definition.
  ResourceManifest later;
  ASSERT_TRUE(later
                  .addResource(R"({"uri":"file:///a.txt","name":"a","mimeType":"text/plain",
                                   "size":99,"annotations":{"lastModified":"2026-11-25T00:00:00Z"}})")
                  .ok());
  EXPECT_EQ(later.hash(), m.hash());
  ResourceManifest renamed;
  ASSERT_TRUE(
      renamed.addResource(R"({"uri":"file:///a.txt","name":"b","mimeType":"text/plain"})").ok());
  EXPECT_NE(renamed.hash(), m.hash());
}

TEST(ResourceManifestTest, MergesPagesAndRefusesBadOnes) {
  ResourceManifest m;
  ASSERT_TRUE(m.addPage(R"({"resources":[{"uri":"b:1","name":"b"}],"nextCursor":"2"})").ok());
  EXPECT_FALSE(m.complete());
  struct Case {
    std::string page;
    std::string error;
  } cases[] = {
      {R"({"tools":[]})", "the resources/list result has no \"resources\" array"},
      {R"({"resources":[{"name":"x"}]})", "resources[0]: a resource has no string \"uri\""},
      {R"({"resources":[{"uri":"b:1"}]})",
       "the resource uri \"b:1\" appears twice in resources/list (on an earlier page too)"},
      {R"({"resources":[{"uri":"c:1"},{"uri":"c:1"}]})",
       "the resource uri \"c:1\" appears twice in resources/list"},
      {R"({"error":{"code":-32601,"message":"nope"}})", "the resources/list answer is an error"},
  };
  for (const Case& c : cases) {
    Status st = m.addPage(c.page);
    ASSERT_FALSE(st.ok()) << c.page;
    EXPECT_NE(st.message().find(c.error), std::string::npos) << st.message();
    EXPECT_EQ(m.size(), 1u);
  }
  ASSERT_TRUE(m.addPage(R"({"resources":[{"uri":"a:1","name":"a"}]})").ok());
  EXPECT_TRUE(m.complete());
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(m.resources().begin()->first, "a:1");
}

TEST(PromptManifestTest, KeysByNameAndHashesArguments) {
  PromptManifest m;
  ASSERT_TRUE(m.addPage(R"({"prompts":[{"name":"greet","description":"Greets",
      "arguments":[{"required":true,"name":"x"}],"icons":[],"_meta":{}}]})")
                  .ok());
  const PromptDefinition* p = m.find("greet");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->form, R"({"arguments":[{"name":"x","required":true}],"description":"Greets",)"
                     R"("name":"greet"})");
  // printf '%s'
  // '{"arguments":[{"name":"x","required":true}],"description":"Greets","name":"greet"}' |
  // sha256sum
  EXPECT_EQ(p->hash, "ec77d8bbe090ca61466892338009ac2aba940f0bead9b773925449d38c20d102");
  // printf '%s' '{"greet":"ec77d8bb…d102"}' | sha256sum (the whole hash in the object)
  EXPECT_EQ(m.hash(), "sha256:74d82a5d16c2bbfbc9037c130767e4c6d807dfb06a8d0e456d333fe4624f2573");
  EXPECT_FALSE(m.addPrompt(R"({"name":"greet"})").ok());
  Status st = m.addPage(R"({"prompts":[{"description":"nameless"}]})");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("prompts[0]: a prompt has no string \"name\""), std::string::npos)
      << st.message();
}

TEST(PromptManifestTest, AToolListIsNotAPromptList) {
  PromptManifest m;
  Status st = m.addPage(response({tool("a")}));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("no \"prompts\" array"), std::string::npos) << st.message();
  EXPECT_EQ(m.hash(), ToolManifest().hash()); // every empty manifest hashes "{}"
}

TEST(ParseManifestHashTest, AcceptsThePrintedFormAndBareHex) {
  const std::string hex = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
  Result<std::string> a = parseManifestHash("sha256:" + hex);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, "sha256:" + hex);
  Result<std::string> b = parseManifestHash(hex);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, "sha256:" + hex);
  std::string upper = hex;
  for (char& c : upper)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  Result<std::string> c = parseManifestHash("sha256:" + upper);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, "sha256:" + hex);
}

TEST(ParseManifestHashTest, RefusesAnythingElse) {
  const std::string hex = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
  const std::vector<std::string> bad = {"",
                                        "sha256:",
                                        "sha256:" + hex.substr(1),
                                        "sha256:" + hex + "0",
                                        "sha1:" + hex,
                                        "sha256:" + hex.substr(1) + "g",
                                        " sha256:" + hex};
  for (const std::string& text : bad) {
    Result<std::string> r = parseManifestHash(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.error().find("64 hex digits"), std::string::npos);
  }
}

} // namespace
} // namespace sidecar::drift
