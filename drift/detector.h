#pragma once
// Drift detection: compares every complete tools/list (and resources/list, prompts/list) the
// server gives with the baseline, says what changed, and with --drift-policy block refuses calls
// to tools whose definitions changed until a person accepts them (docs/drift.md). Resources and
// prompts are reported only: nothing is refused because of them.
//
// The tools' baseline is, in order: the stored baseline file; with --drift-baseline HASH, the
// pinned hash (per-tool details come from the stored file only when its manifest has that hash);
// otherwise the first complete tools/list seen, learned and saved. The resources' and prompts'
// baselines are the stored file's when it has them, else the first complete list seen (a file
// from before they were compared has none: they are learned then, not reported as removed).
// accept() makes the current definitions the baseline. Not thread-safe: one thread (the one that
// sees list answers) owns it and calls everything, including state() for /status. Baseline saves
// are blocking file writes of a few KB, made only on first sight and on accept().

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "drift/baseline.h"
#include "drift/manifest.h"
#include "drift/report.h"

namespace sidecar::drift {

enum class DriftPolicy { Alert, Block };
// "alert", "block".
const char* policyName(DriftPolicy policy);
// Parses --drift-policy; the error names the flag, the value and what is allowed.
Result<DriftPolicy> parseDriftPolicy(std::string_view text);

struct DriftOptions {
  // Where the baseline is kept (normally <state-dir>/drift-baseline.json); empty: in memory only.
  std::string baselinePath;
  DriftPolicy policy = DriftPolicy::Alert;
  // --drift-baseline: the expected manifest hash, in any form parseManifestHash() takes. Empty:
  // learn the baseline on first sight.
  std::string pinnedHash;
  // RFC 3339 UTC time for `learned_at`; rfc3339Now() when empty (tests inject a fixed clock).
  std::function<std::string()> now;
};

// The drift of a resources/list or prompts/list, for /status.
struct ListStatus {
  std::string baselineHash; // empty before the list was seen
  std::string currentHash;  // of the last complete list; empty before one (or unreadable)
  std::string unreadable;   // why the last list could not be read; empty when it could
  bool drifted = false;     // the list differs from its baseline (or is unreadable), unaccepted
};

// A snapshot for /status (toJson()) and for tests.
struct DriftState {
  DriftPolicy policy = DriftPolicy::Alert;
  std::string baselineHash;      // "sha256:…"; empty while nothing is learned and nothing pinned
  std::string baselineLearnedAt; // empty without a stored or learned baseline
  bool pinned = false;           // the baseline is the --drift-baseline hash
  bool detailed = false;         // per-tool definitions of the baseline are known
  std::string currentHash; // of the last complete tools/list; empty before one (or unreadable)
  std::string unreadable;  // why the last tools/list could not be read; empty when it could
  // The current definitions (tools, resources or prompts) differ from the baseline, unaccepted.
  bool drifted = false;
  // Tools added or changed since the baseline and not accepted: refused under `block`.
  std::vector<std::string> pendingTools;
  bool pendingAll = false;  // which tools changed is unknown: under `block`, all are refused
  std::string persistError; // why the last baseline save failed; empty when it did not
  std::optional<DriftReport> lastReport; // the latest drift reported (kept after accept())
  ListStatus resources;
  ListStatus prompts;

  // Compact JSON (docs/drift.md, "Status").
  std::string toJson() const;
};

class DriftDetector;
using DriftDetectorPtr = std::unique_ptr<DriftDetector>;

class DriftDetector {
public:
  // Loads the baseline from options.baselinePath when there is one there. Errors: a pinned hash
  // that parseManifestHash() refuses, a baseline file that Baseline::load() refuses (corrupt: the
  // caller should fail to start with the message, which names the file).
  static Result<DriftDetectorPtr> create(DriftOptions options);

  // One complete tool list (every page merged). Precondition: none (a manifest that is not
  // complete() is ignored and nullopt returned, since its missing pages would look like removed
  // tools). Returns a report when this list differs from the baseline and differs from the last
  // list reported, so a server that keeps serving the same changed list is reported once; nullopt
  // when nothing new drifted. On first sight without a pin, learns the list and saves it (a save
  // error is logged and kept in state().persistError; the baseline still holds in memory). A list
  // equal to the pinned hash is saved as the detailed baseline for that pin. A list back at the
  // baseline clears the drift without a report.
  std::optional<DriftReport> observe(const ToolManifest& current);

  // A tools/list answer that could not be read (ToolManifest::addPage() failed, or its pages never
  // ended): `reason` says why. Such a list may hide anything, so it counts as critical drift with
  // no details: under `block` every tool is refused until a readable list matches the baseline
  // or is accepted. Returns a report unless the same reason was the last one reported.
  std::optional<DriftReport> observeUnreadable(std::string_view reason);

  // One complete resources/list or prompts/list (every page merged): `current.kind()` is
  // kResourceList or kPromptList (a tools manifest goes to observe() above, and is ignored here).
  // Compared with that list's baseline; on first sight (none stored) it is learned, and saved
  // with the tools' baseline once there is one. Returns a report (every list's drift, tools
  // included) when this list's drift is new, as observe() does; nullopt otherwise, and for a
  // manifest that is not complete(). Refuses nothing, whatever the policy.
  std::optional<DriftReport> observeList(const DefinitionManifest& current);
  // A resources/list or prompts/list that could not be read: reported (critical, no details) once
  // per reason, and refuses nothing. For kToolList, the same as observeUnreadable(reason).
  std::optional<DriftReport> observeUnreadable(const ListKind& kind, std::string_view reason);

  // Makes the current definitions the baseline (origin "accepted"), saves them, and clears the
  // drift and the pin. Errors, changing nothing: no complete tools/list seen yet, the last one was
  // unreadable, the save failed (naming the file). A resources/list or prompts/list whose last
  // answer was unreadable keeps its baseline (there is nothing to accept) and stays drifted.
  Status accept();

  // True when a tools/call of `tool` must be refused: the policy is `block` and the tool was added
  // or changed since the baseline (or which tools changed is unknown) and nobody accepted it.
  // Tools the baseline knows and that did not change are never refused.
  bool blocks(std::string_view tool) const;

  DriftState state() const;
  DriftPolicy policy() const { return options_.policy; }
  // The detailed baseline, when there is one.
  const Baseline* baseline() const { return baseline_ ? &*baseline_ : nullptr; }

private:
  // A resources/list or prompts/list.
  struct ListState {
    std::optional<DefinitionManifest> baseline; // nullopt: not seen yet
    std::optional<DefinitionManifest> current;  // the last complete list; nullopt when unreadable
    std::string unreadable;
    std::string lastReportedKey; // as lastReportedKey_, for this list

    ListDrift drift() const;
  };

  explicit DriftDetector(DriftOptions options);
  std::string expectedHash() const;
  void learn(const ToolManifest& manifest);
  // Saves `b` (on first sight: a failure is logged and kept in persistError_).
  void persist(const Baseline& b);
  void clearDrift();
  std::optional<DriftReport> record(DriftReport report, std::string key);
  std::optional<DriftReport> recordList(ListState& list, std::string key);
  ListState* listState(const ListKind& kind);
  // Every list's drift now: the tools' part from toolReport_.
  DriftReport fullReport() const;

  DriftOptions options_;
  std::optional<Baseline> baseline_;
  std::string pin_; // normalized pinned hash while the pin is the baseline
  std::optional<ToolManifest> current_;
  std::string unreadable_;
  bool drifted_ = false;
  std::set<std::string, std::less<>> pending_;
  bool pendingAll_ = false;
  std::string lastReportedKey_;           // what the last report was about: a hash, or "!" + reason
  std::optional<DriftReport> toolReport_; // the tools' drift while drifted_
  std::optional<DriftReport> lastReport_;
  ListState resources_;
  ListState prompts_;
  std::string persistError_;
};

} // namespace sidecar::drift
