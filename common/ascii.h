#pragma once
// ASCII helpers for protocol text (header names, tokens): case-insensitive comparison as RFC 9110
// §5.1 requires for field names, and trimming of optional whitespace (spaces and tabs, RFC 9110
// §5.6.3). Inline: header filtering and verification call them for every header.

#include <string_view>

namespace sidecar {

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x == y)
      continue;
    if ((x | 0x20) != (y | 0x20) || (x | 0x20) < 'a' || (x | 0x20) > 'z')
      return false;
  }
  return true;
}

inline bool istartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

inline bool icontains(std::string_view s, std::string_view needle) {
  if (needle.size() > s.size())
    return false;
  for (size_t i = 0; i + needle.size() <= s.size(); ++i)
    if (iequals(s.substr(i, needle.size()), needle))
      return true;
  return false;
}

// Without leading and trailing spaces and tabs.
inline std::string_view trimBlanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

} // namespace sidecar
