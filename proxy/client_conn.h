#pragma once
// One client connection on the MCP listener: reads a whole request (llhttp), forwards it upstream,
// streams the answer back, and loops for keep-alive. One request is in flight at a time; bytes of
// a pipelined next request wait in `pending_` (bounded) until the answer is complete.
//
// Lifetime: created by the worker on accept, deleted in its close callback (two handles: the
// socket and a timer). Every write holds the connection open until its callback ran (libuv calls
// write callbacks with UV_ECANCELED before the close callback).

#include <netinet/in.h>
#include <uv.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bridge/bridge.h"
#include "mcp/exchange_observer.h"
#include "proxy/deadline_timer.h"
#include "proxy/hooks.h"
#include "proxy/request_parser.h"
#include "proxy/sidecar_error.h"
#include "proxy/upstream.h"

namespace sidecar::proxy {

class Worker;
struct WriteBatch;

class ClientConn final : public UpstreamSink {
public:
  explicit ClientConn(Worker& worker);
  ClientConn(const ClientConn&) = delete;
  ClientConn& operator=(const ClientConn&) = delete;

  // Accepts from `server` and starts reading. On failure the connection closes itself.
  void accept(uv_stream_t* server);
  // Accepts, answers 503 (too many connections) and closes.
  void acceptAndRefuse(uv_stream_t* server);
  // Worker shutdown: close now if idle between requests, else after the current answer.
  void drain();
  // Close immediately (forced shutdown).
  void close();

  // An answer part from the stdio bridge (worker thread).
  void onBridgeReply(bridge::Reply& r);
  // AIM's decision on the gated call this connection holds (worker thread).
  void onApproval(ApprovalOutcome outcome);

  // UpstreamSink
  void onUpstreamHead(const ResponseHead& head) override;
  void onUpstreamBody(std::string_view data, ReadBuffer* buf) override;
  void onUpstreamReadEnd() override;
  void onUpstreamComplete() override;
  void onUpstreamError(metrics::UpstreamError kind, bool responseStarted, bool reused) override;

private:
  enum class State { Reading, Forwarding, Responding, Closing };

  ~ClientConn() override = default;
  bool acceptSocket(uv_stream_t* server);
  void handleData(const char* data, size_t len);
  void feed(const char* data, size_t len);
  void startExchange();
  // Verification and policy before forwarding; false when the request was answered here.
  bool admit();
  // DNS-rebinding protection (--allowed-hosts, --allowed-origins); false when answered 403.
  bool checkHostOrigin();
  // A document the sidecar serves itself (proxy/hooks.h); true when answered here.
  bool answerLocally();
  // Gated tools and usage (CallPolicy); false when the call waits for approval or was refused.
  bool applyPolicy();
  // After admission (and approval): to the stdio bridge or the HTTP upstream.
  void forward();
  // Hands the request to the stdio bridge (checks of the Streamable HTTP transport first).
  void bridgeExchange();
  void bridgeRelease();
  // Metrics and the audit trail for an exchange passed through to an HTTP upstream.
  void recordOperation();
  void recordOperationAs(std::string_view outcome, std::string_view reason);
  // Metrics and the audit trail for a request refused by verification or policy.
  void recordRejection(std::string_view reason, std::string_view profile);
  void finishExchange();
  void failRequest(SidecarError e, std::string_view detail, bool close,
                   std::string_view reason = {}, std::string_view extraHeaders = {});
  void closeAfterFlush();
  void armTimer(uint64_t ms);
  void writeOwned(std::string bytes);
  WriteBatch& batch();
  void flush();
  void accessLog();

  static void onAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void onWrite(uv_write_t* req, int status);
  static void onShutdown(uv_shutdown_t* req, int status);
  static void onTimer(void* self);
  static void onClose(uv_handle_t* h);

  Worker& worker_;
  uv_tcp_t tcp_;
  DeadlineTimer timer_;
  uv_shutdown_t shutdownReq_;
  int openHandles_ = 0;
  bool closeStarted_ = false;
  bool reading_ = false;
  bool draining_ = false;
  State state_ = State::Reading;
  std::string peer_; // "ip:port", for logs
  std::string peerIp_;

  RequestParser parser_;
  std::string pending_; // received, not yet parsed (the next pipelined request)
  bool sentContinue_ = false;

  // The exchange in flight.
  std::string upstreamHead_;
  UpstreamConn* upstream_ = nullptr;
  bool retried_ = false;
  bool upstreamPaused_ = false;
  bool respChunked_ = false;
  bool respNoBody_ = false;
  bool respKeepAlive_ = true;
  int status_ = 0;
  uint64_t startNs_ = 0;
  uint64_t bytesIn_ = 0;
  uint64_t bytesOut_ = 0;
  WriteBatch* batch_ = nullptr;
  std::vector<std::pair<std::string_view, std::string_view>> headerViews_; // reused per request
  std::string callerId_;          // the caller's key id, for logs
  const char* verdict_ = nullptr; // the verification reason, for logs (null: not checked)
  uint64_t bridgeToken_ = 0;      // the bridge exchange in flight (0: none)
  // HTTP upstream: what the exchange in flight says (only with an audit trail or metrics).
  mcp::ExchangeObserver obs_;
  bool observing_ = false;
  std::string answerSession_; // Mcp-Session-Id of the answer (initialize)
  // A gated call: its place in the worker's waiting list and at AIM, and once approved AIM's
  // verification id (its execution status is reported when the answer is complete).
  uint64_t approvalToken_ = 0;
  uint64_t approvalId_ = 0;
  std::string gatedTool_;
  std::string verificationId_;
  // A request with a valid signature gets a signed answer (signing contract §6): what it signs
  // over, the answer's timestamp, and the number of the next SSE event.
  bool signAnswer_ = false;
  std::string reqNonce_;
  std::string reqSig_;
  std::string answerTs_;
  uint64_t eventSeq_ = 0;
  // HTTP upstream, signed answer: a JSON (or other) answer is held whole until its signature can
  // be computed (its head waits in heldHead_); an event stream goes out event by event.
  bool holdAnswer_ = false;
  bool heldHasLength_ = false;
  std::string heldHead_;
  std::string heldBody_;
  bool signEvents_ = false;
  std::string eventBuf_; // bytes of the event not yet complete
  // Signs and queues the complete events at the front of eventBuf_ (all of it when `end`).
  void emitSignedEvents(bool end);
  void writeBodyBytes(std::string bytes);
};

} // namespace sidecar::proxy
