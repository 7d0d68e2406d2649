#pragma once
// Reads one HTTP answer of the Streamable HTTP transport — empty (202), application/json, or
// text/event-stream — and hands on only what its signature covers (contract §6): a JSON body once
// the whole body verifies; an event's data once that event verifies, in order. Nothing of an
// answer reaches the caller before its check. Pure: fed by the HTTP layer, no I/O.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "connect/answer_check.h"
#include "connect/http_client.h"
#include "connect/sse_parser.h"

namespace sidecar::connect {

class AnswerReader {
public:
  enum class Kind { Unknown, Empty, Json, EventStream, Other };

  struct Options {
    // nullptr: nothing is checked (--insecure-no-verify-answers).
    const ServerKey* server = nullptr;
    RequestBinding request;
    size_t maxBodyBytes = 64u << 20; // a JSON body or one event
  };

  // `onMessage` receives each checked JSON-RPC message (a JSON text as the server sent it: one
  // message, or a batch array), inline from head(), body() or end().
  using OnMessage = std::function<void(std::string_view json)>;
  AnswerReader(Options options, OnMessage onMessage);

  // The response head. An event stream's header signature is checked here, before any event.
  // Errors: the check failed (the answer must then be dropped whole).
  Status head(const HttpHead& head);
  // Body bytes as they arrive. Errors: an event failed its check, or the body is too long. After
  // an error, nothing more is delivered.
  Status body(std::string_view bytes);
  // The answer arrived whole. A JSON or empty body is checked and delivered here. Errors: the
  // check failed, or an event stream ended in the middle of an event.
  Status end();

  Kind kind() const { return kind_; }
  int status() const { return status_; }
  // The body of a JSON or Other answer (checked or not): for diagnostics only.
  const std::string& bufferedBody() const { return body_; }
  // The last SSE `id` and `retry` seen (for resuming a stream).
  const std::string& lastEventId() const { return lastEventId_; }
  std::optional<uint64_t> retryMs() const { return retryMs_; }
  // Events delivered or skipped after their check.
  uint64_t events() const { return events_; }

private:
  Status fail(Status s);
  // Checks one event and delivers its message; sets `result` and stops on a failed check.
  SseParser::Next event(SseEvent& e, Status& result);

  Options options_;
  OnMessage onMessage_;
  Kind kind_ = Kind::Unknown;
  int status_ = 0;
  AnswerHeaders signature_;
  std::string body_;
  SseParser parser_;
  std::optional<EventStreamChecker> checker_;
  std::string lastEventId_;
  std::optional<uint64_t> retryMs_;
  uint64_t events_ = 0;
  bool failed_ = false;
};

// Whether a Content-Type names `mediaType` (compared without case, parameters ignored).
bool isMediaType(std::string_view contentType, std::string_view mediaType);

} // namespace sidecar::connect
