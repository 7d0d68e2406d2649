// Learning the server's key from its signed capabilities document.

#include "connect/server_key.h"

#include <gtest/gtest.h>

#include "tests/unit/connect/test_signer.h"

namespace sidecar::connect {
namespace {

using testing::TestSigner;

std::string document(const verifier::PublicKey& key, bool withKeyId = true) {
  std::string d = "{\"server\":{\"name\":\"everything\",\"public_key_base64\":\"" +
                  verifier::base64(key.bytes) + "\"";
  if (withKeyId)
    d += ",\"key_id\":\"" + verifier::fingerprint(key) + "\"";
  return d + "},\"capabilities\":[]}\n";
}

class Capabilities : public ::testing::Test {
protected:
  TestSigner server;
  RequestBinding req{"DDDDDDDDDDDDDDDDDDDDDD", "Z2V0IHNpZ25hdHVyZQ=="};

  AnswerHeaders headersOf(const HttpHead& h) {
    return {h.header("x-mcp-signature"), h.header("x-mcp-timestamp"), h.header("x-mcp-key-id")};
  }
};

TEST_F(Capabilities, SelfSignedDocumentGivesItsKey) {
  std::string body = document(server.key().pub);
  auto key = keyFromCapabilities(200, headersOf(server.jsonHead(200, body, req)), req, body);
  ASSERT_TRUE(key.ok()) << key.error();
  EXPECT_EQ(*key, server.key().pub);
  std::string noId = document(server.key().pub, false);
  EXPECT_TRUE(keyFromCapabilities(200, headersOf(server.jsonHead(200, noId, req)), req, noId).ok());
}

TEST_F(Capabilities, SpkiHexKeyIsReadWhenBase64IsAbsent) {
  std::string hex;
  for (uint8_t c : server.key().pub.bytes) {
    static const char* d = "0123456789abcdef";
    hex += d[c >> 4];
    hex += d[c & 15];
  }
  std::string body = "{\"server\":{\"public_key\":\"302a300506032b6570032100" + hex + "\"}}";
  auto key = keyFromCapabilities(200, headersOf(server.jsonHead(200, body, req)), req, body);
  ASSERT_TRUE(key.ok()) << key.error();
  EXPECT_EQ(*key, server.key().pub);
}

TEST_F(Capabilities, DocumentNamingAnotherKeyThanItsSignerIsRefused) {
  TestSigner other;
  std::string body = document(other.key().pub);
  auto key = keyFromCapabilities(200, headersOf(server.jsonHead(200, body, req)), req, body);
  ASSERT_FALSE(key.ok());
  EXPECT_NE(key.error().find("signature"), std::string::npos) << key.error();
}

TEST_F(Capabilities, TamperedOrUnsignedOrStaleDocumentIsRefused) {
  std::string body = document(server.key().pub);
  HttpHead h = server.jsonHead(200, body, req);
  std::string tampered = body;
  tampered[tampered.find("everything")] = 'E';
  EXPECT_FALSE(keyFromCapabilities(200, headersOf(h), req, tampered).ok());
  EXPECT_FALSE(keyFromCapabilities(200, {}, req, body).ok());
  RequestBinding otherRequest{"EEEEEEEEEEEEEEEEEEEEEE", req.signature};
  EXPECT_FALSE(keyFromCapabilities(200, headersOf(h), otherRequest, body).ok())
      << "an answer to an earlier request, replayed";
}

TEST_F(Capabilities, WrongShapesAreNamed) {
  RequestBinding r = req;
  EXPECT_NE(keyFromCapabilities(404, {}, r, "").error().find("404"), std::string::npos);
  EXPECT_NE(keyFromCapabilities(200, {}, r, "nope").error().find("JSON"), std::string::npos);
  EXPECT_NE(keyFromCapabilities(200, {}, r, "{}").error().find("\"server\""), std::string::npos);
  EXPECT_NE(keyFromCapabilities(200, {}, r, "{\"server\":{}}").error().find("names no key"),
            std::string::npos);
  std::string badId = "{\"server\":{\"public_key_base64\":\"" +
                      verifier::base64(server.key().pub.bytes) + "\",\"key_id\":\"ed25519:x\"}}";
  EXPECT_NE(keyFromCapabilities(200, {}, r, badId).error().find("key_id"), std::string::npos);
}

} // namespace
} // namespace sidecar::connect
