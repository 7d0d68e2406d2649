// `wrap` and `wrap --undo` on real files in a scratch directory: the backup (made once, never
// overwritten), the mode, links, byte-for-byte undo, undo after the client changed the file, dry
// runs, and files that cannot be handled.

#include "clients/rewrite.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "tests/unit/clients/clients_test_util.h"

namespace sidecar::clients {
namespace {

using namespace test;
namespace fs = std::filesystem;

constexpr const char* kSidecar = "/usr/local/bin/mcp-sidecar";

class RewriteTest : public ::testing::Test {
protected:
  RewriteTest() : file_(dir_.file("claude_desktop_config.json")) {
    writeFile(file_, fixture("claude_desktop_config.json"));
    options_.wrap.sidecarPath = kSidecar;
  }

  Source source() const { return sourceOf(Client::ClaudeDesktop, Layout::McpServers, file_); }

  bool wrap(bool required = true) {
    out_.str("");
    err_.str("");
    return wrapSource(source(), options_, required, "wrap", out_, err_, tally_);
  }

  bool undo(bool required = true) {
    out_.str("");
    err_.str("");
    return undoSource(source(), options_, required, "undo", out_, err_, tally_);
  }

  static mode_t modeOf(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  }

  TempDir dir_;
  std::string file_;
  RewriteOptions options_;
  RewriteTally tally_;
  std::ostringstream out_, err_;
};

TEST_F(RewriteTest, WrapTwiceThenUndoRestoresByteForByte) {
  const std::string original = readFile(file_);
  ASSERT_EQ(::chmod(file_.c_str(), 0640), 0);

  ASSERT_TRUE(wrap()) << err_.str();
  const std::string wrapped = readFile(file_);
  EXPECT_NE(wrapped, original);
  EXPECT_NE(wrapped.find("\"command\": \"/usr/local/bin/mcp-sidecar\""), std::string::npos);
  EXPECT_EQ(readFile(backupPath(file_)), original);
  EXPECT_EQ(modeOf(file_), 0640u);
  EXPECT_EQ(modeOf(backupPath(file_)), 0640u);
  // The diff: a unified diff of the file, on stdout.
  EXPECT_EQ(out_.str().rfind("--- " + file_ + "\n+++ " + file_ + "\n@@ ", 0), 0u) << out_.str();
  EXPECT_NE(out_.str().find("\n-      \"command\": \"npx\",\n"), std::string::npos);
  EXPECT_NE(out_.str().find("\n+      \"args\": [\"stdio\", \"--\", \"python\", "
                            "\"/path/to/my_mcp_server.py\"],\n"),
            std::string::npos);
  EXPECT_EQ(err_.str(), "wrap: " + file_ +
                            ": wrapped 4 servers (filesystem, weather, github, sqlite); original "
                            "saved as " +
                            backupPath(file_) + "; restart Claude Desktop to apply it\n");
  // Nothing else left in the directory (no temporary files).
  EXPECT_EQ(dir_.entries(),
            (std::vector<std::string>{"claude_desktop_config.json",
                                      "claude_desktop_config.json.mcp-sidecar.bak"}));

  ASSERT_TRUE(wrap());
  EXPECT_EQ(readFile(file_), wrapped);
  EXPECT_EQ(out_.str(), "");
  EXPECT_EQ(err_.str(), "wrap: " + file_ + ": nothing to change (4 servers already wrapped)\n");

  ASSERT_TRUE(undo()) << err_.str();
  EXPECT_EQ(readFile(file_), original);
  EXPECT_EQ(modeOf(file_), 0640u);
  EXPECT_FALSE(pathExists(backupPath(file_)));
  EXPECT_EQ(err_.str(), "undo: " + file_ + ": restored byte for byte from " + backupPath(file_) +
                            " (removed); restart Claude Desktop to apply it\n");
  EXPECT_EQ(dir_.entries(), (std::vector<std::string>{"claude_desktop_config.json"}));

  // Nothing left to undo.
  ASSERT_TRUE(undo());
  EXPECT_EQ(err_.str(), "undo: " + file_ + ": nothing to undo (no wrapped servers, no backup)\n");
}

TEST_F(RewriteTest, BackupFromTheFirstWrapIsNeverOverwritten) {
  const std::string original = readFile(file_);
  options_.wrap.servers = {"weather"};
  ASSERT_TRUE(wrap());
  options_.wrap.servers.clear();
  ASSERT_TRUE(wrap()); // wraps the other three, keeps the first backup
  EXPECT_EQ(readFile(backupPath(file_)), original);
  EXPECT_NE(
      err_.str().find("the original from before the first wrap stays in " + backupPath(file_)),
      std::string::npos)
      << err_.str();
  ASSERT_TRUE(undo());
  EXPECT_EQ(readFile(file_), original);
}

TEST_F(RewriteTest, UndoAfterTheClientChangedTheFileUnwrapsInPlace) {
  const std::string original = readFile(file_);
  ASSERT_TRUE(wrap());
  // The client adds a setting after the wrap.
  std::string changed = readFile(file_);
  changed.replace(changed.find("\"Ctrl+Space\""), 12, "\"Alt+Space\"");
  writeFile(file_, changed);

  ASSERT_TRUE(undo()) << err_.str();
  std::string expected = original;
  expected.replace(expected.find("\"Ctrl+Space\""), 12, "\"Alt+Space\"");
  EXPECT_EQ(readFile(file_), expected); // the client's change kept, the servers unwrapped
  EXPECT_EQ(readFile(backupPath(file_)), original); // kept
  EXPECT_NE(err_.str().find("unwrapped 4 servers (filesystem, weather, github, sqlite) in place "
                            "instead of restoring"),
            std::string::npos)
      << err_.str();

  // Again: nothing wrapped; the backup is pointed at.
  ASSERT_TRUE(undo());
  EXPECT_NE(err_.str().find("no wrapped servers; " + backupPath(file_)), std::string::npos);
  // --force puts the backup back anyway.
  options_.force = true;
  ASSERT_TRUE(undo());
  EXPECT_EQ(readFile(file_), original);
  EXPECT_FALSE(pathExists(backupPath(file_)));
}

TEST_F(RewriteTest, UndoOfSomeServersKeepsTheBackup) {
  ASSERT_TRUE(wrap());
  options_.wrap.servers = {"github"};
  ASSERT_TRUE(undo()) << err_.str();
  EXPECT_TRUE(pathExists(backupPath(file_)));
  std::string now = readFile(file_);
  EXPECT_NE(now.find("\"args\": [\"-y\", \"@modelcontextprotocol/server-github\"]"),
            std::string::npos);
  EXPECT_NE(now.find("\"stdio\", \"--\", \"python\""), std::string::npos);
  EXPECT_NE(err_.str().find("unwrapped 1 server (github) in place; the backup"), std::string::npos)
      << err_.str();
}

TEST_F(RewriteTest, UndoWithoutABackupUnwrapsInPlace) {
  const std::string original = readFile(file_);
  ASSERT_TRUE(wrap());
  ASSERT_TRUE(removeFile(backupPath(file_)).ok());
  ASSERT_TRUE(undo());
  EXPECT_EQ(readFile(file_), original); // every server had args: the same bytes
  EXPECT_NE(err_.str().find("(no backup at " + backupPath(file_) + ")"), std::string::npos);
}

TEST_F(RewriteTest, UndoRestoresADeletedFile) {
  const std::string original = readFile(file_);
  ASSERT_TRUE(wrap());
  ASSERT_TRUE(removeFile(file_).ok());
  ASSERT_TRUE(undo());
  EXPECT_EQ(readFile(file_), original);
}

TEST_F(RewriteTest, UndoOfSomeServersOfADeletedFile) {
  ASSERT_TRUE(wrap());
  ASSERT_TRUE(removeFile(file_).ok());
  options_.wrap.servers = {"github"};
  EXPECT_FALSE(undo());
  EXPECT_EQ(err_.str(), "undo: " + file_ +
                            " is gone: nothing to unwrap; `mcp-sidecar wrap --undo` without "
                            "--server puts back " +
                            backupPath(file_) + "\n");
  EXPECT_TRUE(pathExists(backupPath(file_)));
}

TEST_F(RewriteTest, DryRunWritesNothing) {
  const std::string original = readFile(file_);
  options_.dryRun = true;
  ASSERT_TRUE(wrap());
  EXPECT_EQ(readFile(file_), original);
  EXPECT_FALSE(pathExists(backupPath(file_)));
  EXPECT_NE(out_.str().find("+++ "), std::string::npos);
  EXPECT_NE(err_.str().find("would wrap 4 servers"), std::string::npos);

  options_.dryRun = false;
  ASSERT_TRUE(wrap());
  const std::string wrapped = readFile(file_);
  options_.dryRun = true;
  ASSERT_TRUE(undo());
  EXPECT_EQ(readFile(file_), wrapped);
  EXPECT_TRUE(pathExists(backupPath(file_)));
  EXPECT_NE(err_.str().find("would restore"), std::string::npos);
}

TEST_F(RewriteTest, ALinkedFileIsRewrittenBehindTheLink) {
  // Dotfiles managers keep the real file elsewhere and link it into place.
  fs::create_directories(dir_.file("dotfiles"));
  fs::rename(file_, dir_.file("dotfiles/claude.json"));
  fs::create_symlink(dir_.file("dotfiles/claude.json"), file_);
  const std::string original = readFile(file_);
  ASSERT_TRUE(wrap()) << err_.str();
  EXPECT_TRUE(fs::is_symlink(file_));
  EXPECT_NE(readFile(dir_.file("dotfiles/claude.json")), original);
  EXPECT_EQ(readFile(dir_.file("dotfiles/claude.json.mcp-sidecar.bak")), original);
  ASSERT_TRUE(undo()) << err_.str();
  EXPECT_TRUE(fs::is_symlink(file_));
  EXPECT_EQ(readFile(dir_.file("dotfiles/claude.json")), original);
}

TEST_F(RewriteTest, InvalidFileIsNotTouched) {
  writeFile(file_, fixture("invalid.json"));
  EXPECT_FALSE(wrap());
  EXPECT_EQ(readFile(file_), fixture("invalid.json"));
  EXPECT_FALSE(pathExists(backupPath(file_)));
  EXPECT_EQ(err_.str(), "wrap: " + file_ +
                            ":7:5: invalid JSON: Missing a comma or '}' after an object member "
                            "(fix the file: Claude Desktop cannot read it either); the file was "
                            "not changed\n");
  EXPECT_EQ(tally_.filesFailed, 1u);
}

TEST_F(RewriteTest, MissingFiles) {
  ASSERT_TRUE(removeFile(file_).ok());
  EXPECT_TRUE(wrap(false)); // autodetected: skipped silently
  EXPECT_EQ(err_.str(), "");
  EXPECT_TRUE(undo(false));
  EXPECT_EQ(err_.str(), "");
  EXPECT_FALSE(wrap(true)); // named with --config
  EXPECT_EQ(err_.str(),
            "wrap: cannot read " + file_ + ": no such file (check the path given to --config)\n");
  EXPECT_FALSE(undo(true));
}

TEST_F(RewriteTest, UnwritableDirectoryIsReported) {
  // As another user: the file and its directory are readable, not writable.
  ASSERT_EQ(::chmod(dir_.path().c_str(), 0755), 0);
  ASSERT_EQ(::chmod(file_.c_str(), 0644), 0);
  std::string result = asAnotherUser([&] {
    std::ostringstream out, err;
    RewriteTally tally;
    bool ok = wrapSource(source(), options_, true, "wrap", out, err, tally);
    return (ok ? "ok: " : "failed: ") + err.str();
  });
  EXPECT_EQ(result, "failed: wrap: cannot back up " + file_ +
                        ": cannot create a temporary file in " + dir_.path() +
                        ": Permission denied (run as the user whose client configuration it is, or "
                        "fix its permissions); the file was not changed\n");
  EXPECT_EQ(readFile(file_), fixture("claude_desktop_config.json"));
  EXPECT_EQ(dir_.entries(), (std::vector<std::string>{"claude_desktop_config.json"}));
}

TEST_F(RewriteTest, SkippedEntriesAreNamed) {
  writeFile(file_, R"({"mcpServers": {"bad": {"command": ["x"]}, "ok": {"command": "y"}}})");
  ASSERT_TRUE(wrap());
  EXPECT_NE(err_.str().find("wrap: " + file_ +
                            ": server \"bad\" left as is: its \"command\" is not a non-empty "
                            "string\n"),
            std::string::npos)
      << err_.str();
  EXPECT_NE(err_.str().find("wrapped 1 server (ok)"), std::string::npos);
}

} // namespace
} // namespace sidecar::clients
