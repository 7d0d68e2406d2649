// The AIM client without an AIM: option checks, what it keeps in the state directory, and the
// request-path calls that must answer without the network. The exchanges with AIM itself are
// covered by tests/integration/aim/ against the fake AIM.

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "aim/client.h"
#include "tests/support/temp_dir.h"

namespace sidecar::aim {
namespace {

namespace fs = std::filesystem;

class TempDir : public sidecar::test::TempDir {
public:
  TempDir() : sidecar::test::TempDir("aim-client-test") {}
};

AimOptions baseOptions(const std::string& stateDir) {
  AimOptions o;
  // Port 9 on loopback: nothing listens, so nothing is ever delivered.
  o.url = "http://127.0.0.1:9";
  o.stateDir = stateDir;
  o.key = verifier::generatePrivateKey();
  o.server.name = "weather";
  o.server.url = "http://127.0.0.1:8787/mcp";
  return o;
}

TEST(AimClient, RefusesBadOptionsNamingThem) {
  TempDir tmp;
  AimOptions o = baseOptions(tmp.path());
  o.url = "ftp://aim";
  auto c = AimClient::create(o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().find("--aim-url"), std::string::npos) << c.error();

  o = baseOptions(tmp.path());
  o.server.url = "";
  c = AimClient::create(o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().find("--public-url"), std::string::npos) << c.error();

  o = baseOptions(tmp.path());
  o.heartbeatInterval = std::chrono::milliseconds(0);
  EXPECT_FALSE(AimClient::create(o).ok());

  o = baseOptions(tmp.path());
  o.caFile = tmp.path() + "/missing.pem";
  c = AimClient::create(o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().find("--aim-ca-file"), std::string::npos) << c.error();
}

TEST(AimClient, WithoutAgentIdOrApiKeyRegistrationFailsAndSaysWhy) {
  TempDir tmp;
  auto c = AimClient::create(baseOptions(tmp.path()));
  ASSERT_TRUE(c.ok()) << c.error();
  AimClient& client = **c;
  client.start();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (client.status().state != AimState::Failed && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  AimStatus s = client.status();
  ASSERT_EQ(s.state, AimState::Failed);
  EXPECT_NE(s.lastError.find("--aim-api-key"), std::string::npos) << s.lastError;
  auto approval = client.requestApproval(ApprovalRequest{"write_file"}, [](auto&) {
    ADD_FAILURE() << "a refused approval has no callback";
  });
  ASSERT_FALSE(approval.ok());
  EXPECT_NE(approval.error().find("registration failed"), std::string::npos);
  client.stop();
  EXPECT_EQ(client.status().state, AimState::Stopped);
}

TEST(AimClient, ApprovalRefusesToolNamesThatCannotBeSignedExactly) {
  TempDir tmp;
  auto c = AimClient::create(baseOptions(tmp.path()));
  ASSERT_TRUE(c.ok()) << c.error();
  auto r = (*c)->requestApproval(ApprovalRequest{"caf\xc3\xa9"}, [](auto&) {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("printable ASCII"), std::string::npos) << r.error();
  EXPECT_EQ((*c)->spoolBytes(), 0u) << "nothing spooled for a refused request";
}

TEST(AimClient, RequestPathCallsSpoolWithoutTheNetwork) {
  TempDir tmp;
  AimOptions o = baseOptions(tmp.path());
  o.agentId = "6f1c2a4e-3b5d-4c7e-9f80-1a2b3c4d5e6f";
  {
    auto c = AimClient::create(o);
    ASSERT_TRUE(c.ok()) << c.error();
    ASSERT_TRUE((*c)->recordToolCall("echo").ok());
    ASSERT_TRUE((*c)->reportExecution("a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", true, "").ok());
    ASSERT_TRUE((*c)->reportDetection("{\"detections\":[]}").ok());
    EXPECT_FALSE((*c)->reportDetection("[]").ok());
    EXPECT_FALSE((*c)->reportExecution("", true, "").ok());
    AimStatus s = (*c)->status();
    EXPECT_EQ(s.spoolRecords, 2u);
    EXPECT_GT(s.spoolBytes, 0u);
    EXPECT_TRUE((*c)->ready());
    // Never started: stop() still spools the usage report.
  }
  auto c = AimClient::create(o);
  ASSERT_TRUE(c.ok()) << c.error();
  AimStatus s = (*c)->status();
  EXPECT_EQ(s.spoolRecords, 3u) << "execution status, detection report and a usage report";
}

TEST(AimClient, ReadinessFailsNearTheSpoolBound) {
  TempDir probeDir, tmp;
  uint64_t recordBytes;
  {
    auto probe = AimClient::create(baseOptions(probeDir.path()));
    ASSERT_TRUE(probe.ok()) << probe.error();
    ASSERT_TRUE((*probe)->reportExecution("a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", true, "").ok());
    recordBytes = (*probe)->spoolBytes();
  }
  AimOptions o = baseOptions(tmp.path());
  // Room for three records, which pass 90 % of the bound; the fourth would cross it.
  o.spoolMaxBytes = 3 * recordBytes + recordBytes / 10;
  auto c = AimClient::create(o);
  ASSERT_TRUE(c.ok()) << c.error();
  int accepted = 0;
  Status last;
  for (int i = 0; i < 10; ++i) {
    last = (*c)->reportExecution("a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", true, "");
    if (!last.ok())
      break;
    ++accepted;
  }
  EXPECT_EQ(accepted, 3);
  ASSERT_FALSE(last.ok()) << "the bound refuses, loudly";
  EXPECT_EQ((*c)->spoolRefused(), 1u);
  std::string reason;
  EXPECT_FALSE((*c)->ready(&reason));
  EXPECT_NE(reason.find("--spool-max-bytes"), std::string::npos) << reason;
}

TEST(AimClient, KeptAgentIdIsUsedOnlyForTheSameAimAndKey) {
  TempDir tmp;
  AimOptions o = baseOptions(tmp.path());
  fs::create_directories(tmp.path() + "/aim");
  std::string myKey = verifier::base64(o.key.pub.bytes);
  auto write = [&](const std::string& url, const std::string& key) {
    std::ofstream(tmp.path() + "/aim/agent.json")
        << "{\"aimUrl\":\"" << url << "\",\"publicKey\":\"" << key
        << "\",\"agentId\":\"kept-agent\",\"mcpServerId\":\"\"}";
  };
  write("http://127.0.0.1:9", myKey);
  {
    auto c = AimClient::create(o);
    ASSERT_TRUE(c.ok()) << c.error();
    EXPECT_EQ((*c)->status().agentId, "kept-agent");
  }
  write("http://elsewhere:9", myKey);
  {
    auto c = AimClient::create(o);
    ASSERT_TRUE(c.ok()) << c.error();
    EXPECT_EQ((*c)->status().agentId, "");
  }
  write("http://127.0.0.1:9", verifier::base64(verifier::generatePrivateKey().pub.bytes));
  {
    auto c = AimClient::create(o);
    ASSERT_TRUE(c.ok()) << c.error();
    EXPECT_EQ((*c)->status().agentId, "");
  }
  o.agentId = "from-flag";
  auto c = AimClient::create(o);
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ((*c)->status().agentId, "from-flag");
}

TEST(AimClient, ChallengeAnswerWithoutRegistrationDoesNotVerify) {
  TempDir tmp;
  auto c = AimClient::create(baseOptions(tmp.path()));
  ASSERT_TRUE(c.ok()) << c.error();
  auto a = (*c)->answerChallenge("{\"challenge\":\"abc=\",\"server_id\":\"x\"}");
  ASSERT_TRUE(a.ok()) << a.error();
  EXPECT_NE(a->find("signedChallenge"), std::string::npos);
  EXPECT_FALSE((*c)->serverVerified());
}

TEST(AimClient, Names) {
  EXPECT_STREQ(routeName(AimRoute::UsageReport), "usage_report");
  EXPECT_STREQ(resultName(AimResult::RateLimited), "rate_limited");
  EXPECT_STREQ(stateName(AimState::Registered), "registered");
  EXPECT_STREQ(decisionName(Decision::Timeout), "timeout");
}

} // namespace
} // namespace sidecar::aim
