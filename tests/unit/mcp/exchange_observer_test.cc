#include "mcp/exchange_observer.h"

#include <gtest/gtest.h>

namespace sidecar::mcp {
namespace {

constexpr std::string_view kCall =
    R"({"jsonrpc":"2.0","id":"q1","method":"tools/call","params":{"name":"echo","arguments":{"m":1}}})";

TEST(ExchangeObserver, JsonAnswerInOnePieceOrMany) {
  for (size_t split : {size_t(0), size_t(1), size_t(17)}) {
    ExchangeObserver o;
    ASSERT_TRUE(o.request(kCall, true));
    EXPECT_EQ(o.method(), "tools/call");
    EXPECT_EQ(o.tool(), "echo");
    EXPECT_EQ(o.rpcId(), R"("q1")");
    EXPECT_EQ(o.args().value_or(""), R"({"m":1})");
    std::string answer = R"({"result":{"content":[],"isError":true},"jsonrpc":"2.0","id":"q1"})";
    o.head(200, "application/json; charset=utf-8", answer.size());
    if (split == 0) {
      o.body(answer);
    } else {
      for (size_t i = 0; i < answer.size(); i += split)
        o.body(std::string_view(answer).substr(i, split));
    }
    o.end();
    EXPECT_EQ(o.outcome(), "tool_error") << split;
  }
}

TEST(ExchangeObserver, SseFindsTheAnswerAmongOtherEvents) {
  ExchangeObserver o;
  ASSERT_TRUE(o.request(kCall, false));
  EXPECT_FALSE(o.args());
  o.head(200, "text/event-stream", std::nullopt);
  std::string stream =
      "id: 1\r\nretry: 500\r\ndata: \r\n\r\n"
      "event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\","
      "\"params\":{\"progressToken\":\"q1\"}}\r\n\r\n"
      "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":\"other\",\"result\":{}}\n\n"
      "event: message\rdata: {\"jsonrpc\":\"2.0\",\"id\":\"q1\",\"error\":{\"code\":-32602,"
      "\"message\":\"bad\"}}\r\r";
  for (char c : stream)
    o.body(std::string_view(&c, 1));
  o.end();
  EXPECT_EQ(o.outcome(), "rpc_error");
  EXPECT_EQ(o.reason(), "-32602");
}

TEST(ExchangeObserver, HttpErrorsNotificationsAndOversizedAnswers) {
  ExchangeObserver notification;
  EXPECT_FALSE(
      notification.request(R"({"jsonrpc":"2.0","method":"notifications/initialized"})", true));
  ExchangeObserver failed;
  ASSERT_TRUE(failed.request(kCall, false));
  failed.head(502, "application/json", std::nullopt);
  failed.end();
  EXPECT_EQ(failed.outcome(), "upstream_error");
  EXPECT_EQ(failed.reason(), "http_502");
  ExchangeObserver big;
  ASSERT_TRUE(big.request(kCall, false));
  big.head(200, "application/json", std::nullopt);
  std::string chunk(64 << 10, ' ');
  for (int i = 0; i < 20; ++i)
    big.body(chunk);
  big.end();
  EXPECT_EQ(big.outcome(), "unknown");
}

TEST(ExchangeObserver, ToolsListAnswerGivesTheNames) {
  ExchangeObserver o;
  ASSERT_TRUE(o.request(R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})", false));
  std::string a = R"({"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"a"},{"name":"b"}]}})";
  o.head(200, "application/json", a.size());
  o.body(a);
  o.end();
  EXPECT_EQ(o.outcome(), "ok");
  EXPECT_EQ(o.listedTools(), (std::vector<std::string>{"a", "b"}));
}

} // namespace
} // namespace sidecar::mcp
