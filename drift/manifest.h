#pragma once
// The server's manifests: what each tool, resource and prompt says it is, in canonical form, and
// their hashes.
//
// Built from `tools/list`, `resources/list` and `prompts/list` answers, one page at a time (MCP
// paginates with `nextCursor`). Per item only the members that describe it are kept (ListKind
// below): for a tool name, title, description, inputSchema, outputSchema, annotations; anything
// else (icons, execution, _meta) may change freely without counting as drift. docs/drift.md,
// "Which bytes are hashed", defines every byte:
//   item form     = canonical JSON of the item object reduced to those members
//   item hash     = lowercase hex SHA-256 of the item form
//   manifest hash = "sha256:" + lowercase hex SHA-256 of the canonical JSON of the object that
//                   maps each item's key to its item hash, e.g. {"echo":"9933…","get-sum":"4b6b…"}
// An item's key is its `name` (tools, prompts) or its `uri` (resources). Not thread-safe; no I/O.

#include <array>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"
#include "drift/canonical_json.h"

namespace sidecar::drift {

// The members of a tool that are hashed, in canonical (byte) order.
inline constexpr std::array<std::string_view, 6> kHashedFields = {
    "annotations", "description", "inputSchema", "name", "outputSchema", "title"};
// The members of a resource that are hashed. Not `annotations` (its `lastModified` moves whenever
// the content does) nor `size`: they describe the content, not what the resource is. `mimeTypes`
// is not an MCP member, but AIM reads it (aim-wire.md §10), so a server that sends it is hashed.
inline constexpr std::array<std::string_view, 6> kResourceHashedFields = {
    "description", "mimeType", "mimeTypes", "name", "title", "uri"};
// The members of a prompt that are hashed.
inline constexpr std::array<std::string_view, 4> kPromptHashedFields = {"arguments", "description",
                                                                        "name", "title"};

// One kind of MCP list: where its items are and which of their members are hashed.
struct ListKind {
  std::string_view method;                        // "tools/list"
  std::string_view member;                        // the result's array: "tools"
  std::string_view noun;                          // one item, for messages: "tool"
  std::string_view key;                           // the member that names an item: "name"
  std::span<const std::string_view> hashedFields; // in canonical (byte) order; includes `key`
};
inline constexpr ListKind kToolList{"tools/list", "tools", "tool", "name", kHashedFields};
inline constexpr ListKind kResourceList{"resources/list", "resources", "resource", "uri",
                                        kResourceHashedFields};
inline constexpr ListKind kPromptList{"prompts/list", "prompts", "prompt", "name",
                                      kPromptHashedFields};

// One tool, resource or prompt.
struct Definition {
  // The item's key: the value of its ListKind::key member (a tool's or prompt's name, a
  // resource's URI).
  std::string name;
  // Each hashed member the item has → the canonical JSON of its value. A member absent from the
  // item is absent here; an explicit `null` is kept as "null".
  std::map<std::string, std::string> fields;
  std::string form; // canonical JSON of the item reduced to `fields`: the bytes hashed
  std::string hash; // lowercase hex SHA-256 of `form`

  // The canonical JSON of member `field`, or nullptr when the item has no such member.
  const std::string* field(std::string_view member) const;
};
using ToolDefinition = Definition;
using ResourceDefinition = Definition;
using PromptDefinition = Definition;

// Builds a definition from one element of a list's array. Errors: not an object, no string key
// member (`name`, or `uri` for a resource).
Result<Definition> makeDefinition(const ListKind& kind, const JsonValue& item);
// makeDefinition(kToolList, tool).
Result<ToolDefinition> makeToolDefinition(const JsonValue& tool);

// The items of one list, by key. ToolManifest, ResourceManifest and PromptManifest below name the
// kind; this class holds what they share.
class DefinitionManifest {
public:
  explicit DefinitionManifest(const ListKind& kind);

  // Adds one page of a list answer: the JSON text of the whole JSON-RPC response
  // ({"jsonrpc":"2.0","id":…,"result":{"tools":[…]}}) or of its `result` object alone.
  // Returns an error, leaving the manifest unchanged, for: text that parseJson() refuses, an
  // error response, no array member (`tools`, `resources`, `prompts`), an item that
  // makeDefinition() refuses, a key seen twice (in this page or an earlier one: which of two
  // definitions a client uses is anybody's guess), a `nextCursor` that is neither a string nor
  // null.
  Status addPage(std::string_view json);

  // Adds one item given as the JSON text of its object (tests, baselines). Errors as addPage().
  Status addItem(std::string_view json);
  Status addDefinition(Definition definition);

  // `nextCursor` of the last page added; nullopt when it had none (the list is complete).
  const std::optional<std::string>& nextCursor() const { return nextCursor_; }
  // True when the last page added had no `nextCursor`: every page has been merged.
  bool complete() const { return !nextCursor_.has_value(); }

  // By key, in byte order.
  const std::map<std::string, Definition>& items() const { return items_; }
  const Definition* find(std::string_view key) const;
  size_t size() const { return items_.size(); }

  // "sha256:<64 lowercase hex>" (above). The manifest with no items hashes "{}".
  const std::string& hash() const { return hash_; }
  const ListKind& kind() const { return *kind_; }

private:
  void rehash();

  const ListKind* kind_;
  std::map<std::string, Definition> items_;
  std::optional<std::string> nextCursor_;
  std::string hash_;
};

// The answers to `tools/list`.
class ToolManifest : public DefinitionManifest {
public:
  ToolManifest() : DefinitionManifest(kToolList) {}
  Status addTool(std::string_view json) { return addItem(json); }
  const std::map<std::string, ToolDefinition>& tools() const { return items(); }
};

// The answers to `resources/list`, by URI. (Resource templates, `resources/templates/list`, are
// not covered.)
class ResourceManifest : public DefinitionManifest {
public:
  ResourceManifest() : DefinitionManifest(kResourceList) {}
  Status addResource(std::string_view json) { return addItem(json); }
  const std::map<std::string, ResourceDefinition>& resources() const { return items(); }
};

// The answers to `prompts/list`.
class PromptManifest : public DefinitionManifest {
public:
  PromptManifest() : DefinitionManifest(kPromptList) {}
  Status addPrompt(std::string_view json) { return addItem(json); }
  const std::map<std::string, PromptDefinition>& prompts() const { return items(); }
};

// A pin as an operator writes it: "sha256:" + 64 hex digits, or the 64 digits alone, either case.
// Returns the form hash() prints ("sha256:" + lowercase hex), else an error saying what a pin
// looks like. For --drift-baseline.
Result<std::string> parseManifestHash(std::string_view text);

} // namespace sidecar::drift
