#pragma once
// UTF-8 checks for text that leaves the process as JSON or Prometheus labels (audit fields,
// names taken from messages scanned without whole-body validation, mcp/message_scan.h).
// Hand-written rather than RapidJSON's transcoder: that one works on streams and stops at the
// first bad byte, while these must replace each bad byte and keep going.

#include <cstddef>
#include <string>
#include <string_view>

namespace sidecar {

// Length of the valid UTF-8 sequence at the start of `s` (not empty), or 0 when it is not one
// (overlong forms, surrogates and code points above U+10FFFF are invalid, RFC 3629 §4).
size_t utf8SequenceLength(std::string_view s);

// Whether all of `s` is valid UTF-8. ASCII text costs one pass over the bytes.
bool validUtf8(std::string_view s);

// `text` with every byte that does not start a valid sequence replaced by U+FFFD.
std::string sanitizeUtf8(std::string_view text);

} // namespace sidecar
