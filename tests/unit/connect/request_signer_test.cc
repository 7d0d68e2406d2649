// The caller's signature (contract §2–3), shared by `sign` and `connect`: the vectors' bytes, and
// accepted by the sidecar's own verifier.

#include "verifier/request_signer.h"

#include <gtest/gtest.h>

#include "tests/unit/verifier/vectors.h"
#include "verifier/replay_cache.h"
#include "verifier/verifier.h"

namespace sidecar::verifier {
namespace {

using testing::member;
using testing::str;
using testing::vectors;

TEST(RequestSigner, ReproducesTheVectorsSignature) {
  ASSERT_TRUE(vectors().error.empty()) << vectors().error;
  const auto& cases = member(vectors().doc, "cases");
  ASSERT_TRUE(cases.IsArray());
  const rapidjson::Value* chosen = nullptr;
  for (const auto& c : cases.GetArray())
    if (str(member(c, "name")) == "valid POST with nonce and key id")
      chosen = &c;
  ASSERT_NE(chosen, nullptr);
  testing::VectorRequest r(member(*chosen, "request"));
  auto key = parsePrivateKey(
      str(member(member(member(vectors().doc, "caller_keys"), "alice"), "seed_b64")));
  ASSERT_TRUE(key.ok()) << key.error();
  RequestSigner signer(*key, "alice");
  RequestSignature s =
      signer.sign(r.method, r.target, r.header("Mcp-Session-Id"), r.body,
                  std::stoll(r.header("X-MCP-Timestamp")), r.header("X-MCP-Nonce"));
  EXPECT_EQ(s.signature, r.header("X-MCP-Signature"));
  EXPECT_EQ(s.keyId, "alice");
  auto h = s.headers();
  ASSERT_EQ(h.size(), 4u);
  EXPECT_EQ(h[0].first, "X-MCP-Signature");
  EXPECT_EQ(h[3].first, "X-MCP-Key-Id");
}

TEST(RequestSigner, DefaultKeyIdIsTheFingerprintAndTheVerifierAccepts) {
  PrivateKey key = generatePrivateKey();
  RequestSigner signer(key, "");
  EXPECT_EQ(signer.keyId(), fingerprint(key.pub));
  auto store =
      TrustStore::parse("keys:\n  - public_key: \"" + base64(key.pub.bytes) + "\"\n", "test");
  ASSERT_TRUE(store.ok()) << store.error();
  ReplayCache replay(1024);
  const std::string body = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}";
  RequestSignature s = signer.sign("POST", "/mcp?x=1", "sess-1", body, 1764000000);
  EXPECT_EQ(s.nonce.size(), 22u);
  const auto owned = s.headers();
  std::vector<Header> headers;
  for (const auto& [n, v] : owned)
    headers.emplace_back(n, v);
  headers.emplace_back("Mcp-Session-Id", "sess-1");
  Verdict v =
      verify(VerifierOptions{}, **store, replay, {"POST", "/mcp?x=1", headers, body}, 1764000000);
  EXPECT_TRUE(v.accepted()) << v.detail;
  // Every request gets its own nonce.
  EXPECT_NE(signer.sign("POST", "/mcp", "", body, 1764000000).nonce, s.nonce);
}

} // namespace
} // namespace sidecar::verifier
