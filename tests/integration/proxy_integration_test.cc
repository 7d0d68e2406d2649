// The real binary in front of a real upstream process (tests/support/upstream.mjs), over
// loopback sockets: every bullet of the proxy core, including the smuggling cases.

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <csignal>
#include <fstream>
#include <random>
#include <thread>

#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/sidecar.h"

namespace sidecar::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string get(const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
}

std::string post(const std::string& path, const std::string& body, const std::string& extra = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" +
         extra + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

int upstreamCount(uint16_t upstreamPort, const char* field) {
  Response r = request(upstreamPort, "GET", "/count");
  auto pos = r.body.find(std::string("\"") + field + "\":");
  if (pos == std::string::npos)
    return -1;
  return std::stoi(r.body.substr(pos + strlen(field) + 3));
}

long rssKiB(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stol(line.substr(6));
  return -1;
}

class ProxyTest : public ::testing::Test {
protected:
  void SetUp() override {
    upstream_ = UpstreamProcess::start();
    ASSERT_TRUE(upstream_);
  }
  void startSidecar(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--upstream", "http://" + upstream_->address() + "/mcp",
                                  "--verify", "off"};
    args.insert(args.end(), extra.begin(), extra.end());
    sidecar_ = SidecarProcess::start(args);
    ASSERT_TRUE(sidecar_);
  }
  RawConnectionPtr connect() {
    auto c = RawConnection::connect(sidecar_->port());
    EXPECT_TRUE(c);
    return c;
  }
  std::optional<Response> roundTrip(RawConnection& c, const std::string& req,
                                    milliseconds timeout = seconds(10)) {
    EXPECT_TRUE(c.sendAll(req)) << c.lastError();
    return c.readResponse(scaled(timeout));
  }

  UpstreamProcessPtr upstream_;
  SidecarProcessPtr sidecar_;
};

TEST_F(ProxyTest, ForwardsAndRewritesHeaders) {
  startSidecar();
  auto c = connect();
  auto r = roundTrip(*c, post("/echo?x=1", R"({"jsonrpc":"2.0","id":1,"method":"ping"})",
                              "Connection: keep-alive, X-Private\r\nX-Private: secret\r\n"
                              "X-Forwarded-For: 192.0.2.1\r\nTE: trailers\r\n"));
  ASSERT_TRUE(r) << c->lastError();
  EXPECT_EQ(r->status, 200) << r->summary();
  const std::string& b = r->body;
  EXPECT_NE(b.find("\"url\":\"/echo?x=1\""), std::string::npos) << b;
  EXPECT_NE(b.find("\"host\":\"" + upstream_->address() + "\""), std::string::npos) << b;
  EXPECT_NE(b.find("\"x-forwarded-for\":\"192.0.2.1, 127.0.0.1\""), std::string::npos) << b;
  EXPECT_NE(b.find("\"x-forwarded-proto\":\"http\""), std::string::npos) << b;
  EXPECT_NE(b.find("\"x-forwarded-host\":\"localhost\""), std::string::npos) << b;
  EXPECT_EQ(b.find("x-private"), std::string::npos) << b;
  EXPECT_EQ(b.find("\"te\""), std::string::npos) << b;
  EXPECT_EQ(b.find("\"connection\":\"keep-alive, X-Private\""), std::string::npos) << b;
}

TEST_F(ProxyTest, OneMiBBodyForwardedByteForByte) {
  startSidecar();
  std::string body(1 << 20, '\0');
  std::mt19937 rng(42);
  for (char& ch : body)
    ch = static_cast<char>(rng());
  auto c = connect();
  auto r = roundTrip(
      *c,
      "POST /echo-body HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\n"
      "Content-Length: " +
          std::to_string(body.size()) + "\r\n\r\n" + body);
  ASSERT_TRUE(r) << c->lastError();
  EXPECT_EQ(r->status, 200);
  ASSERT_EQ(r->body.size(), body.size());
  EXPECT_TRUE(r->body == body) << "the body came back altered";
}

TEST_F(ProxyTest, ChunkedRequestBodyIsForwardedWhole) {
  startSidecar();
  auto c = connect();
  std::string req =
      "POST /echo-body HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n1;ext=x\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: 1\r\n\r\n";
  auto r = roundTrip(*c, req);
  ASSERT_TRUE(r) << c->lastError();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello world");
  EXPECT_EQ(r->header("content-length").value_or(""), "11");
}

TEST_F(ProxyTest, KeepAliveReusesUpstreamConnections) {
  startSidecar({"--workers", "1"});
  auto c = connect();
  int before = upstreamCount(upstream_->port(), "connections");
  for (int i = 0; i < 50; ++i) {
    auto r = roundTrip(
        *c, post("/mcp", R"({"jsonrpc":"2.0","id":)" + std::to_string(i) + R"(,"method":"ping"})"));
    ASSERT_TRUE(r) << c->lastError();
    ASSERT_EQ(r->status, 200);
    EXPECT_NE(r->body.find("\"id\":" + std::to_string(i)), std::string::npos);
  }
  int after = upstreamCount(upstream_->port(), "connections");
  // 50 requests over one client connection: one upstream connection (plus the readiness probe's
  // short connections, which close each time).
  int probes = 10;
  EXPECT_LE(after - before - 1, probes) << "upstream connections were not reused";
  EXPECT_LE(after - before, 1 + probes);
}

TEST_F(ProxyTest, PipelinedRequestsAreAnsweredInOrder) {
  startSidecar();
  auto c = connect();
  std::string three = post("/mcp", R"({"jsonrpc":"2.0","id":1,"method":"a"})") +
                      post("/mcp", R"({"jsonrpc":"2.0","id":2,"method":"b"})") +
                      post("/mcp", R"({"jsonrpc":"2.0","id":3,"method":"c"})");
  ASSERT_TRUE(c->sendAll(three));
  for (int id = 1; id <= 3; ++id) {
    auto r = c->readResponse(scaled(seconds(10)));
    ASSERT_TRUE(r) << c->lastError();
    EXPECT_NE(r->body.find("\"id\":" + std::to_string(id)), std::string::npos) << r->body;
  }
}

TEST_F(ProxyTest, SseEventsArriveWhileTheUpstreamIsStillWriting) {
  startSidecar();
  auto c = connect();
  ASSERT_TRUE(c->sendAll(get("/sse?events=4&interval=700")));
  auto head = c->readResponseHead(scaled(seconds(5)));
  ASSERT_TRUE(head) << c->lastError();
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("content-type").value_or(""), "text/event-stream");
  auto start = std::chrono::steady_clock::now();
  std::string first;
  while (first.find("\n\n") == std::string::npos && !c->bodyComplete()) {
    std::string some = c->readBodySome(scaled(seconds(2)));
    if (some.empty())
      break;
    first += some;
  }
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_NE(first.find("data: {\"n\":0}"), std::string::npos) << first;
  EXPECT_FALSE(c->bodyComplete()) << "the stream ended before the first event was read";
  EXPECT_LT(elapsed, milliseconds(600)) << "the first event was held back";
  auto rest = c->readBodyRest(scaled(seconds(10)));
  ASSERT_TRUE(rest) << c->lastError();
  EXPECT_NE((first + *rest).find("data: {\"n\":3}"), std::string::npos);
}

struct SmugglingCase {
  const char* name;
  const char* request;
};

class SmugglingTest : public ProxyTest, public ::testing::WithParamInterface<SmugglingCase> {};

TEST_P(SmugglingTest, RefusedWith400AndNeverForwarded) {
  startSidecar();
  auto c = connect();
  ASSERT_TRUE(c->sendAll(GetParam().request));
  auto r = c->readResponse(scaled(seconds(5)));
  ASSERT_TRUE(r) << c->lastError();
  EXPECT_EQ(r->status, 400) << r->summary();
  EXPECT_EQ(r->header("content-type").value_or(""), "application/json");
  EXPECT_NE(r->body.find("\"code\":-32600"), std::string::npos) << r->body;
  EXPECT_EQ(r->header("connection").value_or(""), "close");
  EXPECT_TRUE(c->waitClosed(scaled(seconds(5))));
  // Neither the request nor anything smuggled inside it reached the upstream (its log lists
  // every request it received; the readiness probe's are GETs of /mcp).
  Response log = request(upstream_->port(), "GET", "/log");
  ASSERT_EQ(log.status, 200);
  EXPECT_EQ(log.body.find("POST /mcp"), std::string::npos) << log.body;
  EXPECT_EQ(log.body.find("smuggled"), std::string::npos) << log.body;
}

INSTANTIATE_TEST_SUITE_P(
    Framing, SmugglingTest,
    ::testing::Values(
        SmugglingCase{"cl_te",
                      "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Length: 6\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n"},
        SmugglingCase{"conflicting_cl",
                      "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n"
                      "Content-Length: 40\r\n\r\nabc"},
        SmugglingCase{"obs_fold", "GET /mcp HTTP/1.1\r\nHost: localhost\r\nX-A: 1\r\n "
                                  "Transfer-Encoding: chunked\r\n\r\n"},
        SmugglingCase{"bad_chunk",
                      "POST /mcp HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "-1\r\nabc\r\n0\r\n\r\n"},
        SmugglingCase{"te_not_final_chunked",
                      "POST /mcp HTTP/1.1\r\nHost: localhost\r\n"
                      "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"}),
    [](const auto& p) { return p.param.name; });

TEST_F(ProxyTest, SlowHeadersGet408) {
  startSidecar({"--header-timeout", "2"});
  auto c = connect();
  auto start = std::chrono::steady_clock::now();
  // One byte per second: the whole head would take ~30 s.
  std::thread sender(
      [&] { c->sendSlowly(get("/echo") + std::string(0, ' '), milliseconds(1000)); });
  auto r = c->readResponse(scaled(seconds(10)));
  auto elapsed = std::chrono::steady_clock::now() - start;
  c->shutdownWrite();
  sender.join();
  ASSERT_TRUE(r) << c->lastError();
  EXPECT_EQ(r->status, 408);
  EXPECT_GE(elapsed, milliseconds(1800));
  EXPECT_LT(elapsed, scaled(seconds(5)));
}

TEST_F(ProxyTest, IdleKeepAliveConnectionIsClosed) {
  startSidecar({"--idle-timeout", "1"});
  auto c = connect();
  auto r = roundTrip(*c, get("/echo"));
  ASSERT_TRUE(r);
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(c->waitClosed(scaled(seconds(5))));
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(800));
}

TEST_F(ProxyTest, BodyOverLimitIs413) {
  startSidecar({"--max-body", "1KiB"});
  auto c = connect();
  auto r = roundTrip(
      *c, post("/echo", R"({"jsonrpc":"2.0","id":9,"x":")" + std::string(2000, 'a') + "\"}"));
  ASSERT_TRUE(r) << c->lastError();
  EXPECT_EQ(r->status, 413);
  EXPECT_NE(r->body.find("--max-body"), std::string::npos) << r->body;
  // Chunked, without a length to check up front.
  auto c2 = connect();
  ASSERT_TRUE(
      c2->sendAll("POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"));
  std::string chunk = "400\r\n" + std::string(1024, 'b') + "\r\n";
  c2->sendAll(chunk);
  c2->sendAll(chunk);
  auto r2 = c2->readResponse(scaled(seconds(5)));
  ASSERT_TRUE(r2) << c2->lastError();
  EXPECT_EQ(r2->status, 413);
}

TEST_F(ProxyTest, HeadersOverLimitAre431) {
  startSidecar({"--max-header-size", "4KiB"});
  auto c = connect();
  auto r = roundTrip(
      *c, "GET /echo HTTP/1.1\r\nHost: localhost\r\nX-Big: " + std::string(8000, 'x') + "\r\n\r\n");
  ASSERT_TRUE(r) << c->lastError();
  EXPECT_EQ(r->status, 431);
}

TEST_F(ProxyTest, ExpectContinueGets100ThenTheAnswer) {
  startSidecar();
  auto c = connect();
  ASSERT_TRUE(c->sendAll("POST /echo-body HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n"
                         "Content-Length: 4\r\n\r\n"));
  auto interim = c->readResponse(scaled(seconds(5)));
  ASSERT_TRUE(interim) << c->lastError();
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(c->sendAll("ping"));
  auto r = c->readResponse(scaled(seconds(5)));
  ASSERT_TRUE(r) << c->lastError();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ping");
}

TEST_F(ProxyTest, Http10ClientGetsCloseDelimitedChunkedAnswer) {
  startSidecar();
  auto c = connect();
  ASSERT_TRUE(c->sendAll("GET /chunked?parts=3 HTTP/1.0\r\n\r\n"));
  auto r = c->readResponse(scaled(seconds(5)));
  ASSERT_TRUE(r) << c->lastError();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "part-0\npart-1\npart-2\n");
  EXPECT_FALSE(r->hasHeader("transfer-encoding"));
  EXPECT_TRUE(c->waitClosed(scaled(seconds(5))));
}

TEST_F(ProxyTest, UpstreamDownIs502AndNotReady) {
  startSidecar();
  ASSERT_TRUE(upstream_->stop(seconds(5)));
  auto c = connect();
  auto r = roundTrip(*c, post("/mcp", R"({"jsonrpc":"2.0","id":"abc","method":"tools/call"})"));
  ASSERT_TRUE(r) << c->lastError();
  EXPECT_EQ(r->status, 502);
  EXPECT_NE(r->body.find(R"("id":"abc","error":{"code":-31004)"), std::string::npos) << r->body;
  // The connection stays usable after a well-formed request failed upstream.
  auto r2 = roundTrip(*c, get("/echo"));
  ASSERT_TRUE(r2) << c->lastError();
  EXPECT_EQ(r2->status, 502);
  EXPECT_TRUE(
      waitUntil([&] { return request(sidecar_->adminPort(), "GET", "/readyz").status == 503; },
                scaled(seconds(6))));
  Response ready = request(sidecar_->adminPort(), "GET", "/readyz");
  EXPECT_NE(ready.body.find("upstream not answering"), std::string::npos) << ready.body;
}

TEST_F(ProxyTest, SlowUpstreamIs504) {
  startSidecar({"--upstream-timeout", "1"});
  auto c = connect();
  auto start = std::chrono::steady_clock::now();
  auto r =
      roundTrip(*c, post("/slow?ms=4000", R"({"jsonrpc":"2.0","id":5,"method":"tools/call"})"));
  ASSERT_TRUE(r) << c->lastError();
  EXPECT_EQ(r->status, 504);
  EXPECT_NE(r->body.find(R"("id":5,"error":{"code":-31005)"), std::string::npos) << r->body;
  EXPECT_LT(std::chrono::steady_clock::now() - start, scaled(seconds(3)));
}

TEST_F(ProxyTest, LongRunningToolWithinTimeoutSucceeds) {
  startSidecar({"--upstream-timeout", "5"});
  auto c = connect();
  auto r = roundTrip(*c, post("/slow?ms=1500", "{}"));
  ASSERT_TRUE(r) << c->lastError();
  EXPECT_EQ(r->status, 200);
}

TEST_F(ProxyTest, MaxConnectionsRefusesTheExtraOne) {
  startSidecar({"--max-connections", "2", "--workers", "1"});
  auto a = connect();
  auto b = connect();
  ASSERT_TRUE(roundTrip(*a, get("/echo")));
  ASSERT_TRUE(roundTrip(*b, get("/echo")));
  auto extra = connect();
  auto r = extra->readResponse(scaled(seconds(5)));
  ASSERT_TRUE(r) << extra->lastError();
  EXPECT_EQ(r->status, 503);
  EXPECT_TRUE(extra->waitClosed(scaled(seconds(5))));
  a.reset();
  // Once one closes, a new connection is served again.
  EXPECT_TRUE(waitUntil(
      [&] {
        auto d = RawConnection::connect(sidecar_->port());
        if (!d || !d->sendAll(get("/echo")))
          return false;
        auto rr = d->readResponse(scaled(seconds(2)));
        return rr && rr->status == 200;
      },
      scaled(seconds(5))));
}

TEST_F(ProxyTest, SlowReaderDoesNotMakeTheSidecarBuffer) {
  startSidecar({"--workers", "1"});
  auto c = connect();
  int small = 16 << 10;
  setsockopt(c->fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  long before = rssKiB(sidecar_->proc().pid());
  const size_t total = 96u << 20;
  ASSERT_TRUE(c->sendAll(get("/big?bytes=" + std::to_string(total))));
  auto head = c->readResponseHead(scaled(seconds(5)));
  ASSERT_TRUE(head) << c->lastError();
  std::this_thread::sleep_for(milliseconds(1500)); // not reading: the upstream must be paused
  long during = rssKiB(sidecar_->proc().pid());
  EXPECT_LT(during - before, 24 * 1024) << "the sidecar buffered the response (KiB)";
  auto rest = c->readBodyRest(scaled(seconds(60)));
  ASSERT_TRUE(rest) << c->lastError();
  ASSERT_EQ(rest->size(), total);
  for (size_t i = 0; i < total; i += 4099)
    ASSERT_EQ(static_cast<unsigned char>((*rest)[i]), i % 251) << i;
}

TEST_F(ProxyTest, SigtermLetsInFlightRequestsFinish) {
  startSidecar({"--drain-timeout", "10"});
  constexpr int kN = 8;
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  std::vector<RawConnectionPtr> conns;
  for (int i = 0; i < kN; ++i) {
    conns.push_back(connect());
    ASSERT_TRUE(conns.back()->sendAll(post("/slow?ms=1500", "{}")));
  }
  ASSERT_TRUE(waitUntil([&] { return upstreamCount(upstream_->port(), "requests") >= kN; },
                        scaled(seconds(5))));
  ASSERT_TRUE(sidecar_->proc().sendSignal(SIGTERM));
  for (int i = 0; i < kN; ++i)
    clients.emplace_back([&, i] {
      auto r = conns[i]->readResponse(scaled(seconds(10)));
      if (r && r->status == 200 && r->header("connection").value_or("") == "close")
        ++ok;
    });
  for (auto& t : clients)
    t.join();
  EXPECT_EQ(ok.load(), kN);
  auto status = sidecar_->proc().waitExit(scaled(seconds(10)));
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << Process::describeStatus(*status);
  EXPECT_FALSE(RawConnection::connect(sidecar_->port(), milliseconds(500)));
}

TEST_F(ProxyTest, AdminEndpoints) {
  startSidecar();
  EXPECT_EQ(request(sidecar_->adminPort(), "GET", "/healthz").status, 200);
  EXPECT_TRUE(
      waitUntil([&] { return request(sidecar_->adminPort(), "GET", "/readyz").status == 200; },
                scaled(seconds(5))));
  auto c = connect();
  ASSERT_TRUE(roundTrip(*c, get("/echo")));
  Response m = request(sidecar_->adminPort(), "GET", "/metrics");
  EXPECT_EQ(m.status, 200);
  for (const char* name :
       {"mcp_sidecar_build_info{", "mcp_sidecar_upstream_up 1",
        "mcp_sidecar_http_responses_total{code=\"2xx\"}",
        "mcp_sidecar_http_request_duration_seconds_bucket", "mcp_sidecar_connections_active",
        "mcp_sidecar_http_rejections_total{reason=\"bad_request\"}"})
    EXPECT_NE(m.body.find(name), std::string::npos) << name;
  Response s = request(sidecar_->adminPort(), "GET", "/status");
  EXPECT_EQ(s.status, 200);
  EXPECT_NE(s.body.find("\"upstream\":\"http://" + upstream_->address() + "/mcp\""),
            std::string::npos)
      << s.body;
  EXPECT_EQ(request(sidecar_->adminPort(), "GET", "/nope").status, 404);
  // The MCP port never serves admin paths: /metrics there goes to the upstream.
  Response viaMcp = request(sidecar_->port(), "GET", "/metrics");
  EXPECT_EQ(viaMcp.body.find("mcp_sidecar_"), std::string::npos);
}

TEST_F(ProxyTest, MetricsCountRejectionsAndUpstreamErrors) {
  startSidecar({"--max-body", "10"});
  auto c = connect();
  roundTrip(*c, post("/echo", std::string(100, 'x')));
  Response m = request(sidecar_->adminPort(), "GET", "/metrics");
  EXPECT_NE(m.body.find("mcp_sidecar_http_rejections_total{reason=\"body_too_large\"} 1"),
            std::string::npos)
      << m.body;
}

class CommandLineTest : public ::testing::Test {};

TEST_F(CommandLineTest, VersionAndHelp) {
  auto v = Process::spawn({SidecarProcess::binaryPath(), "--version"});
  auto vs = v->waitExit(scaled(seconds(5)));
  ASSERT_TRUE(vs);
  EXPECT_EQ(WEXITSTATUS(*vs), 0);
  EXPECT_NE(v->stdoutText().find("mcp-sidecar 0."), std::string::npos) << v->stdoutText();
  auto h = Process::spawn({SidecarProcess::binaryPath(), "serve", "--help"});
  auto hs = h->waitExit(scaled(seconds(5)));
  ASSERT_TRUE(hs);
  EXPECT_EQ(WEXITSTATUS(*hs), 0);
  for (const char* flag :
       {"--listen", "--admin", "--upstream", "--max-body", "--header-timeout", "--idle-timeout",
        "--upstream-timeout", "--drain-timeout", "--max-connections", "--workers", "--log-level",
        "--config", "MCP_SIDECAR_MAX_BODY"})
    EXPECT_NE(h->stdoutText().find(flag), std::string::npos) << flag;
}

TEST_F(CommandLineTest, InvalidConfigurationExits2NamingTheKey) {
  auto p = Process::spawn({SidecarProcess::binaryPath(), "serve", "--upstream",
                           "http://127.0.0.1:1", "--verify", "off", "--idle-timeout", "soon"});
  auto st = p->waitExit(scaled(seconds(5)));
  ASSERT_TRUE(st);
  EXPECT_EQ(WEXITSTATUS(*st), 2);
  EXPECT_NE(p->stderrText().find("--idle-timeout = 'soon'"), std::string::npos) << p->stderrText();
  auto e = Process::spawn({SidecarProcess::binaryPath(), "serve", "--upstream",
                           "http://127.0.0.1:1", "--verify", "off"},
                          {{"MCP_SIDECAR_LISTEN", "nowhere"}});
  auto es = e->waitExit(scaled(seconds(5)));
  ASSERT_TRUE(es);
  EXPECT_EQ(WEXITSTATUS(*es), 2);
  EXPECT_NE(e->stderrText().find("MCP_SIDECAR_LISTEN"), std::string::npos) << e->stderrText();
  auto u = Process::spawn({SidecarProcess::binaryPath(), "serve", "--bogus"});
  auto us = u->waitExit(scaled(seconds(5)));
  ASSERT_TRUE(us);
  EXPECT_EQ(WEXITSTATUS(*us), 2);
}

TEST_F(CommandLineTest, PortInUseExits1WithAClearMessage) {
  auto first = SidecarProcess::start({"--upstream", "http://127.0.0.1:1", "--verify", "off"});
  ASSERT_TRUE(first);
  auto p =
      Process::spawn({SidecarProcess::binaryPath(), "serve", "--upstream", "http://127.0.0.1:1",
                      "--verify", "off", "--listen", first->address(), "--admin", "127.0.0.1:0"});
  auto st = p->waitExit(scaled(seconds(5)));
  ASSERT_TRUE(st);
  EXPECT_EQ(WEXITSTATUS(*st), 1);
  EXPECT_NE(p->stderrText().find("another process holds this port"), std::string::npos)
      << p->stderrText();
}

} // namespace
} // namespace sidecar::test
