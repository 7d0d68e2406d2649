#include "watch/drift_watch.h"

#include "audit/writer.h"
#include "common/log.h"
#include "metrics/mcp_metrics.h"

namespace sidecar::watch {

namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names)
    out += (out.empty() ? "" : ",") + n;
  return out;
}

} // namespace

DriftWatch::DriftWatch(std::unique_ptr<drift::DriftDetector> detector, std::string server,
                       audit::AuditSink* audit, metrics::McpMetrics* mcp)
    : detector_(std::move(detector)), policy_(detector_->policy()), server_(std::move(server)),
      audit_(audit), mcp_(mcp) {}

void DriftWatch::observe(const drift::ToolManifest& current) {
  std::lock_guard<std::mutex> g(mu_);
  if (auto report = detector_->observe(current))
    reported(*report);
}

void DriftWatch::observeUnreadable(std::string_view reason) {
  std::lock_guard<std::mutex> g(mu_);
  if (auto report = detector_->observeUnreadable(reason))
    reported(*report);
}

bool DriftWatch::blocks(std::string_view tool) const {
  if (policy_ != drift::DriftPolicy::Block)
    return false;
  std::lock_guard<std::mutex> g(mu_);
  return detector_->blocks(tool);
}

std::string DriftWatch::stateJson() const {
  std::lock_guard<std::mutex> g(mu_);
  return detector_->state().toJson();
}

// Called with mu_ held. The audit append may wait while the trail's queue is full (back-pressure):
// drift is rare, and the record must not be lost.
void DriftWatch::reported(const drift::DriftReport& report) {
  const char* severity = drift::riskSeverity(report);
  log::warn("the MCP server's tool definitions changed (drift)",
            {{"server", server_},
             {"severity", severity},
             {"change_severity", drift::severityName(report.severity())},
             {"added", joined(report.tools(drift::ChangeKind::Added))},
             {"removed", joined(report.tools(drift::ChangeKind::Removed))},
             {"changed", joined(report.tools(drift::ChangeKind::Changed))},
             {"summary", report.summary()},
             {"baseline", report.baselineHash},
             {"current", report.currentHash},
             {"policy", drift::policyName(policy_)},
             {"hint", "review the change, then accept it: mcp-sidecar drift accept"}});
  if (mcp_)
    mcp_->driftEvent(severity);
  if (audit_) {
    audit::AuditRecord r;
    r.kind = audit::RecordKind::Drift;
    r.outcome = severity;
    r.reason = report.summary();
    r.detail = report.toJson();
    audit_->append(std::move(r));
  }
  if (onReport_)
    onReport_(report);
}

void DriftWatch::accept() {
  std::lock_guard<std::mutex> g(mu_);
  Status st = detector_->accept();
  if (!st.ok()) {
    log::error("drift accept failed", {{"error", st.message()}});
    return;
  }
  log::info("the current tool definitions are the new drift baseline",
            {{"baseline", detector_->state().baselineHash}});
  if (audit_) {
    audit::AuditRecord r;
    r.kind = audit::RecordKind::Drift;
    r.outcome = "accepted";
    r.reason = "an operator accepted the current tool definitions";
    r.detail = detector_->state().toJson();
    audit_->append(std::move(r));
  }
}

} // namespace sidecar::watch
