#pragma once
// Readiness probe: every interval, asks the upstream for `path` over a fresh connection and
// counts it up when any HTTP status line comes back within the timeout (an MCP server answers a
// bare GET of its endpoint with 400 or 405, which still proves it is serving). Runs on the
// main loop; the result goes to ProcessState::upstreamUp.

#include <sys/socket.h>
#include <uv.h>

#include <functional>
#include <string>

#include "metrics/metrics.h"

namespace sidecar::proxy {

class UpstreamProbe {
public:
  UpstreamProbe(uv_loop_t* loop, const sockaddr_storage& addr, std::string authority,
                std::string path, metrics::ProcessState& state, uint64_t intervalMs = 2000,
                uint64_t timeoutMs = 2000);
  UpstreamProbe(const UpstreamProbe&) = delete;
  UpstreamProbe& operator=(const UpstreamProbe&) = delete;
  ~UpstreamProbe();

  void start();
  // Stops probing; closes its handles (the object may be deleted once the loop ran them).
  void stop();
  // Called with every change of state (for logging).
  std::function<void(bool up, const std::string& why)> onChange;

private:
  struct Attempt;
  void probe();
  void finish(Attempt* a, bool up, const std::string& why);
  static void onTick(uv_timer_t* t);

  uv_loop_t* loop_;
  sockaddr_storage addr_;
  std::string request_;
  metrics::ProcessState& state_;
  uint64_t intervalMs_, timeoutMs_;
  uv_timer_t tick_;
  Attempt* current_ = nullptr;
  bool stopped_ = false;
  int last_ = -1;
};

} // namespace sidecar::proxy
