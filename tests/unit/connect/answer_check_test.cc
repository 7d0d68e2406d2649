// Checking signed answers (contract §6): the vectors' answers, and every way an answer or an event
// stream can be wrong.

#include "connect/answer_check.h"

#include <gtest/gtest.h>

#include "tests/unit/connect/test_signer.h"
#include "tests/unit/verifier/vectors.h"
#include "verifier/answer_signature.h"

namespace sidecar::connect {
namespace {

using testing::TestSigner;
using verifier::testing::member;
using verifier::testing::str;
using verifier::testing::vectors;

ServerKey vectorSidecarKey() {
  const auto& sk = member(member(vectors().doc, "answers"), "sidecar_key");
  auto pub = verifier::parsePublicKey(str(member(sk, "public_b64")));
  EXPECT_TRUE(pub.ok()) << pub.error();
  return ServerKey::of(*pub);
}

TEST(AnswerCheckVectors, JsonAnswerVerifies) {
  ASSERT_TRUE(vectors().error.empty()) << vectors().error;
  const auto& answers = member(vectors().doc, "answers");
  const auto& a = member(answers, "json_answer");
  ServerKey key = vectorSidecarKey();
  EXPECT_EQ(key.keyId, str(member(member(answers, "sidecar_key"), "fingerprint")));
  std::string body;
  ASSERT_TRUE(verifier::decodeBase64(str(member(a, "body_b64")), body));
  AnswerHeaders h{str(member(a, "signature_b64")), str(member(a, "timestamp")), key.keyId};
  RequestBinding req{str(member(a, "request_nonce")), str(member(a, "request_signature"))};
  unsigned status = static_cast<unsigned>(member(a, "status").GetInt());
  Status s = checkAnswerHeaders(key, req, status, h, verifier::sha256Hex(body));
  EXPECT_TRUE(s.ok()) << s.message();

  // Each input the signature binds, changed.
  EXPECT_FALSE(checkAnswerHeaders(key, req, status, h, verifier::sha256Hex(body + " ")).ok());
  EXPECT_FALSE(checkAnswerHeaders(key, req, 500, h, verifier::sha256Hex(body)).ok());
  RequestBinding otherNonce{"N000000000000000000051", req.signature};
  EXPECT_FALSE(checkAnswerHeaders(key, otherNonce, status, h, verifier::sha256Hex(body)).ok());
  RequestBinding otherSig{req.nonce, "x" + req.signature};
  EXPECT_FALSE(checkAnswerHeaders(key, otherSig, status, h, verifier::sha256Hex(body)).ok());
  AnswerHeaders otherTs = h;
  otherTs.timestamp = "1764000002";
  EXPECT_FALSE(checkAnswerHeaders(key, req, status, otherTs, verifier::sha256Hex(body)).ok());
}

TEST(AnswerCheckVectors, SseEventVerifies) {
  ASSERT_TRUE(vectors().error.empty()) << vectors().error;
  const auto& e = member(member(vectors().doc, "answers"), "sse_event");
  std::string event;
  ASSERT_TRUE(verifier::decodeBase64(str(member(e, "event_b64")), event));
  SseEvent ev;
  ev.raw = event;
  ev.comments = {"mcp-sig seq=" + std::to_string(member(e, "seq").GetInt()) +
                 " sig=" + str(member(e, "signature_b64"))};
  EventStreamChecker checker(vectorSidecarKey(), str(member(e, "request_signature")),
                             str(member(e, "timestamp")));
  Status s = checker.check(ev);
  EXPECT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(checker.next(), 1u);

  EventStreamChecker altered(vectorSidecarKey(), str(member(e, "request_signature")),
                             str(member(e, "timestamp")));
  ev.raw[ev.raw.size() / 2] ^= 1;
  Status bad = altered.check(ev);
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("altered"), std::string::npos) << bad.message();
}

class AnswerCheck : public ::testing::Test {
protected:
  TestSigner server;
  RequestBinding req{"AAAAAAAAAAAAAAAAAAAAAA", "c2lnbmF0dXJlIG9mIHRoZSByZXF1ZXN0"};

  AnswerHeaders headersOf(const HttpHead& h) {
    return {h.header("x-mcp-signature"), h.header("x-mcp-timestamp"), h.header("x-mcp-key-id")};
  }
};

TEST_F(AnswerCheck, SignedJsonAnswerHolds) {
  std::string body = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}";
  HttpHead h = server.jsonHead(200, body, req);
  EXPECT_TRUE(
      checkAnswerHeaders(server.serverKey(), req, 200, headersOf(h), verifier::sha256Hex(body))
          .ok());
}

TEST_F(AnswerCheck, UnsignedAnswerIsRefused) {
  Status s = checkAnswerHeaders(server.serverKey(), req, 200, {}, verifier::sha256Hex("{}"));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not signed"), std::string::npos) << s.message();
}

TEST_F(AnswerCheck, AnotherKeyIsNamed) {
  TestSigner impostor;
  std::string body = "{}";
  HttpHead h = impostor.jsonHead(200, body, req);
  Status s =
      checkAnswerHeaders(server.serverKey(), req, 200, headersOf(h), verifier::sha256Hex(body));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("another key"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(impostor.serverKey().keyId), std::string::npos) << s.message();

  // The impostor claiming the real key id: the signature does not verify.
  AnswerHeaders claimed = headersOf(h);
  claimed.keyId = server.serverKey().keyId;
  Status s2 = checkAnswerHeaders(server.serverKey(), req, 200, claimed, verifier::sha256Hex(body));
  ASSERT_FALSE(s2.ok());
  EXPECT_NE(s2.message().find("does not verify"), std::string::npos) << s2.message();
}

TEST_F(AnswerCheck, MalformedHeadersAreNamed) {
  HttpHead h = server.jsonHead(200, "{}", req);
  AnswerHeaders a = headersOf(h);
  a.timestamp = "0123";
  EXPECT_NE(checkAnswerHeaders(server.serverKey(), req, 200, a, verifier::sha256Hex("{}"))
                .message()
                .find("X-MCP-Timestamp"),
            std::string::npos);
  a = headersOf(h);
  a.signature = "AAAA";
  EXPECT_NE(checkAnswerHeaders(server.serverKey(), req, 200, a, verifier::sha256Hex("{}"))
                .message()
                .find("64 bytes"),
            std::string::npos);
  a = headersOf(h);
  a.keyId.clear();
  EXPECT_NE(checkAnswerHeaders(server.serverKey(), req, 200, a, verifier::sha256Hex("{}"))
                .message()
                .find("X-MCP-Key-Id"),
            std::string::npos);
}

TEST(EventSignatureComment, Parses) {
  uint64_t seq = 0;
  std::string sig;
  bool malformed = false;
  EXPECT_TRUE(parseEventSignature("mcp-sig seq=12 sig=abc+/=", seq, sig, malformed));
  EXPECT_EQ(seq, 12u);
  EXPECT_EQ(sig, "abc+/=");
  EXPECT_FALSE(parseEventSignature("keepalive", seq, sig, malformed));
  EXPECT_FALSE(malformed);
  for (const char* bad : {"mcp-sig", "mcp-sig seq=", "mcp-sig seq=01 sig=a", "mcp-sig seq=1",
                          "mcp-sig seq=1 sig=", "mcp-sig seq=x sig=a", "mcp-sig sig=a seq=1"}) {
    EXPECT_FALSE(parseEventSignature(bad, seq, sig, malformed)) << bad;
    EXPECT_TRUE(malformed) << bad;
  }
}

class EventStream : public AnswerCheck {
protected:
  SseEvent signedEvent(uint64_t seq, const std::string& raw) {
    std::string text = server.signedEvent(req, seq, raw);
    SseEvent e;
    e.comments = {text.substr(2, text.find('\n') - 2)};
    e.raw = raw;
    return e;
  }
  EventStreamChecker checker() {
    return EventStreamChecker(server.serverKey(), req.signature, "1764000001");
  }
};

TEST_F(EventStream, InOrderEventsHold) {
  auto c = checker();
  for (uint64_t i = 0; i < 5; ++i) {
    Status s =
        c.check(signedEvent(i, TestSigner::messageEvent("{\"n\":" + std::to_string(i) + "}")));
    EXPECT_TRUE(s.ok()) << s.message();
  }
  EXPECT_EQ(c.next(), 5u);
}

TEST_F(EventStream, DroppedEventIsDetected) {
  auto c = checker();
  ASSERT_TRUE(c.check(signedEvent(0, "data: a\n\n")).ok());
  Status s = c.check(signedEvent(2, "data: c\n\n"));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("event 1 is missing"), std::string::npos) << s.message();
}

TEST_F(EventStream, ReorderedOrReplayedEventIsDetected) {
  auto c = checker();
  ASSERT_TRUE(c.check(signedEvent(0, "data: a\n\n")).ok());
  ASSERT_TRUE(c.check(signedEvent(1, "data: b\n\n")).ok());
  Status s = c.check(signedEvent(0, "data: a\n\n"));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("reordered or replayed"), std::string::npos) << s.message();
}

TEST_F(EventStream, AlteredEventIsDetected) {
  auto c = checker();
  SseEvent e = signedEvent(0, "data: {\"x\":1}\n\n");
  e.raw = "data: {\"x\":2}\n\n";
  Status s = c.check(e);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("event 0 was altered"), std::string::npos) << s.message();
}

TEST_F(EventStream, UnsignedOrInjectedEventIsDetected) {
  auto c = checker();
  SseEvent e;
  e.raw = "data: {}\n\n";
  Status s = c.check(e);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not signed"), std::string::npos) << s.message();

  // Signed by another key for the same stream.
  TestSigner impostor;
  std::string text = impostor.signedEvent(req, 0, "data: {}\n\n");
  e.comments = {text.substr(2, text.find('\n') - 2)};
  EXPECT_FALSE(checker().check(e).ok());
}

TEST_F(EventStream, EventOfAnotherStreamIsRefused) {
  // The signature binds the request's signature and the answer's timestamp.
  EventStreamChecker other(server.serverKey(), "another request", "1764000001");
  EXPECT_FALSE(other.check(signedEvent(0, "data: a\n\n")).ok());
  EventStreamChecker later(server.serverKey(), req.signature, "1764000002");
  EXPECT_FALSE(later.check(signedEvent(0, "data: a\n\n")).ok());
}

TEST_F(EventStream, TwoSignaturesAreRefused) {
  SseEvent e = signedEvent(0, "data: a\n\n");
  e.comments.push_back(e.comments[0]);
  Status s = checker().check(e);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("two"), std::string::npos);
}

TEST_F(EventStream, OtherCommentsAreIgnored) {
  SseEvent e = signedEvent(0, "data: a\n\n");
  e.comments.insert(e.comments.begin(), "keepalive");
  EXPECT_TRUE(checker().check(e).ok());
}

} // namespace
} // namespace sidecar::connect
