// An answer reaches the client only after its check: JSON by the whole body, event streams event
// by event, fed whole and in every chunking.

#include "connect/answer_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/connect/test_signer.h"

namespace sidecar::connect {
namespace {

using testing::TestSigner;

class AnswerReaderTest : public ::testing::Test {
protected:
  TestSigner server;
  ServerKey key = server.serverKey();
  RequestBinding req{"BBBBBBBBBBBBBBBBBBBBBB", "cmVxdWVzdCBzaWduYXR1cmU="};
  std::vector<std::string> messages;

  AnswerReader reader(bool check = true) {
    AnswerReader::Options o;
    o.server = check ? &key : nullptr;
    o.request = req;
    return AnswerReader(o, [this](std::string_view m) { messages.emplace_back(m); });
  }

  // Feeds `body` in pieces of `chunk` bytes; returns the first failure.
  Status feed(AnswerReader& r, std::string_view body, size_t chunk) {
    if (chunk == 0)
      chunk = body.size() + 1;
    for (size_t i = 0; i < body.size(); i += chunk) {
      Status s = r.body(body.substr(i, chunk));
      if (!s.ok())
        return s;
    }
    return r.end();
  }
};

TEST_F(AnswerReaderTest, SignedJsonIsDeliveredAtTheEnd) {
  std::string body = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n";
  auto r = reader();
  ASSERT_TRUE(r.head(server.jsonHead(200, body, req)).ok());
  ASSERT_TRUE(r.body(body.substr(0, 10)).ok());
  EXPECT_TRUE(messages.empty()) << "nothing before the whole body is checked";
  ASSERT_TRUE(r.body(body.substr(10)).ok());
  EXPECT_TRUE(messages.empty());
  Status s = r.end();
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0], "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}");
  EXPECT_EQ(r.kind(), AnswerReader::Kind::Json);
}

TEST_F(AnswerReaderTest, TamperedJsonIsNotDelivered) {
  std::string body = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"v\":1}}";
  auto r = reader();
  ASSERT_TRUE(r.head(server.jsonHead(200, body, req)).ok());
  std::string tampered = body;
  tampered[tampered.find('1', 30)] = '2';
  ASSERT_TRUE(r.body(tampered).ok());
  Status s = r.end();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("does not verify"), std::string::npos) << s.message();
  EXPECT_TRUE(messages.empty());
}

TEST_F(AnswerReaderTest, UnsignedJsonIsNotDelivered) {
  auto r = reader();
  HttpHead h;
  h.status = 200;
  h.headers = {{"content-type", "application/json"}};
  ASSERT_TRUE(r.head(h).ok());
  ASSERT_TRUE(r.body("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}").ok());
  EXPECT_FALSE(r.end().ok());
  EXPECT_TRUE(messages.empty());
}

TEST_F(AnswerReaderTest, AnswerBoundToAnotherRequestIsRefused) {
  std::string body = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}";
  RequestBinding other{"CCCCCCCCCCCCCCCCCCCCCC", req.signature};
  auto r = reader();
  ASSERT_TRUE(r.head(server.jsonHead(200, body, other)).ok());
  ASSERT_TRUE(r.body(body).ok());
  EXPECT_FALSE(r.end().ok()) << "a replayed answer to another request";
}

TEST_F(AnswerReaderTest, EmptyAcceptedAnswerIsChecked) {
  auto ok = reader();
  ASSERT_TRUE(ok.head(server.jsonHead(202, "", req, 1764000001, "")).ok());
  EXPECT_TRUE(ok.end().ok());
  EXPECT_EQ(ok.kind(), AnswerReader::Kind::Empty);

  auto unsigned202 = reader();
  HttpHead h;
  h.status = 202;
  ASSERT_TRUE(unsigned202.head(h).ok());
  EXPECT_FALSE(unsigned202.end().ok());

  // A signed 202 turned into a 200.
  auto changed = reader();
  HttpHead c = server.jsonHead(202, "", req, 1764000001, "");
  c.status = 200;
  ASSERT_TRUE(changed.head(c).ok());
  EXPECT_FALSE(changed.end().ok());
  EXPECT_TRUE(messages.empty());
}

TEST_F(AnswerReaderTest, DuplicatedSignatureHeaderIsRefused) {
  auto r = reader();
  HttpHead h = server.jsonHead(200, "{}", req);
  h.headers.emplace_back("x-mcp-signature", h.header("x-mcp-signature"));
  EXPECT_FALSE(r.head(h).ok());
}

std::string stream(const TestSigner& s, const RequestBinding& req, int n) {
  std::string out = s.signedEvent(req, 0, "id: p0\ndata: \n\n"); // a priming event
  for (int i = 1; i <= n; ++i)
    out +=
        s.signedEvent(req, static_cast<uint64_t>(i),
                      TestSigner::messageEvent("{\"jsonrpc\":\"2.0\",\"method\":\"n\",\"params\":"
                                               "{\"i\":" +
                                               std::to_string(i) + "}}"));
  return out;
}

TEST_F(AnswerReaderTest, SignedStreamIsDeliveredEventByEventInEveryChunking) {
  const std::string body = stream(server, req, 3);
  for (size_t chunk : {0, 1, 2, 7, 64}) {
    SCOPED_TRACE("chunk " + std::to_string(chunk));
    messages.clear();
    auto r = reader();
    ASSERT_TRUE(r.head(server.sseHead(200, req)).ok());
    Status s = feed(r, body, chunk);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_EQ(messages.size(), 3u);
    EXPECT_EQ(messages[2], "{\"jsonrpc\":\"2.0\",\"method\":\"n\",\"params\":{\"i\":3}}");
    EXPECT_EQ(r.events(), 4u);
    EXPECT_EQ(r.lastEventId(), "p0");
  }
}

TEST_F(AnswerReaderTest, StreamHeaderSignatureIsCheckedBeforeAnyEvent) {
  auto r = reader();
  HttpHead h;
  h.status = 200;
  h.headers = {{"content-type", "text/event-stream"}};
  Status s = r.head(h);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("event stream"), std::string::npos) << s.message();

  // A stream head signed over a non-empty body hash is not a stream signature.
  auto r2 = reader();
  HttpHead j = server.jsonHead(200, "{}", req, 1764000001, "text/event-stream");
  EXPECT_FALSE(r2.head(j).ok());
}

TEST_F(AnswerReaderTest, TamperedEventStopsTheStreamAfterTheGoodOnes) {
  std::string body = stream(server, req, 3);
  size_t pos = body.find("\"i\":2");
  ASSERT_NE(pos, std::string::npos);
  body[pos + 4] = '9';
  for (size_t chunk : {0, 1, 5}) {
    messages.clear();
    auto r = reader();
    ASSERT_TRUE(r.head(server.sseHead(200, req)).ok());
    Status s = feed(r, body, chunk);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("event 2 was altered"), std::string::npos) << s.message();
    ASSERT_EQ(messages.size(), 1u) << "only event 1 came before the altered one";
    EXPECT_NE(messages[0].find("\"i\":1"), std::string::npos);
  }
}

TEST_F(AnswerReaderTest, DroppedEventIsDetected) {
  std::string e0 = server.signedEvent(req, 0, TestSigner::messageEvent("{\"a\":0}"));
  std::string e2 = server.signedEvent(req, 2, TestSigner::messageEvent("{\"a\":2}"));
  auto r = reader();
  ASSERT_TRUE(r.head(server.sseHead(200, req)).ok());
  Status s = feed(r, e0 + e2, 0);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("missing"), std::string::npos) << s.message();
  EXPECT_EQ(messages.size(), 1u);
}

TEST_F(AnswerReaderTest, ReorderedEventsAreDetected) {
  std::string e0 = server.signedEvent(req, 0, TestSigner::messageEvent("{\"a\":0}"));
  std::string e1 = server.signedEvent(req, 1, TestSigner::messageEvent("{\"a\":1}"));
  auto r = reader();
  ASSERT_TRUE(r.head(server.sseHead(200, req)).ok());
  EXPECT_FALSE(feed(r, e1 + e0, 0).ok());
  EXPECT_TRUE(messages.empty());
}

TEST_F(AnswerReaderTest, StreamCutInsideAnEventIsAnError) {
  std::string e0 = server.signedEvent(req, 0, TestSigner::messageEvent("{\"a\":0}"));
  auto r = reader();
  ASSERT_TRUE(r.head(server.sseHead(200, req)).ok());
  ASSERT_TRUE(r.body(e0.substr(0, e0.size() - 1)).ok());
  EXPECT_FALSE(r.end().ok());
  EXPECT_TRUE(messages.empty());
}

TEST_F(AnswerReaderTest, InsecureModeDeliversWithoutChecking) {
  auto r = reader(false);
  HttpHead h;
  h.status = 200;
  h.headers = {{"content-type", "text/event-stream"}};
  ASSERT_TRUE(r.head(h).ok());
  ASSERT_TRUE(r.body("event: message\ndata: {\"x\":1}\n\n").ok());
  ASSERT_TRUE(r.end().ok());
  EXPECT_EQ(messages, std::vector<std::string>{"{\"x\":1}"});
}

TEST(MediaType, ComparesWithoutCaseAndParameters) {
  EXPECT_TRUE(isMediaType("application/json", "application/json"));
  EXPECT_TRUE(isMediaType("Application/JSON; charset=utf-8", "application/json"));
  EXPECT_TRUE(isMediaType(" text/event-stream ", "text/event-stream"));
  EXPECT_FALSE(isMediaType("application/json-seq", "application/json"));
  EXPECT_FALSE(isMediaType("", "application/json"));
}

} // namespace
} // namespace sidecar::connect
