// `detect`: the servers of every fixture, redaction, the guide's text format, the JSON list, and a
// home directory where one file is invalid and others are missing.

#include "clients/detect.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <filesystem>

#include "tests/unit/clients/clients_test_util.h"

namespace sidecar::clients {
namespace {

using namespace test;

std::vector<ServerEntry> entriesOf(const Source& s, const std::string& fixtureName,
                                   std::vector<std::string>* warningsOut = nullptr) {
  std::vector<std::string> warnings;
  std::vector<ServerEntry> out = serverEntries(parsed(s, fixture(fixtureName)), warnings);
  if (warningsOut)
    *warningsOut = warnings;
  else
    EXPECT_TRUE(warnings.empty()) << warnings.front();
  return out;
}

const ServerEntry* byName(const std::vector<ServerEntry>& v, const std::string& name) {
  for (const ServerEntry& e : v)
    if (e.name == name)
      return &e;
  ADD_FAILURE() << "no server " << name;
  return nullptr;
}

using Pairs = std::vector<std::pair<std::string, std::string>>;

TEST(DetectTest, ClaudeDesktop) {
  auto v = entriesOf(sourceOf(Client::ClaudeDesktop, Layout::McpServers, "/cd.json"),
                     "claude_desktop_config.json");
  ASSERT_EQ(v.size(), 4u);
  const ServerEntry& fs = v[0];
  EXPECT_EQ(fs.name, "filesystem");
  EXPECT_EQ(fs.client, Client::ClaudeDesktop);
  EXPECT_EQ(fs.source, "/cd.json");
  EXPECT_EQ(fs.transport, "stdio");
  EXPECT_EQ(fs.command, "npx");
  EXPECT_EQ(fs.args, (std::vector<std::string>{"-y", "@modelcontextprotocol/server-filesystem",
                                               "/Users/me/Documents", "/Users/me/Desktop"}));
  EXPECT_FALSE(fs.url);
  EXPECT_EQ(v[1].env, (Pairs{{"AIM_PRIVATE_KEY", "your-aim-private-key"},
                             {"OPENWEATHER_API_KEY", "your-openweather-key"},
                             {"AIM_URL", "http://localhost:8080"}}));
}

TEST(DetectTest, ClaudeCodeScopesAndRemoteServers) {
  auto v = entriesOf(sourceOf(Client::ClaudeCode, Layout::ClaudeCodeState), "claude.json");
  ASSERT_EQ(v.size(), 4u);
  const ServerEntry* sentry = byName(v, "sentry");
  ASSERT_TRUE(sentry);
  EXPECT_EQ(sentry->transport, "http");
  EXPECT_EQ(sentry->url, "https://mcp.sentry.dev/mcp");
  EXPECT_FALSE(sentry->command);
  EXPECT_EQ(sentry->headers, (Pairs{{"Authorization", "Bearer sntrys_example"}}));
  EXPECT_EQ(sentry->scope, "user");
  const ServerEntry* pg = byName(v, "postgres");
  ASSERT_TRUE(pg);
  EXPECT_EQ(pg->scope, "local");
  EXPECT_EQ(pg->project, "/home/me/src/shop");
  EXPECT_EQ(pg->env, (Pairs{{"PGPASSWORD", "s3cret"}}));
  EXPECT_EQ(byName(v, "linear")->transport, "sse");

  auto project =
      entriesOf(sourceOf(Client::ClaudeCode, Layout::McpServers, "p", "project"), "mcp.json");
  ASSERT_EQ(project.size(), 3u);
  EXPECT_EQ(byName(project, "local-tool")->command, "${HOME}/bin/local-tool"); // not expanded
  EXPECT_TRUE(byName(project, "local-tool")->args.empty());
  EXPECT_EQ(byName(project, "docs")->scope, "project");
}

TEST(DetectTest, CursorWindsurfAndVsCode) {
  auto cursor = entriesOf(sourceOf(Client::Cursor, Layout::McpServers), "cursor_mcp.json");
  EXPECT_EQ(byName(cursor, "stripe")->url, "https://mcp.stripe.com");
  EXPECT_EQ(byName(cursor, "stripe")->transport, "remote"); // Cursor does not say which

  auto windsurf =
      entriesOf(sourceOf(Client::Windsurf, Layout::McpServers), "windsurf_mcp_config.json");
  EXPECT_EQ(byName(windsurf, "figma")->url, "https://mcp.figma.com/mcp"); // serverUrl
  EXPECT_TRUE(byName(windsurf, "puppeteer")->disabled);
  EXPECT_FALSE(byName(windsurf, "brave-search")->disabled);

  auto vscode = entriesOf(sourceOf(Client::VsCode, Layout::VsCodeServers, "v", "workspace"),
                          "vscode_mcp.json");
  ASSERT_EQ(vscode.size(), 3u);
  EXPECT_EQ(byName(vscode, "github")->headers,
            (Pairs{{"Authorization", "Bearer ${input:github-token}"}}));
  EXPECT_EQ(byName(vscode, "workspace-files")->args.back(), "${workspaceFolder}");
  EXPECT_EQ(byName(vscode, "workspace-files")->env, (Pairs{{"TOKEN", "${input:github-token}"}}));
}

TEST(DetectTest, OddEntriesAreSkippedWithAWarning) {
  std::vector<std::string> warnings;
  ConfigFile f = parsed(sourceOf(Client::Cursor, Layout::McpServers, "/c.json"),
                        R"({"mcpServers": {"a": 1, "b": {"env": {}}, "c": {"command": 7},
                            "d": {"command": "x", "args": "y", "env": [], "cwd": "/w"},
                            "e": {"command": "x", "args": ["a", 2, {}], "env": {"N": 1}}}})");
  std::vector<ServerEntry> v = serverEntries(f, warnings);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].name, "d");
  EXPECT_EQ(v[0].cwd, "/w");
  EXPECT_EQ(v[1].args, (std::vector<std::string>{"a", "2"}));
  EXPECT_EQ(v[1].env, (Pairs{{"N", "1"}}));
  EXPECT_EQ(warnings, (std::vector<std::string>{
                          "/c.json: server \"a\" is not a JSON object; skipped",
                          "/c.json: server \"b\" has neither \"command\" nor \"url\"; skipped",
                          "/c.json: server \"c\": \"command\" is not a string; skipped",
                          "/c.json: server \"d\": \"args\" is not an array; ignored",
                          "/c.json: server \"d\": \"env\" is not an object; ignored",
                          "/c.json: server \"e\": an element of \"args\" is not a string; left out",
                      }));
}

TEST(DetectTest, Redact) {
  EXPECT_EQ(redact("ghp_secret"), "***");
  EXPECT_EQ(redact("${input:token}"), "${input:token}");
  EXPECT_EQ(redact("${env:BRAVE_API_KEY}"), "${env:BRAVE_API_KEY}");
  EXPECT_EQ(redact("Bearer ${input:token}"), "***");
  EXPECT_EQ(redact("${A}${B}"), "***");
  EXPECT_EQ(redact(""), "");
}

TEST(DetectTest, ShellQuote) {
  EXPECT_EQ(shellQuote("@modelcontextprotocol/server-filesystem"),
            "@modelcontextprotocol/server-filesystem");
  EXPECT_EQ(shellQuote("--local-timezone=Europe/Paris"), "--local-timezone=Europe/Paris");
  EXPECT_EQ(shellQuote("/My Documents"), "'/My Documents'");
  EXPECT_EQ(shellQuote("it's"), "'it'\\''s'");
  EXPECT_EQ(shellQuote(""), "''");
}

DetectResult twoFiles() {
  DetectResult r;
  std::vector<std::string> warnings;
  r.servers = serverEntries(
      parsed(sourceOf(Client::ClaudeDesktop, Layout::McpServers, "/h/claude_desktop_config.json"),
             fixture("claude_desktop_config.json")),
      warnings);
  std::vector<ServerEntry> code =
      serverEntries(parsed(sourceOf(Client::ClaudeCode, Layout::ClaudeCodeState, "/h/.claude.json"),
                           fixture("claude.json")),
                    warnings);
  r.servers.insert(r.servers.end(), code.begin(), code.end());
  r.filesRead = {"/h/claude_desktop_config.json", "/h/.claude.json"};
  return r;
}

TEST(DetectTest, TextAsTheGuidePrintsIt) {
  std::string text = renderText(twoFiles(), RenderOptions{});
  EXPECT_EQ(text,
            "Found 8 MCP servers (6 stdio, 2 remote) in 2 files:\n"
            "\n"
            "Claude Desktop: /h/claude_desktop_config.json\n"
            "  - filesystem: npx -y @modelcontextprotocol/server-filesystem /Users/me/Documents "
            "/Users/me/Desktop\n"
            "  - weather: python /path/to/my_mcp_server.py\n"
            "      env: AIM_PRIVATE_KEY=*** OPENWEATHER_API_KEY=*** AIM_URL=***\n"
            "  - github: npx -y @modelcontextprotocol/server-github\n"
            "      env: GITHUB_TOKEN=***\n"
            "  - sqlite: uvx mcp-server-sqlite --db-path /Users/me/test.db\n"
            "\n"
            "Claude Code (user scope): /h/.claude.json\n"
            "  - memory: npx -y @modelcontextprotocol/server-memory\n"
            "  - sentry: https://mcp.sentry.dev/mcp (http)\n"
            "      headers: Authorization=***\n"
            "\n"
            "Claude Code (local scope, project /home/me/src/shop): /h/.claude.json\n"
            "  - postgres: npx -y @modelcontextprotocol/server-postgres "
            "postgresql://localhost/shop\n"
            "      env: PGPASSWORD=***\n"
            "  - linear: https://mcp.linear.app/sse (sse)\n");
  std::string shown = renderText(twoFiles(), RenderOptions{true});
  EXPECT_NE(shown.find("env: GITHUB_TOKEN=ghp_exampleexampleexample\n"), std::string::npos);
  EXPECT_NE(shown.find("headers: Authorization='Bearer sntrys_example'\n"), std::string::npos);
  EXPECT_EQ(shown.find("***"), std::string::npos);
}

TEST(DetectTest, TextMarksDisabledWrappedAndPlaceholders) {
  DetectResult r;
  std::vector<std::string> warnings;
  r.servers = serverEntries(parsed(sourceOf(Client::Windsurf, Layout::McpServers, "/w.json"),
                                   fixture("windsurf_mcp_config.json")),
                            warnings);
  ServerEntry wrapped = r.servers[0];
  wrapped.name = "wrapped";
  wrapped.command = "/usr/bin/mcp-sidecar";
  wrapped.args = {"stdio", "--", "npx", "x"};
  wrapped.wrapped = true;
  wrapped.env.clear();
  r.servers.push_back(wrapped);
  std::string text = renderText(r, RenderOptions{});
  EXPECT_NE(text.find("Windsurf: /w.json\n"), std::string::npos) << text;
  EXPECT_NE(text.find("      env: BRAVE_API_KEY='${env:BRAVE_API_KEY}'\n"), std::string::npos);
  EXPECT_NE(text.find("  - puppeteer: npx -y @modelcontextprotocol/server-puppeteer  "
                      "[disabled]\n"),
            std::string::npos);
  EXPECT_NE(text.find("  - figma: https://mcp.figma.com/mcp (remote)\n"), std::string::npos);
  EXPECT_NE(text.find("  - wrapped: /usr/bin/mcp-sidecar stdio -- npx x  [wrapped]\n"),
            std::string::npos);
}

TEST(DetectTest, JsonList) {
  std::string json = renderJson(twoFiles(), RenderOptions{});
  rapidjson::Document d;
  d.Parse(json.c_str());
  ASSERT_FALSE(d.HasParseError()) << json;
  ASSERT_TRUE(d.IsArray());
  ASSERT_EQ(d.Size(), 8u);
  const rapidjson::Value& weather = d[1];
  EXPECT_STREQ(weather["name"].GetString(), "weather");
  EXPECT_STREQ(weather["client"].GetString(), "claude-desktop");
  EXPECT_STREQ(weather["source"].GetString(), "/h/claude_desktop_config.json");
  EXPECT_STREQ(weather["command"].GetString(), "python");
  EXPECT_EQ(weather["args"].Size(), 1u);
  EXPECT_STREQ(weather["env"]["AIM_PRIVATE_KEY"].GetString(), "***");
  EXPECT_TRUE(weather["url"].IsNull());
  EXPECT_TRUE(weather["project"].IsNull());
  EXPECT_FALSE(weather["wrapped"].GetBool());
  // Member order is fixed.
  const char* keys[] = {"name", "client", "source", "scope",   "project", "transport", "command",
                        "args", "env",    "url",    "headers", "cwd",     "disabled",  "wrapped"};
  size_t i = 0;
  for (auto it = weather.MemberBegin(); it != weather.MemberEnd(); ++it, ++i)
    EXPECT_STREQ(it->name.GetString(), keys[i]);
  EXPECT_EQ(i, 14u);
  const rapidjson::Value& sentry = d[5];
  EXPECT_STREQ(sentry["name"].GetString(), "sentry");
  EXPECT_TRUE(sentry["command"].IsNull());
  EXPECT_STREQ(sentry["url"].GetString(), "https://mcp.sentry.dev/mcp");
  EXPECT_STREQ(sentry["headers"]["Authorization"].GetString(), "***");
  EXPECT_STREQ(d[6]["project"].GetString(), "/home/me/src/shop");
  EXPECT_STREQ(d[6]["scope"].GetString(), "local");

  rapidjson::Document shown;
  shown.Parse(renderJson(twoFiles(), RenderOptions{true}).c_str());
  EXPECT_STREQ(shown[1]["env"]["AIM_PRIVATE_KEY"].GetString(), "your-aim-private-key");
  EXPECT_EQ(renderJson(DetectResult{}, RenderOptions{}), "[]\n");
}

TEST(DetectTest, AHomeWithOneInvalidFile) {
  TempDir home;
  namespace fs = std::filesystem;
  fs::create_directories(home.file(".cursor"));
  fs::create_directories(home.file(".codeium/windsurf"));
  fs::create_directories(home.file("proj/.vscode"));
  writeFile(home.file(".cursor/mcp.json"), fixture("invalid.json"));
  writeFile(home.file(".codeium/windsurf/mcp_config.json"), fixture("windsurf_mcp_config.json"));
  writeFile(home.file("proj/.vscode/mcp.json"), fixture("vscode_mcp.json"));
  Environment env;
  env.home = home.path();
  env.projectDir = home.file("proj");
  DetectResult r = detect(knownSources(Platform::Linux, env), false);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0], home.file(".cursor/mcp.json") +
                             ":7:5: invalid JSON: Missing a comma or '}' after an object member "
                             "(fix the file: Cursor cannot read it either)");
  EXPECT_EQ(r.filesRead.size(), 2u);
  EXPECT_EQ(r.servers.size(), 6u);
  EXPECT_EQ(r.missing.size(), 8u); // silently skipped
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_EQ(renderText(r, RenderOptions{})
                .rfind("Found 6 MCP servers (4 stdio, 2 remote) in 2 "
                       "files:\n",
                       0),
            0u);

  // The same file twice (the home directory as the project directory) is read once.
  env.projectDir = home.path();
  EXPECT_EQ(detect(knownSources(Platform::Linux, env), false).filesRead.size(), 1u);
  // A link to a file already read, too.
  fs::create_symlink(home.file(".codeium/windsurf/mcp_config.json"), home.file(".mcp.json"));
  DetectResult linked = detect(knownSources(Platform::Linux, env), false);
  EXPECT_EQ(linked.filesRead.size(), 1u);
}

TEST(DetectTest, RequiredFileMissingIsAnError) {
  DetectResult r = detect({sourceOf(Client::Other, Layout::Auto, "/nonexistent/x.json")}, true);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0],
            "cannot read /nonexistent/x.json: no such file (check the path given to --config)");
  EXPECT_EQ(renderText(r, RenderOptions{}),
            "No MCP servers found in the files that could be read.\n");
}

TEST(DetectTest, NothingFoundListsWhereItLooked) {
  DetectResult r;
  r.missing = {"/h/.cursor/mcp.json"};
  r.filesRead = {"/h/.claude.json"};
  EXPECT_EQ(renderText(r, RenderOptions{}), "No MCP servers found.\n"
                                            "Read, without servers in them:\n"
                                            "  /h/.claude.json\n"
                                            "Not there:\n"
                                            "  /h/.cursor/mcp.json\n");
}

} // namespace
} // namespace sidecar::clients
