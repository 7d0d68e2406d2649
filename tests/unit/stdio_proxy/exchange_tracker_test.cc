#include "stdio_proxy/exchange_tracker.h"

#include <gtest/gtest.h>

namespace sidecar::stdio_proxy {
namespace {

std::optional<Exchange> answer(ExchangeTracker& t, std::string_view line, uint64_t nowNs) {
  return t.response(mcp::scanMessage(line), line, nowNs);
}

TEST(ExchangeTrackerTest, PairsRequestsAndAnswersByExactIdText) {
  ExchangeTracker t;
  std::string call =
      R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}})";
  std::string callS =
      R"({"jsonrpc":"2.0","id":"7","method":"tools/call","params":{"name":"add","arguments":{"a":1}}})";
  ASSERT_TRUE(t.request(mcp::scanMessage(call), call, 1'000'000));
  ASSERT_TRUE(t.request(mcp::scanMessage(callS), callS, 2'000'000));
  EXPECT_FALSE(t.request(mcp::scanMessage(call), call, 3'000'000)) << "the same id twice";
  EXPECT_EQ(t.inflight(), 2u);

  std::string err = R"({"jsonrpc":"2.0","id":"7","error":{"code":-32602,"message":"bad"}})";
  auto e = answer(t, err, 5'500'000);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->rpcId, "\"7\"");
  EXPECT_EQ(e->tool, "add");
  EXPECT_EQ(e->outcome, "rpc_error");
  EXPECT_EQ(e->reason, "-32602");
  EXPECT_DOUBLE_EQ(e->latencyMs, 3.5);
  EXPECT_EQ(e->bytesIn, callS.size());
  EXPECT_EQ(e->bytesOut, err.size());
  EXPECT_EQ(e->args, std::optional<std::string>(R"({"a":1})"));

  std::string toolErr = R"({"jsonrpc":"2.0","id":7,"result":{"content":[],"isError":true}})";
  e = answer(t, toolErr, 2'000'000);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->rpcId, "7");
  EXPECT_EQ(e->method, "tools/call");
  EXPECT_EQ(e->outcome, "tool_error");
  EXPECT_FALSE(answer(t, toolErr, 3'000'000)) << "answered already";
  EXPECT_EQ(t.inflight(), 0u);

  auto rec = operationRecord(*e);
  EXPECT_EQ(rec.kind, audit::RecordKind::Operation);
  EXPECT_EQ(rec.rpcId, "7");
  EXPECT_EQ(rec.tool, "echo");
  EXPECT_EQ(rec.outcome, "tool_error");
  EXPECT_EQ(rec.args, std::optional<std::string>(R"({"message":"hi"})"));
}

TEST(ExchangeTrackerTest, NotesCursorsAndAbandonsWhatIsLeft) {
  ExchangeTracker t;
  std::string first = R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})";
  std::string later = R"({"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"cursor":"c2"}})";
  ASSERT_TRUE(t.request(mcp::scanMessage(first), first, 0));
  ASSERT_TRUE(t.request(mcp::scanMessage(later), later, 0));
  auto e = answer(t, R"({"jsonrpc":"2.0","id":2,"result":{"tools":[]}})", 10);
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->cursor);
  EXPECT_EQ(e->outcome, "ok");
  auto left = t.abandon("upstream_error", "upstream_exited", 2'000'000);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_FALSE(left[0].cursor);
  EXPECT_EQ(left[0].outcome, "upstream_error");
  EXPECT_EQ(left[0].reason, "upstream_exited");
  EXPECT_DOUBLE_EQ(left[0].latencyMs, 2.0);
  EXPECT_EQ(t.inflight(), 0u);
}

TEST(ExchangeTrackerTest, BoundsTheRequestsWaiting) {
  ExchangeTracker t;
  for (size_t i = 0; i < ExchangeTracker::kMaxInflight; ++i) {
    std::string r = R"({"jsonrpc":"2.0","id":)" + std::to_string(i) + R"(,"method":"ping"})";
    ASSERT_TRUE(t.request(mcp::scanMessage(r), r, 0));
  }
  std::string r = R"({"jsonrpc":"2.0","id":"one-too-many","method":"ping"})";
  EXPECT_FALSE(t.request(mcp::scanMessage(r), r, 0));
  EXPECT_EQ(t.untracked(), 1u);
}

TEST(JudgeResponseTest, AnswerWithoutResultOrErrorIsAnUpstreamError) {
  std::string outcome, reason;
  std::string odd = R"({"jsonrpc":"2.0","id":1})";
  judgeResponse(mcp::scanMessage(odd), outcome, reason);
  EXPECT_EQ(outcome, "upstream_error");
}

} // namespace
} // namespace sidecar::stdio_proxy
