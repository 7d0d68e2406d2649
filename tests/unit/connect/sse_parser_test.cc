#include "connect/sse_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sidecar::connect {
namespace {

// Every event of `stream`, fed in pieces of `chunk` bytes (0 = whole).
std::vector<SseEvent> parse(std::string_view stream, size_t chunk = 0, bool* ok = nullptr,
                            SseParser* parser = nullptr) {
  SseParser local;
  SseParser& p = parser ? *parser : local;
  std::vector<SseEvent> out;
  auto on = [&](SseEvent& e) {
    out.push_back(e);
    return SseParser::Next::Continue;
  };
  bool good = true;
  if (chunk == 0) {
    good = p.feed(stream, on);
  } else {
    for (size_t i = 0; i < stream.size() && good; i += chunk)
      good = p.feed(stream.substr(i, chunk), on);
  }
  good = good && p.finish(on);
  if (ok)
    *ok = good;
  return out;
}

TEST(SseParser, FieldsDataAndRawBytes) {
  auto events = parse("event: message\ndata: {\"a\":1}\nid: 7\nretry: 1500\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "message");
  EXPECT_EQ(events[0].data, "{\"a\":1}");
  EXPECT_TRUE(events[0].hasId);
  EXPECT_EQ(events[0].id, "7");
  ASSERT_TRUE(events[0].retryMs);
  EXPECT_EQ(*events[0].retryMs, 1500u);
  EXPECT_EQ(events[0].raw, "event: message\ndata: {\"a\":1}\nid: 7\nretry: 1500\n\n");
}

TEST(SseParser, MultipleDataLinesJoinWithNewline) {
  auto events = parse("data: a\ndata:b\ndata\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "a\nb\n");
}

TEST(SseParser, CommentsBeforeAnEventAreKeptApartFromItsBytes) {
  auto events = parse(": mcp-sig seq=0 sig=AAAA\nevent: message\ndata: x\n: inside\n\n"
                      ":keepalive\n\n: mcp-sig seq=1 sig=BBBB\ndata: y\n\n");
  ASSERT_EQ(events.size(), 2u);
  ASSERT_EQ(events[0].comments.size(), 1u);
  EXPECT_EQ(events[0].comments[0], "mcp-sig seq=0 sig=AAAA");
  EXPECT_EQ(events[0].raw, "event: message\ndata: x\n: inside\n\n");
  ASSERT_EQ(events[1].comments.size(), 2u);
  EXPECT_EQ(events[1].comments[0], "keepalive");
  EXPECT_EQ(events[1].comments[1], "mcp-sig seq=1 sig=BBBB");
  EXPECT_EQ(events[1].raw, "data: y\n\n");
}

TEST(SseParser, LineEndingsAreKeptAsSent) {
  for (std::string_view nl : {"\r\n", "\r", "\n"}) {
    SCOPED_TRACE(testing::PrintToString(std::string(nl)));
    std::string stream = ": c" + std::string(nl) + "data: a" + std::string(nl) + "id: 1" +
                         std::string(nl) + std::string(nl);
    std::string raw = "data: a" + std::string(nl) + "id: 1" + std::string(nl) + std::string(nl);
    for (size_t chunk : {0, 1, 2, 3, 5}) {
      auto events = parse(stream, chunk);
      ASSERT_EQ(events.size(), 1u) << "chunk " << chunk;
      EXPECT_EQ(events[0].raw, raw) << "chunk " << chunk;
      EXPECT_EQ(events[0].data, "a");
      EXPECT_EQ(events[0].comments, std::vector<std::string>{"c"});
    }
  }
}

TEST(SseParser, CrAtTheEndOfAChunkWaitsForTheNextByte) {
  SseParser p;
  std::vector<SseEvent> out;
  auto on = [&](SseEvent& e) {
    out.push_back(e);
    return SseParser::Next::Continue;
  };
  ASSERT_TRUE(p.feed("data: a\r\n\r", on));
  EXPECT_TRUE(out.empty()) << "the event's last line ending is not known yet";
  ASSERT_TRUE(p.feed("\n", on));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].raw, "data: a\r\n\r\n");
}

TEST(SseParser, ByteOrderMarkIsNotPartOfTheEvent) {
  auto events = parse("\xEF\xBB\xBF"
                      "data: a\n\n",
                      1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].raw, "data: a\n\n");
}

TEST(SseParser, BlankLinesWithoutFieldsAreNoEvent) {
  auto events = parse("\n\n: only a comment\n\n\n");
  EXPECT_TRUE(events.empty());
}

TEST(SseParser, AnEventCutOffIsReported) {
  SseParser p;
  bool ok = false;
  auto events = parse("data: a\n\ndata: b\n", 0, &ok, &p);
  EXPECT_TRUE(ok);
  EXPECT_EQ(events.size(), 1u);
  EXPECT_TRUE(p.midEvent());
}

TEST(SseParser, OversizedEventFails) {
  SseParser p(64);
  std::vector<SseEvent> out;
  EXPECT_FALSE(p.feed("data: " + std::string(100, 'x') + "\n\n", [&](SseEvent& e) {
    out.push_back(e);
    return SseParser::Next::Continue;
  }));
  EXPECT_NE(p.error().find("longer than 64"), std::string::npos);
  EXPECT_TRUE(out.empty());
}

TEST(SseParser, CallbackCanStop) {
  SseParser p;
  int n = 0;
  EXPECT_FALSE(p.feed("data: a\n\ndata: b\n\n", [&](SseEvent&) {
    ++n;
    return SseParser::Next::Stop;
  }));
  EXPECT_EQ(n, 1);
  EXPECT_TRUE(p.error().empty());
  EXPECT_FALSE(p.feed("data: c\n\n", [&](SseEvent&) { return SseParser::Next::Continue; }));
}

TEST(SseParser, RetryMustBeDigits) {
  auto events = parse("retry: 12a\ndata: x\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_FALSE(events[0].retryMs);
}

} // namespace
} // namespace sidecar::connect
