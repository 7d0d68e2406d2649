#pragma once
// Streaming HTTP(S) transfers for `mcp-sidecar connect`, on libcurl's multi interface driven by
// one thread.
//
// Why multi on one thread rather than easy handles on threads: an MCP session has any number of
// exchanges open at once (a long tools/call, the GET stream that may stay open for hours, the
// client's answers to server requests, pings), and none may wait behind another. The multi
// interface keeps them all in flight on one thread without a thread per request; the session's
// state (session id, protocol version, requests in flight) is then owned by that one thread and
// needs no locks; and cancelling a transfer on shutdown is removing its handle, where a blocked
// curl_easy_perform() on another thread could not be interrupted. Other threads hand work over
// with post(), which wakes the loop (curl_multi_wakeup).
//
// TLS: peer and host name are always verified; `caFile` replaces the system store.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sidecar::connect {

struct HttpRequest {
  std::string method = "GET"; // GET, POST or DELETE
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body; // sent for POST (Content-Type is the caller's header)
  // 0 = none: a tools/call may run for minutes and the GET stream for hours.
  std::chrono::milliseconds timeout{0};
};

struct HttpHead {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers; // names lower case, values trimmed

  // The value of the first header `lowerName`; "" when absent.
  std::string header(std::string_view lowerName) const;
  // How many times header `lowerName` appears.
  size_t count(std::string_view lowerName) const;
};

// Callbacks of one transfer, all run on the engine's thread, never inline in start().
struct HttpHandlers {
  // The final response head (1xx heads are skipped). Return false to abort the transfer.
  std::function<bool(const HttpHead&)> onHead;
  // A piece of the body as it arrives (transfer coding removed). Return false to abort.
  std::function<bool(std::string_view)> onBody;
  // Exactly once, last: `error` is empty when the answer arrived whole, else what failed
  // ("aborted" when a callback returned false, "cancelled" after cancel(); kTlsErrorPrefix and
  // what to do when the TLS certificate was refused).
  std::function<void(const std::string& error)> onDone;
};

// How a transfer's error text begins when the server's TLS certificate (or the CA bundle) was the
// problem; the rest says what to do (--ca-file, the URL's host).
inline constexpr std::string_view kTlsErrorPrefix = "TLS: ";
inline bool isTlsError(std::string_view error) {
  return error.substr(0, kTlsErrorPrefix.size()) == kTlsErrorPrefix;
}

struct HttpOptions {
  std::string caFile; // "" = the system store
  std::chrono::milliseconds connectTimeout{10000};
  std::string userAgent = "mcp-sidecar-connect";
};

class HttpEngine;
using HttpEnginePtr = std::unique_ptr<HttpEngine>;

class HttpEngine {
public:
  using TransferId = uint64_t;

  // Errors: libcurl cannot be initialised, or `caFile` cannot be read.
  static Result<HttpEnginePtr> create(HttpOptions options);
  // Transfers still running are dropped without their onDone.
  ~HttpEngine();
  HttpEngine(const HttpEngine&) = delete;
  HttpEngine& operator=(const HttpEngine&) = delete;

  // Engine thread (or before run()). The transfer starts on the loop's next turn.
  TransferId start(HttpRequest request, HttpHandlers handlers);
  // Engine thread. Stops a transfer; its onDone runs with "cancelled" on the loop's next turn.
  // No-op for a finished or unknown id.
  void cancel(TransferId id);
  // Engine thread. Runs `fn` on the loop after `delay`.
  void runAfter(std::chrono::milliseconds delay, std::function<void()> fn);

  // Any thread. Runs `fn` on the engine's thread, in posting order.
  void post(std::function<void()> fn);

  // Runs the loop on the calling thread (which becomes the engine's thread) until stop(). May
  // be called again after it returned.
  void run();
  // Engine thread: run() returns after the current turn. Transfers are left as they are.
  void stop() { stopped_ = true; }

  // Engine thread: transfers started and not yet done.
  size_t active() const { return transfers_.size() + toStart_.size(); }

private:
  struct Transfer;
  explicit HttpEngine(HttpOptions options);
  void addPending();
  void finish(Transfer& t, const std::string& error);
  void collectDone();

  HttpOptions options_;
  void* multi_ = nullptr; // CURLM*
  TransferId nextId_ = 1;
  std::map<TransferId, std::unique_ptr<Transfer>> transfers_;
  std::vector<std::unique_ptr<Transfer>> toStart_;
  std::vector<TransferId> toCancel_;
  std::multimap<std::chrono::steady_clock::time_point, std::function<void()>> timers_;
  bool stopped_ = false;

  std::mutex postedMutex_;
  std::deque<std::function<void()>> posted_;
};

} // namespace sidecar::connect
