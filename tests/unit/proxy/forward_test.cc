#include "proxy/forward.h"

#include <gtest/gtest.h>

namespace sidecar::proxy {
namespace {

std::string upstreamHeadFor(const std::string& raw, ParserLimits& limits) {
  RequestParser p(&limits);
  size_t consumed = 0;
  EXPECT_EQ(p.feed(raw.data(), raw.size(), consumed), RequestParser::Status::Complete);
  std::string out;
  buildUpstreamRequestHead(p, "10.0.0.7", "127.0.0.1:3001", out);
  return out;
}

TEST(ForwardTest, RequestHeadRewritesHostAndFraming) {
  ParserLimits limits;
  std::string head = upstreamHeadFor(
      "POST /mcp?q=1 HTTP/1.1\r\nHost: sidecar.example:8787\r\nConnection: keep-alive, X-Secret\r\n"
      "X-Secret: drop-me\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nUpgrade: websocket\r\n"
      "Proxy-Connection: keep-alive\r\nExpect: 100-continue\r\nX-Forwarded-For: 1.2.3.4\r\n"
      "X-Forwarded-Proto: https\r\nAccept: application/json, text/event-stream\r\n"
      "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      limits);
  EXPECT_EQ(head.rfind("POST /mcp?q=1 HTTP/1.1\r\nHost: 127.0.0.1:3001\r\n", 0), 0u) << head;
  for (const char* gone : {"X-Secret", "Keep-Alive", "TE:", "Upgrade", "Proxy-Connection", "Expect",
                           "Transfer-Encoding", "Connection", "https"})
    EXPECT_EQ(head.find(gone), std::string::npos) << gone << " in " << head;
  EXPECT_NE(head.find("X-Forwarded-For: 1.2.3.4, 10.0.0.7\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("X-Forwarded-Proto: http\r\n"), std::string::npos);
  EXPECT_NE(head.find("X-Forwarded-Host: sidecar.example:8787\r\n"), std::string::npos);
  EXPECT_NE(head.find("Accept: application/json, text/event-stream\r\n"), std::string::npos);
  EXPECT_NE(head.find("Content-Length: 3\r\n"), std::string::npos);
  EXPECT_TRUE(head.ends_with("\r\n\r\n"));
}

TEST(ForwardTest, GetWithoutBodyHasNoContentLength) {
  ParserLimits limits;
  std::string head = upstreamHeadFor("GET /mcp HTTP/1.1\r\nHost: a\r\n\r\n", limits);
  EXPECT_EQ(head.find("Content-Length"), std::string::npos);
  EXPECT_NE(head.find("X-Forwarded-For: 10.0.0.7\r\n"), std::string::npos);
}

TEST(ForwardTest, ResponseHeadDropsHopByHopAndReframes) {
  ResponseHead h;
  h.status = 200;
  h.reason = "OK";
  h.headers = {{"Content-Type", "text/event-stream"}, {"Transfer-Encoding", "chunked"},
               {"Connection", "keep-alive, X-Hop"},   {"X-Hop", "1"},
               {"Keep-Alive", "timeout=5"},           {"Mcp-Session-Id", "abc"}};
  h.chunked = true;
  std::string out;
  buildClientResponseHead(h, /*chunked=*/true, /*keepAlive=*/true, /*http11=*/true, out);
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nMcp-Session-Id: abc\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n");
}

TEST(ForwardTest, ResponseHeadForClosingHttp10Client) {
  ResponseHead h;
  h.status = 404;
  h.headers = {{"Content-Length", "3"}};
  h.hasLength = true;
  std::string out;
  buildClientResponseHead(h, false, false, false, out);
  EXPECT_EQ(out, "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nConnection: close\r\n\r\n");
  out.clear();
  buildClientResponseHead(h, false, true, false, out);
  EXPECT_NE(out.find("Connection: keep-alive\r\n"), std::string::npos);
}

} // namespace
} // namespace sidecar::proxy
