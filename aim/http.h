#pragma once
// Outbound HTTP(S) for the AIM client: a libcurl multi handle driven by one thread (the AIM
// worker), so that any number of requests are in flight without a thread each and nothing ever
// waits on the sidecar's request path.
//
// TLS certificates are always verified (peer and host name); `caFile` replaces the system store.
// Every transfer has a connect timeout and an overall timeout.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aim/wire.h"
#include "common/status.h"

namespace sidecar::aim {

struct HttpRequest {
  std::string method = "GET"; // GET or POST
  std::string url;
  HeaderList headers;
  std::string body; // POST only; an empty body is sent as Content-Length: 0
  // A new connection, closed afterwards. libcurl silently resends a request whose reused
  // connection died before any answer byte; for a request that must not be duplicated unseen,
  // that resend must not happen, and it cannot on a fresh connection.
  bool freshConnection = false;
};

struct HttpResponse {
  int status = 0; // 0: no HTTP answer, see `error`
  std::string body;
  std::map<std::string, std::string> headers; // names lower-cased; the last value of each
  std::string error;                          // the transport failure, when status is 0
  // False only when the request cannot have reached the server (no byte of it was sent:
  // connection refused, name not resolved, TLS handshake or certificate failure).
  bool maybeDelivered = true;

  // The header's value, "" when absent. `lowerName` is lower case.
  std::string header(std::string_view lowerName) const;
};

struct HttpOptions {
  std::string caFile; // "" = the system store
  std::chrono::milliseconds connectTimeout{5000};
  std::chrono::milliseconds requestTimeout{15000};
  size_t maxResponseBytes = 1 << 20; // a longer answer fails the transfer
  std::string userAgent = "mcp-sidecar";
};

class HttpClient;
using HttpClientPtr = std::unique_ptr<HttpClient>;

// All members but wakeup() belong to the thread that calls poll().
class HttpClient {
public:
  using Callback = std::function<void(HttpResponse)>;

  // Errors: libcurl cannot be initialised, or `caFile` is given but not readable.
  static Result<HttpClientPtr> create(HttpOptions options);
  // Aborts transfers still running; their callbacks do not run.
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Starts `request`. `done` runs later from poll(), never inline, exactly once (unless the
  // client is destroyed first), with the answer or the transport error.
  void start(HttpRequest request, Callback done);

  // Drives the transfers: waits up to `timeout` for network activity or wakeup(), then runs the
  // callbacks of the transfers that finished. Callbacks may call start().
  void poll(std::chrono::milliseconds timeout);

  // Makes a poll() in progress (or the next one) return at once. Any thread.
  void wakeup();

  size_t active() const;

private:
  struct Transfer;
  explicit HttpClient(HttpOptions options);

  HttpOptions options_;
  void* multi_ = nullptr; // CURLM*
  std::map<void*, std::unique_ptr<Transfer>> transfers_;
  // Requests that failed before reaching libcurl; reported by the next poll().
  std::vector<std::pair<Callback, HttpResponse>> pendingFailures_;
};

} // namespace sidecar::aim
