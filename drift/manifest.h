#pragma once
// The server's tool manifest: what each tool says it does, in canonical form, and its hashes.
//
// Built from `tools/list` answers, one page at a time (MCP paginates with `nextCursor`). Per tool
// only the members that describe behaviour are kept: name, title, description, inputSchema,
// outputSchema, annotations. Anything else (icons, execution, _meta) may change freely without
// counting as drift. docs/drift.md, "Which bytes are hashed", defines every byte:
//   tool form     = canonical JSON of the tool object reduced to those members
//   tool hash     = lowercase hex SHA-256 of the tool form
//   manifest hash = "sha256:" + lowercase hex SHA-256 of the canonical JSON of the object that
//                   maps each tool name to its tool hash, e.g. {"echo":"9933…","get-sum":"4b6b…"}
// Not thread-safe; no I/O.

#include <array>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "drift/canonical_json.h"

namespace sidecar::drift {

// The members of a tool that are hashed, in canonical (byte) order.
inline constexpr std::array<std::string_view, 6> kHashedFields = {
    "annotations", "description", "inputSchema", "name", "outputSchema", "title"};

struct ToolDefinition {
  std::string name;
  // Each hashed member the tool has → the canonical JSON of its value. A member absent from the
  // tool is absent here; an explicit `null` is kept as "null".
  std::map<std::string, std::string> fields;
  std::string form; // canonical JSON of the tool reduced to `fields`: the bytes hashed
  std::string hash; // lowercase hex SHA-256 of `form`

  // The canonical JSON of member `field`, or nullptr when the tool has no such member.
  const std::string* field(std::string_view member) const;
};

// Builds a definition from one element of `tools`. Errors: not an object, no string `name`.
Result<ToolDefinition> makeToolDefinition(const JsonValue& tool);

class ToolManifest {
public:
  // Adds one page of a `tools/list` answer: the JSON text of the whole JSON-RPC response
  // ({"jsonrpc":"2.0","id":…,"result":{"tools":[…]}}) or of its `result` object alone.
  // Returns an error, leaving the manifest unchanged, for: text that parseJson() refuses, an
  // error response, no `tools` array, a tool that makeToolDefinition() refuses, a tool name seen
  // twice (in this page or an earlier one: which of two definitions a client uses is anybody's
  // guess), a `nextCursor` that is neither a string nor null.
  Status addPage(std::string_view json);

  // Adds one tool given as the JSON text of its object (tests, baselines). Errors as addPage().
  Status addTool(std::string_view json);
  Status addDefinition(ToolDefinition definition);

  // `nextCursor` of the last page added; nullopt when it had none (the list is complete).
  const std::optional<std::string>& nextCursor() const { return nextCursor_; }
  // True when the last page added had no `nextCursor`: every page has been merged.
  bool complete() const { return !nextCursor_.has_value(); }

  // By name, in byte order.
  const std::map<std::string, ToolDefinition>& tools() const { return tools_; }
  const ToolDefinition* find(std::string_view name) const;
  size_t size() const { return tools_.size(); }

  // "sha256:<64 lowercase hex>" (above). The manifest with no tools hashes "{}".
  const std::string& hash() const { return hash_; }

private:
  void rehash();

  std::map<std::string, ToolDefinition> tools_;
  std::optional<std::string> nextCursor_;
  std::string hash_ = emptyHash();

  static std::string emptyHash();
};

// A pin as an operator writes it: "sha256:" + 64 hex digits, or the 64 digits alone, either case.
// Returns the form hash() prints ("sha256:" + lowercase hex), else an error saying what a pin
// looks like. For --drift-baseline.
Result<std::string> parseManifestHash(std::string_view text);

} // namespace sidecar::drift
