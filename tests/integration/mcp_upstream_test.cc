// The sidecar in front of a real MCP server from npm (@modelcontextprotocol/server-everything
// over Streamable HTTP): a whole MCP session passes through unchanged.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "tests/support/http_client.h"
#include "tests/support/peers.h"
#include "tests/support/process.h"
#include "tests/support/sidecar.h"

namespace sidecar::test {
namespace {

using std::chrono::seconds;

class McpUpstreamTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string every = everything();
    ASSERT_TRUE(std::filesystem::exists(every))
        << every << " is missing: run scripts/install-peers.sh (scripts/test.sh does)";
    uint16_t port = serverPort_ = unusedLoopbackPort();
    server_ = Process::spawn({"node", every, "streamableHttp"}, {{"PORT", std::to_string(port)}});
    ASSERT_TRUE(waitUntil(
        [&] {
          auto c = RawConnection::connect(port, std::chrono::milliseconds(200));
          return c != nullptr;
        },
        scaled(seconds(20))))
        << server_->stderrText() << server_->stdoutText();
    sidecar_ = SidecarProcess::start(
        {"--upstream", "http://127.0.0.1:" + std::to_string(port) + "/mcp", "--verify", "off"});
    ASSERT_TRUE(sidecar_);
  }

  Response call(const std::string& body, const std::string& session = "",
                const std::string& method = "POST") {
    std::vector<std::pair<std::string, std::string>> h{
        {"Content-Type", "application/json"},
        {"Accept", "application/json, text/event-stream"},
        {"MCP-Protocol-Version", "2025-06-18"}};
    if (!session.empty())
      h.emplace_back("Mcp-Session-Id", session);
    return request(sidecar_->port(), method, "/mcp", h, body);
  }

  ProcessPtr server_;
  uint16_t serverPort_ = 0;
  SidecarProcessPtr sidecar_;
};

// The sidecar's own session with the HTTP upstream: the capabilities document lists the server's
// tools and resources, and the drift baseline is learned from the same list.
TEST_F(McpUpstreamTest, OwnListingFeedsCapabilitiesAndDrift) {
  Response doc;
  ASSERT_TRUE(waitUntil(
      [&] {
        doc = request(sidecar_->port(), "GET", "/.well-known/mcp/capabilities");
        return doc.body.find("\"get-sum\"") != std::string::npos;
      },
      scaled(seconds(20))))
      << doc.summary();
  EXPECT_EQ(doc.status, 200);
  EXPECT_TRUE(doc.hasHeader("x-mcp-signature")) << "the sidecar's own answer is signed";
  EXPECT_NE(doc.body.find("\"mimeTypes\""), std::string::npos) << "resources carry AIM's mimeTypes";
  EXPECT_NE(doc.body.find("\"serverInfo\":{\"name\":\"mcp-servers/everything\""), std::string::npos)
      << doc.body.substr(0, 400);
  // The same listing feeds drift right after the document (a moment later: wait for it).
  Response status;
  EXPECT_TRUE(waitUntil(
      [&] {
        status = request(sidecar_->adminPort(), "GET", "/status");
        return status.body.find("\"baseline\":\"sha256:") != std::string::npos;
      },
      scaled(seconds(10))))
      << "drift learned the HTTP upstream's tools: " << status.body;
  // The listing's session was ended: it is not forwarded traffic, and leaves nothing behind.
  Response accept = request(sidecar_->adminPort(), "POST", "/drift/accept");
  EXPECT_EQ(accept.status, 202) << accept.summary();
}

TEST_F(McpUpstreamTest, SessionThroughTheSidecar) {
  Response init = call(
      R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"sidecar-test","version":"1"}}})");
  ASSERT_EQ(init.status, 200) << init.summary();
  auto session = init.header("mcp-session-id");
  ASSERT_TRUE(session) << "the upstream's Mcp-Session-Id did not come through: " << init.summary();
  EXPECT_NE(init.body.find("\"serverInfo\""), std::string::npos) << init.body;

  Response initialized =
      call(R"({"jsonrpc":"2.0","method":"notifications/initialized"})", *session);
  EXPECT_EQ(initialized.status, 202) << initialized.summary();

  Response list = call(R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})", *session);
  ASSERT_EQ(list.status, 200) << list.summary();
  EXPECT_NE(list.body.find("\"echo\""), std::string::npos) << list.body;

  Response echo = call(
      R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"message":"through the sidecar"}}})",
      *session);
  ASSERT_EQ(echo.status, 200) << echo.summary();
  EXPECT_NE(echo.body.find("Echo: through the sidecar"), std::string::npos) << echo.body;
  EXPECT_NE(echo.body.find("\"id\":3"), std::string::npos);

  Response bad = call(
      R"({"jsonrpc":"2.0","id":"x","method":"tools/call","params":{"name":"no-such-tool","arguments":{}}})",
      *session);
  ASSERT_EQ(bad.status, 200) << bad.summary();

  // The exchanges were observed as they passed (answers JSON or SSE alike): counted by method,
  // tool (names learned from the tools/list that passed) and outcome.
  // An SSE answer used to be recorded only at its stream's end, which can reach the sidecar after
  // the client has read the answer's event; it is now recorded at the event. The race was seen
  // about one run in ten and could not be reproduced on demand, so the check still allows 5 s.
  std::string m;
  waitUntil(
      [&] {
        m = request(sidecar_->adminPort(), "GET", "/metrics").body;
        return m.find(R"(tools/call",outcome="tool_error",tool="other"} 1)") != std::string::npos ||
               m.find(R"(tools/call",outcome="rpc_error",tool="other"} 1)") != std::string::npos;
      },
      scaled(seconds(5)));
  EXPECT_NE(m.find(R"(mcp_sidecar_requests_total{method="tools/call",outcome="ok",tool="echo"} 1)"),
            std::string::npos)
      << m;
  bool toolError =
      m.find(
          R"(mcp_sidecar_requests_total{method="tools/call",outcome="tool_error",tool="other"} 1)") !=
          std::string::npos ||
      m.find(
          R"(mcp_sidecar_requests_total{method="tools/call",outcome="rpc_error",tool="other"} 1)") !=
          std::string::npos;
  EXPECT_TRUE(toolError) << "an unknown tool is an error, and its name is labelled other: " << m;
  EXPECT_NE(m.find(R"(mcp_sidecar_requests_total{method="initialize",outcome="ok",tool=""} 1)"),
            std::string::npos)
      << m;

  Response gone = call("", *session, "DELETE");
  EXPECT_LT(gone.status, 300) << gone.summary();
  Response after = call(R"({"jsonrpc":"2.0","id":4,"method":"tools/list"})", *session);
  // Whatever the server answers for an ended session (server-everything: 400) passes through
  // unchanged: the same request sent to the server directly gets the same status and body.
  Response direct = request(serverPort_, "POST", "/mcp",
                            {{"Content-Type", "application/json"},
                             {"Accept", "application/json, text/event-stream"},
                             {"MCP-Protocol-Version", "2025-06-18"},
                             {"Mcp-Session-Id", *session}},
                            R"({"jsonrpc":"2.0","id":4,"method":"tools/list"})");
  EXPECT_GE(after.status, 400) << after.summary();
  EXPECT_EQ(after.status, direct.status) << after.summary() << "\n---\n" << direct.summary();
  EXPECT_EQ(after.body, direct.body);
}

TEST_F(McpUpstreamTest, ReadyOnlyWhileTheServerAnswers) {
  EXPECT_TRUE(
      waitUntil([&] { return request(sidecar_->adminPort(), "GET", "/readyz").status == 200; },
                scaled(seconds(6))));
  server_->sendSignal(SIGTERM);
  server_->waitExit(scaled(seconds(5)));
  EXPECT_TRUE(
      waitUntil([&] { return request(sidecar_->adminPort(), "GET", "/readyz").status == 503; },
                scaled(seconds(6))));
}

} // namespace
} // namespace sidecar::test
