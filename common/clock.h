#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace sidecar {

// Monotonic nanoseconds, for latencies and deadlines.
inline uint64_t monoNowNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

// Wall-clock time as RFC 3339 UTC with milliseconds, e.g. 2026-11-24T15:16:41.123Z.
std::string rfc3339Now();
std::string rfc3339(std::chrono::system_clock::time_point when);
// The same, replacing the contents of `out` (whose capacity is reused: no allocation once it has
// held one).
void rfc3339Into(std::chrono::system_clock::time_point when, std::string& out);

} // namespace sidecar
