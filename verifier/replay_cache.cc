#include "verifier/replay_cache.h"

#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

namespace sidecar::verifier {
namespace {

constexpr size_t kMaxShards = 64;
constexpr size_t kMinShardCapacity = 256;

// 12 bytes, 4-byte aligned: the 64-bit hash split in two halves (0 marks an empty slot) and the
// Unix second until which the entry is live.
struct Slot {
  uint32_t hashLo;
  uint32_t hashHi;
  uint32_t expiry;

  uint64_t hash() const { return static_cast<uint64_t>(hashHi) << 32 | hashLo; }
  void set(uint64_t h, uint32_t e) {
    hashLo = static_cast<uint32_t>(h);
    hashHi = static_cast<uint32_t>(h >> 32);
    expiry = e;
  }
};
static_assert(sizeof(Slot) == 12);
static_assert(ReplayCache::kBytesPerEntry * 3 == sizeof(Slot) * 4, "slots at most 75 % full");

uint32_t clampToU32(int64_t v) {
  if (v < 0)
    return 0;
  if (v > static_cast<int64_t>(std::numeric_limits<uint32_t>::max()))
    return std::numeric_limits<uint32_t>::max();
  return static_cast<uint32_t>(v);
}

// Lemire's multiply-shift: maps a 32-bit value uniformly onto [0, n) for n <= 2^32.
uint64_t reduce(uint32_t x, uint64_t n) {
  return (static_cast<uint64_t>(x) * n) >> 32;
}

} // namespace

struct alignas(64) ReplayCache::Shard {
  std::mutex mu;
  Slot* table = nullptr;         // calloc'd: zero pages are only touched as they fill
  uint64_t length = 0;           // slots: ceil(capacity * 4 / 3)
  uint64_t capacity = 0;         // entries allowed
  uint64_t occupied = 0;         // non-empty slots, live or expired; guarded by mu
  std::atomic<uint64_t> held{0}; // `occupied`, readable without the lock
  uint32_t minExpiry = std::numeric_limits<uint32_t>::max(); // lower bound of held expiries

  ~Shard() { std::free(table); }

  uint64_t next(uint64_t i) const { return i + 1 == length ? 0 : i + 1; }

  uint64_t emptySlotFrom(uint64_t i) const {
    while (table[i].hashLo != 0 || table[i].hashHi != 0)
      i = next(i);
    return i;
  }

  // Rebuilds the table without the entries expired at `now`.
  void sweep(int64_t now) {
    std::vector<Slot> live;
    live.reserve(static_cast<size_t>(occupied));
    for (uint64_t i = 0; i < length; ++i)
      if (table[i].hash() != 0 && static_cast<int64_t>(table[i].expiry) >= now)
        live.push_back(table[i]);
    std::memset(table, 0, static_cast<size_t>(length) * sizeof(Slot));
    minExpiry = std::numeric_limits<uint32_t>::max();
    for (const Slot& s : live) {
      table[emptySlotFrom(reduce(s.hashLo, length))] = s;
      minExpiry = std::min(minExpiry, s.expiry);
    }
    occupied = live.size();
    held.store(occupied, std::memory_order_relaxed);
  }
};

ReplayCache::ReplayCache(size_t capacity)
    : capacity_(capacity),
      shardCount_(std::clamp<size_t>(capacity / kMinShardCapacity, 1, kMaxShards)),
      shards_(new Shard[shardCount_]) {
  if (sodium_init() < 0)
    std::abort(); // idempotent and thread-safe
  randombytes_buf(hashKey_, sizeof hashKey_);
  static_assert(sizeof hashKey_ == crypto_shorthash_KEYBYTES);
  for (size_t i = 0; i < shardCount_; ++i) {
    Shard& s = shards_[i];
    s.capacity = capacity / shardCount_ + (i < capacity % shardCount_ ? 1 : 0);
    if (s.capacity == 0)
      continue;
    s.length = (s.capacity * 4 + 2) / 3;
    if (s.length > (uint64_t{1} << 32))
      throw std::length_error("replay cache capacity too large");
    s.table = static_cast<Slot*>(std::calloc(static_cast<size_t>(s.length), sizeof(Slot)));
    if (!s.table)
      throw std::bad_alloc();
  }
}

ReplayCache::~ReplayCache() = default;

ReplayCache::Outcome ReplayCache::checkAndRemember(std::string_view keyId,
                                                   std::string_view nonceOrSignature,
                                                   int64_t expiresUnix, int64_t nowUnix) {
  // SipHash-2-4 of len(keyId) ‖ keyId ‖ nonceOrSignature: the length prefix keeps ("ab", "c")
  // and ("a", "bc") apart.
  uint64_t h = 0;
  {
    unsigned char stackBuf[512];
    std::string heapBuf;
    size_t n = 8 + keyId.size() + nonceOrSignature.size();
    unsigned char* buf = stackBuf;
    if (n > sizeof stackBuf) {
      heapBuf.resize(n);
      buf = reinterpret_cast<unsigned char*>(heapBuf.data());
    }
    uint64_t idLen = keyId.size();
    std::memcpy(buf, &idLen, 8);
    std::memcpy(buf + 8, keyId.data(), keyId.size());
    std::memcpy(buf + 8 + keyId.size(), nonceOrSignature.data(), nonceOrSignature.size());
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, buf, n, hashKey_);
    std::memcpy(&h, out, sizeof h);
  }
  if (h == 0)
    h = 1; // 0 marks an empty slot

  Shard& s = shards_[reduce(static_cast<uint32_t>(h >> 32), shardCount_)];
  const uint32_t expiry = clampToU32(expiresUnix);
  std::lock_guard lock(s.mu);
  if (s.capacity == 0)
    return Outcome::Full;

  // Walk the probe chain to its end: a live duplicate anywhere on it is a replay. Remember the
  // first expired slot, which the new entry may take.
  const uint64_t home = reduce(static_cast<uint32_t>(h), s.length);
  constexpr uint64_t kNone = std::numeric_limits<uint64_t>::max();
  uint64_t reusable = kNone;
  uint64_t i = home;
  for (;;) {
    const Slot& slot = s.table[i];
    const uint64_t sh = slot.hash();
    if (sh == 0)
      break;
    const bool live = static_cast<int64_t>(slot.expiry) >= nowUnix;
    if (live && sh == h)
      return Outcome::Replayed;
    if (!live && reusable == kNone)
      reusable = i;
    i = s.next(i);
  }

  if (reusable != kNone) {
    s.table[reusable].set(h, expiry);
  } else {
    if (s.occupied >= s.capacity) {
      // Full: drop the expired entries once (only worth it when one can have expired).
      if (nowUnix > static_cast<int64_t>(s.minExpiry))
        s.sweep(nowUnix);
      if (s.occupied >= s.capacity)
        return Outcome::Full;
      i = s.emptySlotFrom(home);
    }
    s.table[i].set(h, expiry);
    ++s.occupied;
    s.held.store(s.occupied, std::memory_order_relaxed);
  }
  s.minExpiry = std::min(s.minExpiry, expiry);
  return Outcome::Fresh;
}

size_t ReplayCache::size() const {
  size_t n = 0;
  for (size_t i = 0; i < shardCount_; ++i)
    n += static_cast<size_t>(shards_[i].held.load(std::memory_order_relaxed));
  return n;
}

size_t ReplayCache::memoryBytes() const {
  size_t n = 0;
  for (size_t i = 0; i < shardCount_; ++i)
    n += static_cast<size_t>(shards_[i].length) * sizeof(Slot);
  return n;
}

} // namespace sidecar::verifier
