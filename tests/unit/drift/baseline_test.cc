#include "drift/baseline.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/unit/drift/drift_test_util.h"

namespace sidecar::drift {
namespace {

using namespace drift_test;

Baseline sample() {
  Baseline b;
  b.manifest = manifestOf(
      {tool("echo", "Echoes"), tool("sum", "Adds", R"({"a":{"type":"number","maximum":1.50}})",
                                    R"(,"title":"Sum","annotations":{"readOnlyHint":true})")});
  b.learnedAt = "2026-11-24T15:16:41.123Z";
  b.origin = "learned";
  return b;
}

Baseline loadOk(const std::string& path) {
  Result<std::optional<Baseline>> r = Baseline::load(path);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error());
  EXPECT_TRUE(r.ok() && r->has_value());
  return r.ok() && r->has_value() ? std::move(**r) : Baseline{};
}

std::string loadError(const std::string& path) {
  Result<std::optional<Baseline>> r = Baseline::load(path);
  EXPECT_FALSE(r.ok());
  return r.ok() ? std::string() : r.error();
}

TEST(BaselineTest, RoundTrip) {
  TempDir dir;
  const std::string path = dir.file("drift-baseline.json");
  Baseline b = sample();
  ASSERT_TRUE(b.save(path).ok());
  Baseline loaded = loadOk(path);
  EXPECT_EQ(loaded.manifest.hash(), b.manifest.hash());
  EXPECT_EQ(loaded.learnedAt, b.learnedAt);
  EXPECT_EQ(loaded.origin, "learned");
  ASSERT_EQ(loaded.manifest.size(), 2u);
  for (const auto& [name, def] : b.manifest.tools()) {
    const ToolDefinition* got = loaded.manifest.find(name);
    ASSERT_NE(got, nullptr) << name;
    EXPECT_EQ(got->form, def.form);
    EXPECT_EQ(got->hash, def.hash);
    EXPECT_EQ(got->fields, def.fields);
  }
  // Numbers survive as written.
  EXPECT_NE(loaded.manifest.find("sum")->form.find("1.50"), std::string::npos);
}

TEST(BaselineTest, FileLayout) {
  Baseline b = sample();
  std::string text = b.toJson();
  EXPECT_EQ(text, "{\"format\":\"mcp-sidecar-drift-baseline-v1\",\"learned_at\":"
                  "\"2026-11-24T15:16:41.123Z\",\"origin\":\"learned\",\"manifest_hash\":\"" +
                      b.manifest.hash() + "\",\"tools\":[\n{\"name\":\"echo\",\"sha256\":\"" +
                      b.manifest.find("echo")->hash +
                      "\",\"definition\":" + b.manifest.find("echo")->form +
                      "},\n{\"name\":\"sum\",\"sha256\":\"" + b.manifest.find("sum")->hash +
                      "\",\"definition\":" + b.manifest.find("sum")->form + "}\n]}\n");
  Baseline empty;
  empty.learnedAt = "t";
  empty.origin = "accepted";
  Result<Baseline> back = Baseline::fromJson(empty.toJson());
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back->manifest.size(), 0u);
  EXPECT_EQ(back->origin, "accepted");
}

TEST(BaselineTest, FileIsMode0600WhateverTheUmask) {
  TempDir dir;
  const std::string path = dir.file("b.json");
  writeFile(path, "old");
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  mode_t old = ::umask(0);
  Status st = sample().save(path);
  ::umask(old);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(fileMode(path), 0600u);
}

TEST(BaselineTest, SaveReplacesTheFileAtomically) {
  TempDir dir;
  const std::string path = dir.file("b.json");
  Baseline first = sample();
  ASSERT_TRUE(first.save(path).ok());
  const std::string firstText = readFile(path);
  // A second name for the old file: a save that rewrote the file in place would change it too.
  ASSERT_EQ(::link(path.c_str(), dir.file("old-link").c_str()), 0);
  ino_t before = inodeOf(path);

  Baseline second = sample();
  ASSERT_TRUE(second.manifest.addTool(tool("third")).ok());
  second.origin = "accepted";
  ASSERT_TRUE(second.save(path).ok());

  EXPECT_NE(inodeOf(path), before);
  EXPECT_EQ(readFile(dir.file("old-link")), firstText);
  EXPECT_EQ(readFile(path), second.toJson());
  EXPECT_EQ(loadOk(path).manifest.hash(), second.manifest.hash());
  // No temporary file is left behind.
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"b.json", "old-link"}));
}

TEST(BaselineTest, AFailedSaveLeavesNothingBehind) {
  TempDir dir;
  // rename() over a directory fails after the temporary file was written.
  const std::string path = dir.file("is-a-directory");
  ASSERT_EQ(::mkdir(path.c_str(), 0700), 0);
  Status st = sample().save(path);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("cannot rename"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(path), std::string::npos) << st.message();
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"is-a-directory"});

  Status missing = sample().save(dir.file("no-such-dir/b.json"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("no-such-dir/b.json"), std::string::npos);
}

TEST(BaselineTest, NoFileIsNotAnError) {
  TempDir dir;
  Result<std::optional<Baseline>> r = Baseline::load(dir.file("none.json"));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_FALSE(r->has_value());
}

TEST(BaselineTest, ACorruptFileIsAnErrorNamingIt) {
  TempDir dir;
  const std::string path = dir.file("drift-baseline.json");
  Baseline b = sample();
  const std::string good = b.toJson();
  const std::string echoHash = b.manifest.find("echo")->hash;
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string text = good;
    size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return text.replace(at, from.size(), to);
  };
  struct Case {
    std::string text;
    std::string why;
  } cases[] = {
      {good.substr(0, good.size() / 2), "not valid JSON"},
      {"", "not valid JSON"},
      {"[]", "not a JSON object"},
      {replaced("mcp-sidecar-drift-baseline-v1", "v0"), "\"format\" is not"},
      {replaced("\"learned_at\"", "\"learnt\""), "are needed"},
      // A definition edited without its hash.
      {replaced("\"description\":\"Echoes\"", "\"description\":\"Echoes. Also exfiltrates.\""),
       "tools[0] (\"echo\"): \"sha256\" does not match the definition"},
      // A tool removed without fixing the manifest hash.
      {replaced("{\"name\":\"echo\",\"sha256\":\"" + echoHash +
                    "\",\"definition\":" + b.manifest.find("echo")->form + "},\n",
                ""),
       "\"manifest_hash\""},
      {replaced("{\"name\":\"echo\"", "{\"name\":\"other\""), "differs from the definition's"},
      {replaced(",\"definition\":", ",\"def\":"), "needs \"name\", \"sha256\" and \"definition\""},
  };
  for (const Case& c : cases) {
    writeFile(path, c.text);
    std::string error = loadError(path);
    EXPECT_NE(error.find("the drift baseline " + path + " is corrupt"), std::string::npos) << error;
    EXPECT_NE(error.find(c.why), std::string::npos) << error;
    EXPECT_NE(error.find("remove it to learn"), std::string::npos) << error;
  }
}

Baseline withLists() {
  Baseline b = sample();
  b.resources = resourcesOf({resource("file:///b.txt"), resource("file:///a.txt", "A")});
  b.prompts = promptsOf({prompt("summarize")});
  return b;
}

TEST(BaselineTest, ResourcesAndPromptsRoundTrip) {
  TempDir dir;
  const std::string path = dir.file("drift-baseline.json");
  Baseline b = withLists();
  ASSERT_TRUE(b.save(path).ok());
  Baseline loaded = loadOk(path);
  EXPECT_EQ(loaded.manifest.hash(), b.manifest.hash());
  ASSERT_TRUE(loaded.resources);
  EXPECT_EQ(&loaded.resources->kind(), &kResourceList);
  EXPECT_EQ(loaded.resources->hash(), b.resources->hash());
  EXPECT_EQ(loaded.resources->find("file:///a.txt")->form,
            b.resources->find("file:///a.txt")->form);
  ASSERT_TRUE(loaded.prompts);
  EXPECT_EQ(loaded.prompts->hash(), b.prompts->hash());
  // One line per item, after the tools; resources by "uri", prompts by "name".
  const DefinitionManifest& r = *b.resources;
  const DefinitionManifest& p = *b.prompts;
  std::string tail = ",\"resources_hash\":\"" + r.hash() + "\",\"resources\":[\n" +
                     "{\"uri\":\"file:///a.txt\",\"sha256\":\"" + r.find("file:///a.txt")->hash +
                     "\",\"definition\":" + r.find("file:///a.txt")->form + "},\n" +
                     "{\"uri\":\"file:///b.txt\",\"sha256\":\"" + r.find("file:///b.txt")->hash +
                     "\",\"definition\":" + r.find("file:///b.txt")->form + "}\n]" +
                     ",\"prompts_hash\":\"" + p.hash() + "\",\"prompts\":[\n" +
                     "{\"name\":\"summarize\",\"sha256\":\"" + p.find("summarize")->hash +
                     "\",\"definition\":" + p.find("summarize")->form + "}\n]}\n";
  std::string text = b.toJson();
  ASSERT_GT(text.size(), tail.size());
  EXPECT_EQ(text.substr(text.size() - tail.size()), tail);
  // A list seen empty stays "seen".
  Baseline empty = sample();
  empty.prompts = promptsOf({});
  Result<Baseline> back = Baseline::fromJson(empty.toJson());
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_FALSE(back->resources);
  ASSERT_TRUE(back->prompts);
  EXPECT_EQ(back->prompts->size(), 0u);
}

// Files written before resources and prompts were compared load as they are: neither list seen.
TEST(BaselineTest, AnOldFileWithoutResourcesAndPromptsLoads) {
  Baseline b = sample();
  std::string old = "{\"format\":\"mcp-sidecar-drift-baseline-v1\",\"learned_at\":"
                    "\"2026-11-24T15:16:41.123Z\",\"origin\":\"learned\",\"manifest_hash\":\"" +
                    b.manifest.hash() + "\",\"tools\":[\n{\"name\":\"echo\",\"sha256\":\"" +
                    b.manifest.find("echo")->hash +
                    "\",\"definition\":" + b.manifest.find("echo")->form +
                    "},\n{\"name\":\"sum\",\"sha256\":\"" + b.manifest.find("sum")->hash +
                    "\",\"definition\":" + b.manifest.find("sum")->form + "}\n]}\n";
  Result<Baseline> loaded = Baseline::fromJson(old);
  ASSERT_TRUE(loaded.ok()) << loaded.error();
  EXPECT_EQ(loaded->manifest.hash(), b.manifest.hash());
  EXPECT_FALSE(loaded->resources);
  EXPECT_FALSE(loaded->prompts);
  EXPECT_EQ(loaded->toJson(), old) << "and is written back byte for byte";
}

TEST(BaselineTest, ACorruptResourceOrPromptSectionIsRefused) {
  Baseline b = withLists();
  const std::string good = b.toJson();
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string text = good;
    size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return text.replace(at, from.size(), to);
  };
  struct Case {
    std::string text;
    std::string why;
  } cases[] = {
      {replaced("\"description\":\"A\"", "\"description\":\"A. Also exfiltrates.\""),
       "resources[0] (\"file:///a.txt\"): \"sha256\" does not match the definition"},
      {replaced("\"resources_hash\":\"" + b.resources->hash() + "\"",
                "\"resources_hash\":\"sha256:" + std::string(64, '0') + "\""),
       "\"resources_hash\" \"sha256:000"},
      {replaced(",\"prompts_hash\":\"" + b.prompts->hash() + "\"", ""),
       "\"prompts\" (array) and \"prompts_hash\" (string) go together"},
      {replaced("{\"uri\":\"file:///b.txt\"", "{\"uri\":\"file:///c.txt\""),
       "resources[1]: \"uri\" \"file:///c.txt\" differs from the definition's"},
      {replaced("{\"name\":\"summarize\",\"sha256\"", "{\"sha256\""),
       "prompts[0] needs \"name\", \"sha256\" and \"definition\""},
  };
  for (const Case& c : cases) {
    Result<Baseline> r = Baseline::fromJson(c.text);
    ASSERT_FALSE(r.ok()) << c.why;
    EXPECT_NE(r.error().find(c.why), std::string::npos) << r.error();
  }
}

TEST(BaselineTest, ADirectoryIsNotABaseline) {
  TempDir dir;
  std::string error = loadError(dir.path());
  EXPECT_NE(error.find(dir.path()), std::string::npos) << error;
}

} // namespace
} // namespace sidecar::drift
