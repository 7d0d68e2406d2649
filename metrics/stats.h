#pragma once
// Per-worker counters for the hot path. Each WorkerStats is written by one worker thread only and
// read by the admin thread at scrape time, so an increment is a relaxed load + store (no locked
// instruction, no shared cache line between workers). Every metric family is defined once, in
// metrics/metrics.cc, from these fields.

#include <array>
#include <atomic>
#include <cstdint>

#include "verifier/verifier.h"

namespace sidecar::metrics {

// A counter with one writer thread.
class Counter {
public:
  void inc(uint64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t get() const { return v_.load(std::memory_order_relaxed); }

private:
  std::atomic<uint64_t> v_{0};
};

// A gauge with one writer thread.
class Gauge {
public:
  void add(int64_t n) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  int64_t get() const { return v_.load(std::memory_order_relaxed); }

private:
  std::atomic<int64_t> v_{0};
};

// Latency buckets in seconds (upper bounds), Prometheus-style; the last bucket is +Inf.
inline constexpr std::array<double, 14> kLatencyBounds = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30};

class Histogram {
public:
  void observe(uint64_t ns) {
    double s = static_cast<double>(ns) / 1e9;
    size_t i = 0;
    while (i < kLatencyBounds.size() && s > kLatencyBounds[i])
      ++i;
    buckets_[i].inc();
    sumNs_.inc(ns);
  }
  uint64_t bucket(size_t i) const { return buckets_[i].get(); }
  double sumSeconds() const { return static_cast<double>(sumNs_.get()) / 1e9; }

private:
  std::array<Counter, kLatencyBounds.size() + 1> buckets_;
  Counter sumNs_;
};

// Why the sidecar refused a request at the HTTP layer (label `reason`).
enum class HttpReject : uint8_t {
  BadRequest,         // malformed or ambiguous framing (400)
  BodyTooLarge,       // 413
  HeaderTooLarge,     // 431
  HeaderTimeout,      // 408
  TooManyConnections, // 503
  Draining,           // shutting down
  HostOrOrigin,       // 403: Host or Origin not on the allow-lists (DNS rebinding)
  kCount
};
const char* httpRejectName(HttpReject r);

// Upstream failures (label `kind`).
enum class UpstreamError : uint8_t { ConnectFailed, Reset, Timeout, BadResponse, kCount };
const char* upstreamErrorName(UpstreamError e);

// Response classes by status (label `code`: 1xx..5xx).
struct WorkerStats {
  Counter connectionsAccepted;
  Gauge connectionsActive;
  std::array<Counter, 6> responsesByClass; // index = status / 100 (0 unused)
  Histogram requestDuration;
  std::array<Counter, static_cast<size_t>(HttpReject::kCount)> rejects;
  std::array<Counter, static_cast<size_t>(UpstreamError::kCount)> upstreamErrors;
  Counter upstreamConnects;
  Counter upstreamRetries;
  Counter bytesIn;  // request bytes received from clients
  Counter bytesOut; // response bytes written to clients
  Gauge upstreamIdle;
  // Signature checks by profile and reason (Reason::Accepted counts acceptances).
  std::array<std::array<Counter, static_cast<size_t>(verifier::Reason::kCount)>,
             static_cast<size_t>(verifier::Profile::kCount)>
      verifications;
  Counter toolDenials; // tools/call refused by a caller's allow-list
};

} // namespace sidecar::metrics
