#pragma once
// A worker: one thread, one libuv loop, its own listening socket on the shared MCP port
// (SO_REUSEPORT spreads connections over workers in the kernel), its own upstream pool and
// buffers. Nothing on the request path is shared between workers except the connection count.

#include <sys/socket.h>
#include <uv.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "audit/writer.h"
#include "bridge/bridge.h"
#include "common/log.h"
#include "config/serve_config.h"
#include "metrics/mcp_metrics.h"
#include "metrics/metrics.h"
#include "metrics/stats.h"
#include "proxy/buffer_pool.h"
#include "proxy/hooks.h"
#include "proxy/request_parser.h"
#include "proxy/signature_gate.h"
#include "proxy/upstream.h"
#include "proxy/write_batch.h"
#include "verifier/answer_signature.h"
#include "watch/drift_watch.h"

namespace sidecar::proxy {

class ClientConn;

// Read-only after start, or atomic: shared by all workers.
struct WorkerShared {
  const config::ServeConfig* cfg = nullptr;
  sockaddr_storage upstreamAddr{};
  std::string upstreamAuthority; // Host header toward the upstream
  ParserLimits limits;
  std::atomic<uint32_t> connections{0};
  metrics::ProcessState* process = nullptr;
  SignatureGate* gate = nullptr;     // null when --verify off
  bridge::Bridge* bridge = nullptr;  // the stdio bridge; null for an HTTP upstream
  audit::AuditSink* audit = nullptr; // rejected requests are recorded here
  metrics::McpMetrics* mcp = nullptr;
  bool observe = true; // --observe: per-call awareness of an HTTP upstream's exchanges
  // Signs the answers to signed requests (signing contract §6); null: answers go unsigned.
  const verifier::AnswerSigner* signer = nullptr;
  LocalEndpoints* local = nullptr; // the documents the sidecar serves itself (never forwarded)
  CallPolicy* policy = nullptr;    // gated tools, usage and revocation (AIM)
  // Tool-definition drift for an HTTP upstream (--drift-policy block refuses changed tools here;
  // the stdio bridge checks its own calls).
  watch::DriftWatch* drift = nullptr;
  // Asks the sidecar's own listing of an HTTP upstream to run now (a tools/list answer passed
  // through: what the server says of its tools is compared at once, not at the next period).
  // Any thread; repeated calls are merged. Empty: nothing to ask.
  std::function<void()> relist;
};

class Worker {
public:
  // `listenFd` is a bound (not yet listening) socket; the worker takes ownership.
  // `onFinished` runs on the worker's thread when it has stopped.
  Worker(unsigned index, WorkerShared& shared, int listenFd, std::function<void()> onFinished);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Starts the thread; false with `error` set when the listener cannot start.
  bool start(std::string& error);
  // Thread-safe: stop accepting, finish in-flight requests, then stop.
  void drain();
  // Thread-safe: close every connection now, then stop.
  void stop();
  void join();

  const metrics::WorkerStats& stats() const { return stats_; }

  // For the connections of this worker (worker thread only).
  uv_loop_t* loop() { return &loop_; }
  UpstreamPool& pool() { return pool_; }
  WriteBatchPool& batches() { return batches_; }
  metrics::WorkerStats& mutableStats() { return stats_; }
  const WorkerShared& shared() const { return shared_; }
  WorkerShared& sharedMutable() { return shared_; }
  bool draining() const { return draining_; }
  char* readBuffer() { return readBuffer_; }
  log::RateLimiter& warnLimiter() { return warnLimiter_; }
  // The current trust store (refreshed when the gate publishes a new one). Requires a gate.
  const verifier::TrustStore& trustStore();
  // The stdio bridge's answers reach connections through this worker's mailbox, by token.
  bridge::ReplyBox* replyBox() { return &replies_; }
  void bridgeAttach(uint64_t token, ClientConn* c) { bridged_[token] = c; }
  void bridgeDetach(uint64_t token) { bridged_.erase(token); }
  // Gated calls waiting for approval: the decision reaches the connection by token.
  struct Approval {
    uint64_t token = 0;
    ApprovalOutcome outcome;
  };
  bridge::Mailbox<Approval>* approvalBox() { return &approvals_; }
  uint64_t awaitApproval(ClientConn* c) {
    awaiting_[++approvalToken_] = c;
    return approvalToken_;
  }
  void stopAwaiting(uint64_t token) { awaiting_.erase(token); }
  void connectionOpened(ClientConn* c);
  void connectionClosed(ClientConn* c);

  static constexpr size_t kReadBufferSize = 64 * 1024;

private:
  void run();
  void beginDrain();
  void maybeFinish();
  static void onConnection(uv_stream_t* server, int status);
  static void onAsync(uv_async_t* a);
  void onReplies(std::vector<bridge::Reply>& replies);

  unsigned index_;
  WorkerShared& shared_;
  int listenFd_;
  std::function<void()> onFinished_;
  uv_loop_t loop_;
  uv_tcp_t listener_;
  uv_async_t async_;
  std::atomic<int> command_{0}; // 1 drain, 2 stop
  // Guards async_ against a send after the worker closed it (a drain timeout that fires after
  // this worker finished draining): uv_async_send on a closed handle is undefined.
  std::mutex asyncMu_;
  bool asyncOpen_ = false;
  bool draining_ = false;
  bool finishing_ = false;
  metrics::WorkerStats stats_;
  BufferPool buffers_;
  WriteBatchPool batches_;
  UpstreamPool pool_;
  std::unordered_set<ClientConn*> conns_;
  bridge::ReplyBox replies_;
  std::unordered_map<uint64_t, ClientConn*> bridged_;
  bridge::Mailbox<Approval> approvals_;
  std::unordered_map<uint64_t, ClientConn*> awaiting_;
  uint64_t approvalToken_ = 0;
  char readBuffer_[kReadBufferSize];
  log::RateLimiter warnLimiter_{20, 1000000000ull};
  std::thread thread_;
  std::shared_ptr<const verifier::TrustStore> store_;
  uint64_t storeGeneration_ = ~0ull;
};

} // namespace sidecar::proxy
