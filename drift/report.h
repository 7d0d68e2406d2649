#pragma once
// What changed between two tool manifests, how much it matters, and how to say it.
//
// Severity of one event (docs/drift.md, "Severity", has the reasons):
//   critical  the description or the input schema of a tool that was there before changed
//   warning   a tool was added; the annotations or the output schema of a tool changed
//   info      a tool was removed; only the title of a tool changed
// A changed tool takes the highest severity among its changed fields. A report that cannot say
// which tools changed (a pinned hash without a stored baseline, an unreadable tools/list) is
// critical: the change may be anything. Pure values; thread-safe.

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

struct FieldChange {
  std::string field; // a member of kHashedFields other than "name"
  Severity severity = Severity::Info;
  // One line for people, e.g. `description grew from 30 to 120 bytes; appended: ". Ignore…"`.
  // Text taken from the server is quoted as JSON strings and cut, so it cannot forge log lines.
  std::string summary;
};

struct ToolChange {
  std::string tool;
  ChangeKind kind = ChangeKind::Changed;
  Severity severity = Severity::Info;
  std::vector<FieldChange> fields; // Changed: every changed field, in kHashedFields order
  std::string oldHash;             // tool hash in the baseline; empty for Added
  std::string newHash;             // tool hash now; empty for Removed
  // One line, e.g. `changed "get-sum": description grew …`; an added tool's line quotes the start
  // of its description.
  std::string summary;
};

struct DriftReport {
  std::string baselineHash; // "sha256:…" of the baseline (or the pin)
  std::string currentHash;  // "sha256:…" now; empty when the list was unreadable
  // False when only the baseline's hash is known (pinned, no stored baseline with that hash):
  // the hashes differ but `changes` is empty.
  bool detailed = true;
  // Non-empty when the current tools/list could not be read: why. `changes` is then empty.
  std::string unreadable;
  std::vector<ToolChange> changes; // by tool name

  // The highest severity among the events (below).
  Severity severity() const;
  // One severity per event, for mcp_sidecar_drift_events_total: one per entry of `changes`, or a
  // single critical event for a report without details.
  std::vector<Severity> events() const;
  // The names of the tools with this kind of change, by name.
  std::vector<std::string> tools(ChangeKind kind) const;
  // One line for the log, at most about 4 KiB (then "… N more").
  std::string summary() const;
  // Compact JSON (docs/drift.md, "Reports"): the audit record's detail and /status's last report.
  std::string toJson() const;
};

// The severity of a whole report as AIM rates manifest drift (and issue 6 asks): "high" when an
// added or changed tool's name contains one of AIM's risky tokens (exec shell command spawn eval
// file fs read_file write_file delete http fetch request network socket secret credential token
// env; lowercased as Go does: aimRiskyName() in aim_manifest.h), or when the report cannot say
// what changed; else "medium" when a tool was removed or changed; else "low" (tools only added).
// The label of mcp_sidecar_drift_events_total and the audit record's outcome; the per-field
// severities above stay in the report's detail.
const char* riskSeverity(const DriftReport& report);

// Everything that differs between `baseline` and `current`, tool by tool. An empty `changes`
// (and equal hashes) means no drift.
DriftReport compare(const ToolManifest& baseline, const ToolManifest& current);

// The report when only the pinned hash `pinned` is known: detailed = false.
DriftReport comparePinned(std::string_view pinned, const ToolManifest& current);

} // namespace sidecar::drift
