#pragma once
// Remembers accepted (key id, nonce) pairs — or (key id, signature) for requests without a nonce
// — until their timestamp leaves the window, so that a request is accepted once (docs/signing.md
// §4 step 6). Shared by every worker; thread-safe.
//
// Compact by design: an entry is a 64-bit keyed hash (SipHash-2-4 with a per-process random key,
// libsodium's crypto_shorthash, so collisions cannot be forced from outside) and a 32-bit expiry,
// in sharded open-addressing tables. Memory is fixed by the capacity: kBytesPerEntry bytes per
// entry, allocated up front (pages are touched as they fill). When the cache is full even after
// expired entries are dropped, new requests are refused (Full), never accepted unremembered.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace sidecar::verifier {

class ReplayCache {
public:
  enum class Outcome { Fresh, Replayed, Full };

  // Bytes of memory per entry of capacity (12-byte slots at most 75 % full).
  static constexpr size_t kBytesPerEntry = 16;

  explicit ReplayCache(size_t capacity);
  ~ReplayCache();
  ReplayCache(const ReplayCache&) = delete;
  ReplayCache& operator=(const ReplayCache&) = delete;

  // Fresh: not seen before, now remembered until `expiresUnix`. Replayed: seen and not yet
  // expired at `nowUnix`. Full: no room even after dropping expired entries.
  Outcome checkAndRemember(std::string_view keyId, std::string_view nonceOrSignature,
                           int64_t expiresUnix, int64_t nowUnix);

  size_t capacity() const { return capacity_; }
  // Entries held now (including expired ones not yet dropped).
  size_t size() const;
  // Bytes allocated for the tables: about kBytesPerEntry per entry of capacity.
  size_t memoryBytes() const;

private:
  struct Shard;
  size_t capacity_;
  size_t shardCount_; // 64, or fewer for a small capacity (at least 256 entries per shard)
  std::unique_ptr<Shard[]> shards_;
  unsigned char hashKey_[16];
};

} // namespace sidecar::verifier
