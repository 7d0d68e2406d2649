// The session against a scripted server that signs its answers as a sidecar does: session id and
// protocol version, requests in parallel, event streams, the GET stream, refused answers, a lost
// session and the DELETE at the end.

#include "connect/http_session.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "mcp/message_scan.h"
#include "tests/unit/connect/fake_server.h"
#include "tests/unit/connect/test_signer.h"
#include "verifier/verifier.h"

namespace sidecar::connect {
namespace {

using namespace std::chrono_literals;
using testing::FakeRequest;
using testing::FakeResponse;
using testing::FakeServer;
using testing::TestSigner;

constexpr const char* kInit = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
                              "{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},"
                              "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";
constexpr const char* kInitialized =
    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}";

// The id of a JSON-RPC message as its exact JSON text ("" when none).
std::string rawId(const std::string& json) {
  mcp::MessageInfo info = mcp::scanMessage(json);
  return info.id.present() ? std::string(info.id.in(json)) : std::string();
}

std::string jsonField(const std::string& json, const char* a, const char* b = nullptr) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember(a))
    return {};
  const rapidjson::Value* v = &d[a];
  if (b) {
    if (!v->IsObject() || !v->HasMember(b))
      return {};
    v = &(*v)[b];
  }
  if (v->IsString())
    return v->GetString();
  if (v->IsInt64())
    return std::to_string(v->GetInt64());
  return "<other>";
}

// Answers as a sidecar in front of an MCP server would, signing everything with `signer`;
// `script` may take a request over (return true) before the default answers.
class ScriptedServer {
public:
  using Script = std::function<bool(const FakeRequest&, FakeResponse&, const RequestBinding&)>;

  explicit ScriptedServer(Script script = {})
      : script_(std::move(script)),
        server_([this](const FakeRequest& r, FakeResponse& out) { handle(r, out); }) {}

  TestSigner signer;
  FakeServer& http() { return server_; }
  void closeGetStreams() { getOpen_ = false; }

  void json(FakeResponse& out, const RequestBinding& b, int status, const std::string& body,
            std::vector<std::pair<std::string, std::string>> extra = {}) {
    HttpHead h =
        signer.jsonHead(status, body, b, time(nullptr), body.empty() ? "" : "application/json");
    for (auto& e : extra)
      h.headers.push_back(std::move(e));
    out.full(status, h.headers, body);
  }

  void sseHead(FakeResponse& out, const RequestBinding& b) {
    out.head(200, signer.sseHead(200, b, ts_).headers);
  }

  int64_t ts_ = 1764000001;

private:
  void handle(const FakeRequest& r, FakeResponse& out) {
    RequestBinding b{r.header("x-mcp-nonce"), r.header("x-mcp-signature")};
    if (script_ && script_(r, out, b))
      return;
    if (r.method == "DELETE") {
      json(out, b, 200, "");
      return;
    }
    if (r.method == "GET") {
      // A GET stream with one notification, then quiet until the test ends.
      sseHead(out, b);
      out.write(signer.signedEvent(
          b, 0,
          TestSigner::messageEvent(
              "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}"),
          ts_));
      while (getOpen_ && out.alive() && !server_.stopping()) {
        std::this_thread::sleep_for(20ms);
        out.write(": keepalive\n\n");
      }
      return;
    }
    std::string id = rawId(r.body);
    std::string method = jsonField(r.body, "method");
    if (method == "initialize") {
      json(out, b, 200,
           "{\"jsonrpc\":\"2.0\",\"id\":" + id +
               ",\"result\":{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},"
               "\"serverInfo\":{\"name\":\"fake\",\"version\":\"1\"}}}",
           {{"Mcp-Session-Id", "sess-42"}});
      return;
    }
    if (id.empty()) { // notification or response
      json(out, b, 202, "");
      return;
    }
    json(out, b, 200,
         "{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"result\":{\"m\":\"" + method + "\"}}");
  }

  Script script_;
  std::atomic<bool> getOpen_{true};
  FakeServer server_;
};

class SessionTest : public ::testing::Test {
protected:
  verifier::PrivateKey callerKey = verifier::generatePrivateKey();
  verifier::RequestSigner signer{callerKey, "alice"};
  HttpEnginePtr engine;
  std::unique_ptr<McpSession> session;
  std::thread loop;

  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> lines;
  bool closed = false;

  void start(ScriptedServer& server, bool verify = true) {
    auto e = HttpEngine::create({});
    ASSERT_TRUE(e.ok()) << e.error();
    engine = std::move(*e);
    SessionOptions o;
    auto url = parseServerUrl(server.http().url());
    ASSERT_TRUE(url.ok());
    o.url = *url;
    o.signer = &signer;
    if (verify)
      o.serverKey = server.signer.serverKey();
    o.reconnectDelay = 50ms;
    o.shutdownGrace = 2000ms;
    session = std::make_unique<McpSession>(*engine, o, [this](std::string_view line) {
      std::lock_guard<std::mutex> g(mu);
      lines.emplace_back(line);
      cv.notify_all();
    });
    loop = std::thread([this] { engine->run(); });
  }

  void TearDown() override {
    if (loop.joinable()) {
      engine->post([this] { engine->stop(); });
      loop.join();
    }
    session.reset();
    engine.reset();
  }

  void send(const std::string& line) {
    engine->post([this, line] { session->send(line); });
  }

  // Waits for a line for which `pred` holds; returns it, or "" after `timeout`.
  std::string waitFor(const std::function<bool(const std::string&)>& pred,
                      std::chrono::milliseconds timeout = 5000ms) {
    std::unique_lock<std::mutex> g(mu);
    std::string found;
    cv.wait_for(g, timeout, [&] {
      for (const auto& l : lines)
        if (pred(l)) {
          found = l;
          return true;
        }
      return false;
    });
    return found;
  }
  std::string waitForId(const std::string& id) {
    return waitFor([&](const std::string& l) { return jsonField(l, "id") == id; });
  }

  // Closes the session as at end of input and waits for it.
  void shutdown() {
    engine->post([this] {
      session->shutdown([this] {
        std::lock_guard<std::mutex> g(mu);
        closed = true;
        cv.notify_all();
      });
    });
    std::unique_lock<std::mutex> g(mu);
    ASSERT_TRUE(cv.wait_for(g, 5000ms, [&] { return closed; }));
  }

  void handshake() {
    send(kInit);
    ASSERT_NE(waitForId("1"), "");
    send(kInitialized);
  }
};

TEST_F(SessionTest, SignedRequestsCarryTheSessionAndVersion) {
  ScriptedServer server;
  start(server);
  handshake();
  send("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
  std::string answer = waitForId("2");
  ASSERT_NE(answer, "");
  EXPECT_EQ(jsonField(answer, "result", "m"), "tools/list");
  EXPECT_EQ(jsonField(waitForId("1"), "result", "protocolVersion"), "2025-06-18");
  shutdown();

  auto auth = verifier::TrustStore::parse("keys:\n  - id: alice\n    public_key: \"" +
                                              verifier::base64(callerKey.pub.bytes) + "\"\n",
                                          "t");
  ASSERT_TRUE(auth.ok());
  verifier::ReplayCache replay(1024);
  bool sawList = false, sawDelete = false;
  for (const FakeRequest& r : server.http().requests()) {
    std::vector<verifier::Header> h;
    for (const auto& [n, v] : r.headers)
      h.emplace_back(n, v);
    verifier::Verdict v =
        verifier::verify({}, **auth, replay, {r.method, r.target, h, r.body}, time(nullptr));
    EXPECT_TRUE(v.accepted()) << r.method << " " << r.body << ": " << v.detail;
    if (jsonField(r.body, "method") == "initialize") {
      EXPECT_EQ(r.header("mcp-session-id"), "");
      EXPECT_EQ(r.header("accept"), "application/json, text/event-stream");
      EXPECT_EQ(r.header("content-type"), "application/json");
    } else {
      EXPECT_EQ(r.header("mcp-session-id"), "sess-42") << r.method << " " << r.body;
      EXPECT_EQ(r.header("mcp-protocol-version"), "2025-06-18") << r.method << " " << r.body;
    }
    sawList = sawList || jsonField(r.body, "method") == "tools/list";
    sawDelete = sawDelete || r.method == "DELETE";
  }
  EXPECT_TRUE(sawList);
  EXPECT_TRUE(sawDelete) << "the session is deleted at the end";
}

TEST_F(SessionTest, MessagesWaitForInitialize) {
  ScriptedServer server([](const FakeRequest& r, FakeResponse&, const RequestBinding&) {
    if (jsonField(r.body, "method") == "initialize")
      std::this_thread::sleep_for(300ms);
    return false;
  });
  start(server);
  send(kInit);
  send("{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":\"ping\"}");
  ASSERT_NE(waitForId("p"), "");
  for (const FakeRequest& r : server.http().requests())
    if (jsonField(r.body, "method") == "ping") {
      EXPECT_EQ(r.header("mcp-session-id"), "sess-42");
    }
}

TEST_F(SessionTest, ASlowCallDoesNotHoldUpOthers) {
  ScriptedServer server([](const FakeRequest& r, FakeResponse&, const RequestBinding&) {
    if (jsonField(r.body, "method") == "tools/call")
      std::this_thread::sleep_for(1500ms);
    return false;
  });
  start(server);
  handshake();
  send("{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"tools/call\",\"params\":{\"name\":\"slow\"}}");
  std::this_thread::sleep_for(100ms);
  send("{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"ping\"}");
  ASSERT_NE(waitForId("11"), "");
  {
    std::lock_guard<std::mutex> g(mu);
    for (const auto& l : lines)
      EXPECT_NE(jsonField(l, "id"), "10") << "the ping came back while the call still ran";
  }
  ASSERT_NE(waitForId("10"), "");
}

TEST_F(SessionTest, TamperedJsonAnswerBecomesAnError) {
  ScriptedServer* self = nullptr;
  ScriptedServer server([&self](const FakeRequest& r, FakeResponse& out, const RequestBinding& b) {
    if (jsonField(r.body, "method") != "tools/list")
      return false;
    std::string body = "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"tools\":[]}}";
    HttpHead h = self->signer.jsonHead(200, body, b);
    body[body.size() - 3] = ' '; // a byte changed on the way
    out.full(200, h.headers, body);
    return true;
  });
  self = &server;
  start(server);
  handshake();
  send("{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/list\"}");
  std::string e = waitForId("5");
  ASSERT_NE(e, "");
  EXPECT_EQ(jsonField(e, "error", "code"), "-31001");
  EXPECT_NE(jsonField(e, "error", "message").find("does not verify"), std::string::npos) << e;
  EXPECT_EQ(e.find("tools\":[]"), std::string::npos) << "nothing of the answer passes";
}

TEST_F(SessionTest, AnswerFromAnotherKeyBecomesAnError) {
  TestSigner impostor;
  ScriptedServer server(
      [&impostor](const FakeRequest& r, FakeResponse& out, const RequestBinding& b) {
        if (jsonField(r.body, "method") != "tools/list")
          return false;
        std::string body = "{\"jsonrpc\":\"2.0\",\"id\":6,\"result\":{}}";
        out.full(200, impostor.jsonHead(200, body, b).headers, body);
        return true;
      });
  start(server);
  handshake();
  send("{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/list\"}");
  std::string e = waitForId("6");
  EXPECT_EQ(jsonField(e, "error", "code"), "-31001") << e;
  EXPECT_NE(jsonField(e, "error", "message").find("another key"), std::string::npos) << e;
}

TEST_F(SessionTest, EventStreamAnswerWithAServerRequestAndATamperedEvent) {
  ScriptedServer* self = nullptr;
  ScriptedServer server([&self](const FakeRequest& r, FakeResponse& out, const RequestBinding& b) {
    std::string method = jsonField(r.body, "method");
    if (method != "tools/call")
      return false;
    std::string id = jsonField(r.body, "id");
    self->sseHead(out, b);
    out.write(self->signer.signedEvent(
        b, 0,
        TestSigner::messageEvent("{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"sampling/"
                                 "createMessage\",\"params\":{}}"),
        self->ts_));
    std::string last = TestSigner::messageEvent("{\"jsonrpc\":\"2.0\",\"id\":" + id +
                                                ",\"result\":{\"content\":[]}}");
    std::string e1 = self->signer.signedEvent(b, 1, last, self->ts_);
    if (id == "21")
      e1[e1.find("content")] = 'C';
    out.write(e1);
    return true;
  });
  self = &server;
  start(server);
  handshake();
  send("{\"jsonrpc\":\"2.0\",\"id\":20,\"method\":\"tools/call\",\"params\":{}}");
  std::string ok = waitForId("20");
  EXPECT_EQ(ok.find("error"), std::string::npos) << ok;
  EXPECT_NE(waitFor([](const std::string& l) {
              return jsonField(l, "method") == "sampling/createMessage";
            }),
            "");

  send("{\"jsonrpc\":\"2.0\",\"id\":21,\"method\":\"tools/call\",\"params\":{}}");
  std::string bad = waitForId("21");
  EXPECT_EQ(jsonField(bad, "error", "code"), "-31001") << bad;
  EXPECT_NE(jsonField(bad, "error", "message").find("event 1 was altered"), std::string::npos)
      << bad;
}

TEST_F(SessionTest, GetStreamCarriesServerMessages) {
  ScriptedServer server;
  start(server);
  handshake();
  std::string n = waitFor([](const std::string& l) {
    return jsonField(l, "method") == "notifications/tools/list_changed";
  });
  EXPECT_NE(n, "");
  bool sawGet = false;
  for (const FakeRequest& r : server.http().requests())
    if (r.method == "GET") {
      sawGet = true;
      EXPECT_EQ(r.header("accept"), "text/event-stream");
      EXPECT_EQ(r.header("mcp-session-id"), "sess-42");
      EXPECT_FALSE(r.header("x-mcp-signature").empty());
    }
  EXPECT_TRUE(sawGet);
  server.closeGetStreams();
  shutdown();
}

TEST_F(SessionTest, UnsignedGetStreamEventsAreNotPassedOn) {
  ScriptedServer server([](const FakeRequest& r, FakeResponse& out, const RequestBinding&) {
    if (r.method != "GET")
      return false;
    out.head(200, {{"content-type", "text/event-stream"}});
    out.write("event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"forged\"}\n\n");
    return true;
  });
  start(server);
  handshake();
  send("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}");
  ASSERT_NE(waitForId("3"), "");
  std::this_thread::sleep_for(300ms); // a few reconnections
  EXPECT_EQ(
      waitFor([](const std::string& l) { return l.find("forged") != std::string::npos; }, 10ms),
      "");
}

TEST_F(SessionTest, LostSessionIsReported) {
  ScriptedServer* self = nullptr;
  ScriptedServer server([&self](const FakeRequest& r, FakeResponse& out, const RequestBinding& b) {
    if (r.method == "GET" || jsonField(r.body, "method") != "tools/list")
      return false;
    self->json(out, b, 404, "");
    return true;
  });
  self = &server;
  start(server);
  handshake();
  send("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\"}");
  std::string e = waitForId("7");
  EXPECT_EQ(jsonField(e, "error", "code"), "-32001") << e;
  EXPECT_NE(e.find("no longer knows session sess-42"), std::string::npos) << e;
  send("{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"ping\"}");
  EXPECT_EQ(jsonField(waitForId("8"), "error", "code"), "-32001");
}

TEST_F(SessionTest, RefusedRequestSignatureIsNamed) {
  ScriptedServer server([](const FakeRequest& r, FakeResponse& out, const RequestBinding&) {
    if (jsonField(r.body, "method") != "tools/list")
      return false;
    std::string body = "{\"jsonrpc\":\"2.0\",\"id\":9,\"error\":{\"code\":-31001,\"message\":"
                       "\"Invalid MCP signature\"}}";
    out.full(401,
             {{"Content-Type", "application/json"},
              {"WWW-Authenticate", "MCP-Signature realm=\"mcp-sidecar\", error=\"key_unknown\""}},
             body);
    return true;
  });
  start(server);
  handshake();
  send("{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/list\"}");
  std::string e = waitForId("9");
  EXPECT_EQ(jsonField(e, "error", "code"), "-31001") << e;
  EXPECT_NE(e.find("key_unknown"), std::string::npos) << e;
  EXPECT_NE(e.find("alice"), std::string::npos) << "names the key id it signed with: " << e;
}

TEST_F(SessionTest, UnreachableServerIsReportedPerRequest) {
  ScriptedServer server;
  uint16_t port;
  {
    FakeServer gone([](const FakeRequest&, FakeResponse&) {});
    port = gone.port();
  }
  auto e = HttpEngine::create({});
  ASSERT_TRUE(e.ok());
  engine = std::move(*e);
  SessionOptions o;
  o.url = *parseServerUrl("http://127.0.0.1:" + std::to_string(port) + "/mcp");
  o.signer = &signer;
  o.serverKey = server.signer.serverKey();
  session = std::make_unique<McpSession>(*engine, o, [this](std::string_view line) {
    std::lock_guard<std::mutex> g(mu);
    lines.emplace_back(line);
    cv.notify_all();
  });
  loop = std::thread([this] { engine->run(); });
  send(kInit);
  std::string err = waitForId("1");
  EXPECT_EQ(jsonField(err, "error", "code"), "-31004") << err;
}

TEST_F(SessionTest, InsecureModePassesUnsignedAnswers) {
  ScriptedServer server([](const FakeRequest& r, FakeResponse& out, const RequestBinding&) {
    if (jsonField(r.body, "method") != "ping")
      return false;
    out.full(200, {{"Content-Type", "application/json"}},
             "{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":{}}");
    return true;
  });
  start(server, false);
  handshake();
  send("{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\"}");
  EXPECT_EQ(waitForId("4"), "{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":{}}");
}

} // namespace
} // namespace sidecar::connect
