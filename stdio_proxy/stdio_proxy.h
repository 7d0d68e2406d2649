#pragma once
// The stdio-to-stdio MCP proxy (docs/stdio-proxy.md): this process's stdin and stdout face the
// client (Claude Desktop), a child process (bridge::ChildProcess) is the server. Every message is
// relayed unchanged and in order, one line each way; on the side, each request/response pair
// becomes an audit record and a metrics observation, tools/list answers feed the drift watch,
// and under --drift-policy block a tools/call of a changed tool is answered by the proxy itself.
//
// Gated tools (--gate, `policy`): a tools/call of a gated tool is held, not written to the child,
// while AIM decides; the client's other messages keep flowing (they may overtake it). Approved →
// the line goes to the child unchanged and, once answered, its outcome is reported
// (CallPolicy::executed); refused → the proxy answers -31003 itself. AIM's decision arrives on
// AIM's thread and is handed to the loop through a mailbox (uv_async_t) that the decision
// callbacks share: once the proxy closes, it refuses their posts instead of touching freed memory.
// A call still held when the client closes stdin (or the server exits) is cancelled and answered.
//
// Back-pressure, both ways: while more than `highWater` bytes wait to be written to the child's
// stdin, the client's stdin is not read; while more than `highWater` wait for our stdout, the
// child's stdout is not read. Memory is therefore bounded by the two high-water marks plus one
// read chunk and one line (`maxLine`) per direction.
//
// Ending: the client closes stdin (or shutdown() is called: a signal) → what it sent is
// delivered, the child gets the MCP stdio shutdown (stdin EOF, SIGTERM, SIGKILL) → exit code 0.
// The child exits first → its last output is relayed, stdout is flushed → its exit status (128 +
// signal number when a signal killed it). Either way `onDone` runs once, after every handle of
// the proxy is closed.
//
// Lives on one loop; not thread-safe. Audit records are appended with AuditSink::append(), which
// blocks the loop while the audit queue is full: a slow disk slows the relay down, records are
// never dropped.

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bridge/child_process.h"
#include "bridge/mailbox.h"
#include "proxy/hooks.h"
#include "stdio_proxy/exchange_tracker.h"
#include "stdio_proxy/line_splitter.h"
#include "stdio_proxy/tool_list_feed.h"

namespace sidecar::audit {
class AuditSink;
}
namespace sidecar::metrics {
class McpMetrics;
}
namespace sidecar::watch {
class DriftWatch;
}

namespace sidecar::stdio_proxy {

// The JSON-RPC error code of a tools/call refused for drift (as serve's, docs/errors.md).
inline constexpr int kDriftBlockedCode = -31007;
// The JSON-RPC error code of a gated tools/call AIM did not approve (as serve's).
inline constexpr int kApprovalRequiredCode = -31003;

struct StdioProxyOptions {
  bridge::ChildSpec child;
  int inFd = 0;                       // the client's messages
  int outFd = 1;                      // to the client: protocol bytes only
  audit::AuditSink* audit = nullptr;  // may be null
  watch::DriftWatch* drift = nullptr; // may be null
  metrics::McpMetrics* mcp = nullptr; // may be null
  size_t highWater = 1 << 20;         // bytes queued toward one side before the other is paused
  size_t maxLine = 16 << 20;          // longest client message accepted
  // Ask the server for its tools itself after the client's notifications/initialized, and again
  // on notifications/tools/list_changed (needs `drift`), so drift is checked even when the client
  // does not list tools. The answers are not forwarded.
  bool ownToolsList = true;
  uint64_t flushTimeoutMs = 5000; // how long the end waits for the client to read our stdout
  // What the -31007 answer tells the operator to do (the `detail` of its error data).
  std::string driftHint = "an operator must review it and accept it";
  // Gated tools, usage counts and execution status (app::AimPolicy over AIM). May be null: no
  // tool is gated, nothing is counted. Used on the loop's thread only; its approval callbacks may
  // run on any thread.
  proxy::CallPolicy* policy = nullptr;
  // Each complete tools list of the server (the client's or the proxy's own): the tool names.
  // Runs on the loop (AIM registration waits for them).
  std::function<void(const std::vector<std::string>&)> onTools;
  // At most this many gated calls wait for AIM at once; more are refused (-31003).
  size_t maxHeld = 1024;
};

class StdioProxy {
public:
  // Runs once, after everything is closed, with the exit code.
  std::function<void(int exitCode)> onDone;

  StdioProxy(uv_loop_t* loop, StdioProxyOptions options);
  ~StdioProxy();
  StdioProxy(const StdioProxy&) = delete;
  StdioProxy& operator=(const StdioProxy&) = delete;

  // Opens stdin and stdout and starts the child. False with `error` when one cannot be used; the
  // loop then still has handles to close: run it until onDone.
  bool start(std::string& error);
  // As if the client had closed stdin (SIGTERM, SIGINT). Idempotent.
  void shutdown(std::string_view why);

  pid_t childPid() const { return child_ ? child_->pid() : 0; }

private:
  static void onAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void onStdin(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);
  static void onStdoutWritten(uv_write_t* req, int status);
  static void onTimer(uv_timer_t* t);

  // A gated call waiting for AIM.
  struct Held {
    std::string line;  // the request as the client sent it
    std::string rpcId; // its JSON-RPC id's text (notifications/cancelled names it)
    std::string tool;
    uint64_t approvalId = 0; // CallPolicy's
    uint64_t startNs = 0;    // when it arrived
  };
  struct Decision {
    uint64_t token = 0; // the key of held_
    proxy::ApprovalOutcome outcome;
  };
  enum class DropWhy { ClientDone, ServerGone };

  void clientLine(std::string_view line);
  void serverLine(std::string_view line);
  void toClient(std::string_view line);
  // Writes a request of the client to the child and tracks its answer; answers it itself (-31004)
  // when the child cannot take it. `startNs`: when it arrived.
  void forwardRequest(const mcp::MessageInfo& m, std::string_view line, uint64_t startNs,
                      std::string verificationId);
  // Answers a request of the client itself, without forwarding it: the error answer, a `rejected`
  // audit record with `auditReason`, and a "rejected" observation.
  void refuse(const mcp::MessageInfo& m, std::string_view line, int code, std::string_view message,
              std::string_view reason, std::string_view detail, std::string_view auditReason,
              uint64_t startNs);
  // The "rejected" observation and audit record of a request the proxy did not forward;
  // `bytesOut`: the size of its answer (0: none, a cancelled call).
  void recordRefusal(const mcp::MessageInfo& m, std::string_view line, std::string_view auditReason,
                     uint64_t startNs, size_t bytesOut);
  // A tools/call of a gated tool: asks for approval and holds it (or refuses it at once).
  void hold(const mcp::MessageInfo& m, std::string_view line);
  void onDecisions(std::vector<Decision>& batch);
  // The client cancelled the held call with this JSON-RPC id (notifications/cancelled): it is
  // dropped without an answer, as MCP wants. False when no held call has that id.
  bool cancelHeld(std::string_view requestId);
  // Cancels every held call at the policy and answers it.
  void dropHeld(DropWhy why);
  void askTools(const std::string& cursor);
  void recordExchange(Exchange e);
  void stdinEnded(std::string_view why);
  void pauseStdin();
  void resumeStdin();
  void maybeStopChild();
  void childGone();
  void maybeFinish();
  void closeAll();
  uint64_t nowNs() const;
  size_t stdoutQueued() const;

  uv_loop_t* loop_;
  StdioProxyOptions opt_;
  std::unique_ptr<bridge::ChildProcess> child_;
  uv_pipe_t in_{}, out_{};
  uv_timer_t timer_{};
  int openHandles_ = 0;
  LineSplitter splitter_;
  ExchangeTracker tracker_;
  ToolListFeed clientTools_; // the client's tools/list answers
  ToolListFeed ownTools_;    // the proxy's own
  std::map<uint64_t, Held> held_;
  uint64_t nextHeld_ = 0;
  // Shared with every approval callback: see the header comment.
  std::shared_ptr<bridge::Mailbox<Decision>> decisions_;

  bool stdinOpen_ = false;
  bool stdinPaused_ = false;
  bool stdinDone_ = false;   // EOF, error, or shutdown()
  bool stopAsked_ = false;   // the child has been told to stop
  bool childExited_ = false; // the leader exited
  bool childGone_ = false;   // ChildProcess::onGone ran
  bool stdoutBroken_ = false;
  bool finishing_ = false;
  bool flushTimedOut_ = false;
  bool done_ = false;
  bool serverHasTools_ = false;
  int exitCode_ = 0;
  uint64_t ownListSeq_ = 0;
  std::string ownListId_;     // the id of the proxy's own tools/list in flight (JSON text)
  bool ownListLater_ = false; // it asks for a later page
  char readBuf_[64 * 1024];
};

} // namespace sidecar::stdio_proxy
