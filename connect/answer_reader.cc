#include "connect/answer_reader.h"

#include <cctype>
#include <utility>

#include "verifier/keys.h"

namespace sidecar::connect {

bool isMediaType(std::string_view contentType, std::string_view mediaType) {
  size_t semi = contentType.find(';');
  std::string_view t = contentType.substr(0, semi);
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t'))
    t.remove_suffix(1);
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t'))
    t.remove_prefix(1);
  if (t.size() != mediaType.size())
    return false;
  for (size_t i = 0; i < t.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(t[i])) !=
        std::tolower(static_cast<unsigned char>(mediaType[i])))
      return false;
  return true;
}

AnswerReader::AnswerReader(Options options, OnMessage onMessage)
    : options_(std::move(options)), onMessage_(std::move(onMessage)),
      parser_(options_.maxBodyBytes) {}

Status AnswerReader::fail(Status s) {
  failed_ = true;
  return s;
}

Status AnswerReader::head(const HttpHead& head) {
  status_ = head.status;
  std::string ct = head.header("content-type");
  if (isMediaType(ct, "text/event-stream"))
    kind_ = Kind::EventStream;
  else if (isMediaType(ct, "application/json"))
    kind_ = Kind::Json;
  else if (ct.empty())
    kind_ = Kind::Empty; // until a body byte says otherwise
  else
    kind_ = Kind::Other;
  signature_.signature = head.header("x-mcp-signature");
  signature_.timestamp = head.header("x-mcp-timestamp");
  signature_.keyId = head.header("x-mcp-key-id");
  if (options_.server == nullptr)
    return {};
  for (const char* h : {"x-mcp-signature", "x-mcp-timestamp", "x-mcp-key-id"})
    if (head.count(h) > 1)
      return fail(Status::error(std::string("the answer carries header ") + h + " twice"));
  if (kind_ != Kind::EventStream)
    return {};
  // §6: an event stream's header signature covers the SHA-256 of zero bytes.
  Status s = checkAnswerHeaders(*options_.server, options_.request, static_cast<unsigned>(status_),
                                signature_, verifier::sha256Hex(""));
  if (!s.ok())
    return fail(Status::error("event stream: " + s.message()));
  checker_.emplace(*options_.server, options_.request.signature, signature_.timestamp);
  return {};
}

Status AnswerReader::body(std::string_view bytes) {
  if (failed_)
    return Status::error("the answer was already refused");
  if (kind_ != Kind::EventStream) {
    if (kind_ == Kind::Empty && !bytes.empty())
      kind_ = Kind::Other;
    if (body_.size() + bytes.size() > options_.maxBodyBytes)
      return fail(Status::error("the answer's body is longer than " +
                                std::to_string(options_.maxBodyBytes) + " bytes"));
    body_.append(bytes);
    return {};
  }
  Status result;
  bool ok = parser_.feed(bytes, [&](SseEvent& e) { return event(e, result); });
  if (!result.ok())
    return fail(result);
  if (!ok)
    return fail(Status::error("the event stream cannot be read: " + parser_.error()));
  return {};
}

SseParser::Next AnswerReader::event(SseEvent& e, Status& result) {
  if (checker_) {
    Status s = checker_->check(e);
    if (!s.ok()) {
      result = s;
      return SseParser::Next::Stop;
    }
  }
  ++events_;
  if (e.hasId)
    lastEventId_ = e.id;
  if (e.retryMs)
    retryMs_ = e.retryMs;
  // An event without data (a priming event) or of another type than "message" carries no
  // JSON-RPC message.
  if (!e.data.empty() && (e.type.empty() || e.type == "message"))
    onMessage_(e.data);
  return SseParser::Next::Continue;
}

Status AnswerReader::end() {
  if (failed_)
    return Status::error("the answer was already refused");
  if (kind_ == Kind::EventStream) {
    Status result;
    bool ok = parser_.finish([&](SseEvent& e) { return event(e, result); });
    if (!result.ok())
      return fail(result);
    if (!ok)
      return fail(Status::error("the event stream cannot be read: " + parser_.error()));
    if (parser_.midEvent())
      return fail(Status::error("the event stream ended in the middle of an event"));
    return {};
  }
  if (options_.server != nullptr) {
    Status s =
        checkAnswerHeaders(*options_.server, options_.request, static_cast<unsigned>(status_),
                           signature_, verifier::sha256Hex(body_));
    if (!s.ok())
      return fail(s);
  }
  if (kind_ == Kind::Json) {
    std::string_view b = body_;
    while (!b.empty() && (b.back() == '\n' || b.back() == '\r' || b.back() == ' '))
      b.remove_suffix(1);
    if (!b.empty())
      onMessage_(b);
  }
  return {};
}

} // namespace sidecar::connect
