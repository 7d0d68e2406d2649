#pragma once
// MCP-level metrics (spec/cli.md): requests by method, tool and outcome, and request duration by
// method, on prometheus-cpp's own counters and histograms (atomic, any thread).
//
// Label values are bounded: `method` is one of MCP's methods or "other"; `tool` is a name from
// the server's own tool list (setTools), "other" for any other name, and empty for methods that
// are not tools/call. A caller can therefore not grow the series by inventing names.

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sidecar::metrics {

class McpMetrics {
public:
  McpMetrics();

  // The tool names the server listed (replaces the previous list).
  void setTools(const std::vector<std::string>& names);
  // Adds names (a page of a tools/list seen passing through).
  void addTools(const std::vector<std::string>& names);
  // One answered (or refused) request. `outcome`: ok, tool_error, rpc_error, rejected,
  // upstream_error. `seconds` < 0: no duration (a refusal before any work).
  void observe(std::string_view method, std::string_view tool, std::string_view outcome,
               double seconds);

  // A drift report of `severity` (high, medium, low: drift::riskSeverity).
  void driftEvent(std::string_view severity);

  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

private:
  static constexpr size_t kMethodSlots = 22; // MCP's methods (mcp_metrics.cc) and "other"

  std::string_view toolLabelLocked(std::string_view method, std::string_view tool) const;

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* duration_;
  prometheus::Family<prometheus::Counter>* drift_;
  std::mutex mu_;
  std::set<std::string, std::less<>> tools_;
  // The series already made, so that a request costs one hash lookup instead of building a label
  // map and hashing it in prometheus-cpp (a few allocations per call). Bounded by the label
  // cardinality above.
  std::unordered_map<std::string, prometheus::Counter*> counters_;
  std::array<std::atomic<prometheus::Histogram*>, kMethodSlots> durations_{};
};

// The method label for `method`: itself when MCP defines it, else "other".
std::string_view methodLabel(std::string_view method);

} // namespace sidecar::metrics
