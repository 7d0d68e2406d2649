#pragma once
// Helpers shared by the drift tests: tool, resource, prompt and list builders, a temporary
// directory, whole file access, and the captured tools/list of server-everything under
// tests/data/drift/ (found through SIDECAR_SOURCE_DIR, a compile definition of the test binary).

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include "drift/manifest.h"
#include "tests/support/temp_dir.h"

#ifndef SIDECAR_SOURCE_DIR
#error "SIDECAR_SOURCE_DIR must name the source tree (target_compile_definitions)"
#endif

namespace sidecar::drift::drift_test {

class TempDir : public sidecar::test::TempDir {
public:
  TempDir() : sidecar::test::TempDir("drift-test") {}
};

inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void writeFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

inline mode_t fileMode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

inline ino_t inodeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_ino;
}

// A tool object as JSON text. `description` and `schemaProps` (the text of the input schema's
// `properties` object) are the parts the tests vary; `extra` is appended inside the object
// (e.g. R"(,"annotations":{"readOnlyHint":true})").
inline std::string tool(const std::string& name, const std::string& description = "does things",
                        const std::string& schemaProps = R"({"x":{"type":"string"}})",
                        const std::string& extra = "") {
  return R"({"name":")" + name + R"(","description":")" + description +
         R"(","inputSchema":{"type":"object","properties":)" + schemaProps + "}" + extra + "}";
}

// A whole tools/list response holding `tools` (JSON texts), with an optional next cursor.
inline std::string response(const std::vector<std::string>& tools, const std::string& cursor = "",
                            int id = 1) {
  std::string out = R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"result":{"tools":[)";
  for (size_t i = 0; i < tools.size(); ++i)
    out += (i ? "," : "") + tools[i];
  out += "]";
  if (!cursor.empty())
    out += R"(,"nextCursor":")" + cursor + "\"";
  return out + "}}";
}

inline ToolManifest manifestOf(const std::vector<std::string>& tools) {
  ToolManifest m;
  Status st = m.addPage(response(tools));
  EXPECT_TRUE(st.ok()) << st.message();
  return m;
}

// A resource object as JSON text (`name` "notes" unless given); `extra` as for tool().
inline std::string resource(const std::string& uri, const std::string& description = "Some notes",
                            const std::string& name = "notes", const std::string& extra = "") {
  return R"({"uri":")" + uri + R"(","name":")" + name + R"(","description":")" + description +
         R"(","mimeType":"text/plain")" + extra + "}";
}

// A prompt object as JSON text; `arguments` is the text of its arguments array.
inline std::string prompt(const std::string& name, const std::string& description = "Summarizes",
                          const std::string& arguments = R"([{"name":"text","required":true}])") {
  return R"({"name":")" + name + R"(","description":")" + description + R"(","arguments":)" +
         arguments + "}";
}

// A complete manifest of `kind` (kResourceList, kPromptList) holding `items` (JSON texts).
inline DefinitionManifest listOf(const ListKind& kind, const std::vector<std::string>& items) {
  DefinitionManifest m(kind);
  std::string page = R"({"jsonrpc":"2.0","id":1,"result":{")" + std::string(kind.member) + R"(":[)";
  for (size_t i = 0; i < items.size(); ++i)
    page += (i ? "," : "") + items[i];
  Status st = m.addPage(page + "]}}");
  EXPECT_TRUE(st.ok()) << st.message();
  return m;
}
inline DefinitionManifest resourcesOf(const std::vector<std::string>& items) {
  return listOf(kResourceList, items);
}
inline DefinitionManifest promptsOf(const std::vector<std::string>& items) {
  return listOf(kPromptList, items);
}

inline std::string dataPath(const std::string& name) {
  return std::string(SIDECAR_SOURCE_DIR) + "/tests/data/drift/" + name;
}

// tools/list of @modelcontextprotocol/server-everything 2026.8.31 (stdio), captured as received.
inline std::string everythingToolsList() {
  return readFile(dataPath("everything-2026.8.31-tools-list.json"));
}
// The same with get-sum's description extended by an injected instruction.
inline std::string everythingRugPull() {
  return readFile(dataPath("everything-2026.8.31-tools-list-rugpull.json"));
}

} // namespace sidecar::drift::drift_test
