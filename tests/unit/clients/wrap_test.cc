// Planning `wrap`: only "command" and "args" change, in the style of the file; a second wrap
// changes nothing; unwrapping gives the original bytes back; odd entries are left alone.

#include "clients/wrap.h"

#include <gtest/gtest.h>

#include "clients/detect.h"
#include "tests/unit/clients/clients_test_util.h"

namespace sidecar::clients {
namespace {

using namespace test;

constexpr const char* kSidecar = "/opt/mcp sidecar/bin/mcp-sidecar";

WrapOptions opts(std::vector<std::string> servers = {}) {
  WrapOptions o;
  o.sidecarPath = kSidecar;
  o.servers = std::move(servers);
  return o;
}

Plan wrapText(const Source& s, const std::string& text, const WrapOptions& o = opts()) {
  return planWrap(parsed(s, text), o);
}

Source cursor() {
  return sourceOf(Client::Cursor, Layout::McpServers, "/c.json");
}

struct FixtureCase {
  const char* name;
  Client client;
  Layout layout;
  size_t wrapped;
  size_t remote;
};

const FixtureCase kFixtures[] = {
    {"claude_desktop_config.json", Client::ClaudeDesktop, Layout::McpServers, 4, 0},
    {"claude.json", Client::ClaudeCode, Layout::ClaudeCodeState, 2, 2},
    {"mcp.json", Client::ClaudeCode, Layout::McpServers, 2, 1},
    {"cursor_mcp.json", Client::Cursor, Layout::McpServers, 2, 1},
    {"vscode_mcp.json", Client::VsCode, Layout::VsCodeServers, 2, 1},
    {"vscode_settings.json", Client::VsCode, Layout::VsCodeSettings, 1, 0},
    {"windsurf_mcp_config.json", Client::Windsurf, Layout::McpServers, 2, 1},
};

TEST(WrapTest, EveryFixture) {
  for (const FixtureCase& c : kFixtures) {
    SCOPED_TRACE(c.name);
    const Source s = sourceOf(c.client, c.layout);
    const std::string original = fixture(c.name);
    Plan plan = wrapText(s, original);
    EXPECT_TRUE(plan.changed);
    EXPECT_EQ(plan.count(ServerChange::Kind::Wrapped), c.wrapped);
    EXPECT_EQ(plan.count(ServerChange::Kind::Remote), c.remote);
    EXPECT_EQ(plan.count(ServerChange::Kind::Skipped), 0u);

    // What detect sees in the result: every stdio server runs the sidecar with the original
    // command line after "stdio --"; remote servers are as they were.
    std::vector<std::string> warnings;
    std::vector<ServerEntry> before = serverEntries(parsed(s, original), warnings);
    std::vector<ServerEntry> after = serverEntries(parsed(s, plan.text), warnings);
    ASSERT_EQ(before.size(), after.size());
    for (size_t i = 0; i < before.size(); ++i) {
      EXPECT_EQ(after[i].name, before[i].name);
      EXPECT_EQ(after[i].env, before[i].env);
      EXPECT_EQ(after[i].url, before[i].url);
      if (!before[i].command) {
        EXPECT_FALSE(after[i].command);
        continue;
      }
      EXPECT_EQ(after[i].command, kSidecar);
      EXPECT_EQ(after[i].args, wrappedArgs(*before[i].command, before[i].args));
      EXPECT_TRUE(after[i].wrapped);
    }

    // A second wrap changes nothing.
    Plan again = wrapText(s, plan.text);
    EXPECT_FALSE(again.changed);
    EXPECT_EQ(again.text, plan.text);
    EXPECT_EQ(again.count(ServerChange::Kind::AlreadyWrapped), c.wrapped);

    // Unwrapping gives the original bytes back (every server here had "args"; mcp.json's
    // local-tool has none, so it gets an empty one).
    Plan back = planUnwrap(parsed(s, plan.text), opts());
    EXPECT_EQ(back.count(ServerChange::Kind::Unwrapped), c.wrapped);
    if (std::string(c.name) != "mcp.json") {
      EXPECT_EQ(back.text, original);
    }
  }
}

TEST(WrapTest, OneLineArrays) {
  Plan p = wrapText(cursor(), R"({
  "mcpServers": {
    "fs": {"command": "npx", "args": [ "-y", "pkg" ], "env": {"A": "1"}},
    "tight": {"command":"uvx","args":["a","b"]}
  },
  "other": [1, 2]
})");
  EXPECT_EQ(p.text, R"({
  "mcpServers": {
    "fs": {"command": "/opt/mcp sidecar/bin/mcp-sidecar", "args": [ "stdio", "--", "npx", "-y", "pkg" ], "env": {"A": "1"}},
    "tight": {"command":"/opt/mcp sidecar/bin/mcp-sidecar","args":["stdio","--","uvx","a","b"]}
  },
  "other": [1, 2]
})");
}

TEST(WrapTest, MultiLineArraysKeepTheirIndentation) {
  Plan p = wrapText(cursor(), "{\n\t\"mcpServers\": {\n\t\t\"fs\": {\n\t\t\t\"command\": \"npx\",\n"
                              "\t\t\t\"args\": [\n\t\t\t\t\"-y\"\n\t\t\t]\n\t\t},\n"
                              "\t\t\"odd\": {\"command\": \"x\", \"args\": [\n  \"a\",\n  \"b\"]}\n"
                              "\t}\n}\n");
  EXPECT_EQ(p.text, "{\n\t\"mcpServers\": {\n\t\t\"fs\": {\n"
                    "\t\t\t\"command\": \"/opt/mcp sidecar/bin/mcp-sidecar\",\n"
                    "\t\t\t\"args\": [\n\t\t\t\t\"stdio\",\n\t\t\t\t\"--\",\n\t\t\t\t\"npx\",\n"
                    "\t\t\t\t\"-y\"\n\t\t\t]\n\t\t},\n"
                    "\t\t\"odd\": {\"command\": \"/opt/mcp sidecar/bin/mcp-sidecar\", \"args\": "
                    "[\n  \"stdio\",\n  \"--\",\n  \"x\",\n  \"a\",\n  \"b\"]}\n"
                    "\t}\n}\n");
}

TEST(WrapTest, MissingArgsAreAddedAfterCommand) {
  // A pretty-printed file whose arrays are one element per line (as Claude Code writes them).
  Plan multi = wrapText(cursor(), "{\n  \"mcpServers\": {\n    \"a\": {\n      \"command\": "
                                  "\"tool\",\n      \"env\": {}\n    },\n    \"b\": {\n      "
                                  "\"command\": \"npx\",\n      \"args\": [\n        \"x\"\n    "
                                  "  ]\n    }\n  }\n}");
  EXPECT_EQ(multi.text.substr(0, multi.text.find("\"b\"")),
            "{\n  \"mcpServers\": {\n    \"a\": {\n      \"command\": "
            "\"/opt/mcp sidecar/bin/mcp-sidecar\",\n      \"args\": [\n        \"stdio\",\n"
            "        \"--\",\n        \"tool\"\n      ],\n      \"env\": {}\n    },\n    ");
  // One line per member, arrays on one line.
  Plan single = wrapText(cursor(), "{\"mcpServers\": {\n  \"a\": {\n    \"command\": \"tool\"\n  "
                                   "}\n}}");
  EXPECT_EQ(single.text, "{\"mcpServers\": {\n  \"a\": {\n    \"command\": "
                         "\"/opt/mcp sidecar/bin/mcp-sidecar\",\n    \"args\": [\"stdio\", "
                         "\"--\", \"tool\"]\n  }\n}}");
  // All on one line, compact.
  Plan compact = wrapText(cursor(), R"({"mcpServers":{"a":{"command":"tool","env":{}}}})");
  EXPECT_EQ(compact.text, R"({"mcpServers":{"a":{"command":"/opt/mcp sidecar/bin/mcp-sidecar",)"
                          R"("args":["stdio","--","tool"],"env":{}}}})");
  // Spaced, on one line.
  Plan spaced = wrapText(cursor(), R"({"mcpServers": {"a": {"command": "tool"}}})");
  EXPECT_EQ(spaced.text, R"({"mcpServers": {"a": {"command": "/opt/mcp sidecar/bin/mcp-sidecar", )"
                         R"("args": ["stdio", "--", "tool"]}}})");
  // "args": null is replaced.
  Plan null = wrapText(cursor(), R"({"mcpServers": {"a": {"command": "t", "args": null}}})");
  EXPECT_EQ(null.text, R"({"mcpServers": {"a": {"command": "/opt/mcp sidecar/bin/mcp-sidecar", )"
                       R"("args": ["stdio", "--", "t"]}}})");
}

TEST(WrapTest, WindowsLineEndingsStay) {
  Plan p =
      wrapText(cursor(), "{\r\n  \"mcpServers\": {\r\n    \"a\": {\r\n      \"command\": "
                         "\"tool\"\r\n    },\r\n    \"b\": {\r\n      \"command\": \"x\",\r\n"
                         "      \"args\": [\r\n        \"y\"\r\n      ]\r\n    }\r\n  }\r\n}\r\n");
  EXPECT_EQ(p.text, "{\r\n  \"mcpServers\": {\r\n    \"a\": {\r\n      \"command\": "
                    "\"/opt/mcp sidecar/bin/mcp-sidecar\",\r\n      \"args\": [\r\n        "
                    "\"stdio\",\r\n        \"--\",\r\n        \"tool\"\r\n      ]\r\n    },\r\n"
                    "    \"b\": {\r\n      \"command\": \"/opt/mcp sidecar/bin/mcp-sidecar\",\r\n"
                    "      \"args\": [\r\n        \"stdio\",\r\n        \"--\",\r\n        "
                    "\"x\",\r\n        \"y\"\r\n      ]\r\n    }\r\n  }\r\n}\r\n");
}

TEST(WrapTest, CommentsTrailingCommasAndOrderStay) {
  const Source vs = sourceOf(Client::VsCode, Layout::VsCodeServers);
  const std::string text = "// top\n{\n  \"servers\": {\n    \"s\": {\n      /* why */\n"
                           "      \"args\": [\"x\",], // after\n      \"type\": \"stdio\",\n"
                           "      \"command\": \"uvx\", // the tool\n    },\n  },\n}\n";
  Plan p = wrapText(vs, text);
  EXPECT_EQ(p.text, "// top\n{\n  \"servers\": {\n    \"s\": {\n      /* why */\n"
                    "      \"args\": [\"stdio\", \"--\", \"uvx\", \"x\"], // after\n"
                    "      \"type\": \"stdio\",\n"
                    "      \"command\": \"/opt/mcp sidecar/bin/mcp-sidecar\", // the tool\n"
                    "    },\n  },\n}\n");
}

TEST(WrapTest, EscapesAndUnicodeSurvive) {
  Plan p = wrapText(cursor(), R"({"mcpServers": {"w": {"command": "C:\\Program Files\\node.exe",)"
                              R"( "args": ["caf\u00e9", "a\"b"]}}})");
  EXPECT_EQ(p.text, R"({"mcpServers": {"w": {"command": "/opt/mcp sidecar/bin/mcp-sidecar", )"
                    R"("args": ["stdio", "--", "C:\\Program Files\\node.exe", "café", "a\"b"]}}})");
}

TEST(WrapTest, OddEntriesAreLeftAlone) {
  const std::string text = R"({"mcpServers": {
    "n": 1,
    "none": {"env": {}},
    "cmd": {"command": 3},
    "empty": {"command": ""},
    "args": {"command": "x", "args": "y"},
    "argnum": {"command": "x", "args": ["a", 1]},
    "both": {"command": "x", "url": "https://a"},
    "http": {"type": "http", "url": "https://a"},
    "typed": {"type": "sse", "command": "x"},
    "local": {"type": "local", "command": "x"},
    "win": {"serverUrl": "https://w"}
  }})";
  Plan p = wrapText(cursor(), text);
  EXPECT_FALSE(p.changed);
  std::vector<std::string> notes;
  for (const ServerChange& c : p.servers)
    notes.push_back(c.name + ": " + (c.kind == ServerChange::Kind::Remote ? "remote" : c.note));
  EXPECT_EQ(notes, (std::vector<std::string>{
                       "n: not a JSON object",
                       "none: it has neither \"command\" nor \"url\"",
                       "cmd: its \"command\" is not a non-empty string",
                       "empty: its \"command\" is not a non-empty string",
                       "args: its \"args\" is not an array",
                       "argnum: its \"args\" holds a number",
                       "both: it has both \"command\" and a URL; say which with \"type\"",
                       "http: remote",
                       "typed: remote",
                       "local: its \"type\" is \"local\", which mcp-sidecar does not know",
                       "win: remote",
                   }));
}

TEST(WrapTest, OnlyNamedServers) {
  const std::string text = R"({"mcpServers": {"a": {"command": "x"}, "b": {"command": "y"}}})";
  Plan p = wrapText(cursor(), text, opts({"b"}));
  EXPECT_EQ(p.count(ServerChange::Kind::Wrapped), 1u);
  EXPECT_EQ(p.count(ServerChange::Kind::NotSelected), 1u);
  EXPECT_EQ(p.text, R"({"mcpServers": {"a": {"command": "x"}, "b": {"command": )"
                    R"("/opt/mcp sidecar/bin/mcp-sidecar", "args": ["stdio", "--", "y"]}}})");
  Plan none = wrapText(cursor(), text, opts({"zzz"}));
  EXPECT_FALSE(none.changed);
}

TEST(WrapTest, AnyMcpSidecarCountsAsWrapped) {
  const std::string text = R"({"mcpServers": {
    "other-path": {"command": "/usr/local/bin/mcp-sidecar", "args": ["stdio", "--", "npx", "x"]},
    "connect": {"command": "mcp-sidecar", "args": ["connect", "https://remote/mcp"]}
  }})";
  Plan p = wrapText(cursor(), text);
  EXPECT_FALSE(p.changed);
  ASSERT_EQ(p.servers.size(), 2u);
  EXPECT_EQ(p.servers[0].kind, ServerChange::Kind::AlreadyWrapped);
  EXPECT_EQ(p.servers[0].note, "through /usr/local/bin/mcp-sidecar");
  EXPECT_EQ(p.servers[1].kind, ServerChange::Kind::AlreadyWrapped);
  // Unwrap only undoes what wrap does: `connect` is not a wrapped command.
  Plan u = planUnwrap(parsed(cursor(), text), opts());
  EXPECT_EQ(u.servers[0].kind, ServerChange::Kind::Unwrapped);
  EXPECT_EQ(u.servers[1].kind, ServerChange::Kind::NotWrapped);
  EXPECT_EQ(u.text, R"({"mcpServers": {
    "other-path": {"command": "npx", "args": ["x"]},
    "connect": {"command": "mcp-sidecar", "args": ["connect", "https://remote/mcp"]}
  }})");
}

TEST(WrapTest, ParseWrapped) {
  auto w = parseWrapped("/bin/mcp-sidecar", {"stdio", "--audit", "x", "--", "npx", "-y", "p"});
  ASSERT_TRUE(w);
  EXPECT_EQ(w->sidecar, "/bin/mcp-sidecar");
  EXPECT_EQ(w->options, (std::vector<std::string>{"--audit", "x"}));
  EXPECT_EQ(w->command, "npx");
  EXPECT_EQ(w->args, (std::vector<std::string>{"-y", "p"}));
  EXPECT_TRUE(parseWrapped("C:\\bin\\mcp-sidecar.exe", {"stdio", "--", "node"}));
  EXPECT_FALSE(parseWrapped("/bin/mcp-sidecar", {"stdio", "--"}));
  EXPECT_FALSE(parseWrapped("/bin/mcp-sidecar", {"stdio", "npx"}));
  EXPECT_FALSE(parseWrapped("/bin/mcp-sidecar", {"serve", "--", "npx"}));
  EXPECT_FALSE(parseWrapped("/bin/sidecar", {"stdio", "--", "npx"}));
  EXPECT_TRUE(parseWrapped("/bin/sidecar", {"stdio", "--", "npx"}, "/bin/sidecar"));
  EXPECT_FALSE(parseWrapped("npx", {"stdio", "--", "npx"}));
  EXPECT_EQ(wrappedArgs("npx", {"-y"}), (std::vector<std::string>{"stdio", "--", "npx", "-y"}));
}

TEST(WrapTest, UnwrapKeepsArrayStyle) {
  const std::string text = "{\"mcpServers\": {\"a\": {\"command\": \"/x/mcp-sidecar\", \"args\": "
                           "[\n      \"stdio\",\n      \"--\",\n      \"tool\"\n    ]}}}";
  Plan u = planUnwrap(parsed(cursor(), text), opts());
  EXPECT_EQ(u.text, "{\"mcpServers\": {\"a\": {\"command\": \"tool\", \"args\": []}}}");
}

} // namespace
} // namespace sidecar::clients
