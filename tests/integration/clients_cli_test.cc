// `mcp-sidecar detect` and `mcp-sidecar wrap` as a user runs them: the real binary, a scratch home
// directory holding every client's file (tests/data/clients/), and a project directory as the
// current directory. Wrap, wrap again (no change), undo (the original bytes back).

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/sidecar.h"
#include "tests/support/temp_dir.h"

namespace sidecar::test {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Outcome {
  int status = -1;
  std::string out;
  std::string err;
};

class ClientsCliTest : public ::testing::Test {
protected:
  ClientsCliTest() : home_(dir_.file("home")), project_(dir_.file("project")) {
    // Where each fixture lives in a Linux home directory and a project.
    files_ = {
        {home_ + "/.config/Claude/claude_desktop_config.json", "claude_desktop_config.json"},
        {home_ + "/.claude.json", "claude.json"},
        {project_ + "/.mcp.json", "mcp.json"},
        {home_ + "/.cursor/mcp.json", "cursor_mcp.json"},
        {home_ + "/.config/Code/User/settings.json", "vscode_settings.json"},
        {project_ + "/.vscode/mcp.json", "vscode_mcp.json"},
        {home_ + "/.codeium/windsurf/mcp_config.json", "windsurf_mcp_config.json"},
    };
    fs::create_directories(project_);
    for (const auto& [path, name] : files_) {
      fs::create_directories(fs::path(path).parent_path());
      fs::copy_file(std::string(SIDECAR_SOURCE_DIR) + "/tests/data/clients/" + name, path);
      originals_[path] = readFile(path);
    }
  }

  Outcome run(std::vector<std::string> args) {
    args.insert(args.begin(), SidecarProcess::binaryPath());
    ProcessPtr p = Process::spawn(args,
                                  {{"HOME", home_},
                                   {"XDG_CONFIG_HOME", home_ + "/.config"},
                                   {"APPDATA", ""},
                                   {"USERPROFILE", ""}},
                                  project_);
    Outcome r;
    if (!p)
      return r;
    std::optional<int> st = p->waitExit(scaled(seconds(20)));
    EXPECT_TRUE(st && WIFEXITED(*st)) << "mcp-sidecar did not exit normally";
    r.status = st && WIFEXITED(*st) ? WEXITSTATUS(*st) : -1;
    r.out = p->stdoutText();
    r.err = p->stderrText();
    return r;
  }

  rapidjson::Document detectJson() {
    Outcome r = run({"detect", "--json"});
    EXPECT_EQ(r.status, 0) << r.err;
    rapidjson::Document d;
    d.Parse(r.out.c_str());
    EXPECT_FALSE(d.HasParseError()) << r.out;
    EXPECT_TRUE(d.IsArray());
    return d;
  }

  TempDir dir_{"clients-cli-test"};
  std::string home_;
  std::string project_;
  std::vector<std::pair<std::string, std::string>> files_; // path, fixture
  std::map<std::string, std::string> originals_;
};

TEST_F(ClientsCliTest, DetectJsonListsEveryClient) {
  rapidjson::Document d = detectJson();
  ASSERT_EQ(d.Size(), 21u);
  std::map<std::string, int> perClient;
  int remote = 0;
  for (const rapidjson::Value& s : d.GetArray()) {
    perClient[s["client"].GetString()]++;
    remote += s["url"].IsString() ? 1 : 0;
    for (const auto& e : s["env"].GetObject()) {
      std::string v = e.value.GetString();
      EXPECT_TRUE(v == "***" || v.rfind("${", 0) == 0) << e.name.GetString() << "=" << v;
    }
  }
  EXPECT_EQ(perClient, (std::map<std::string, int>{{"claude-desktop", 4},
                                                   {"claude-code", 7},
                                                   {"cursor", 3},
                                                   {"vscode", 4},
                                                   {"windsurf", 3}}));
  EXPECT_EQ(remote, 6);
  const rapidjson::Value& first = d[0];
  EXPECT_STREQ(first["name"].GetString(), "filesystem");
  EXPECT_EQ(first["source"].GetString(), home_ + "/.config/Claude/claude_desktop_config.json");
  EXPECT_STREQ(first["command"].GetString(), "npx");
}

TEST_F(ClientsCliTest, DetectTextAsTheGuide) {
  Outcome r = run({"detect"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out.rfind("Found 21 MCP servers (15 stdio, 6 remote) in 7 files:\n", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("\nClaude Desktop: " + home_ +
                       "/.config/Claude/claude_desktop_config.json\n"
                       "  - filesystem: npx -y @modelcontextprotocol/server-filesystem "
                       "/Users/me/Documents /Users/me/Desktop\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("      env: GITHUB_TOKEN=***\n"), std::string::npos);
  Outcome shown = run({"detect", "--show-env", "--client", "claude-desktop"});
  EXPECT_NE(shown.out.find("      env: GITHUB_TOKEN=ghp_exampleexampleexample\n"),
            std::string::npos)
      << shown.out;
  EXPECT_EQ(shown.out.find("claude.json"), std::string::npos); // one client only
}

TEST_F(ClientsCliTest, DetectReportsAnInvalidFileAndReadsTheOthers) {
  const std::string cursor = home_ + "/.cursor/mcp.json";
  fs::copy_file(std::string(SIDECAR_SOURCE_DIR) + "/tests/data/clients/invalid.json", cursor,
                fs::copy_options::overwrite_existing);
  fs::remove(home_ + "/.codeium/windsurf/mcp_config.json"); // missing: silently skipped
  Outcome r = run({"detect", "--json"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "mcp-sidecar detect: " + cursor +
                       ":7:5: invalid JSON: Missing a comma or '}' after an object member (fix "
                       "the file: Cursor cannot read it either)\n"
                       "mcp-sidecar detect: 1 file could not be read (above); the servers of the "
                       "files that could are listed\n");
  rapidjson::Document d;
  d.Parse(r.out.c_str());
  ASSERT_TRUE(d.IsArray()) << r.out;
  EXPECT_EQ(d.Size(), 15u); // 21 - 3 Cursor - 3 Windsurf
}

TEST_F(ClientsCliTest, DetectOneFile) {
  const std::string copy = dir_.file("somewhere.json");
  fs::copy_file(home_ + "/.codeium/windsurf/mcp_config.json", copy);
  Outcome r = run({"detect", "--config", copy, "--json", "--show-env"});
  EXPECT_EQ(r.status, 0) << r.err;
  rapidjson::Document d;
  d.Parse(r.out.c_str());
  ASSERT_TRUE(d.IsArray()) << r.out;
  ASSERT_EQ(d.Size(), 3u);
  EXPECT_STREQ(d[1]["url"].GetString(), "https://mcp.figma.com/mcp");
  EXPECT_STREQ(d[1]["headers"]["X-Figma-Token"].GetString(), "figd_example");
  EXPECT_STREQ(d[0]["client"].GetString(), "other");
  Outcome typed = run({"detect", "--config", copy, "--client", "windsurf", "--json"});
  EXPECT_NE(typed.out.find("\"client\": \"windsurf\""), std::string::npos) << typed.out;

  Outcome missing = run({"detect", "--config", dir_.file("nope.json")});
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("cannot read " + dir_.file("nope.json") + ": no such file"),
            std::string::npos)
      << missing.err;
}

TEST_F(ClientsCliTest, WrapTwiceThenUndo) {
  const std::string self = fs::canonical(SidecarProcess::binaryPath()).string();
  Outcome w = run({"wrap"});
  ASSERT_EQ(w.status, 0) << w.err;
  for (const auto& [path, name] : files_) {
    EXPECT_NE(readFile(path), originals_[path]) << path;
    EXPECT_EQ(readFile(path + ".mcp-sidecar.bak"), originals_[path]) << path;
    EXPECT_NE(w.out.find("--- " + path + "\n+++ " + path + "\n"), std::string::npos) << path;
    EXPECT_NE(w.err.find("mcp-sidecar wrap: " + path + ": wrapped "), std::string::npos) << path;
  }
  // Every stdio server now starts `mcp-sidecar stdio -- ...`; remote servers are as they were.
  rapidjson::Document d = detectJson();
  ASSERT_EQ(d.Size(), 21u);
  for (const rapidjson::Value& s : d.GetArray()) {
    if (s["command"].IsNull()) {
      EXPECT_FALSE(s["wrapped"].GetBool());
      continue;
    }
    EXPECT_EQ(s["command"].GetString(), self) << s["name"].GetString();
    EXPECT_STREQ(s["args"][0].GetString(), "stdio");
    EXPECT_STREQ(s["args"][1].GetString(), "--");
    EXPECT_TRUE(s["wrapped"].GetBool());
  }

  std::map<std::string, std::string> wrapped;
  for (const auto& [path, name] : files_)
    wrapped[path] = readFile(path);
  Outcome again = run({"wrap"});
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(again.out, ""); // no diff
  for (const auto& [path, name] : files_) {
    EXPECT_EQ(readFile(path), wrapped[path]) << path;
    EXPECT_NE(again.err.find(path + ": nothing to change"), std::string::npos) << again.err;
  }

  Outcome undo = run({"wrap", "--undo"});
  EXPECT_EQ(undo.status, 0) << undo.err;
  for (const auto& [path, name] : files_) {
    EXPECT_EQ(readFile(path), originals_[path]) << path; // byte for byte
    EXPECT_FALSE(fs::exists(path + ".mcp-sidecar.bak")) << path;
    EXPECT_NE(undo.err.find(path + ": restored byte for byte"), std::string::npos) << undo.err;
  }
  Outcome nothing = run({"wrap", "--undo"});
  EXPECT_EQ(nothing.status, 0);
  EXPECT_EQ(nothing.err,
            "mcp-sidecar wrap --undo: nothing to undo: no wrapped servers and no backups found\n");
}

TEST_F(ClientsCliTest, WrapOneFileDryRunAndSidecarPath) {
  const std::string path = home_ + "/.cursor/mcp.json";
  Outcome dry = run({"wrap", "--config", path, "--dry-run", "--sidecar", "/opt/mcp/bin/mcp-sidecar",
                     "--server", "git"});
  EXPECT_EQ(dry.status, 0) << dry.err;
  EXPECT_EQ(readFile(path), originals_[path]);
  EXPECT_FALSE(fs::exists(path + ".mcp-sidecar.bak"));
  EXPECT_EQ(dry.out, "--- " + path + "\n+++ " + path +
                         "\n"
                         "@@ -11,8 +11,8 @@\n"
                         "       }\n"
                         "     },\n"
                         "     \"git\": {\n"
                         "-      \"command\": \"uvx\",\n"
                         "-      \"args\": [\"mcp-server-git\", \"--repository\", \".\"],\n"
                         "+      \"command\": \"/opt/mcp/bin/mcp-sidecar\",\n"
                         "+      \"args\": [\"stdio\", \"--\", \"uvx\", \"mcp-server-git\", "
                         "\"--repository\", \".\"],\n"
                         "       \"env\": {\n"
                         "         \"GIT_AUTHOR_NAME\": \"Me\"\n"
                         "       }\n");
  EXPECT_NE(dry.err.find("warning: --sidecar /opt/mcp/bin/mcp-sidecar is not an executable"),
            std::string::npos)
      << dry.err;
  EXPECT_NE(dry.err.find("would wrap 1 server (git); dry run: nothing written"), std::string::npos)
      << dry.err;
}

TEST_F(ClientsCliTest, ErrorsAndUsage) {
  Outcome unknown = run({"wrap", "--server", "nope", "--client", "cursor"});
  EXPECT_EQ(unknown.status, 1);
  EXPECT_NE(unknown.err.find("no server named \"nope\" in the files read"), std::string::npos)
      << unknown.err;
  EXPECT_EQ(readFile(home_ + "/.cursor/mcp.json"), originals_[home_ + "/.cursor/mcp.json"]);

  EXPECT_EQ(run({"wrap", "--force"}).status, 2); // --force needs --undo
  EXPECT_EQ(run({"detect", "--client", "emacs"}).status, 2);

  const std::string bad = home_ + "/.config/Claude/claude_desktop_config.json";
  fs::copy_file(std::string(SIDECAR_SOURCE_DIR) + "/tests/data/clients/invalid.json", bad,
                fs::copy_options::overwrite_existing);
  Outcome w = run({"wrap", "--client", "claude-desktop"});
  EXPECT_EQ(w.status, 1);
  EXPECT_NE(w.err.find(bad + ":7:5: invalid JSON"), std::string::npos) << w.err;
  EXPECT_NE(w.err.find("the file was not changed"), std::string::npos) << w.err;

  fs::remove_all(home_);
  fs::remove_all(project_);
  fs::create_directories(project_);
  Outcome none = run({"wrap"});
  EXPECT_EQ(none.status, 1);
  EXPECT_NE(none.err.find("no MCP client configuration found"), std::string::npos) << none.err;
  Outcome empty = run({"detect"});
  EXPECT_EQ(empty.status, 0);
  EXPECT_EQ(empty.out.rfind("No MCP servers found.\nNot there:\n", 0), 0u) << empty.out;
}

} // namespace
} // namespace sidecar::test
