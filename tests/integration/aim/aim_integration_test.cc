// The AIM client library (aim/client.h) against the fake AIM (tests/support/fake_aim/fake_aim.mjs),
// a real Node process on loopback that checks every signature byte for byte as aim-wire.md gives
// it and records its verdict for every request. Unless a test sends bad requests on purpose, it
// ends by requiring that every request the fake received was accepted.
//
// First the fake's own checks are proven against bytes worked out by hand from aim-wire.md
// (tests/data/aim/wire-vectors.json): a correct signature is accepted; a wrong byte, a stale
// timestamp, another key are refused. Then the client: registration (fresh, 409, agent id kept
// across restarts), heartbeats, cumulative usage reports (a lost answer and a 429 do no harm), the
// spool across a restart while AIM is down, approvals (approved, denied, pending then decided,
// pending then timed out), the revocation list, AIM's challenge, TLS with a test CA (and refused
// without it), and an outage during 1,000 calls with a kill -9 and a restart in the middle.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <rapidjson/document.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "aim/client.h"
#include "aim/wire.h"
#include "tests/support/fake_aim/fake_aim_process.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "verifier/keys.h"

namespace sidecar::aim {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;
using test::FakeAim;
using test::FakeAimPtr;
using test::FakeAimRequest;

constexpr const char* kApiKey = "aim_live_c2lkZWNhci10ZXN0LWtleS0wMDAwMDAwMDAwMDAwMDA";

class TempDir : public sidecar::test::TempDir {
public:
  TempDir() : sidecar::test::TempDir("aim-it") {}
};

bool waitFor(const std::function<bool()>& condition, milliseconds timeout = seconds(15)) {
  return test::waitUntil(condition, test::scaled(timeout));
}

std::string readFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Milliseconds since the epoch of the fake's ISO 8601 time, e.g. 2026-11-24T19:22:38.478Z.
int64_t isoMillis(const std::string& text) {
  struct tm tm {};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  int64_t ms = 0;
  if (rest != nullptr && *rest == '.')
    ms = std::atoi(rest + 1);
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

std::vector<FakeAimRequest> ofRoute(const std::vector<FakeAimRequest>& all,
                                    const std::string& route) {
  std::vector<FakeAimRequest> out;
  for (const auto& r : all)
    if (r.route == route)
      out.push_back(r);
  return out;
}

// A gated call's outcome, waited for from the test thread.
class ApprovalWait {
public:
  ApprovalCallback callback() {
    return [this](const ApprovalResult& r) {
      std::lock_guard<std::mutex> lock(mu_);
      result_ = r;
      thread_ = std::this_thread::get_id();
      cv_.notify_all();
    };
  }
  std::optional<ApprovalResult> wait(milliseconds timeout = seconds(20)) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, test::scaled(timeout), [&] { return result_.has_value(); });
    return result_;
  }
  std::thread::id thread() const { return thread_; }

private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<ApprovalResult> result_;
  std::thread::id thread_;
};

// A minimal HTTP server on loopback standing in for the sidecar's listener, so that the fake AIM
// can run its challenge against AimClient::answerChallenge().
class ChallengeServer {
public:
  using Handler =
      std::function<std::pair<int, std::string>(const std::string& path, const std::string& body)>;
  explicit ChallengeServer(Handler handler) : handler_(std::move(handler)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 8), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~ChallengeServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  uint16_t port() const { return port_; }
  std::vector<std::string> paths() {
    std::lock_guard<std::mutex> lock(mu_);
    return paths_;
  }

private:
  void serve() {
    while (true) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0)
        return;
      std::string in;
      char buf[4096];
      size_t headEnd = std::string::npos;
      size_t want = 0;
      while (true) {
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0)
          break;
        in.append(buf, static_cast<size_t>(n));
        if (headEnd == std::string::npos && (headEnd = in.find("\r\n\r\n")) != std::string::npos) {
          std::smatch m;
          std::string head = in.substr(0, headEnd);
          static const std::regex kLength("[Cc]ontent-[Ll]ength: *([0-9]+)");
          if (std::regex_search(head, m, kLength))
            want = std::stoul(m[1]);
        }
        if (headEnd != std::string::npos && in.size() >= headEnd + 4 + want)
          break;
      }
      std::string path;
      if (size_t sp = in.find(' '); sp != std::string::npos)
        path = in.substr(sp + 1, in.find(' ', sp + 1) - sp - 1);
      std::string body = headEnd == std::string::npos ? "" : in.substr(headEnd + 4);
      {
        std::lock_guard<std::mutex> lock(mu_);
        paths_.push_back(path);
      }
      auto [status, answer] = handler_(path, body);
      std::string out = "HTTP/1.1 " + std::to_string(status) +
                        " X\r\nContent-Type: application/json\r\nContent-Length: " +
                        std::to_string(answer.size()) + "\r\nConnection: close\r\n\r\n" + answer;
      ::send(c, out.data(), out.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }

  Handler handler_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> paths_;
};

class AimIntegration : public ::testing::Test {
protected:
  void SetUp() override {
    fake_ = FakeAim::start({{kApiKey}, "", "", 0});
    ASSERT_TRUE(fake_);
  }

  void TearDown() override {
    for (auto& c : clients_)
      c->stop();
    clients_.clear();
    if (fake_ && checkVerdicts_) {
      fake_->expectAllVerdictsOk();
      rapidjson::Document st = fake_->state();
      if (st.HasMember("usageAnomalies")) {
        EXPECT_EQ(st["usageAnomalies"].Size(), 0u) << "usage totals went down at some point";
      }
    }
  }

  AimOptions options(const std::string& stateDir, const std::string& url = "") {
    AimOptions o;
    o.url = url.empty() ? fake_->url() : url;
    o.stateDir = stateDir;
    o.key = key_;
    o.apiKey = kApiKey;
    o.server.name = "weather";
    o.server.version = "1.0.0";
    o.server.url = serverUrl_;
    o.server.verificationUrl = serverUrl_ + "/.well-known/mcp/verify";
    o.server.capabilities = {"get_weather", "write_file"};
    o.agent.version = "0.1.0";
    o.heartbeatInterval = milliseconds(200);
    o.usageInterval = milliseconds(200);
    o.revocationInterval = milliseconds(200);
    o.retryInitial = milliseconds(50);
    o.retryMax = milliseconds(400);
    o.pollInitial = milliseconds(50);
    o.pollMax = milliseconds(200);
    o.requestTimeout = milliseconds(3000);
    o.gateTimeout = seconds(20);
    return o;
  }

  AimClient& startClient(AimOptions o) {
    auto c = AimClient::create(std::move(o));
    EXPECT_TRUE(c.ok()) << c.error();
    if (!c.ok())
      std::abort();
    clients_.push_back(std::move(*c));
    clients_.back()->start();
    return *clients_.back();
  }

  static bool registered(AimClient& c) {
    return waitFor([&] { return c.status().state == AimState::Registered; });
  }

  uint64_t usageCount(const std::string& serverId, const std::string& tool) {
    rapidjson::Document st = fake_->state();
    if (!st.HasMember("usage") || !st["usage"].HasMember(serverId.c_str()))
      return 0;
    const auto& tools = st["usage"][serverId.c_str()]["tools"];
    if (!tools.HasMember(tool.c_str()))
      return 0;
    return tools[tool.c_str()]["count"].GetUint64();
  }

  // The fake's verifications, as a JSON document with an array under "v".
  rapidjson::Document verifications() {
    rapidjson::Document st = fake_->state();
    rapidjson::Document out;
    out.SetObject();
    rapidjson::Value v(rapidjson::kArrayType);
    if (st.HasMember("verifications"))
      v.CopyFrom(st["verifications"], out.GetAllocator());
    out.AddMember("v", v, out.GetAllocator());
    return out;
  }

  FakeAimPtr fake_;
  verifier::PrivateKey key_ = verifier::generatePrivateKey();
  std::string serverUrl_ = "http://127.0.0.1:18787/mcp";
  std::vector<AimClientPtr> clients_;
  bool checkVerdicts_ = true;
  TempDir tmp_;
};

// ---------------------------------------------------------------------------------------------
// The fake's checks, proven against bytes worked out by hand from aim-wire.md.

class FakeAimChecks : public AimIntegration {
protected:
  void SetUp() override {
    AimIntegration::SetUp();
    checkVerdicts_ = false; // refusals are the point here
    std::string path = std::string(SIDECAR_SOURCE_DIR) + "/tests/data/aim/wire-vectors.json";
    text_ = readFile(path);
    v_.Parse(text_.c_str());
    ASSERT_TRUE(v_.IsObject()) << path;
    agent_ = "6f1c2a4e-3b5d-4c7e-9f80-1a2b3c4d5e6f";
    fake_->post("/__fake/agents", std::string("{\"id\":\"") + agent_ + "\",\"publicKey\":\"" +
                                      v_["public_key_base64"].GetString() + "\"}");
    auto k = verifier::parsePrivateKey(v_["private_key_base64_64"].GetString());
    ASSERT_TRUE(k.ok()) << k.error();
    vkey_ = *k;
  }

  void pinClock(int64_t now) {
    fake_->post("/__fake/clock", "{\"now\":" + std::to_string(now) + "}");
  }

  test::Response send(const std::string& method, const std::string& target, test::Headers h,
                      const std::string& body = "") {
    if (!body.empty())
      h.emplace_back("Content-Type", "application/json");
    return test::request(fake_->port(), method, target, h, body);
  }

  test::Headers agentHeaders(const std::string& ts, const std::string& sig,
                             const std::string& pub) {
    return {
        {"X-Agent-ID", agent_}, {"X-Timestamp", ts}, {"X-Signature", sig}, {"X-Public-Key", pub}};
  }

  static std::string reasonCode(const test::Response& r) {
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    return d.IsObject() && d.HasMember("reasonCode") ? d["reasonCode"].GetString() : "";
  }

  std::string lastVerdict() {
    auto all = fake_->requests();
    return all.empty() ? "" : all.back().verdict;
  }

  std::string text_;
  rapidjson::Document v_;
  std::string agent_;
  verifier::PrivateKey vkey_;
};

TEST_F(FakeAimChecks, AgentRequestSignatures) {
  const auto& hb = v_["agent_request"][0];
  const auto& usage = v_["agent_request"][1];
  std::string pub = v_["public_key_base64"].GetString();
  int64_t ts = hb["timestamp"].GetInt64();
  pinClock(ts);

  // The vector as given: accepted.
  auto r = send("POST", hb["target"].GetString(),
                agentHeaders(std::to_string(ts), hb["signature"].GetString(), pub));
  EXPECT_EQ(r.status, 200) << r.summary();
  EXPECT_EQ(lastVerdict(), "ok");

  // One byte of the signature changed.
  std::string sig = hb["signature"].GetString();
  sig[10] = sig[10] == 'A' ? 'B' : 'A';
  r = send("POST", hb["target"].GetString(), agentHeaders(std::to_string(ts), sig, pub));
  EXPECT_EQ(r.status, 401) << r.summary();
  EXPECT_EQ(reasonCode(r), "signatureInvalid");
  EXPECT_EQ(lastVerdict(), "signature_invalid_ed25519");

  // The body as signed: accepted; one byte of it changed: refused.
  int64_t uts = usage["timestamp"].GetInt64();
  std::string body = usage["body"].GetString();
  r = send("POST", usage["target"].GetString(),
           agentHeaders(std::to_string(uts), usage["signature"].GetString(), pub), body);
  EXPECT_EQ(r.status, 200) << r.summary();
  EXPECT_EQ(lastVerdict(), "ok");
  std::string changed = body;
  changed.back() = ' ';
  changed += "}";
  r = send("POST", usage["target"].GetString(),
           agentHeaders(std::to_string(uts), usage["signature"].GetString(), pub), changed);
  EXPECT_EQ(r.status, 401) << r.summary();
  EXPECT_EQ(reasonCode(r), "signatureInvalid");

  // Stale and future timestamps: ±30 s is the window (§3).
  pinClock(ts + 30);
  r = send("POST", hb["target"].GetString(),
           agentHeaders(std::to_string(ts), hb["signature"].GetString(), pub));
  EXPECT_EQ(r.status, 200) << "30 s is still inside the window";
  pinClock(ts + 31);
  r = send("POST", hb["target"].GetString(),
           agentHeaders(std::to_string(ts), hb["signature"].GetString(), pub));
  EXPECT_EQ(r.status, 401) << r.summary();
  EXPECT_EQ(reasonCode(r), "signatureInvalid");
  EXPECT_EQ(lastVerdict(), "skew_past");
  pinClock(ts - 31);
  r = send("POST", hb["target"].GetString(),
           agentHeaders(std::to_string(ts), hb["signature"].GetString(), pub));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(lastVerdict(), "skew_future");
  pinClock(ts);

  // Another key, presented as such: not the registered key.
  verifier::PrivateKey other = verifier::generatePrivateKey();
  std::string message = hb["message"].GetString();
  std::string otherSig = verifier::base64(verifier::sign(other, message));
  std::string otherPub = verifier::base64(other.pub.bytes);
  r = send("POST", hb["target"].GetString(), agentHeaders(std::to_string(ts), otherSig, otherPub));
  EXPECT_EQ(r.status, 401) << r.summary();
  EXPECT_EQ(reasonCode(r), "agentKeyNotRecognized");
  EXPECT_NE(r.body.find("the signing key is not the registered key of a known agent"),
            std::string::npos);
  // Another key's signature under the registered key's name.
  r = send("POST", hb["target"].GetString(), agentHeaders(std::to_string(ts), otherSig, pub));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(reasonCode(r), "signatureInvalid");

  // An Authorization header makes the middleware step aside (§3): no agent auth then.
  test::Headers h = agentHeaders(std::to_string(ts), hb["signature"].GetString(), pub);
  h.emplace_back("Authorization", "Bearer x");
  r = send("POST", hb["target"].GetString(), h);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(lastVerdict(), "authorization_header_present");

  // Path binding: a valid signature on another agent's path → 403.
  std::string otherPath = "/api/v1/sdk-api/agents/a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d/heartbeat";
  std::string bound =
      verifier::base64(verifier::sign(vkey_, "POST\n" + otherPath + "\n" + std::to_string(ts)));
  r = send("POST", otherPath, agentHeaders(std::to_string(ts), bound, pub));
  EXPECT_EQ(r.status, 403) << r.summary();
  EXPECT_EQ(lastVerdict(), "path_binding_mismatch");
}

TEST_F(FakeAimChecks, PollSignature) {
  const auto& c = v_["poll"][0];
  int64_t ts = c["timestamp"].GetInt64();
  std::string vid = c["verification_id"].GetString(); // upper case, as a client might send it
  fake_->post("/__fake/verifications",
              "{\"id\":\"" + vid + "\",\"agentId\":\"" + agent_ + "\",\"status\":\"approved\"}");
  pinClock(ts);
  auto headers = [&](const std::string& sig, int64_t t) {
    return test::Headers{{"X-AIM-Agent-ID", c["agent_id"].GetString()},
                         {"X-AIM-Timestamp", std::to_string(t)},
                         {"X-AIM-Signature", sig}};
  };
  std::string target = "/api/v1/sdk-api/verifications/" + vid;
  auto r = send("GET", target, headers(c["signature"].GetString(), ts));
  EXPECT_EQ(r.status, 200) << r.summary();
  EXPECT_NE(r.body.find("\"status\":\"approved\""), std::string::npos) << r.body;

  // Signed over the upper-case ids instead: a wrong message.
  std::string upper =
      std::string("GET\n") + target + "\n" + c["agent_id"].GetString() + "\n" + std::to_string(ts);
  r = send("GET", target, headers(verifier::base64(verifier::sign(vkey_, upper)), ts));
  EXPECT_EQ(r.status, 401) << r.summary();
  EXPECT_EQ(lastVerdict(), "signature_invalid_ed25519");

  // ±5 min (§4).
  pinClock(ts + 300);
  EXPECT_EQ(send("GET", target, headers(c["signature"].GetString(), ts)).status, 200);
  pinClock(ts + 301);
  EXPECT_EQ(send("GET", target, headers(c["signature"].GetString(), ts)).status, 401);
  EXPECT_EQ(lastVerdict(), "skew_past");
  pinClock(ts);

  // Another agent's event: 404, so existence cannot be probed.
  fake_->post("/__fake/verifications",
              "{\"id\":\"b1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d\",\"agentId\":"
              "\"c1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d\"}");
  std::string foreign =
      "GET\n/api/v1/sdk-api/verifications/b1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d\n" + agent_ + "\n" +
      std::to_string(ts);
  r = send("GET", "/api/v1/sdk-api/verifications/b1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
           headers(verifier::base64(verifier::sign(vkey_, foreign)), ts));
  EXPECT_EQ(r.status, 404) << r.summary();
}

TEST_F(FakeAimChecks, LegacyBodySignature) {
  const auto& cases = v_["legacy_verification"];
  auto bodyOf = [&](const rapidjson::Value& c, const std::string& contextJson) {
    std::string resource = c["resource"].IsString()
                               ? "\"" +
                                     std::regex_replace(std::string(c["resource"].GetString()),
                                                        std::regex(R"(["\\])"), "\\$&") +
                                     "\""
                               : "null";
    return std::string("{\"agentId\":\"") + c["agent_id"].GetString() + "\",\"capability\":\"" +
           c["capability"].GetString() + "\",\"resource\":" + resource +
           ",\"context\":" + contextJson + ",\"timestamp\":\"" + c["timestamp"].GetString() +
           "\",\"signature\":\"" + c["signature"].GetString() + "\",\"publicKey\":\"" +
           v_["public_key_base64"].GetString() + "\"}";
  };
  auto contextOf = [](const rapidjson::Value& c) {
    std::string out = "{";
    const auto& ctx = c["context"];
    for (rapidjson::SizeType i = 0; i < ctx.MemberCount(); ++i) {
      auto it = ctx.MemberBegin() + i;
      if (i > 0)
        out += ",";
      out += std::string("\"") + it->name.GetString() + "\":";
      out += it->value.IsString() ? "\"" + std::string(it->value.GetString()) + "\""
                                  : std::to_string(it->value.GetInt64());
    }
    return out + "}";
  };
  for (rapidjson::SizeType i = 0; i < cases.Size(); ++i) {
    const auto& c = cases[i];
    SCOPED_TRACE(c["name"].GetString());
    auto r = send("POST", "/api/v1/sdk-api/verifications", {}, bodyOf(c, contextOf(c)));
    EXPECT_EQ(r.status, 201) << r.summary();
    EXPECT_EQ(lastVerdict(), "ok");
  }
  // One byte of the context changed (35 → 36): the rebuilt message no longer matches.
  const auto& c = cases[1];
  std::string ctx = std::regex_replace(contextOf(c), std::regex("35"), "36");
  auto r = send("POST", "/api/v1/sdk-api/verifications", {}, bodyOf(c, ctx));
  EXPECT_EQ(r.status, 401) << r.summary();
  EXPECT_EQ(lastVerdict(), "signature_invalid_ed25519");
  // The v0 spelling of the body is not the current contract.
  r = send("POST", "/api/v1/sdk-api/verifications", {},
           "{\"agent_id\":\"x\",\"action_type\":\"y\",\"timestamp\":\"t\",\"signature\":\"s\","
           "\"public_key\":\"k\"}");
  EXPECT_EQ(r.status, 400);
  // Withdrawn routes.
  EXPECT_EQ(send("POST", "/api/v1/verification-events", {}, "{}").status, 403);
  EXPECT_EQ(send("POST", "/api/v1/sdk-api/verifications/x/result", {}, "{}").status, 403);
}

// ---------------------------------------------------------------------------------------------
// Registration (aim-wire.md §7.1, §8.2).

TEST_F(AimIntegration, RegistersAgentThenServerWithTheRightHeaders) {
  AimClient& c = startClient(options(tmp_.path()));
  ASSERT_TRUE(registered(c)) << c.status().lastError;
  AimStatus s = c.status();
  EXPECT_TRUE(isUuid(s.agentId)) << s.agentId;
  EXPECT_TRUE(isUuid(s.mcpServerId)) << s.mcpServerId;

  rapidjson::Document st = fake_->state();
  ASSERT_EQ(st["agents"].Size(), 1u);
  EXPECT_STREQ(st["agents"][0]["publicKey"].GetString(), verifier::base64(key_.pub.bytes).c_str());
  ASSERT_EQ(st["servers"].Size(), 1u);
  const auto& server = st["servers"][0];
  EXPECT_STREQ(server["url"].GetString(), serverUrl_.c_str());
  EXPECT_STREQ(server["verificationUrl"].GetString(),
               (serverUrl_ + "/.well-known/mcp/verify").c_str());
  EXPECT_STREQ(server["publicKey"].GetString(), verifier::base64(key_.pub.bytes).c_str());
  EXPECT_STREQ(server["registeredByAgent"].GetString(), s.agentId.c_str());
  EXPECT_EQ(server["capabilities"].Size(), 2u);

  auto all = fake_->requests();
  auto agents = ofRoute(all, "register_agent");
  ASSERT_EQ(agents.size(), 1u);
  EXPECT_EQ(agents[0].header("x-api-key"), kApiKey);
  EXPECT_FALSE(agents[0].hasHeader("x-agent-id"));
  EXPECT_EQ(agents[0].status, 201);
  auto servers = ofRoute(all, "register_mcp_server");
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_EQ(servers[0].header("x-agent-id"), s.agentId);
  EXPECT_FALSE(servers[0].hasHeader("authorization"));
  EXPECT_FALSE(servers[0].hasHeader("x-api-key")) << "the API key is used once";

  std::string kept = readFile(tmp_.path() + "/aim/agent.json");
  EXPECT_NE(kept.find(s.agentId), std::string::npos) << kept;
  EXPECT_NE(kept.find(s.mcpServerId), std::string::npos) << kept;
  EXPECT_EQ(fs::status(tmp_.path() + "/aim/agent.json").permissions() & fs::perms::others_read,
            fs::perms::none);
}

TEST_F(AimIntegration, ServerUrlTakenAnswers409AndTheExistingIdIsUsed) {
  rapidjson::Document made = fake_->post(
      "/__fake/mcp-servers", "{\"name\":\"someone-else\",\"url\":\"" + serverUrl_ + "\"}");
  std::string existing = made["id"].GetString();
  AimClient& c = startClient(options(tmp_.path()));
  ASSERT_TRUE(registered(c)) << c.status().lastError;
  EXPECT_EQ(c.status().mcpServerId, existing);
  auto servers = ofRoute(fake_->requests(), "register_mcp_server");
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_EQ(servers[0].status, 409);
}

TEST_F(AimIntegration, AgentIdIsKeptAcrossRestartsAndTheApiKeyUsedOnce) {
  std::string agentId, serverId;
  {
    AimClient& c = startClient(options(tmp_.path()));
    ASSERT_TRUE(registered(c)) << c.status().lastError;
    agentId = c.status().agentId;
    serverId = c.status().mcpServerId;
    c.stop();
  }
  AimOptions o = options(tmp_.path());
  o.apiKey = ""; // not needed any more
  AimClient& c2 = startClient(o);
  ASSERT_TRUE(registered(c2)) << c2.status().lastError;
  EXPECT_EQ(c2.status().agentId, agentId);
  EXPECT_EQ(c2.status().mcpServerId, serverId);
  auto all = fake_->requests();
  EXPECT_EQ(ofRoute(all, "register_agent").size(), 1u);
  auto servers = ofRoute(all, "register_mcp_server");
  ASSERT_EQ(servers.size(), 2u);
  EXPECT_EQ(servers[1].status, 409);
}

TEST_F(AimIntegration, DuplicateAgentNameFailsRegistrationClearly) {
  AimClient& first = startClient(options(tmp_.path()));
  ASSERT_TRUE(registered(first));
  TempDir other;
  AimOptions o = options(other.path());
  o.key = verifier::generatePrivateKey();
  AimClient& second = startClient(o);
  ASSERT_TRUE(waitFor([&] { return second.status().state == AimState::Failed; }));
  std::string err = second.status().lastError;
  EXPECT_NE(err.find("POST /api/v1/agents: 409"), std::string::npos) << err;
  EXPECT_NE(err.find("--aim-agent-id"), std::string::npos) << err;
  second.stop();          // before its state directory goes
  checkVerdicts_ = false; // the 409 carries a duplicate_agent_name verdict
}

// ---------------------------------------------------------------------------------------------
// Heartbeats, usage, revocations.

TEST_F(AimIntegration, Heartbeats) {
  AimClient& c = startClient(options(tmp_.path()));
  ASSERT_TRUE(registered(c));
  ASSERT_TRUE(waitFor([&] {
    rapidjson::Document st = fake_->state();
    return st["agents"].Size() == 1 && st["agents"][0]["heartbeats"].GetUint64() >= 3;
  }));
  // The client counts a delivery once it has read AIM's answer, a moment after the fake counted
  // the request.
  EXPECT_TRUE(waitFor([&] { return c.deliveries(AimRoute::Heartbeat, AimResult::Ok) >= 3u; }))
      << c.deliveries(AimRoute::Heartbeat, AimResult::Ok);
  AimStatus s = c.status();
  EXPECT_EQ(s.agentStatus, "verified");
  EXPECT_DOUBLE_EQ(s.trustScore, 0.75);
  for (const auto& r : ofRoute(fake_->requests(), "heartbeat")) {
    EXPECT_EQ(r.body, "") << "a heartbeat has no body";
    EXPECT_EQ(r.method, "POST");
  }
}

TEST_F(AimIntegration, UsageReportsAreCumulativeAcrossRestarts) {
  std::string serverId;
  {
    AimClient& c = startClient(options(tmp_.path()));
    ASSERT_TRUE(registered(c));
    serverId = c.status().mcpServerId;
    for (int i = 0; i < 5; ++i)
      ASSERT_TRUE(c.recordToolCall("echo").ok());
    for (int i = 0; i < 2; ++i)
      ASSERT_TRUE(c.recordToolCall("add").ok());
    ASSERT_TRUE(waitFor([&] { return usageCount(serverId, "echo") == 5; }));
    EXPECT_EQ(usageCount(serverId, "add"), 2u);
    for (int i = 0; i < 3; ++i)
      ASSERT_TRUE(c.recordToolCall("echo").ok());
    ASSERT_TRUE(waitFor([&] { return usageCount(serverId, "echo") == 8; }));
    c.stop();
  }
  AimClient& c2 = startClient(options(tmp_.path()));
  ASSERT_TRUE(registered(c2));
  ASSERT_TRUE(c2.recordToolCall("echo").ok());
  ASSERT_TRUE(waitFor([&] { return usageCount(serverId, "echo") == 9; }));
  EXPECT_EQ(usageCount(serverId, "add"), 2u);
  for (const auto& r : ofRoute(fake_->requests(), "usage_report"))
    EXPECT_NE(r.body.find("\"toolUsage\""), std::string::npos);
}

TEST_F(AimIntegration, ALostAnswerThenRetryDoesNoHarm) {
  fake_->post("/__fake/script", "{\"route\":\"usage_report\",\"action\":\"drop\",\"times\":1}");
  AimClient& c = startClient(options(tmp_.path()));
  ASSERT_TRUE(registered(c));
  for (int i = 0; i < 4; ++i)
    ASSERT_TRUE(c.recordToolCall("echo").ok());
  std::string serverId = c.status().mcpServerId;
  ASSERT_TRUE(waitFor([&] { return c.deliveries(AimRoute::UsageReport, AimResult::Ok) >= 1; }));
  EXPECT_EQ(usageCount(serverId, "echo"), 4u);
  auto reports = ofRoute(fake_->requests(), "usage_report");
  ASSERT_GE(reports.size(), 2u);
  EXPECT_EQ(reports[0].status, 0) << "the first answer was dropped after AIM handled it";
  EXPECT_EQ(reports[1].status, 200);
  EXPECT_EQ(c.deliveries(AimRoute::UsageReport, AimResult::NetworkError), 1u);
  EXPECT_GE(c.possibleDuplicates(), 1u) << "the resend may have been a duplicate, and is counted";
  rapidjson::Document st = fake_->state();
  EXPECT_GE(st["usageReports"].GetUint64(), 2u) << "AIM handled both, and the totals stayed exact";
}

TEST_F(AimIntegration, RateLimitHonoursRetryAfter) {
  fake_->post(
      "/__fake/script",
      "{\"route\":\"usage_report\",\"action\":\"status\",\"status\":429,\"body\":{\"error\":"
      "\"Rate limit exceeded. Please try again later.\"},\"headers\":{\"Retry-After\":\"1\"}}");
  AimClient& c = startClient(options(tmp_.path()));
  ASSERT_TRUE(registered(c));
  ASSERT_TRUE(c.recordToolCall("echo").ok());
  std::string serverId = c.status().mcpServerId;
  ASSERT_TRUE(waitFor([&] { return usageCount(serverId, "echo") == 1; }));
  auto reports = ofRoute(fake_->requests(), "usage_report");
  ASSERT_GE(reports.size(), 2u);
  EXPECT_EQ(reports[0].status, 429);
  EXPECT_GE(isoMillis(reports[1].time) - isoMillis(reports[0].time), 950)
      << reports[0].time << " then " << reports[1].time;
  EXPECT_EQ(c.deliveries(AimRoute::UsageReport, AimResult::RateLimited), 1u);
  EXPECT_EQ(c.possibleDuplicates(), 0u) << "a 429 was not handled: its resend is no duplicate";
}

TEST_F(AimIntegration, RevocationListWithEtag) {
  fake_->post("/__fake/revocations",
              "{\"maxAge\":0,\"agentId\":\"ABCDEF01-2345-4678-9ABC-DEF012345678\"}");
  AimClient& c = startClient(options(tmp_.path()));
  ASSERT_TRUE(waitFor([&] { return c.isRevoked("abcdef01-2345-4678-9abc-def012345678"); }));
  EXPECT_TRUE(c.isRevoked("ABCDEF01-2345-4678-9ABC-DEF012345678"));
  EXPECT_FALSE(c.isRevoked("00000000-0000-0000-0000-000000000000"));
  ASSERT_TRUE(waitFor([&] {
    for (const auto& r : ofRoute(fake_->requests(), "revocations"))
      if (r.status == 304 && r.hasHeader("if-none-match"))
        return true;
    return false;
  }));
  fake_->post("/__fake/revocations", "{\"agentId\":\"00000000-0000-0000-0000-000000000001\"}");
  ASSERT_TRUE(waitFor([&] { return c.isRevoked("00000000-0000-0000-0000-000000000001"); }));
  EXPECT_EQ(c.status().revokedAgents, 2u);
}

TEST_F(AimIntegration, RevocationPollingHonoursMaxAge) {
  // AIM's list is cacheable for 300 s (§7.3): however short the interval, one fetch.
  AimClient& c = startClient(options(tmp_.path()));
  ASSERT_TRUE(registered(c));
  std::this_thread::sleep_for(milliseconds(800));
  EXPECT_EQ(ofRoute(fake_->requests(), "revocations").size(), 1u);
}

// ---------------------------------------------------------------------------------------------
// Approvals (§12).

TEST_F(AimIntegration, ApprovedCallMakesOneVerificationAndOneExecutionStatus) {
  AimClient& c = startClient(options(tmp_.path()));
  ASSERT_TRUE(registered(c));
  ApprovalWait wait;
  ApprovalRequest req;
  req.tool = "write_file";
  req.callId = "c-1";
  req.riskLevel = "high";
  ASSERT_TRUE(c.requestApproval(req, wait.callback()).ok());
  auto result = wait.wait();
  ASSERT_TRUE(result);
  ASSERT_EQ(result->decision, Decision::Approved) << result->reason;
  EXPECT_NE(wait.thread(), std::this_thread::get_id()) << "callbacks run on the AIM thread";
  EXPECT_TRUE(isUuid(result->verificationId));
  EXPECT_EQ(result->approvedBy, "fake-admin");
  ASSERT_TRUE(c.reportExecution(result->verificationId, true, "").ok());
  ASSERT_TRUE(waitFor([&] {
    auto v = verifications();
    return v["v"].Size() == 1 && v["v"][0]["executions"].Size() == 1;
  }));
  auto v = verifications();
  const auto& ver = v["v"][0];
  EXPECT_STREQ(ver["capability"].GetString(), "mcp_tool:write_file");
  EXPECT_STREQ(ver["context"]["call_id"].GetString(), "c-1");
  EXPECT_STREQ(ver["context"]["tool"].GetString(), "write_file");
  EXPECT_STREQ(ver["context"]["risk_level"].GetString(), "high");
  EXPECT_STREQ(ver["riskLevel"].GetString(), "high");
  EXPECT_TRUE(ver["executions"][0]["executed"].GetBool());
  auto all = fake_->requests();
  auto created = ofRoute(all, "verification");
  ASSERT_EQ(created.size(), 1u);
  EXPECT_FALSE(created[0].hasHeader("x-agent-id")) << "a bare route: the signature is in the body";
  EXPECT_EQ(ofRoute(all, "execution_status").size(), 1u);
  ASSERT_TRUE(waitFor([&] { return c.status().spoolRecords == 0; }));
}

TEST_F(AimIntegration, DeniedCall) {
  fake_->post("/__fake/decisions", "{\"status\":\"denied\",\"denialReason\":\"too risky\"}");
  AimClient& c = startClient(options(tmp_.path()));
  ASSERT_TRUE(registered(c));
  ApprovalWait wait;
  ASSERT_TRUE(c.requestApproval(ApprovalRequest{"delete_user", "c-2"}, wait.callback()).ok());
  auto result = wait.wait();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->decision, Decision::Denied);
  EXPECT_EQ(result->reason, "too risky");
  EXPECT_EQ(result->enforcementMode, "strict");
  auto created = ofRoute(fake_->requests(), "verification");
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0].status, 403);
  EXPECT_EQ(c.deliveries(AimRoute::Verification, AimResult::Denied), 1u);
  ASSERT_TRUE(waitFor([&] { return c.status().spoolRecords == 0; }));
  EXPECT_EQ(c.status().deadLetters, 0u);
}

TEST_F(AimIntegration, PendingThenApprovedByAHuman) {
  fake_->post("/__fake/decisions", "{\"status\":\"pending\"}");
  AimClient& c = startClient(options(tmp_.path()));
  ASSERT_TRUE(registered(c));
  ApprovalWait wait;
  ASSERT_TRUE(c.requestApproval(ApprovalRequest{"export_all_data", "c-3"}, wait.callback()).ok());
  ASSERT_TRUE(waitFor([&] { return ofRoute(fake_->requests(), "verification_poll").size() >= 2; }));
  EXPECT_EQ(c.status().pendingApprovals, 1u);
  std::string vid = verifications()["v"][0]["id"].GetString();
  fake_->post("/__fake/verifications/" + vid + "/decide", "{\"status\":\"approved\"}");
  auto result = wait.wait();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->decision, Decision::Approved);
  EXPECT_EQ(result->verificationId, vid);
  for (const auto& p : ofRoute(fake_->requests(), "verification_poll")) {
    EXPECT_TRUE(p.hasHeader("x-aim-agent-id"));
    EXPECT_TRUE(p.hasHeader("x-aim-timestamp"));
    EXPECT_TRUE(p.hasHeader("x-aim-signature"));
    EXPECT_FALSE(p.hasHeader("x-agent-id"));
    EXPECT_EQ(p.status, 200);
  }
}

TEST_F(AimIntegration, PendingThenDeniedWhilePolling) {
  fake_->post("/__fake/decisions", "{\"status\":\"pending\",\"resolveAfterPolls\":3,"
                                   "\"resolution\":\"denied\",\"denialReason\":\"nope\"}");
  AimClient& c = startClient(options(tmp_.path()));
  ASSERT_TRUE(registered(c));
  ApprovalWait wait;
  ASSERT_TRUE(c.requestApproval(ApprovalRequest{"drop_database", "c-4"}, wait.callback()).ok());
  auto result = wait.wait();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->decision, Decision::Denied);
  EXPECT_EQ(result->reason, "nope");
  EXPECT_EQ(ofRoute(fake_->requests(), "verification_poll").size(), 3u);
}

TEST_F(AimIntegration, PendingTimesOut) {
  fake_->post("/__fake/decisions", "{\"status\":\"pending\"}");
  AimClient& c = startClient(options(tmp_.path()));
  ASSERT_TRUE(registered(c));
  ApprovalWait wait;
  ApprovalRequest req{"execute_command", "c-5"};
  req.timeout = milliseconds(700);
  auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.requestApproval(req, wait.callback()).ok());
  auto result = wait.wait();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->decision, Decision::Timeout);
  EXPECT_TRUE(isUuid(result->verificationId));
  EXPECT_GE(std::chrono::steady_clock::now() - started, milliseconds(650));
  size_t polls = ofRoute(fake_->requests(), "verification_poll").size();
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_EQ(ofRoute(fake_->requests(), "verification_poll").size(), polls)
      << "no polling after the timeout";
}

TEST_F(AimIntegration, CancelledApprovalHasNoCallback) {
  fake_->post("/__fake/decisions", "{\"status\":\"pending\"}");
  AimClient& c = startClient(options(tmp_.path()));
  ASSERT_TRUE(registered(c));
  std::atomic<int> calls{0};
  auto id = c.requestApproval(ApprovalRequest{"x", "c-6"}, [&](auto&) { ++calls; });
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(waitFor([&] { return !ofRoute(fake_->requests(), "verification_poll").empty(); }));
  c.cancelApproval(*id);
  std::this_thread::sleep_for(milliseconds(400));
  EXPECT_EQ(calls.load(), 0);
  EXPECT_EQ(c.status().pendingApprovals, 0u);
}

// ---------------------------------------------------------------------------------------------
// Nothing lost.

TEST_F(AimIntegration, SpoolSurvivesARestartWhileAimIsDown) {
  std::string vid, serverId;
  {
    AimClient& c = startClient(options(tmp_.path()));
    ASSERT_TRUE(registered(c));
    serverId = c.status().mcpServerId;
    ApprovalWait wait;
    ASSERT_TRUE(c.requestApproval(ApprovalRequest{"write_file", "c-7"}, wait.callback()).ok());
    auto result = wait.wait();
    ASSERT_TRUE(result);
    ASSERT_EQ(result->decision, Decision::Approved);
    vid = result->verificationId;

    fake_->post("/__fake/mode", "{\"mode\":\"refuse\"}");
    for (int i = 0; i < 10; ++i)
      ASSERT_TRUE(c.recordToolCall("echo").ok());
    ASSERT_TRUE(c.reportExecution(vid, true, "").ok());
    std::this_thread::sleep_for(milliseconds(300));
    c.stop();
    EXPECT_GE(c.status().spoolRecords, 2u);
  }
  AimClient& c2 = startClient(options(tmp_.path()));
  EXPECT_GE(c2.status().spoolRecords, 2u) << "the records were found again after the restart";
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_EQ(verifications()["v"][0]["executions"].Size(), 0u);
  fake_->post("/__fake/mode", "{\"mode\":\"up\"}");
  ASSERT_TRUE(waitFor([&] {
    return verifications()["v"][0]["executions"].Size() == 1 && usageCount(serverId, "echo") == 10;
  })) << c2.status().lastError;
  ASSERT_TRUE(waitFor([&] { return c2.status().spoolRecords == 0; }));
  EXPECT_EQ(c2.status().deadLetters, 0u);
}

TEST_F(AimIntegration, OutageDuringAThousandCallsWithKillNineInTheMiddle) {
  std::string state = tmp_.path() + "/driver";
  auto driver = [&](long from, long pauseAfter) {
    std::vector<std::string> argv = {
        AIM_DRIVER_PATH,      "--url",    fake_->url(), "--state",      state,
        "--server-url",       serverUrl_, "--api-key",  kApiKey,        "--from",
        std::to_string(from), "--to",     "1000",       "--gate-every", "50",
        "--gate-timeout-ms",  "800",      "--sleep-us", "2000"};
    if (pauseAfter > 0) {
      argv.push_back("--pause-after");
      argv.push_back(std::to_string(pauseAfter));
    }
    return test::Process::spawn(argv);
  };
  long counted = 0;
  std::set<long> gated;
  std::map<long, std::string> approved;
  auto tally = [&](const std::string& out) {
    std::istringstream in(out);
    std::string word;
    long n;
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream l(line);
      l >> word >> n;
      if (word == "call") {
        ++counted;
      } else if (word == "approved") {
        ++counted;
        gated.insert(n);
        l >> approved[n];
      } else if (word == "refused") {
        gated.insert(n);
      }
    }
  };

  // Run 1: AIM goes down after call 200; the driver is killed -9 after call 400.
  auto run1 = driver(1, 400);
  ASSERT_TRUE(run1);
  ASSERT_TRUE(run1->waitForOutput("call 201", test::Stream::Stdout, test::scaled(seconds(30))));
  fake_->post("/__fake/mode", "{\"mode\":\"refuse\"}");
  ASSERT_TRUE(run1->waitForOutput("paused 400", test::Stream::Stdout, test::scaled(seconds(60))));
  ASSERT_TRUE(run1->sendSignal(SIGKILL));
  ASSERT_TRUE(run1->waitExit(seconds(10)));
  tally(run1->stdoutText());
  EXPECT_EQ(counted + static_cast<long>(gated.size()) - static_cast<long>(approved.size()), 400);

  // Run 2: restarted while AIM is down; AIM is back after call 600.
  auto run2 = driver(401, 0);
  ASSERT_TRUE(run2);
  ASSERT_TRUE(run2->waitForOutput("call 601", test::Stream::Stdout, test::scaled(seconds(60))));
  fake_->post("/__fake/mode", "{\"mode\":\"up\"}");
  auto done = run2->waitForOutput("done ", test::Stream::Stdout, test::scaled(seconds(90)));
  ASSERT_TRUE(done) << run2->stderrText();
  auto status = run2->waitExit(seconds(10));
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  tally(run2->stdoutText());
  EXPECT_EQ(gated.size(), 20u);
  EXPECT_EQ(counted + static_cast<long>(gated.size()) - static_cast<long>(approved.size()), 1000);
  EXPECT_NE(done->find("spool_records=0"), std::string::npos)
      << "the second run delivered everything before it stopped: " << *done;
  EXPECT_GE(approved.size(), 5u) << "calls gated while AIM was up were approved";
  EXPECT_LE(approved.size(), 15u) << "calls gated while AIM was down were refused";

  // Every usage report and gated-call record arrived; the final totals are exact.
  rapidjson::Document st = fake_->state();
  ASSERT_EQ(st["servers"].Size(), 1u);
  std::string serverId = st["servers"][0]["id"].GetString();
  uint64_t total = usageCount(serverId, "echo") + usageCount(serverId, "add") +
                   usageCount(serverId, "write_file");
  EXPECT_EQ(total, static_cast<uint64_t>(counted));
  EXPECT_EQ(usageCount(serverId, "write_file"), approved.size());

  std::map<std::string, int> byCall;
  std::map<std::string, size_t> executionsByVid;
  auto v = verifications();
  for (rapidjson::SizeType i = 0; i < v["v"].Size(); ++i) {
    const auto& ver = v["v"][i];
    ++byCall[ver["context"]["call_id"].GetString()];
    executionsByVid[ver["id"].GetString()] = ver["executions"].Size();
  }
  EXPECT_EQ(byCall.size(), gated.size()) << "a verification for every gated call";
  for (long n : gated)
    EXPECT_EQ(byCall["call-" + std::to_string(n)], 1) << "call " << n;
  for (const auto& [n, vid] : approved)
    EXPECT_EQ(executionsByVid[vid], 1u) << "one execution status for approved call " << n;
  size_t executions = 0;
  for (const auto& [vid, count] : executionsByVid)
    executions += count;
  EXPECT_EQ(executions, approved.size()) << "and none for a refused call";
}

// ---------------------------------------------------------------------------------------------
// AIM's challenge (§9), against a stand-in for the sidecar's listener.

TEST_F(AimIntegration, ChallengeAnsweredAsAimChecksIt) {
  AimClient* client = nullptr;
  ChallengeServer server([&](const std::string& path, const std::string& body) {
    if (path == "/.well-known/mcp/capabilities")
      return std::make_pair(
          200, std::string(
                   "{\"server\":{\"name\":\"weather\"},\"tools\":[{\"name\":\"get_weather\","
                   "\"description\":\"d\",\"inputSchema\":{\"type\":\"object\"}}],\"resources\":"
                   "[{\"name\":\"Status\",\"uri\":\"server://status\",\"mimeType\":"
                   "\"application/json\",\"mimeTypes\":[\"application/json\"]}],\"prompts\":[]}"));
    auto answer = client->answerChallenge(body);
    return answer.ok() ? std::make_pair(200, *answer)
                       : std::make_pair(400, std::string("{\"error\":\"bad challenge\"}"));
  });
  serverUrl_ = "http://127.0.0.1:" + std::to_string(server.port()) + "/mcp";
  AimClient& c = startClient(options(tmp_.path()));
  client = &c;
  ASSERT_TRUE(registered(c));
  EXPECT_FALSE(c.serverVerified());
  rapidjson::Document verdict =
      fake_->post("/__fake/challenge", "{\"serverId\":\"" + c.status().mcpServerId + "\"}");
  EXPECT_TRUE(verdict["ok"].GetBool())
      << verdict["verdict"].GetString() << " " << verdict["answer"].GetString();
  EXPECT_TRUE(verdict["hasSignedChallenge"].GetBool());
  EXPECT_TRUE(verdict["hasSignedChallengeSnake"].GetBool());
  ASSERT_EQ(server.paths().size(), 1u);
  EXPECT_EQ(server.paths()[0], "/mcp/.well-known/mcp/verify") << "the registered path is kept";
  EXPECT_TRUE(c.serverVerified());

  // The fake also fetches the capabilities document as AIM does: the registered path stripped.
  rapidjson::Document caps =
      fake_->post("/__fake/capabilities", "{\"serverId\":\"" + c.status().mcpServerId + "\"}");
  EXPECT_TRUE(caps["ok"].GetBool()) << caps["verdict"].GetString();
  ASSERT_EQ(server.paths().size(), 2u);
  EXPECT_EQ(server.paths()[1], "/.well-known/mcp/capabilities");
  ASSERT_EQ(caps["capabilities"].Size(), 2u);
  EXPECT_STREQ(caps["capabilities"][1]["schema"]["mimeTypes"][0].GetString(), "application/json");
  c.stop();
  AimClient& c2 = startClient(options(tmp_.path()));
  client = &c2;
  ASSERT_TRUE(registered(c2));
  EXPECT_TRUE(c2.serverVerified()) << "kept across restarts for the same server";
}

// ---------------------------------------------------------------------------------------------
// HTTPS with certificate verification.

TEST_F(AimIntegration, TlsWithTheTestCaAndRefusedWithoutIt) {
  TempDir ca;
  ASSERT_TRUE(test::makeTestCa(ca.path()));
  FakeAimPtr tls =
      FakeAim::start({{kApiKey}, ca.path() + "/server.pem", ca.path() + "/server.key", 0});
  ASSERT_TRUE(tls);
  ASSERT_EQ(tls->url().rfind("https://", 0), 0u);

  AimOptions good = options(tmp_.path() + "/good", tls->url());
  good.caFile = ca.path() + "/ca.pem";
  AimClient& ok = startClient(good);
  ASSERT_TRUE(registered(ok)) << ok.status().lastError;
  ASSERT_TRUE(ok.recordToolCall("echo").ok());
  ASSERT_TRUE(waitFor([&] { return ok.deliveries(AimRoute::UsageReport, AimResult::Ok) >= 1; }));

  for (std::string caFile : {std::string(), ca.path() + "/other-ca.pem"}) {
    SCOPED_TRACE(caFile.empty() ? "the system store" : caFile);
    TempDir state;
    AimOptions bad = options(state.path(), tls->url());
    bad.key = verifier::generatePrivateKey();
    bad.agent.name = "another";
    bad.caFile = caFile;
    AimClient& refused = startClient(bad);
    ASSERT_TRUE(waitFor(
        [&] { return refused.deliveries(AimRoute::RegisterAgent, AimResult::NetworkError) >= 2; }));
    AimStatus s = refused.status();
    EXPECT_EQ(s.state, AimState::Registering) << "still retrying, never trusting";
    EXPECT_NE(s.lastError.find("certificate"), std::string::npos) << s.lastError;
    refused.stop(); // before its state directory goes
  }
  rapidjson::Document st = tls->state();
  EXPECT_GE(st["tlsErrors"].GetUint64(), 2u);
  EXPECT_EQ(st["agents"].Size(), 1u) << "only the client that trusts the CA got through";
  tls->expectAllVerdictsOk();
}

} // namespace
} // namespace sidecar::aim
