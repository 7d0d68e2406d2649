#pragma once
// Tool-definition drift as the running sidecar sees it (docs/drift.md): the detector (drift/), and
// what a report sets off — a log line, the drift metric, an audit record — in one place for both
// upstream modes (the stdio bridge's own lists, the HTTP upstream's lister). Resources and prompts
// are watched the same way, and never refused.
//
// Thread-safe: one mutex around the detector. The callers are the bridge's thread or the lister
// (observe), workers (blocks) and the admin loop (accept, stateJson); none is on a hot path but
// blocks(), which takes the lock only under --drift-policy block.

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "drift/detector.h"

namespace sidecar::audit {
class AuditSink;
}
namespace sidecar::metrics {
class McpMetrics;
}

namespace sidecar::watch {

class DriftWatch {
public:
  // `audit` and `mcp` may be null. `server` names the server in logs.
  DriftWatch(std::unique_ptr<drift::DriftDetector> detector, std::string server,
             audit::AuditSink* audit, metrics::McpMetrics* mcp);

  // One complete tool list; reports drift against the baseline.
  void observe(const drift::ToolManifest& current);
  // A tool list that could not be read: fails closed (see DriftDetector::observeUnreadable).
  void observeUnreadable(std::string_view reason);
  // One complete resources/list or prompts/list (DriftDetector::observeList); reported, never
  // refused.
  void observeList(const drift::DefinitionManifest& current);
  // A resources/list or prompts/list (or, for drift::kToolList, a tool list) that could not be
  // read.
  void observeUnreadable(const drift::ListKind& kind, std::string_view reason);
  // An operator accepted the current definitions (mcp-sidecar drift accept). Returns
  // DriftDetector::accept()'s error, changing nothing, when there is nothing to accept or the
  // baseline cannot be saved; the caller tells the operator.
  Status accept();
  // Whether a tools/call of `tool` is refused now (--drift-policy block).
  bool blocks(std::string_view tool) const;
  drift::DriftPolicy policy() const { return policy_; }
  // Before the first observe(): also tell someone else of each report (AIM's detection report).
  // Called with the watch's lock held; must not call back into the watch.
  void setOnReport(std::function<void(const drift::DriftReport&)> f) { onReport_ = std::move(f); }
  // The detector's state as JSON (GET /status "drift").
  std::string stateJson() const;

private:
  void reported(const drift::DriftReport& report);

  mutable std::mutex mu_;
  std::unique_ptr<drift::DriftDetector> detector_;
  const drift::DriftPolicy policy_;
  const std::string server_;
  audit::AuditSink* audit_;
  metrics::McpMetrics* mcp_;
  std::function<void(const drift::DriftReport&)> onReport_;
};

} // namespace sidecar::watch
