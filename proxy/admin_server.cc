#include "proxy/admin_server.h"

#include <unistd.h>

#include "proxy/http_util.h"

namespace sidecar::proxy {

class AdminServer::Conn {
public:
  Conn(AdminServer& server) : server_(server), parser_(&server.limits_) {
    uv_tcp_init(server_.loop_, &tcp_);
    tcp_.data = this;
    server_.conns_.insert(this);
  }

  void start(uv_stream_t* listener) {
    if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&tcp_)) != 0 ||
        uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), onAlloc, onRead) != 0)
      close();
  }

  void close() {
    if (closing_)
      return;
    closing_ = true;
    server_.conns_.erase(this);
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_),
             [](uv_handle_t* h) { delete static_cast<Conn*>(h->data); });
  }

private:
  struct Write {
    uv_write_t req;
    std::string bytes;
    Conn* conn;
    bool closeAfter;
  };

  static void onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
    auto* c = static_cast<Conn*>(h->data);
    *buf = uv_buf_init(c->buf_, sizeof c->buf_);
  }

  static void onRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
    auto* c = static_cast<Conn*>(s->data);
    if (n < 0) {
      c->close();
      return;
    }
    const char* p = buf->base;
    size_t len = static_cast<size_t>(n);
    while (len > 0 && !c->closing_) {
      size_t consumed = 0;
      auto st = c->parser_.feed(p, len, consumed);
      if (st == RequestParser::Status::NeedMore)
        return;
      if (st == RequestParser::Status::Error) {
        AdminResponse r{c->parser_.errorStatus(), "text/plain; charset=utf-8",
                        c->parser_.errorText() + "\n"};
        c->respond(r, true);
        return;
      }
      AdminResponse r = c->server_.handler_(c->parser_);
      bool keep = c->parser_.keepAlive();
      c->respond(r, !keep);
      c->parser_.reset();
      p += consumed;
      len -= consumed;
    }
  }

  void respond(const AdminResponse& r, bool closeAfter) {
    auto* w = new Write{};
    w->conn = this;
    w->closeAfter = closeAfter;
    std::string& o = w->bytes;
    o = "HTTP/1.1 ";
    appendUint(o, static_cast<uint64_t>(r.status));
    o += ' ';
    o += reasonPhrase(r.status);
    o += "\r\nContent-Type: " + r.contentType + "\r\nContent-Length: ";
    appendUint(o, r.body.size());
    o += "\r\nCache-Control: no-store\r\n";
    if (closeAfter)
      o += "Connection: close\r\n";
    o += "\r\n";
    o += r.body;
    w->req.data = w;
    uv_buf_t b = uv_buf_init(o.data(), static_cast<unsigned>(o.size()));
    if (uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_), &b, 1, onWrite) != 0) {
      delete w;
      close();
    }
  }

  static void onWrite(uv_write_t* req, int status) {
    auto* w = static_cast<Write*>(req->data);
    Conn* c = w->conn;
    bool closeAfter = w->closeAfter;
    delete w;
    if (status != 0 || closeAfter)
      c->close();
  }

  AdminServer& server_;
  uv_tcp_t tcp_;
  RequestParser parser_;
  bool closing_ = false;
  char buf_[16 << 10];
};

AdminServer::AdminServer(uv_loop_t* loop, int fd, Handler handler)
    : loop_(loop), fd_(fd), handler_(std::move(handler)) {
  limits_.maxBody = 1 << 20;
  limits_.maxHeaderBytes = 16 << 10;
}

bool AdminServer::start(std::string& error) {
  uv_tcp_init(loop_, &listener_);
  listener_.data = this;
  open_ = true;
  int rc = uv_tcp_open(&listener_, fd_);
  if (rc == 0)
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 128, onConnection);
  if (rc != 0) {
    error = std::string("admin listener: ") + uv_strerror(rc);
    return false;
  }
  return true;
}

void AdminServer::close() {
  if (!open_)
    return;
  open_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
  std::vector<Conn*> conns(conns_.begin(), conns_.end());
  for (Conn* c : conns)
    c->close();
}

void AdminServer::onConnection(uv_stream_t* server, int status) {
  auto* s = static_cast<AdminServer*>(server->data);
  if (status != 0)
    return;
  auto* c = new Conn(*s);
  c->start(server);
}

} // namespace sidecar::proxy
