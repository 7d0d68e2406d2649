#include "proxy/sidecar_error.h"

#include <gtest/gtest.h>

namespace sidecar::proxy {
namespace {

TEST(SidecarErrorTest, EchoesTheRequestId) {
  EXPECT_EQ(jsonRpcIdOf(R"({"jsonrpc":"2.0","id":7,"method":"x"})"), "7");
  EXPECT_EQ(jsonRpcIdOf(R"( {"jsonrpc":"2.0","id":"a\"b","method":"x"})"), R"("a\"b")");
  EXPECT_EQ(jsonRpcIdOf(R"({"jsonrpc":"2.0","method":"notify"})"), "null");
  EXPECT_EQ(jsonRpcIdOf(R"([{"jsonrpc":"2.0","id":1}])"), "null"); // a batch has no single id
  EXPECT_EQ(jsonRpcIdOf("not json"), "null");
  EXPECT_EQ(jsonRpcIdOf(""), "null");
  EXPECT_EQ(jsonRpcIdOf(R"({"id":{"x":1}})"), "null");
}

TEST(SidecarErrorTest, UpstreamErrorsMapTo502And504) {
  std::string r = buildErrorResponse(SidecarError::UpstreamUnavailable, "down",
                                     R"({"jsonrpc":"2.0","id":3,"method":"tools/call"})", false);
  EXPECT_EQ(r.rfind("HTTP/1.1 502 Bad Gateway\r\n", 0), 0u);
  EXPECT_NE(
      r.find(
          R"({"jsonrpc":"2.0","id":3,"error":{"code":-31004,"message":"Upstream unavailable","data":{"reason":"upstream_unavailable","detail":"down"}}})"),
      std::string::npos)
      << r;
  EXPECT_EQ(r.find("Connection: close"), std::string::npos);
  std::string t = buildErrorResponse(SidecarError::UpstreamTimeout, "", "", true);
  EXPECT_EQ(t.rfind("HTTP/1.1 504 Gateway Timeout\r\n", 0), 0u);
  EXPECT_NE(t.find("\"code\":-31005"), std::string::npos);
  EXPECT_NE(t.find("\"id\":null"), std::string::npos);
  EXPECT_NE(t.find("Connection: close\r\n"), std::string::npos);
}

TEST(SidecarErrorTest, ContentLengthMatchesBody) {
  std::string r = buildErrorResponse(SidecarError::BodyTooLarge, "too big", "", true);
  size_t sep = r.find("\r\n\r\n");
  ASSERT_NE(sep, std::string::npos);
  std::string body = r.substr(sep + 4);
  EXPECT_NE(r.find("Content-Length: " + std::to_string(body.size()) + "\r\n"), std::string::npos);
}

} // namespace
} // namespace sidecar::proxy
