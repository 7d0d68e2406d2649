#include "verifier/trust_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace sidecar::verifier {
namespace {

constexpr const char* kAlice = "sWyr4JkbUZgjzirdTpspF7k6vp605EiAOLPvMcIo9L8=";
constexpr const char* kAliceFingerprint = "ed25519:oGXleqnuDoKdi06_yNPFz3gPZtiu9KVKq0gj5kRx53s";
constexpr const char* kBob = "1nOkQtMsiSifwOfvrDuGDCQek4EMqEy6ahsFRlOrii0=";

Result<std::shared_ptr<const TrustStore>> parse(const std::string& yaml) {
  return TrustStore::parse(yaml, "/etc/keys.yaml");
}

std::string errorOf(const std::string& yaml) {
  auto s = parse(yaml);
  EXPECT_FALSE(s.ok()) << yaml;
  return s.ok() ? std::string() : s.error();
}

std::optional<int64_t> expiresOf(const std::string& value) {
  auto s =
      parse(std::string("keys:\n  - public_key: ") + kAlice + "\n    expires: " + value + "\n");
  if (!s.ok())
    return std::nullopt;
  return (*s)->keys().at(0).expiresUnix;
}

TEST(TrustStore, EveryField) {
  auto s = parse(std::string(R"(
keys:
  - id: alice
    public_key: ")") +
                 kAlice + R"("
    expires: 2027-01-01T00:00:00Z
    revoked: false
    tools: [read_file, list_files]
    aim_agent_id: 7f3c0000-aaaa-bbbb-cccc-000000000001
  - public_key: |
      -----BEGIN PUBLIC KEY-----
      MCowBQYDK2VwAyEA1nOkQtMsiSifwOfvrDuGDCQek4EMqEy6ahsFRlOrii0=
      -----END PUBLIC KEY-----
    revoked: true
    tools: []
)");
  ASSERT_TRUE(s.ok()) << s.error();
  const TrustStore& store = **s;
  ASSERT_EQ(store.keys().size(), 2u);
  EXPECT_EQ(store.single(), nullptr);

  const TrustedKey* alice = store.find("alice");
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ(alice->id, "alice");
  EXPECT_EQ(alice->expiresUnix, 1798761600);
  EXPECT_FALSE(alice->revoked);
  EXPECT_EQ(alice->aimAgentId, "7f3c0000-aaaa-bbbb-cccc-000000000001");
  EXPECT_TRUE(alice->allowsTool("read_file"));
  EXPECT_TRUE(alice->allowsTool("list_files"));
  EXPECT_FALSE(alice->allowsTool("write_file"));
  EXPECT_FALSE(alice->expiredAt(1798761599));
  EXPECT_TRUE(alice->expiredAt(1798761600));

  const TrustedKey& bob = store.keys()[1];
  EXPECT_EQ(bob.id, "ed25519:GQflQ4Gqem1hczaTY6IyKvQHqo9LV-Q_sYo4ms30-18") << "the fingerprint";
  EXPECT_EQ(store.find(bob.id), &bob);
  EXPECT_TRUE(bob.revoked);
  EXPECT_FALSE(bob.expiresUnix);
  EXPECT_FALSE(bob.allowsTool("read_file")) << "[] allows no tool";
  EXPECT_EQ(store.find("carol"), nullptr);
}

TEST(TrustStore, DefaultsWhenOnlyTheKeyIsGiven) {
  auto s = parse(std::string("keys:\n  - public_key: ") + kAlice + "\n");
  ASSERT_TRUE(s.ok()) << s.error();
  const TrustedKey* k = (*s)->single();
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->id, kAliceFingerprint);
  EXPECT_FALSE(k->revoked);
  EXPECT_FALSE(k->expiresUnix);
  EXPECT_FALSE(k->expiredAt(4000000000));
  EXPECT_FALSE(k->tools);
  EXPECT_TRUE(k->allowsTool("anything")) << "no tools field allows every tool";
  EXPECT_EQ(k->aimAgentId, "");
}

TEST(TrustStore, EmptyKeyListIsAllowed) {
  for (const char* yaml : {"keys: []\n", "keys:\n"}) {
    auto s = parse(yaml);
    ASSERT_TRUE(s.ok()) << yaml << ": " << s.error();
    EXPECT_TRUE((*s)->keys().empty());
    EXPECT_EQ((*s)->single(), nullptr);
    EXPECT_EQ((*s)->find("alice"), nullptr);
  }
}

TEST(TrustStore, Rfc3339Expiry) {
  EXPECT_EQ(expiresOf("2027-01-01T00:00:00Z"), 1798761600);
  EXPECT_EQ(expiresOf("2027-01-01T02:00:00+02:00"), 1798761600);
  EXPECT_EQ(expiresOf("2026-12-31T18:30:00-05:30"), 1798761600);
  EXPECT_EQ(expiresOf("2027-01-01T00:00:00.999Z"), 1798761600) << "fractions are dropped";
  EXPECT_EQ(expiresOf("\"2027-01-01t00:00:00z\""), 1798761600);
  EXPECT_EQ(expiresOf("\"2027-01-01 00:00:00Z\""), 1798761600);
  EXPECT_EQ(expiresOf("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(expiresOf("2028-02-29T00:00:00Z"), 1835395200) << "a leap day";
  EXPECT_EQ(expiresOf("2025-01-01T00:00:00Z"), 1735689600);
}

TEST(TrustStore, RefusesWhatIsNotRfc3339) {
  for (const char* bad :
       {"2027-01-01", "2027-01-01T00:00:00", "2027-13-01T00:00:00Z", "2027-02-29T00:00:00Z",
        "2027-01-32T00:00:00Z", "2027-01-01T24:00:00Z", "2027-01-01T00:60:00Z",
        "2027-01-01T00:00:00+2:00", "2027-01-01T00:00:00+02", "2027-01-01T00:00:00.Z",
        "2027-01-01T00:00:00Zjunk", "tomorrow", "1798761600", "[2027]"}) {
    std::string e = errorOf(std::string("keys:\n  - id: alice\n    public_key: ") + kAlice +
                            "\n    expires: " + bad + "\n");
    EXPECT_NE(e.find("trust store /etc/keys.yaml: keys[0] (id alice): expires: "),
              std::string::npos)
        << e;
    EXPECT_NE(e.find("RFC 3339"), std::string::npos) << e;
  }
}

TEST(TrustStore, ErrorsNameSourceEntryIdAndField) {
  std::string e = errorOf(std::string("keys:\n  - id: alice\n    public_key: ") + kAlice +
                          "\n  - id: bob\n    public_key: not-a-key\n");
  EXPECT_EQ(e.rfind("trust store /etc/keys.yaml: keys[1] (id bob): public_key: ", 0), 0u) << e;
  EXPECT_NE(e.find("base64"), std::string::npos) << "says which forms are allowed: " << e;

  e = errorOf(std::string("keys:\n  - public_key: ") + kAlice + "\n    revoked: maybe\n");
  EXPECT_EQ(e, "trust store /etc/keys.yaml: keys[0]: revoked: must be true or false");

  e = errorOf(std::string("keys:\n  - id: alice\n    public_key: ") + kAlice +
              "\n    expire: 2027-01-01T00:00:00Z\n");
  EXPECT_NE(e.find("keys[0] (id alice): expire: unknown field"), std::string::npos) << e;
  EXPECT_NE(e.find("expires"), std::string::npos) << "lists the fields: " << e;

  e = errorOf("keys:\n  - id: alice\n");
  EXPECT_NE(e.find("keys[0] (id alice): public_key: missing"), std::string::npos) << e;

  e = errorOf(std::string("keys:\n  - id: ali ce\n    public_key: ") + kAlice + "\n");
  EXPECT_NE(e.find("keys[0] (id ali ce): id: must be 1 to 128 characters"), std::string::npos) << e;

  e = errorOf(std::string("keys:\n  - id: alice\n    public_key: ") + kAlice +
              "\n    tools: read_file\n");
  EXPECT_NE(e.find("tools: must be a list"), std::string::npos) << e;
  e = errorOf(std::string("keys:\n  - id: alice\n    public_key: ") + kAlice + "\n    tools:\n");
  EXPECT_NE(e.find("[] allows no tool"), std::string::npos) << e;
  e = errorOf(std::string("keys:\n  - id: alice\n    public_key: ") + kAlice +
              "\n    tools: [a, [b]]\n");
  EXPECT_NE(e.find("tools[1]: must be a tool name"), std::string::npos) << e;

  e = errorOf(std::string("keys:\n  - id: alice\n    public_key: ") + kAlice + "\n    id: bob\n");
  EXPECT_NE(e.find("id: given twice"), std::string::npos) << e;
}

TEST(TrustStore, RefusesASmallOrderKey) {
  std::string e = errorOf("keys:\n  - id: zero\n    public_key: " + std::string(64, '0') + "\n");
  EXPECT_NE(e.find("keys[0] (id zero): public_key: "), std::string::npos) << e;
  EXPECT_NE(e.find("small-order"), std::string::npos) << e;
}

TEST(TrustStore, RefusesDuplicateIds) {
  std::string e = errorOf(std::string("keys:\n  - id: alice\n    public_key: ") + kAlice +
                          "\n  - id: alice\n    public_key: " + kBob + "\n");
  EXPECT_NE(e.find("keys[1] (id alice): id: 'alice' is already the id of keys[0]"),
            std::string::npos)
      << e;
  // Two entries without an id for the same key have the same id: the fingerprint.
  e = errorOf(std::string("keys:\n  - public_key: ") + kAlice + "\n  - public_key: " + kAlice +
              "\n");
  EXPECT_NE(e.find(kAliceFingerprint), std::string::npos) << e;
  // The same key under two ids is allowed (e.g. with different tool lists).
  EXPECT_TRUE(parse(std::string("keys:\n  - id: a\n    public_key: ") + kAlice +
                    "\n  - id: b\n    public_key: " + kAlice + "\n")
                  .ok());
}

TEST(TrustStore, RefusesAFileWithoutAKeysList) {
  for (const char* yaml : {"", "# nothing\n", "key:\n  - public_key: x\n", "- a\n- b\n",
                           "keys: alice\n", "keys: {id: alice}\n", "keys:\n  - just-a-string\n"}) {
    std::string e = errorOf(yaml);
    EXPECT_EQ(e.rfind("trust store /etc/keys.yaml: ", 0), 0u) << e;
    EXPECT_NE(e.find("keys"), std::string::npos) << e;
  }
}

TEST(TrustStore, RefusesInvalidYamlWithItsLine) {
  std::string e = errorOf("keys:\n  - id: alice\n    public_key: [unclosed\n");
  EXPECT_EQ(e.rfind("trust store /etc/keys.yaml: not valid YAML at line", 0), 0u) << e;
}

TEST(TrustStore, LoadsAFileAndNamesItInErrors) {
  char path[] = "/tmp/sidecar-trust-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::ofstream(path) << "keys:\n  - id: alice\n    public_key: " << kAlice << "\n";
  auto s = TrustStore::load(path);
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_NE((*s)->find("alice"), nullptr);

  std::ofstream(path) << "keys:\n  - id: alice\n";
  auto bad = TrustStore::load(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().rfind(std::string("trust store ") + path + ": keys[0]", 0), 0u)
      << bad.error();
  unlink(path);

  auto missing = TrustStore::load(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find(path), std::string::npos) << missing.error();
  EXPECT_NE(missing.error().find("No such file"), std::string::npos) << missing.error();
}

} // namespace
} // namespace sidecar::verifier
