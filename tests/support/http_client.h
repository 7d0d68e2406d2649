#pragma once
// Blocking HTTP/1.1 client for tests, IPv4 loopback only.
//
// RawConnection writes exactly the bytes a test gives it and parses responses strictly (CRLF line
// endings, no obsolete line folding, consistent Content-Length), so framing mistakes of the
// proxy show up as parse errors instead of being papered over. Every wait has a deadline: no call
// blocks longer than the timeout it is given.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sidecar::test {

// The factor from MCP_SIDECAR_TEST_TIMEOUT_SCALE (a positive number, default 1; sanitizer runs
// set 3). Read once.
double timeoutScale();
// `base` multiplied by timeoutScale().
std::chrono::milliseconds scaled(std::chrono::milliseconds base);

// Calls `condition` every 20 ms until it returns true (returns true) or `timeout` passes
// (returns false after one last call). `timeout` is used as given, not scaled.
bool waitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

// A port on 127.0.0.1 that was free a moment ago (bound to port 0, then released), for tests
// that need a connection-refused peer. Returns 0 if no socket could be bound.
uint16_t unusedLoopbackPort();

using Headers = std::vector<std::pair<std::string, std::string>>;

// Case-insensitive ASCII comparison, as header names compare (RFC 9110 §5.1).
bool equalsIgnoreCase(std::string_view a, std::string_view b);

struct Response {
  // How the body was delimited (RFC 9112 §6.3).
  enum class Framing { None, ContentLength, Chunked, UntilClose };

  std::string version; // "HTTP/1.1"
  int status = 0;
  std::string reason;
  Headers headers; // in arrival order, names as sent
  Headers trailers;
  std::string body;    // decoded (chunk framing removed)
  std::string rawBody; // as received, chunk framing and trailers included
  std::string rawHead; // status line through the empty line, as received
  Framing framing = Framing::None;
  // Set by request() when no response could be read (status is then 0).
  std::string error;

  // First value of header `name` (case-insensitive), or nullopt.
  std::optional<std::string> header(std::string_view name) const;
  // Every value of header `name`, in order.
  std::vector<std::string> headerValues(std::string_view name) const;
  bool hasHeader(std::string_view name) const { return header(name).has_value(); }
  // Head plus up to 2 KiB of body, for failure messages.
  std::string summary() const;
};

class RawConnection;
using RawConnectionPtr = std::unique_ptr<RawConnection>;

// One thread may send while another reads (a slow sender racing a response); two threads must
// not both read, or both send.
class RawConnection {
public:
  // Connects to 127.0.0.1:`port` (TCP_NODELAY on). Returns nullptr if the connection is refused
  // or not established within `timeout`; the reason goes to `*error` when given.
  static RawConnectionPtr connect(uint16_t port,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(5),
                                  std::string* error = nullptr);
  ~RawConnection();

  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // The socket, for setsockopt (e.g. a small SO_RCVBUF). It is non-blocking.
  int fd() const { return fd_; }

  // Writes all of `data`. Returns false (reason in lastError()) if the peer reset or closed the
  // connection, or the data could not be written within `timeout` (peer not reading).
  bool sendAll(std::string_view data, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Writes `data` one byte per segment, sleeping `perByte` between bytes. Returns as sendAll.
  bool sendSlowly(std::string_view data, std::chrono::milliseconds perByte);
  // Half-closes: sends FIN, keeps reading.
  void shutdownWrite();

  // Reads one whole response: head, then a body framed by Content-Length, chunked encoding
  // (decoded into body, also kept in rawBody) or the connection closing. `headRequest` says the
  // request was HEAD, so the response has no body whatever its headers say. 1xx responses are
  // returned as responses of their own. Bytes after the response stay buffered for the next
  // call (keep-alive, pipelining). Returns nullopt (reason in lastError()) on timeout, on a
  // close before the response is complete, or on malformed framing.
  std::optional<Response> readResponse(std::chrono::milliseconds timeout, bool headRequest = false);

  // Streaming: reads only the head; the body is then read with readBodySome()/readBodyRest().
  // Returns nullopt as readResponse(), or if the previous response's body is not finished.
  std::optional<Response> readResponseHead(std::chrono::milliseconds timeout,
                                           bool headRequest = false);
  // Returns the decoded body bytes available now, waiting up to `timeout` for at least one.
  // Returns "" on timeout, once the body is complete, or on error (lastError() non-empty).
  std::string readBodySome(std::chrono::milliseconds timeout);
  // Reads the rest of the current body. Returns nullopt on timeout or error.
  std::optional<std::string> readBodyRest(std::chrono::milliseconds timeout);
  // True once the body of the last response head read has been fully received.
  bool bodyComplete() const;

  // Waits up to `timeout` for the peer to close (FIN or RST); bytes arriving meanwhile stay
  // buffered. Returns true if it closed.
  bool waitClosed(std::chrono::milliseconds timeout);
  // Returns buffered bytes, or waits up to `timeout` for some; "" on timeout or close.
  std::string readRaw(std::chrono::milliseconds timeout);
  // Returns everything until the peer closes or `timeout` passes (then peerClosed() is false).
  std::string readUntilClose(std::chrono::milliseconds timeout);

  bool peerClosed() const { return eof_; }
  // True if the close was a reset (ECONNRESET) rather than a FIN.
  bool peerReset() const { return reset_; }
  size_t bufferedBytes() const { return in_.size(); }
  // Why the last failed call failed. Cleared at the start of each read; set by failed sends too.
  std::string lastError() const;

private:
  enum class ReadResult { Data, Closed, Timeout, Error };
  enum class DecodeResult { NeedMore, Done, Error };
  enum class ChunkState { Size, Data, DataEnd, Trailer, Done };

  struct BodyState {
    Response::Framing framing = Response::Framing::None;
    bool active = false; // a head was read and its body is not finished
    uint64_t remaining = 0;
    ChunkState chunk = ChunkState::Size;
  };

  explicit RawConnection(int fd) : fd_(fd) {}

  ReadResult readMore(std::chrono::steady_clock::time_point deadline);
  std::optional<Response> readHeadUntil(std::chrono::steady_clock::time_point deadline,
                                        bool headRequest);
  // Parses a complete head at the front of in_; returns false with error_ set on bad syntax.
  bool parseHead(size_t headLength, bool headRequest, Response& out);
  // Moves decodable body bytes from in_ to `decoded` (and `raw`, `trailers` when given).
  DecodeResult decodeBody(std::string& decoded, std::string* raw, Headers* trailers);
  // Reads until the body completes, appending into `out`.
  bool readBodyUntil(std::chrono::steady_clock::time_point deadline, Response& out);
  bool fail(std::string message);
  DecodeResult decodeFail(std::string message);
  void clearError();

  int fd_;
  std::string in_; // received and not yet consumed
  bool eof_ = false;
  bool reset_ = false;
  mutable std::mutex errorMutex_; // error_ is shared by the sending and the reading side
  std::string error_;
  BodyState body_;
};

// The headers of an MCP Streamable HTTP POST: JSON body, JSON or SSE answer; with a session, its
// id and protocol revision 2025-06-18.
inline Headers mcpHeaders(const std::string& session = "") {
  Headers h{{"Content-Type", "application/json"},
            {"Accept", "application/json, text/event-stream"}};
  if (!session.empty()) {
    h.emplace_back("Mcp-Session-Id", session);
    h.emplace_back("MCP-Protocol-Version", "2025-06-18");
  }
  return h;
}

// One request on a fresh connection: adds Host, Content-Length (when there is a body or the
// method is POST, PUT or PATCH) and Connection: close unless `headers` has them, then reads the
// response. On failure returns a Response with status 0 and `error` set.
Response request(uint16_t port, std::string method, std::string path, Headers headers = {},
                 std::string body = "",
                 std::chrono::milliseconds timeout = scaled(std::chrono::seconds(10)));

} // namespace sidecar::test
