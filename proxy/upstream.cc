#include "proxy/upstream.h"

#include <algorithm>
#include <cassert>

namespace sidecar::proxy {

namespace {
UpstreamConn* selfOf(llhttp_t* p) {
  return static_cast<UpstreamConn*>(p->data);
}
} // namespace

// ---- UpstreamPool ----------------------------------------------------------------------------

UpstreamPool::UpstreamPool(uv_loop_t* loop, const sockaddr_storage& addr, PoolConfig config,
                           metrics::WorkerStats& stats, BufferPool& buffers)
    : loop_(loop), addr_(addr), config_(config), stats_(stats), buffers_(buffers) {}

UpstreamConn* UpstreamPool::acquire() {
  // LIFO: the most recently used connection is the least likely to have been closed by the
  // server's own keep-alive timer.
  if (!idle_.empty()) {
    UpstreamConn* c = idle_.back();
    idle_.pop_back();
    stats_.upstreamIdle.add(-1);
    c->state_ = UpstreamConn::State::Active;
    return c;
  }
  auto* c = new UpstreamConn(*this);
  stats_.upstreamConnects.inc();
  c->connect();
  return c;
}

void UpstreamPool::release(UpstreamConn* c) {
  if (closing_ || idle_.size() >= config_.maxIdle) {
    c->close();
    return;
  }
  c->state_ = UpstreamConn::State::Idle;
  idle_.push_back(c);
  stats_.upstreamIdle.add(1);
  c->armTimer(config_.keepaliveMs);
}

void UpstreamPool::forget(UpstreamConn* c) {
  auto it = std::find(idle_.begin(), idle_.end(), c);
  if (it == idle_.end())
    return;
  idle_.erase(it);
  stats_.upstreamIdle.add(-1);
}

void UpstreamPool::closeAll() {
  closing_ = true;
  std::vector<UpstreamConn*> idle;
  idle.swap(idle_);
  stats_.upstreamIdle.add(-static_cast<int64_t>(idle.size()));
  for (UpstreamConn* c : idle)
    c->close();
}

// ---- UpstreamConn ------------------------------------------------------------------------------

const llhttp_settings_t* UpstreamConn::settings() {
  static const llhttp_settings_t s = [] {
    llhttp_settings_t v;
    llhttp_settings_init(&v);
    v.on_status = onStatus;
    v.on_header_field = onHeaderField;
    v.on_header_field_complete = onHeaderFieldComplete;
    v.on_header_value = onHeaderValue;
    v.on_header_value_complete = onHeaderValueComplete;
    v.on_headers_complete = onHeadersComplete;
    v.on_body = onBody;
    v.on_message_complete = onMessageComplete;
    return v;
  }();
  return &s;
}

UpstreamConn::UpstreamConn(UpstreamPool& pool) : pool_(pool) {
  uv_tcp_init(pool_.loop_, &tcp_);
  tcp_.data = this;
  timer_.init(pool_.loop_, this, onTimer);
  openHandles_ = 2;
  connectReq_.data = this;
  writeReq_.data = this;
}

bool UpstreamConn::connect() {
  state_ = State::Connecting;
  int rc = uv_tcp_connect(&connectReq_, &tcp_, reinterpret_cast<const sockaddr*>(&pool_.addr_),
                          onConnect);
  if (rc != 0) {
    // No callback will run: report the failure when the request is started (next loop turn is
    // not needed; start() checks the state).
    state_ = State::Closing;
    close();
    return false;
  }
  armTimer(pool_.config_.connectTimeoutMs);
  return true;
}

void UpstreamConn::start(UpstreamSink* sink, std::string_view head, std::string_view body,
                         bool noBody) {
  sink_ = sink;
  head_ = head;
  body_ = body;
  noBody_ = noBody;
  ++useCount_;
  responseStarted_ = complete_ = informational_ = false;
  reason_.clear();
  headers_.clear();
  llhttp_init(&parser_, HTTP_RESPONSE, settings());
  parser_.data = this;
  if (state_ == State::Closing) {
    // connect() could not even start (e.g. no file descriptors left).
    UpstreamSink* s = sink_;
    sink_ = nullptr;
    s->onUpstreamError(metrics::UpstreamError::ConnectFailed, false, false);
    return;
  }
  if (state_ == State::Connecting) {
    sendWhenConnected_ = true;
    return;
  }
  state_ = State::Active;
  writeRequest();
}

void UpstreamConn::writeRequest() {
  uv_buf_t bufs[2] = {
      uv_buf_init(const_cast<char*>(head_.data()), static_cast<unsigned>(head_.size())),
      uv_buf_init(const_cast<char*>(body_.data()), static_cast<unsigned>(body_.size()))};
  int rc = uv_write(&writeReq_, reinterpret_cast<uv_stream_t*>(&tcp_), bufs, body_.empty() ? 1 : 2,
                    onWrite);
  if (rc != 0) {
    fail(metrics::UpstreamError::Reset);
    return;
  }
  writePending_ = true;
  armTimer(pool_.config_.responseTimeoutMs);
  if (!reading_)
    startReading();
}

void UpstreamConn::startReading() {
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), onAlloc, onRead) == 0)
    reading_ = true;
}

void UpstreamConn::armTimer(uint64_t ms) {
  timer_.arm(ms);
}

void UpstreamConn::abort() {
  sink_ = nullptr;
  close();
}

void UpstreamConn::pauseReading() {
  if (paused_ || state_ != State::Active)
    return;
  paused_ = true;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  reading_ = false;
}

void UpstreamConn::resumeReading() {
  if (!paused_ || state_ != State::Active)
    return;
  paused_ = false;
  startReading();
}

void UpstreamConn::close() {
  if (closeStarted_)
    return;
  closeStarted_ = true;
  pool_.forget(this);
  state_ = State::Closing;
  sink_ = nullptr;
  timer_.close(onClose);
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), onClose);
}

void UpstreamConn::onClose(uv_handle_t* h) {
  auto* c = static_cast<UpstreamConn*>(h->data);
  if (--c->openHandles_ > 0)
    return;
  if (c->rbuf_)
    BufferPool::unref(c->rbuf_);
  delete c;
}

void UpstreamConn::fail(metrics::UpstreamError kind) {
  pool_.stats_.upstreamErrors[static_cast<size_t>(kind)].inc();
  UpstreamSink* s = sink_;
  bool started = responseStarted_, wasReused = reused();
  close();
  if (s)
    s->onUpstreamError(kind, started, wasReused);
}

void UpstreamConn::finishResponse(bool reusable) {
  UpstreamSink* s = sink_;
  sink_ = nullptr;
  timer_.disarm();
  // A connection is reused only when the request was fully written, the response is complete,
  // and the server allows keep-alive.
  if (reusable && !writePending_) {
    paused_ = false;
    if (!reading_)
      startReading(); // an idle connection keeps reading to notice the server's close
    pool_.release(this);
  } else {
    close();
  }
  if (s)
    s->onUpstreamComplete();
}

void UpstreamConn::onConnect(uv_connect_t* req, int status) {
  auto* c = static_cast<UpstreamConn*>(req->data);
  if (c->state_ == State::Closing)
    return;
  if (status != 0) {
    c->fail(metrics::UpstreamError::ConnectFailed);
    return;
  }
  uv_tcp_nodelay(&c->tcp_, 1);
  c->state_ = State::Active;
  if (c->sendWhenConnected_) {
    c->sendWhenConnected_ = false;
    c->writeRequest();
  }
}

void UpstreamConn::onWrite(uv_write_t* req, int status) {
  auto* c = static_cast<UpstreamConn*>(req->data);
  c->writePending_ = false;
  if (c->state_ == State::Closing)
    return;
  if (status != 0) {
    c->fail(metrics::UpstreamError::Reset);
    return;
  }
  // An answer that completed before the request was fully written has already closed the
  // connection (finishResponse() reuses only connections whose request went out whole).
}

void UpstreamConn::onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* c = static_cast<UpstreamConn*>(h->data);
  if (!c->rbuf_)
    c->rbuf_ = c->pool_.buffers_.take();
  *buf = uv_buf_init(c->rbuf_->data, ReadBuffer::kSize);
}

void UpstreamConn::onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t*) {
  auto* c = static_cast<UpstreamConn*>(s->data);
  if (nread == 0)
    return;
  if (c->state_ == State::Closing)
    return;
  if (c->state_ == State::Idle) {
    // Data or EOF on an idle connection: the server closed it (or misbehaves). Drop it.
    c->close();
    return;
  }
  if (nread < 0) {
    if (nread == UV_EOF && c->responseStarted_ && llhttp_message_needs_eof(&c->parser_)) {
      llhttp_finish(&c->parser_);
      if (c->complete_) {
        if (c->sink_)
          c->sink_->onUpstreamReadEnd();
        c->finishResponse(false);
        return;
      }
    }
    c->fail(metrics::UpstreamError::Reset);
    return;
  }
  c->responseStarted_ = true;
  const char* base = c->rbuf_->data;
  llhttp_errno_t err = llhttp_execute(&c->parser_, base, static_cast<size_t>(nread));
  bool trailing =
      err == HPE_PAUSED && c->complete_ && llhttp_get_error_pos(&c->parser_) != base + nread;
  if (c->state_ == State::Closing)
    return; // the sink aborted during a callback
  if (c->sink_)
    c->sink_->onUpstreamReadEnd();
  if (c->state_ == State::Closing)
    return;
  // Keep the buffer only if no pending client write references it.
  if (c->rbuf_ && c->rbuf_->refs > 1) {
    BufferPool::unref(c->rbuf_);
    c->rbuf_ = nullptr;
  }
  if (err == HPE_PAUSED && c->complete_) {
    // Bytes after the response on a connection with one request in flight: the server is
    // confused; do not reuse the connection.
    c->finishResponse(!trailing && llhttp_should_keep_alive(&c->parser_));
    return;
  }
  if (err != HPE_OK)
    c->fail(metrics::UpstreamError::BadResponse);
}

void UpstreamConn::onTimer(void* self) {
  auto* c = static_cast<UpstreamConn*>(self);
  switch (c->state_) {
  case State::Idle:
    c->close();
    break;
  case State::Connecting:
    c->fail(metrics::UpstreamError::ConnectFailed);
    break;
  case State::Active:
    c->fail(metrics::UpstreamError::Timeout);
    break;
  case State::Closing:
    break;
  }
}

int UpstreamConn::onStatus(llhttp_t* p, const char* at, size_t len) {
  UpstreamConn* c = selfOf(p);
  if (c->reason_.size() + len > 1024)
    return -1; // absurd reason phrase
  c->reason_.append(at, len);
  return 0;
}

// A response head over 256 KiB is refused (502): no MCP server sends one, and it bounds memory.
constexpr size_t kMaxResponseHead = 256 << 10;

int UpstreamConn::onHeaderField(llhttp_t* p, const char* at, size_t len) {
  UpstreamConn* c = selfOf(p);
  if (c->headers_.bytes() + len > kMaxResponseHead)
    return -1;
  c->headers_.fieldPiece(at, len);
  return 0;
}

int UpstreamConn::onHeaderFieldComplete(llhttp_t* p) {
  selfOf(p)->headers_.fieldDone();
  return 0;
}

int UpstreamConn::onHeaderValue(llhttp_t* p, const char* at, size_t len) {
  UpstreamConn* c = selfOf(p);
  if (c->headers_.bytes() + len > kMaxResponseHead)
    return -1;
  c->headers_.valuePiece(at, len);
  return 0;
}

int UpstreamConn::onHeaderValueComplete(llhttp_t* p) {
  selfOf(p)->headers_.valueDone();
  return 0;
}

int UpstreamConn::onHeadersComplete(llhttp_t* p) {
  UpstreamConn* c = selfOf(p);
  if (p->status_code >= 100 && p->status_code < 200 && p->status_code != 101) {
    // Interim response (100 Continue, 103 Early Hints): not forwarded; the final one follows.
    c->informational_ = true;
    return 0;
  }
  c->timer_.disarm(); // the response has begun: a streaming answer may run on
  ResponseHead& head = c->resp_;
  head.headers.clear();
  head.status = p->status_code;
  head.reason = c->reason_;
  for (size_t i = 0; i < c->headers_.count(); ++i)
    head.headers.emplace_back(c->headers_.name(i), c->headers_.value(i));
  head.chunked = (p->flags & F_CHUNKED) != 0;
  head.hasLength = (p->flags & F_CONTENT_LENGTH) != 0;
  head.contentLength = head.hasLength ? p->content_length : 0;
  bool skipBody = c->noBody_;
  head.needsEof = !skipBody && llhttp_message_needs_eof(p);
  if (c->sink_)
    c->sink_->onUpstreamHead(head);
  if (c->state_ == State::Closing)
    return -1;
  return skipBody ? 1 : 0; // 1: a response to HEAD has no body whatever its headers say
}

int UpstreamConn::onBody(llhttp_t* p, const char* at, size_t len) {
  UpstreamConn* c = selfOf(p);
  if (c->sink_)
    c->sink_->onUpstreamBody(std::string_view(at, len), c->rbuf_);
  return c->state_ == State::Closing ? -1 : 0;
}

int UpstreamConn::onMessageComplete(llhttp_t* p) {
  UpstreamConn* c = selfOf(p);
  if (c->informational_) {
    c->informational_ = false;
    c->headers_.clear();
    c->reason_.clear();
    return 0;
  }
  c->complete_ = true;
  return HPE_PAUSED;
}

} // namespace sidecar::proxy
