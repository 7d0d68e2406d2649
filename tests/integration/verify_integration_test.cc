// Request verification through the running binary, over real HTTP: each rejection reason with its
// status and JSON-RPC body, replays across connections and workers, allow-lists, monitor mode,
// trust-store reloads under load, and the `keygen`/`sign --curl` tools with the real curl.

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/sidecar.h"
#include "verifier/answer_signature.h"
#include "verifier/keys.h"
#include "verifier/verifier.h"

namespace sidecar::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
namespace fs = std::filesystem;

struct Caller {
  std::string id;
  verifier::PrivateKey key;
};

Caller makeCaller(const std::string& id) {
  return {id, verifier::generatePrivateKey()};
}

std::string entry(const Caller& c, const std::string& extra = "") {
  return "  - id: " + c.id + "\n    public_key: \"" + verifier::base64(c.key.pub.bytes) + "\"\n" +
         extra;
}

struct Signed {
  std::string method = "POST";
  std::string target = "/mcp";
  std::string body = R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})";
  std::string nonce;
  std::string timestamp;
  std::string keyId;
  std::string session;
  std::string extraHeaders;
};

std::string freshNonce() {
  static std::atomic<uint64_t> n{0};
  return "nonce" + std::to_string(getpid()) + "x" + std::to_string(n.fetch_add(1)) + "yyyyyyyyyyyy";
}

// A complete signed HTTP/1.1 request.
std::string signedRequest(const Caller& c, Signed s) {
  if (s.nonce.empty())
    s.nonce = freshNonce();
  if (s.timestamp.empty())
    s.timestamp = std::to_string(time(nullptr));
  if (s.keyId.empty())
    s.keyId = c.id;
  std::string msg =
      verifier::signedMessage(s.method, s.target, s.timestamp, s.nonce, s.keyId, s.session, s.body);
  std::string sig = verifier::base64(verifier::sign(c.key, msg));
  std::string r = s.method + " " + s.target +
                  " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" +
                  "X-MCP-Signature: " + sig + "\r\nX-MCP-Timestamp: " + s.timestamp +
                  "\r\nX-MCP-Nonce: " + s.nonce + "\r\nX-MCP-Key-Id: " + s.keyId + "\r\n" +
                  (s.session.empty() ? "" : "Mcp-Session-Id: " + s.session + "\r\n") +
                  s.extraHeaders + "Content-Length: " + std::to_string(s.body.size()) + "\r\n\r\n" +
                  s.body;
  return r;
}

class VerifyTest : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sidecar-verify-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    storePath_ = (dir_ / "trust.yaml").string();
    alice_ = makeCaller("alice");
    bob_ = makeCaller("bob");
    upstream_ = UpstreamProcess::start();
    ASSERT_TRUE(upstream_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void writeStore(const std::string& keys) {
    std::string tmp = storePath_ + ".tmp";
    std::ofstream(tmp) << "keys:\n" << keys;
    fs::rename(tmp, storePath_); // atomic, as an editor or a config manager does
  }
  void startSidecar(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--upstream", "http://" + upstream_->address() + "/mcp",
                                  "--trust-store", storePath_};
    args.insert(args.end(), extra.begin(), extra.end());
    sidecar_ = SidecarProcess::start(args);
    ASSERT_TRUE(sidecar_);
  }
  std::optional<Response> send(const std::string& raw) {
    auto c = RawConnection::connect(sidecar_->port());
    if (!c || !c->sendAll(raw))
      return std::nullopt;
    return c->readResponse(scaled(seconds(10)));
  }
  // Expects a rejection with `status`, `reason` and the JSON-RPC code.
  void expectRejected(const std::optional<Response>& r, int status, const std::string& reason,
                      int code = -31001) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << r->summary();
    EXPECT_NE(r->body.find("\"code\":" + std::to_string(code)), std::string::npos) << r->body;
    EXPECT_NE(r->body.find("\"reason\":\"" + reason + "\""), std::string::npos) << r->body;
    if (status == 401) {
      EXPECT_EQ(r->header("www-authenticate").value_or(""),
                "MCP-Signature realm=\"mcp-sidecar\", error=\"" + reason + "\"");
    }
  }
  int upstreamPosts() {
    Response log = request(upstream_->port(), "GET", "/log");
    int n = 0;
    for (size_t p = 0; (p = log.body.find("POST /mcp", p)) != std::string::npos; ++p)
      ++n;
    return n;
  }
  std::string metrics() { return request(sidecar_->adminPort(), "GET", "/metrics").body; }

  fs::path dir_;
  std::string storePath_;
  Caller alice_, bob_;
  UpstreamProcessPtr upstream_;
  SidecarProcessPtr sidecar_;
};

TEST_F(VerifyTest, SignedRequestIsForwardedAndAnsweredOnce) {
  writeStore(entry(alice_));
  startSidecar();
  std::string req = signedRequest(alice_, {});
  auto r = send(req);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->summary();
  EXPECT_NE(r->body.find("\"id\":1"), std::string::npos);
  // The same bytes again, on another connection: a replay.
  expectRejected(send(req), 401, "replayed");
  EXPECT_EQ(upstreamPosts(), 1);
}

// Signing contract §6 for an HTTP upstream: the answer to a signed request carries the sidecar's
// signature (a JSON answer over its body, held whole first; an event stream per event), checked
// here against the key the capabilities document publishes. Unsigned requests get plain answers.
TEST_F(VerifyTest, AnswersToSignedRequestsAreSigned) {
  writeStore(entry(alice_));
  startSidecar();
  Response doc = request(sidecar_->port(), "GET", "/.well-known/mcp/capabilities");
  auto at = doc.body.find("\"public_key_base64\":\"");
  ASSERT_NE(at, std::string::npos) << doc.summary();
  at += 21;
  auto pub = verifier::parsePublicKey(doc.body.substr(at, doc.body.find('"', at) - at));
  ASSERT_TRUE(pub.ok()) << pub.error();
  std::string keyId = verifier::fingerprint(*pub);
  auto sigOf = [](const std::string& b64) {
    verifier::Signature sig{};
    std::string raw;
    if (verifier::decodeBase64(b64, raw) && raw.size() == 64)
      std::copy(raw.begin(), raw.end(), sig.begin());
    return sig;
  };
  auto headerOf = [](const std::string& req, const std::string& name) {
    size_t p = req.find(name + ": ");
    return req.substr(p + name.size() + 2, req.find("\r\n", p) - p - name.size() - 2);
  };

  std::string req = signedRequest(alice_, {});
  auto r = send(req);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->summary();
  ASSERT_TRUE(r->hasHeader("x-mcp-signature")) << r->summary();
  EXPECT_EQ(r->header("content-length").value_or(""), std::to_string(r->body.size()));
  EXPECT_TRUE(verifier::verifySignature(
      *pub, sigOf(*r->header("x-mcp-signature")),
      verifier::answerMessage(200, r->header("x-mcp-timestamp").value_or(""),
                              headerOf(req, "X-MCP-Nonce"), headerOf(req, "X-MCP-Signature"), keyId,
                              verifier::sha256Hex(r->body))))
      << r->summary();

  Signed sse;
  sse.target = "/sse?events=3&interval=10";
  sse.body = R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})";
  std::string sreq = signedRequest(alice_, sse);
  auto s = send(sreq);
  ASSERT_TRUE(s);
  ASSERT_EQ(s->status, 200) << s->summary();
  std::string ts = s->header("x-mcp-timestamp").value_or("");
  std::string reqSig = headerOf(sreq, "X-MCP-Signature");
  EXPECT_TRUE(
      verifier::verifySignature(*pub, sigOf(s->header("x-mcp-signature").value_or("")),
                                verifier::answerMessage(200, ts, headerOf(sreq, "X-MCP-Nonce"),
                                                        reqSig, keyId, verifier::sha256Hex(""))));
  size_t pos = 0, events = 0;
  while ((pos = s->body.find(": mcp-sig seq=", pos)) != std::string::npos) {
    size_t eol = s->body.find('\n', pos);
    std::string line = s->body.substr(pos, eol - pos);
    size_t end = s->body.find("\n\n", eol);
    ASSERT_NE(end, std::string::npos) << s->body;
    std::string event = s->body.substr(eol + 1, end + 2 - (eol + 1));
    EXPECT_EQ(line.substr(14, line.find(' ', 14) - 14), std::to_string(events));
    EXPECT_TRUE(verifier::verifySignature(
        *pub, sigOf(line.substr(line.find("sig=") + 4)),
        verifier::eventMessage(reqSig, ts, events, verifier::sha256Hex(event))))
        << event;
    ++events;
    pos = end;
  }
  EXPECT_EQ(events, 3u) << s->body;

  // Off (no signature checked): answers go out as the upstream sent them.
  sidecar_.reset();
  startSidecar({"--verify", "off"});
  Response plain = request(sidecar_->port(), "POST", "/mcp", {{"Content-Type", "application/json"}},
                           R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})");
  EXPECT_EQ(plain.status, 200);
  EXPECT_FALSE(plain.hasHeader("x-mcp-signature"));
}

TEST_F(VerifyTest, EachRejectionReasonHasItsStatusAndBody) {
  writeStore(entry(alice_) + entry(bob_, "    revoked: true\n") +
             entry(makeCaller("old"), "    expires: 2020-01-01T00:00:00Z\n"));
  startSidecar();
  Caller mallory = makeCaller("alice"); // claims alice's id with another key
  std::string now = std::to_string(time(nullptr));
  std::string unsignedReq = "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
                            "application/json\r\nContent-Length: 2\r\n\r\n{}";
  expectRejected(send(unsignedReq), 401, "signature_missing");
  Signed badTs;
  badTs.timestamp = "0123";
  expectRejected(send(signedRequest(alice_, badTs)), 401, "timestamp_invalid");
  Signed old;
  old.timestamp = std::to_string(time(nullptr) - 3600);
  expectRejected(send(signedRequest(alice_, old)), 401, "timestamp_skew");
  Signed badNonce;
  badNonce.nonce = "short";
  expectRejected(send(signedRequest(alice_, badNonce)), 401, "header_malformed");
  Signed unknown;
  unknown.keyId = "nobody";
  expectRejected(send(signedRequest(alice_, unknown)), 401, "key_unknown");
  expectRejected(send(signedRequest(bob_, {})), 401, "key_revoked");
  expectRejected(send(signedRequest(mallory, {})), 401, "signature_invalid");
  // Altered body: sign one body, send another of the same length.
  std::string req = signedRequest(alice_, {});
  req.replace(req.find("tools/list"), 10, "tools/lisT");
  expectRejected(send(req), 401, "signature_invalid");
  // A signature that is not 64 bytes.
  std::string shortSig = signedRequest(alice_, {});
  size_t at = shortSig.find("X-MCP-Signature: ") + 17;
  shortSig.replace(at, 4, "");
  expectRejected(send(shortSig), 401, "signature_malformed");
  // A duplicated header.
  Signed dup;
  dup.extraHeaders = "X-MCP-Timestamp: " + now + "\r\n";
  expectRejected(send(signedRequest(alice_, dup)), 401, "header_duplicated");
  EXPECT_EQ(upstreamPosts(), 0) << "a rejected request reached the upstream";
  std::string m = metrics();
  for (const char* reason : {"signature_missing", "timestamp_invalid", "timestamp_skew",
                             "header_malformed", "key_unknown", "key_revoked", "signature_invalid",
                             "signature_malformed", "header_duplicated"})
    EXPECT_NE(
        m.find(
            std::string("mcp_sidecar_signature_verifications_total{result=\"rejected\",reason=\"") +
            reason + "\",profile=\"mcp-sig-v1\"} "),
        std::string::npos)
        << reason;
}

TEST_F(VerifyTest, IdIsEchoedInTheRejection) {
  writeStore(entry(alice_));
  startSidecar();
  std::string body = R"({"jsonrpc":"2.0","id":77,"method":"ping"}  )";
  auto r = send("POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body);
  ASSERT_TRUE(r);
  EXPECT_NE(
      r->body.find(
          R"({"jsonrpc":"2.0","id":77,"error":{"code":-31001,"message":"Invalid MCP signature")"),
      std::string::npos)
      << r->body;
}

TEST_F(VerifyTest, DeeplyNestedUnsignedBodyIsRefusedWithoutHarm) {
  // The rejection's id echo and audit record read the body of an unsigned request. A body of
  // 1 MiB of '[' once exhausted the worker's stack in RapidJSON's recursive reader and killed
  // the sidecar: anyone who could reach the port could stop it.
  writeStore(entry(alice_));
  startSidecar();
  std::string body =
      R"({"jsonrpc":"2.0","id":78,"method":"ping","params":)" + std::string(1 << 20, '[');
  auto r = send("POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                "Content-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body);
  ASSERT_TRUE(r) << "the sidecar answered";
  EXPECT_EQ(r->status, 401) << r->body;
  EXPECT_EQ(request(sidecar_->adminPort(), "GET", "/healthz").status, 200)
      << "the sidecar is still running";
  expectRejected(send("POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                      "Content-Length: 2\r\n\r\n{}"),
                 401, "signature_missing");
}

TEST_F(VerifyTest, ReplayAcrossWorkersIsAcceptedExactlyOnce) {
  writeStore(entry(alice_));
  startSidecar({"--workers", "2"});
  std::string req = signedRequest(alice_, {});
  constexpr int kConns = 16;
  std::vector<RawConnectionPtr> conns;
  for (int i = 0; i < kConns; ++i) {
    conns.push_back(RawConnection::connect(sidecar_->port()));
    ASSERT_TRUE(conns.back());
  }
  std::atomic<int> ok{0}, replayed{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < kConns; ++i)
    ts.emplace_back([&, i] {
      if (!conns[i]->sendAll(req))
        return;
      auto r = conns[i]->readResponse(scaled(seconds(10)));
      if (r && r->status == 200)
        ++ok;
      if (r && r->status == 401 && r->body.find("replayed") != std::string::npos)
        ++replayed;
    });
  for (auto& t : ts)
    t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(replayed.load(), kConns - 1);
}

TEST_F(VerifyTest, AFloodOfBadRequestsDoesNotFloodTheLog) {
  writeStore(entry(alice_));
  startSidecar({"--workers", "1", "--access-log", "false"});
  auto c = RawConnection::connect(sidecar_->port());
  ASSERT_TRUE(c);
  constexpr int kBad = 300;
  std::string body = R"({"jsonrpc":"2.0","id":1,"method":"ping"})";
  std::string bad =
      "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n" + body;
  for (int i = 0; i < kBad; ++i) {
    ASSERT_TRUE(c->sendAll(bad));
    auto r = c->readResponse(scaled(seconds(5)));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 401);
  }
  // Every rejection is counted...
  EXPECT_NE(metrics().find("reason=\"signature_missing\",profile=\"mcp-sig-v1\"} " +
                           std::to_string(kBad)),
            std::string::npos);
  // ...but the log holds a burst, then says how many lines it held back.
  std::this_thread::sleep_for(milliseconds(1100));
  ASSERT_TRUE(c->sendAll(bad));
  ASSERT_TRUE(c->readResponse(scaled(seconds(5))));
  // A line after the burst reports how many were held back ("suppressed": N > 0).
  auto heldBackReported = [](const std::string& err) {
    for (size_t p = 0; (p = err.find("\"suppressed\":", p)) != std::string::npos; ++p)
      if (err[p + 13] != '0')
        return true;
    return false;
  };
  EXPECT_TRUE(waitUntil([&] { return heldBackReported(sidecar_->proc().stderrText()); },
                        scaled(seconds(5))))
      << "no log line reported the suppressed count";
  std::string err = sidecar_->proc().stderrText();
  int lines = 0;
  for (size_t p = 0; (p = err.find("request signature rejected", p)) != std::string::npos; ++p)
    ++lines;
  EXPECT_LE(lines, 25) << "the rejection log is not rate-limited";
  EXPECT_GE(lines, 2);
}

TEST_F(VerifyTest, ToolAllowList) {
  writeStore(entry(alice_, "    tools: [echo]\n"));
  startSidecar();
  Signed allowed;
  allowed.body =
      R"({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","arguments":{}}})";
  auto ok = send(signedRequest(alice_, allowed));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->summary();
  Signed denied;
  denied.body =
      R"({"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"rm_rf","arguments":{}}})";
  auto r = send(signedRequest(alice_, denied));
  expectRejected(r, 403, "tool_not_allowed", -31002);
  EXPECT_NE(r->body.find("\"id\":6"), std::string::npos);
  EXPECT_NE(metrics().find("mcp_sidecar_tool_denials_total 1"), std::string::npos);
}

TEST_F(VerifyTest, MonitorModeForwardsButCounts) {
  writeStore(entry(alice_));
  startSidecar({"--verify", "monitor"});
  std::string body = R"({"jsonrpc":"2.0","id":3,"method":"ping"})";
  auto r = send("POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(upstreamPosts(), 1);
  EXPECT_NE(metrics().find("reason=\"signature_missing\",profile=\"mcp-sig-v1\"} 1"),
            std::string::npos);
  EXPECT_TRUE(sidecar_->proc().waitForOutput("monitor mode: forwarded anyway", Stream::Stderr,
                                             scaled(seconds(5))));
}

TEST_F(VerifyTest, WellKnownGetIsForwardedUnsigned) {
  writeStore(entry(alice_));
  startSidecar();
  Response r = request(sidecar_->port(), "GET", "/.well-known/oauth-protected-resource");
  EXPECT_EQ(r.status, 200) << r.summary();
  Response p = request(sidecar_->port(), "POST", "/.well-known/oauth-protected-resource", {}, "{}");
  EXPECT_EQ(p.status, 401) << "only GET of /.well-known/ is exempt";
}

TEST_F(VerifyTest, StartupRefusesWithoutAValidTrustStore) {
  auto none =
      Process::spawn({SidecarProcess::binaryPath(), "serve", "--upstream", "http://127.0.0.1:1"});
  auto st = none->waitExit(scaled(seconds(5)));
  ASSERT_TRUE(st);
  EXPECT_EQ(WEXITSTATUS(*st), 2);
  EXPECT_NE(none->stderrText().find("--trust-store"), std::string::npos);
  std::ofstream(storePath_) << "keys:\n  - id: x\n    public_key: nonsense\n";
  auto bad = Process::spawn({SidecarProcess::binaryPath(), "serve", "--upstream",
                             "http://127.0.0.1:1", "--trust-store", storePath_, "--listen",
                             "127.0.0.1:0", "--admin", "127.0.0.1:0"});
  auto bs = bad->waitExit(scaled(seconds(5)));
  ASSERT_TRUE(bs);
  EXPECT_EQ(WEXITSTATUS(*bs), 2);
  EXPECT_NE(bad->stderrText().find(storePath_), std::string::npos) << bad->stderrText();
  EXPECT_NE(bad->stderrText().find("public_key"), std::string::npos) << bad->stderrText();
}

TEST_F(VerifyTest, TrustStoreReloadsUnderLoadWithoutFailingRequests) {
  writeStore(entry(alice_));
  startSidecar({"--workers", "2"});
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0}, failed{0};
  std::thread load([&] {
    auto c = RawConnection::connect(sidecar_->port());
    while (!stop && c) {
      if (!c->sendAll(signedRequest(alice_, {})))
        break;
      auto r = c->readResponse(scaled(seconds(10)));
      ++sent;
      if (!r || r->status != 200)
        ++failed;
    }
  });
  // Bob is unknown, then added, then revoked by rewriting the file.
  expectRejected(send(signedRequest(bob_, {})), 401, "key_unknown");
  writeStore(entry(alice_) + entry(bob_));
  EXPECT_TRUE(waitUntil(
      [&] {
        auto r = send(signedRequest(bob_, {}));
        return r && r->status == 200;
      },
      scaled(seconds(6))));
  writeStore(entry(alice_) + entry(bob_, "    revoked: true\n"));
  EXPECT_TRUE(waitUntil(
      [&] {
        auto r = send(signedRequest(bob_, {}));
        return r && r->status == 401;
      },
      scaled(seconds(6))));
  // A broken file keeps the last good store in force and says why.
  size_t mark = sidecar_->proc().outputSize(Stream::Stderr);
  writeStore("  - this is: [not a trust store\n");
  EXPECT_TRUE(sidecar_->proc().waitForOutput("trust store reload failed", Stream::Stderr,
                                             scaled(seconds(6)), mark));
  auto stillAlice = send(signedRequest(alice_, {}));
  ASSERT_TRUE(stillAlice);
  EXPECT_EQ(stillAlice->status, 200);
  stop = true;
  load.join();
  EXPECT_GT(sent.load(), 20);
  EXPECT_EQ(failed.load(), 0) << "requests failed while the trust store was reloaded";
}

TEST_F(VerifyTest, KubernetesSymlinkSwapIsSeen) {
  // A Secret mount: trust.yaml -> ..data/trust.yaml, ..data -> ..2026_01; an update writes a new
  // timestamped directory and swaps ..data atomically.
  fs::path mount = dir_ / "mount";
  fs::create_directories(mount / "..v1");
  std::ofstream(mount / "..v1" / "trust.yaml") << "keys:\n" << entry(alice_);
  fs::create_directory_symlink("..v1", mount / "..data");
  fs::create_symlink("..data/trust.yaml", mount / "trust.yaml");
  storePath_ = (mount / "trust.yaml").string();
  startSidecar();
  expectRejected(send(signedRequest(bob_, {})), 401, "key_unknown");
  fs::create_directories(mount / "..v2");
  std::ofstream(mount / "..v2" / "trust.yaml") << "keys:\n" << entry(alice_) << entry(bob_);
  fs::create_directory_symlink("..v2", mount / "..data_tmp");
  fs::rename(mount / "..data_tmp", mount / "..data");
  EXPECT_TRUE(waitUntil(
      [&] {
        auto r = send(signedRequest(bob_, {}));
        return r && r->status == 200;
      },
      scaled(seconds(6))));
}

TEST_F(VerifyTest, ThousandConcurrentSignedRequests) {
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);
  ASSERT_GE(lim.rlim_cur, 2500u) << "the test needs 1000 sockets";
  writeStore(entry(alice_));
  startSidecar();
  constexpr int kN = 1000;
  std::vector<RawConnectionPtr> conns(kN);
  std::vector<std::string> reqs(kN);
  for (int i = 0; i < kN; ++i) {
    conns[i] = RawConnection::connect(sidecar_->port());
    ASSERT_TRUE(conns[i]) << i;
    reqs[i] = signedRequest(alice_, {});
  }
  for (int i = 0; i < kN; ++i)
    ASSERT_TRUE(conns[i]->sendAll(reqs[i]));
  int ok = 0;
  for (int i = 0; i < kN; ++i) {
    auto r = conns[i]->readResponse(scaled(seconds(30)));
    if (r && r->status == 200)
      ++ok;
  }
  EXPECT_EQ(ok, kN);
  EXPECT_NE(metrics().find("reason=\"none\",profile=\"mcp-sig-v1\"} 1000"), std::string::npos);
}

TEST_F(VerifyTest, KeygenAndSignCurlWithTheRealCurl) {
  std::string keyFile = (dir_ / "caller.key").string();
  auto kg =
      Process::spawn({SidecarProcess::binaryPath(), "keygen", "--out", keyFile, "--id", "cli"});
  auto ks = kg->waitExit(scaled(seconds(5)));
  ASSERT_TRUE(ks);
  ASSERT_EQ(WEXITSTATUS(*ks), 0) << kg->stderrText();
  EXPECT_EQ(fs::status(keyFile).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  std::string out = kg->stdoutText();
  ASSERT_NE(out.find("public_key: "), std::string::npos) << out;
  EXPECT_NE(out.find("fingerprint: ed25519:"), std::string::npos);
  size_t e = out.find("  - id: cli");
  ASSERT_NE(e, std::string::npos) << out;
  writeStore(out.substr(e));
  // keygen never overwrites.
  auto again = Process::spawn({SidecarProcess::binaryPath(), "keygen", "--out", keyFile});
  auto as = again->waitExit(scaled(seconds(5)));
  ASSERT_TRUE(as);
  EXPECT_EQ(WEXITSTATUS(*as), 1);
  EXPECT_NE(again->stderrText().find("never overwrites"), std::string::npos);

  startSidecar();
  std::string url = "http://" + sidecar_->address() + "/mcp?via=curl";
  auto sg = Process::spawn({SidecarProcess::binaryPath(), "sign", "--key", keyFile, "--key-id",
                            "cli", "--url", url, "--data",
                            R"({"jsonrpc":"2.0","id":"it's","method":"tools/list"})", "--curl"});
  auto ss = sg->waitExit(scaled(seconds(5)));
  ASSERT_TRUE(ss);
  ASSERT_EQ(WEXITSTATUS(*ss), 0) << sg->stderrText();
  std::string cmd = sg->stdoutText();
  while (!cmd.empty() && cmd.back() == '\n')
    cmd.pop_back();
  cmd += " -o /dev/null -w '%{http_code}'";
  auto run = [&] {
    auto p = Process::spawn({"bash", "-c", cmd});
    p->waitExit(scaled(seconds(10)));
    return p->stdoutText();
  };
  EXPECT_EQ(run(), "200") << cmd;
  EXPECT_EQ(run(), "401") << "the same signed curl command must be refused as a replay";
}

} // namespace
} // namespace sidecar::test
