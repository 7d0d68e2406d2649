#pragma once
// AIM's MCP manifest hash and manifest-drift severity (shared/reference/aim-wire.md §11), computed
// byte for byte as AIM computes them, so that the sidecar's verdicts match AIM's.
//
// AIM (Go, `apps/backend/internal/domain/mcp_manifest.go`) hashes one entry per capability:
//   schemaHash    = hex(SHA-256(goJsonMarshal(stored schema))), or of the stored bytes themselves
//                   when they are empty or not JSON Go can decode
//   manifest hash = hex(SHA-256(concat over entries sorted by (type, name) of
//                                type 0x1F name 0x1F schemaHash 0x1E)))
// with the stored schema of aim-wire.md §10: a tool's `inputSchema`; a resource's
// {"mimeTypes": [...] or null, "uri": "..."}; a prompt's {"arguments": [...] or null}.
// docs/drift.md, "The AIM manifest hash", has every byte and a worked example.
//
// This is a second, separate digest: the sidecar's own drift hash (manifest.h) keeps numbers as
// written and covers descriptions; AIM's covers schemas only and goes through float64.
// Pure functions; thread-safe; no I/O.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "drift/manifest.h"

namespace sidecar::drift {

// Go's encoding/json refuses documents nested deeper than this (scanner.go, maxNestingDepth).
inline constexpr size_t kGoMaxJsonDepth = 10000;

// The bytes Go's `json.Marshal(v)` writes after `json.Unmarshal(text, &v)` into `interface{}`,
// as encoding/json of Go 1.22 and later does it (AIM builds with Go 1.24):
//   * objects with their members sorted by the bytes of their (decoded) names; a name given twice
//     keeps its last value; arrays in order; no whitespace;
//   * numbers through float64: the shortest digits that read back to the same float64, written
//     like strconv.AppendFloat(f, 'f', -1, 64), or in 'e' form when 0 < |f| < 1e-6 or
//     |f| >= 1e21, with a one-digit negative exponent unpadded (1e-7, 1e+21, 1.5e+300); -0 stays
//     "-0"; integers beyond 2^53 round as float64 does;
//   * strings: `"` and `\` escaped with a backslash; U+0008, U+0009, U+000A, U+000C, U+000D as
//     \b \t \n \f \r (Go 1.22+; older Go wrote \u0008 and \u000c); other bytes below 0x20 and
//     `<` `>` `&` as \u00XX with lowercase hex; U+2028 and U+2029 as \u2028 \u2029; everything
//     else (DEL and all other non-ASCII) as raw UTF-8. Invalid UTF-8 in the input, and \u escapes
//     that are lone surrogates, become U+FFFD (one per invalid byte, as Go's decoder does),
//     written as its raw UTF-8 bytes EF BF BD.
// Returns nullopt where Go's Unmarshal fails: empty text, a syntax error (RFC 8259 grammar;
// whitespace is space, tab, LF, CR; nothing after the value), nesting deeper than
// kGoMaxJsonDepth, or a number whose magnitude rounds beyond the float64 range (1e400). A number
// too small for float64 becomes 0 (Go's ParseFloat does not fail on underflow).
std::optional<std::string> goJsonMarshal(std::string_view text);

// `text` as Go's json.Marshal writes a string (the escaping above). `text` should be valid UTF-8;
// invalid bytes are written as \ufffd, as Go's encoder does.
void appendGoJsonString(std::string_view text, std::string& out);

// AIM's CanonicalSchemaHash: lowercase hex SHA-256 of goJsonMarshal(schema), or of `schema`
// itself when that is nullopt (invalid or empty JSON is hashed as raw bytes).
std::string aimSchemaHash(std::string_view schema);

// The capability types, as AIM spells them. Entries sort by these strings: prompt < resource <
// tool.
inline constexpr std::string_view kAimTool = "tool";
inline constexpr std::string_view kAimResource = "resource";
inline constexpr std::string_view kAimPrompt = "prompt";

struct AimEntry {
  std::string type;       // kAimTool, kAimResource or kAimPrompt
  std::string name;       // the capability's `name`
  std::string schemaHash; // aimSchemaHash() of the stored schema (empty for AIM's attestations)

  // "<type>:<name>": the key AIM diffs by.
  std::string key() const { return type + ":" + name; }
};

// The schema AIM stores for each kind of capability, as goJsonMarshal() writes it (docs/drift.md,
// "The AIM manifest hash", says which member each value comes from):
//   tool      the tool's `inputSchema`; "null" when it has none
//   resource  {"mimeTypes":M,"uri":U}: M the resource's `mimeTypes` when that is an array, else
//             [`mimeType`] when that is a string, else null
//   prompt    {"arguments":A}: A null when `arguments` is absent or not an array, else one
//             {"description":"…","name":"…","required":bool} per element, each taken from the
//             element's members whose names match case-insensitively as Go's decoder matches
//             struct fields (the last one wins), "" / false when absent or of another type
std::string aimToolSchema(const ToolDefinition& tool);
std::string aimResourceSchema(const ResourceDefinition& resource);
std::string aimPromptSchema(const PromptDefinition& prompt);

// One entry per definition. A resource is named by its `name` member ("" when it has none), not by
// its URI.
AimEntry aimToolEntry(const ToolDefinition& tool);
AimEntry aimResourceEntry(const ResourceDefinition& resource);
AimEntry aimPromptEntry(const PromptDefinition& prompt);

// AIM's manifest hash of `entries` in any order: lowercase hex (AIM stores it without a prefix).
// Entries are sorted by (type, name) as bytes; entries with the same type and name (AIM's table
// keeps only one) are ordered by schemaHash so that the result does not depend on input order.
std::string aimManifestHash(std::vector<AimEntry> entries);

struct AimManifest {
  std::vector<AimEntry> entries; // sorted by (type, name); one per (type, name)
  std::string hash;              // aimManifestHash(entries)
};

// The AIM manifest of what the sidecar learned: one entry per tool, resource and prompt (null
// manifests contribute nothing). Two resources with the same `name` (different URIs) give one
// entry, the first by URI: AIM keeps one capability per (server, name, type), the first stored.
AimManifest aimManifest(const ToolManifest& tools, const ResourceManifest* resources = nullptr,
                        const PromptManifest* prompts = nullptr);

// What changed between two AIM manifests, as AIM's DiffManifests says it: entry keys
// ("<type>:<name>") added, removed, and changed (same key, different schemaHash), each sorted by
// bytes. When a key appears more than once in one list, its last entry counts.
struct AimDiff {
  std::vector<std::string> added;
  std::vector<std::string> removed;
  std::vector<std::string> changed;

  bool empty() const { return added.empty() && removed.empty() && changed.empty(); }
};
AimDiff aimDiff(const std::vector<AimEntry>& previous, const std::vector<AimEntry>& next);

// True when `name`, lowercased as Go's strings.ToLower does, contains one of AIM's high-risk
// hints: exec shell command spawn eval file fs read_file write_file delete http fetch request
// network socket secret credential token env (aim-wire.md §11.3). Besides A-Z, Go lowercases
// U+0130 to "i" and U+212A (Kelvin sign) to "k", so "F\u0130LE" and "TO\u212AEN" match too.
bool aimRiskyName(std::string_view name);

// AIM's ClassifyDriftSeverity: "high" when an added or changed key is aimRiskyName(); else
// "medium" when anything was removed or changed; else "low".
const char* aimDriftSeverity(const AimDiff& diff);

} // namespace sidecar::drift
