#include "stdio_proxy/tool_list_feed.h"

#include <gtest/gtest.h>

#include "drift/detector.h"
#include "watch/drift_watch.h"

namespace sidecar::stdio_proxy {
namespace {

std::unique_ptr<watch::DriftWatch> makeWatch() {
  drift::DriftOptions o;
  o.policy = drift::DriftPolicy::Block; // baseline in memory only
  auto d = drift::DriftDetector::create(std::move(o));
  EXPECT_TRUE(d.ok());
  return std::make_unique<watch::DriftWatch>(std::move(*d), "test", nullptr, nullptr);
}

std::string page(const std::string& tools, const std::string& cursor = "") {
  return R"({"jsonrpc":"2.0","id":1,"result":{"tools":[)" + tools + "]" +
         (cursor.empty() ? "" : ",\"nextCursor\":\"" + cursor + "\"") + "}}";
}

const std::string kEchoA = R"({"name":"echo","description":"A","inputSchema":{"type":"object"}})";
const std::string kEchoB = R"({"name":"echo","description":"B","inputSchema":{"type":"object"}})";
const std::string kAdd = R"({"name":"add","inputSchema":{"type":"object"}})";

TEST(ToolListFeedTest, ComparesOnlyCompleteListsAcrossPages) {
  auto watch = makeWatch();
  ToolListFeed feed(watch.get());
  EXPECT_EQ(feed.answer(page(kEchoA, "p2"), false), "p2");
  EXPECT_EQ(feed.answer(page(kAdd), true), "");
  EXPECT_FALSE(watch->blocks("echo")); // learned: echo and add
  EXPECT_FALSE(watch->blocks("add"));

  // A first page alone says nothing about the tools of later pages.
  EXPECT_EQ(feed.answer(page(kEchoB, "p2"), false), "p2");
  EXPECT_FALSE(watch->blocks("echo"));
  EXPECT_EQ(feed.answer(page(kAdd), true), "");
  EXPECT_TRUE(watch->blocks("echo"));
  EXPECT_FALSE(watch->blocks("add"));
}

TEST(ToolListFeedTest, AnUnreadableListFailsClosed) {
  auto watch = makeWatch();
  ToolListFeed feed(watch.get());
  feed.answer(page(kEchoA), false);
  EXPECT_FALSE(watch->blocks("echo"));
  feed.answer(R"({"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"x"}})", false);
  EXPECT_TRUE(watch->blocks("echo"));
  // A later page whose first page was not seen is ignored.
  ToolListFeed other(watch.get());
  EXPECT_EQ(other.answer(page(kEchoA), true), "");
}

TEST(DeclaresToolsTest, ReadsTheInitializeAnswersCapabilities) {
  EXPECT_TRUE(declaresTools(
      R"({"jsonrpc":"2.0","id":1,"result":{"capabilities":{"tools":{}},"protocolVersion":"x"}})"));
  EXPECT_FALSE(declaresTools(R"({"jsonrpc":"2.0","id":1,"result":{"capabilities":{}}})"));
  EXPECT_FALSE(declaresTools(R"({"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m"}})"));
  EXPECT_FALSE(declaresTools("not json"));
}

} // namespace
} // namespace sidecar::stdio_proxy
