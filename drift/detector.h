#pragma once
// Drift detection: compares every complete tools/list the server gives with the baseline, says
// what changed, and with --drift-policy block refuses calls to tools whose definitions changed
// until a person accepts them (docs/drift.md).
//
// The baseline is, in order: the stored baseline file; with --drift-baseline HASH, the pinned hash
// (per-tool details come from the stored file only when its manifest has that hash); otherwise
// the first complete tools/list seen, learned and saved. accept() makes the current definitions
// the baseline. Not thread-safe: one thread (the one that sees tools/list answers) owns it and
// calls everything, including state() for /status. Baseline saves are blocking file writes of a
// few KB, made only on first sight and on accept().

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

// A snapshot for /status (toJson()) and for tests.
struct DriftState {
  DriftPolicy policy = DriftPolicy::Alert;
  std::string baselineHash;      // "sha256:…"; empty while nothing is learned and nothing pinned
  std::string baselineLearnedAt; // empty without a stored or learned baseline
  bool pinned = false;           // the baseline is the --drift-baseline hash
  bool detailed = false;         // per-tool definitions of the baseline are known
  std::string currentHash; // of the last complete tools/list; empty before one (or unreadable)
  std::string unreadable;  // why the last tools/list could not be read; empty when it could
  bool drifted = false;    // the current definitions differ from the baseline, unaccepted
  // Tools added or changed since the baseline and not accepted: refused under `block`.
  std::vector<std::string> pendingTools;
  bool pendingAll = false;  // which tools changed is unknown: under `block`, all are refused
  std::string persistError; // why the last baseline save failed; empty when it did not
  std::optional<DriftReport> lastReport; // the latest drift reported (kept after accept())

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

  // Makes the current definitions the baseline (origin "accepted"), saves them, and clears the
  // drift and the pin. Errors, changing nothing: no complete tools/list seen yet, the last one was
  // unreadable, the save failed (naming the file).
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
  explicit DriftDetector(DriftOptions options);
  std::string expectedHash() const;
  void learn(const ToolManifest& manifest);
  void clearDrift();
  std::optional<DriftReport> record(DriftReport report, std::string key);

  DriftOptions options_;
  std::optional<Baseline> baseline_;
  std::string pin_; // normalized pinned hash while the pin is the baseline
  std::optional<ToolManifest> current_;
  std::string unreadable_;
  bool drifted_ = false;
  std::set<std::string, std::less<>> pending_;
  bool pendingAll_ = false;
  std::string lastReportedKey_; // what the last report was about: a hash, or "!" + reason
  std::optional<DriftReport> lastReport_;
  std::string persistError_;
};

} // namespace sidecar::drift
