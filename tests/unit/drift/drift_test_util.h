#pragma once
// Helpers shared by the drift tests: tool and tools/list builders, a temporary directory, whole
// file access, and the captured tools/list of server-everything under tests/data/drift/ (found
// through SIDECAR_SOURCE_DIR, a compile definition of the test binary).

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
