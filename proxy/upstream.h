#pragma once
// The upstream side of the proxy: HTTP/1.1 connections to the MCP server, parsed with llhttp, in a
// per-worker keep-alive pool. Everything here lives on one worker's loop.
//
// Lifetime: an UpstreamConn deletes itself in its close callback. A sink (the client connection)
// is attached for one exchange; the conn detaches it before any final callback
// (complete or error), so a sink is never called after it was told the exchange ended. A sink
// that goes away first calls abort().

#include <llhttp.h>
#include <sys/socket.h>
#include <uv.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "metrics/stats.h"
#include "proxy/buffer_pool.h"
#include "proxy/deadline_timer.h"
#include "proxy/header_collector.h"

namespace sidecar::proxy {

struct ResponseHead {
  int status = 0;
  std::string_view reason;
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  bool chunked = false;
  bool hasLength = false;
  uint64_t contentLength = 0;
  bool needsEof = false; // body ends when the upstream closes
};

class UpstreamSink {
public:
  virtual ~UpstreamSink() = default;
  // The final response's head (1xx responses are skipped). Views are valid during the call only.
  virtual void onUpstreamHead(const ResponseHead& head) = 0;
  // A piece of the (de-chunked) body; `data` lies inside `buf`, which the sink may ref to keep it.
  virtual void onUpstreamBody(std::string_view data, ReadBuffer* buf) = 0;
  // The end of one read from the upstream: a good moment to flush what was gathered.
  virtual void onUpstreamReadEnd() = 0;
  // The response is complete; the sink is already detached.
  virtual void onUpstreamComplete() = 0;
  // The exchange failed; the sink is already detached and the connection closing.
  // `responseStarted`: some response bytes had arrived. `reused`: the connection had served
  // an earlier request (a stale keep-alive connection may fail this way).
  virtual void onUpstreamError(metrics::UpstreamError kind, bool responseStarted, bool reused) = 0;
};

class UpstreamPool;

class UpstreamConn {
public:
  // Sends one request and streams its response to `sink`. `head` and `body` must stay valid until
  // the sink is told the exchange ended (or it calls abort()). `noBody`: the request was HEAD.
  void start(UpstreamSink* sink, std::string_view head, std::string_view body, bool noBody);
  // The client went away mid-exchange: the connection cannot be reused, so it is closed.
  void abort();
  // Flow control: stop/resume reading the response while the client is slow.
  void pauseReading();
  void resumeReading();
  bool reused() const { return useCount_ > 1; }

private:
  friend class UpstreamPool;
  enum class State { Connecting, Active, Idle, Closing };

  explicit UpstreamConn(UpstreamPool& pool);
  ~UpstreamConn() = default;
  bool connect();
  void close();
  void fail(metrics::UpstreamError kind);
  void finishResponse(bool reusable);
  void writeRequest();
  void startReading();
  void armTimer(uint64_t ms);

  static void onConnect(uv_connect_t* req, int status);
  static void onWrite(uv_write_t* req, int status);
  static void onAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void onTimer(void* self);
  static void onClose(uv_handle_t* h);

  static int onStatus(llhttp_t* p, const char* at, size_t len);
  static int onHeaderField(llhttp_t* p, const char* at, size_t len);
  static int onHeaderFieldComplete(llhttp_t* p);
  static int onHeaderValue(llhttp_t* p, const char* at, size_t len);
  static int onHeaderValueComplete(llhttp_t* p);
  static int onHeadersComplete(llhttp_t* p);
  static int onBody(llhttp_t* p, const char* at, size_t len);
  static int onMessageComplete(llhttp_t* p);
  static const llhttp_settings_t* settings();

  UpstreamPool& pool_;
  uv_tcp_t tcp_;
  DeadlineTimer timer_;
  uv_connect_t connectReq_;
  uv_write_t writeReq_;
  int openHandles_ = 0;
  bool closeStarted_ = false;
  State state_ = State::Connecting;
  bool reading_ = false;
  bool paused_ = false;
  bool writePending_ = false;
  bool sendWhenConnected_ = false;
  uint64_t useCount_ = 0;

  UpstreamSink* sink_ = nullptr;
  std::string_view head_, body_;
  bool noBody_ = false;

  llhttp_t parser_;
  bool responseStarted_ = false;
  bool complete_ = false;
  bool informational_ = false;
  HeaderCollector headers_;
  std::string reason_;
  ResponseHead resp_; // reused: its vector keeps its capacity
  ReadBuffer* rbuf_ = nullptr;
};

struct PoolConfig {
  uint64_t connectTimeoutMs = 5000;
  uint64_t responseTimeoutMs = 300000;
  uint64_t keepaliveMs = 4000;
  uint32_t maxIdle = 128;
};

class UpstreamPool {
public:
  UpstreamPool(uv_loop_t* loop, const sockaddr_storage& addr, PoolConfig config,
               metrics::WorkerStats& stats, BufferPool& buffers);
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  // An idle connection, or a new one that is connecting (a request started on it is sent once
  // connected). Never null: a connection that cannot start reports a connect error to its sink.
  UpstreamConn* acquire();
  // Closes idle connections and makes later releases close theirs (shutdown).
  void closeAll();
  size_t idleCount() const { return idle_.size(); }

private:
  friend class UpstreamConn;
  void release(UpstreamConn* c); // an exchange ended cleanly: keep for reuse
  void forget(UpstreamConn* c);  // closing: no longer idle

  uv_loop_t* loop_;
  sockaddr_storage addr_;
  PoolConfig config_;
  metrics::WorkerStats& stats_;
  BufferPool& buffers_;
  std::vector<UpstreamConn*> idle_;
  bool closing_ = false;
};

} // namespace sidecar::proxy
