#pragma once
// What changed between two manifests (tools, resources, prompts), how much it matters, and how to
// say it.
//
// Severity of one event (docs/drift.md, "Severity", has the reasons):
//   critical  the description or the input schema of a tool that was there before changed
//   warning   a tool was added; the annotations or the output schema of a tool changed; the
//             description, URI, MIME type or arguments of a resource or prompt changed
//   info      a tool, resource or prompt was removed; a resource or prompt was added; only the
//             title (or a resource's name) changed
// A changed item takes the highest severity among its changed fields. A report that cannot say
// which tools changed (a pinned hash without a stored baseline, an unreadable tools/list) is
// critical: the change may be anything; so is an unreadable resources/list or prompts/list. Pure
// values; thread-safe.

#include <string>
#include <string_view>
#include <vector>

#include "drift/manifest.h"

namespace sidecar::drift {

enum class Severity { Info = 0, Warning = 1, Critical = 2 };
// "info", "warning", "critical": the `severity` label of mcp_sidecar_drift_events_total.
const char* severityName(Severity severity);

enum class ChangeKind { Added, Removed, Changed };
// "added", "removed", "changed".
const char* changeKindName(ChangeKind kind);

// The severity of a change to `field` (one of kHashedFields) of a tool that stays.
Severity fieldSeverity(std::string_view field);
// The same for a member of `kind`'s hashedFields (a tool's, a resource's, a prompt's).
Severity fieldSeverity(const ListKind& kind, std::string_view field);

struct FieldChange {
  std::string field; // a member of kHashedFields other than "name"
  Severity severity = Severity::Info;
  // One line for people, e.g. `description grew from 30 to 120 bytes; appended: ". Ignore…"`.
  // Text taken from the server is quoted as JSON strings and cut, so it cannot forge log lines.
  std::string summary;
};

// One tool, resource or prompt that was added, removed or changed.
struct ToolChange {
  // The item's key: a tool's or prompt's name, a resource's URI.
  std::string tool;
  ChangeKind kind = ChangeKind::Changed;
  Severity severity = Severity::Info;
  std::vector<FieldChange> fields; // Changed: every changed field, in canonical order
  std::string oldHash;             // item hash in the baseline; empty for Added
  std::string newHash;             // item hash now; empty for Removed
  // One line, e.g. `changed "get-sum": description grew …`; an added item's line quotes the start
  // of its description.
  std::string summary;
  // A resource's `name` member (its name now, or before when removed): AIM names resources by it,
  // not by URI, so riskSeverity() tests it. Empty for tools and prompts.
  std::string resourceName;
};
using ItemChange = ToolChange;

// What changed in a list other than tools (resources/list, prompts/list). Reported, never refused.
struct ListDrift {
  std::string baselineHash; // "sha256:…" of the list's baseline; empty before one was learned
  std::string currentHash;  // of the last complete list; empty before one or when unreadable
  // Non-empty when the last list could not be read: why. `changes` is then empty.
  std::string unreadable;
  std::vector<ItemChange> changes; // by key

  // True when the list differs from its baseline (or could not be read).
  bool drifted() const { return !unreadable.empty() || !changes.empty(); }
  // The keys of the items with this kind of change, in key order.
  std::vector<std::string> names(ChangeKind kind) const;
};

// The difference between the baseline and the current definitions. The members above
// `resources` are the tools' (as before resources and prompts were compared); when the tools did
// not drift, `changes` is empty and the hashes are equal (or `currentHash` empty before any list).
struct DriftReport {
  std::string baselineHash; // "sha256:…" of the tools' baseline (or the pin)
  std::string currentHash;  // "sha256:…" now; empty when the list was unreadable
  // False when only the baseline's hash is known (pinned, no stored baseline with that hash):
  // the hashes differ but `changes` is empty.
  bool detailed = true;
  // Non-empty when the current tools/list could not be read: why. `changes` is then empty.
  std::string unreadable;
  std::vector<ToolChange> changes; // by tool name
  ListDrift resources;             // by URI
  ListDrift prompts;               // by name

  // True when the tools differ from their baseline, or which do is unknown.
  bool toolsDrifted() const { return !detailed || !unreadable.empty() || !changes.empty(); }
  // What drifted, for messages: "tool", "resource", "tool and prompt", "tool, resource and
  // prompt"; "tool" when nothing did.
  std::string subject() const;
  // The highest severity among the events (below); info without events.
  Severity severity() const;
  // One severity per event: one per entry of `changes` (or a single critical event for tools
  // without details), then one per resource change and one per prompt change (or a single
  // critical event for an unreadable list).
  std::vector<Severity> events() const;
  // The names of the tools with this kind of change, by name.
  std::vector<std::string> tools(ChangeKind kind) const;
  // One line for the log, at most about 4 KiB (then "… N more").
  std::string summary() const;
  // Compact JSON (docs/drift.md, "Reports"): the audit record's detail and /status's last report.
  std::string toJson() const;
};

// The severity of a whole report as AIM rates manifest drift (and issue 6 asks): "high" when an
// added or changed tool's or prompt's name, or resource's `name` member, contains one of AIM's
// risky tokens (exec shell command spawn eval file fs read_file write_file delete http fetch
// request network socket secret credential token env; lowercased as Go does: aimRiskyName() in
// aim_manifest.h), or when the report cannot say what changed (tools without details, a list that
// could not be read); else "medium" when anything was removed or changed; else "low" (items only
// added). The label of mcp_sidecar_drift_events_total and the audit record's outcome; the
// per-field severities above stay in the report's detail.
const char* riskSeverity(const DriftReport& report);

// Everything that differs between two manifests of the same kind, item by item in key order. The
// severities follow the kind (fieldSeverity()). Empty: no drift.
std::vector<ItemChange> compareItems(const DefinitionManifest& baseline,
                                     const DefinitionManifest& current);

// Everything that differs between `baseline` and `current`, tool by tool. An empty `changes`
// (and equal hashes) means no drift.
DriftReport compare(const ToolManifest& baseline, const ToolManifest& current);

// The same for a resources/list or prompts/list: its part of a DriftReport.
ListDrift compareList(const DefinitionManifest& baseline, const DefinitionManifest& current);

// The report when only the pinned hash `pinned` is known: detailed = false.
DriftReport comparePinned(std::string_view pinned, const ToolManifest& current);

} // namespace sidecar::drift
