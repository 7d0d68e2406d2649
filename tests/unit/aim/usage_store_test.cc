// Cumulative usage counts: they survive reopen, a crash at any step of compaction neither loses
// nor doubles a call, and a cut-short journal line is ignored.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "aim/usage_store.h"
#include "tests/support/temp_dir.h"

namespace sidecar::aim {
namespace {

namespace fs = std::filesystem;

class TempDir : public sidecar::test::TempDir {
public:
  TempDir() : sidecar::test::TempDir("aim-usage-test") {}
};

std::chrono::system_clock::time_point at(int64_t ms) {
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

UsageStorePtr openStore(const std::string& dir) {
  auto s = UsageStore::open(dir);
  EXPECT_TRUE(s.ok()) << s.error();
  return s.ok() ? std::move(*s) : nullptr;
}

TEST(AimUsage, CountsSurviveReopenWithoutCompaction) {
  TempDir tmp;
  {
    UsageStorePtr s = openStore(tmp.path());
    ASSERT_TRUE(s->record("echo", at(1777636800000)).ok());
    ASSERT_TRUE(s->record("echo", at(1777636801000)).ok());
    ASSERT_TRUE(s->record("add", at(1777636802000)).ok());
    EXPECT_EQ(s->version(), 3u);
    // Dropped without compact(): as after kill -9.
  }
  UsageStorePtr s = openStore(tmp.path());
  UsageTotals t = s->totals();
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t["echo"].count, 2u);
  EXPECT_EQ(t["echo"].firstUsed, "2026-05-01T12:00:00.000Z");
  EXPECT_EQ(t["echo"].lastUsed, "2026-05-01T12:00:01.000Z");
  EXPECT_EQ(t["add"].count, 1u);
  EXPECT_EQ(s->version(), 0u) << "version counts calls since open";
}

TEST(AimUsage, CompactionKeepsTotalsExact) {
  TempDir tmp;
  {
    UsageStorePtr s = openStore(tmp.path());
    for (int i = 0; i < 10; ++i)
      ASSERT_TRUE(s->record("echo", at(1777636800000 + i)).ok());
    ASSERT_TRUE(s->compact().ok());
    for (int i = 0; i < 5; ++i)
      ASSERT_TRUE(s->record("echo", at(1777636900000 + i)).ok());
    ASSERT_TRUE(s->compact().ok());
    ASSERT_TRUE(s->record("echo", at(1777637000000)).ok());
  }
  UsageStorePtr s = openStore(tmp.path());
  EXPECT_EQ(s->totals()["echo"].count, 16u);
  int journals = 0;
  for (const auto& e : fs::directory_iterator(tmp.path()))
    if (e.path().filename().string().rfind("journal-", 0) == 0)
      ++journals;
  EXPECT_EQ(journals, 1) << "older journals are deleted once the snapshot covers them";
}

TEST(AimUsage, CrashBeforeTheSnapshotIsRenamedAddsUp) {
  TempDir tmp;
  {
    UsageStorePtr s = openStore(tmp.path());
    for (int i = 0; i < 3; ++i)
      ASSERT_TRUE(s->record("echo", at(1777636800000)).ok());
  }
  // Simulate compact() dying after it opened the next journal and wrote lines to it, but before
  // the new snapshot was renamed: the old snapshot and both journals must add up.
  std::vector<uint64_t> gens;
  for (const auto& e : fs::directory_iterator(tmp.path())) {
    std::string n = e.path().filename().string();
    if (n.rfind("journal-", 0) == 0)
      gens.push_back(std::stoull(n.substr(8)));
  }
  ASSERT_EQ(gens.size(), 1u);
  std::ofstream(tmp.path() + "/journal-" + std::to_string(gens[0] + 1) + ".log")
      << "[\"echo\",\"2026-05-01T12:00:05.000Z\"]\n";
  std::ofstream(tmp.path() + "/.usage.json.tmp") << "{\"generation\":";
  UsageStorePtr s = openStore(tmp.path());
  EXPECT_EQ(s->totals()["echo"].count, 4u);
  EXPECT_EQ(s->totals()["echo"].lastUsed, "2026-05-01T12:00:05.000Z");
}

TEST(AimUsage, JournalsOlderThanTheSnapshotAreNotCountedTwice) {
  TempDir tmp;
  {
    UsageStorePtr s = openStore(tmp.path());
    ASSERT_TRUE(s->record("echo", at(1777636800000)).ok());
    ASSERT_TRUE(s->compact().ok());
  }
  // A crash after the snapshot rename, before the old journal was deleted.
  std::ofstream(tmp.path() + "/journal-1.log") << "[\"echo\",\"2026-05-01T12:00:00.000Z\"]\n";
  UsageStorePtr s = openStore(tmp.path());
  EXPECT_EQ(s->totals()["echo"].count, 1u);
}

TEST(AimUsage, CutShortLineIsIgnored) {
  TempDir tmp;
  {
    UsageStorePtr s = openStore(tmp.path());
    ASSERT_TRUE(s->record("echo", at(1777636800000)).ok());
  }
  for (const auto& e : fs::directory_iterator(tmp.path()))
    if (e.path().filename().string().rfind("journal-", 0) == 0)
      std::ofstream(e.path(), std::ios::app) << "[\"echo\",\"2026-05";
  UsageStorePtr s = openStore(tmp.path());
  EXPECT_EQ(s->totals()["echo"].count, 1u);
  ASSERT_TRUE(s->record("echo", at(1777636800000)).ok());
  s.reset();
  s = openStore(tmp.path());
  EXPECT_EQ(s->totals()["echo"].count, 2u) << "new lines never follow a cut-short one";
}

TEST(AimUsage, InvalidSnapshotIsAnErrorNotAZeroStart) {
  TempDir tmp;
  std::ofstream(tmp.path() + "/usage.json") << "{not json";
  auto s = UsageStore::open(tmp.path());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("usage.json"), std::string::npos) << s.error();
}

TEST(AimUsage, ConcurrentRecordsAreAllCounted) {
  TempDir tmp;
  {
    UsageStorePtr s = openStore(tmp.path());
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&s, t] {
        for (int i = 0; i < 250; ++i) {
          EXPECT_TRUE(s->record(t % 2 ? "a" : "b", std::chrono::system_clock::now()).ok());
          if (i % 100 == 0 && t == 0) {
            EXPECT_TRUE(s->compact().ok());
          }
        }
      });
    for (auto& th : threads)
      th.join();
    EXPECT_EQ(s->totals()["a"].count + s->totals()["b"].count, 1000u);
  }
  UsageStorePtr s = openStore(tmp.path());
  EXPECT_EQ(s->totals()["a"].count, 500u);
  EXPECT_EQ(s->totals()["b"].count, 500u);
}

} // namespace
} // namespace sidecar::aim
