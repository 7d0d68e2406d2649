// Self-test of tests/support: the Node fake upstream driven through RawConnection, the response
// parser against scripted peers, and the Process guard (capture, exit status, crash reporting).

// GCC 12 reports a false -Wmaybe-uninitialized inside <regex> (std::function in the regex
// compiler) when optimizing with -fsanitize=address; this file builds std::regex objects.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/sidecar.h"

namespace sidecar::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string bodyOf(size_t size) {
  std::string out(size, '\0');
  uint32_t state = 12345;
  for (auto& c : out) {
    state = state * 1103515245u + 12345u;
    c = static_cast<char>(state >> 24);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The fake upstream, through RawConnection.

class UpstreamTest : public ::testing::Test {
protected:
  void SetUp() override {
    upstream_ = UpstreamProcess::start();
    ASSERT_NE(upstream_, nullptr);
  }

  RawConnectionPtr connect() {
    std::string error;
    RawConnectionPtr conn = RawConnection::connect(upstream_->port(), 5s, &error);
    EXPECT_NE(conn, nullptr) << error;
    return conn;
  }

  UpstreamProcessPtr upstream_;
};

TEST_F(UpstreamTest, EchoDescribesTheRequest) {
  Response r = request(upstream_->port(), "POST", "/echo?x=1", {{"X-Test", "yes"}}, "hello");
  ASSERT_EQ(r.status, 200) << r.summary();
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.framing, Response::Framing::ContentLength);
  EXPECT_NE(r.body.find(R"("method":"POST")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("url":"/echo?x=1")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("httpVersion":"1.1")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("x-test":"yes")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("X-Test","yes")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("bodyLength":5)"), std::string::npos) << r.body;
  EXPECT_NE(
      r.body.find(
          R"("bodySha256":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")"),
      std::string::npos)
      << r.body;
}

TEST_F(UpstreamTest, EchoBodyReturnsOneMebibyteIntact) {
  const std::string body = bodyOf(1 << 20);
  Response r = request(upstream_->port(), "POST", "/echo-body", {}, body);
  ASSERT_EQ(r.status, 200) << r.summary();
  EXPECT_EQ(r.header("content-length"), std::to_string(body.size()));
  EXPECT_EQ(r.body.size(), body.size());
  EXPECT_TRUE(r.body == body) << "echoed body differs";
}

TEST_F(UpstreamTest, BigFollowsThePattern) {
  constexpr size_t kBytes = 3 * 1000 * 1000 + 7;
  Response r = request(upstream_->port(), "GET", "/big?bytes=" + std::to_string(kBytes));
  ASSERT_EQ(r.status, 200) << r.summary();
  ASSERT_EQ(r.body.size(), kBytes);
  size_t mismatch = kBytes;
  for (size_t i = 0; i < kBytes && mismatch == kBytes; ++i) {
    if (static_cast<unsigned char>(r.body[i]) != i % 251)
      mismatch = i;
  }
  EXPECT_EQ(mismatch, kBytes) << "first wrong byte";
}

TEST_F(UpstreamTest, ChunkedIsDecoded) {
  Response r = request(upstream_->port(), "GET", "/chunked?parts=5");
  ASSERT_EQ(r.status, 200) << r.summary();
  EXPECT_EQ(r.framing, Response::Framing::Chunked);
  EXPECT_EQ(r.header("transfer-encoding"), "chunked");
  EXPECT_FALSE(r.hasHeader("content-length"));
  EXPECT_EQ(r.body, "part-0\npart-1\npart-2\npart-3\npart-4\n");
  EXPECT_NE(r.rawBody.find("7\r\npart-0\n\r\n"), std::string::npos) << r.rawBody;
  EXPECT_TRUE(r.rawBody.size() >= 5 && r.rawBody.substr(r.rawBody.size() - 5) == "0\r\n\r\n")
      << r.rawBody;
}

TEST_F(UpstreamTest, SseEventsArriveIncrementally) {
  RawConnectionPtr conn = connect();
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(conn->sendAll("GET /sse?events=4&interval=300 HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::optional<Response> head = conn->readResponseHead(scaled(5s));
  ASSERT_TRUE(head) << conn->lastError();
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("content-type"), "text/event-stream");
  EXPECT_FALSE(conn->bodyComplete());

  std::string first = conn->readBodySome(scaled(2s));
  const auto firstAt = Clock::now();
  EXPECT_NE(first.find("id: 0\ndata: {\"n\":0}\n\n"), std::string::npos) << first;
  EXPECT_EQ(first.find("id: 3"), std::string::npos) << "the last event came with the first";

  std::string all = first;
  auto lastAt = firstAt;
  while (!conn->bodyComplete()) {
    std::string more = conn->readBodySome(scaled(2s));
    if (more.empty() && !conn->bodyComplete())
      break;
    all += more;
    if (more.find("id: 3") != std::string::npos)
      lastAt = Clock::now();
  }
  ASSERT_TRUE(conn->bodyComplete()) << conn->lastError();
  EXPECT_EQ(all, "id: 0\ndata: {\"n\":0}\n\nid: 1\ndata: {\"n\":1}\n\n"
                 "id: 2\ndata: {\"n\":2}\n\nid: 3\ndata: {\"n\":3}\n\n");
  // Three intervals of 300 ms separate the first event from the last.
  EXPECT_GE(lastAt - firstAt, 700ms);

  // The stream ended at a message boundary: the connection is reusable.
  ASSERT_TRUE(conn->sendAll("GET /count HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::optional<Response> count = conn->readResponse(scaled(5s));
  ASSERT_TRUE(count) << conn->lastError();
  EXPECT_EQ(count->body, R"({"requests":2,"connections":1})");
}

TEST_F(UpstreamTest, KeepAliveServesTwoRequestsOnOneConnection) {
  RawConnectionPtr conn = connect();
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(conn->sendAll("GET /echo HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::optional<Response> first = conn->readResponse(scaled(5s));
  ASSERT_TRUE(first) << conn->lastError();
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->header("connection"), "keep-alive");

  ASSERT_TRUE(conn->sendAll("GET /count HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::optional<Response> second = conn->readResponse(scaled(5s));
  ASSERT_TRUE(second) << conn->lastError();
  EXPECT_EQ(second->body, R"({"requests":2,"connections":1})");
  EXPECT_FALSE(conn->peerClosed());
}

TEST_F(UpstreamTest, PipelinedResponsesComeBackInOrder) {
  RawConnectionPtr conn = connect();
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(conn->sendAll("GET /status?code=201 HTTP/1.1\r\nHost: t\r\n\r\n"
                            "GET /chunked?parts=2 HTTP/1.1\r\nHost: t\r\n\r\n"
                            "GET /status?code=204 HTTP/1.1\r\nHost: t\r\n\r\n"
                            "GET /count HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::optional<Response> r1 = conn->readResponse(scaled(5s));
  ASSERT_TRUE(r1) << conn->lastError();
  EXPECT_EQ(r1->status, 201);
  EXPECT_EQ(r1->body, R"({"status":201})");
  std::optional<Response> r2 = conn->readResponse(scaled(5s));
  ASSERT_TRUE(r2) << conn->lastError();
  EXPECT_EQ(r2->body, "part-0\npart-1\n");
  std::optional<Response> r3 = conn->readResponse(scaled(5s));
  ASSERT_TRUE(r3) << conn->lastError();
  EXPECT_EQ(r3->status, 204);
  EXPECT_EQ(r3->framing, Response::Framing::None);
  std::optional<Response> r4 = conn->readResponse(scaled(5s));
  ASSERT_TRUE(r4) << conn->lastError();
  EXPECT_EQ(r4->body, R"({"requests":4,"connections":1})");
  EXPECT_EQ(conn->bufferedBytes(), 0u);
}

TEST_F(UpstreamTest, HeadResponseHasNoBody) {
  RawConnectionPtr conn = connect();
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(conn->sendAll("HEAD /echo HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::optional<Response> head = conn->readResponse(scaled(5s), /*headRequest=*/true);
  ASSERT_TRUE(head) << conn->lastError();
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->hasHeader("Content-Length"));
  EXPECT_EQ(head->body, "");
  ASSERT_TRUE(conn->sendAll("GET /count HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::optional<Response> count = conn->readResponse(scaled(5s));
  ASSERT_TRUE(count) << conn->lastError();
  EXPECT_EQ(count->body, R"({"requests":2,"connections":1})");
}

TEST_F(UpstreamTest, CloseRouteClosesTheConnection) {
  RawConnectionPtr conn = connect();
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(conn->sendAll("GET /close HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::optional<Response> r = conn->readResponse(scaled(5s));
  ASSERT_TRUE(r) << conn->lastError();
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(conn->waitClosed(scaled(5s)));
}

TEST_F(UpstreamTest, HangNeverAnswersAndReadTimesOut) {
  RawConnectionPtr conn = connect();
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(conn->sendAll("GET /hang HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto start = Clock::now();
  EXPECT_FALSE(conn->readResponse(300ms));
  EXPECT_GE(Clock::now() - start, 300ms);
  EXPECT_NE(conn->lastError().find("timed out"), std::string::npos) << conn->lastError();
  EXPECT_FALSE(conn->waitClosed(100ms));
}

TEST_F(UpstreamTest, SlowWaitsBeforeAnswering) {
  const auto start = Clock::now();
  Response r = request(upstream_->port(), "GET", "/slow?ms=300");
  EXPECT_GE(Clock::now() - start, 300ms);
  EXPECT_EQ(r.status, 200) << r.summary();
  EXPECT_EQ(r.body, R"({"slept":300})");
}

TEST_F(UpstreamTest, StatusRouteAnswersWithTheCode) {
  Response r = request(upstream_->port(), "GET", "/status?code=503");
  EXPECT_EQ(r.status, 503) << r.summary();
  EXPECT_EQ(r.reason, "Service Unavailable");
  Response other = request(upstream_->port(), "GET", "/anything/else");
  EXPECT_EQ(other.status, 200) << other.summary();
  EXPECT_EQ(other.body, R"({"ok":true,"path":"/anything/else"})");
}

TEST_F(UpstreamTest, McpEchoesRequestsAndAcceptsNotifications) {
  Response r = request(upstream_->port(), "POST", "/mcp", {{"Content-Type", "application/json"}},
                       R"({"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"a":1}})");
  ASSERT_EQ(r.status, 200) << r.summary();
  EXPECT_EQ(r.body, R"({"jsonrpc":"2.0","id":7,"result":{"echo":{"a":1}}})");
  Response n = request(upstream_->port(), "POST", "/mcp", {{"Content-Type", "application/json"}},
                       R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  EXPECT_EQ(n.status, 202) << n.summary();
  EXPECT_EQ(n.body, "");
}

TEST_F(UpstreamTest, RequestSentOneByteAtATimeIsServed) {
  RawConnectionPtr conn = connect();
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(conn->sendSlowly("GET /count HTTP/1.1\r\nHost: t\r\n\r\n", 1ms));
  std::optional<Response> r = conn->readResponse(scaled(5s));
  ASSERT_TRUE(r) << conn->lastError();
  EXPECT_EQ(r->body, R"({"requests":1,"connections":1})");
}

TEST_F(UpstreamTest, LogListsEveryRequest) {
  EXPECT_EQ(request(upstream_->port(), "GET", "/echo?a=b").status, 200);
  EXPECT_EQ(
      request(upstream_->port(), "POST", "/mcp", {}, R"({"jsonrpc":"2.0","method":"x"})").status,
      202);
  Response log = request(upstream_->port(), "GET", "/log");
  ASSERT_EQ(log.status, 200) << log.summary();
  EXPECT_EQ(log.body, "GET /echo?a=b HTTP/1.1\nPOST /mcp HTTP/1.1\nGET /log HTTP/1.1\n");
}

TEST_F(UpstreamTest, OneThreadSendsWhileAnotherReads) {
  RawConnectionPtr conn = connect();
  ASSERT_NE(conn, nullptr);
  bool sent = false;
  std::thread sender(
      [&] { sent = conn->sendSlowly("GET /count HTTP/1.1\r\nHost: t\r\n\r\n", 2ms); });
  std::optional<Response> r = conn->readResponse(scaled(5s));
  sender.join();
  EXPECT_TRUE(sent);
  ASSERT_TRUE(r) << conn->lastError();
  EXPECT_EQ(r->body, R"({"requests":1,"connections":1})");
}

TEST(UpstreamProcessTest, RestartsOnTheSamePortAndExitsZeroOnSigterm) {
  UpstreamProcessPtr first = UpstreamProcess::start();
  ASSERT_NE(first, nullptr);
  const uint16_t port = first->port();
  std::optional<int> status = first->stop(scaled(5s));
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << Process::describeStatus(*status);
  EXPECT_EQ(request(port, "GET", "/count", {}, "", 500ms).status, 0);

  UpstreamProcessPtr second = UpstreamProcess::start(port);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->port(), port);
  EXPECT_EQ(request(port, "GET", "/count").body, R"({"requests":1,"connections":1})");
}

// ---------------------------------------------------------------------------------------------
// The response parser against a peer that sends scripted bytes.

class ScriptedPeer {
public:
  // Accepts one connection, reads the request head, writes `reply`, then closes.
  explicit ScriptedPeer(std::string reply) : reply_(std::move(reply)) {
    listenFd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listenFd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listenFd_, 4) != 0 ||
        ::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot listen";
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedPeer() {
    if (thread_.joinable())
      thread_.join();
    ::close(listenFd_);
  }
  uint16_t port() const { return port_; }

private:
  void serve() {
    pollfd pfd{listenFd_, POLLIN, 0};
    if (::poll(&pfd, 1, 5000) != 1)
      return;
    int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0)
      return;
    std::string in;
    char buffer[4096];
    while (in.find("\r\n\r\n") == std::string::npos) {
      pollfd cfd{fd, POLLIN, 0};
      if (::poll(&cfd, 1, 5000) != 1)
        break;
      ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0)
        break;
      in.append(buffer, static_cast<size_t>(n));
    }
    ssize_t sent = ::send(fd, reply_.data(), reply_.size(), MSG_NOSIGNAL);
    (void)sent;
    ::close(fd);
  }

  std::string reply_;
  int listenFd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

std::optional<Response> fetchScripted(const std::string& reply, std::string& error) {
  ScriptedPeer peer(reply);
  RawConnectionPtr conn = RawConnection::connect(peer.port(), 5s, &error);
  if (!conn)
    return std::nullopt;
  if (!conn->sendAll("GET / HTTP/1.1\r\nHost: t\r\n\r\n"))
    return std::nullopt;
  std::optional<Response> r = conn->readResponse(scaled(5s));
  error = conn->lastError();
  return r;
}

TEST(ResponseParserTest, BodyDelimitedByClose) {
  std::string error;
  auto r = fetchScripted("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil-close", error);
  ASSERT_TRUE(r) << error;
  EXPECT_EQ(r->framing, Response::Framing::UntilClose);
  EXPECT_EQ(r->body, "until-close");
}

TEST(ResponseParserTest, ChunkExtensionsAndTrailers) {
  std::string error;
  auto r = fetchScripted("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                         "5;name=value\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n",
                         error);
  ASSERT_TRUE(r) << error;
  EXPECT_EQ(r->body, "hello0123456789");
  ASSERT_EQ(r->trailers.size(), 1u);
  EXPECT_EQ(r->trailers[0], (std::pair<std::string, std::string>("X-Trailer", "t")));
  EXPECT_EQ(r->header("Transfer-Encoding"), "chunked");
}

TEST(ResponseParserTest, RejectsBareLf) {
  std::string error;
  EXPECT_FALSE(fetchScripted("HTTP/1.1 200 OK\nContent-Length: 0\n\n", error));
  EXPECT_NE(error.find("bare LF"), std::string::npos) << error;
}

TEST(ResponseParserTest, RejectsConflictingContentLength) {
  std::string error;
  EXPECT_FALSE(fetchScripted(
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", error));
  EXPECT_NE(error.find("conflicting"), std::string::npos) << error;
}

TEST(ResponseParserTest, RejectsTruncatedBody) {
  std::string error;
  EXPECT_FALSE(fetchScripted("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", error));
  EXPECT_NE(error.find("closed inside the body"), std::string::npos) << error;
}

TEST(ResponseParserTest, RejectsChunkWithoutCrlf) {
  std::string error;
  EXPECT_FALSE(fetchScripted(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n", error));
  EXPECT_NE(error.find("not followed by CRLF"), std::string::npos) << error;
}

TEST(ResponseParserTest, RejectsObsoleteLineFolding) {
  std::string error;
  EXPECT_FALSE(
      fetchScripted("HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\nContent-Length: 0\r\n\r\n", error));
  EXPECT_NE(error.find("folding"), std::string::npos) << error;
}

TEST(ResponseParserTest, ConnectionRefusedIsReported) {
  uint16_t port = unusedLoopbackPort();
  ASSERT_NE(port, 0);
  std::string error;
  EXPECT_EQ(RawConnection::connect(port, 2s, &error), nullptr);
  EXPECT_NE(error.find("refused"), std::string::npos) << error;
  Response r = request(port, "GET", "/");
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.error.empty());
}

// ---------------------------------------------------------------------------------------------
// Process.

bool alive(pid_t pid) {
  if (::kill(pid, 0) != 0)
    return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  size_t paren = line.rfind(')');
  return paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] != 'Z';
}

TEST(ProcessTest, CapturesOutputAndExitStatus) {
  ProcessPtr p = Process::spawn({"sh", "-c", "echo out-line; echo err-line >&2; exit 3"});
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->waitForOutput("out", Stream::Stdout, 5s), "out-line");
  EXPECT_EQ(p->waitForOutput("err", Stream::Stderr, 5s), "err-line");
  std::optional<int> status = p->waitExit(5s);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 3);
  EXPECT_FALSE(p->running());
  EXPECT_EQ(p->stdoutText(), "out-line\n");
  EXPECT_EQ(p->stderrText(), "err-line\n");
  EXPECT_EQ(Process::describeStatus(*status), "exited with 3");
}

TEST(ProcessTest, CapturesLargeOutput) {
  ProcessPtr p =
      Process::spawn({"sh", "-c", "head -c 5000000 /dev/zero | tr '\\0' x; echo; echo done >&2"});
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(p->waitExit(scaled(10s)));
  EXPECT_EQ(p->outputSize(Stream::Stdout), 5000001u);
  EXPECT_EQ(p->stdoutText(), std::string(5000000, 'x') + "\n");
  EXPECT_EQ(p->stderrText(), "done\n");
}

TEST(ProcessTest, RegexMatchReturnsGroups) {
  ProcessPtr p = Process::spawn({"sh", "-c", "echo noise; echo 'port=1234 admin=5678'"});
  ASSERT_NE(p, nullptr);
  std::optional<RegexMatch> m =
      p->waitForOutput(std::regex("port=([0-9]+) admin=([0-9]+)"), Stream::Stdout, 5s);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->line, "port=1234 admin=5678");
  ASSERT_EQ(m->groups.size(), 3u);
  EXPECT_EQ(m->groups[1], "1234");
  EXPECT_EQ(m->groups[2], "5678");
}

TEST(ProcessTest, WaitsFromAMark) {
  ProcessPtr p = Process::spawn({"sh", "-c", "echo tick 1; sleep 0.2; echo tick 2; sleep 5"});
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->waitForOutput("tick", Stream::Stdout, 5s), "tick 1");
  const size_t mark = p->outputSize(Stream::Stdout);
  EXPECT_EQ(p->waitForOutput("tick", Stream::Stdout, 5s, mark), "tick 2");
  EXPECT_EQ(p->waitForOutput("tick", Stream::Stdout, 5s), "tick 1");
  EXPECT_TRUE(p->running());
}

TEST(ProcessTest, FinalLineWithoutNewlineMatchesAtEof) {
  ProcessPtr p = Process::spawn({"printf", "abc"});
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->waitForOutput("abc", Stream::Stdout, 5s), "abc");
}

TEST(ProcessTest, GivesUpAsSoonAsTheStreamCloses) {
  ProcessPtr p = Process::spawn({"sh", "-c", "echo nope"});
  ASSERT_NE(p, nullptr);
  const auto start = Clock::now();
  EXPECT_EQ(p->waitForOutput("never", Stream::Stdout, 20s), std::nullopt);
  EXPECT_LT(Clock::now() - start, 10s);
}

TEST(ProcessTest, TimesOutWhileRunning) {
  ProcessPtr p = Process::spawn({"sleep", "30"});
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->waitForOutput("never", Stream::Stdout, 100ms), std::nullopt);
  EXPECT_EQ(p->waitExit(100ms), std::nullopt);
  EXPECT_TRUE(p->running());
}

TEST(ProcessTest, PassesEnvironmentAndWorkingDirectory) {
  ProcessPtr p =
      Process::spawn({"sh", "-c", "echo \"foo=$SUPPORT_FOO\"; pwd"}, {{"SUPPORT_FOO", "bar"}}, "/");
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(p->waitExit(5s));
  EXPECT_EQ(p->stdoutText(), "foo=bar\n/\n");
}

TEST(ProcessTest, SignalSentByTheTestIsNotACrash) {
  ProcessPtr p = Process::spawn({"sleep", "30"});
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->sendSignal(SIGTERM));
  std::optional<int> status = p->waitExit(5s);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFSIGNALED(*status));
  EXPECT_EQ(WTERMSIG(*status), SIGTERM);
  EXPECT_FALSE(p->sendSignal(SIGTERM)) << "signalled after exit";
}

TEST(ProcessTest, DestructorKillsTheWholeGroup) {
  ProcessPtr p = Process::spawn({"sh", "-c", "sleep 60 & echo $!; wait"});
  ASSERT_NE(p, nullptr);
  std::optional<RegexMatch> m = p->waitForOutput(std::regex("^([0-9]+)$"), Stream::Stdout, 5s);
  ASSERT_TRUE(m);
  const pid_t grandchild = static_cast<pid_t>(std::stol(m->groups[1]));
  EXPECT_TRUE(alive(grandchild));
  p.reset();
  EXPECT_TRUE(waitUntil([&] { return !alive(grandchild); }, 5s));
}

void spawnAndCrash() {
  ProcessPtr p = Process::spawn({"sh", "-c", "ulimit -c 0; kill -SEGV $$"});
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(p->waitExit(5s));
}

TEST(ProcessTest, CrashFailsTheTest) {
  EXPECT_NONFATAL_FAILURE(spawnAndCrash(), "killed by signal 11");
}

void spawnWithSanitizerReport() {
  ProcessPtr p = Process::spawn(
      {"sh", "-c", "echo '==1==ERROR: AddressSanitizer: heap-use-after-free' >&2; exit 1"});
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(p->waitExit(5s));
}

TEST(ProcessTest, SanitizerReportFailsTheTest) {
  EXPECT_NONFATAL_FAILURE(spawnWithSanitizerReport(), "sanitizer report");
}

TEST(ProcessTest, AllowedAbnormalExitDoesNotFail) {
  ProcessPtr p = Process::spawn({"sh", "-c", "ulimit -c 0; kill -ABRT $$"});
  ASSERT_NE(p, nullptr);
  p->allowAbnormalExit();
  std::optional<int> status = p->waitExit(5s);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGABRT);
}

void spawnMissing() {
  EXPECT_EQ(Process::spawn({"/nonexistent/program"}), nullptr);
}
void spawnNotInPath() {
  EXPECT_EQ(Process::spawn({"no-such-program-xyz"}), nullptr);
}
void spawnBadCwd() {
  EXPECT_EQ(Process::spawn({"true"}, {}, "/nonexistent/dir"), nullptr);
}

TEST(ProcessTest, StartFailuresAreReported) {
  EXPECT_NONFATAL_FAILURE(spawnMissing(), "execve failed for /nonexistent/program");
  EXPECT_NONFATAL_FAILURE(spawnNotInPath(), "not found in PATH");
  EXPECT_NONFATAL_FAILURE(spawnBadCwd(), "chdir failed");
}

// ---------------------------------------------------------------------------------------------
// SidecarProcess, against a stand-in script (the real binary is covered by the integration
// tests).

class ScopedEnv {
public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name))
      old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

private:
  const char* name_;
  std::optional<std::string> old_;
};

std::string writeScript(const std::string& name, const std::string& text) {
  static const std::string dir = [] {
    char pattern[] = "/tmp/support_selftest.XXXXXX";
    const char* made = ::mkdtemp(pattern);
    return std::string(made != nullptr ? made : "/tmp");
  }();
  std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  ::chmod(path.c_str(), 0755);
  return path;
}

TEST(SidecarProcessTest, ParsesPortsFromTheListeningLine) {
  ScopedEnv bin("MCP_SIDECAR_BIN",
                writeScript("fake-sidecar", "#!/bin/sh\n"
                                            "echo \"$@\"\n"
                                            "echo '{\"level\":\"info\",\"msg\":\"starting\"}' >&2\n"
                                            "echo '{\"level\":\"info\",\"msg\":\"listening\","
                                            "\"listen\":\"127.0.0.1:4242\","
                                            "\"admin\":\"127.0.0.1:4343\"}' >&2\n"
                                            "exec sleep 30\n"));
  SidecarProcessPtr sidecar = SidecarProcess::start({"--upstream", "127.0.0.1:9"});
  ASSERT_NE(sidecar, nullptr);
  EXPECT_EQ(sidecar->port(), 4242);
  EXPECT_EQ(sidecar->adminPort(), 4343);
  EXPECT_EQ(sidecar->address(), "127.0.0.1:4242");
  std::string args = sidecar->proc().waitForOutput("serve", Stream::Stdout, 5s).value_or("");
  // Defaults first, then a fresh state directory per sidecar, then the test's own flags.
  EXPECT_EQ(args.rfind("serve --listen 127.0.0.1:0 --admin 127.0.0.1:0 --log-level info "
                       "--state-dir ",
                       0),
            0u)
      << args;
  EXPECT_NE(args.find("/mcp-sidecar-state-"), std::string::npos) << args;
  EXPECT_TRUE(args.ends_with(" --upstream 127.0.0.1:9")) << args;
  std::optional<int> status = sidecar->stop(5s);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGTERM);
}

TEST(SidecarProcessTest, FlagsGivenByTheTestReplaceTheDefaults) {
  ScopedEnv bin("MCP_SIDECAR_BIN",
                writeScript("fake-sidecar-args",
                            "#!/bin/sh\necho \"$@\"\n"
                            "echo '{\"msg\":\"listening\",\"listen\":\"127.0.0.1:1\"}' >&2\n"
                            "exec sleep 30\n"));
  SidecarProcessPtr sidecar =
      SidecarProcess::start({"--log-level=debug", "--admin", "off", "--state-dir=/tmp/given"});
  ASSERT_NE(sidecar, nullptr);
  EXPECT_EQ(sidecar->adminPort(), 0);
  EXPECT_EQ(sidecar->proc().waitForOutput("serve", Stream::Stdout, 5s),
            "serve --listen 127.0.0.1:0 --log-level=debug --admin off --state-dir=/tmp/given");
}

void startFailingSidecar() {
  ScopedEnv bin("MCP_SIDECAR_BIN",
                writeScript("failing-sidecar",
                            "#!/bin/sh\necho 'config: key upstream: missing' >&2\nexit 2\n"));
  EXPECT_EQ(SidecarProcess::start({}), nullptr);
}

TEST(SidecarProcessTest, EarlyExitFailsWithStderr) {
  EXPECT_NONFATAL_FAILURE(startFailingSidecar(), "config: key upstream: missing");
  EXPECT_NONFATAL_FAILURE(startFailingSidecar(), "exited with 2");
}

} // namespace
} // namespace sidecar::test
