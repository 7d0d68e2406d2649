#include "stdio_proxy/line_splitter.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sidecar::stdio_proxy {
namespace {

std::vector<std::string> split(LineSplitter& s, const std::vector<std::string>& chunks,
                               bool finish = false) {
  std::vector<std::string> out;
  auto add = [&](std::string_view l) { out.emplace_back(l); };
  for (const std::string& c : chunks)
    s.feed(c.data(), c.size(), add);
  if (finish)
    s.finish(add);
  return out;
}

TEST(LineSplitterTest, WholeAndChunkedInputGiveTheSameLines) {
  const std::string input = "{\"a\":1}\n{\"b\":\"x y\"}\r\n\n{\"c\":3}\n";
  const std::vector<std::string> want{"{\"a\":1}", "{\"b\":\"x y\"}\r", "{\"c\":3}"};
  LineSplitter whole(1024);
  EXPECT_EQ(split(whole, {input}), want);
  for (size_t step = 1; step < input.size(); ++step) {
    std::vector<std::string> chunks;
    for (size_t i = 0; i < input.size(); i += step)
      chunks.push_back(input.substr(i, step));
    LineSplitter s(1024);
    EXPECT_EQ(split(s, chunks), want) << "chunks of " << step;
    EXPECT_EQ(s.buffered(), 0u);
  }
}

TEST(LineSplitterTest, FinishHandsOverALastLineWithoutNewline) {
  LineSplitter s(1024);
  EXPECT_EQ(split(s, {"{\"a\":1}\n{\"b\"", ":2}"}, true),
            (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}"}));
}

TEST(LineSplitterTest, DropsOverlongLinesWholeAndKeepsGoing) {
  LineSplitter s(8);
  std::string big(20, 'x');
  EXPECT_EQ(split(s, {"ok\n" + big.substr(0, 5), big.substr(5) + "\nafter\n"}),
            (std::vector<std::string>{"ok", "after"}));
  EXPECT_EQ(s.oversized(), 1u);
  EXPECT_LE(s.buffered(), 8u);
  EXPECT_EQ(split(s, {big}, true), std::vector<std::string>{});
  EXPECT_EQ(s.oversized(), 2u);
}

} // namespace
} // namespace sidecar::stdio_proxy
