#include "verifier/verifier.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sidecar::verifier {
namespace {

constexpr int64_t kNow = 1764000000;

// A request under construction, owning its bytes.
struct Request {
  std::string method = "POST";
  std::string target = "/mcp";
  std::string body = R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})";
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<Header> views;

  Request& set(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  Request& drop(std::string_view name) {
    std::erase_if(headers, [&](const auto& h) { return h.first == name; });
    return *this;
  }
  RequestView view() {
    views.clear();
    for (const auto& [n, v] : headers)
      views.emplace_back(n, v);
    return {method, target, views, body};
  }
};

class VerifierTest : public ::testing::Test {
protected:
  void SetUp() override {
    alice_ = generatePrivateKey();
    bob_ = generatePrivateKey();
    store_ = storeOf("keys:\n  - id: alice\n    public_key: " + base64(alice_.pub.bytes) +
                     "\n  - id: bob\n    public_key: " + base64(bob_.pub.bytes) +
                     "\n    aim_agent_id: agent-bob\n  - id: revoked\n    public_key: " +
                     base64(generatePrivateKey().pub.bytes) +
                     "\n    revoked: true\n  - id: expiring\n    public_key: " +
                     base64(generatePrivateKey().pub.bytes) +
                     "\n    expires: 2025-11-24T16:00:00Z\n"); // = kNow
  }

  static std::shared_ptr<const TrustStore> storeOf(const std::string& yaml) {
    auto s = TrustStore::parse(yaml, "test");
    EXPECT_TRUE(s.ok()) << s.error();
    return s.ok() ? *s : std::make_shared<const TrustStore>();
  }

  // An mcp-sig-v1 request signed by `key`.
  static Request signedRequest(const PrivateKey& key, const std::string& keyId,
                               const std::string& nonce = "N000000000000000000001",
                               int64_t ts = kNow, const std::string& session = "") {
    Request r;
    std::string timestamp = std::to_string(ts);
    Signature sig =
        sign(key, signedMessage(r.method, r.target, timestamp, nonce, keyId, session, r.body));
    r.set("X-MCP-Signature", base64(sig)).set("X-MCP-Timestamp", timestamp);
    if (!nonce.empty())
      r.set("X-MCP-Nonce", nonce);
    if (!keyId.empty())
      r.set("X-MCP-Key-Id", keyId);
    if (!session.empty())
      r.set("Mcp-Session-Id", session);
    r.set("Content-Type", "application/json");
    return r;
  }

  // A seed-profile request: the signature covers the body followed by the timestamp.
  static Request seedRequest(const PrivateKey& key, const std::string& keyId, int64_t ts = kNow) {
    Request r;
    std::string timestamp = std::to_string(ts);
    r.set("X-MCP-Signature", base64(sign(key, r.body + timestamp)))
        .set("X-MCP-Timestamp", timestamp);
    if (!keyId.empty())
      r.set("X-MCP-Key-Id", keyId);
    return r;
  }

  // An aim-agent-request-v1 request.
  static Request aimRequest(const PrivateKey& key, const std::string& agentId, int64_t ts = kNow,
                            std::string body = "{}") {
    Request r;
    r.body = std::move(body);
    std::string timestamp = std::to_string(ts);
    std::string message = r.method + "\n" + r.target + "\n" + timestamp;
    if (!r.body.empty())
      message += "\n" + r.body;
    r.set("X-Agent-ID", agentId)
        .set("X-Timestamp", timestamp)
        .set("X-Signature", base64(sign(key, message)))
        .set("X-Public-Key", base64(key.pub.bytes));
    return r;
  }

  Verdict check(Request& r, const VerifierOptions& o = {}, int64_t now = kNow) {
    return verify(o, *store_, replay_, r.view(), now);
  }

  PrivateKey alice_, bob_;
  std::shared_ptr<const TrustStore> store_;
  ReplayCache replay_{1000};
};

std::string describe(const Verdict& v) {
  return std::string(reasonName(v.reason)) + " / " + profileName(v.profile) + ": " + v.detail;
}

TEST(SignedMessage, TheSection3Example) {
  std::string m =
      signedMessage("POST", "/mcp", "1764000000", "AAAAAAAAAAAAAAAAAAAAAA", "alice", "", "{}");
  EXPECT_EQ(m, "mcp-sig-v1\nPOST\n/mcp\n1764000000\nAAAAAAAAAAAAAAAAAAAAAA\nalice\n\n"
               "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
  EXPECT_EQ(m.size(), 126u);
}

TEST(SignedMessage, EmptyFieldsStayInPlace) {
  EXPECT_EQ(signedMessage("GET", "/mcp?x=1", "1", "", "", "s", ""),
            "mcp-sig-v1\nGET\n/mcp?x=1\n1\n\n\ns\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Names, ReasonsProfilesAndStatuses) {
  const char* reasons[] = {"accepted",          "signature_missing", "header_malformed",
                           "header_duplicated", "timestamp_invalid", "timestamp_skew",
                           "key_unknown",       "key_revoked",       "signature_malformed",
                           "signature_invalid", "replayed",          "replay_cache_full"};
  static_assert(std::size(reasons) == static_cast<size_t>(Reason::kCount));
  for (size_t i = 0; i < std::size(reasons); ++i) {
    Verdict v;
    v.reason = static_cast<Reason>(i);
    EXPECT_STREQ(reasonName(v.reason), reasons[i]);
    EXPECT_EQ(v.httpStatus(), v.reason == Reason::Accepted          ? 200
                              : v.reason == Reason::ReplayCacheFull ? 503
                                                                    : 401)
        << reasons[i];
  }
  EXPECT_STREQ(profileName(Profile::McpSigV1), "mcp-sig-v1");
  EXPECT_STREQ(profileName(Profile::Seed), "seed");
  EXPECT_STREQ(profileName(Profile::AimAgentRequestV1), "aim-agent-request-v1");
}

TEST(KeyId, Syntax) {
  EXPECT_TRUE(isValidKeyId("alice"));
  EXPECT_TRUE(isValidKeyId("ed25519:oGXleqnuDoKdi06_yNPFz3gPZtiu9KVKq0gj5kRx53s"));
  EXPECT_TRUE(isValidKeyId("a.b_c:d@e/f+g=h-i"));
  EXPECT_TRUE(isValidKeyId(std::string(128, 'k')));
  EXPECT_FALSE(isValidKeyId(""));
  EXPECT_FALSE(isValidKeyId(std::string(129, 'k')));
  for (const char* bad : {"ali ce", "alice\n", "al\"ice", "alice,bob", "é"})
    EXPECT_FALSE(isValidKeyId(bad)) << bad;
}

TEST_F(VerifierTest, SignThenVerifyRoundTrips) {
  Request r = signedRequest(alice_, "alice");
  Verdict v = check(r);
  ASSERT_TRUE(v.accepted()) << describe(v);
  EXPECT_EQ(v.httpStatus(), 200);
  EXPECT_EQ(v.profile, Profile::McpSigV1);
  EXPECT_EQ(v.keyId, "alice");
  ASSERT_NE(v.key, nullptr);
  EXPECT_EQ(v.key, store_->find("alice"));
  EXPECT_EQ(replay_.size(), 1u);

  Verdict again = check(r);
  EXPECT_EQ(again.reason, Reason::Replayed) << describe(again);
  EXPECT_NE(again.detail.find("N000000000000000000001"), std::string::npos) << again.detail;
}

TEST_F(VerifierTest, WithASessionAndAbsoluteFormTarget) {
  Request r = signedRequest(alice_, "alice", "N000000000000000000002", kNow, "sess-1");
  r.target = "http://sidecar.example:8787/mcp";
  EXPECT_TRUE(check(r).accepted()) << describe(check(r));

  // The query stays; the authority goes.
  Request q;
  q.target = "/mcp?tenant=a";
  std::string ts = std::to_string(kNow);
  Signature sig = sign(alice_, signedMessage("POST", "/mcp?tenant=a", ts, "N000000000000000000003",
                                             "alice", "", q.body));
  q.set("X-MCP-Signature", base64(sig))
      .set("X-MCP-Timestamp", ts)
      .set("X-MCP-Nonce", "N000000000000000000003")
      .set("X-MCP-Key-Id", "alice");
  q.target = "https://Sidecar.Example/mcp?tenant=a";
  Verdict v = check(q);
  EXPECT_TRUE(v.accepted()) << describe(v);
}

TEST_F(VerifierTest, AnAbsoluteFormTargetWithoutAPathIsSlash) {
  Request r;
  r.target = "/";
  std::string ts = std::to_string(kNow);
  r.set("X-MCP-Signature",
        base64(sign(alice_, signedMessage("POST", "/", ts, "", "alice", "", r.body))))
      .set("X-MCP-Timestamp", ts)
      .set("X-MCP-Key-Id", "alice");
  r.target = "http://sidecar.example:8787";
  Verdict v = check(r);
  EXPECT_TRUE(v.accepted()) << describe(v);
}

TEST_F(VerifierTest, UnsignedRequest) {
  Request r;
  r.set("Content-Type", "application/json");
  Verdict v = check(r);
  EXPECT_EQ(v.reason, Reason::SignatureMissing);
  EXPECT_EQ(v.httpStatus(), 401);
  EXPECT_NE(v.detail.find("not signed"), std::string::npos) << v.detail;
  EXPECT_EQ(replay_.size(), 0u);
}

TEST_F(VerifierTest, DuplicatedSessionHeader) {
  Request r = signedRequest(alice_, "alice", "N000000000000000000004", kNow, "s1");
  r.set("mcp-session-id", "s2");
  Verdict v = check(r);
  EXPECT_EQ(v.reason, Reason::HeaderDuplicated) << describe(v);
  EXPECT_NE(v.detail.find("Mcp-Session-Id"), std::string::npos) << v.detail;
}

TEST_F(VerifierTest, RequireNonce) {
  VerifierOptions o;
  o.requireNonce = true;
  Request without = signedRequest(alice_, "alice", "");
  Verdict v = check(without, o);
  EXPECT_EQ(v.reason, Reason::SignatureMissing) << describe(v);
  EXPECT_NE(v.detail.find("X-MCP-Nonce"), std::string::npos) << v.detail;
  EXPECT_EQ(replay_.size(), 0u);

  Request with = signedRequest(alice_, "alice", "N000000000000000000005");
  EXPECT_TRUE(check(with, o).accepted());

  // Without require_nonce the same request is fine, remembered by its signature.
  Verdict lax = check(without);
  EXPECT_TRUE(lax.accepted()) << describe(lax);
  EXPECT_EQ(check(without).reason, Reason::Replayed);
}

TEST_F(VerifierTest, TimestampWindowEdgesAndDetail) {
  VerifierOptions o;
  o.windowSeconds = 30;
  for (int64_t delta : {-30, 30, 0}) {
    Request r = signedRequest(alice_, "alice", "N0000000000000000000" + std::to_string(delta + 40),
                              kNow + delta);
    EXPECT_TRUE(check(r, o).accepted()) << delta << ": " << describe(check(r, o));
  }
  Request old = signedRequest(alice_, "alice", "N000000000000000000090", kNow - 1000);
  Verdict v = check(old); // the default window, 300 s
  EXPECT_EQ(v.reason, Reason::TimestampSkew);
  EXPECT_EQ(v.detail, "X-MCP-Timestamp 1763999000 is 1000 s behind the sidecar's clock; the "
                      "window is ±300 s — check the caller's clock");
  Request ahead = signedRequest(alice_, "alice", "N000000000000000000091", kNow + 31);
  v = check(ahead, o);
  EXPECT_EQ(v.reason, Reason::TimestampSkew);
  EXPECT_NE(v.detail.find("31 s ahead of"), std::string::npos) << v.detail;
  EXPECT_NE(v.detail.find("±30 s"), std::string::npos) << v.detail;
}

TEST_F(VerifierTest, TimestampSyntax) {
  for (const char* ts : {"", "0123", "+1764000000", "1764000000.5", "1e9", "17640000000000"}) {
    Request r = signedRequest(alice_, "alice");
    r.drop("X-MCP-Timestamp").set("X-MCP-Timestamp", ts);
    EXPECT_EQ(check(r).reason, Reason::TimestampInvalid) << "'" << ts << "'";
  }
  Request zero = signedRequest(alice_, "alice");
  zero.drop("X-MCP-Timestamp").set("X-MCP-Timestamp", "0");
  EXPECT_EQ(check(zero).reason, Reason::TimestampSkew) << "0 is well formed, and long past";
}

TEST_F(VerifierTest, MalformedHeaders) {
  Request emptyKeyId = signedRequest(alice_, "alice");
  emptyKeyId.drop("X-MCP-Key-Id").set("X-MCP-Key-Id", "  ");
  EXPECT_EQ(check(emptyKeyId).reason, Reason::HeaderMalformed);
  Request longNonce = signedRequest(alice_, "alice", std::string(65, 'n'));
  EXPECT_EQ(check(longNonce).reason, Reason::HeaderMalformed);
  Request maxNonce = signedRequest(alice_, "alice", std::string(64, 'n'));
  EXPECT_TRUE(check(maxNonce).accepted());
  Request minNonce = signedRequest(alice_, "alice", std::string(16, 'n'));
  EXPECT_TRUE(check(minNonce).accepted());
}

TEST_F(VerifierTest, KeyStates) {
  Request revoked = signedRequest(alice_, "revoked");
  Verdict v = check(revoked);
  EXPECT_EQ(v.reason, Reason::KeyRevoked) << describe(v);
  EXPECT_EQ(v.keyId, "revoked");
  EXPECT_NE(v.key, nullptr);

  Request expiring = signedRequest(alice_, "expiring");
  EXPECT_EQ(check(expiring, {}, kNow - 1).reason, Reason::SignatureInvalid)
      << "usable (and checked) before its expiry";
  EXPECT_EQ(check(expiring, {}, kNow).reason, Reason::KeyRevoked) << "expired at its expiry";

  Request unknown = signedRequest(alice_, "carol");
  v = check(unknown);
  EXPECT_EQ(v.reason, Reason::KeyUnknown);
  EXPECT_EQ(v.key, nullptr);
  EXPECT_NE(v.detail.find("carol"), std::string::npos);
}

TEST_F(VerifierTest, SingleAndEmptyStores) {
  store_ = storeOf("keys:\n  - public_key: " + base64(alice_.pub.bytes) + "\n");
  Request noId = signedRequest(alice_, "");
  Verdict v = check(noId);
  ASSERT_TRUE(v.accepted()) << describe(v);
  EXPECT_EQ(v.keyId, fingerprint(alice_.pub)) << "resolved to the single key's id";
  Request byFingerprint = signedRequest(alice_, fingerprint(alice_.pub), "N000000000000000000006");
  EXPECT_TRUE(check(byFingerprint).accepted());
  Request otherId = signedRequest(alice_, "alice", "N000000000000000000007");
  EXPECT_EQ(check(otherId).reason, Reason::KeyUnknown);

  store_ = storeOf("keys: []\n");
  for (const char* id : {"", "alice"}) {
    Request r = signedRequest(alice_, id, "N000000000000000000008");
    EXPECT_EQ(check(r).reason, Reason::KeyUnknown) << id;
  }
}

TEST_F(VerifierTest, ReplayCacheFullIs503AndNotAccepted) {
  ReplayCache none(0);
  Request r = signedRequest(alice_, "alice");
  Verdict v = verify({}, *store_, none, r.view(), kNow);
  EXPECT_EQ(v.reason, Reason::ReplayCacheFull) << describe(v);
  EXPECT_EQ(v.httpStatus(), 503);
  EXPECT_FALSE(v.accepted());
}

TEST_F(VerifierTest, ForgeriesAreNotRemembered) {
  Request forged = signedRequest(bob_, "alice", "N000000000000000000009");
  EXPECT_EQ(check(forged).reason, Reason::SignatureInvalid);
  EXPECT_EQ(replay_.size(), 0u);
  Request genuine = signedRequest(alice_, "alice", "N000000000000000000009");
  EXPECT_TRUE(check(genuine).accepted());
}

TEST_F(VerifierTest, SeedProfileAfterMcpSigV1) {
  VerifierOptions o;
  o.seed = true;
  Request seed = seedRequest(alice_, "alice");
  Verdict v = check(seed);
  EXPECT_EQ(v.reason, Reason::SignatureInvalid) << "seed is off by default";

  v = check(seed, o);
  ASSERT_TRUE(v.accepted()) << describe(v);
  EXPECT_EQ(v.profile, Profile::Seed);
  EXPECT_EQ(check(seed, o).reason, Reason::Replayed) << "keyed by signature";

  Request mcp = signedRequest(alice_, "alice");
  v = check(mcp, o);
  ASSERT_TRUE(v.accepted()) << describe(v);
  EXPECT_EQ(v.profile, Profile::McpSigV1);

  // A seed request is not retried as seed when mcp-sig-v1 fails for another reason.
  Request skewed = seedRequest(alice_, "alice", kNow - 301);
  EXPECT_EQ(check(skewed, o).reason, Reason::TimestampSkew);
  Request altered = seedRequest(alice_, "alice", kNow + 1);
  altered.body += " ";
  v = check(altered, o);
  EXPECT_EQ(v.reason, Reason::SignatureInvalid);
  EXPECT_NE(v.detail.find("neither as mcp-sig-v1 nor as seed"), std::string::npos) << v.detail;
}

TEST_F(VerifierTest, SeedProfileAlone) {
  VerifierOptions o;
  o.mcpSigV1 = false;
  o.seed = true;
  Request seed = seedRequest(alice_, "alice");
  Verdict v = check(seed, o);
  ASSERT_TRUE(v.accepted()) << describe(v);
  EXPECT_EQ(v.profile, Profile::Seed);
  Request mcp = signedRequest(alice_, "alice");
  v = check(mcp, o);
  EXPECT_EQ(v.reason, Reason::SignatureInvalid);
  EXPECT_EQ(v.profile, Profile::Seed);
}

TEST_F(VerifierTest, SeedProfileWithRequireNonce) {
  VerifierOptions o;
  o.seed = true;
  o.requireNonce = true;
  Request seed = seedRequest(alice_, "alice");
  Verdict v = check(seed, o);
  ASSERT_TRUE(v.accepted()) << "require_nonce concerns mcp-sig-v1 only: " << describe(v);
  EXPECT_EQ(v.profile, Profile::Seed);
  Request noNonce = signedRequest(alice_, "alice", "");
  v = check(noNonce, o);
  EXPECT_EQ(v.reason, Reason::SignatureMissing) << describe(v);
  EXPECT_NE(v.detail.find("X-MCP-Nonce"), std::string::npos) << v.detail;
}

TEST_F(VerifierTest, NoProfileForTheHeaders) {
  VerifierOptions none;
  none.mcpSigV1 = false;
  none.aimAgentRequestV1 = true;
  Request mcp = signedRequest(alice_, "alice");
  Verdict v = check(mcp, none);
  EXPECT_EQ(v.reason, Reason::SignatureMissing) << describe(v);
  EXPECT_NE(v.detail.find("enabled"), std::string::npos) << v.detail;

  Request aim = aimRequest(bob_, "bob");
  v = check(aim); // aim-agent-request-v1 is off by default
  EXPECT_EQ(v.reason, Reason::SignatureMissing) << describe(v);
  EXPECT_NE(v.detail.find("aim-agent-request-v1"), std::string::npos) << v.detail;
}

TEST_F(VerifierTest, AimAgentRequest) {
  VerifierOptions o;
  o.aimAgentRequestV1 = true;
  Request r = aimRequest(bob_, "bob");
  Verdict v = check(r, o);
  ASSERT_TRUE(v.accepted()) << describe(v);
  EXPECT_EQ(v.profile, Profile::AimAgentRequestV1);
  EXPECT_EQ(v.keyId, "bob");
  EXPECT_EQ(check(r, o).reason, Reason::Replayed);

  // Found through aim_agent_id when no entry has the agent id as its id.
  Request byAgent = aimRequest(bob_, "agent-bob", kNow, "");
  v = check(byAgent, o);
  ASSERT_TRUE(v.accepted()) << describe(v);
  EXPECT_EQ(v.keyId, "bob");

  Request wrongKey = aimRequest(alice_, "bob", kNow + 1);
  EXPECT_EQ(check(wrongKey, o).reason, Reason::KeyUnknown);
  Request unknown = aimRequest(alice_, "agent-x");
  EXPECT_EQ(check(unknown, o).reason, Reason::KeyUnknown);

  Request skewed = aimRequest(bob_, "bob", kNow + 301);
  EXPECT_EQ(check(skewed, o).reason, Reason::TimestampSkew);
  Request noKey = aimRequest(bob_, "bob", kNow + 2);
  noKey.drop("X-Public-Key");
  EXPECT_EQ(check(noKey, o).reason, Reason::SignatureMissing);
  Request badKey = aimRequest(bob_, "bob", kNow + 3);
  badKey.drop("X-Public-Key").set("X-Public-Key", "abc");
  EXPECT_EQ(check(badKey, o).reason, Reason::HeaderMalformed);
  Request twice = aimRequest(bob_, "bob", kNow + 4);
  twice.set("x-agent-id", "bob");
  EXPECT_EQ(check(twice, o).reason, Reason::HeaderDuplicated);
  Request altered = aimRequest(bob_, "bob", kNow + 5);
  altered.body = "{ }";
  EXPECT_EQ(check(altered, o).reason, Reason::SignatureInvalid);
  Request hexKey = aimRequest(bob_, "bob", kNow + 6);
  std::string hex;
  for (uint8_t b : bob_.pub.bytes) {
    hex += "0123456789abcdef"[b >> 4];
    hex += "0123456789abcdef"[b & 0xf];
  }
  hexKey.drop("X-Public-Key").set("X-Public-Key", hex);
  EXPECT_TRUE(check(hexKey, o).accepted());
}

TEST_F(VerifierTest, AimAgentWithARotatedKey) {
  // The entry named like the agent holds the old key; the new key is listed under aim_agent_id.
  store_ = storeOf("keys:\n  - id: agent-1\n    public_key: " + base64(bob_.pub.bytes) +
                   "\n  - id: agent-1-2026\n    aim_agent_id: agent-1\n    public_key: " +
                   base64(alice_.pub.bytes) + "\n");
  VerifierOptions o;
  o.aimAgentRequestV1 = true;
  Request oldKey = aimRequest(bob_, "agent-1");
  Verdict v = check(oldKey, o);
  ASSERT_TRUE(v.accepted()) << describe(v);
  EXPECT_EQ(v.keyId, "agent-1");
  Request newKey = aimRequest(alice_, "agent-1");
  v = check(newKey, o);
  ASSERT_TRUE(v.accepted()) << describe(v);
  EXPECT_EQ(v.keyId, "agent-1-2026");
  Request other = aimRequest(generatePrivateKey(), "agent-1");
  v = check(other, o);
  EXPECT_EQ(v.reason, Reason::KeyUnknown);
  EXPECT_NE(v.detail.find("X-Public-Key is not the key"), std::string::npos) << v.detail;
}

TEST_F(VerifierTest, AimHeadersAloneWithMcpHeadersToo) {
  // A request carrying both sets while aim-agent-request-v1 is off is checked as mcp-sig-v1.
  Request r = signedRequest(alice_, "alice");
  r.set("X-Agent-ID", "bob").set("X-Signature", "x");
  EXPECT_TRUE(check(r).accepted());
}

} // namespace
} // namespace sidecar::verifier
