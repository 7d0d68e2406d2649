#pragma once
// Opt-in argument capture: a copy of a tool call's arguments with the values of secret-looking
// keys replaced, capped in size. The default writes only a digest (record.h).

#include <cstddef>
#include <string>
#include <string_view>

namespace sidecar::audit {

inline constexpr std::string_view kRedacted = "[REDACTED]";

// True when an object key looks like it names a secret: it contains, ignoring ASCII case, one of
// token, password, passwd, secret, key, apikey, api_key, authorization, auth, credential, cookie,
// session. Over-matching ("monkey", "author") is accepted: a redacted harmless value costs less
// than a leaked secret.
bool looksSecret(std::string_view key);

struct RedactedArgs {
  enum class Form {
    Json,      // `text` is the redacted value as compact JSON
    Truncated, // `text` is the first bytes of that JSON (cut at a UTF-8 boundary): not JSON
    Invalid,   // the arguments were not JSON (or not UTF-8); `text` is empty
  };
  Form form = Form::Invalid;
  std::string text;
  size_t fullBytes = 0; // size of the whole redacted JSON (Json and Truncated)
};

// Parses `json`, replaces the value of every member whose key looksSecret() with "[REDACTED]"
// (whatever the value's type), at every depth, and serializes the result compactly. When that is
// longer than `maxBytes`, keeps its first `maxBytes` bytes (Form::Truncated). Values nested
// deeper than 64 levels are replaced by "[TOO DEEP]". Untrusted input: never throws or asserts.
RedactedArgs redactArguments(std::string_view json, size_t maxBytes);

} // namespace sidecar::audit
