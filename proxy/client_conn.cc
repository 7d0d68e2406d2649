#include "proxy/client_conn.h"

#include <arpa/inet.h>

#include <vector>

#include "common/clock.h"
#include "common/log.h"
#include "mcp/jsonrpc.h"
#include "proxy/forward.h"
#include "proxy/http_util.h"
#include "proxy/worker.h"
#include "proxy/write_batch.h"

namespace sidecar::proxy {

namespace {
// Stop reading an upstream response while this much is queued toward a slow client.
constexpr size_t kHighWater = 1 << 20;
constexpr size_t kLowWater = 256 << 10;

bool idempotent(llhttp_method_t m) {
  return m == HTTP_GET || m == HTTP_HEAD || m == HTTP_OPTIONS || m == HTTP_PUT ||
         m == HTTP_DELETE || m == HTTP_TRACE;
}
} // namespace

ClientConn::ClientConn(Worker& worker) : worker_(worker), parser_(&worker.shared().limits) {
  uv_tcp_init(worker_.loop(), &tcp_);
  tcp_.data = this;
  timer_.init(worker_.loop(), this, onTimer);
  shutdownReq_.data = this;
  openHandles_ = 2;
  worker_.connectionOpened(this);
}

bool ClientConn::acceptSocket(uv_stream_t* server) {
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&tcp_)) != 0) {
    close();
    return false;
  }
  uv_tcp_nodelay(&tcp_, 1);
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    char ip[INET6_ADDRSTRLEN] = {0};
    uint16_t port = 0;
    if (ss.ss_family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
      port = ntohs(a->sin_port);
      peerIp_ = ip;
      peer_ = peerIp_ + ":" + std::to_string(port);
    } else if (ss.ss_family == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
      port = ntohs(a->sin6_port);
      peerIp_ = ip;
      peer_ = "[" + peerIp_ + "]:" + std::to_string(port);
    }
  }
  return true;
}

void ClientConn::accept(uv_stream_t* server) {
  if (!acceptSocket(server))
    return;
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), onAlloc, onRead) != 0) {
    close();
    return;
  }
  reading_ = true;
  armTimer(worker_.shared().cfg->idleTimeoutMs);
}

void ClientConn::acceptAndRefuse(uv_stream_t* server) {
  if (!acceptSocket(server))
    return;
  worker_.mutableStats()
      .rejects[static_cast<size_t>(metrics::HttpReject::TooManyConnections)]
      .inc();
  uint64_t suppressed = 0;
  if (worker_.warnLimiter().allow(monoNowNs(), suppressed))
    log::warn(
        "connection refused: --max-connections reached; raise it or add replicas",
        {{"client", peer_},
         {"max_connections", static_cast<unsigned long>(worker_.shared().cfg->maxConnections)},
         {"suppressed", static_cast<unsigned long long>(suppressed)}});
  failRequest(SidecarError::TooManyConnections,
              "the sidecar has reached --max-connections; retry later", true);
}

void ClientConn::drain() {
  draining_ = true;
  if (state_ == State::Reading && !parser_.started() && pending_.empty())
    closeAfterFlush();
}

void ClientConn::close() {
  if (closeStarted_)
    return;
  closeStarted_ = true;
  state_ = State::Closing;
  if (upstream_) {
    upstream_->abort();
    upstream_ = nullptr;
  }
  if (!verificationId_.empty()) {
    worker_.shared().policy->executed(verificationId_, false,
                                      "the caller's connection closed before the answer was sent");
    verificationId_.clear();
  }
  if (approvalToken_) {
    worker_.stopAwaiting(approvalToken_);
    worker_.shared().policy->cancelApproval(approvalId_);
    approvalToken_ = 0;
  }
  if (bridgeToken_) {
    bridge::Call cancel;
    cancel.op = bridge::Call::Op::Cancel;
    cancel.token = bridgeToken_;
    worker_.shared().bridge->submit(std::move(cancel));
    bridgeRelease();
  }
  timer_.close(onClose);
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), onClose);
}

void ClientConn::onClose(uv_handle_t* h) {
  auto* c = static_cast<ClientConn*>(h->data);
  if (--c->openHandles_ > 0)
    return;
  if (c->batch_)
    c->worker_.batches().give(c->batch_);
  c->worker_.connectionClosed(c);
  delete c;
}

void ClientConn::closeAfterFlush() {
  if (closeStarted_ || state_ == State::Closing)
    return;
  state_ = State::Closing;
  if (reading_) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
    reading_ = false;
  }
  flush();
  // uv_shutdown waits for queued writes, then half-closes; the close follows in its callback.
  if (uv_shutdown(&shutdownReq_, reinterpret_cast<uv_stream_t*>(&tcp_), onShutdown) != 0)
    close();
  else
    armTimer(worker_.shared().cfg->idleTimeoutMs); // a client that never reads is not waited on
}

void ClientConn::onShutdown(uv_shutdown_t* req, int) {
  static_cast<ClientConn*>(req->data)->close();
}

void ClientConn::armTimer(uint64_t ms) {
  timer_.arm(ms);
}

void ClientConn::onTimer(void* self) {
  auto* c = static_cast<ClientConn*>(self);
  switch (c->state_) {
  case State::Reading:
    if (!c->parser_.started()) {
      c->closeAfterFlush(); // idle keep-alive connection
      return;
    }
    c->worker_.mutableStats()
        .rejects[static_cast<size_t>(metrics::HttpReject::HeaderTimeout)]
        .inc();
    c->failRequest(SidecarError::HeaderTimeout,
                   "the request was not received within --header-timeout", true);
    return;
  case State::Forwarding:
  case State::Responding:
    // Armed only while the client does not read what we send (see onUpstreamReadEnd).
    c->close();
    return;
  case State::Closing:
    c->close();
    return;
  }
}

void ClientConn::onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  // Every request byte is copied into the parser's buffers inside onRead, so all connections
  // of a worker can share one read buffer.
  auto* c = static_cast<ClientConn*>(h->data);
  *buf = uv_buf_init(c->worker_.readBuffer(), Worker::kReadBufferSize);
}

void ClientConn::onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<ClientConn*>(s->data);
  if (nread == 0 || c->closeStarted_)
    return;
  if (nread < 0) {
    // EOF or error. Mid-exchange the client is gone: nothing to answer, and the upstream
    // connection cannot be reused (close() aborts it).
    c->close();
    return;
  }
  c->worker_.mutableStats().bytesIn.inc(static_cast<uint64_t>(nread));
  c->handleData(buf->base, static_cast<size_t>(nread));
}

void ClientConn::handleData(const char* data, size_t len) {
  if (state_ == State::Closing)
    return;
  if (state_ != State::Reading || !pending_.empty()) {
    pending_.append(data, len);
    if (state_ == State::Reading) {
      std::string bytes;
      bytes.swap(pending_);
      feed(bytes.data(), bytes.size());
    } else if (pending_.size() > worker_.shared().limits.maxHeaderBytes + (64 << 10) && reading_) {
      // A client pipelining far ahead: stop reading until the current answer is done.
      uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
      reading_ = false;
    }
    return;
  }
  feed(data, len);
}

void ClientConn::feed(const char* data, size_t len) {
  bool wasStarted = parser_.started();
  bool hadHead = parser_.headersComplete();
  size_t consumed = 0;
  bytesIn_ += len;
  switch (parser_.feed(data, len, consumed)) {
  case RequestParser::Status::NeedMore:
    if (!wasStarted && parser_.started())
      armTimer(worker_.shared().cfg->headerTimeoutMs);
    else if (parser_.headersComplete())
      armTimer(worker_.shared().cfg->headerTimeoutMs); // body idle
    if (!hadHead && parser_.expectsContinue() && !sentContinue_) {
      sentContinue_ = true;
      writeOwned("HTTP/1.1 100 Continue\r\n\r\n");
      flush();
    }
    return;
  case RequestParser::Status::Complete:
    bytesIn_ -= len - consumed;
    if (consumed < len)
      pending_.append(data + consumed, len - consumed);
    startExchange();
    return;
  case RequestParser::Status::Error: {
    worker_.mutableStats().rejects[static_cast<size_t>(parser_.errorKind())].inc();
    uint64_t suppressed = 0;
    if (worker_.warnLimiter().allow(monoNowNs(), suppressed))
      log::warn("request refused", {{"client", peer_},
                                    {"status", parser_.errorStatus()},
                                    {"reason", parser_.errorText()},
                                    {"suppressed", static_cast<unsigned long long>(suppressed)}});
    SidecarError e = SidecarError::BadRequest;
    switch (parser_.errorStatus()) {
    case 413:
      e = SidecarError::BodyTooLarge;
      break;
    case 417:
      e = SidecarError::ExpectationFailed;
      break;
    case 431:
      e = SidecarError::HeaderTooLarge;
      break;
    default:
      break;
    }
    failRequest(e, parser_.errorText(), true);
    return;
  }
  }
}

void ClientConn::startExchange() {
  state_ = State::Forwarding;
  timer_.disarm();
  startNs_ = monoNowNs();
  status_ = 0;
  bytesOut_ = 0;
  retried_ = false;
  if (!admit())
    return;
  if (worker_.shared().policy && !applyPolicy())
    return;
  forward();
}

void ClientConn::forward() {
  if (worker_.shared().bridge) {
    bridgeExchange();
    return;
  }
  if (watch::DriftWatch* dw = worker_.shared().drift;
      dw && dw->policy() == drift::DriftPolicy::Block && parser_.method() == HTTP_POST) {
    for (const std::string& tool : mcp::toolCallNames(parser_.body())) {
      if (!dw->blocks(tool))
        continue;
      recordRejection("tool_drift_blocked", "");
      failRequest(SidecarError::DriftBlocked,
                  "tool '" + tool +
                      "' changed since the baseline (--drift-policy block); an operator must "
                      "review it and run `mcp-sidecar drift accept`",
                  false);
      return;
    }
  }
  {
    const WorkerShared& sh = worker_.shared();
    observing_ = false;
    if (sh.observe && (sh.audit || sh.mcp) && parser_.method() == HTTP_POST) {
      obs_ = mcp::ExchangeObserver();
      observing_ = obs_.request(parser_.body(), sh.audit != nullptr);
    }
  }
  upstreamHead_.clear();
  buildUpstreamRequestHead(parser_, peerIp_, worker_.shared().upstreamAuthority, upstreamHead_);
  upstream_ = worker_.pool().acquire();
  upstream_->start(this, upstreamHead_, parser_.body(), parser_.method() == HTTP_HEAD);
}

bool ClientConn::checkHostOrigin() {
  const config::ServeConfig& cfg = *worker_.shared().cfg;
  std::string why;
  SidecarError e = SidecarError::HostNotAllowed;
  bool ok = config::hostAllowed(cfg, parser_.header("host").value_or(""), why);
  if (ok) {
    e = SidecarError::OriginNotAllowed;
    ok = config::originAllowed(cfg, parser_.header("origin").value_or(""), why);
  }
  if (ok)
    return true;
  worker_.mutableStats().rejects[static_cast<size_t>(metrics::HttpReject::HostOrOrigin)].inc();
  uint64_t suppressed = 0;
  if (worker_.warnLimiter().allow(monoNowNs(), suppressed))
    log::warn("request refused: Host or Origin not allowed (DNS-rebinding protection)",
              {{"client", peer_},
               {"detail", why},
               {"suppressed", static_cast<unsigned long long>(suppressed)}});
  failRequest(e, why, false);
  return false;
}

bool ClientConn::admit() {
  callerId_.clear();
  verdict_ = nullptr;
  signAnswer_ = false;
  // Before authentication: a rebinding attempt gets its 403 whatever it carries.
  if (!checkHostOrigin())
    return false;
  if (answerLocally())
    return false;
  SignatureGate* gate = worker_.shared().gate;
  if (!gate)
    return true;
  // Discovery documents stay reachable unsigned (OAuth protected-resource metadata and the like).
  llhttp_method_t m = parser_.method();
  if ((m == HTTP_GET || m == HTTP_HEAD) && parser_.url().starts_with("/.well-known/")) {
    verdict_ = "exempt";
    return true;
  }

  const verifier::TrustStore& store = worker_.trustStore();
  headerViews_.clear();
  for (size_t i = 0; i < parser_.headerCount(); ++i)
    headerViews_.emplace_back(parser_.headerName(i), parser_.headerValue(i));
  verifier::RequestView view{parser_.methodName(), parser_.url(), headerViews_, parser_.body()};
  verifier::Verdict v = verifier::verify(gate->options(), store, gate->replay(), view,
                                         static_cast<int64_t>(time(nullptr)));
  worker_.mutableStats()
      .verifications[static_cast<size_t>(v.profile)][static_cast<size_t>(v.reason)]
      .inc();
  callerId_ = v.keyId;
  verdict_ = verifier::reasonName(v.reason);
  bool monitor = gate->mode() == config::VerifyMode::Monitor;
  uint64_t suppressed = 0;
  if (!v.accepted()) {
    if (worker_.warnLimiter().allow(monoNowNs(), suppressed))
      log::warn(monitor ? "request signature rejected (monitor mode: forwarded anyway)"
                        : "request signature rejected",
                {{"client", peer_},
                 {"key_id", v.keyId},
                 {"reason", verdict_},
                 {"profile", verifier::profileName(v.profile)},
                 {"detail", v.detail},
                 {"method", parser_.methodName()},
                 {"path", parser_.url()},
                 {"suppressed", static_cast<unsigned long long>(suppressed)}});
    if (monitor)
      return true;
    recordRejection(verdict_, verifier::profileName(v.profile));
    if (v.reason == verifier::Reason::ReplayCacheFull) {
      failRequest(SidecarError::ReplayCacheFull, v.detail, false, verdict_);
    } else {
      std::string www = "WWW-Authenticate: MCP-Signature realm=\"mcp-sidecar\", error=\"";
      www += verdict_;
      www += "\"\r\n";
      failRequest(SidecarError::SignatureRejected, v.detail, false, verdict_, www);
    }
    return false;
  }
  if (v.key && v.key->tools) {
    for (const std::string& tool : mcp::toolCallNames(parser_.body())) {
      if (v.key->allowsTool(tool))
        continue;
      worker_.mutableStats().toolDenials.inc();
      if (worker_.warnLimiter().allow(monoNowNs(), suppressed))
        log::warn(monitor ? "tool not allowed for this caller (monitor mode: forwarded anyway)"
                          : "tool not allowed for this caller",
                  {{"client", peer_},
                   {"key_id", v.keyId},
                   {"tool", tool},
                   {"suppressed", static_cast<unsigned long long>(suppressed)}});
      if (monitor)
        continue;
      recordRejection("tool_not_allowed", verifier::profileName(v.profile));
      failRequest(SidecarError::ForbiddenByPolicy,
                  "caller '" + v.keyId + "' may not call tool '" + tool +
                      "': it is not on the key's tools allow-list in the trust store",
                  false, "tool_not_allowed");
      return false;
    }
  }
  if (v.accepted() && worker_.shared().signer) {
    signAnswer_ = true;
    reqNonce_.assign(parser_.header("x-mcp-nonce").value_or(""));
    auto sig = parser_.header("x-mcp-signature");
    reqSig_.assign(sig ? *sig : parser_.header("x-signature").value_or(""));
    eventSeq_ = 0;
  }
  CallPolicy* policy = worker_.shared().policy;
  if (v.key && !v.key->aimAgentId.empty() && policy && policy->revoked(v.key->aimAgentId)) {
    worker_.mutableStats().toolDenials.inc();
    if (worker_.warnLimiter().allow(monoNowNs(), suppressed))
      log::warn(monitor ? "caller revoked at AIM (monitor mode: forwarded anyway)"
                        : "caller revoked at AIM",
                {{"client", peer_},
                 {"key_id", v.keyId},
                 {"aim_agent_id", v.key->aimAgentId},
                 {"suppressed", static_cast<unsigned long long>(suppressed)}});
    if (!monitor) {
      recordRejection("agent_revoked", verifier::profileName(v.profile));
      failRequest(SidecarError::ForbiddenByPolicy,
                  "caller '" + v.keyId + "' belongs to AIM agent " + v.key->aimAgentId +
                      ", which AIM has revoked",
                  false, "agent_revoked");
      return false;
    }
  }
  return true;
}

bool ClientConn::answerLocally() {
  LocalEndpoints* local = worker_.shared().local;
  if (!local)
    return false;
  std::string_view url = parser_.url();
  std::string_view path = url.substr(0, url.find('?'));
  std::string_view method = parser_.methodName();
  if (!local->serves(method, path))
    return false;
  verdict_ = "exempt";
  LocalAnswer a =
      local->answer(method, path, parser_.body(), parser_.header("x-mcp-nonce").value_or(""),
                    parser_.header("x-mcp-signature").value_or(""));
  status_ = a.status;
  bool closeAfter = !parser_.keepAlive() || draining_ || worker_.draining();
  std::string head = "HTTP/1.1 " + std::to_string(a.status) + " " + reasonPhrase(a.status) + "\r\n";
  head += a.headers;
  head += "Content-Length: " + std::to_string(a.body.size()) + "\r\n";
  if (closeAfter)
    head += "Connection: close\r\n";
  head += "\r\n";
  bytesOut_ = head.size() + (parser_.method() == HTTP_HEAD ? 0 : a.body.size());
  if (parser_.method() != HTTP_HEAD)
    head += a.body;
  writeOwned(std::move(head));
  respKeepAlive_ = !closeAfter;
  flush();
  finishExchange();
  return true;
}

bool ClientConn::applyPolicy() {
  CallPolicy& policy = *worker_.shared().policy;
  if (parser_.method() != HTTP_POST)
    return true;
  std::vector<std::string> tools = mcp::toolCallNames(parser_.body());
  if (tools.empty())
    return true;
  size_t gatedCount = 0;
  for (const std::string& t : tools)
    if (policy.gated(t)) {
      ++gatedCount;
      gatedTool_ = t;
    }
  if (gatedCount == 0) {
    for (const std::string& t : tools)
      policy.toolCalled(t);
    return true;
  }
  if (gatedCount > 1 || tools.size() > 1) {
    recordRejection("approval_denied", "");
    failRequest(SidecarError::ApprovalRequired,
                "a gated tool (--gate) is approved one call at a time: send '" + gatedTool_ +
                    "' in a request of its own, not in a batch",
                false);
    return false;
  }
  // The request stays read and parked; the decision arrives through the worker's mailbox.
  approvalToken_ = worker_.awaitApproval(this);
  bridge::Mailbox<Worker::Approval>* box = worker_.approvalBox();
  uint64_t token = approvalToken_;
  std::string callId = "w" + std::to_string(token) + "-" + std::to_string(monoNowNs());
  auto id = policy.requestApproval(gatedTool_, callId, callerId_, [box, token](ApprovalOutcome o) {
    box->post(Worker::Approval{token, std::move(o)});
  });
  if (!id.ok()) {
    worker_.stopAwaiting(approvalToken_);
    approvalToken_ = 0;
    recordRejection("approval_denied", "");
    failRequest(SidecarError::ApprovalRequired, id.error(), false);
    return false;
  }
  approvalId_ = *id;
  log::info("gated tool call waiting for AIM's approval",
            {{"client", peer_}, {"tool", gatedTool_}, {"caller", callerId_}});
  return false;
}

void ClientConn::onApproval(ApprovalOutcome outcome) {
  approvalToken_ = 0;
  approvalId_ = 0;
  if (closeStarted_)
    return;
  if (!outcome.approved) {
    uint64_t suppressed = 0;
    if (worker_.warnLimiter().allow(monoNowNs(), suppressed))
      log::warn("gated tool call refused",
                {{"client", peer_},
                 {"tool", gatedTool_},
                 {"caller", callerId_},
                 {"reason", outcome.reason},
                 {"suppressed", static_cast<unsigned long long>(suppressed)}});
    recordRejection("approval_denied", "");
    failRequest(SidecarError::ApprovalRequired, outcome.reason, false);
    return;
  }
  log::info("gated tool call approved by AIM",
            {{"client", peer_}, {"tool", gatedTool_}, {"verification_id", outcome.verificationId}});
  verificationId_ = std::move(outcome.verificationId);
  worker_.shared().policy->toolCalled(gatedTool_);
  forward();
}

void ClientConn::recordOperation() {
  observing_ = false;
  const WorkerShared& sh = worker_.shared();
  if (sh.mcp && !obs_.listedTools().empty())
    sh.mcp->addTools(obs_.listedTools());
  // A tools/list answer passed: drift is checked against it now, by the sidecar's own listing
  // (which sees every page, whatever cursor this client asked for).
  if (sh.relist && obs_.method() == "tools/list" && obs_.outcome() == "ok")
    sh.relist();
  recordOperationAs(obs_.outcome(), obs_.reason());
}

void ClientConn::recordOperationAs(std::string_view outcome, std::string_view reason) {
  const WorkerShared& sh = worker_.shared();
  uint64_t nowNs = monoNowNs();
  double seconds = static_cast<double>(nowNs - startNs_) / 1e9;
  if (sh.mcp)
    sh.mcp->observe(obs_.method(), obs_.tool(), outcome, seconds);
  if (!sh.audit)
    return;
  audit::AuditRecord r;
  r.kind = audit::RecordKind::Operation;
  auto sid = parser_.header("mcp-session-id");
  r.session = sid ? std::string(*sid) : answerSession_;
  r.rpcId = obs_.takeRpcId();
  r.method = obs_.takeMethod();
  r.tool = obs_.takeTool();
  r.caller = callerId_;
  r.outcome = outcome;
  r.reason = reason;
  r.latencyMs = seconds * 1000;
  r.monoNs = nowNs; // ts: the writer turns it into wall-clock time
  r.bytesIn = parser_.body().size();
  r.bytesOut = bytesOut_ + (batch_ ? batch_->bytes : 0); // with what is about to be flushed
  r.args = std::move(obs_.args());
  // Blocks this worker while the trail's queue is full: back-pressure, never a lost record.
  sh.audit->append(std::move(r));
}

void ClientConn::recordRejection(std::string_view reason, std::string_view profile) {
  const WorkerShared& sh = worker_.shared();
  if (!sh.audit && !sh.mcp)
    return;
  // Refusals are rare next to answered calls: scanning the body here costs the hot path nothing.
  const std::string& body = parser_.body();
  mcp::MessageInfo m = mcp::scanMessage(body);
  if (sh.mcp)
    sh.mcp->observe(m.method.empty() ? "other" : m.method, m.toolName, "rejected", -1);
  if (!sh.audit)
    return;
  audit::AuditRecord r;
  r.kind = audit::RecordKind::Rejected;
  r.session = std::string(parser_.header("mcp-session-id").value_or(""));
  if (m.kind == mcp::MessageKind::Request)
    r.rpcId = std::string(m.id.in(body));
  r.method = m.method;
  r.tool = m.toolName;
  r.caller = callerId_;
  r.profile = profile;
  r.outcome = "rejected";
  r.reason = reason;
  r.bytesIn = body.size();
  if (m.arguments.present())
    r.args.emplace(m.arguments.in(body));
  r.detail = "{\"client\":\"" + peerIp_ + "\"}";
  // Blocks this worker while the trail's queue is full: back-pressure, never a lost record.
  sh.audit->append(std::move(r));
}

void ClientConn::bridgeExchange() {
  const config::ServeConfig& cfg = *worker_.shared().cfg;
  std::string_view url = parser_.url();
  std::string_view path = url.substr(0, url.find('?'));
  if (path != cfg.mcpPath) {
    failRequest(SidecarError::NotFound, "this sidecar serves MCP at " + cfg.mcpPath, false);
    return;
  }
  bridge::Call call;
  switch (parser_.method()) {
  case HTTP_POST:
    call.op = bridge::Call::Op::Post;
    break;
  case HTTP_GET:
    call.op = bridge::Call::Op::Get;
    break;
  case HTTP_DELETE:
    call.op = bridge::Call::Op::Delete;
    break;
  default:
    failRequest(SidecarError::MethodNotAllowed,
                "the MCP endpoint takes POST (messages), GET (the server's stream) and DELETE "
                "(end the session)",
                false, {}, "Allow: GET, POST, DELETE\r\n");
    return;
  }
  std::string_view accept = parser_.header("accept").value_or("");
  bool any = accept.find("*/*") != std::string_view::npos;
  bool sse = any || icontains(accept, "text/event-stream");
  if (call.op == bridge::Call::Op::Post) {
    if (!any && (!sse || !icontains(accept, "application/json"))) {
      failRequest(SidecarError::NotAcceptable,
                  "send Accept: application/json, text/event-stream (MCP Streamable HTTP)", false);
      return;
    }
    std::string_view ct = parser_.header("content-type").value_or("");
    std::string_view type = trimBlanks(ct.substr(0, ct.find(';')));
    if (!iequals(type, "application/json")) {
      failRequest(SidecarError::UnsupportedMedia,
                  "send the JSON-RPC message with Content-Type: application/json", false);
      return;
    }
    call.info = mcp::scanMessage(parser_.body());
    // A batch goes to the bridge, which knows whether the session's revision allows one.
    if (call.info.kind == mcp::MessageKind::Invalid && !call.info.batch) {
      bool json = !call.info.error.starts_with("not valid JSON");
      failRequest(json ? SidecarError::InvalidMessage : SidecarError::ParseError, call.info.error,
                  false);
      return;
    }
    if (call.info.batch && !parser_.header("mcp-session-id")) {
      failRequest(SidecarError::SessionRequired,
                  "a JSON-RPC batch needs a session (revision 2025-03-26); initialize first",
                  false);
      return;
    }
    if (call.info.batch && !call.info.error.empty()) {
      failRequest(SidecarError::InvalidMessage, call.info.error, false);
      return;
    }
    if (call.info.modernClaim && !parser_.header("mcp-session-id")) {
      // Protocol revision 2026-07-28 is not served yet: answer as a legacy server does, so that
      // a client that speaks both falls back to initialize (docs/stdio-bridge.md).
      failRequest(SidecarError::SessionRequired,
                  "this server speaks MCP up to protocol revision 2025-11-25: initialize first",
                  false);
      return;
    }
  } else if (call.op == bridge::Call::Op::Get && !sse) {
    failRequest(SidecarError::NotAcceptable,
                "the GET stream is Server-Sent Events: send Accept: text/event-stream", false);
    return;
  }
  if (auto v = parser_.header("mcp-protocol-version")) {
    static constexpr std::string_view kKnown[] = {"2024-11-05", "2025-03-26", "2025-06-18",
                                                  "2025-11-25"};
    bool known = false;
    for (std::string_view k : kKnown)
      known = known || *v == k;
    if (!known) {
      failRequest(SidecarError::BadProtocolVersion,
                  "MCP-Protocol-Version '" + std::string(*v) +
                      "' is not supported; supported: 2024-11-05, 2025-03-26, 2025-06-18, "
                      "2025-11-25",
                  false);
      return;
    }
    call.protocolVersion = *v;
  }
  if (auto sid = parser_.header("mcp-session-id"))
    call.session = *sid;
  call.caller = callerId_;
  call.body = parser_.takeBody();
  call.reply = worker_.replyBox();
  call.token = bridgeToken_ = worker_.shared().bridge->newToken();
  worker_.bridgeAttach(bridgeToken_, this);
  worker_.shared().bridge->submit(std::move(call));
}

void ClientConn::bridgeRelease() {
  if (!bridgeToken_)
    return;
  worker_.bridgeDetach(bridgeToken_);
  bridgeToken_ = 0;
}

void ClientConn::onBridgeReply(bridge::Reply& r) {
  if (closeStarted_)
    return;
  bool http11 = parser_.httpMajor() == 1 && parser_.httpMinor() >= 1;
  WriteBatch& b = batch();
  switch (r.kind) {
  case bridge::Reply::Kind::Full:
  case bridge::Reply::Kind::Head: {
    bool full = r.kind == bridge::Reply::Kind::Full;
    state_ = State::Responding;
    status_ = r.status;
    respKeepAlive_ = parser_.keepAlive() && !draining_ && !worker_.draining();
    respChunked_ = !full && http11;
    if (!full && !http11)
      respKeepAlive_ = false; // an HTTP/1.0 client learns the end of a stream from the close
    size_t off = b.owned.size();
    std::string& o = b.owned;
    o += "HTTP/1.1 ";
    appendUint(o, static_cast<uint64_t>(r.status));
    o += ' ';
    o += reasonPhrase(r.status);
    o += "\r\n";
    o += r.headers;
    if (signAnswer_) {
      // A JSON answer is signed over its body; an event stream's head over zero bytes, and each
      // event below on its own.
      int64_t now = static_cast<int64_t>(time(nullptr));
      answerTs_ = std::to_string(now);
      o += worker_.shared().signer->jsonHeaders(static_cast<unsigned>(r.status),
                                                full ? std::string_view(r.body) : "", now,
                                                reqNonce_, reqSig_);
    }
    if (full) {
      o += "Content-Length: ";
      appendUint(o, r.body.size());
      o += "\r\n";
    } else if (respChunked_) {
      o += "Transfer-Encoding: chunked\r\n";
    }
    if (!respKeepAlive_)
      o += "Connection: close\r\n";
    o += "\r\n";
    o += r.body;
    b.endOwned(off);
    flush();
    if (full) {
      bridgeRelease();
      finishExchange();
    }
    return;
  }
  case bridge::Reply::Kind::Event: {
    if (signAnswer_ && !r.body.empty() && r.body[0] != ':') {
      // ": mcp-sig seq=<n> sig=<b64>" before the event (comments such as keep-alives are not
      // events and go unsigned).
      r.body.insert(0, worker_.shared().signer->eventLine(reqSig_, answerTs_, eventSeq_++, r.body));
    }
    size_t off = b.owned.size();
    if (respChunked_) {
      appendHex(b.owned, r.body.size());
      b.owned += "\r\n";
    }
    b.owned += r.body;
    if (respChunked_)
      b.owned += "\r\n";
    b.endOwned(off);
    flush();
    if (uv_stream_get_write_queue_size(reinterpret_cast<uv_stream_t*>(&tcp_)) > (16u << 20)) {
      uint64_t suppressed = 0;
      if (worker_.warnLimiter().allow(monoNowNs(), suppressed))
        log::warn("closing an event stream whose client does not read (16 MiB queued)",
                  {{"client", peer_}, {"suppressed", static_cast<unsigned long long>(suppressed)}});
      close();
    }
    return;
  }
  case bridge::Reply::Kind::End:
    if (respChunked_)
      b.addOwned("0\r\n\r\n");
    flush();
    bridgeRelease();
    finishExchange();
    return;
  }
}

void ClientConn::onUpstreamHead(const ResponseHead& head) {
  state_ = State::Responding;
  status_ = head.status;
  if (observing_) {
    std::string_view ct;
    answerSession_.clear();
    for (const auto& [n, v] : head.headers) {
      if (iequals(n, "content-type"))
        ct = v;
      else if (iequals(n, "mcp-session-id"))
        answerSession_.assign(v);
    }
    obs_.head(head.status, ct,
              head.hasLength ? std::optional<uint64_t>(head.contentLength) : std::nullopt);
  }
  respNoBody_ = parser_.method() == HTTP_HEAD || head.status == 204 || head.status == 304;
  bool http11 = parser_.httpMajor() == 1 && parser_.httpMinor() >= 1;
  respKeepAlive_ = parser_.keepAlive() && !draining_ && !worker_.draining();
  respChunked_ = false;
  if (!respNoBody_ && !head.hasLength) {
    // Chunked or close-delimited upstream body: re-frame as chunked for HTTP/1.1 clients;
    // an HTTP/1.0 client learns the end from the close.
    if (http11)
      respChunked_ = true;
    else
      respKeepAlive_ = false;
  }
  holdAnswer_ = signEvents_ = false;
  if (signAnswer_ && worker_.shared().signer) {
    std::string_view ct;
    for (const auto& [n, v] : head.headers)
      if (iequals(n, "content-type"))
        ct = v;
    int64_t now = static_cast<int64_t>(time(nullptr));
    answerTs_ = std::to_string(now);
    if (!respNoBody_ && icontains(ct, "text/event-stream")) {
      // Head signed over zero bytes now; each event signed as it completes.
      signEvents_ = true;
      eventBuf_.clear();
      WriteBatch& b = batch();
      size_t off = b.owned.size();
      buildClientResponseHead(head, respChunked_, respKeepAlive_, http11, b.owned);
      b.owned.insert(b.owned.size() - 2,
                     worker_.shared().signer->jsonHeaders(static_cast<unsigned>(head.status), "",
                                                          now, reqNonce_, reqSig_));
      b.endOwned(off);
      return;
    }
    // Held whole: the signature covers the body's SHA-256, and goes in the head. Re-framed with
    // Content-Length.
    holdAnswer_ = true;
    respChunked_ = false;
    heldHasLength_ = head.hasLength || respNoBody_;
    if (!head.hasLength && !respNoBody_ && !http11)
      respKeepAlive_ = parser_.keepAlive() && !draining_ && !worker_.draining();
    heldHead_.clear();
    heldBody_.clear();
    buildClientResponseHead(head, false, respKeepAlive_, http11, heldHead_);
    status_ = head.status;
    return;
  }
  WriteBatch& b = batch();
  size_t off = b.owned.size();
  buildClientResponseHead(head, respChunked_, respKeepAlive_, http11, b.owned);
  b.endOwned(off);
}

void ClientConn::writeBodyBytes(std::string bytes) {
  WriteBatch& b = batch();
  size_t off = b.owned.size();
  if (respChunked_) {
    appendHex(b.owned, bytes.size());
    b.owned += "\r\n";
    b.owned += bytes;
    b.owned += "\r\n";
  } else {
    b.owned += bytes;
  }
  b.endOwned(off);
}

void ClientConn::emitSignedEvents(bool end) {
  const verifier::AnswerSigner& signer = *worker_.shared().signer;
  std::string out;
  size_t start = 0;
  for (;;) {
    // An event ends with a blank line: LF LF, or CR LF CR LF.
    size_t lf = eventBuf_.find("\n\n", start);
    size_t crlf = eventBuf_.find("\r\n\r\n", start);
    size_t stop = std::string::npos;
    if (lf != std::string::npos)
      stop = lf + 2;
    if (crlf != std::string::npos && (stop == std::string::npos || crlf + 4 < stop))
      stop = crlf + 4;
    if (stop == std::string::npos) {
      if (end && start < eventBuf_.size())
        stop = eventBuf_.size(); // an unterminated last event: sent as it is, signed too
      else
        break;
    }
    std::string_view event(eventBuf_.data() + start, stop - start);
    bool comment = true; // only comment lines (keep-alives): not an event, not signed
    for (size_t p = 0; p < event.size();) {
      size_t e = event.find('\n', p);
      std::string_view line = event.substr(p, (e == std::string_view::npos ? event.size() : e) - p);
      if (!line.empty() && line != "\r" && line[0] != ':')
        comment = false;
      p = e == std::string_view::npos ? event.size() : e + 1;
    }
    if (!comment) {
      out += signer.eventLine(reqSig_, answerTs_, eventSeq_++, event);
    }
    out += event;
    start = stop;
  }
  eventBuf_.erase(0, start);
  if (!out.empty())
    writeBodyBytes(std::move(out));
}

void ClientConn::onUpstreamBody(std::string_view data, ReadBuffer* buf) {
  if (respNoBody_ || data.empty())
    return;
  if (observing_)
    obs_.body(data); // looked at in place; forwarded below without a copy
  if (holdAnswer_) {
    if (heldBody_.size() + data.size() > (64u << 20)) {
      // Nothing was sent yet: the caller gets a clear error rather than an unsigned answer.
      if (upstream_) {
        upstream_->abort();
        upstream_ = nullptr;
      }
      holdAnswer_ = false;
      observing_ = false;
      failRequest(SidecarError::UpstreamUnavailable,
                  "the MCP server's answer is over 64 MiB: too large to hold and sign", true);
      return;
    }
    heldBody_.append(data);
    return;
  }
  if (signEvents_) {
    eventBuf_.append(data);
    emitSignedEvents(false);
  } else {
    WriteBatch& b = batch();
    if (respChunked_) {
      size_t off = b.owned.size();
      appendHex(b.owned, data.size());
      b.owned += "\r\n";
      b.endOwned(off);
      b.addExternal(data, buf);
      b.addOwned("\r\n");
    } else {
      b.addExternal(data, buf);
    }
  }
  // An event stream's answer is its event, not the stream's end (which may come much later):
  // recorded now, before these bytes are flushed, so that a client that has read its answer
  // finds the call counted in /metrics and the audit trail.
  if (observing_ && obs_.decided())
    recordOperation();
}

void ClientConn::onUpstreamReadEnd() {
  flush();
  if (closeStarted_ || !upstream_)
    return;
  size_t queued = uv_stream_get_write_queue_size(reinterpret_cast<uv_stream_t*>(&tcp_));
  if (queued > kHighWater && !upstreamPaused_) {
    upstreamPaused_ = true;
    upstream_->pauseReading();
    // A client that stops reading for a whole idle timeout is dropped.
    armTimer(worker_.shared().cfg->idleTimeoutMs);
  }
}

void ClientConn::onUpstreamComplete() {
  upstream_ = nullptr;
  upstreamPaused_ = false;
  if (holdAnswer_) {
    holdAnswer_ = false;
    std::string sig = worker_.shared().signer->jsonHeaders(
        static_cast<unsigned>(status_), heldBody_, std::stoll(answerTs_), reqNonce_, reqSig_);
    if (!heldHasLength_)
      sig += "Content-Length: " + std::to_string(heldBody_.size()) + "\r\n";
    heldHead_.insert(heldHead_.size() - 2, sig);
    if (parser_.method() != HTTP_HEAD)
      heldHead_ += heldBody_;
    writeOwned(std::move(heldHead_));
    heldHead_.clear();
    heldBody_.clear();
  }
  if (signEvents_) {
    signEvents_ = false;
    emitSignedEvents(true);
  }
  if (respChunked_)
    batch().addOwned("0\r\n\r\n");
  if (observing_) {
    // Recorded before the last bytes go out: a client that reads its answer and then asks
    // /metrics (or reads the audit trail) finds the call counted.
    obs_.end();
    recordOperation();
  }
  flush();
  finishExchange();
}

void ClientConn::onUpstreamError(metrics::UpstreamError kind, bool responseStarted, bool reused) {
  upstream_ = nullptr;
  upstreamPaused_ = false;
  if (state_ == State::Closing)
    return;
  bool willRetry = !responseStarted && reused && kind == metrics::UpstreamError::Reset &&
                   !retried_ && idempotent(parser_.method());
  if (observing_ && !willRetry) {
    observing_ = false;
    recordOperationAs("upstream_error", metrics::upstreamErrorName(kind));
  }
  if (!responseStarted && reused && kind == metrics::UpstreamError::Reset && !retried_ &&
      idempotent(parser_.method())) {
    // A keep-alive connection the server had closed: safe to send an idempotent request again.
    retried_ = true;
    worker_.mutableStats().upstreamRetries.inc();
    upstream_ = worker_.pool().acquire();
    upstream_->start(this, upstreamHead_, parser_.body(), parser_.method() == HTTP_HEAD);
    return;
  }
  if (kind == metrics::UpstreamError::ConnectFailed)
    worker_.sharedMutable().process->upstreamUp.store(0, std::memory_order_relaxed);
  uint64_t suppressed = 0;
  if (worker_.warnLimiter().allow(monoNowNs(), suppressed))
    log::warn("upstream failed", {{"client", peer_},
                                  {"path", parser_.url()},
                                  {"error", metrics::upstreamErrorName(kind)},
                                  {"response_started", responseStarted},
                                  {"suppressed", static_cast<unsigned long long>(suppressed)}});
  if (holdAnswer_) {
    // A held (signed) answer: nothing of it was sent, so the caller can still get a clean error.
    holdAnswer_ = false;
    heldHead_.clear();
    heldBody_.clear();
    state_ = State::Forwarding;
  }
  if (state_ == State::Responding) {
    // Part of the answer is already on its way: the only honest signal left is to cut the
    // connection, so the client sees a truncated response instead of a wrong one.
    status_ = status_ ? status_ : 502;
    accessLog();
    close();
    return;
  }
  bool timeout = kind == metrics::UpstreamError::Timeout;
  failRequest(timeout ? SidecarError::UpstreamTimeout : SidecarError::UpstreamUnavailable,
              timeout ? "the MCP server did not answer within --upstream-timeout"
                      : "the MCP server could not be reached or closed the connection; check "
                        "that it runs and listens at the --upstream address",
              !parser_.keepAlive());
}

void ClientConn::failRequest(SidecarError e, std::string_view detail, bool closeAfter,
                             std::string_view reason, std::string_view extraHeaders) {
  const ErrorInfo& info = errorInfo(e);
  status_ = info.httpStatus;
  closeAfter = closeAfter || draining_ || worker_.draining();
  writeOwned(buildErrorResponse(e, reason.empty() ? std::string_view(info.reason) : reason, detail,
                                parser_.body(), closeAfter, extraHeaders));
  if (state_ == State::Forwarding || state_ == State::Responding) {
    // The request was read whole: the connection may go on.
    respKeepAlive_ = !closeAfter;
    flush();
    finishExchange();
    return;
  }
  if (startNs_ == 0)
    startNs_ = monoNowNs();
  accessLog();
  worker_.mutableStats().responsesByClass[static_cast<size_t>(status_ / 100)].inc();
  closeAfterFlush();
}

void ClientConn::finishExchange() {
  if (!verificationId_.empty()) {
    bool ok = status_ >= 200 && status_ < 300;
    worker_.shared().policy->executed(verificationId_, ok,
                                      ok ? std::string() : "HTTP " + std::to_string(status_));
    verificationId_.clear();
  }
  metrics::WorkerStats& st = worker_.mutableStats();
  if (status_ >= 100 && status_ < 600)
    st.responsesByClass[static_cast<size_t>(status_ / 100)].inc();
  st.requestDuration.observe(monoNowNs() - startNs_);
  accessLog();
  sentContinue_ = false;
  bytesIn_ = 0;
  startNs_ = 0;
  if (!respKeepAlive_ || draining_ || worker_.draining() || closeStarted_) {
    parser_.reset();
    closeAfterFlush();
    return;
  }
  parser_.reset();
  state_ = State::Reading;
  armTimer(worker_.shared().cfg->idleTimeoutMs);
  if (!reading_ && uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), onAlloc, onRead) == 0)
    reading_ = true;
  if (!pending_.empty()) {
    std::string bytes;
    bytes.swap(pending_);
    feed(bytes.data(), bytes.size());
  }
}

void ClientConn::accessLog() {
  if (!worker_.shared().cfg->accessLog || !log::enabled(log::Level::Info))
    return;
  double ms = startNs_ ? static_cast<double>(monoNowNs() - startNs_) / 1e6 : 0;
  log::info("request", {{"client", peer_},
                        {"method", parser_.methodName()},
                        {"path", parser_.url()},
                        {"status", status_},
                        {"duration_ms", ms},
                        {"bytes_in", static_cast<unsigned long long>(bytesIn_)},
                        {"bytes_out", static_cast<unsigned long long>(bytesOut_)},
                        {"caller", callerId_},
                        {"verify", verdict_ ? verdict_ : "off"}});
}

WriteBatch& ClientConn::batch() {
  if (!batch_) {
    batch_ = worker_.batches().take();
    batch_->owner = this;
  }
  return *batch_;
}

void ClientConn::writeOwned(std::string bytes) {
  batch().addOwned(bytes);
}

void ClientConn::flush() {
  if (!batch_ || batch_->empty())
    return;
  WriteBatch* b = batch_;
  batch_ = nullptr;
  if (closeStarted_) {
    worker_.batches().give(b);
    return;
  }
  uv_buf_t small[8];
  std::vector<uv_buf_t> large;
  uv_buf_t* bufs = small;
  if (b->segs.size() > 8) {
    large.resize(b->segs.size());
    bufs = large.data();
  }
  for (size_t i = 0; i < b->segs.size(); ++i) {
    const auto& s = b->segs[i];
    const char* p = s.ptr ? s.ptr : b->owned.data() + s.off;
    bufs[i] = uv_buf_init(const_cast<char*>(p), static_cast<unsigned>(s.len));
  }
  bytesOut_ += b->bytes;
  worker_.mutableStats().bytesOut.inc(b->bytes);
  // libuv copies the buffer array; the bytes themselves stay owned by `b` until onWrite.
  b->req.data = b;
  int rc = uv_write(&b->req, reinterpret_cast<uv_stream_t*>(&tcp_), bufs,
                    static_cast<unsigned>(b->segs.size()), onWrite);
  if (rc != 0) {
    worker_.batches().give(b);
    close();
    return;
  }
}

void ClientConn::onWrite(uv_write_t* req, int status) {
  auto* b = static_cast<WriteBatch*>(req->data);
  auto* c = static_cast<ClientConn*>(b->owner);
  c->worker_.batches().give(b);
  if (c->closeStarted_)
    return;
  if (status != 0) {
    c->close();
    return;
  }
  if (c->upstreamPaused_ && c->upstream_ &&
      uv_stream_get_write_queue_size(reinterpret_cast<uv_stream_t*>(&c->tcp_)) < kLowWater) {
    c->upstreamPaused_ = false;
    c->timer_.disarm();
    c->upstream_->resumeReading();
  }
}

} // namespace sidecar::proxy
