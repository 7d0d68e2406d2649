// `mcp-sidecar stdio --gate TOOL` with AIM (docs/stdio-proxy.md, "Gated tools"), end to end: the
// real binary between the test (its stdin and stdout, as an MCP client) and the real
// server-everything, against the fake AIM (tests/support/fake_aim/fake_aim.mjs), which checks
// every signature it receives. Every test with AIM ends by requiring that the fake accepted every
// request it received.

#include <gtest/gtest.h>

#include <rapidjson/document.h>
#include <signal.h>
#include <sys/wait.h>
#include <thread>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/fake_aim/fake_aim_process.h"
#include "tests/support/http_client.h"
#include "tests/support/peers.h"
#include "tests/support/process.h"
#include "tests/support/sidecar.h"
#include "tests/support/temp_dir.h"

namespace sidecar::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kApiKey = "aim_live_c2lkZWNhci10ZXN0LWtleS0wMDAwMDAwMDAwMDAwMDA";

const char* const kInitialize =
    R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",)"
    R"("capabilities":{},"clientInfo":{"name":"stdio-aim-test","version":"1"}}})";
const char* const kInitialized = R"({"jsonrpc":"2.0","method":"notifications/initialized"})";

std::string sumCall(int id) {
  return R"({"jsonrpc":"2.0","id":)" + std::to_string(id) +
         R"(,"method":"tools/call","params":{"name":"get-sum","arguments":{"a":2,"b":3}}})";
}

std::string echoCall(int id) {
  return R"({"jsonrpc":"2.0","id":)" + std::to_string(id) +
         R"(,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}})";
}

std::regex idPattern(int id) {
  return std::regex("\"id\":" + std::to_string(id) + "[,}]");
}

bool waitFor(const std::function<bool()>& condition, milliseconds timeout = seconds(20)) {
  return waitUntil(condition, scaled(timeout));
}

std::vector<std::string> readLines(const std::string& path) {
  std::ifstream f(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(f, l);)
    lines.push_back(l);
  return lines;
}

class StdioAimTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(everything()))
        << everything() << " is missing: run scripts/install-peers.sh (scripts/test.sh does)";
    fake_ = FakeAim::start({{kApiKey}, "", "", 0});
    ASSERT_TRUE(fake_);
  }

  void TearDown() override {
    if (sidecar_ && sidecar_->running()) {
      sidecar_->closeStdin();
      auto st = sidecar_->waitExit(scaled(seconds(15)));
      EXPECT_TRUE(st && WIFEXITED(*st) && WEXITSTATUS(*st) == 0)
          << (st ? Process::describeStatus(*st) : "still running");
    }
    if (fake_)
      fake_->expectAllVerdictsOk();
  }

  // The sidecar with --gate get-sum and an admin port, with or without the fake AIM.
  void start(bool withAim = true) {
    adminPort_ = unusedLoopbackPort();
    std::vector<std::string> argv{SidecarProcess::binaryPath(),
                                  "stdio",
                                  "--state-dir",
                                  tmp_.file("state"),
                                  "--admin",
                                  "127.0.0.1:" + std::to_string(adminPort_),
                                  "--gate",
                                  "get-sum"};
    if (withAim)
      argv.insert(argv.end(), {"--aim-url", fake_->url(), "--aim-heartbeat-interval", "1",
                               "--aim-usage-interval", "1", "--aim-retry-max", "1"});
    argv.insert(argv.end(), {"--", nodeBinary(), everything(), "stdio"});
    sidecar_ = Process::spawn(argv, {{"AIM_API_KEY", kApiKey}}, "", true);
    ASSERT_TRUE(sidecar_);
    ASSERT_NE(ask(kInitialize, 1), "");
    send(kInitialized);
  }

  void send(const std::string& message) { EXPECT_TRUE(sidecar_->writeStdin(message + "\n")); }

  // Sends one request and returns the stdout line that answers it, or "" on timeout.
  std::string ask(const std::string& message, int id) {
    size_t from = sidecar_->outputSize(Stream::Stdout);
    send(message);
    return answer(id, seconds(30), from);
  }

  std::string answer(int id, milliseconds timeout = seconds(30), size_t from = 0) {
    auto line = sidecar_->waitForOutput(idPattern(id), Stream::Stdout, scaled(timeout), from);
    return line ? line->line : std::string();
  }

  bool answered(int id) {
    return std::regex_search(sidecar_->stdoutText(),
                             std::regex("\"id\":" + std::to_string(id) + "[,}]"));
  }

  // The id of the one MCP server registered at the fake; "" until then.
  std::string serverId() {
    rapidjson::Document st = fake_->state();
    if (!st.HasMember("servers") || st["servers"].Size() == 0)
      return "";
    return st["servers"][0]["id"].GetString();
  }

  uint64_t usageCount(const std::string& tool) {
    rapidjson::Document st = fake_->state();
    std::string id = serverId();
    if (id.empty() || !st.HasMember("usage") || !st["usage"].HasMember(id.c_str()))
      return 0;
    const auto& tools = st["usage"][id.c_str()]["tools"];
    return tools.HasMember(tool.c_str()) ? tools[tool.c_str()]["count"].GetUint64() : 0;
  }

  struct Verification {
    std::string id;
    std::vector<bool> executed; // one per execution status received
    std::vector<std::string> errors;
  };
  std::vector<Verification> verifications() {
    std::vector<Verification> out;
    rapidjson::Document st = fake_->state();
    if (!st.HasMember("verifications"))
      return out;
    for (const auto& v : st["verifications"].GetArray()) {
      Verification x;
      x.id = v["id"].GetString();
      for (const auto& e : v["executions"].GetArray()) {
        x.executed.push_back(e["executed"].IsBool() && e["executed"].GetBool());
        x.errors.push_back(e["executionError"].IsString() ? e["executionError"].GetString() : "");
      }
      out.push_back(std::move(x));
    }
    return out;
  }

  // The first audit line holding `needle`. The writer thread commits records in groups (at
  // least every 100 ms), so a record may reach the file a little after the answer reaches the
  // client: wait up to `patience` for it. A check that a record is absent passes zero, after a
  // positive wait has shown that the records written before it are in the file.
  std::string auditWith(const std::string& needle, milliseconds patience = seconds(5)) {
    std::string found;
    waitFor(
        [&] {
          for (const std::string& l : readLines(tmp_.file("state/audit.ndjson")))
            if (l.find(needle) != std::string::npos) {
              found = l;
              return true;
            }
          return false;
        },
        patience);
    return found;
  }

  std::string metrics() { return request(adminPort_, "GET", "/metrics").body; }

  FakeAimPtr fake_;
  ProcessPtr sidecar_;
  TempDir tmp_{"stdio-aim"};
  uint16_t adminPort_ = 0;
};

TEST_F(StdioAimTest, ApprovedCallIsForwardedOnceAndItsExecutionReported) {
  start();
  // Registered with AIM under the server's name, with the tools of its list.
  ASSERT_TRUE(waitFor([&] { return !serverId().empty(); })) << sidecar_->stderrText();
  rapidjson::Document st = fake_->state();
  const auto& server = st["servers"][0];
  EXPECT_EQ(std::string(server["name"].GetString()), "server-everything");
  EXPECT_EQ(std::string(server["url"].GetString()).rfind("stdio://", 0), 0u)
      << server["url"].GetString();
  std::set<std::string> caps;
  for (const auto& c : server["capabilities"].GetArray())
    caps.insert(c["name"].GetString());
  EXPECT_TRUE(caps.count("echo") && caps.count("get-sum")) << "registered with the tools listed";

  // Approved (the fake's default): the server answers it.
  std::string sum = ask(sumCall(3), 3);
  EXPECT_NE(sum.find("\"result\""), std::string::npos) << sum;
  EXPECT_NE(sum.find('5'), std::string::npos) << sum;
  // A tool that is not gated never asks AIM.
  std::string echo = ask(echoCall(4), 4);
  EXPECT_NE(echo.find("Echo: hi"), std::string::npos) << echo;

  ASSERT_TRUE(waitFor([&] {
    auto v = verifications();
    return v.size() == 1 && v[0].executed.size() == 1;
  })) << "one verification with one execution status";
  auto v = verifications();
  EXPECT_TRUE(v[0].executed[0]) << v[0].errors[0];
  EXPECT_TRUE(waitFor([&] { return usageCount("get-sum") == 1 && usageCount("echo") == 1; }))
      << "get-sum " << usageCount("get-sum") << ", echo " << usageCount("echo");

  std::string record = auditWith("\"rpc_id\":3,\"method\":\"tools/call\",\"tool\":\"get-sum\"");
  EXPECT_NE(record.find("\"kind\":\"operation\""), std::string::npos) << record;
  EXPECT_NE(record.find("\"outcome\":\"ok\""), std::string::npos) << record;
  std::string m = metrics();
  EXPECT_NE(m.find("mcp_sidecar_aim_registered 1"), std::string::npos) << m;
}

TEST_F(StdioAimTest, DeniedCallIsAnsweredByTheSidecarAndAudited) {
  start();
  fake_->post("/__fake/decisions", R"({"status":"denied","denialReason":"not today"})");
  std::string denied = ask(sumCall(3), 3);
  EXPECT_NE(denied.find("\"code\":-31003"), std::string::npos) << denied;
  EXPECT_NE(denied.find("\"reason\":\"approval_denied\""), std::string::npos) << denied;
  EXPECT_NE(denied.find("not today"), std::string::npos) << "AIM's reason reaches the client";
  EXPECT_EQ(denied.find("\"result\""), std::string::npos) << denied;

  // The next call (approved by default) goes through: the refusal was of that call only.
  EXPECT_NE(ask(sumCall(4), 4).find("\"result\""), std::string::npos);
  ASSERT_TRUE(waitFor([&] {
    auto v = verifications();
    size_t executions = 0;
    for (const auto& x : v)
      executions += x.executed.size();
    return v.size() == 2 && executions == 1;
  })) << "two verifications, an execution status for the approved one only";

  std::string record = auditWith("\"rpc_id\":3,");
  EXPECT_NE(record.find("\"kind\":\"rejected\""), std::string::npos) << record;
  EXPECT_NE(record.find("\"reason\":\"approval_denied\""), std::string::npos) << record;
  EXPECT_EQ(auditWith("\"kind\":\"operation\",\"session\":null,\"rpc_id\":3,", milliseconds(0)), "")
      << "the server never saw the denied call";
  std::string m = metrics();
  EXPECT_NE(
      m.find(
          R"(mcp_sidecar_requests_total{method="tools/call",outcome="rejected",tool="get-sum"} 1)"),
      std::string::npos)
      << m;
  EXPECT_TRUE(waitFor([&] { return usageCount("get-sum") == 1; }))
      << "usage counts only the call forwarded";
}

TEST_F(StdioAimTest, PendingCallWaitsWhileOtherMessagesFlow) {
  start();
  fake_->post("/__fake/decisions", R"({"status":"pending"})");
  send(sumCall(5));
  ASSERT_TRUE(waitFor([&] { return verifications().size() == 1; })) << "AIM was asked";

  // Held: other requests pass it.
  std::string echo = ask(echoCall(6), 6);
  EXPECT_NE(echo.find("Echo: hi"), std::string::npos) << echo;
  EXPECT_NE(ask(R"({"jsonrpc":"2.0","id":7,"method":"ping"})", 7), "");
  EXPECT_FALSE(answered(5)) << "the gated call waits for AIM";

  std::string id = verifications()[0].id;
  fake_->post("/__fake/verifications/" + id + "/decide", R"({"status":"approved"})");
  std::string sum = answer(5);
  EXPECT_NE(sum.find("\"result\""), std::string::npos) << sum;
  ASSERT_TRUE(waitFor([&] {
    auto v = verifications();
    return v.size() == 1 && v[0].executed.size() == 1;
  })) << "its execution status reached AIM";
  EXPECT_TRUE(verifications()[0].executed[0]);
}

TEST_F(StdioAimTest, WithoutAimGatedCallsAreRefusedAndTheRestWorks) {
  start(false);
  std::string refused = ask(sumCall(3), 3);
  EXPECT_NE(refused.find("\"code\":-31003"), std::string::npos) << refused;
  EXPECT_NE(refused.find("--aim-url"), std::string::npos) << "the reason says what to do";
  EXPECT_NE(ask(echoCall(4), 4).find("Echo: hi"), std::string::npos);
  EXPECT_TRUE(sidecar_->waitForOutput("AIM is off", Stream::Stderr, seconds(1)));
  EXPECT_NE(auditWith("\"kind\":\"rejected\""), "");
  EXPECT_TRUE(fake_->requests().empty());
}

TEST_F(StdioAimTest, ClientCancellingAHeldCallDropsItUnanswered) {
  start();
  fake_->post("/__fake/decisions", R"({"status":"pending"})");
  send(sumCall(9));
  ASSERT_TRUE(waitFor([&] { return verifications().size() == 1; })) << "AIM was asked";
  send(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":9,)"
       R"("reason":"user gave up"}})");
  std::string record;
  ASSERT_TRUE(waitFor([&] {
    record = auditWith("\"rpc_id\":9,");
    return !record.empty();
  })) << "the cancelled call is in the audit trail";
  EXPECT_NE(record.find("\"reason\":\"approval_cancelled\""), std::string::npos) << record;

  // AIM approves it afterwards: the call must not run, and gets no answer (MCP: a cancelled
  // request is not answered).
  std::string id = verifications()[0].id;
  fake_->post("/__fake/verifications/" + id + "/decide", R"({"status":"approved"})");
  EXPECT_NE(ask(R"({"jsonrpc":"2.0","id":10,"method":"ping"})", 10), "");
  std::this_thread::sleep_for(scaled(milliseconds(1500))); // AIM's poll and the loop's turn
  EXPECT_FALSE(answered(9)) << sidecar_->stdoutText();
  auto v = verifications();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_TRUE(v[0].executed.empty()) << "a call never made has no execution status";
}

TEST_F(StdioAimTest, StdinEofWhileACallIsHeldCancelsItAndExitsCleanly) {
  start();
  fake_->post("/__fake/decisions", R"({"status":"pending"})");
  send(sumCall(8));
  ASSERT_TRUE(waitFor([&] { return verifications().size() == 1; })) << "AIM was asked";
  auto m = sidecar_->waitForOutput(std::regex("\"msg\":\"MCP server started\".*\"pid\":([0-9]+)"),
                                   Stream::Stderr, scaled(seconds(5)));
  ASSERT_TRUE(m);
  pid_t child = static_cast<pid_t>(std::stol(m->groups[1]));

  sidecar_->closeStdin();
  auto status = sidecar_->waitExit(scaled(seconds(15)));
  ASSERT_TRUE(status) << "the sidecar did not exit after stdin EOF";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << Process::describeStatus(*status);
  EXPECT_NE(::kill(child, 0), 0);
  EXPECT_EQ(errno, ESRCH) << "the MCP server outlived the sidecar";

  std::string cancelled = answer(8, seconds(1));
  EXPECT_NE(cancelled.find("\"code\":-31003"), std::string::npos) << cancelled;
  EXPECT_NE(cancelled.find("before AIM decided"), std::string::npos) << cancelled;
  std::string record = auditWith("\"rpc_id\":8,");
  EXPECT_NE(record.find("\"reason\":\"approval_cancelled\""), std::string::npos) << record;
  EXPECT_NE(auditWith("\"kind\":\"stop\""), "") << "the trail is sealed";
  auto v = verifications();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_TRUE(v[0].executed.empty()) << "a call never made has no execution status";
}

} // namespace
} // namespace sidecar::test
