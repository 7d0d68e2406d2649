#include "metrics/mcp_metrics.h"

namespace sidecar::metrics {

namespace {
constexpr std::string_view kMethods[] = {
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
    "tasks/get",
    "tasks/list",
    "tasks/result",
    "tasks/cancel",
    "notifications/initialized",
    "notifications/cancelled",
    "notifications/progress",
    "notifications/roots/list_changed",
};

// Seconds: MCP calls range from sub-millisecond lookups to minutes-long tools.
const prometheus::Histogram::BucketBoundaries kBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};

// The index of `method` in kMethods, or the count of kMethods for "other".
size_t methodSlot(std::string_view method) {
  size_t i = 0;
  for (std::string_view m : kMethods) {
    if (m == method)
      return i;
    ++i;
  }
  return i;
}
} // namespace

std::string_view methodLabel(std::string_view method) {
  size_t slot = methodSlot(method);
  return slot < std::size(kMethods) ? kMethods[slot] : "other";
}

McpMetrics::McpMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  requests_ = &prometheus::BuildCounter()
                   .Name("mcp_sidecar_requests_total")
                   .Help("MCP requests answered or refused, by method, tool (tools/call) and "
                         "outcome (ok, tool_error, rpc_error, rejected, upstream_error).")
                   .Register(*registry_);
  duration_ = &prometheus::BuildHistogram()
                   .Name("mcp_sidecar_request_duration_seconds")
                   .Help("Time from an MCP request's arrival to its final answer, by method.")
                   .Register(*registry_);
  drift_ = &prometheus::BuildCounter()
                .Name("mcp_sidecar_drift_events_total")
                .Help("Changes of the server's tool definitions against the baseline, by "
                      "severity: high, medium, low (docs/drift.md).")
                .Register(*registry_);
  for (const char* sev : {"high", "medium", "low"})
    drift_->Add({{"severity", sev}}); // present at 0 from the start, so alerts can use rate()
}

void McpMetrics::driftEvent(std::string_view severity) {
  drift_->Add({{"severity", std::string(severity)}}).Increment();
}

void McpMetrics::setTools(const std::vector<std::string>& names) {
  std::lock_guard<std::mutex> g(mu_);
  tools_.clear();
  tools_.insert(names.begin(), names.end());
}

void McpMetrics::addTools(const std::vector<std::string>& names) {
  std::lock_guard<std::mutex> g(mu_);
  // Bounded like the label set it feeds: a server listing more tools than this is labelled other.
  for (const std::string& n : names)
    if (tools_.size() < 10000)
      tools_.insert(n);
}

std::string_view McpMetrics::toolLabelLocked(std::string_view method, std::string_view tool) const {
  if (method != "tools/call")
    return {};
  return tools_.count(tool) ? tool : std::string_view("other");
}

void McpMetrics::observe(std::string_view method, std::string_view tool, std::string_view outcome,
                         double seconds) {
  static_assert(std::size(kMethods) + 1 == kMethodSlots);
  size_t slot = methodSlot(method);
  std::string_view m = slot < std::size(kMethods) ? kMethods[slot] : "other";
  prometheus::Counter* counter;
  {
    thread_local std::string key; // reused: no allocation once it has grown
    std::lock_guard<std::mutex> g(mu_);
    std::string_view t = toolLabelLocked(m, tool);
    key.assign(m).append(1, '\x1f').append(t).append(1, '\x1f').append(outcome);
    auto it = counters_.find(key);
    if (it == counters_.end()) {
      prometheus::Counter& c = requests_->Add({{"method", std::string(m)},
                                               {"tool", std::string(t)},
                                               {"outcome", std::string(outcome)}});
      it = counters_.emplace(key, &c).first;
    }
    counter = it->second;
  }
  counter->Increment();
  if (seconds < 0)
    return;
  prometheus::Histogram* h = durations_[slot].load(std::memory_order_acquire);
  if (!h) {
    // Family::Add returns the existing series when another thread made it first.
    h = &duration_->Add({{"method", std::string(m)}}, kBuckets);
    durations_[slot].store(h, std::memory_order_release);
  }
  h->Observe(seconds);
}

} // namespace sidecar::metrics
