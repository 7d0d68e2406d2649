#include "mcp/message_scan.h"

#include <gtest/gtest.h>

namespace sidecar::mcp {
namespace {

std::string spliced(std::string_view src, std::vector<std::pair<Span, std::string_view>> edits) {
  std::string out;
  splice(src, std::move(edits), out);
  return out;
}

TEST(MessageScan, RequestWithEverySpanTheBridgeRewrites) {
  std::string m =
      R"({"jsonrpc":"2.0", "id" :  "a\"b", "method":"tools/call","params":{"name":"echo",)"
      R"("arguments":{"id":99,"x":[1,{"id":5}]},"_meta":{"progressToken":123456789012345678901234}}})";
  MessageInfo i = scanMessage(m);
  ASSERT_EQ(i.kind, MessageKind::Request) << i.error;
  EXPECT_EQ(i.id.in(m), R"("a\"b")");
  EXPECT_TRUE(i.idIsString);
  EXPECT_EQ(i.method, "tools/call");
  EXPECT_EQ(i.toolName, "echo");
  EXPECT_EQ(i.metaProgressToken.in(m), "123456789012345678901234");
  EXPECT_EQ(i.arguments.in(m), R"({"id":99,"x":[1,{"id":5}]})");
  EXPECT_EQ(spliced(m, {{i.metaProgressToken, "7"}, {i.id, "7"}}),
            R"({"jsonrpc":"2.0", "id" :  7, "method":"tools/call","params":{"name":"echo",)"
            R"("arguments":{"id":99,"x":[1,{"id":5}]},"_meta":{"progressToken":7}}})");
}

TEST(MessageScan, ObserveModeSkipsEncodingChecksButKeepsNamesValid) {
  // A stray 0xFF in the arguments and in the tool name.
  std::string m = "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":"
                  "{\"name\":\"ec\xFFho\",\"arguments\":{\"text\":\"a\xFF\"}}}";
  MessageInfo strict = scanMessage(m);
  EXPECT_EQ(strict.kind, MessageKind::Invalid);
  EXPECT_NE(strict.error.find("not valid JSON"), std::string::npos) << strict.error;

  MessageInfo seen = scanMessage(m, ScanMode::Observe);
  ASSERT_EQ(seen.kind, MessageKind::Request) << seen.error;
  EXPECT_EQ(seen.method, "tools/call");
  EXPECT_EQ(seen.toolName, "ec\xEF\xBF\xBDho");            // U+FFFD in place of the bad byte
  EXPECT_EQ(seen.arguments.in(m), "{\"text\":\"a\xFF\"}"); // the bytes as they are
  EXPECT_EQ(seen.id.in(m), "3");

  // The structure is still checked.
  EXPECT_EQ(scanMessage("{\"id\":1,\"method\":", ScanMode::Observe).kind, MessageKind::Invalid);
  EXPECT_EQ(
      scanMessage("{\"id\":1,\"result\":{\"isError\":true}}", ScanMode::Observe).isErrorResult,
      true);
}

TEST(MessageScan, KindsAndTheirErrors) {
  EXPECT_EQ(scanMessage(R"({"jsonrpc":"2.0","method":"notifications/initialized"})").kind,
            MessageKind::Notification);
  MessageInfo r = scanMessage(R"({"result":{"isError":true},"jsonrpc":"2.0","id":0})");
  EXPECT_EQ(r.kind, MessageKind::Response);
  EXPECT_TRUE(r.isErrorResult);
  EXPECT_EQ(r.id.in(R"({"result":{"isError":true},"jsonrpc":"2.0","id":0})"), "0");
  MessageInfo e = scanMessage(R"({"jsonrpc":"2.0","id":3,"error":{"code":-32601,"message":"x"}})");
  EXPECT_EQ(e.kind, MessageKind::Response);
  EXPECT_EQ(e.errorCode, -32601);
  MessageInfo c = scanMessage(
      R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"r1"}})");
  EXPECT_EQ(
      c.paramsRequestId.in(
          R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"r1"}})"),
      R"("r1")");
  EXPECT_EQ(scanMessage("{oops").kind, MessageKind::Invalid);
  EXPECT_NE(scanMessage("{oops").error.find("not valid JSON"), std::string::npos);
  EXPECT_EQ(scanMessage("42").kind, MessageKind::Invalid);
  EXPECT_EQ(scanMessage(R"({"jsonrpc":"2.0","id":null,"method":"x"})").kind, MessageKind::Invalid);
  EXPECT_EQ(scanMessage(R"({"jsonrpc":"2.0","id":{},"method":"x"})").kind, MessageKind::Invalid);
  EXPECT_EQ(scanMessage(R"({"jsonrpc":"2.0","result":{}})").kind, MessageKind::Invalid);
  EXPECT_EQ(scanMessage(R"({"jsonrpc":"2.0","id":1})").kind, MessageKind::Invalid);
  EXPECT_EQ(scanMessage("{\"method\":\"\xff\"}").kind, MessageKind::Invalid) << "not UTF-8";
}

TEST(MessageScan, ModernClaimAndInitializeVersion) {
  MessageInfo m = scanMessage(
      R"({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}})");
  EXPECT_TRUE(m.modernClaim);
  MessageInfo i = scanMessage(
      R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{"x":{"protocolVersion":"no"}}}})");
  EXPECT_EQ(i.protocolVersion, "2025-03-26");
  EXPECT_FALSE(i.modernClaim);
}

TEST(MessageScan, BatchGivesItsElements) {
  std::string b = R"( [ {"jsonrpc":"2.0","id":1,"method":"a"} , {"jsonrpc":"2.0","method":"b"} ] )";
  MessageInfo m = scanMessage(b);
  ASSERT_TRUE(m.batch);
  ASSERT_EQ(m.items.size(), 2u);
  EXPECT_EQ(m.items[0].in(b), R"({"jsonrpc":"2.0","id":1,"method":"a"})");
  EXPECT_EQ(scanMessage(m.items[1].in(b)).kind, MessageKind::Notification);
  EXPECT_FALSE(scanMessage("[]").error.empty());
}

} // namespace
} // namespace sidecar::mcp
