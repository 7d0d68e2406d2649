#pragma once
// The stdio bridge: the sidecar as an MCP Streamable HTTP server in front of a stdio MCP server
// it starts itself (docs/stdio-bridge.md).
//
// Workers parse, check and verify HTTP requests on their own threads, then hand each MCP request
// to the bridge (`submit`), which runs on a thread and loop of its own: it owns the child
// process(es), the sessions and the id maps, so none of them needs a lock. Answers go back to the
// worker's mailbox, addressed by the token the worker chose; a worker whose connection has gone
// drops them (and tells the bridge with `Op::Cancel`).
//
// Default: one child shared by all sessions. The child sees one `initialize` (the bridge's own);
// later sessions get the cached result. Request ids and progress tokens are rewritten to numbers
// unique within the child and mapped back byte for byte. Server-to-client requests and
// notifications not tied to a request go to the one session with calls in flight; when several
// sessions have calls in flight a server request cannot be attributed and is refused to the child
// (use --child-per-session for servers that call back during concurrent sessions).

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bridge/mailbox.h"
#include "mcp/message_scan.h"

namespace sidecar::metrics {
struct ProcessState;
class McpMetrics;
} // namespace sidecar::metrics
namespace sidecar::audit {
class AuditSink;
}
namespace sidecar::watch {
class DriftWatch;
}
namespace sidecar::drift {
class DriftDetector;
}

namespace sidecar::bridge {

// One answer part toward a worker's connection.
struct Reply {
  enum class Kind {
    Full,  // a complete response: status, headers, body
    Head,  // the head of a streamed (SSE) response
    Event, // one SSE event, already framed
    End    // the streamed response is complete
  };
  uint64_t token = 0;
  Kind kind = Kind::Full;
  int status = 200;
  std::string headers; // extra header lines, each ending in \r\n (Content-Type included)
  std::string body;
};
using ReplyBox = Mailbox<Reply>;

// One HTTP request for the bridge, already checked by the worker (Origin, Host, signature,
// Accept, Content-Type) and, for POST, scanned.
struct Call {
  enum class Op { Post, Get, Delete, Cancel, Drain, Stop, AcceptDrift };
  Op op = Op::Post;
  ReplyBox* reply = nullptr;
  uint64_t token = 0;
  std::string session;         // Mcp-Session-Id, empty when absent
  std::string protocolVersion; // MCP-Protocol-Version, empty when absent
  std::string body;            // POST
  mcp::MessageInfo info;       // POST: scanned by the worker
  std::string caller;          // the verified key id, for logs
};

struct BridgeOptions {
  std::string name;                 // the server's name in logs
  std::vector<std::string> command; // argv
  std::vector<std::string> env;     // KEY=VALUE, complete
  std::string cwd;
  bool childPerSession = false;
  unsigned maxChildren = 16;
  uint64_t idleTimeoutMs = 600000;    // sessions (and their children) without traffic
  uint64_t requestTimeoutMs = 300000; // a request the child does not answer
  uint64_t maxQueuedBytes = 64 << 20; // unread bytes toward a child before calls are refused
  // Where each answered request is recorded (both optional). The bridge's thread appends to the
  // audit trail and blocks while its queue is full: back-pressure, never a dropped record.
  audit::AuditSink* audit = nullptr;
  metrics::McpMetrics* mcp = nullptr;
  // Tool-definition drift (docs/drift.md): fed by the bridge's own tools/list (and resources/list,
  // prompts/list), used on the bridge's thread only.
  watch::DriftWatch* drift = nullptr;
  // What the server says of itself, for the capabilities document (both optional; called on the
  // bridge's thread): its InitializeResult (JSON text) after each initialize, and the whole tool
  // list (a JSON array, every page merged) after each of the bridge's own tools/list.
  std::function<void(const std::string& initializeResult)> onInitialized;
  std::function<void(const std::string& toolsArray)> onTools;
  // Likewise the resources and prompts (resources/list, prompts/list: every page merged), when
  // the server declares them; asked after initialize and after their list_changed.
  std::function<void(const std::string& resourcesArray)> onResources;
  std::function<void(const std::string& promptsArray)> onPrompts;
};

class Bridge {
public:
  Bridge(BridgeOptions opt, metrics::ProcessState& process);
  ~Bridge();
  Bridge(const Bridge&) = delete;
  Bridge& operator=(const Bridge&) = delete;

  // Starts the thread (and, for a shared child, the child). False with `error` when the thread
  // or the first spawn fails.
  bool start(std::string& error);
  // Thread-safe. Stops the child(ren) with the MCP shutdown sequence and ends every stream.
  void stop();
  void join();

  // Thread-safe.
  void submit(Call&& call);
  // Thread-safe: ends every GET stream and refuses new sessions, so that the workers can drain;
  // calls in flight are still answered.
  void drain();
  // Thread-safe: the current tool definitions become the drift baseline (admin POST
  // /drift/accept); done on the bridge's thread.
  void acceptDrift();
  // Thread-safe: the drift state as JSON (docs/drift.md), "null" without drift detection.
  std::string driftStatus() const;
  // A token unique across workers.
  uint64_t newToken() { return nextToken_.fetch_add(1, std::memory_order_relaxed); }

  struct Impl;

private:
  std::unique_ptr<Impl> impl_;
  std::atomic<uint64_t> nextToken_{1};
};

// The environment a child gets: the variables it needs to run (PATH, HOME, locale, TLS and proxy
// settings, npm's configuration) taken from `parent`, then `extra` (KEY=VALUE) on top.
std::vector<std::string> childEnvironment(char** parent, const std::vector<std::string>& extra);

} // namespace sidecar::bridge
