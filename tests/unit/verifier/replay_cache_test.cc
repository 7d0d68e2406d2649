#include "verifier/replay_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace sidecar::verifier {
namespace {

using Outcome = ReplayCache::Outcome;

std::string nonce(size_t i) {
  return "nonce-" + std::to_string(i) + "-0000000000";
}

// Offers `tries` fresh pairs; returns how many were taken (Fresh). Every other answer must be Full.
size_t fill(ReplayCache& cache, const std::string& prefix, size_t tries, int64_t expires,
            int64_t now) {
  size_t fresh = 0;
  for (size_t i = 0; i < tries; ++i) {
    Outcome o = cache.checkAndRemember("alice", prefix + nonce(i), expires, now);
    EXPECT_NE(o, Outcome::Replayed) << i;
    if (o == Outcome::Fresh)
      ++fresh;
  }
  return fresh;
}

TEST(ReplayCache, RemembersAPairOnce) {
  ReplayCache cache(1000);
  EXPECT_EQ(cache.checkAndRemember("alice", "N000000000000001", 1300, 1000), Outcome::Fresh);
  EXPECT_EQ(cache.checkAndRemember("alice", "N000000000000001", 1300, 1000), Outcome::Replayed);
  EXPECT_EQ(cache.checkAndRemember("alice", "N000000000000001", 1500, 1200), Outcome::Replayed)
      << "a replay with another timestamp is still a replay";
  EXPECT_EQ(cache.checkAndRemember("bob", "N000000000000001", 1300, 1000), Outcome::Fresh)
      << "the same nonce under another key is another pair";
  EXPECT_EQ(cache.checkAndRemember("alice", "N000000000000002", 1300, 1000), Outcome::Fresh);
  EXPECT_EQ(cache.size(), 3u);
}

TEST(ReplayCache, PairsAreUnambiguous) {
  ReplayCache cache(1000);
  EXPECT_EQ(cache.checkAndRemember("ab", "c", 100, 0), Outcome::Fresh);
  EXPECT_EQ(cache.checkAndRemember("a", "bc", 100, 0), Outcome::Fresh);
  EXPECT_EQ(cache.checkAndRemember("", "abc", 100, 0), Outcome::Fresh);
  const std::string sig(64, '\0'); // a signature's raw bytes may hold zeros
  EXPECT_EQ(cache.checkAndRemember("alice", sig, 100, 0), Outcome::Fresh);
  EXPECT_EQ(cache.checkAndRemember("alice", sig, 100, 0), Outcome::Replayed);
  EXPECT_EQ(cache.checkAndRemember("alice", std::string(63, '\0'), 100, 0), Outcome::Fresh);
}

TEST(ReplayCache, EntriesExpireAfterTheirExpiry) {
  ReplayCache cache(1000);
  ASSERT_EQ(cache.checkAndRemember("alice", "N1", 1300, 1000), Outcome::Fresh);
  EXPECT_EQ(cache.checkAndRemember("alice", "N1", 1300, 1299), Outcome::Replayed);
  EXPECT_EQ(cache.checkAndRemember("alice", "N1", 1300, 1300), Outcome::Replayed)
      << "live through its expiry second (the timestamp is still in the window then)";
  EXPECT_EQ(cache.checkAndRemember("alice", "N1", 1601, 1301), Outcome::Fresh) << "forgotten after";
  EXPECT_EQ(cache.checkAndRemember("alice", "N1", 1601, 1301), Outcome::Replayed);
  EXPECT_EQ(cache.size(), 1u) << "the expired slot was reused";
}

TEST(ReplayCache, HoldsExactlyItsCapacityThenRefuses) {
  for (size_t capacity : {size_t{1}, size_t{7}, size_t{1000}, size_t{64 * 300 + 5}}) {
    SCOPED_TRACE("capacity " + std::to_string(capacity));
    ReplayCache cache(capacity);
    EXPECT_EQ(cache.capacity(), capacity);
    // Offer far more pairs than fit, so that every shard fills: exactly `capacity` are taken.
    EXPECT_EQ(fill(cache, "a", capacity * 20 + 100, 1300, 1000), capacity);
    EXPECT_EQ(cache.size(), capacity);
    EXPECT_EQ(cache.checkAndRemember("alice", "one-more-000000000", 1300, 1000), Outcome::Full);
    EXPECT_EQ(cache.checkAndRemember("alice", "a" + nonce(0), 1300, 1000), Outcome::Replayed)
        << "a replay is still recognised when full";

    // Once the entries have expired, the cache takes new pairs again: exactly `capacity` more.
    EXPECT_EQ(fill(cache, "b", capacity * 20 + 100, 1601, 1301), capacity);
    EXPECT_EQ(cache.size(), capacity);
    EXPECT_EQ(cache.checkAndRemember("alice", "one-more-000000001", 1601, 1301), Outcome::Full);
  }
}

TEST(ReplayCache, WhenFullOnlyExpiredRoomIsReused) {
  const size_t capacity = 2000;
  ReplayCache cache(capacity);
  // Half the entries expire at 1100, half at 1300.
  size_t early = 0, late = 0;
  for (size_t i = 0; early + late < capacity && i < capacity * 40; ++i) {
    bool isEarly = i % 2 == 0;
    if (cache.checkAndRemember("alice", nonce(i), isEarly ? 1100 : 1300, 1000) == Outcome::Fresh)
      ++(isEarly ? early : late);
  }
  ASSERT_EQ(early + late, capacity);
  EXPECT_EQ(fill(cache, "x", capacity * 20, 1300, 1000), 0u) << "full, nothing expired";
  // At 1200 the early half has expired: exactly that much room appears.
  EXPECT_EQ(fill(cache, "y", capacity * 40, 1500, 1200), early);
  EXPECT_EQ(cache.size(), capacity);
}

TEST(ReplayCache, ZeroCapacityRefusesEverything) {
  ReplayCache cache(0);
  EXPECT_EQ(cache.checkAndRemember("alice", "N1", 1300, 1000), Outcome::Full);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(ReplayCache, MemoryIsSixteenBytesPerEntry) {
  for (size_t capacity : {size_t{1000}, size_t{1} << 20, size_t{3000001}}) {
    ReplayCache cache(capacity);
    // 12-byte slots, ceil(4/3 capacity) of them per shard: at most one slot of rounding per shard.
    EXPECT_GE(cache.memoryBytes(), capacity * ReplayCache::kBytesPerEntry);
    EXPECT_LE(cache.memoryBytes(), capacity * ReplayCache::kBytesPerEntry + 64 * 12);
  }
}

TEST(ReplayCache, ConcurrentInsertersAcceptEachPairExactlyOnce) {
  constexpr size_t kPairs = 50000;
  constexpr int kThreads = 4;
  ReplayCache cache(2 * kPairs); // room to spare: shards fill unevenly
  std::vector<std::vector<Outcome>> outcomes(kThreads, std::vector<Outcome>(kPairs));
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) {
      }
      // Half the threads walk forwards, half backwards, so they meet on the same pairs.
      for (size_t k = 0; k < kPairs; ++k) {
        size_t i = t % 2 == 0 ? k : kPairs - 1 - k;
        outcomes[t][i] =
            cache.checkAndRemember("key-" + std::to_string(i % 7), nonce(i), 1300, 1000);
      }
    });
  }
  for (auto& th : threads)
    th.join();
  size_t problems = 0;
  for (size_t i = 0; i < kPairs; ++i) {
    int fresh = 0, replayed = 0;
    for (int t = 0; t < kThreads; ++t) {
      fresh += outcomes[t][i] == Outcome::Fresh;
      replayed += outcomes[t][i] == Outcome::Replayed;
    }
    if (fresh != 1 || replayed != kThreads - 1)
      ++problems;
  }
  EXPECT_EQ(problems, 0u) << "pairs not accepted exactly once";
  EXPECT_EQ(cache.size(), kPairs);
}

} // namespace
} // namespace sidecar::verifier
