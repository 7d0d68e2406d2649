#pragma once
// An incremental parser of text/event-stream (WHATWG HTML "Server-sent events" §9.2.5/§9.2.6)
// that keeps, beside each event's fields, the event's bytes exactly as received — from its first
// field line through the blank line that ends it — and the comment lines that came before it,
// because signed answers (contract §6) sign those bytes and carry each signature in a comment.
//
// Line ends may be CRLF, LF or CR. A CR at the end of a chunk is held back until the next byte
// shows whether an LF follows, so an event's bytes never depend on how the stream was cut.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sidecar::connect {

struct SseEvent {
  std::string raw;  // first field line through the terminating blank line, as received
  std::string type; // the `event` field; "" when absent (the default, "message")
  std::string data; // every `data` field, joined with "\n"
  bool hasData = false;
  std::string id; // the last `id` field
  bool hasId = false;
  std::optional<uint64_t> retryMs;
  // The comment lines (text after the ':', one leading space removed) between the previous
  // event and this event's first field line. Comments inside the event are part of `raw` only.
  std::vector<std::string> comments;
};

class SseParser {
public:
  // An event (raw bytes) or a single line longer than `maxEventBytes` fails the stream.
  explicit SseParser(size_t maxEventBytes = 16u << 20) : maxEventBytes_(maxEventBytes) {}

  // What the callback of feed() returns: go on, or stop parsing (the rest of the chunk and the
  // parser are then abandoned; feed() returns false with error() empty).
  enum class Next { Continue, Stop };
  using OnEvent = std::function<Next(SseEvent&)>;

  // Parses `bytes`, calling `onEvent` inline for each event completed by them, in order.
  // Returns false when the stream is unusable (error() says why) or the callback stopped it.
  bool feed(std::string_view bytes, const OnEvent& onEvent);
  // The stream ended: a held-back CR ends its line. Returns false as feed() does.
  bool finish(const OnEvent& onEvent);

  // True when bytes of an unfinished event are buffered (an event cut off by the stream's end).
  bool midEvent() const { return inEvent_ || !line_.empty(); }
  const std::string& error() const { return error_; }

private:
  bool line(std::string_view text, std::string_view ending, const OnEvent& onEvent);

  const size_t maxEventBytes_;
  std::string line_; // the current line, without its ending
  bool pendingCr_ = false;
  bool bomChecked_ = false;
  bool inEvent_ = false; // a field line of the current event was seen
  bool stopped_ = false;
  SseEvent event_;
  std::vector<std::string> comments_;
  std::string error_;
};

} // namespace sidecar::connect
