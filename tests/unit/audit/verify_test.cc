#include "audit/audit_verify.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "audit/record.h"
#include "audit/trail_file.h"
#include "tests/unit/audit/audit_test_util.h"

namespace sidecar::audit {
namespace {

using namespace audit_test;
using std::chrono::milliseconds;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A trail of 15 records in one file, line n holding seq n:
//   1 start, 2-4 op0-op2, 5 checkpoint, 6-9 op3-op6, 10 checkpoint, 11-13 op7-op9, 14 stop,
//   15 final checkpoint.
class AuditVerifyTest : public ::testing::Test {
protected:
  void SetUp() override {
    AuditOptions o = testOptions(path_, key_);
    o.checkpointEvery = 4;
    auto w = openWriter(o);
    ASSERT_TRUE(w);
    for (int i = 0; i < 10; ++i)
      w->append(operation(i));
    w->stop();
    lines_ = readLines(path_);
    ASSERT_EQ(lines_.size(), 15u);
  }

  // Runs verify on the file after `lines` replaced its content.
  int verifyWith(const std::vector<std::string>& lines, std::string& out) {
    writeLines(path_, lines);
    return verifyFiles(key_, {path_}, &out);
  }

  std::string at(int line) const { return path_ + ":" + std::to_string(line); }

  TempDir dir_;
  TestKey key_ = TestKey::make();
  std::string path_ = dir_.file("audit.ndjson");
  std::vector<std::string> lines_;
};

TEST_F(AuditVerifyTest, IntactTrail) {
  std::string out;
  EXPECT_EQ(verifyFiles(key_, {path_}, &out), 0) << out;
  EXPECT_TRUE(contains(out, "intact: 15 records (seq 1..15) in 1 file(s), 3 checkpoint "
                            "signature(s) verified with " +
                                verifier::fingerprint(key_.pub)))
      << out;
  EXPECT_FALSE(contains(out, "warning")) << out;

  Result<VerifyReport> r = verifyTrail(key_.pub, {path_});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->intact);
  EXPECT_TRUE(r->cleanShutdown);
  EXPECT_EQ(r->unsealed, 0u);
  EXPECT_EQ(r->checkpoints, 3u);
}

TEST_F(AuditVerifyTest, AcceptsOtherPublicKeyForms) {
  std::string hex;
  for (uint8_t b : key_.pub.bytes) {
    hex += "0123456789abcdef"[b >> 4];
    hex += "0123456789abcdef"[b & 0xf];
  }
  std::ostringstream out, err;
  EXPECT_EQ(runAuditVerify(hex, {path_}, out, err), 0) << out.str() << err.str();
  EXPECT_EQ(runAuditVerify("302a300506032b6570032100" + hex, {path_}, out, err), 0);
}

TEST_F(AuditVerifyTest, DetectsAnEditedRecord) {
  auto lines = lines_;
  size_t pos = lines[6].find("\"tool4\"");
  ASSERT_NE(pos, std::string::npos);
  lines[6].replace(pos, 7, "\"toolX\"");
  std::string out;
  EXPECT_EQ(verifyWith(lines, out), 1) << out;
  EXPECT_TRUE(contains(out, "broken: " + at(7) +
                                " (seq 7): this record does not hash to the "
                                "prev of the record after it (" +
                                at(8) + ", seq 8): it was edited"))
      << out;
}

TEST_F(AuditVerifyTest, DetectsAnEditedRecordJustBeforeACheckpoint) {
  auto lines = lines_;
  size_t pos = lines[8].find("\"bytes_in\":100");
  ASSERT_NE(pos, std::string::npos);
  lines[8].replace(pos, 14, "\"bytes_in\":101");
  std::string out;
  EXPECT_EQ(verifyWith(lines, out), 1) << out;
  EXPECT_TRUE(contains(out, "broken: " + at(9) + " (seq 9)")) << out;
}

TEST_F(AuditVerifyTest, DetectsADeletedRecord) {
  auto lines = lines_;
  lines.erase(lines.begin() + 6); // seq 7
  std::string out;
  EXPECT_EQ(verifyWith(lines, out), 1) << out;
  EXPECT_TRUE(contains(out, "broken: " + at(7) +
                                " (seq 8): seq 8 where 7 was expected: record 7 is missing "
                                "(deleted) or out of order"))
      << out;
}

TEST_F(AuditVerifyTest, DetectsAnInsertedRecord) {
  // A well-formed forgery: the right seq and prev for its place.
  auto lines = lines_;
  lines.insert(lines.begin() + 6,
               serializeRecord(operation(77), 7, lineHash(lines[5]), ArgsPolicy{}));
  std::string out;
  EXPECT_EQ(verifyWith(lines, out), 1) << out;
  EXPECT_TRUE(contains(out, "broken: " + at(8) +
                                " (seq 7): seq 7 where 8 was expected: a record was inserted, "
                                "repeated or moved here"))
      << out;

  // A copy of an existing record.
  lines = lines_;
  lines.insert(lines.begin() + 3, lines[2]);
  EXPECT_EQ(verifyWith(lines, out), 1) << out;
  EXPECT_TRUE(contains(out, "broken: " + at(4) + " (seq 3): seq 3 where 4 was expected")) << out;
}

TEST_F(AuditVerifyTest, DetectsReorderedRecords) {
  auto lines = lines_;
  std::swap(lines[6], lines[7]);
  std::string out;
  EXPECT_EQ(verifyWith(lines, out), 1) << out;
  EXPECT_TRUE(contains(out, "broken: " + at(7) + " (seq 8): seq 8 where 7 was expected")) << out;
}

TEST_F(AuditVerifyTest, DetectsATruncatedFile) {
  std::string data = readFile(path_);
  writeFile(path_, data.substr(0, data.size() - 40));
  std::string out;
  EXPECT_EQ(verifyFiles(key_, {path_}, &out), 1) << out;
  EXPECT_TRUE(contains(out, "broken: " + at(15) + ": the file ends in the middle of a record"))
      << out;
}

TEST_F(AuditVerifyTest, UnsealedTailIsAWarningNotABreak) {
  // What a crash leaves: no stop record, no final checkpoint.
  auto lines = lines_;
  lines.resize(13);
  std::string out;
  EXPECT_EQ(verifyWith(lines, out), 0) << out;
  EXPECT_TRUE(contains(out, "intact: 13 records")) << out;
  EXPECT_TRUE(contains(out, "warning: unsealed: 3 record(s) after the last checkpoint (seq "
                            "11..13)"))
      << out;
  EXPECT_TRUE(contains(out, "warning: the trail does not end with a clean shutdown")) << out;
}

TEST_F(AuditVerifyTest, DetectsAnEditedCheckpointSignature) {
  auto lines = lines_;
  size_t pos = lines[9].find("\"sig\":\"");
  ASSERT_NE(pos, std::string::npos);
  char& c = lines[9][pos + 8];
  c = c == 'A' ? 'B' : 'A';
  std::string out;
  EXPECT_EQ(verifyWith(lines, out), 1) << out;
  EXPECT_TRUE(contains(out, "broken: " + at(10) +
                                " (seq 10): checkpoint signature does not "
                                "verify with the given key"))
      << out;
}

TEST_F(AuditVerifyTest, TheFinalCheckpointCannotBeEditedEither) {
  auto lines = lines_;
  std::string& last = lines.back();
  std::string out;

  std::string added = last;
  added.insert(added.size() - 1, R"(,"note":"harmless?")");
  lines.back() = added;
  EXPECT_EQ(verifyWith(lines, out), 1) << out;
  EXPECT_TRUE(contains(out, "broken: " + at(15) + " (seq 15): checkpoint line differs")) << out;

  lines.back() = last;
  size_t pos = lines.back().find("\"key_id\":\"ed25519:");
  ASSERT_NE(pos, std::string::npos);
  lines.back().insert(pos + 18, "x");
  EXPECT_EQ(verifyWith(lines, out), 1) << out;
  EXPECT_TRUE(contains(out, "broken: " + at(15) + " (seq 15): checkpoint signature")) << out;
}

TEST_F(AuditVerifyTest, ChecksSignaturesWithTheGivenKeyOnly) {
  TestKey other = TestKey::make();
  std::string out;
  EXPECT_EQ(verifyFiles(other, {path_}, &out), 1) << out;
  EXPECT_TRUE(contains(out, "broken: " + at(5) +
                                " (seq 5): checkpoint signature does not verify "
                                "with the given key (" +
                                verifier::fingerprint(other.pub) + "); the checkpoint names key " +
                                verifier::fingerprint(key_.pub)))
      << out;
}

TEST_F(AuditVerifyTest, DetectsAMissingHead) {
  auto lines = lines_;
  lines.erase(lines.begin());
  std::string out;
  EXPECT_EQ(verifyWith(lines, out), 1) << out;
  EXPECT_TRUE(contains(out, "broken: " + at(1) + " (seq 2): the trail starts at seq 2, not 1"))
      << out;

  lines = lines_;
  lines[0].replace(lines[0].find(std::string(kGenesisHash)), 1, "1");
  EXPECT_EQ(verifyWith(lines, out), 1) << out;
  EXPECT_TRUE(contains(out, "broken: " + at(1) +
                                " (seq 1): the first record of the trail must "
                                "have prev = 64 zeros"))
      << out;
}

TEST_F(AuditVerifyTest, DetectsALineThatIsNotARecord) {
  auto lines = lines_;
  lines[6] = "garbage";
  std::string out;
  EXPECT_EQ(verifyWith(lines, out), 1) << out;
  EXPECT_TRUE(contains(out, "broken: " + at(7) + ": not a JSON object")) << out;
}

TEST_F(AuditVerifyTest, TheSameFileTwiceIsBroken) {
  std::string copy = dir_.file("copy.ndjson");
  writeFile(copy, readFile(path_));
  std::string out;
  EXPECT_EQ(verifyFiles(key_, {path_, copy}, &out), 1) << out;
  EXPECT_TRUE(contains(out, "starts at the same seq as")) << out;
}

TEST_F(AuditVerifyTest, UsageErrorsExitTwo) {
  std::string out;
  TestKey bad;
  bad.publicText = "not a key";
  EXPECT_EQ(verifyFiles(bad, {path_}, &out), 2);
  EXPECT_TRUE(contains(out, "audit verify: --key:")) << out;
  EXPECT_EQ(verifyFiles(key_, {}, &out), 2);
  EXPECT_EQ(verifyFiles(key_, {dir_.file("nope")}, &out), 2);
  EXPECT_TRUE(contains(out, "cannot open " + dir_.file("nope"))) << out;
}

class AuditVerifyRotatedTest : public ::testing::Test {
protected:
  void SetUp() override {
    AuditOptions o = testOptions(path_, key_);
    o.maxBytes = 1500;
    auto w = openWriter(o);
    ASSERT_TRUE(w);
    for (int i = 0; i < 20; ++i) {
      w->append(operation(i));
      ASSERT_TRUE(w->flush(milliseconds(5000)));
    }
    w->stop();
    for (auto& [index, p] : listRotated(path_))
      files_.push_back(p);
    ASSERT_GE(files_.size(), 3u);
    files_.push_back(path_);
  }

  TempDir dir_;
  TestKey key_ = TestKey::make();
  std::string path_ = dir_.file("audit.ndjson");
  std::vector<std::string> files_;
};

TEST_F(AuditVerifyRotatedTest, IntactInAnyOrder) {
  std::vector<std::string> reversed(files_.rbegin(), files_.rend());
  std::string out;
  EXPECT_EQ(verifyFiles(key_, reversed, &out), 0) << out;
  EXPECT_TRUE(contains(out, "in " + std::to_string(files_.size()) + " file(s)")) << out;
}

TEST_F(AuditVerifyRotatedTest, DetectsAMissingRotatedFile) {
  std::vector<std::string> files = files_;
  std::string missing = files[1];
  auto lines = readLines(missing);
  files.erase(files.begin() + 1);
  std::string out;
  EXPECT_EQ(verifyFiles(key_, files, &out), 1) << out;
  EXPECT_TRUE(contains(out, "broken: " + files[1] + ":1")) << out;
  EXPECT_TRUE(contains(out, "a rotated file holding seq ")) << out;
  EXPECT_TRUE(contains(out, "is missing")) << out;
}

TEST_F(AuditVerifyRotatedTest, DetectsAMissingOldestFileUnlessAllowed) {
  std::vector<std::string> files(files_.begin() + 1, files_.end());
  std::string out;
  EXPECT_EQ(verifyFiles(key_, files, &out), 1) << out;
  EXPECT_TRUE(contains(out, "the oldest rotated files) are missing")) << out;

  VerifyOptions lenient;
  lenient.allowMissingHead = true;
  Result<VerifyReport> r = verifyTrail(key_.pub, files, lenient);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_TRUE(r->intact) << r->problem;
  ASSERT_FALSE(r->warnings.empty());
  EXPECT_TRUE(contains(r->warnings.front(), "older records were not checked"));
}

TEST_F(AuditVerifyRotatedTest, DetectsACutAtTheEndOfARotatedFile) {
  // Whole records cut from the end of a middle file: the next file's first record notices.
  auto lines = readLines(files_[1]);
  lines.pop_back();
  writeLines(files_[1], lines);
  std::string out;
  EXPECT_EQ(verifyFiles(key_, files_, &out), 1) << out;
  EXPECT_TRUE(contains(out, "broken: " + files_[2] + ":1")) << out;
}

} // namespace
} // namespace sidecar::audit
