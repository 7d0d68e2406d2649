// The AIM spool: order, durability across reopen, the bound, replacement, attempts and dead
// letters.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "aim/spool.h"
#include "tests/support/temp_dir.h"

namespace sidecar::aim {
namespace {

namespace fs = std::filesystem;

class TempDir : public sidecar::test::TempDir {
public:
  TempDir() : sidecar::test::TempDir("aim-spool-test") {}
};

SpoolPtr openSpool(const std::string& dir, uint64_t maxBytes = 1 << 20) {
  SpoolOptions o;
  o.dir = dir;
  o.maxBytes = maxBytes;
  auto s = Spool::open(o);
  EXPECT_TRUE(s.ok()) << s.error();
  return s.ok() ? std::move(*s) : nullptr;
}

TEST(AimSpool, AppendsInOrderAndSurvivesReopen) {
  TempDir tmp;
  std::string dir = tmp.path() + "/spool";
  {
    SpoolPtr s = openSpool(dir);
    ASSERT_TRUE(s);
    EXPECT_EQ(*s->append("verification", "one"), 1u);
    EXPECT_EQ(*s->append("execution_status", "two"), 2u);
    EXPECT_EQ(s->records(), 2u);
    EXPECT_EQ(s->bytes(), 6u);
    auto f = s->front();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->seq, 1u);
    EXPECT_EQ(f->kind, "verification");
    EXPECT_EQ(f->payload, "one");
    EXPECT_FALSE(f->maybeSent);
    // Nothing is synced or closed explicitly: the files are in place once append() returned.
  }
  SpoolPtr s = openSpool(dir);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->records(), 2u);
  auto f = s->front();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->payload, "one");
  ASSERT_TRUE(s->remove(f->seq).ok());
  f = s->front();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->seq, 2u);
  EXPECT_EQ(f->payload, "two");
  // Sequence numbers continue after the highest seen.
  EXPECT_EQ(*s->append("usage_report", "three"), 3u);
}

TEST(AimSpool, AttemptedRecordsAreMaybeSentAfterRestart) {
  TempDir tmp;
  {
    SpoolPtr s = openSpool(tmp.path());
    ASSERT_TRUE(s->append("verification", "x").ok());
    ASSERT_TRUE(s->beginAttempt(1).ok());
    // The process dies here, before AIM's answer.
  }
  SpoolPtr s = openSpool(tmp.path());
  auto f = s->front();
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->maybeSent);
  EXPECT_EQ(f->payload, "x");
}

TEST(AimSpool, BoundRefusesAndNearFullWarns) {
  TempDir tmp;
  SpoolPtr s = openSpool(tmp.path(), 100);
  ASSERT_TRUE(s->append("verification", std::string(80, 'a')).ok());
  EXPECT_FALSE(s->nearFull());
  ASSERT_TRUE(s->append("verification", std::string(10, 'b')).ok());
  EXPECT_TRUE(s->nearFull()); // 90 of 100
  auto refused = s->append("verification", std::string(11, 'c'));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().find("--spool-max-bytes"), std::string::npos) << refused.error();
  EXPECT_EQ(s->refused(), 1u);
  EXPECT_EQ(s->records(), 2u);
  ASSERT_TRUE(s->append("verification", std::string(10, 'c')).ok()); // exactly at the bound
  ASSERT_TRUE(s->remove(1).ok());
  EXPECT_FALSE(s->nearFull());
}

TEST(AimSpool, ReplaceOlderKeepsOnlyTheNewestButNotOneInFlight) {
  TempDir tmp;
  SpoolPtr s = openSpool(tmp.path());
  ASSERT_TRUE(s->append("usage_report", "u1", true).ok());
  ASSERT_TRUE(s->append("verification", "v1").ok());
  ASSERT_TRUE(s->append("usage_report", "u2", true).ok());
  auto list = s->list();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].payload, "v1");
  EXPECT_EQ(list[1].payload, "u2");

  ASSERT_TRUE(s->beginAttempt(list[1].seq).ok()); // u2 is being sent
  ASSERT_TRUE(s->append("usage_report", "u3", true).ok());
  list = s->list();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[1].payload, "u2");
  EXPECT_EQ(list[2].payload, "u3");
  // Replacement counts against the bound only once.
  EXPECT_EQ(s->bytes(), 6u);
}

TEST(AimSpool, DeadLettersAreKeptAndCounted) {
  TempDir tmp;
  {
    SpoolPtr s = openSpool(tmp.path());
    ASSERT_TRUE(s->append("verification", "bad").ok());
    ASSERT_TRUE(s->append("verification", "good").ok());
    ASSERT_TRUE(s->deadLetter(1, "AIM POST /x: 400 {}").ok());
    EXPECT_EQ(s->deadLetters(), 1u);
    EXPECT_EQ(s->records(), 1u);
    EXPECT_EQ(s->bytes(), 7u) << "dead letters count against the bound";
    EXPECT_EQ(s->front()->payload, "good");
  }
  EXPECT_TRUE(fs::exists(tmp.path() + "/dead/00000000000000000001.verification.rec"));
  std::ifstream reason(tmp.path() + "/dead/00000000000000000001.verification.rec.reason");
  std::string line;
  std::getline(reason, line);
  EXPECT_EQ(line, "AIM POST /x: 400 {}");
  SpoolPtr s = openSpool(tmp.path());
  EXPECT_EQ(s->deadLetters(), 1u);
  EXPECT_EQ(s->bytes(), 7u);
  EXPECT_EQ(*s->append("verification", "next"), 3u) << "numbers are never reused";
}

TEST(AimSpool, LeftoversOfACrashedAppendAreRemovedAndStrangersIgnored) {
  TempDir tmp;
  { openSpool(tmp.path()); }
  std::ofstream(tmp.path() + "/.tmp-00000000000000000001") << "half";
  std::ofstream(tmp.path() + "/notes.txt") << "hello";
  SpoolPtr s = openSpool(tmp.path());
  EXPECT_EQ(s->records(), 0u);
  EXPECT_FALSE(fs::exists(tmp.path() + "/.tmp-00000000000000000001"));
  EXPECT_TRUE(fs::exists(tmp.path() + "/notes.txt"));
  s->sync();
}

TEST(AimSpool, RejectsBadKindsAndOptions) {
  TempDir tmp;
  SpoolPtr s = openSpool(tmp.path());
  EXPECT_FALSE(s->append("Bad-Kind", "x").ok());
  EXPECT_FALSE(s->append("", "x").ok());
  SpoolOptions o;
  o.dir = tmp.path() + "/z";
  o.maxBytes = 0;
  EXPECT_FALSE(Spool::open(o).ok());
  o.dir = "";
  o.maxBytes = 10;
  EXPECT_FALSE(Spool::open(o).ok());
}

} // namespace
} // namespace sidecar::aim
