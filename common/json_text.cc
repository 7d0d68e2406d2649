#include "common/json_text.h"

namespace sidecar {

void appendJsonString(std::string& out, std::string_view text, HexCase hex) {
  const char* digits = hex == HexCase::Upper ? "0123456789ABCDEF" : "0123456789abcdef";
  out += '"';
  size_t run = 0; // start of the bytes not yet copied: copied in runs, not one by one
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\')
      continue;
    out.append(text.data() + run, i - run);
    run = i + 1;
    out += '\\';
    switch (c) {
    case '"':
      out += '"';
      break;
    case '\\':
      out += '\\';
      break;
    case '\b':
      out += 'b';
      break;
    case '\f':
      out += 'f';
      break;
    case '\n':
      out += 'n';
      break;
    case '\r':
      out += 'r';
      break;
    case '\t':
      out += 't';
      break;
    default: {
      const char u[5] = {'u', '0', '0', digits[c >> 4], digits[c & 0xF]};
      out.append(u, sizeof u);
    }
    }
  }
  out.append(text.data() + run, text.size() - run);
  out += '"';
}

bool jsonNestsDeeperThan(std::string_view json, size_t limit) {
  size_t depth = 0;
  bool inString = false;
  for (size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (inString) {
      if (c == '\\')
        ++i; // the escaped character cannot end the string
      else if (c == '"')
        inString = false;
      continue;
    }
    if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit)
        return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

} // namespace sidecar
