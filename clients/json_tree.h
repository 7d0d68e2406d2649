#pragma once
// A client's configuration file as a tree of values that remember where they are in the text,
// so that `wrap` can change the bytes of a few values and leave every other byte of the file as it
// was: other keys, their order, the indentation, number spellings, escapes and (in VS Code's JSON
// with comments) the comments.
//
// Built from RapidJSON's SAX reader, which validates the text and reports the values; this only
// records where each one starts and ends.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sidecar::clients {

struct JsonNode {
  enum class Kind { Null, Bool, Number, String, Object, Array };
  struct Member;

  Kind kind = Kind::Null;
  size_t begin = 0; // offset of the value's first byte in the text
  size_t end = 0;   // offset just past its last byte
  // String: the decoded string. Number: as written. Bool: "true"/"false". Null: "null".
  std::string text;
  std::vector<Member> members;    // Object: in the file's order, duplicates kept
  std::vector<JsonNode> elements; // Array

  bool isObject() const { return kind == Kind::Object; }
  bool isArray() const { return kind == Kind::Array; }
  bool isString() const { return kind == Kind::String; }
  // The value of the last member named `key` (as JavaScript's JSON.parse, which the clients use,
  // keeps the last of duplicated names), or nullptr; nullptr too when this is not an object.
  const JsonNode* find(std::string_view key) const;
  const Member* findMember(std::string_view key) const;
};

struct JsonNode::Member {
  std::string key;     // decoded
  size_t keyBegin = 0; // offset of the key's opening quote
  size_t keyEnd = 0;   // offset just past its closing quote
  JsonNode value;
};

struct JsonParse {
  bool ok = false;
  JsonNode root;
  size_t errorOffset = 0; // byte offset in the text where the parser stopped
  std::string error;      // the parser's message
};

// Parses `text` (UTF-8; a leading byte order mark is skipped, offsets still count it). With
// `jsonc`, // and /* */ comments and trailing commas are accepted. Nesting deeper than 256 is an
// error (no configuration is that deep; the limit bounds the recursion).
JsonParse parseJsonTree(std::string_view text, bool jsonc);

// 1-based line and column (in characters, as editors count) of byte `offset` of `text`.
struct LineColumn {
  size_t line = 1;
  size_t column = 1;
};
LineColumn lineColumnAt(std::string_view text, size_t offset);

// `s` as a JSON string literal, quotes included (UTF-8 kept as is; control characters, quotes and
// backslashes escaped).
std::string jsonQuote(std::string_view s);

} // namespace sidecar::clients
