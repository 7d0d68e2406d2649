#pragma once
// JSON text handled without a parser: writing a string, and measuring how deeply a text nests.
//
// The escaper is the one the audit trail's lines (audit/record.cc) and the drift detector's
// canonical form (drift/canonical_json.cc) share; they differ only in the case of \u00XX's hex.
//
// The nesting check: RapidJSON parses iteratively here (RAPIDJSON_PARSE_DEFAULT_FLAGS in
// CMakeLists.txt), but writing a parsed value back out (Value::Accept) still recurses once per
// level. Code that re-serializes JSON from an MCP server (tool lists, initialize results) checks
// the text first, so that a server sending a schema nested tens of thousands of levels deep gets
// its answer refused instead of exhausting the sidecar's stack.

#include <cstddef>
#include <string>
#include <string_view>

namespace sidecar {

enum class HexCase { Lower, Upper };

// Appends `text` as a JSON string: quotes, `"` and `\` escaped, control characters as \b \f \n
// \r \t or \u00XX (`hex` case), every other byte as is. With HexCase::Upper that is byte for
// byte what RapidJSON's Writer prints. `text` must already be valid UTF-8.
void appendJsonString(std::string& out, std::string_view text, HexCase hex);

// The nesting the sidecar re-serializes. Real tool schemas nest a few levels; the drift
// detector already refuses more than 128 (drift/canonical_json.h).
inline constexpr size_t kMaxJsonNesting = 512;

// Whether `json` opens more than `limit` arrays or objects inside one another. Brackets inside
// strings (escapes included) do not count. For text that is not JSON the answer is only a bound:
// such text fails its parse anyway.
bool jsonNestsDeeperThan(std::string_view json, size_t limit = kMaxJsonNesting);

} // namespace sidecar
