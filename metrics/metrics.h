#pragma once
// The Prometheus registry of the sidecar: the metric families of docs/metrics.md, built at scrape
// time from the workers' counters (metrics/stats.h) and a few process-wide gauges.

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "metrics/stats.h"

namespace prometheus {
class Collectable;
}

namespace sidecar::metrics {

// Process-wide state the admin loop owns.
struct ProcessState {
  std::atomic<int> upstreamUp{0};
  const verifier::ReplayCache* replay = nullptr; // null when verification is off
  std::atomic<int64_t> trustStoreKeys{0};
  std::atomic<uint64_t> trustStoreReloads{0};
  std::atomic<uint64_t> trustStoreReloadFailures{0};
  // stdio upstream (bridge/): MCP sessions open, child restarts after a crash.
  std::atomic<int64_t> sessionsActive{0};
  std::atomic<uint64_t> childRestarts{0};
  bool stdioUpstream = false;
  // The audit trail's counters (records written, write errors); unset when there is none.
  std::function<std::pair<uint64_t, uint64_t>()> auditCounts;
};

class Metrics {
public:
  // `workers` must outlive this object; they are read, never written, here.
  Metrics(std::vector<const WorkerStats*> workers, const ProcessState* process);
  ~Metrics();

  // More families to serialize (e.g. McpMetrics' registry). Before serialize() runs.
  void add(std::shared_ptr<prometheus::Collectable> c);

  // Prometheus text exposition format (version 0.0.4) of every family.
  std::string serialize() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace sidecar::metrics
