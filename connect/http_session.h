#pragma once
// One MCP session with a remote mcp-sidecar over Streamable HTTP (transport 2025-03-26 to
// 2025-11-25, client side; mcp-transport.md §3), as `mcp-sidecar connect` runs it:
//
//  * every message from the client is one signed POST (contract §2–3), several in flight at once;
//  * the Mcp-Session-Id issued at initialize, and MCP-Protocol-Version once negotiated, go on
//    every later request; messages that arrive while initialize is in flight wait for it;
//  * answers — 202, JSON or an event stream — are checked (contract §6) before anything of them
//    reaches the client; a request whose answer fails gets a JSON-RPC error instead (-31001);
//  * after notifications/initialized, a GET event stream carries the server's own requests and
//    notifications; it is reopened when it ends;
//  * a 404 for the session is reported (the server forgot it); the client's next initialize
//    starts a new one;
//  * shutdown() lets requests in flight finish (up to a grace period) and DELETEs the session.
//
// Everything here runs on the HttpEngine's thread.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connect/answer_check.h"
#include "connect/http_client.h"
#include "connect/url.h"
#include "verifier/request_signer.h"

namespace sidecar::connect {

// The JSON-RPC codes the session answers with on the server's behalf (docs/connect.md).
inline constexpr int kAnswerRejected = -31001;    // the answer failed its check (contract §6)
inline constexpr int kServerUnreachable = -31004; // no HTTP answer at all
inline constexpr int kSessionNotFound = -32001;   // 404 for the session (as the MCP SDKs say)
inline constexpr int kHttpError = -32603;         // any other HTTP failure

struct SessionOptions {
  ServerUrl url;
  const verifier::RequestSigner* signer = nullptr;
  // nullopt: answers are not checked (--insecure-no-verify-answers).
  std::optional<ServerKey> serverKey;
  std::function<int64_t()> now; // unix seconds
  // At shutdown: how long requests in flight may still run, and how long the DELETE may take.
  std::chrono::milliseconds shutdownGrace{5000};
  // The GET stream is reopened after this, doubling up to maxReconnectDelay while it fails.
  std::chrono::milliseconds reconnectDelay{1000};
  std::chrono::milliseconds maxReconnectDelay{30000};
};

struct Scan;

class McpSession {
public:
  // `toClient` receives every line for the client's stdout (one JSON-RPC message each).
  McpSession(HttpEngine& engine, SessionOptions options,
             std::function<void(std::string_view line)> toClient);
  ~McpSession();
  McpSession(const McpSession&) = delete;
  McpSession& operator=(const McpSession&) = delete;

  // A line the client wrote (one JSON-RPC message, or a batch array).
  void send(std::string line);
  // The client closed stdin: no more messages. `done` runs once the session is closed.
  void shutdown(std::function<void()> done);

  // For tests and the log.
  const std::string& sessionId() const { return sessionId_; }
  const std::string& protocolVersion() const { return protocolVersion_; }
  size_t inFlight() const { return exchanges_.size(); }
  bool getStreamOpen() const { return getTransfer_ != 0; }

private:
  struct Exchange;

  void post(std::string line, const Scan& scan);
  bool onHead(uint64_t exchange, const HttpHead& head);
  bool onBody(uint64_t exchange, std::string_view bytes);
  void onDone(uint64_t exchange, const std::string& error);
  // A checked message from the server, on the answer to `ex` (nullptr: the GET stream).
  void fromServer(Exchange* ex, std::string_view json);
  // Errors for every request of `ex` not answered yet, once.
  void failExchange(Exchange& ex, int code, const std::string& message, std::string_view reason);
  void releaseQueue();
  void sessionLost(const std::string& how);

  void openGetStream();
  bool onGetHead(const HttpHead& head);
  bool onGetBody(std::string_view bytes);
  void onGetDone(const std::string& error);
  void scheduleGet();

  std::vector<std::pair<std::string, std::string>> commonHeaders() const;
  void maybeFinishShutdown();
  void finishShutdown();

  HttpEngine& engine_;
  SessionOptions options_;
  std::function<void(std::string_view)> toClient_;

  std::string sessionId_;
  std::string protocolVersion_;
  bool initializing_ = false; // an initialize is in flight: later messages wait
  std::deque<std::string> queue_;
  bool lost_ = false; // 404 for sessionId_
  std::string lostDetail_;

  uint64_t nextExchange_ = 1;
  std::map<uint64_t, std::unique_ptr<Exchange>> exchanges_;

  // The GET stream.
  bool wantGet_ = false;
  HttpEngine::TransferId getTransfer_ = 0;
  std::unique_ptr<Exchange> get_;
  std::string lastEventId_;
  std::chrono::milliseconds getDelay_{0};
  bool getScheduled_ = false;

  bool closing_ = false;
  bool shutdownStarted_ = false;
  std::function<void()> done_;
  std::shared_ptr<bool> alive_; // timers check it: the session may be gone when they fire
};

} // namespace sidecar::connect
