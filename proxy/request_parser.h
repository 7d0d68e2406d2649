#pragma once
// Parses HTTP/1.1 requests from a client byte stream with llhttp, collecting the request line,
// headers and the whole body (the verifier needs every byte before anything is forwarded).
//
// Framing that could let a request be smuggled past the sidecar is refused (400): both
// Content-Length and Transfer-Encoding, conflicting or repeated Content-Length, a
// Transfer-Encoding whose last coding is not chunked, bad chunk sizes, and obsolete line folding
// (RFC 9112 §5.2, §6.1, §6.3, §7.1). llhttp in its default (non-lenient) mode does the first
// four; folding is detected here.

#include <llhttp.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/stats.h"
#include "proxy/header_collector.h"

namespace sidecar::proxy {

struct ParserLimits {
  uint64_t maxHeaderBytes = 32 << 10; // request line + headers
  uint64_t maxBody = 4 << 20;
  uint32_t maxHeaders = 128;
};

class RequestParser {
public:
  enum class Status {
    NeedMore, // all input consumed, the request is not complete yet
    Complete, // one request is complete; `consumed` tells where the next one starts
    Error,    // the request is refused: errorStatus()/errorText() say why
  };

  // `limits` must outlive the parser.
  explicit RequestParser(const ParserLimits* limits);
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Feeds bytes. On Complete, `consumed` is the number of bytes that belonged to this request;
  // the caller keeps the rest for the next one. On NeedMore, all bytes were consumed.
  Status feed(const char* data, size_t len, size_t& consumed);

  // Ready for the next request on the same connection. Keeps small buffers' capacity.
  void reset();

  bool started() const { return started_; }
  bool headersComplete() const { return headersComplete_; }
  // Headers are complete and the client waits for "100 Continue" before sending its body.
  bool expectsContinue() const { return expectContinue_; }

  int errorStatus() const { return errorStatus_; }
  const std::string& errorText() const { return errorText_; }
  metrics::HttpReject errorKind() const { return errorKind_; }

  llhttp_method_t method() const { return static_cast<llhttp_method_t>(parser_.method); }
  std::string_view methodName() const;
  std::string_view url() const { return url_; }
  uint8_t httpMajor() const { return parser_.http_major; }
  uint8_t httpMinor() const { return parser_.http_minor; }
  // Whether the client allows the connection to stay open after this request.
  bool keepAlive() const { return keepAlive_; }
  bool chunked() const { return chunked_; }

  size_t headerCount() const { return headers_.count(); }
  std::string_view headerName(size_t i) const { return headers_.name(i); }
  std::string_view headerValue(size_t i) const { return headers_.value(i); }
  // The first header of that name, case-insensitively.
  std::optional<std::string_view> header(std::string_view name) const;

  const std::string& body() const { return body_; }
  // Moves the body out (the stdio bridge takes it to another thread); body() is then empty.
  std::string takeBody() { return std::move(body_); }

private:
  static int onMessageBegin(llhttp_t* p);
  static int onUrl(llhttp_t* p, const char* at, size_t len);
  static int onHeaderField(llhttp_t* p, const char* at, size_t len);
  static int onHeaderFieldComplete(llhttp_t* p);
  static int onHeaderValue(llhttp_t* p, const char* at, size_t len);
  static int onHeaderValueComplete(llhttp_t* p);
  static int onHeadersComplete(llhttp_t* p);
  static int onBody(llhttp_t* p, const char* at, size_t len);
  static int onMessageComplete(llhttp_t* p);

  int fail(int status, metrics::HttpReject kind, std::string text);
  bool countHeadBytes(size_t len);

  const ParserLimits* limits_;
  llhttp_settings_t settings_;
  llhttp_t parser_;
  bool started_ = false;
  bool headersComplete_ = false;
  bool complete_ = false;
  bool expectContinue_ = false;
  bool keepAlive_ = true;
  bool chunked_ = false;
  uint64_t headBytes_ = 0;
  const char* feedStart_ = nullptr; // the buffer being parsed (fold detection)
  char prevFeedLastByte_ = 0;       // the last byte of the previous buffer
  std::string url_;
  HeaderCollector headers_;
  std::string body_;
  int errorStatus_ = 0;
  metrics::HttpReject errorKind_ = metrics::HttpReject::BadRequest;
  std::string errorText_;
};

} // namespace sidecar::proxy
