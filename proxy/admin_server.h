#pragma once
// The admin listener (health, readiness, metrics, status): a small HTTP/1.1 server on its own
// port and on the main loop, never on the MCP port. Requests are answered by a handler.

#include <uv.h>

#include <functional>
#include <string>
#include <unordered_set>

#include "proxy/request_parser.h"

namespace sidecar::proxy {

struct AdminResponse {
  int status = 200;
  std::string contentType = "text/plain; charset=utf-8";
  std::string body;
};

class AdminServer {
public:
  using Handler = std::function<AdminResponse(const RequestParser& req)>;

  // `fd` is a bound socket; the server takes ownership. `handler` runs on `loop`'s thread.
  AdminServer(uv_loop_t* loop, int fd, Handler handler);
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Starts listening; false with `error` set on failure.
  bool start(std::string& error);
  // Stops listening and closes every connection; the object may be deleted after the loop ran.
  void close();

private:
  class Conn;
  static void onConnection(uv_stream_t* server, int status);

  uv_loop_t* loop_;
  int fd_;
  Handler handler_;
  uv_tcp_t listener_;
  bool open_ = false;
  ParserLimits limits_;
  std::unordered_set<Conn*> conns_;
};

} // namespace sidecar::proxy
