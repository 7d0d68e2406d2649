#include "common/utf8.h"

#include <cstdint>
#include <cstring>

namespace sidecar {

size_t utf8SequenceLength(std::string_view s) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  auto cont = [&](size_t i) { return i < s.size() && (byte(i) & 0xC0) == 0x80; };
  unsigned char c = byte(0);
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF)
    return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2))
      return 0;
    unsigned char c1 = byte(1);
    if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F))
      return 0;
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3))
      return 0;
    unsigned char c1 = byte(1);
    if ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 > 0x8F))
      return 0;
    return 4;
  }
  return 0;
}

bool validUtf8(std::string_view s) {
  // ASCII, eight bytes at a time: names and audit fields are nearly always ASCII.
  while (s.size() >= 8) {
    uint64_t v;
    std::memcpy(&v, s.data(), sizeof v);
    if ((v & 0x8080808080808080ULL) != 0)
      break;
    s.remove_prefix(8);
  }
  while (!s.empty()) {
    size_t n = utf8SequenceLength(s);
    if (n == 0)
      return false;
    s.remove_prefix(n);
  }
  return true;
}

std::string sanitizeUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    size_t n = utf8SequenceLength(text);
    if (n == 0) {
      out += "\xEF\xBF\xBD"; // U+FFFD REPLACEMENT CHARACTER
      text.remove_prefix(1);
      continue;
    }
    out.append(text.data(), n);
    text.remove_prefix(n);
  }
  return out;
}

} // namespace sidecar
