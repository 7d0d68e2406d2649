// The bytes each AIM route signs, against tests/data/aim/wire-vectors.json: messages worked out by
// hand from aim-wire.md (excerpts in tests/data/aim/aim-wire-examples.md) and signatures made by an
// independent Ed25519 implementation (Node's). Also the bodies and the tolerant answer parsers.

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <fstream>
#include <sstream>
#include <string>

#include "aim/wire.h"
#include "verifier/keys.h"

#ifndef SIDECAR_SOURCE_DIR
#error "SIDECAR_SOURCE_DIR must name the source tree (target_compile_definitions)"
#endif

namespace sidecar::aim {
namespace {

class WireVectors : public ::testing::Test {
protected:
  void SetUp() override {
    std::string path = std::string(SIDECAR_SOURCE_DIR) + "/tests/data/aim/wire-vectors.json";
    std::ifstream f(path);
    ASSERT_TRUE(f) << "cannot read " << path;
    std::stringstream ss;
    ss << f.rdbuf();
    text_ = ss.str();
    doc_.Parse(text_.c_str());
    ASSERT_FALSE(doc_.HasParseError());
    auto key = verifier::parsePrivateKey(doc_["private_key_base64_64"].GetString());
    ASSERT_TRUE(key.ok()) << key.error();
    key_ = *key;
    ASSERT_EQ(verifier::base64(key_.pub.bytes), doc_["public_key_base64"].GetString());
  }

  static std::string header(const HeaderList& headers, const std::string& name) {
    for (const auto& [n, v] : headers)
      if (n == name)
        return v;
    ADD_FAILURE() << "no header " << name;
    return {};
  }

  std::string text_;
  rapidjson::Document doc_;
  verifier::PrivateKey key_;
};

TEST_F(WireVectors, AgentRequestMessagesAndHeaders) {
  const auto& cases = doc_["agent_request"];
  ASSERT_GE(cases.Size(), 3u);
  for (rapidjson::SizeType i = 0; i < cases.Size(); ++i) {
    const auto& c = cases[i];
    SCOPED_TRACE(c["name"].GetString());
    int64_t ts = c["timestamp"].GetInt64();
    std::string message =
        agentRequestMessage(c["method"].GetString(), c["target"].GetString(), ts,
                            std::string(c["body"].GetString(), c["body"].GetStringLength()));
    EXPECT_EQ(message, c["message"].GetString());
    HeaderList h =
        agentRequestHeaders(key_, "6f1c2a4e-3b5d-4c7e-9f80-1a2b3c4d5e6f", c["method"].GetString(),
                            c["target"].GetString(), ts, c["body"].GetString());
    ASSERT_EQ(h.size(), 4u);
    EXPECT_EQ(header(h, "X-Agent-ID"), "6f1c2a4e-3b5d-4c7e-9f80-1a2b3c4d5e6f");
    EXPECT_EQ(header(h, "X-Timestamp"), std::to_string(ts));
    EXPECT_EQ(header(h, "X-Signature"), c["signature"].GetString());
    EXPECT_EQ(header(h, "X-Public-Key"), doc_["public_key_base64"].GetString());
    for (const auto& [name, value] : h)
      EXPECT_NE(name, "Authorization") << "agent-signed calls carry no Authorization header";
  }
}

TEST_F(WireVectors, HeartbeatHasNoTrailingNewline) {
  std::string m = agentRequestMessage("POST", "/x", 5, "");
  EXPECT_EQ(m, "POST\n/x\n5");
}

TEST_F(WireVectors, PollMessageLowercasesBothIds) {
  const auto& cases = doc_["poll"];
  for (rapidjson::SizeType i = 0; i < cases.Size(); ++i) {
    const auto& c = cases[i];
    SCOPED_TRACE(c["name"].GetString());
    int64_t ts = c["timestamp"].GetInt64();
    EXPECT_EQ(pollMessage(c["verification_id"].GetString(), c["agent_id"].GetString(), ts),
              c["message"].GetString());
    HeaderList h =
        pollHeaders(key_, c["verification_id"].GetString(), c["agent_id"].GetString(), ts);
    ASSERT_EQ(h.size(), 3u);
    EXPECT_EQ(header(h, "X-AIM-Agent-ID"), "6f1c2a4e-3b5d-4c7e-9f80-1a2b3c4d5e6f");
    EXPECT_EQ(header(h, "X-AIM-Timestamp"), std::to_string(ts));
    EXPECT_EQ(header(h, "X-AIM-Signature"), c["signature"].GetString());
  }
}

VerificationRequest fromVector(const rapidjson::Value& c) {
  VerificationRequest r;
  r.agentId = c["agent_id"].GetString();
  r.capability = c["capability"].GetString();
  if (c["resource"].IsString())
    r.resource = c["resource"].GetString();
  const auto& ctx = c["context"];
  for (rapidjson::SizeType i = 0; i < ctx.MemberCount(); ++i) {
    auto it = ctx.MemberBegin() + i;
    if (it->value.IsString())
      r.context.emplace_back(it->name.GetString(), std::string(it->value.GetString()));
    else
      r.context.emplace_back(it->name.GetString(), it->value.GetInt64());
  }
  r.timestamp = c["timestamp"].GetString();
  return r;
}

TEST_F(WireVectors, LegacyVerificationMessageIsPythonJsonDumps) {
  const auto& cases = doc_["legacy_verification"];
  ASSERT_GE(cases.Size(), 3u);
  for (rapidjson::SizeType i = 0; i < cases.Size(); ++i) {
    const auto& c = cases[i];
    SCOPED_TRACE(c["name"].GetString());
    VerificationRequest r = fromVector(c);
    auto m = legacyVerificationMessage(r);
    ASSERT_TRUE(m.ok()) << m.error();
    EXPECT_EQ(*m, c["message"].GetString());

    auto body = legacyVerificationBody(key_, r);
    ASSERT_TRUE(body.ok()) << body.error();
    rapidjson::Document b;
    b.Parse(body->c_str());
    ASSERT_TRUE(b.IsObject()) << *body;
    EXPECT_STREQ(b["agentId"].GetString(), c["agent_id"].GetString());
    EXPECT_STREQ(b["capability"].GetString(), c["capability"].GetString());
    EXPECT_STREQ(b["timestamp"].GetString(), c["timestamp"].GetString());
    EXPECT_STREQ(b["signature"].GetString(), c["signature"].GetString());
    EXPECT_STREQ(b["publicKey"].GetString(), doc_["public_key_base64"].GetString());
    EXPECT_TRUE(b["context"].IsObject());
    EXPECT_FALSE(b.HasMember("agent_id")) << "the body is camelCase";
    EXPECT_FALSE(b.HasMember("nonce")) << "no nonce in the legacy form";
  }
}

TEST_F(WireVectors, LegacyVerificationRefusesWhatPythonAndGoSpellDifferently) {
  VerificationRequest r;
  r.agentId = "6f1c2a4e-3b5d-4c7e-9f80-1a2b3c4d5e6f";
  r.capability = "mcp_tool:ok";
  r.timestamp = "2026-05-01T12:00:00Z";
  ASSERT_TRUE(legacyVerificationMessage(r).ok());

  VerificationRequest nonAscii = r;
  nonAscii.capability = "mcp_tool:caf\xc3\xa9";
  auto m = legacyVerificationMessage(nonAscii);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().find("capability"), std::string::npos) << m.error();

  VerificationRequest control = r;
  control.context.emplace_back("note", std::string("a\nb"));
  EXPECT_FALSE(legacyVerificationMessage(control).ok());

  VerificationRequest del = r;
  del.context.emplace_back("note", std::string("a\x7f"));
  EXPECT_FALSE(legacyVerificationMessage(del).ok());

  VerificationRequest big = r;
  big.context.emplace_back("n", int64_t{1} << 54);
  EXPECT_FALSE(legacyVerificationMessage(big).ok());

  VerificationRequest dup = r;
  dup.context.emplace_back("k", std::string("1"));
  dup.context.emplace_back("k", std::string("2"));
  EXPECT_FALSE(legacyVerificationMessage(dup).ok());
}

TEST_F(WireVectors, ChallengeSignsTheBase64StringItself) {
  const auto& c = doc_["challenge"][0];
  std::string body = std::string("{\"challenge\":\"") + c["challenge"].GetString() +
                     "\",\"server_id\":\"A1B2C3D4-E5F6-4A7B-8C9D-0E1F2A3B4C5D\"}";
  auto a = answerChallenge(key_, body);
  ASSERT_TRUE(a.ok()) << a.error();
  EXPECT_EQ(a->serverId, "A1B2C3D4-E5F6-4A7B-8C9D-0E1F2A3B4C5D");
  rapidjson::Document d;
  d.Parse(a->body.c_str());
  ASSERT_TRUE(d.IsObject());
  EXPECT_STREQ(d["signedChallenge"].GetString(), c["signature"].GetString());
  EXPECT_STREQ(d["signed_challenge"].GetString(), c["signature"].GetString());

  EXPECT_FALSE(answerChallenge(key_, "{}").ok());
  EXPECT_FALSE(answerChallenge(key_, "[1]").ok());
  EXPECT_FALSE(answerChallenge(key_, "{\"challenge\":7}").ok());
}

TEST_F(WireVectors, PythonTimestamps) {
  const auto& cases = doc_["python_timestamps"];
  for (rapidjson::SizeType i = 0; i < cases.Size(); ++i) {
    std::chrono::system_clock::time_point t{
        std::chrono::microseconds(cases[i]["unix_micros"].GetInt64())};
    EXPECT_EQ(pythonUtcTimestamp(t), cases[i]["text"].GetString());
  }
  std::chrono::system_clock::time_point t{std::chrono::milliseconds(1777636800123)};
  EXPECT_EQ(rfc3339Utc(t), "2026-05-01T12:00:00.123Z");
}

TEST(AimBodies, AgentRegistrationCarriesOnlyThePublicKey) {
  verifier::PrivateKey key = verifier::generatePrivateKey();
  AgentRegistration a;
  a.name = "weather";
  a.version = "1.0.0";
  std::string body = agentRegistrationBody(a, key.pub);
  rapidjson::Document d;
  d.Parse(body.c_str());
  ASSERT_TRUE(d.IsObject()) << body;
  EXPECT_STREQ(d["name"].GetString(), "weather");
  EXPECT_STREQ(d["displayName"].GetString(), "weather");
  EXPECT_STREQ(d["publicKey"].GetString(), verifier::base64(key.pub.bytes).c_str());
  EXPECT_EQ(std::string(d["publicKey"].GetString()).size(), 44u);
  EXPECT_TRUE(d["capabilities"].IsArray());
  EXPECT_TRUE(d["talksTo"].IsArray());
  EXPECT_TRUE(d["metadata"].IsObject());
  EXPECT_FALSE(d.HasMember("privateKey"));
  EXPECT_FALSE(d.HasMember("declaredPurpose"));
}

TEST(AimBodies, McpServerRegistrationIsCamelCase) {
  verifier::PrivateKey key = verifier::generatePrivateKey();
  McpServerRegistration s;
  s.name = "weather";
  s.url = "http://127.0.0.1:8787/mcp";
  s.verificationUrl = "http://127.0.0.1:8787/mcp/.well-known/mcp/verify";
  s.capabilities = {"get_weather", "get_forecast"};
  std::string body = mcpServerRegistrationBody(s, key.pub, "agent-1");
  rapidjson::Document d;
  d.Parse(body.c_str());
  ASSERT_TRUE(d.IsObject()) << body;
  EXPECT_STREQ(d["url"].GetString(), s.url.c_str());
  EXPECT_STREQ(d["verificationUrl"].GetString(), s.verificationUrl.c_str());
  EXPECT_STREQ(d["publicKey"].GetString(), verifier::base64(key.pub.bytes).c_str());
  EXPECT_STREQ(d["registeredByAgent"].GetString(), "agent-1");
  ASSERT_EQ(d["capabilities"].Size(), 2u);
  EXPECT_FALSE(d.HasMember("public_key"));
  EXPECT_FALSE(d.HasMember("verification_url"));
}

TEST(AimBodies, UsageReportAndExecutionStatus) {
  UsageTotals t;
  t["echo"] = ToolUsage{3, "2026-05-01T12:00:00.000Z", "2026-05-01T12:01:00.000Z"};
  std::string body = usageReportBody("agent-1", "2026-05-01T12:02:00.000Z",
                                     "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", t);
  EXPECT_EQ(body, "{\"agentId\":\"agent-1\",\"reportedAt\":\"2026-05-01T12:02:00.000Z\","
                  "\"mcpServers\":{\"a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d\":{\"toolUsage\":"
                  "{\"echo\":{\"count\":3,\"firstUsed\":\"2026-05-01T12:00:00.000Z\","
                  "\"lastUsed\":\"2026-05-01T12:01:00.000Z\"}},\"capabilitiesAttested\":[]}}}");
  EXPECT_EQ(executionStatusBody(true, "2026-05-01T12:00:00.000Z", ""),
            "{\"executed\":true,\"executedAt\":\"2026-05-01T12:00:00.000Z\"}");
  EXPECT_EQ(executionStatusBody(false, "", "boom"),
            "{\"executed\":false,\"executionError\":\"boom\"}");
}

TEST(AimAnswers, AcceptCamelAndSnakeCase) {
  EXPECT_EQ(*parseCreatedId("{\"id\":\"x\",\"name\":\"n\"}"), "x");
  EXPECT_FALSE(parseCreatedId("{\"name\":\"n\"}").ok());
  EXPECT_FALSE(parseCreatedId("not json").ok());
  EXPECT_EQ(parseExistingId("{\"error\":\"…\",\"existingId\":\"e1\",\"name\":\"n\"}"), "e1");
  EXPECT_EQ(parseExistingId("{\"existing_id\":\"e2\"}"), "e2");
  EXPECT_FALSE(parseExistingId("{\"error\":\"x\"}").has_value());

  auto camel = parseVerificationAnswer(
      "{\"id\":\"v\",\"status\":\"approved\",\"approvedBy\":\"bob\",\"expiresAt\":\"t\","
      "\"denialReason\":null,\"trustScore\":0.5,\"enforcementMode\":\"strict\"}");
  ASSERT_TRUE(camel.ok());
  EXPECT_EQ(camel->status, "approved");
  EXPECT_EQ(camel->approvedBy, "bob");
  EXPECT_EQ(camel->enforcementMode, "strict");
  EXPECT_DOUBLE_EQ(camel->trustScore, 0.5);
  auto snake = parseVerificationAnswer(
      "{\"id\":\"v\",\"status\":\"denied\",\"denial_reason\":\"no\",\"trust_score\":1}");
  ASSERT_TRUE(snake.ok());
  EXPECT_EQ(snake->denialReason, "no");
  EXPECT_FALSE(parseVerificationAnswer("{\"id\":\"v\"}").ok());

  auto list = parseRevocationList(
      "{\"revocations\":[{\"agentId\":\"ABC\",\"reason\":\"revoked\"},{\"agent_id\":\"d\"}],"
      "\"total\":2,\"generatedAt\":\"t\"}");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0], "abc");
  EXPECT_EQ((*list)[1], "d");
  EXPECT_FALSE(parseRevocationList("{\"total\":0}").ok());

  HeartbeatAnswer hb = parseHeartbeatAnswer(
      "{\"agentId\":\"a\",\"status\":\"verified\",\"lastHeartbeat\":\"t\",\"trustScore\":0.9}");
  EXPECT_EQ(hb.status, "verified");
  EXPECT_DOUBLE_EQ(hb.trustScore, 0.9);
}

TEST(AimAnswers, RetryAfter) {
  auto now = std::chrono::system_clock::from_time_t(784111777); // Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(parseRetryAfter("120", now), std::chrono::seconds(120));
  EXPECT_EQ(parseRetryAfter(" 0 ", now), std::chrono::seconds(0));
  EXPECT_EQ(parseRetryAfter("Sun, 06 Nov 1994 08:49:47 GMT", now), std::chrono::seconds(10));
  EXPECT_EQ(parseRetryAfter("Sun, 06 Nov 1994 08:49:00 GMT", now), std::chrono::seconds(0));
  EXPECT_FALSE(parseRetryAfter("soon", now).has_value());
  EXPECT_FALSE(parseRetryAfter("", now).has_value());
  EXPECT_FALSE(parseRetryAfter("-5", now).has_value());
}

TEST(AimAnswers, Helpers) {
  EXPECT_TRUE(isUuid("a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"));
  EXPECT_TRUE(isUuid("A1B2C3D4-E5F6-4A7B-8C9D-0E1F2A3B4C5D"));
  EXPECT_FALSE(isUuid("a1b2c3d4e5f64a7b8c9d0e1f2a3b4c5d"));
  EXPECT_FALSE(isUuid("g1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"));
  EXPECT_EQ(bodyExcerpt("a\nb"), "a b");
  EXPECT_EQ(bodyExcerpt(""), "(empty body)");
  EXPECT_EQ(bodyExcerpt(std::string(300, 'x'), 10), std::string(10, 'x') + "…");
}

} // namespace
} // namespace sidecar::aim
