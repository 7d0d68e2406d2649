// The skimmer (mcp/message_skim.cc) against the RapidJSON scanner: whenever the skimmer accepts a
// message, it must find exactly what RapidJSON finds; when in doubt it must hand over, never guess.

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "mcp/message_facts.h"

namespace sidecar::mcp {
namespace {

using detail::scanWithRapidJson;
using detail::skimMessage;

const std::vector<std::string>& corpus() {
  static const std::vector<std::string> messages = {
      R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",)"
      R"("capabilities":{},"clientInfo":{"name":"c","version":"1"}}})",
      R"({"jsonrpc":"2.0","id":"a\"b","method":"tools/call","params":{"name":"echo",)"
      R"("arguments":{"id":99,"x":[1,{"id":5}],"t":"line\nnext\ttab \/ \\"},)"
      R"("_meta":{"progressToken":123456789012345678}}})",
      R"( { "jsonrpc" : "2.0" , "id" : 7 , "method" : "tools/call" , "params" : { "name" :)"
      R"( "get-sum" , "arguments" : { "a" : -1.5 , "b" : 0 } } } )",
      R"({"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"text","text":"hi"}],"isError":true}})",
      R"({"jsonrpc":"2.0","id":3,"result":{"content":[],"isError":false}})",
      R"({"jsonrpc":"2.0","id":"x","error":{"code":-32601,"message":"Method not found"}})",
      R"({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}})",
      R"({"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"t1",)"
      R"("progress":0.5,"total":1}})",
      R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":12,)"
      R"("reason":"user"}})",
      R"({"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"_meta":)"
      R"({"io.modelcontextprotocol/protocolVersion":"2026-01-01"}}})",
      R"([{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"n"},7,"s",[]])",
      R"([])",
      R"({"jsonrpc":"2.0","id":true,"method":"ping"})",
      R"({"jsonrpc":"2.0","id":{"a":1},"method":"ping"})",
      R"({"jsonrpc":"2.0","id":4,"method":""})",
      R"({"jsonrpc":"2.0","id":4,"method":5})",
      R"({"jsonrpc":"2.0","result":{}})",
      R"({"jsonrpc":"2.0"})",
      R"("just a string")",
      R"(42)",
      R"({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"caf\u00e9"}})",
      R"({"jsonrpc":"2.0","id":5,"method":"tools\/call","params":{"name":"a\"b"}})",
      R"({"jsonrpc":"2.0","id":6,"m\u0065thod":"x","method":"tools/call"})",
      R"({"jsonrpc":"2.0","id":1e3,"method":"ping"})",
      R"({"jsonrpc":"2.0","id":12345678901234567890123,"method":"ping"})",
      "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/"
      "call\",\"params\":{\"name\":\"\xC3\xA9t\xC3\xA9\","
      "\"arguments\":{\"q\":\"\xF0\x9F\x8E\x89 \xE2\x80\xA6\"}}}",
      R"({"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"n","name":"m"}})",
      R"({"jsonrpc":"2.0","id":10,"result":{"deep":[[[[[[{"a":[{}]}]]]]]]}})",
  };
  return messages;
}

void expectSame(const MessageInfo& a, const MessageInfo& b, const std::string& m) {
  SCOPED_TRACE(m);
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.error, b.error);
  EXPECT_EQ(a.batch, b.batch);
  ASSERT_EQ(a.items.size(), b.items.size());
  for (size_t i = 0; i < a.items.size(); ++i) {
    EXPECT_EQ(a.items[i].off, b.items[i].off);
    EXPECT_EQ(a.items[i].len, b.items[i].len);
  }
  auto same = [&](const Span& x, const Span& y, const char* what) {
    EXPECT_EQ(x.off, y.off) << what;
    EXPECT_EQ(x.len, y.len) << what;
  };
  same(a.id, b.id, "id");
  same(a.metaProgressToken, b.metaProgressToken, "metaProgressToken");
  same(a.paramsProgressToken, b.paramsProgressToken, "paramsProgressToken");
  same(a.paramsRequestId, b.paramsRequestId, "paramsRequestId");
  same(a.params, b.params, "params");
  same(a.arguments, b.arguments, "arguments");
  EXPECT_EQ(a.idIsString, b.idIsString);
  EXPECT_EQ(a.method, b.method);
  EXPECT_EQ(a.toolName, b.toolName);
  EXPECT_EQ(a.protocolVersion, b.protocolVersion);
  EXPECT_EQ(a.modernClaim, b.modernClaim);
  EXPECT_EQ(a.hasResult, b.hasResult);
  EXPECT_EQ(a.hasError, b.hasError);
  EXPECT_EQ(a.isErrorResult, b.isErrorResult);
  EXPECT_EQ(a.errorCode, b.errorCode);
}

// Returns whether the skimmer accepted `m`; fails the test if it then disagrees with RapidJSON.
bool compare(const std::string& m, ScanMode mode) {
  MessageInfo fast;
  bool skimmed = skimMessage(m, mode, fast);
  MessageInfo full = scanWithRapidJson(m, mode);
  if (skimmed) {
    EXPECT_EQ(full.error.rfind("not valid JSON", 0), std::string::npos)
        << "the skimmer accepted what RapidJSON refuses: " << full.error << "\n"
        << m;
    expectSame(fast, full, m);
  }
  EXPECT_EQ(scanMessage(m, mode).error, full.error) << m;
  return skimmed;
}

TEST(MessageSkim, FindsWhatRapidJsonFindsInEveryCorpusMessage) {
  size_t skimmed = 0;
  for (const std::string& m : corpus())
    for (ScanMode mode : {ScanMode::Validate, ScanMode::Observe})
      skimmed += compare(m, mode);
  // The plain messages (no \u escape, no exponent, no escaped key or name) take the fast path.
  EXPECT_GE(skimmed, 2 * (corpus().size() - 5));
}

TEST(MessageSkim, HandsOverWhatItDoesNotDecode) {
  for (const char* m : {
           R"({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"caf\u00e9"}})",
           R"({"jsonrpc":"2.0","id":5,"method":"tools\/call"})",
           R"({"jsonrpc":"2.0","id":6,"m\u0065thod":"x"})",
           R"({"jsonrpc":"2.0","id":1e3,"method":"ping"})",
           R"({"jsonrpc":"2.0","id":1234567890123456789,"method":"ping"})",
           R"({"jsonrpc":"2.0","id":1,"method":"ping"} x)",
           R"({"jsonrpc":"2.0","id":1,"method":"ping")",
           "",
           "  ",
       }) {
    MessageInfo info;
    EXPECT_FALSE(skimMessage(m, ScanMode::Observe, info)) << m;
  }
}

TEST(MessageSkim, MutatedMessagesNeverMakeTheTwoDisagree) {
  // Single-byte edits that break or bend the grammar: structure, escapes, numbers, literals,
  // control characters and bytes that are invalid or unusual in UTF-8.
  const std::string alphabet = std::string("{}[]\":,\\ \t\n0123456789-+.eEtrufalsn/bu") +
                               "\x01\x1f\x7f\x80\xBF\xC0\xC3\xE2\xED\xF0\xF4\xF5\xFF" +
                               std::string(1, '\0');
  std::mt19937 rng(20261125);
  size_t skimmed = 0, total = 0;
  for (const std::string& base : corpus()) {
    for (int round = 0; round < 400; ++round) {
      std::string m = base;
      int edits = 1 + static_cast<int>(rng() % 3);
      for (int e = 0; e < edits && !m.empty(); ++e) {
        size_t at = rng() % m.size();
        char c = alphabet[rng() % alphabet.size()];
        switch (rng() % 4) {
        case 0:
          m[at] = c;
          break;
        case 1:
          m.insert(m.begin() + static_cast<ptrdiff_t>(at), c);
          break;
        case 2:
          m.erase(at, 1);
          break;
        default:
          m.resize(at);
        }
      }
      for (ScanMode mode : {ScanMode::Validate, ScanMode::Observe}) {
        skimmed += compare(m, mode);
        ++total;
      }
      if (::testing::Test::HasFailure())
        return; // the first disagreement says enough
    }
  }
  // Both outcomes are exercised: the edits do not all break the message, nor all leave it valid.
  EXPECT_GT(skimmed, total / 10);
  EXPECT_LT(skimmed, total * 9 / 10);
}

TEST(MessageSkim, DeepNestingNeitherCrashesNorRecurses) {
  // A body limit's worth of brackets: both scanners keep their stack on the heap.
  std::string deep = R"({"jsonrpc":"2.0","id":1,"result":)" + std::string(1 << 20, '[') +
                     std::string(1 << 20, ']') + "}";
  MessageInfo info = scanMessage(deep, ScanMode::Observe);
  EXPECT_EQ(info.kind, MessageKind::Response) << info.error;
  std::string open = R"({"jsonrpc":"2.0","id":1,"result":)" + std::string(1 << 20, '[');
  info = scanMessage(open, ScanMode::Observe);
  EXPECT_EQ(info.kind, MessageKind::Invalid);
  EXPECT_NE(info.error.find("not valid JSON"), std::string::npos) << info.error.substr(0, 200);
}

} // namespace
} // namespace sidecar::mcp
