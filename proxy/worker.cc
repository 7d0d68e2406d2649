#include "proxy/worker.h"

#include <unistd.h>

#include "common/clock.h"
#include "proxy/client_conn.h"

namespace sidecar::proxy {

namespace {
PoolConfig poolConfig(const config::ServeConfig& cfg) {
  PoolConfig p;
  p.responseTimeoutMs = cfg.upstreamTimeoutMs;
  p.keepaliveMs = cfg.upstreamKeepaliveMs;
  p.maxIdle = cfg.upstreamMaxIdle;
  p.connectTimeoutMs = std::min<uint64_t>(cfg.upstreamTimeoutMs, 5000);
  return p;
}
} // namespace

Worker::Worker(unsigned index, WorkerShared& shared, int listenFd, std::function<void()> onFinished)
    : index_(index), shared_(shared), listenFd_(listenFd), onFinished_(std::move(onFinished)),
      pool_(&loop_, shared.upstreamAddr, poolConfig(*shared.cfg), stats_, buffers_) {
  uv_loop_init(&loop_);
}

Worker::~Worker() {
  join();
  if (listenFd_ >= 0)
    ::close(listenFd_);
}

bool Worker::start(std::string& error) {
  uv_tcp_init(&loop_, &listener_);
  listener_.data = this;
  uv_async_init(&loop_, &async_, onAsync);
  async_.data = this;
  {
    std::lock_guard lock(asyncMu_);
    asyncOpen_ = true;
  }
  if (shared_.bridge)
    replies_.open(&loop_, [this](std::vector<bridge::Reply>& r) { onReplies(r); });
  if (shared_.policy)
    approvals_.open(&loop_, [this](std::vector<Approval>& decided) {
      for (Approval& a : decided) {
        auto it = awaiting_.find(a.token);
        if (it == awaiting_.end())
          continue; // the connection went away and cancelled
        ClientConn* c = it->second;
        awaiting_.erase(it);
        c->onApproval(std::move(a.outcome));
      }
    });
  int rc = uv_tcp_open(&listener_, listenFd_);
  if (rc == 0) {
    listenFd_ = -1; // owned by the handle now
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 4096, onConnection);
  }
  if (rc != 0) {
    error = std::string("cannot listen: ") + uv_strerror(rc);
    {
      std::lock_guard lock(asyncMu_);
      asyncOpen_ = false;
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
    replies_.close();
    approvals_.close();
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
    return false;
  }
  thread_ = std::thread([this] { run(); });
  return true;
}

void Worker::run() {
  uv_run(&loop_, UV_RUN_DEFAULT);
  int rc = uv_loop_close(&loop_);
  if (rc != 0)
    log::error("worker loop closed with open handles", {{"worker", index_}});
  if (onFinished_)
    onFinished_();
}

void Worker::drain() {
  int expected = 0;
  command_.compare_exchange_strong(expected, 1);
  std::lock_guard lock(asyncMu_);
  if (asyncOpen_)
    uv_async_send(&async_);
}

void Worker::stop() {
  command_.store(2);
  std::lock_guard lock(asyncMu_);
  if (asyncOpen_)
    uv_async_send(&async_);
}

void Worker::join() {
  if (thread_.joinable())
    thread_.join();
}

void Worker::onAsync(uv_async_t* a) {
  auto* w = static_cast<Worker*>(a->data);
  int cmd = w->command_.load();
  if (cmd >= 1 && !w->draining_)
    w->beginDrain();
  if (cmd == 2) {
    std::vector<ClientConn*> conns(w->conns_.begin(), w->conns_.end());
    for (ClientConn* c : conns)
      c->close();
  }
  w->maybeFinish();
}

void Worker::beginDrain() {
  draining_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
  std::vector<ClientConn*> conns(conns_.begin(), conns_.end());
  for (ClientConn* c : conns)
    c->drain();
}

void Worker::maybeFinish() {
  if (!draining_ || finishing_ || !conns_.empty())
    return;
  finishing_ = true;
  pool_.closeAll();
  std::lock_guard lock(asyncMu_);
  asyncOpen_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
  replies_.close();
  approvals_.close();
  // The loop ends once the last upstream connection has closed.
}

const verifier::TrustStore& Worker::trustStore() {
  SignatureGate& gate = *shared_.gate;
  if (gate.generation() != storeGeneration_)
    store_ = gate.snapshot(storeGeneration_);
  return *store_;
}

void Worker::onReplies(std::vector<bridge::Reply>& replies) {
  for (bridge::Reply& r : replies) {
    auto it = bridged_.find(r.token);
    if (it == bridged_.end())
      continue; // the connection went away; the bridge has been told
    it->second->onBridgeReply(r);
  }
}

void Worker::connectionOpened(ClientConn* c) {
  conns_.insert(c);
  stats_.connectionsAccepted.inc();
  stats_.connectionsActive.add(1);
  shared_.connections.fetch_add(1, std::memory_order_relaxed);
}

void Worker::connectionClosed(ClientConn* c) {
  conns_.erase(c);
  stats_.connectionsActive.add(-1);
  shared_.connections.fetch_sub(1, std::memory_order_relaxed);
  maybeFinish();
}

void Worker::onConnection(uv_stream_t* server, int status) {
  auto* w = static_cast<Worker*>(server->data);
  if (status != 0) {
    uint64_t suppressed = 0;
    if (w->warnLimiter_.allow(monoNowNs(), suppressed))
      log::warn("accept failed", {{"error", uv_strerror(status)}});
    return;
  }
  // The count includes this connection once constructed.
  bool over =
      w->shared_.connections.load(std::memory_order_relaxed) >= w->shared_.cfg->maxConnections;
  auto* c = new ClientConn(*w);
  if (over)
    c->acceptAndRefuse(server);
  else
    c->accept(server);
}

} // namespace sidecar::proxy
