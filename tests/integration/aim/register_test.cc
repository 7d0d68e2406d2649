// `mcp-sidecar register` against the fake AIM (tests/support/fake_aim/fake_aim.mjs), which checks
// every signature: the servers of a Claude Desktop configuration registered, each with its own
// key (0600, kept and reused), and a second run that registers nothing new.

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sys/stat.h>

#include <filesystem>
#include <set>
#include <string>

#include "tests/support/fake_aim/fake_aim_process.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/sidecar.h"
#include "tests/support/temp_dir.h"

namespace sidecar::test {
namespace {

using std::chrono::seconds;

constexpr const char* kApiKey = "aim_live_c2lkZWNhci10ZXN0LWtleS0wMDAwMDAwMDAwMDAwMDA";

struct CommandRun {
  int status = -1;
  std::string out, err;
};

CommandRun registerWith(const std::vector<std::string>& extra) {
  std::vector<std::string> argv{SidecarProcess::binaryPath(), "register"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto p = Process::spawn(argv);
  CommandRun r;
  if (!p)
    return r;
  auto st = p->waitExit(scaled(seconds(30)));
  if (st && WIFEXITED(*st))
    r.status = WEXITSTATUS(*st);
  r.out = p->stdoutText();
  r.err = p->stderrText();
  return r;
}

size_t countOf(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t p = 0; (p = text.find(needle, p)) != std::string::npos; ++p)
    ++n;
  return n;
}

TEST(RegisterTest, RegistersEveryDetectedServerOnceWithItsOwnKey) {
  auto fake = FakeAim::start({{kApiKey}, "", "", 0});
  ASSERT_TRUE(fake);
  TempDir tmp("register-it");
  std::string config =
      std::string(SIDECAR_SOURCE_DIR) + "/tests/data/clients/claude_desktop_config.json";
  std::vector<std::string> args{"--config",  config,       "--all",
                                "--aim-url", fake->url(),  "--aim-api-key",
                                kApiKey,     "--keys-dir", tmp.file("keys")};
  CommandRun first = registerWith(args);
  ASSERT_EQ(first.status, 0) << first.out << first.err;
  EXPECT_EQ(countOf(first.out, "Server ID: "), 4u) << first.out;
  EXPECT_EQ(countOf(first.out, "Public Key: "), 4u) << first.out;
  EXPECT_NE(first.out.find("filesystem: registered"), std::string::npos) << first.out;

  rapidjson::Document st = fake->state();
  ASSERT_EQ(st["servers"].Size(), 4u);
  std::set<std::string> names, keys;
  for (const auto& s : st["servers"].GetArray()) {
    names.insert(s["name"].GetString());
    keys.insert(s["publicKey"].GetString());
    EXPECT_EQ(std::string(s["url"].GetString()).rfind("stdio://", 0), 0u) << s["url"].GetString();
  }
  EXPECT_EQ(names, (std::set<std::string>{"filesystem", "weather", "github", "sqlite"}));
  EXPECT_EQ(keys.size(), 4u) << "a key of its own per server";
  for (const char* n : {"filesystem", "weather", "github", "sqlite"}) {
    struct stat sb {};
    std::string key = tmp.file("keys") + "/servers/" + n + ".key";
    ASSERT_EQ(::stat(key.c_str(), &sb), 0) << key;
    EXPECT_EQ(sb.st_mode & 0777, 0600u) << key;
  }

  // Again, without the API key: nothing new at AIM, the same ids printed.
  std::vector<std::string> again(args.begin(), args.end());
  again.erase(again.begin() + 5, again.begin() + 7); // --aim-api-key KEY
  CommandRun second = registerWith(again);
  ASSERT_EQ(second.status, 0) << second.out << second.err;
  EXPECT_EQ(countOf(second.out, "already registered"), 4u) << second.out;
  EXPECT_EQ(fake->state()["servers"].Size(), 4u);
  size_t creations = 0;
  for (const auto& r : fake->requests())
    creations += r.route == "register_mcp_server" || r.route == "register_agent";
  EXPECT_EQ(creations, 5u) << "one agent and four servers, all on the first run";

  // A name that is not there: said, exit 1; nothing registered for it.
  CommandRun missing = registerWith(
      {"--config", config, "nosuch", "--aim-url", fake->url(), "--keys-dir", tmp.file("keys")});
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("no server named 'nosuch'"), std::string::npos) << missing.err;
  fake->expectAllVerdictsOk();
}

} // namespace
} // namespace sidecar::test
