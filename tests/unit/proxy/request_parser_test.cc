#include "proxy/request_parser.h"

#include <gtest/gtest.h>

#include <string>

namespace sidecar::proxy {
namespace {

class RequestParserTest : public ::testing::Test {
protected:
  // Feeds `input` whole, or one byte at a time when `bytewise`.
  RequestParser::Status feedAll(const std::string& input, bool bytewise = false) {
    consumedTotal_ = 0;
    size_t pos = 0;
    while (pos < input.size()) {
      size_t n = bytewise ? 1 : input.size() - pos;
      size_t consumed = 0;
      auto st = parser_.feed(input.data() + pos, n, consumed);
      pos += consumed;
      consumedTotal_ = pos;
      if (st != RequestParser::Status::NeedMore)
        return st;
    }
    return RequestParser::Status::NeedMore;
  }

  ParserLimits limits_{};
  RequestParser parser_{&limits_};
  size_t consumedTotal_ = 0;
};

TEST_F(RequestParserTest, ContentLengthBody) {
  for (bool bytewise : {false, true}) {
    parser_.reset();
    std::string req = "POST /mcp?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
    ASSERT_EQ(feedAll(req, bytewise), RequestParser::Status::Complete);
    EXPECT_EQ(parser_.methodName(), "POST");
    EXPECT_EQ(parser_.url(), "/mcp?x=1");
    EXPECT_EQ(parser_.body(), "hello");
    EXPECT_EQ(*parser_.header("HOST"), "a");
    EXPECT_TRUE(parser_.keepAlive());
    EXPECT_EQ(consumedTotal_, req.size());
  }
}

TEST_F(RequestParserTest, ChunkedBodyIsDecoded) {
  for (bool bytewise : {false, true}) {
    parser_.reset();
    std::string req = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "3\r\nabc\r\n5;ext=1\r\ndefgh\r\n0\r\n\r\n";
    ASSERT_EQ(feedAll(req, bytewise), RequestParser::Status::Complete);
    EXPECT_EQ(parser_.body(), "abcdefgh");
    EXPECT_TRUE(parser_.chunked());
  }
}

TEST_F(RequestParserTest, PipelinedRequestStopsAtFirst) {
  std::string first = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n";
  std::string second = "GET /b HTTP/1.1\r\nHost: a\r\n\r\n";
  std::string both = first + second;
  size_t consumed = 0;
  ASSERT_EQ(parser_.feed(both.data(), both.size(), consumed), RequestParser::Status::Complete);
  EXPECT_EQ(consumed, first.size());
  EXPECT_EQ(parser_.url(), "/a");
  parser_.reset();
  ASSERT_EQ(parser_.feed(both.data() + consumed, both.size() - consumed, consumed),
            RequestParser::Status::Complete);
  EXPECT_EQ(parser_.url(), "/b");
}

struct Smuggle {
  const char* name;
  const char* request;
};

class SmugglingTest : public RequestParserTest, public ::testing::WithParamInterface<Smuggle> {};

TEST_P(SmugglingTest, RefusedWith400) {
  ASSERT_EQ(feedAll(GetParam().request), RequestParser::Status::Error) << GetParam().name;
  EXPECT_EQ(parser_.errorStatus(), 400) << parser_.errorText();
  EXPECT_FALSE(parser_.errorText().empty());
}

INSTANTIATE_TEST_SUITE_P(
    Framing, SmugglingTest,
    ::testing::Values(
        Smuggle{"cl_and_te", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
        Smuggle{"te_and_cl", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                             "Content-Length: 5\r\n\r\n0\r\n\r\n"},
        Smuggle{"conflicting_cl", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                                  "Content-Length: 6\r\n\r\nhello!"},
        Smuggle{"repeated_cl", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                               "Content-Length: 5\r\n\r\nhello"},
        Smuggle{"cl_list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello"},
        Smuggle{"cl_sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello"},
        Smuggle{"obs_fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: one\r\n two\r\n\r\n"},
        Smuggle{"obs_fold_tab", "GET / HTTP/1.1\r\nHost: a\r\nX-A: one\r\n\ttwo\r\n\r\n"},
        Smuggle{"bad_chunk_size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  "zz\r\nabc\r\n0\r\n\r\n"},
        Smuggle{"chunk_size_overflow",
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                "fffffffffffffffff1\r\nabc\r\n0\r\n\r\n"},
        Smuggle{"te_not_chunked_last", "POST / HTTP/1.1\r\nHost: a\r\n"
                                       "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"},
        Smuggle{"te_unknown", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n"},
        Smuggle{"space_before_colon", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\n"},
        Smuggle{"bare_lf_in_chunk",
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                "3\nabc\r\n0\r\n\r\n"},
        Smuggle{"bad_version", "GET / HTTP/7.1\r\nHost: a\r\n\r\n"},
        Smuggle{"garbage", "\x01\x02 nonsense\r\n\r\n"}),
    [](const auto& p) { return p.param.name; });

TEST_F(RequestParserTest, BodyOverLimitByContentLengthIs413BeforeTheBody) {
  limits_.maxBody = 10;
  ASSERT_EQ(feedAll("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n"),
            RequestParser::Status::Error);
  EXPECT_EQ(parser_.errorStatus(), 413);
  EXPECT_EQ(parser_.errorKind(), metrics::HttpReject::BodyTooLarge);
}

TEST_F(RequestParserTest, ChunkedBodyOverLimitIs413) {
  limits_.maxBody = 10;
  ASSERT_EQ(feedAll("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "6\r\nabcdef\r\n6\r\nabcdef\r\n0\r\n\r\n"),
            RequestParser::Status::Error);
  EXPECT_EQ(parser_.errorStatus(), 413);
}

TEST_F(RequestParserTest, BodyExactlyAtLimitPasses) {
  limits_.maxBody = 5;
  EXPECT_EQ(feedAll("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"),
            RequestParser::Status::Complete);
}

TEST_F(RequestParserTest, HeadersOverLimitAre431) {
  limits_.maxHeaderBytes = 1024;
  std::string req = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(2000, 'x') + "\r\n\r\n";
  for (bool bytewise : {false, true}) {
    parser_.reset();
    RequestParser fresh(&limits_);
    ASSERT_EQ(feedAll(req, bytewise), RequestParser::Status::Error);
    EXPECT_EQ(parser_.errorStatus(), 431);
    EXPECT_EQ(parser_.errorKind(), metrics::HttpReject::HeaderTooLarge);
    break; // the parser is in an error state now; one pass is enough
  }
}

TEST_F(RequestParserTest, TooManyHeadersAre431) {
  limits_.maxHeaders = 4;
  std::string req = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 5; ++i)
    req += "X-" + std::to_string(i) + ": v\r\n";
  req += "\r\n";
  ASSERT_EQ(feedAll(req), RequestParser::Status::Error);
  EXPECT_EQ(parser_.errorStatus(), 431);
}

TEST_F(RequestParserTest, ExpectContinueIsReported) {
  ASSERT_EQ(
      feedAll("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"),
      RequestParser::Status::NeedMore);
  EXPECT_TRUE(parser_.headersComplete());
  EXPECT_TRUE(parser_.expectsContinue());
}

TEST_F(RequestParserTest, UnknownExpectationIs417) {
  ASSERT_EQ(feedAll("POST / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\nContent-Length: 0\r\n\r\n"),
            RequestParser::Status::Error);
  EXPECT_EQ(parser_.errorStatus(), 417);
}

TEST_F(RequestParserTest, Http10WithoutKeepAliveCloses) {
  ASSERT_EQ(feedAll("GET / HTTP/1.0\r\n\r\n"), RequestParser::Status::Complete);
  EXPECT_FALSE(parser_.keepAlive());
  parser_.reset();
  RequestParser other(&limits_);
  size_t c = 0;
  std::string r = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(other.feed(r.data(), r.size(), c), RequestParser::Status::Complete);
  EXPECT_FALSE(other.keepAlive());
}

TEST_F(RequestParserTest, StartedTracksFirstByte) {
  EXPECT_FALSE(parser_.started());
  EXPECT_EQ(feedAll("G"), RequestParser::Status::NeedMore);
  EXPECT_TRUE(parser_.started());
  EXPECT_FALSE(parser_.headersComplete());
}

} // namespace
} // namespace sidecar::proxy
