#pragma once
// Newline-delimited messages out of a byte stream (the MCP stdio transport: one JSON-RPC message
// per line, no embedded newlines). Lines are handed over without their '\n' and otherwise byte
// for byte (a '\r' before the '\n' stays: the relay does not rewrite). Empty lines are skipped.
//
// Memory is bounded: a line longer than `maxLine` is dropped whole (its bytes are skipped up to
// the next '\n') and counted; the caller logs it.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace sidecar::stdio_proxy {

class LineSplitter {
public:
  explicit LineSplitter(size_t maxLine) : maxLine_(maxLine) {}

  // Feeds `n` bytes; `onLine` runs inline for each complete line, in order. The view is valid
  // only during the call.
  void feed(const char* data, size_t n, const std::function<void(std::string_view)>& onLine);
  // End of stream: a last line without '\n' is handed over (unless it was too long).
  void finish(const std::function<void(std::string_view)>& onLine);

  // Lines dropped for being longer than maxLine.
  uint64_t oversized() const { return oversized_; }
  // Bytes held for an incomplete line.
  size_t buffered() const { return buf_.size(); }

private:
  size_t maxLine_;
  std::string buf_;
  bool skipping_ = false; // inside a line that is being dropped
  uint64_t oversized_ = 0;
};

} // namespace sidecar::stdio_proxy
