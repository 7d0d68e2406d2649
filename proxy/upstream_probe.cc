#include "proxy/upstream_probe.h"

#include <cstring>

namespace sidecar::proxy {

struct UpstreamProbe::Attempt {
  UpstreamProbe* probe;
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_connect_t connect;
  uv_write_t write;
  std::string received;
  int open = 2;
  bool done = false;
};

UpstreamProbe::UpstreamProbe(uv_loop_t* loop, const sockaddr_storage& addr, std::string authority,
                             std::string path, metrics::ProcessState& state, uint64_t intervalMs,
                             uint64_t timeoutMs)
    : loop_(loop), addr_(addr), state_(state), intervalMs_(intervalMs), timeoutMs_(timeoutMs) {
  request_ = "GET " + path + " HTTP/1.1\r\nHost: " + authority +
             "\r\nAccept: application/json, text/event-stream\r\nUser-Agent: mcp-sidecar-probe"
             "\r\nConnection: close\r\n\r\n";
  uv_timer_init(loop_, &tick_);
  tick_.data = this;
}

UpstreamProbe::~UpstreamProbe() = default;

void UpstreamProbe::start() {
  uv_timer_start(&tick_, onTick, 0, intervalMs_);
}

void UpstreamProbe::stop() {
  if (stopped_)
    return;
  stopped_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
  if (current_)
    finish(current_, last_ == 1, "stopping");
}

void UpstreamProbe::onTick(uv_timer_t* t) {
  auto* p = static_cast<UpstreamProbe*>(t->data);
  if (!p->current_)
    p->probe();
}

void UpstreamProbe::probe() {
  auto* a = new Attempt{};
  a->probe = this;
  current_ = a;
  uv_tcp_init(loop_, &a->tcp);
  uv_timer_init(loop_, &a->timer);
  a->tcp.data = a->timer.data = a->connect.data = a->write.data = a;
  uv_timer_start(
      &a->timer,
      [](uv_timer_t* t) {
        auto* at = static_cast<Attempt*>(t->data);
        at->probe->finish(at, false, "no answer within the probe timeout");
      },
      timeoutMs_, 0);
  int rc = uv_tcp_connect(
      &a->connect, &a->tcp, reinterpret_cast<const sockaddr*>(&addr_), [](uv_connect_t* c, int st) {
        auto* at = static_cast<Attempt*>(c->data);
        if (at->done)
          return;
        if (st != 0) {
          at->probe->finish(at, false, std::string("connect: ") + uv_strerror(st));
          return;
        }
        uv_buf_t b = uv_buf_init(at->probe->request_.data(),
                                 static_cast<unsigned>(at->probe->request_.size()));
        uv_write(&at->write, reinterpret_cast<uv_stream_t*>(&at->tcp), &b, 1,
                 [](uv_write_t*, int) {});
        uv_read_start(
            reinterpret_cast<uv_stream_t*>(&at->tcp),
            [](uv_handle_t*, size_t, uv_buf_t* buf) {
              static char space[4096];
              *buf = uv_buf_init(space, sizeof space);
            },
            [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
              auto* at2 = static_cast<Attempt*>(s->data);
              if (at2->done)
                return;
              if (n < 0) {
                at2->probe->finish(at2, false, "connection closed before a status line");
                return;
              }
              at2->received.append(buf->base, static_cast<size_t>(n));
              if (at2->received.size() >= 12) {
                bool ok = at2->received.compare(0, 7, "HTTP/1.") == 0;
                at2->probe->finish(at2, ok, ok ? "" : "the answer is not HTTP");
              }
            });
      });
  if (rc != 0)
    finish(a, false, std::string("connect: ") + uv_strerror(rc));
}

void UpstreamProbe::finish(Attempt* a, bool up, const std::string& why) {
  if (a->done)
    return;
  a->done = true;
  if (current_ == a)
    current_ = nullptr;
  uv_timer_stop(&a->timer);
  auto closeCb = [](uv_handle_t* h) {
    auto* at = static_cast<Attempt*>(h->data);
    if (--at->open == 0)
      delete at;
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&a->timer), closeCb);
  uv_close(reinterpret_cast<uv_handle_t*>(&a->tcp), closeCb);
  if (stopped_ && why == "stopping")
    return;
  state_.upstreamUp.store(up ? 1 : 0, std::memory_order_relaxed);
  int now = up ? 1 : 0;
  if (now != last_) {
    last_ = now;
    if (onChange)
      onChange(up, why);
  }
}

} // namespace sidecar::proxy
