#include "connect/sse_parser.h"

#include <charconv>
#include <utility>

namespace sidecar::connect {

bool SseParser::feed(std::string_view bytes, const OnEvent& onEvent) {
  if (stopped_)
    return false;
  if (bytes.empty())
    return true;
  size_t i = 0;
  if (pendingCr_) {
    pendingCr_ = false;
    std::string text = std::move(line_);
    line_.clear();
    bool crlf = bytes[0] == '\n';
    if (crlf)
      i = 1;
    if (!line(text, crlf ? "\r\n" : "\r", onEvent))
      return false;
  }
  while (i < bytes.size()) {
    size_t end = bytes.find_first_of("\r\n", i);
    if (end == std::string_view::npos) {
      line_.append(bytes.substr(i));
      if (line_.size() + event_.raw.size() > maxEventBytes_) {
        error_ = "an SSE event is longer than " + std::to_string(maxEventBytes_) + " bytes";
        stopped_ = true;
        return false;
      }
      return true;
    }
    line_.append(bytes.substr(i, end - i));
    if (bytes[end] == '\r' && end + 1 == bytes.size()) {
      // CR or CRLF: the next chunk tells.
      pendingCr_ = true;
      return true;
    }
    std::string_view ending =
        bytes[end] == '\r' && bytes[end + 1] == '\n' ? "\r\n" : bytes.substr(end, 1);
    i = end + ending.size();
    std::string text = std::move(line_);
    line_.clear();
    if (!line(text, ending, onEvent))
      return false;
  }
  return true;
}

bool SseParser::finish(const OnEvent& onEvent) {
  if (stopped_)
    return false;
  if (pendingCr_) {
    pendingCr_ = false;
    std::string text = std::move(line_);
    line_.clear();
    return line(text, "\r", onEvent);
  }
  return true;
}

bool SseParser::line(std::string_view text, std::string_view ending, const OnEvent& onEvent) {
  if (!bomChecked_) {
    // A UTF-8 byte order mark may start the stream (§9.2.5); it belongs to no event.
    bomChecked_ = true;
    if (text.substr(0, 3) == "\xEF\xBB\xBF")
      text.remove_prefix(3);
  }
  if (text.empty()) {
    // A blank line ends the event, if a field line started one (§9.2.6 "dispatch the event").
    if (!inEvent_)
      return true;
    event_.raw.append(ending);
    inEvent_ = false;
    SseEvent e = std::move(event_);
    event_ = SseEvent{};
    if (onEvent(e) == Next::Stop) {
      stopped_ = true;
      return false;
    }
    return true;
  }
  if (text[0] == ':') {
    if (inEvent_) {
      event_.raw.append(text).append(ending);
    } else {
      std::string_view c = text.substr(1);
      if (!c.empty() && c[0] == ' ')
        c.remove_prefix(1);
      comments_.emplace_back(c);
    }
    return true;
  }
  if (!inEvent_) {
    inEvent_ = true;
    event_.comments = std::move(comments_);
    comments_.clear();
  }
  event_.raw.append(text).append(ending);
  if (event_.raw.size() > maxEventBytes_) {
    error_ = "an SSE event is longer than " + std::to_string(maxEventBytes_) + " bytes";
    stopped_ = true;
    return false;
  }
  size_t colon = text.find(':');
  std::string_view name = text.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = text.substr(colon + 1);
    if (!value.empty() && value[0] == ' ')
      value.remove_prefix(1);
  }
  if (name == "event") {
    event_.type = std::string(value);
  } else if (name == "data") {
    if (event_.hasData)
      event_.data += '\n';
    event_.data.append(value);
    event_.hasData = true;
  } else if (name == "id") {
    if (value.find('\0') == std::string_view::npos) {
      event_.id = std::string(value);
      event_.hasId = true;
    }
  } else if (name == "retry") {
    uint64_t ms = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
    if (ec == std::errc() && p == value.data() + value.size() && !value.empty())
      event_.retryMs = ms;
  }
  return true;
}

} // namespace sidecar::connect
