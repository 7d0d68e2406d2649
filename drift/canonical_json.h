#pragma once
// Canonical JSON for tool definitions: the exact bytes drift hashes (docs/drift.md, "Which bytes
// are hashed").
//
// A JSON text is parsed into a small tree that keeps each number exactly as written (RapidJSON's
// DOM would turn `1.0` into a double and lose the spelling), then written back as:
//   * no whitespace anywhere;
//   * object members sorted by the UTF-8 bytes of their names;
//   * numbers as written in the input;
//   * strings escaped as Python's json.dumps(..., ensure_ascii=False) does: `"` and `\` with a
//     backslash, U+0008/0009/000A/000C/000D as \b \t \n \f \r, every other byte below 0x20 as
//     \u00xx (lowercase hex), everything else as its raw UTF-8 bytes.
// The tree owns its text; nothing here does I/O. Thread-safe (pure functions).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sidecar::drift {

// Deeper nesting is refused: the writer recurses, and no tool schema needs more.
inline constexpr size_t kMaxJsonDepth = 128;

struct JsonValue {
  enum class Type { Null, False, True, Number, String, Array, Object };
  Type type = Type::Null;
  std::string text;              // Number: the token as written; String: the decoded UTF-8
  std::vector<std::string> keys; // Object: member names in document order (unique)
  std::vector<JsonValue> items;  // Array: the elements; Object: member values, parallel to keys

  bool isObject() const { return type == Type::Object; }
  bool isArray() const { return type == Type::Array; }
  bool isString() const { return type == Type::String; }
  // The value of member `key` of an object; nullptr when absent or not an object.
  const JsonValue* find(std::string_view key) const;
};

// Parses one JSON text (RFC 8259; surrounding whitespace allowed, nothing else after it).
// Errors, each with the byte offset: not JSON, invalid UTF-8, nesting deeper than
// kMaxJsonDepth, and an object with two members of the same name (JSON parsers disagree on which
// one counts, so a definition carrying both cannot be pinned unambiguously).
Result<JsonValue> parseJson(std::string_view text);

// Appends the canonical form of `value` to `out`.
void appendCanonical(const JsonValue& value, std::string& out);
std::string canonical(const JsonValue& value);

// parseJson() then canonical(); the same errors.
Result<std::string> canonicalJson(std::string_view text);

// Appends `text` as a JSON string with the escaping above. `text` is written byte for byte
// otherwise, so it should be valid UTF-8.
void appendJsonString(std::string_view text, std::string& out);
std::string jsonString(std::string_view text);

// Lowercase hex SHA-256 of the bytes of `data` (OpenSSL).
std::string sha256Hex(std::string_view data);

} // namespace sidecar::drift
