#include "audit/redact.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <array>

namespace sidecar::audit {
namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr int kMaxDepth = 64;
constexpr std::array<std::string_view, 12> kSecretWords = {
    "token",   "password",      "passwd", "secret",     "key",    "apikey",
    "api_key", "authorization", "auth",   "credential", "cookie", "session"};

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool icontains(std::string_view haystack, std::string_view needle) {
  if (needle.size() > haystack.size())
    return false;
  for (size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    size_t j = 0;
    while (j < needle.size() && lower(haystack[i + j]) == needle[j])
      ++j;
    if (j == needle.size())
      return true;
  }
  return false;
}

// Recursion is bounded by kMaxDepth; the parse itself is iterative.
void writeRedacted(JsonWriter& w, const rapidjson::Value& v, int depth) {
  if (depth > kMaxDepth) {
    w.String("[TOO DEEP]");
    return;
  }
  if (v.IsObject()) {
    w.StartObject();
    for (const auto& m : v.GetObject()) {
      std::string_view key(m.name.GetString(), m.name.GetStringLength());
      w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
      if (looksSecret(key))
        w.String(kRedacted.data(), static_cast<rapidjson::SizeType>(kRedacted.size()));
      else
        writeRedacted(w, m.value, depth + 1);
    }
    w.EndObject();
  } else if (v.IsArray()) {
    w.StartArray();
    for (const auto& e : v.GetArray())
      writeRedacted(w, e, depth + 1);
    w.EndArray();
  } else {
    v.Accept(w); // a scalar
  }
}

} // namespace

bool looksSecret(std::string_view key) {
  for (std::string_view word : kSecretWords)
    if (icontains(key, word))
      return true;
  return false;
}

RedactedArgs redactArguments(std::string_view json, size_t maxBytes) {
  RedactedArgs out;
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(json.data(),
                                                                                    json.size());
  if (doc.HasParseError())
    return out; // Form::Invalid
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  writeRedacted(w, doc, 0);
  std::string_view text(buf.GetString(), buf.GetSize());
  out.fullBytes = text.size();
  if (text.size() <= maxBytes) {
    out.form = RedactedArgs::Form::Json;
    out.text.assign(text);
    return out;
  }
  // Cut before a continuation byte would split a character: back up to its lead byte.
  size_t cut = maxBytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
    --cut;
  out.form = RedactedArgs::Form::Truncated;
  out.text.assign(text.substr(0, cut));
  return out;
}

} // namespace sidecar::audit
