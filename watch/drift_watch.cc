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

// What changed in a resources/list or prompts/list, for the log line: e.g.
// "added=file:///b.txt;changed=file:///a.txt", "unreadable", or "" when nothing did.
std::string listChanges(const drift::ListDrift& d) {
  if (!d.unreadable.empty())
    return "unreadable";
  std::string out;
  for (drift::ChangeKind kind :
       {drift::ChangeKind::Added, drift::ChangeKind::Removed, drift::ChangeKind::Changed}) {
    std::string names = joined(d.names(kind));
    if (names.empty())
      continue;
    out += (out.empty() ? "" : ";") + std::string(drift::changeKindName(kind)) + "=" + names;
  }
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

void DriftWatch::observeList(const drift::DefinitionManifest& current) {
  std::lock_guard<std::mutex> g(mu_);
  if (auto report = detector_->observeList(current))
    reported(*report);
}

void DriftWatch::observeUnreadable(const drift::ListKind& kind, std::string_view reason) {
  std::lock_guard<std::mutex> g(mu_);
  if (auto report = detector_->observeUnreadable(kind, reason))
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
  log::warn("the MCP server's " + report.subject() + " definitions changed (drift)",
            {{"server", server_},
             {"severity", severity},
             {"change_severity", drift::severityName(report.severity())},
             {"added", joined(report.tools(drift::ChangeKind::Added))},
             {"removed", joined(report.tools(drift::ChangeKind::Removed))},
             {"changed", joined(report.tools(drift::ChangeKind::Changed))},
             {"resources", listChanges(report.resources)},
             {"prompts", listChanges(report.prompts)},
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

Status DriftWatch::accept() {
  std::lock_guard<std::mutex> g(mu_);
  Status st = detector_->accept();
  if (!st.ok()) {
    log::error("drift accept failed", {{"error", st.message()}});
    return st;
  }
  log::info("the current definitions are the new drift baseline",
            {{"baseline", detector_->state().baselineHash}});
  if (audit_) {
    audit::AuditRecord r;
    r.kind = audit::RecordKind::Drift;
    r.outcome = "accepted";
    r.reason = "an operator accepted the current tool, resource and prompt definitions";
    r.detail = detector_->state().toJson();
    audit_->append(std::move(r));
  }
  return st;
}

} // namespace sidecar::watch
