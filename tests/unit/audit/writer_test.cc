#include "audit/writer.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <future>
#include <random>
#include <set>
#include <thread>

#include "audit/trail_file.h"
#include "common/clock.h"
#include "tests/unit/audit/audit_test_util.h"

namespace sidecar::audit {
namespace {

using namespace audit_test;
using std::chrono::milliseconds;

rapidjson::Document parse(const std::string& line) {
  rapidjson::Document d;
  d.Parse(line.data(), line.size());
  EXPECT_FALSE(d.HasParseError()) << line;
  EXPECT_TRUE(d.IsObject()) << line;
  return d;
}

std::string kindOf(const std::string& line) {
  auto d = parse(line);
  return d.HasMember("kind") ? d["kind"].GetString() : "";
}

// Every file of the trail at `path`: rotated ones by index, then the current one.
std::vector<std::string> trailFiles(const std::string& path) {
  std::vector<std::string> files;
  for (auto& [index, p] : listRotated(path))
    files.push_back(p);
  files.push_back(path);
  return files;
}

std::vector<std::string> trailLines(const std::string& path) {
  std::vector<std::string> all;
  for (const std::string& f : trailFiles(path))
    for (std::string& l : readLines(f))
      all.push_back(std::move(l));
  return all;
}

// Seq 1.., prev chaining from 64 zeros: checked independently of audit verify.
void expectChained(const std::vector<std::string>& lines) {
  std::string prev(kGenesisHash);
  for (size_t i = 0; i < lines.size(); ++i) {
    auto d = parse(lines[i]);
    EXPECT_EQ(d["seq"].GetUint64(), i + 1) << lines[i];
    EXPECT_EQ(std::string(d["prev"].GetString()), prev) << "line " << i + 1;
    prev = lineHash(lines[i]);
  }
}

size_t countKind(const std::vector<std::string>& lines, const std::string& kind) {
  return static_cast<size_t>(
      std::count_if(lines.begin(), lines.end(), [&](const auto& l) { return kindOf(l) == kind; }));
}

class AuditWriterTest : public ::testing::Test {
protected:
  TempDir dir_;
  TestKey key_ = TestKey::make();
  std::string path_ = dir_.file("audit.ndjson");
};

TEST_F(AuditWriterTest, WritesAChainedTrailWithStartStopAndFinalCheckpoint) {
  auto w = openWriter(testOptions(path_, key_));
  ASSERT_TRUE(w);
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(w->append(operation(i)));
  w->stop();
  auto lines = readLines(path_);
  ASSERT_EQ(lines.size(), 6u);
  expectChained(lines);
  EXPECT_EQ(kindOf(lines[0]), "start");
  EXPECT_EQ(std::string(parse(lines[0])["reason"].GetString()), "new trail");
  EXPECT_EQ(kindOf(lines[1]), "operation");
  EXPECT_EQ(std::string(parse(lines[3])["tool"].GetString()), "tool2");
  EXPECT_EQ(kindOf(lines[4]), "stop");
  EXPECT_EQ(std::string(parse(lines[4])["reason"].GetString()), "shutdown");
  auto cp = parse(lines[5]);
  EXPECT_STREQ(cp["kind"].GetString(), "checkpoint");
  EXPECT_EQ(cp["first_seq"].GetUint64(), 1u);
  EXPECT_EQ(cp["last_seq"].GetUint64(), 5u);
  EXPECT_EQ(std::string(cp["key_id"].GetString()), verifier::fingerprint(key_.pub));

  AuditStats s = w->stats();
  EXPECT_EQ(s.recordsWritten, 6u);
  EXPECT_EQ(s.writeErrors, 0u);
  EXPECT_EQ(s.recordsLost, 0u);
  EXPECT_EQ(s.checkpoints, 1u);
  EXPECT_TRUE(w->healthy());

  std::string out;
  EXPECT_EQ(verifyFiles(key_, {path_}, &out), 0) << out;
  EXPECT_EQ(out.find("warning"), std::string::npos) << out;
}

TEST_F(AuditWriterTest, MonotonicStampBecomesTheWallClockTimeOfTheEvent) {
  // The proxy hands the monotonic time it read for the latency; the writer turns it into `ts`.
  auto w = openWriter(testOptions(path_, key_));
  ASSERT_TRUE(w);
  AuditRecord r = operation(1);
  r.monoNs = monoNowNs() - 3'000'000'000ULL; // three seconds ago
  std::string expected = rfc3339(std::chrono::system_clock::now() - std::chrono::seconds(3));
  EXPECT_TRUE(w->append(std::move(r)));
  w->stop();
  auto lines = readLines(path_);
  ASSERT_EQ(lines.size(), 4u); // start, the operation, stop, checkpoint
  std::string ts = parse(lines[1])["ts"].GetString();
  // To the second (the test's own clock reads are a few microseconds apart; a second boundary
  // may fall between them, so the seconds may differ by one).
  auto seconds = [](const std::string& t) {
    std::tm tm{};
    strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    return static_cast<long>(timegm(&tm));
  };
  EXPECT_LE(std::labs(seconds(ts) - seconds(expected)), 1) << ts << " vs " << expected;
  EXPECT_LT(seconds(ts), seconds(parse(lines[2])["ts"].GetString()))
      << "before the stop record, which was stamped now";
}

TEST_F(AuditWriterTest, NewFileIsMode0600WhateverTheUmask) {
  mode_t old = ::umask(0277); // would create it 0400
  auto w = openWriter(testOptions(path_, key_));
  ::umask(old);
  ASSERT_TRUE(w);
  EXPECT_EQ(fileMode(path_), 0600u);
}

TEST_F(AuditWriterTest, ExistingWiderFileIsSetTo0600) {
  writeFile(path_, "");
  ASSERT_EQ(::chmod(path_.c_str(), 0644), 0);
  auto w = openWriter(testOptions(path_, key_));
  ASSERT_TRUE(w);
  EXPECT_EQ(fileMode(path_), 0600u);
}

TEST_F(AuditWriterTest, CheckpointEveryNRecords) {
  AuditOptions o = testOptions(path_, key_);
  o.checkpointEvery = 3;
  auto w = openWriter(o);
  ASSERT_TRUE(w);
  for (int i = 0; i < 7; ++i)
    w->append(operation(i));
  ASSERT_TRUE(w->flush(milliseconds(5000)));
  auto lines = readLines(path_);
  // start, op0, op1, cp, op2..op4, cp, op5, op6: records 1-3 sealed by 4, 5-7 by 8.
  ASSERT_EQ(lines.size(), 10u);
  EXPECT_EQ(kindOf(lines[3]), "checkpoint");
  EXPECT_EQ(kindOf(lines[7]), "checkpoint");
  EXPECT_EQ(parse(lines[7])["first_seq"].GetUint64(), 5u);
  EXPECT_EQ(parse(lines[7])["last_seq"].GetUint64(), 7u);
  std::string out;
  EXPECT_EQ(verifyFiles(key_, {path_}, &out), 0) << out;
  EXPECT_NE(out.find("unsealed: 2 record(s)"), std::string::npos) << out; // still running
  w->stop();
}

TEST_F(AuditWriterTest, CheckpointAfterTheIntervalWhenRecordsWait) {
  AuditOptions o = testOptions(path_, key_);
  o.checkpointInterval = milliseconds(30);
  auto w = openWriter(o);
  ASSERT_TRUE(w);
  w->append(operation(1));
  EXPECT_TRUE(waitFor(
      [&] {
        auto lines = readLines(path_);
        return countKind(lines, "operation") == 1 && kindOf(lines.back()) == "checkpoint";
      },
      milliseconds(3000)));
  // Idle: no further checkpoint without new records.
  size_t sealed = readLines(path_).size();
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(readLines(path_).size(), sealed);
  w->stop();
}

TEST_F(AuditWriterTest, FlushMakesRecordsDurableBeforeTheInterval) {
  AuditOptions o = testOptions(path_, key_);
  o.flushInterval = milliseconds(60000);
  auto w = openWriter(o);
  ASSERT_TRUE(w);
  EXPECT_TRUE(w->flush(milliseconds(5000))); // the writer's own start record too
  EXPECT_EQ(readLines(path_).size(), 1u);
  w->append(operation(1));
  EXPECT_TRUE(w->flush(milliseconds(5000)));
  EXPECT_EQ(readLines(path_).size(), 2u);
  w->stop();
  EXPECT_TRUE(w->flush(milliseconds(10))); // after a clean stop everything is durable
}

TEST_F(AuditWriterTest, RotatesBySizeAndTheChainContinuesAcrossFiles) {
  AuditOptions o = testOptions(path_, key_);
  o.maxBytes = 2000;
  auto w = openWriter(o);
  ASSERT_TRUE(w);
  for (int i = 0; i < 40; ++i) {
    w->append(operation(i));
    if (i % 5 == 4) {
      ASSERT_TRUE(w->flush(milliseconds(5000))); // several batches, so several rotations
    }
  }
  w->stop();
  auto rotated = listRotated(path_);
  ASSERT_GE(rotated.size(), 3u);
  EXPECT_EQ(w->stats().rotations, rotated.size());
  for (size_t i = 0; i < rotated.size(); ++i) {
    EXPECT_EQ(rotated[i].first, i + 1);
    auto lines = readLines(rotated[i].second);
    ASSERT_FALSE(lines.empty());
    EXPECT_EQ(kindOf(lines.back()), "checkpoint") << "rotated files end sealed";
    EXPECT_EQ(fileMode(rotated[i].second), 0600u);
  }
  EXPECT_EQ(fileMode(path_), 0600u);
  auto all = trailLines(path_);
  expectChained(all);
  EXPECT_EQ(countKind(all, "operation"), 40u);

  // Given in any order, verify puts the files in trail order.
  auto files = trailFiles(path_);
  std::shuffle(files.begin(), files.end(), std::mt19937(7));
  std::string out;
  EXPECT_EQ(verifyFiles(key_, files, &out), 0) << out;
}

TEST_F(AuditWriterTest, ResumesAfterACleanShutdown) {
  {
    auto w = openWriter(testOptions(path_, key_));
    ASSERT_TRUE(w);
    w->append(operation(1));
    w->append(operation(2));
  } // the destructor stops cleanly
  auto before = readLines(path_);
  ASSERT_EQ(before.size(), 5u);
  {
    auto w = openWriter(testOptions(path_, key_));
    ASSERT_TRUE(w);
    w->append(operation(3));
  }
  auto lines = readLines(path_);
  ASSERT_EQ(lines.size(), 9u);
  expectChained(lines);
  auto start = parse(lines[5]);
  EXPECT_STREQ(start["kind"].GetString(), "start");
  EXPECT_EQ(start["seq"].GetUint64(), 6u);
  EXPECT_STREQ(start["reason"].GetString(), "resumed after a clean shutdown");
  EXPECT_EQ(parse(lines[8])["first_seq"].GetUint64(), 6u);
  std::string out;
  EXPECT_EQ(verifyFiles(key_, {path_}, &out), 0) << out;
  EXPECT_EQ(out.find("warning"), std::string::npos) << out;
}

TEST_F(AuditWriterTest, ResumesAfterACrashCuttingThePartialLine) {
  {
    auto w = openWriter(testOptions(path_, key_));
    ASSERT_TRUE(w);
    for (int i = 0; i < 3; ++i)
      w->append(operation(i));
  }
  // As if the process died mid-write: no stop record, no final checkpoint, half a line.
  auto lines = readLines(path_);
  lines.resize(lines.size() - 2);
  writeLines(path_, lines);
  const std::string partial = R"({"seq":5,"prev":"00)";
  writeFile(path_, readFile(path_) + partial);
  std::string out;
  EXPECT_EQ(verifyFiles(key_, {path_}, &out), 1) << out;
  EXPECT_NE(out.find("ends in the middle of a record"), std::string::npos) << out;

  {
    auto w = openWriter(testOptions(path_, key_));
    ASSERT_TRUE(w);
    w->append(operation(9));
  }
  auto after = readLines(path_);
  ASSERT_EQ(after.size(), 4u + 4u);
  expectChained(after);
  auto start = parse(after[4]);
  std::string reason = start["reason"].GetString();
  EXPECT_NE(reason.find("resumed after an unclean shutdown"), std::string::npos) << reason;
  EXPECT_NE(reason.find("removed a partial last line of " + std::to_string(partial.size()) +
                        " bytes (sha256 " + lineHash(partial) + ")"),
            std::string::npos)
      << reason;
  // The first checkpoint after the crash seals the crashed run's records too.
  EXPECT_EQ(parse(after.back())["first_seq"].GetUint64(), 1u);
  EXPECT_EQ(verifyFiles(key_, {path_}, &out), 0) << out;
}

TEST_F(AuditWriterTest, ResumesFromTheLastRotatedFileWhenTheCurrentOneIsMissing) {
  AuditOptions o = testOptions(path_, key_);
  o.maxBytes = 1500;
  {
    auto w = openWriter(o);
    ASSERT_TRUE(w);
    for (int i = 0; i < 10; ++i) {
      w->append(operation(i));
      ASSERT_TRUE(w->flush(milliseconds(5000)));
    }
  }
  // A crash between renaming the current file and creating the next one.
  auto rotated = listRotated(path_);
  ASSERT_FALSE(rotated.empty());
  unsigned next = rotated.back().first + 1;
  ASSERT_EQ(::rename(path_.c_str(), rotatedPath(path_, next).c_str()), 0);
  {
    auto w = openWriter(o);
    ASSERT_TRUE(w);
    w->append(operation(99));
  }
  auto all = trailLines(path_);
  expectChained(all);
  std::string out;
  EXPECT_EQ(verifyFiles(key_, trailFiles(path_), &out), 0) << out;
  // The next rotation does not reuse an index.
  EXPECT_GE(listRotated(path_).back().first, next);
}

TEST_F(AuditWriterTest, RefusesToResumeFromAnUnreadableTail) {
  writeFile(path_, "not json\n");
  Result<AuditWriterPtr> w = AuditWriter::open(testOptions(path_, key_));
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().find("not an audit record"), std::string::npos) << w.error();
  EXPECT_NE(w.error().find(path_), std::string::npos) << w.error();
}

TEST_F(AuditWriterTest, RefusesAKeyWhoseHalvesDoNotMatch) {
  AuditOptions o = testOptions(path_, key_);
  o.signingKey[40] ^= 1;
  Result<AuditWriterPtr> w = AuditWriter::open(o);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().find("public key"), std::string::npos) << w.error();
}

TEST_F(AuditWriterTest, BackpressureWithATinyQueueAndASlowWriterLosesNothing) {
  AuditOptions o = testOptions(path_, key_);
  o.queueCapacity = 2;
  o.beforeBatch = [] { std::this_thread::sleep_for(milliseconds(1)); };
  auto w = openWriter(o);
  ASSERT_TRUE(w);
  constexpr int kThreads = 4, kEach = 50;
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t)
    producers.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i)
        EXPECT_TRUE(w->append(operation(t * 1000 + i)));
    });
  for (auto& p : producers)
    p.join();
  w->stop();
  auto lines = readLines(path_);
  expectChained(lines);
  std::set<std::string> tools;
  for (const auto& l : lines)
    if (kindOf(l) == "operation")
      tools.insert(parse(l)["tool"].GetString());
  EXPECT_EQ(tools.size(), static_cast<size_t>(kThreads * kEach));
  EXPECT_EQ(w->stats().recordsLost, 0u);
  EXPECT_EQ(w->stats().recordsWritten, lines.size());
}

TEST_F(AuditWriterTest, TryAppendAnswersFullThenOnSpaceRuns) {
  std::promise<void> entered, release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> first{true};
  std::atomic<int> spaceCalls{0};
  AuditOptions o = testOptions(path_, key_);
  o.queueCapacity = 2;
  o.beforeBatch = [&] {
    if (first.exchange(false)) {
      entered.set_value();
      released.wait();
    }
  };
  o.onSpace = [&] { spaceCalls.fetch_add(1); };
  auto w = openWriter(o);
  ASSERT_TRUE(w);

  ASSERT_TRUE(w->append(operation(0)));
  entered.get_future().wait(); // the writer holds record 0 and is stalled
  AuditRecord r1 = operation(1), r2 = operation(2), r3 = operation(3);
  EXPECT_EQ(w->tryAppend(r1), AppendResult::Queued);
  EXPECT_EQ(w->tryAppend(r2), AppendResult::Queued);
  EXPECT_EQ(w->tryAppend(r3), AppendResult::Full);
  EXPECT_EQ(r3.tool, "tool3"); // untouched: the caller still owns it
  EXPECT_EQ(w->stats().queued, 2u);
  EXPECT_EQ(spaceCalls.load(), 0);

  release.set_value();
  ASSERT_TRUE(waitFor([&] { return spaceCalls.load() > 0; }, milliseconds(5000)));
  EXPECT_EQ(w->tryAppend(r3), AppendResult::Queued);
  w->stop();
  EXPECT_EQ(countKind(readLines(path_), "operation"), 4u);

  AuditRecord late = operation(4);
  EXPECT_EQ(w->tryAppend(late), AppendResult::Stopped);
  EXPECT_FALSE(w->append(operation(5)));
  EXPECT_EQ(w->stats().recordsLost, 2u);
}

TEST_F(AuditWriterTest, DiskFullIsCountedLoggedOnceAndUnhealthy) {
  AuditOptions o = testOptions("/dev/full", key_);
  o.retryInterval = milliseconds(5);
  o.stopTimeout = milliseconds(50);
  testing::internal::CaptureStderr();
  auto w = openWriter(o);
  ASSERT_TRUE(w);
  for (int i = 0; i < 3; ++i)
    w->append(operation(i));
  bool unhealthy = waitFor([&] { return !w->healthy(); }, milliseconds(5000));
  // Several retries, each failing with ENOSPC.
  bool retried = waitFor([&] { return w->stats().writeErrors >= 3; }, milliseconds(5000));
  EXPECT_FALSE(w->flush(milliseconds(20)));
  w->stop();
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(unhealthy);
  EXPECT_TRUE(retried);

  AuditStats s = w->stats();
  EXPECT_EQ(s.recordsWritten, 0u);
  // The start record and the three appended ones, explicitly; plus the stop record and final
  // checkpoint when the writer had taken the appended records off the queue before the first
  // write failed (it then had them all, and made those two as well).
  EXPECT_TRUE(s.recordsLost == 4u || s.recordsLost == 6u) << s.recordsLost;
  EXPECT_EQ(s.queued, 0u);
  size_t failures = 0;
  for (size_t at = 0; (at = err.find("audit trail write failed", at)) != std::string::npos; ++at)
    ++failures;
  EXPECT_EQ(failures, 1u) << err;
  EXPECT_NE(err.find(R"("path":"/dev/full")"), std::string::npos) << err;
  EXPECT_NE(err.find(std::strerror(ENOSPC)), std::string::npos) << err;
  EXPECT_NE(err.find("records lost at shutdown"), std::string::npos) << err;
}

TEST_F(AuditWriterTest, ShortWritesAndErrorsAreRetriedUntilTheDiskHasRoomAgain) {
  // RLIMIT_FSIZE makes writes past a size fail (EFBIG) after a short write: a disk filling up in
  // the middle of a line, then freed.
  auto w = openWriter(testOptions(path_, key_));
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->flush(milliseconds(5000)));
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  auto oldHandler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit tight = old;
  tight.rlim_cur = static_cast<rlim_t>(st.st_size) + 100;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &tight), 0);

  for (int i = 0; i < 10; ++i)
    w->append(operation(i));
  bool unhealthy = waitFor([&] { return !w->healthy(); }, milliseconds(5000));
  bool retried = waitFor([&] { return w->stats().writeErrors >= 2; }, milliseconds(5000));
  struct stat full {};
  ::stat(path_.c_str(), &full);
  // Waiting for room costs no CPU: the writer sleeps until its next retry.
  timespec cpu0{}, cpu1{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu0);
  std::this_thread::sleep_for(milliseconds(200));
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu1);
  double cpuMs = (cpu1.tv_sec - cpu0.tv_sec) * 1e3 + (cpu1.tv_nsec - cpu0.tv_nsec) / 1e6;
  EXPECT_LT(cpuMs, 60.0);

  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old), 0);
  std::signal(SIGXFSZ, oldHandler);
  EXPECT_TRUE(unhealthy);
  EXPECT_TRUE(retried);
  EXPECT_EQ(full.st_size, st.st_size + 100); // a line was cut by the short write

  EXPECT_TRUE(waitFor([&] { return w->healthy(); }, milliseconds(5000)));
  EXPECT_TRUE(w->flush(milliseconds(5000)));
  w->stop();
  EXPECT_EQ(w->stats().recordsLost, 0u);
  auto lines = readLines(path_);
  expectChained(lines);
  EXPECT_EQ(countKind(lines, "operation"), 10u);
  std::string out;
  EXPECT_EQ(verifyFiles(key_, {path_}, &out), 0) << out;
}

TEST_F(AuditWriterTest, ArgumentCaptureIsOptIn) {
  AuditRecord r = operation(1);
  r.args = R"({"query":"x","Authorization":"Bearer abc"})";
  {
    auto w = openWriter(testOptions(path_, key_));
    w->append(AuditRecord(r)); // a copy: r is used again below
  }
  std::string plain = readFile(path_);
  EXPECT_EQ(plain.find("Bearer"), std::string::npos);
  EXPECT_EQ(plain.find("\"args\":"), std::string::npos);
  EXPECT_NE(plain.find(verifier::sha256Hex(*r.args)), std::string::npos);

  std::string capturedPath = dir_.file("captured.ndjson");
  AuditOptions o = testOptions(capturedPath, key_);
  o.args.capture = true;
  {
    auto w = openWriter(o);
    w->append(AuditRecord(r));
  }
  std::string captured = readFile(capturedPath);
  EXPECT_EQ(captured.find("Bearer"), std::string::npos);
  EXPECT_NE(captured.find(R"("args":{"query":"x","Authorization":"[REDACTED]"})"),
            std::string::npos)
      << captured;
}

TEST_F(AuditWriterTest, StartDetailIsWritten) {
  AuditOptions o = testOptions(path_, key_);
  o.startDetail = R"({"version":"0.1.0","pid":42})";
  { auto w = openWriter(o); }
  auto start = parse(readLines(path_).front());
  EXPECT_STREQ(start["detail"]["version"].GetString(), "0.1.0");
}

} // namespace
} // namespace sidecar::audit
