#include "connect/known_servers.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <sstream>

#include "tests/support/temp_dir.h"

namespace sidecar::connect {
namespace {

using Env = std::map<std::string, std::string>;

Result<std::string> pathWith(const Env& env) {
  return knownServersPath([&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

std::string readAll(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

TEST(KnownServersPath, XdgConfigHomeWins) {
  auto p = pathWith({{"XDG_CONFIG_HOME", "/x/cfg"}, {"HOME", "/home/u"}});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, "/x/cfg/mcp-sidecar/known_servers");
}

TEST(KnownServersPath, HomeWhenXdgIsUnsetEmptyOrRelative) {
  for (const Env& env :
       {Env{{"HOME", "/home/u"}}, Env{{"HOME", "/home/u"}, {"XDG_CONFIG_HOME", ""}},
        Env{{"HOME", "/home/u"}, {"XDG_CONFIG_HOME", "rel/cfg"}}}) {
    auto p = pathWith(env);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(*p, "/home/u/.config/mcp-sidecar/known_servers");
  }
}

TEST(KnownServersPath, NeitherIsAnError) {
  auto p = pathWith({});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().find("--server-key"), std::string::npos);
}

class KnownServersFile : public ::testing::Test {
protected:
  test::TempDir dir{"connect-known"};
  std::string path = dir.file("cfg/mcp-sidecar/known_servers");
  verifier::PublicKey a = verifier::generatePrivateKey().pub;
  verifier::PublicKey b = verifier::generatePrivateKey().pub;
};

TEST_F(KnownServersFile, MissingFileIsEmpty) {
  auto ks = KnownServers::load(path);
  ASSERT_TRUE(ks.ok()) << ks.error();
  EXPECT_TRUE(ks->find("http://127.0.0.1:8787").empty());
}

TEST_F(KnownServersFile, AppendCreatesPrivateFileAndReadsBack) {
  ASSERT_TRUE(KnownServers::append(path, "http://127.0.0.1:8787", a).ok());
  ASSERT_TRUE(KnownServers::append(path, "https://mcp.example.com", b).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(dir.file("cfg/mcp-sidecar").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  std::string text = readAll(path);
  EXPECT_EQ(text.rfind("http://127.0.0.1:8787 " + verifier::base64(a.bytes) + " # " +
                           verifier::fingerprint(a) + ", learned ",
                       0),
            0u)
      << text;

  auto ks = KnownServers::load(path);
  ASSERT_TRUE(ks.ok()) << ks.error();
  auto found = ks->find("https://mcp.example.com");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].key, b);
  EXPECT_EQ(found[0].line, 2u);
  EXPECT_TRUE(ks->warnings().empty());
}

TEST_F(KnownServersFile, CommentsBlankLinesAndOtherKeyFormsAreRead) {
  std::filesystem::create_directories(dir.file("cfg/mcp-sidecar"));
  // The hex of the DER SPKI, one of the forms of contract §1.
  std::string spki = "302a300506032b6570032100";
  static const char* kDigits = "0123456789abcdef";
  for (uint8_t c : a.bytes) {
    spki += kDigits[c >> 4];
    spki += kDigits[c & 15];
  }
  std::ofstream(path) << "# my servers\n\n  http://h:1   " << spki << "   # pinned by hand\r\n";
  auto ks = KnownServers::load(path);
  ASSERT_TRUE(ks.ok()) << ks.error();
  auto found = ks->find("http://h:1");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].key, a);
  EXPECT_EQ(found[0].line, 3u);
}

TEST_F(KnownServersFile, UnreadableLinesAreWarnedAndRemembered) {
  std::filesystem::create_directories(dir.file("cfg/mcp-sidecar"));
  std::ofstream(path) << "http://h:1 not-a-key\n"
                      << "http://h:2\n"
                      << "http://h:3 " << verifier::base64(a.bytes) << " extra\n";
  auto ks = KnownServers::load(path);
  ASSERT_TRUE(ks.ok()) << ks.error();
  ASSERT_EQ(ks->warnings().size(), 3u);
  EXPECT_NE(ks->warnings()[0].find(path + ":1"), std::string::npos) << ks->warnings()[0];
  EXPECT_EQ(ks->unreadable("http://h:1"), std::vector<size_t>{1});
  EXPECT_EQ(ks->unreadable("http://h:3"), std::vector<size_t>{3});
  EXPECT_TRUE(ks->find("http://h:3").empty());
}

TEST_F(KnownServersFile, AppendAfterAFileWithoutFinalNewline) {
  std::filesystem::create_directories(dir.file("cfg/mcp-sidecar"));
  std::ofstream(path) << "http://h:1 " << verifier::base64(a.bytes);
  ASSERT_TRUE(KnownServers::append(path, "http://h:2", b).ok());
  auto ks = KnownServers::load(path);
  ASSERT_TRUE(ks.ok());
  EXPECT_EQ(ks->find("http://h:1").size(), 1u);
  EXPECT_EQ(ks->find("http://h:2").size(), 1u);
}

TEST_F(KnownServersFile, SeveralKeysForOneOrigin) {
  ASSERT_TRUE(KnownServers::append(path, "http://h:1", a).ok());
  ASSERT_TRUE(KnownServers::append(path, "http://h:1", b).ok());
  auto ks = KnownServers::load(path);
  ASSERT_TRUE(ks.ok());
  auto found = ks->find("http://h:1");
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].line, 1u);
  EXPECT_EQ(found[1].line, 2u);
}

TEST(ChangedKeyMessage, NamesFileLineAndBothKeys) {
  verifier::PublicKey old = verifier::generatePrivateKey().pub;
  verifier::PublicKey now = verifier::generatePrivateKey().pub;
  std::string m =
      changedKeyMessage("http://h:1", now, {{"http://h:1", old, 7}}, "/p/known_servers");
  EXPECT_NE(m.find("CHANGED"), std::string::npos);
  EXPECT_NE(m.find("/p/known_servers:7"), std::string::npos) << m;
  EXPECT_NE(m.find("remove line 7 of /p/known_servers"), std::string::npos) << m;
  EXPECT_NE(m.find(verifier::fingerprint(old)), std::string::npos);
  EXPECT_NE(m.find(verifier::fingerprint(now)), std::string::npos);

  std::string two = changedKeyMessage("http://h:1", now,
                                      {{"http://h:1", old, 2}, {"http://h:1", old, 5}}, "/p/ks");
  EXPECT_NE(two.find("remove lines 2, 5 of /p/ks"), std::string::npos) << two;
}

} // namespace
} // namespace sidecar::connect
