#include "stdio_proxy/stdio_proxy.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

#include "audit/writer.h"
#include "common/log.h"
#include "mcp/jsonrpc.h"
#include "mcp/message_scan.h"
#include "metrics/mcp_metrics.h"
#include "watch/drift_watch.h"

namespace sidecar::stdio_proxy {

namespace {

constexpr int kUpstreamExitedCode = -31004; // docs/errors.md: upstream_exited

struct OutWrite {
  uv_write_t req;
  std::string bytes;
  StdioProxy* owner;
};

uv_handle_t* asHandle(void* h) {
  return static_cast<uv_handle_t*>(h);
}

} // namespace

namespace {
// The metrics label tools by the server's own list (anything else is "other"); AIM registers the
// server with it.
std::function<void(const std::vector<std::string>&)> toolNamesSink(const StdioProxyOptions& o) {
  if (!o.mcp && !o.onTools)
    return {};
  return [mcp = o.mcp, onTools = o.onTools](const std::vector<std::string>& names) {
    if (mcp)
      mcp->setTools(names);
    if (onTools)
      onTools(names);
  };
}

// What AIM is told of an approved call's outcome: "" when it succeeded.
std::string executionError(const Exchange& e) {
  if (e.outcome == "ok")
    return {};
  if (e.outcome == "tool_error")
    return "the tool reported an error (result.isError)";
  if (e.outcome == "rpc_error")
    return "the MCP server answered with JSON-RPC error " + e.reason;
  if (e.reason == "shutdown")
    return "the MCP server was stopped before it answered";
  if (e.reason == "upstream_exited")
    return "the MCP server exited before it answered";
  return e.outcome + ": " + e.reason;
}
} // namespace

StdioProxy::StdioProxy(uv_loop_t* loop, StdioProxyOptions options)
    : loop_(loop), opt_(std::move(options)), splitter_(opt_.maxLine),
      clientTools_(opt_.drift, toolNamesSink(opt_)), ownTools_(opt_.drift, toolNamesSink(opt_)),
      decisions_(std::make_shared<bridge::Mailbox<Decision>>()) {
  uv_pipe_init(loop_, &in_, 0);
  uv_pipe_init(loop_, &out_, 0);
  uv_timer_init(loop_, &timer_);
  in_.data = out_.data = timer_.data = this;
  openHandles_ = 4; // the three, and the mailbox's
  decisions_->open(loop_, [this](std::vector<Decision>& batch) { onDecisions(batch); });
}

StdioProxy::~StdioProxy() = default;

uint64_t StdioProxy::nowNs() const {
  return uv_hrtime();
}

size_t StdioProxy::stdoutQueued() const {
  return uv_stream_get_write_queue_size(reinterpret_cast<const uv_stream_t*>(&out_));
}

bool StdioProxy::start(std::string& error) {
  int rc = uv_pipe_open(&in_, opt_.inFd);
  const char* which = "stdin";
  if (rc == 0) {
    rc = uv_pipe_open(&out_, opt_.outFd);
    which = "stdout";
  }
  if (rc != 0) {
    error = std::string("cannot use ") + which + ": " + uv_strerror(rc) +
            " (mcp-sidecar stdio talks to its client over pipes, as MCP clients start it)";
    exitCode_ = 1;
    childGone_ = true;
    closeAll();
    return false;
  }
  child_ = std::make_unique<bridge::ChildProcess>(loop_, opt_.child);
  child_->onMessage = [this](std::string_view line) { serverLine(line); };
  child_->onExit = [this](int64_t status, int signal) {
    childExited_ = true;
    if (!stdinDone_) {
      exitCode_ = signal != 0 ? 128 + signal : static_cast<int>(status);
      log::info(
          "MCP server exited; relaying its last output, then exiting with its status",
          {{"server", opt_.child.name}, {"status", static_cast<long>(status)}, {"signal", signal}});
      // Nothing the client sends from now on can be delivered.
      stdinDone_ = true;
      if (!uv_is_closing(asHandle(&in_)))
        uv_close(asHandle(&in_), [](uv_handle_t* h) {
          auto* p = static_cast<StdioProxy*>(h->data);
          if (--p->openHandles_ == 0 && p->onDone)
            p->onDone(p->exitCode_);
        });
    }
  };
  child_->onGone = [this] { childGone(); };
  child_->onWriteDone = [this] {
    if (stdinPaused_ && child_->queuedBytes() <= opt_.highWater / 2)
      resumeStdin();
    maybeStopChild();
  };
  if (!child_->start(error)) {
    exitCode_ = 1;
    stdinDone_ = true;
    return false; // the child's handles close and onGone finishes the proxy
  }
  log::info("MCP server started", {{"server", opt_.child.name},
                                   {"pid", static_cast<long>(child_->pid())},
                                   {"command", opt_.child.argv[0]}});
  stdinOpen_ = true;
  rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&in_), onAlloc, onStdin);
  if (rc != 0) {
    // stdin is something epoll cannot watch (a regular file, /dev/null): nothing to read.
    log::warn("cannot read stdin; treating it as closed", {{"error", uv_strerror(rc)}});
    stdinEnded("stdin unreadable");
  }
  return true;
}

void StdioProxy::shutdown(std::string_view why) {
  stdinEnded(why);
}

// ---- from the client ----

void StdioProxy::onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* p = static_cast<StdioProxy*>(h->data);
  *buf = uv_buf_init(p->readBuf_, sizeof p->readBuf_);
}

void StdioProxy::onStdin(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  auto* p = static_cast<StdioProxy*>(s->data);
  if (n == 0)
    return;
  if (n < 0) {
    if (n != UV_EOF)
      log::warn("cannot read stdin; stopping", {{"error", uv_strerror(static_cast<int>(n))}});
    p->splitter_.finish([p](std::string_view line) { p->clientLine(line); });
    p->stdinEnded(n == UV_EOF ? "stdin closed" : "stdin error");
    return;
  }
  uint64_t before = p->splitter_.oversized();
  p->splitter_.feed(buf->base, static_cast<size_t>(n),
                    [p](std::string_view line) { p->clientLine(line); });
  if (p->splitter_.oversized() != before)
    log::error("the client sent a message longer than the limit; it is dropped",
               {{"limit_bytes", static_cast<unsigned long>(p->opt_.maxLine)}});
  if (p->child_ && p->child_->queuedBytes() > p->opt_.highWater)
    p->pauseStdin();
}

void StdioProxy::pauseStdin() {
  if (stdinPaused_ || stdinDone_)
    return;
  stdinPaused_ = true;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&in_));
}

void StdioProxy::resumeStdin() {
  if (!stdinPaused_)
    return;
  stdinPaused_ = false;
  if (!stdinDone_)
    uv_read_start(reinterpret_cast<uv_stream_t*>(&in_), onAlloc, onStdin);
}

void StdioProxy::clientLine(std::string_view line) {
  if (stdinDone_ && childExited_)
    return;
  mcp::MessageInfo m = mcp::scanMessage(line);
  if (m.kind == mcp::MessageKind::Request) {
    if (opt_.drift && m.method == "tools/call" && opt_.drift->blocks(m.toolName)) {
      std::string detail = "the definition of tool '" + m.toolName +
                           "' changed since the baseline (--drift-policy block); " + opt_.driftHint;
      log::warn("refused a call to a tool whose definition changed",
                {{"server", opt_.child.name}, {"tool", m.toolName}});
      refuse(m, line, kDriftBlockedCode, "Tool definition changed (drift)", "tool_drift_blocked",
             detail, "tool_drift_blocked", nowNs());
      return;
    }
    if (opt_.policy && m.method == "tools/call" && opt_.policy->gated(m.toolName)) {
      hold(m, line);
      return;
    }
    forwardRequest(m, line, nowNs(), {});
  } else {
    if (m.kind == mcp::MessageKind::Notification && m.method == "notifications/cancelled" &&
        m.paramsRequestId.present() && cancelHeld(m.paramsRequestId.in(line)))
      return; // the server never saw the request: nothing to tell it
    std::vector<std::string> batchTools;
    if (m.batch && opt_.policy)
      batchTools = mcp::toolCallNames(line);
    for (const std::string& t : batchTools)
      if (opt_.policy->gated(t)) {
        // As serve: an approval is for one call, so a gated call cannot ride in a batch.
        refuse(m, line, kApprovalRequiredCode, "Approval required", "approval_denied",
               "a gated tool (--gate) is approved one call at a time: send '" + t +
                   "' in a message of its own, not in a batch",
               "approval_denied", nowNs());
        return;
      }
    if (child_ && child_->send(std::string(line)))
      for (const std::string& t : batchTools)
        opt_.policy->toolCalled(t);
    if (m.kind == mcp::MessageKind::Notification && m.method == "notifications/initialized")
      askTools({});
  }
  if (child_ && child_->queuedBytes() > opt_.highWater)
    pauseStdin();
}

void StdioProxy::forwardRequest(const mcp::MessageInfo& m, std::string_view line, uint64_t startNs,
                                std::string verificationId) {
  if (!child_ || !child_->send(std::string(line))) {
    // The server is gone: answer rather than leave the client waiting.
    Exchange x = startExchange(m, line);
    x.outcome = "upstream_error";
    x.reason = "upstream_exited";
    x.latencyMs = static_cast<double>(nowNs() - startNs) / 1e6;
    x.verificationId = std::move(verificationId);
    std::string answer =
        mcp::errorResponse(m.id.in(line), kUpstreamExitedCode, "the MCP server is not running",
                           "upstream_exited", "the stdio MCP server exited");
    x.bytesOut = answer.size();
    recordExchange(std::move(x));
    toClient(answer);
    return;
  }
  if (opt_.policy && m.method == "tools/call")
    opt_.policy->toolCalled(m.toolName);
  // Tracked after the send so that a request the server cannot get is not left waiting; the
  // answer cannot overtake it (it comes back through this same loop).
  if (!tracker_.request(m, line, startNs, verificationId) && !verificationId.empty())
    opt_.policy->executed(verificationId, false,
                          "the sidecar could not follow the call's answer (its id was in use)");
}

void StdioProxy::refuse(const mcp::MessageInfo& m, std::string_view line, int code,
                        std::string_view message, std::string_view reason, std::string_view detail,
                        std::string_view auditReason, uint64_t startNs) {
  std::string answer = mcp::errorResponse(m.id.in(line), code, message, reason, detail);
  recordRefusal(m, line, auditReason, startNs, answer.size());
  toClient(answer);
}

void StdioProxy::recordRefusal(const mcp::MessageInfo& m, std::string_view line,
                               std::string_view auditReason, uint64_t startNs, size_t bytesOut) {
  if (opt_.mcp)
    opt_.mcp->observe(m.method.empty() ? "other" : m.method, m.toolName, "rejected", -1);
  if (!opt_.audit)
    return;
  audit::AuditRecord r;
  r.kind = audit::RecordKind::Rejected;
  r.rpcId = std::string(m.id.in(line));
  r.method = m.method;
  r.tool = m.toolName;
  r.outcome = "rejected";
  r.reason = auditReason;
  r.latencyMs = static_cast<double>(nowNs() - startNs) / 1e6;
  r.bytesIn = line.size();
  r.bytesOut = bytesOut;
  if (m.arguments.present())
    r.args.emplace(m.arguments.in(line));
  opt_.audit->append(std::move(r));
}

// ---- gated calls ----

void StdioProxy::hold(const mcp::MessageInfo& m, std::string_view line) {
  uint64_t startNs = nowNs();
  if (held_.size() >= opt_.maxHeld) {
    refuse(m, line, kApprovalRequiredCode, "Approval required", "approval_denied",
           std::to_string(held_.size()) +
               " gated calls already wait for AIM's approval; retry once some are decided",
           "approval_denied", startNs);
    return;
  }
  uint64_t token = ++nextHeld_;
  std::string callId = "stdio" + std::to_string(token) + "-" + std::to_string(startNs);
  std::shared_ptr<bridge::Mailbox<Decision>> box = decisions_;
  // The callback runs on AIM's thread; the mailbox refuses it once the proxy has closed.
  auto id =
      opt_.policy->requestApproval(m.toolName, callId, "", [box, token](proxy::ApprovalOutcome o) {
        box->post(Decision{token, std::move(o)});
      });
  if (!id.ok()) {
    log::warn("gated tool call refused",
              {{"server", opt_.child.name}, {"tool", m.toolName}, {"reason", id.error()}});
    refuse(m, line, kApprovalRequiredCode, "Approval required", "approval_denied", id.error(),
           "approval_denied", startNs);
    return;
  }
  held_.emplace(token,
                Held{std::string(line), std::string(m.id.in(line)), m.toolName, *id, startNs});
  log::info("gated tool call waiting for AIM's approval",
            {{"server", opt_.child.name}, {"tool", m.toolName}});
}

void StdioProxy::onDecisions(std::vector<Decision>& batch) {
  for (Decision& d : batch) {
    if (done_)
      return;
    auto it = held_.find(d.token);
    if (it == held_.end())
      continue; // cancelled meanwhile
    Held h = std::move(it->second);
    held_.erase(it);
    mcp::MessageInfo m = mcp::scanMessage(h.line);
    if (!d.outcome.approved) {
      log::warn("gated tool call refused",
                {{"server", opt_.child.name}, {"tool", h.tool}, {"reason", d.outcome.reason}});
      refuse(m, h.line, kApprovalRequiredCode, "Approval required", "approval_denied",
             d.outcome.reason, "approval_denied", h.startNs);
      continue;
    }
    log::info("gated tool call approved by AIM", {{"server", opt_.child.name},
                                                  {"tool", h.tool},
                                                  {"verification_id", d.outcome.verificationId}});
    forwardRequest(m, h.line, h.startNs, std::move(d.outcome.verificationId));
  }
  if (child_ && child_->queuedBytes() > opt_.highWater)
    pauseStdin();
}

bool StdioProxy::cancelHeld(std::string_view requestId) {
  auto it = std::find_if(held_.begin(), held_.end(),
                         [&](const auto& entry) { return entry.second.rpcId == requestId; });
  if (it == held_.end())
    return false;
  Held h = std::move(it->second);
  held_.erase(it);
  opt_.policy->cancelApproval(h.approvalId);
  log::info("gated tool call cancelled by the client before AIM decided",
            {{"server", opt_.child.name}, {"tool", h.tool}});
  // MCP: a cancelled request gets no answer. The audit trail still says what happened.
  recordRefusal(mcp::scanMessage(h.line), h.line, "approval_cancelled", h.startNs, 0);
  return true;
}

void StdioProxy::dropHeld(DropWhy why) {
  std::map<uint64_t, Held> held;
  held.swap(held_);
  for (auto& [token, h] : held) {
    opt_.policy->cancelApproval(h.approvalId);
    mcp::MessageInfo m = mcp::scanMessage(h.line);
    if (why == DropWhy::ServerGone) {
      forwardRequest(m, h.line, h.startNs, {}); // answered -31004: the server cannot take it
      continue;
    }
    log::info("gated tool call cancelled: the client is done",
              {{"server", opt_.child.name}, {"tool", h.tool}});
    refuse(m, h.line, kApprovalRequiredCode, "Approval required", "approval_denied",
           "the client closed its input before AIM decided; the call was not made",
           "approval_cancelled", h.startNs);
  }
}

void StdioProxy::stdinEnded(std::string_view why) {
  if (stdinDone_)
    return;
  stdinDone_ = true;
  stdinPaused_ = false;
  log::info("the client is done; stopping the MCP server",
            {{"server", opt_.child.name}, {"why", why}});
  if (stdinOpen_ && !uv_is_closing(asHandle(&in_))) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&in_));
  }
  dropHeld(DropWhy::ClientDone);
  maybeStopChild();
}

void StdioProxy::maybeStopChild() {
  if (!stdinDone_ || stopAsked_ || !child_)
    return;
  // What the client sent before closing is delivered first (closing the child's stdin would
  // cancel queued writes), for at most one grace period.
  if (child_->queuedBytes() > 0 && child_->running()) {
    if (!uv_is_active(asHandle(&timer_)))
      uv_timer_start(&timer_, onTimer, opt_.child.graceMs, 0);
    return;
  }
  uv_timer_stop(&timer_);
  stopAsked_ = true;
  child_->stop();
}

// ---- from the server ----

void StdioProxy::serverLine(std::string_view line) {
  mcp::MessageInfo m = mcp::scanMessage(line);
  if (m.kind == mcp::MessageKind::Response) {
    if (!ownListId_.empty() && m.id.in(line) == ownListId_) {
      ownListId_.clear();
      std::string next = ownTools_.answer(line, ownListLater_);
      if (!next.empty())
        askTools(next);
      return; // the proxy's own question: the client never asked it
    }
    if (auto e = tracker_.response(m, line, nowNs())) {
      if (e->method == "initialize")
        serverHasTools_ = declaresTools(line);
      else if (e->method == "tools/list")
        clientTools_.answer(line, e->cursor);
      recordExchange(std::move(*e));
    }
  }
  toClient(line);
  if (m.kind == mcp::MessageKind::Notification && m.method == "notifications/tools/list_changed")
    askTools({});
}

void StdioProxy::askTools(const std::string& cursor) {
  if (!opt_.ownToolsList || !opt_.drift || !serverHasTools_ || !child_ || !child_->running())
    return;
  if (!ownListId_.empty() && cursor.empty())
    return; // a list is being fetched; it is recent enough
  ownListId_ = "\"mcp-sidecar-tools-" + std::to_string(++ownListSeq_) + "\"";
  ownListLater_ = !cursor.empty();
  std::string req = mcp::listRequest(ownListId_, "tools/list", cursor);
  if (!child_->send(std::move(req)))
    ownListId_.clear();
}

void StdioProxy::recordExchange(Exchange e) {
  if (!e.verificationId.empty() && opt_.policy) {
    std::string error = executionError(e);
    opt_.policy->executed(e.verificationId, error.empty(), error);
  }
  if (opt_.mcp)
    opt_.mcp->observe(e.method, e.tool, e.outcome, e.latencyMs / 1000);
  if (opt_.audit)
    opt_.audit->append(operationRecord(std::move(e)));
}

void StdioProxy::toClient(std::string_view line) {
  if (stdoutBroken_ || done_)
    return;
  auto* w = new OutWrite{{}, std::string(), this};
  w->bytes.reserve(line.size() + 1);
  w->bytes.append(line);
  w->bytes.push_back('\n');
  w->req.data = w;
  uv_buf_t b = uv_buf_init(w->bytes.data(), static_cast<unsigned>(w->bytes.size()));
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&out_), &b, 1, onStdoutWritten);
  if (rc != 0) {
    delete w;
    stdoutBroken_ = true;
    log::warn("cannot write to stdout; the client is gone", {{"error", uv_strerror(rc)}});
    stdinEnded("stdout closed");
    return;
  }
  if (child_ && stdoutQueued() > opt_.highWater)
    child_->pauseOutput();
}

void StdioProxy::onStdoutWritten(uv_write_t* req, int status) {
  auto* w = static_cast<OutWrite*>(req->data);
  StdioProxy* p = w->owner;
  delete w;
  if (status == UV_ECANCELED)
    return;
  if (status < 0 && !p->stdoutBroken_) {
    p->stdoutBroken_ = true;
    log::warn("cannot write to stdout; the client is gone", {{"error", uv_strerror(status)}});
    p->stdinEnded("stdout closed");
  }
  if (p->child_ && (p->stdoutBroken_ || p->stdoutQueued() <= p->opt_.highWater / 2))
    p->child_->resumeOutput();
  if (p->finishing_)
    p->maybeFinish();
}

// ---- the end ----

void StdioProxy::childGone() {
  childGone_ = true;
  dropHeld(DropWhy::ServerGone);
  std::string_view reason = stopAsked_ ? "shutdown" : "upstream_exited";
  for (Exchange& e : tracker_.abandon("upstream_error", reason, nowNs()))
    recordExchange(std::move(e));
  maybeFinish();
}

void StdioProxy::onTimer(uv_timer_t* t) {
  auto* p = static_cast<StdioProxy*>(t->data);
  if (p->finishing_) {
    log::warn("the client did not read the last messages; exiting without them",
              {{"queued_bytes", static_cast<unsigned long>(p->stdoutQueued())}});
    p->flushTimedOut_ = true;
    p->maybeFinish();
    return;
  }
  if (p->stdinDone_ && !p->stopAsked_ && p->child_) {
    log::warn("MCP server did not read the client's last messages; stopping it anyway",
              {{"server", p->opt_.child.name}});
    p->stopAsked_ = true;
    p->child_->stop();
  }
}

void StdioProxy::maybeFinish() {
  if (!childGone_ || done_)
    return;
  if (!finishing_) {
    finishing_ = true;
    uv_timer_stop(&timer_);
    if (stdoutQueued() > 0 && !stdoutBroken_)
      uv_timer_start(&timer_, onTimer, opt_.flushTimeoutMs, 0);
  }
  if (stdoutQueued() > 0 && !stdoutBroken_ && !flushTimedOut_)
    return;
  closeAll();
}

void StdioProxy::closeAll() {
  if (done_)
    return;
  done_ = true;
  uv_timer_stop(&timer_);
  for (auto& [token, h] : held_)
    opt_.policy->cancelApproval(h.approvalId);
  held_.clear();
  auto closed = [](uv_handle_t* h) {
    auto* p = static_cast<StdioProxy*>(h->data);
    if (--p->openHandles_ == 0 && p->onDone)
      p->onDone(p->exitCode_);
  };
  // Decisions still to come are refused by the mailbox from now on; the callbacks that may still
  // post share it, so it outlives the proxy if need be.
  decisions_->close([this] {
    if (--openHandles_ == 0 && onDone)
      onDone(exitCode_);
  });
  for (uv_handle_t* h : {asHandle(&in_), asHandle(&out_), asHandle(&timer_)})
    if (!uv_is_closing(h))
      uv_close(h, closed);
}

} // namespace sidecar::stdio_proxy
