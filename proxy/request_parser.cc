#include "proxy/request_parser.h"

#include <cstring>

#include "proxy/http_util.h"

namespace sidecar::proxy {

namespace {
RequestParser* self(llhttp_t* p) {
  return static_cast<RequestParser*>(p->data);
}
// Bytes counted per header beyond its name and value (": " and CRLF), as on the wire.
constexpr size_t kHeaderOverhead = 4;
} // namespace

RequestParser::RequestParser(const ParserLimits* limits) : limits_(limits) {
  llhttp_settings_init(&settings_);
  settings_.on_message_begin = onMessageBegin;
  settings_.on_url = onUrl;
  settings_.on_header_field = onHeaderField;
  settings_.on_header_field_complete = onHeaderFieldComplete;
  settings_.on_header_value = onHeaderValue;
  settings_.on_header_value_complete = onHeaderValueComplete;
  settings_.on_headers_complete = onHeadersComplete;
  settings_.on_body = onBody;
  settings_.on_message_complete = onMessageComplete;
  llhttp_init(&parser_, HTTP_REQUEST, &settings_);
  parser_.data = this;
}

std::string_view RequestParser::methodName() const {
  return llhttp_method_name(method());
}

std::optional<std::string_view> RequestParser::header(std::string_view name) const {
  for (size_t i = 0; i < headers_.count(); ++i)
    if (iequals(headerName(i), name))
      return headerValue(i);
  return std::nullopt;
}

void RequestParser::reset() {
  started_ = headersComplete_ = complete_ = expectContinue_ = chunked_ = false;
  keepAlive_ = true;
  headBytes_ = 0;
  prevFeedLastByte_ = 0;
  url_.clear();
  headers_.clear();
  // A large body's buffer is not kept for the next request on an idle connection.
  if (body_.capacity() > (64 << 10))
    std::string().swap(body_);
  else
    body_.clear();
  errorStatus_ = 0;
  errorText_.clear();
}

int RequestParser::fail(int status, metrics::HttpReject kind, std::string text) {
  errorStatus_ = status;
  errorKind_ = kind;
  errorText_ = std::move(text);
  return -1;
}

bool RequestParser::countHeadBytes(size_t len) {
  headBytes_ += len;
  return headBytes_ <= limits_->maxHeaderBytes;
}

RequestParser::Status RequestParser::feed(const char* data, size_t len, size_t& consumed) {
  feedStart_ = data;
  llhttp_errno_t err = llhttp_execute(&parser_, data, len);
  if (len > 0)
    prevFeedLastByte_ = data[len - 1];
  if (err == HPE_OK) {
    consumed = len;
    return Status::NeedMore;
  }
  if ((err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) && complete_) {
    consumed = static_cast<size_t>(llhttp_get_error_pos(&parser_) - data);
    // The sidecar never switches protocols (Upgrade is hop-by-hop and not forwarded), so an
    // upgrade request is served as an ordinary request and the connection goes on as HTTP/1.1.
    if (err == HPE_PAUSED_UPGRADE)
      llhttp_resume_after_upgrade(&parser_);
    else
      llhttp_resume(&parser_);
    return Status::Complete;
  }
  consumed = len;
  if (errorStatus_ == 0) {
    const char* reason = llhttp_get_error_reason(&parser_);
    errorStatus_ = 400;
    errorKind_ = metrics::HttpReject::BadRequest;
    errorText_ =
        std::string("malformed HTTP request: ") + (reason ? reason : llhttp_errno_name(err));
  }
  return Status::Error;
}

int RequestParser::onMessageBegin(llhttp_t* p) {
  self(p)->started_ = true;
  return 0;
}

int RequestParser::onUrl(llhttp_t* p, const char* at, size_t len) {
  RequestParser* s = self(p);
  if (!s->countHeadBytes(len))
    return s->fail(431, metrics::HttpReject::HeaderTooLarge, "request line too long");
  s->url_.append(at, len);
  return 0;
}

int RequestParser::onHeaderField(llhttp_t* p, const char* at, size_t len) {
  RequestParser* s = self(p);
  if (!s->countHeadBytes(len))
    return s->fail(431, metrics::HttpReject::HeaderTooLarge, "request headers too large");
  s->headers_.fieldPiece(at, len);
  return 0;
}

int RequestParser::onHeaderFieldComplete(llhttp_t* p) {
  RequestParser* s = self(p);
  s->headers_.fieldDone();
  return 0;
}

int RequestParser::onHeaderValue(llhttp_t* p, const char* at, size_t len) {
  RequestParser* s = self(p);
  if (!s->countHeadBytes(len))
    return s->fail(431, metrics::HttpReject::HeaderTooLarge, "request headers too large");
  // llhttp 8.1 (non-strict) accepts obsolete line folding: it skips the CRLF and hands us the
  // continuation line as another value piece. A value piece never legitimately starts right after
  // a line end (the first follows "Name:"), so that is how a fold shows. RFC 9112 §5.2 lets a
  // server refuse folding, and a proxy must not pass a header the next hop may read differently.
  char before = at > s->feedStart_ ? at[-1] : s->prevFeedLastByte_;
  if (before == '\n' || before == '\r' || memchr(at, '\n', len) || memchr(at, '\r', len))
    return s->fail(400, metrics::HttpReject::BadRequest,
                   "obsolete line folding in a header value is not accepted");
  s->headers_.valuePiece(at, len);
  return 0;
}

int RequestParser::onHeaderValueComplete(llhttp_t* p) {
  RequestParser* s = self(p);
  if (!s->countHeadBytes(kHeaderOverhead))
    return s->fail(431, metrics::HttpReject::HeaderTooLarge, "request headers too large");
  if (s->headers_.count() >= s->limits_->maxHeaders)
    return s->fail(431, metrics::HttpReject::HeaderTooLarge,
                   "too many request headers (limit " + std::to_string(s->limits_->maxHeaders) +
                       ")");
  s->headers_.valueDone();
  return 0;
}

int RequestParser::onHeadersComplete(llhttp_t* p) {
  RequestParser* s = self(p);
  s->headersComplete_ = true;
  s->keepAlive_ = llhttp_should_keep_alive(p) != 0;
  s->chunked_ = (p->flags & F_CHUNKED) != 0;
  bool hasLength = (p->flags & F_CONTENT_LENGTH) != 0;
  if (hasLength && p->content_length > s->limits_->maxBody)
    return s->fail(413, metrics::HttpReject::BodyTooLarge,
                   "request body of " + std::to_string(p->content_length) +
                       " bytes is over the limit of " + std::to_string(s->limits_->maxBody) +
                       " bytes (--max-body)");
  if (auto expect = s->header("expect")) {
    if (!iequals(*expect, "100-continue"))
      return s->fail(417, metrics::HttpReject::BadRequest, "unsupported Expect header");
    s->expectContinue_ = p->http_major == 1 && p->http_minor >= 1;
  }
  if (hasLength)
    s->body_.reserve(p->content_length);
  return 0;
}

int RequestParser::onBody(llhttp_t* p, const char* at, size_t len) {
  RequestParser* s = self(p);
  if (s->body_.size() + len > s->limits_->maxBody)
    return s->fail(413, metrics::HttpReject::BodyTooLarge,
                   "request body is over the limit of " + std::to_string(s->limits_->maxBody) +
                       " bytes (--max-body)");
  s->body_.append(at, len);
  return 0;
}

int RequestParser::onMessageComplete(llhttp_t* p) {
  RequestParser* s = self(p);
  s->complete_ = true;
  s->expectContinue_ = false;
  return HPE_PAUSED; // one request at a time: the connection resumes after answering
}

} // namespace sidecar::proxy
