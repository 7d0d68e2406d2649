#pragma once
// What the workers share for request verification: the mode, the verifier's options, the replay
// cache (one for all workers, so a replay on another connection or worker is caught) and the
// current trust store. The trust store is swapped by the main thread when its file changes;
// workers pick up the new one by comparing a generation number (one relaxed atomic load per
// request), so a reload never blocks or fails a request in flight.

#include <atomic>
#include <memory>
#include <mutex>

#include "config/serve_config.h"
#include "verifier/replay_cache.h"
#include "verifier/trust_store.h"
#include "verifier/verifier.h"

namespace sidecar::proxy {

class SignatureGate {
public:
  SignatureGate(config::VerifyMode mode, verifier::VerifierOptions options, size_t replayCapacity)
      : mode_(mode), options_(options), replay_(replayCapacity) {}

  config::VerifyMode mode() const { return mode_; }
  const verifier::VerifierOptions& options() const { return options_; }
  verifier::ReplayCache& replay() { return replay_; }

  // Main thread: installs a new trust store.
  void publish(std::shared_ptr<const verifier::TrustStore> store) {
    std::lock_guard lock(mu_);
    store_ = std::move(store);
    generation_.fetch_add(1, std::memory_order_release);
  }
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  // The current store and its generation.
  std::shared_ptr<const verifier::TrustStore> snapshot(uint64_t& generation) {
    std::lock_guard lock(mu_);
    generation = generation_.load(std::memory_order_relaxed);
    return store_;
  }

private:
  config::VerifyMode mode_;
  verifier::VerifierOptions options_;
  verifier::ReplayCache replay_;
  std::mutex mu_;
  std::shared_ptr<const verifier::TrustStore> store_;
  std::atomic<uint64_t> generation_{0};
};

} // namespace sidecar::proxy
