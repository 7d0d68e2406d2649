// Every case, replay sequence, compatibility case and signed answer of the contract's test vectors
// (tests/data/signing-vectors.json), each as a test of its own.

#include <gtest/gtest.h>

#include "vectors.h"
#include "verifier/answer_signature.h"

namespace sidecar::verifier::testing {
namespace {

std::string describe(const Verdict& v) {
  return std::string(reasonName(v.reason)) + " (" + profileName(v.profile) + ", key '" + v.keyId +
         "'): " + v.detail;
}

void expectVerdict(const Verdict& v, const Expectation& e, const std::string& profile) {
  EXPECT_EQ(reasonName(v.reason), e.reason) << describe(v);
  EXPECT_EQ(v.httpStatus(), e.status) << describe(v);
  if (e.accept) {
    EXPECT_TRUE(v.accepted());
    EXPECT_EQ(profileName(v.profile), profile);
    EXPECT_NE(v.key, nullptr);
    EXPECT_FALSE(v.keyId.empty());
  } else {
    EXPECT_FALSE(v.detail.empty()) << "a rejection says what was wrong";
  }
}

// The signed message of a case's request, built as the profile defines it.
std::string messageFor(const std::string& profile, const VectorRequest& r) {
  if (profile == "seed")
    return r.body + r.header("X-MCP-Timestamp");
  if (profile == "aim-agent-request-v1")
    return r.method + "\n" + r.target + "\n" + r.header("X-Timestamp") +
           (r.body.empty() ? "" : "\n" + r.body);
  return signedMessage(r.method, r.target, r.header("X-MCP-Timestamp"), r.header("X-MCP-Nonce"),
                       r.header("X-MCP-Key-Id"), r.header("Mcp-Session-Id"), r.body);
}

class VectorTest : public ::testing::TestWithParam<VectorParam> {
protected:
  void SetUp() override {
    ASSERT_TRUE(vectors().error.empty()) << vectors().error;
    ASSERT_NE(GetParam().name, "vectors_missing")
        << "no '" << GetParam().array << "' in " << vectorsPath();
  }

  // One request of a case or compat case: the signed bytes, then the verdict.
  void runCase(const rapidjson::Value& c) {
    const std::string profile = str(member(c, "profile"));
    auto store = vectorStore(str(member(c, "trust_store")));
    ASSERT_TRUE(store.ok()) << store.error();
    VectorRequest request(member(c, "request"));
    Expectation expect(member(c, "expect"));

    // The vector's signed bytes are what the caller signed. They are also the message of the
    // request as received, except where the case altered the request after signing (rejected as
    // signature_invalid) or dropped a header (signature_missing).
    const std::string hex = str(member(c, "signed_message_hex"));
    const bool altered =
        expect.reason == "signature_invalid" || expect.reason == "signature_missing";
    if (!hex.empty() && !altered) {
      EXPECT_EQ(messageFor(profile, request), fromHex(hex))
          << "the signed message differs from the vector's";
    }
    if (!hex.empty() && expect.accept) {
      const std::string message = messageFor(profile, request);
      std::string sigBytes;
      ASSERT_TRUE(decodeBase64(
          request.header(profile == "aim-agent-request-v1" ? "X-Signature" : "X-MCP-Signature"),
          sigBytes));
      ASSERT_EQ(sigBytes.size(), 64u);
      Signature sig;
      std::copy(sigBytes.begin(), sigBytes.end(), sig.begin());
      bool anyKey = false;
      for (const TrustedKey& k : (*store)->keys())
        anyKey = anyKey || verifySignature(k.key, sig, message);
      EXPECT_TRUE(anyKey) << "no trusted key verifies the vector's signature";
    }

    ReplayCache replay(1024);
    Verdict v = verify(optionsFor(profile), **store, replay, request.view(), vectorNow());
    expectVerdict(v, expect, profile);
    EXPECT_EQ(replay.size(), expect.accept ? 1u : 0u) << "only an accepted request is remembered";
  }
};

using Cases = VectorTest;
TEST_P(Cases, Verdict) {
  runCase(GetParam().value());
}
INSTANTIATE_TEST_SUITE_P(Vectors, Cases, ::testing::ValuesIn(vectorParams("cases")),
                         vectorParamName);

using CompatCases = VectorTest;
TEST_P(CompatCases, Verdict) {
  runCase(GetParam().value());
}
INSTANTIATE_TEST_SUITE_P(Vectors, CompatCases, ::testing::ValuesIn(vectorParams("compat_cases")),
                         vectorParamName);

using Sequences = VectorTest;
TEST_P(Sequences, Verdicts) {
  const rapidjson::Value& steps = member(GetParam().value(), "steps");
  ASSERT_TRUE(steps.IsArray());
  ReplayCache replay(1024); // shared by the steps of a sequence, as by a sidecar's requests
  for (rapidjson::SizeType i = 0; i < steps.Size(); ++i) {
    SCOPED_TRACE("step " + std::to_string(i));
    const rapidjson::Value& step = steps[i];
    auto store = vectorStore(str(member(step, "trust_store")));
    ASSERT_TRUE(store.ok()) << store.error();
    VectorRequest request(member(step, "request"));
    std::string profile = str(member(step, "profile"));
    if (profile.empty())
      profile = "mcp-sig-v1";
    Verdict v = verify(optionsFor(profile), **store, replay, request.view(), vectorNow());
    expectVerdict(v, Expectation(member(step, "expect")), profile);
  }
}
INSTANTIATE_TEST_SUITE_P(Vectors, Sequences, ::testing::ValuesIn(vectorParams("sequences")),
                         vectorParamName);

TEST(VectorKeys, CallerKeysDeriveTheirPublicKeyAndFingerprint) {
  ASSERT_TRUE(vectors().error.empty()) << vectors().error;
  const rapidjson::Value& keys = member(vectors().doc, "caller_keys");
  ASSERT_TRUE(keys.IsObject());
  int n = 0;
  for (const char* name : {"alice", "bob", "carol", "mallory", "solo"}) {
    SCOPED_TRACE(name);
    const rapidjson::Value& k = member(keys, name);
    ASSERT_TRUE(k.IsObject());
    auto priv = parsePrivateKey(str(member(k, "seed_b64")));
    ASSERT_TRUE(priv.ok()) << priv.error();
    auto pub = parsePublicKey(str(member(k, "public_b64")));
    ASSERT_TRUE(pub.ok()) << pub.error();
    EXPECT_EQ(priv->pub, *pub);
    EXPECT_EQ(fingerprint(*pub), str(member(k, "fingerprint")));
    EXPECT_EQ(base64(pub->bytes), str(member(k, "public_b64")));
    ++n;
  }
  EXPECT_EQ(n, 5);
}

TEST(VectorKeys, TrustStoresParseWithEveryKeyForm) {
  auto multi = vectorStore("multi");
  ASSERT_TRUE(multi.ok()) << multi.error();
  EXPECT_EQ((*multi)->keys().size(), 5u);
  const rapidjson::Value& keys = member(vectors().doc, "caller_keys");
  auto pubOf = [&](const char* name) {
    return parsePublicKey(str(member(member(keys, name), "public_b64"))).value();
  };
  ASSERT_NE((*multi)->find("bob"), nullptr);
  EXPECT_EQ((*multi)->find("bob")->key, pubOf("bob"));            // PEM SPKI
  EXPECT_EQ((*multi)->find("carol")->key, pubOf("carol"));        // hex DER SPKI
  EXPECT_EQ((*multi)->find("agent-7f3c")->key, pubOf("mallory")); // raw hex
  EXPECT_EQ((*multi)->find("expired-key")->key, pubOf("solo"));   // url-safe unpadded
  EXPECT_TRUE((*multi)->find("expired-key")->expiredAt(vectorNow()));

  auto single = vectorStore("single");
  ASSERT_TRUE(single.ok()) << single.error();
  ASSERT_NE((*single)->single(), nullptr);
  EXPECT_EQ((*single)->single()->id, str(member(member(keys, "solo"), "fingerprint")));
}

class SignedAnswers : public ::testing::TestWithParam<const char*> {};

// The sidecar's signatures are deterministic: sign() over the vector's bytes gives its signature.
TEST_P(SignedAnswers, SignatureOverTheSignedBytes) {
  ASSERT_TRUE(vectors().error.empty()) << vectors().error;
  const rapidjson::Value& answers = member(vectors().doc, "answers");
  const rapidjson::Value& sk = member(answers, "sidecar_key");
  const rapidjson::Value& a = member(answers, GetParam());
  ASSERT_TRUE(a.IsObject());
  for (const char* form : {"seed_b64", "seed_and_public_b64"}) {
    SCOPED_TRACE(form);
    auto key = parsePrivateKey(str(member(sk, form)));
    ASSERT_TRUE(key.ok()) << key.error();
    const std::string message = fromHex(str(member(a, "signed_message_hex")));
    Signature sig = sign(*key, message);
    EXPECT_EQ(base64(sig), str(member(a, "signature_b64")));
    EXPECT_TRUE(verifySignature(key->pub, sig, message));
  }
}
// The bytes the sidecar builds for an answer and an event are the vectors' signed bytes.
TEST(SignedAnswerBytes, JsonAnswerAndEventMessages) {
  const rapidjson::Value& answers = member(vectors().doc, "answers");
  const rapidjson::Value& sk = member(answers, "sidecar_key");
  auto key = parsePrivateKey(str(member(sk, "seed_and_public_b64")));
  ASSERT_TRUE(key.ok()) << key.error();
  AnswerSigner signer(*key);
  EXPECT_EQ(signer.keyId(), str(member(sk, "fingerprint")));

  const rapidjson::Value& a = member(answers, "json_answer");
  std::string body;
  ASSERT_TRUE(decodeBase64(str(member(a, "body_b64")), body));
  std::string message =
      answerMessage(static_cast<unsigned>(member(a, "status").GetInt()),
                    str(member(a, "timestamp")), str(member(a, "request_nonce")),
                    str(member(a, "request_signature")), signer.keyId(), sha256Hex(body));
  EXPECT_EQ(message, fromHex(str(member(a, "signed_message_hex"))));
  std::string headers =
      signer.jsonHeaders(static_cast<unsigned>(member(a, "status").GetInt()), body,
                         std::stoll(str(member(a, "timestamp"))), str(member(a, "request_nonce")),
                         str(member(a, "request_signature")));
  EXPECT_EQ(headers, "X-MCP-Signature: " + str(member(a, "signature_b64")) +
                         "\r\nX-MCP-Timestamp: " + str(member(a, "timestamp")) +
                         "\r\nX-MCP-Key-Id: " + signer.keyId() + "\r\n");

  const rapidjson::Value& e = member(answers, "sse_event");
  std::string event;
  ASSERT_TRUE(decodeBase64(str(member(e, "event_b64")), event));
  EXPECT_EQ(eventMessage(str(member(e, "request_signature")), str(member(e, "timestamp")),
                         static_cast<uint64_t>(member(e, "seq").GetInt()), sha256Hex(event)),
            fromHex(str(member(e, "signed_message_hex"))));
  EXPECT_EQ(signer.eventLine(str(member(e, "request_signature")), str(member(e, "timestamp")),
                             static_cast<uint64_t>(member(e, "seq").GetInt()), event),
            ": mcp-sig seq=" + std::to_string(member(e, "seq").GetInt()) +
                " sig=" + str(member(e, "signature_b64")) + "\n");
}

// An unsigned request's answer: nonce and request signature empty, and a changed body changes
// the signature.
TEST(SignedAnswerBytes, UnsignedRequestAnswer) {
  AnswerSigner signer(generatePrivateKey());
  std::string h = signer.jsonHeaders(200, "{}", 1764000001);
  std::string sig = h.substr(17, h.find("\r\n") - 17);
  Signature raw{};
  std::string bytes;
  ASSERT_TRUE(decodeBase64(sig, bytes));
  ASSERT_EQ(bytes.size(), 64u);
  std::copy(bytes.begin(), bytes.end(), raw.begin());
  EXPECT_TRUE(
      verifySignature(signer.key().pub, raw,
                      answerMessage(200, "1764000001", "", "", signer.keyId(), sha256Hex("{}"))));
  EXPECT_FALSE(
      verifySignature(signer.key().pub, raw,
                      answerMessage(200, "1764000001", "", "", signer.keyId(), sha256Hex("{ }"))));
}

std::string answerName(const ::testing::TestParamInfo<const char*>& p) {
  return p.param;
}
INSTANTIATE_TEST_SUITE_P(Vectors, SignedAnswers, ::testing::Values("json_answer", "sse_event"),
                         answerName);

TEST(VectorKeys, SidecarKeyInEveryForm) {
  const rapidjson::Value& sk = member(member(vectors().doc, "answers"), "sidecar_key");
  auto key = parsePrivateKey(str(member(sk, "seed_and_public_b64")));
  ASSERT_TRUE(key.ok()) << key.error();
  for (const char* form : {"public_b64", "spki_hex"}) {
    auto pub = parsePublicKey(str(member(sk, form)));
    ASSERT_TRUE(pub.ok()) << form << ": " << pub.error();
    EXPECT_EQ(*pub, key->pub) << form;
  }
  EXPECT_EQ(fingerprint(key->pub), str(member(sk, "fingerprint")));
  EXPECT_EQ(privateKeyFileText(*key), str(member(sk, "seed_and_public_b64")) + "\n");
}

} // namespace
} // namespace sidecar::verifier::testing
