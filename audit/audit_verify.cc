#include "audit/audit_verify.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <cstring>

#include "audit/record.h"
#include "audit/trail_file.h"

namespace sidecar::audit {
namespace {

struct TrailFile {
  std::string path;
  uint64_t firstSeq = 0;
};

bool isLowerHex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// HasMember, not FindMember() != MemberEnd(): comparing RapidJSON member iterators is ambiguous
// under clang's C++20 rules (-Wambiguous-reversed-operator).
std::string_view stringMember(const rapidjson::Value& obj, const char* name, bool& ok) {
  if (!obj.HasMember(name) || !obj[name].IsString()) {
    ok = false;
    return {};
  }
  return {obj[name].GetString(), obj[name].GetStringLength()};
}

uint64_t uintMember(const rapidjson::Value& obj, const char* name, bool& ok) {
  if (!obj.HasMember(name) || !obj[name].IsUint64()) {
    ok = false;
    return 0;
  }
  return obj[name].GetUint64();
}

std::string where(const std::string& file, uint64_t line) {
  return file + ":" + std::to_string(line);
}

// Walks the records in trail order, keeping what the next record is checked against.
class Checker {
public:
  Checker(const verifier::PublicKey& key, const VerifyOptions& options, VerifyReport& report)
      : key_(key), options_(options), r_(report) {}

  // False once a record is broken (the report names it).
  bool line(const std::string& file, uint64_t lineNo, std::string_view text, bool terminated);
  void finish();

private:
  bool broken(const std::string& file, uint64_t line, std::optional<uint64_t> seq,
              std::string problem) {
    r_.intact = false;
    r_.file = file;
    r_.line = line;
    r_.seq = seq;
    r_.problem = std::move(problem);
    return false;
  }
  bool checkpoint(const rapidjson::Document& d, std::string_view text, const std::string& file,
                  uint64_t lineNo, uint64_t seq, std::string_view prev);

  const verifier::PublicKey& key_;
  const VerifyOptions& options_;
  VerifyReport& r_;
  bool started_ = false;
  std::string prevHash_;
  std::string prevFile_;
  uint64_t prevLine_ = 0;
  uint64_t prevSeq_ = 0;
  std::optional<uint64_t> lastCheckpoint_;
  std::optional<RecordKind> lastKind_;
  std::optional<RecordKind> beforeLastKind_;
};

bool Checker::line(const std::string& file, uint64_t lineNo, std::string_view text,
                   bool terminated) {
  if (!terminated)
    return broken(file, lineNo, std::nullopt,
                  "the file ends in the middle of a record (" + std::to_string(text.size()) +
                      " bytes without a line feed): the file was truncated, or the writer "
                      "crashed before the sidecar restarted and cut the partial line");
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(text.data(),
                                                                                  text.size());
  if (d.HasParseError() || !d.IsObject())
    return broken(file, lineNo, std::nullopt, "not a JSON object: the line was damaged or edited");
  bool ok = true;
  uint64_t seq = uintMember(d, "seq", ok);
  if (!ok || seq == 0)
    return broken(file, lineNo, std::nullopt, "no valid seq (a positive integer)");
  std::string_view prev = stringMember(d, "prev", ok);
  if (!ok || !isLowerHex64(prev))
    return broken(file, lineNo, seq, "no valid prev (64 lowercase hex digits)");

  if (!started_) {
    started_ = true;
    r_.firstSeq = seq;
    if (seq == 1) {
      if (prev != kGenesisHash)
        return broken(file, lineNo, seq,
                      "the first record of the trail must have prev = 64 zeros: records before "
                      "it were removed, or it was edited");
    } else if (!options_.allowMissingHead) {
      return broken(file, lineNo, seq,
                    "the trail starts at seq " + std::to_string(seq) +
                        ", not 1: the file(s) holding seq 1.." + std::to_string(seq - 1) +
                        " (the oldest rotated files) are missing, or its first records were "
                        "deleted");
    } else {
      r_.warnings.push_back("the trail given starts at seq " + std::to_string(seq) +
                            ": older records were not checked");
    }
  } else {
    uint64_t expected = prevSeq_ + 1;
    if (seq > expected && lineNo == 1)
      return broken(file, lineNo, seq,
                    "this file starts at seq " + std::to_string(seq) + " but " + prevFile_ +
                        " ends at seq " + std::to_string(prevSeq_) +
                        ": a rotated file holding seq " + std::to_string(expected) + ".." +
                        std::to_string(seq - 1) + " is missing (or the end of " + prevFile_ +
                        " was cut)");
    if (seq > expected)
      return broken(file, lineNo, seq,
                    "seq " + std::to_string(seq) + " where " + std::to_string(expected) +
                        " was expected: " +
                        (seq - expected == 1 ? "record " + std::to_string(expected) + " is"
                                             : "records " + std::to_string(expected) + ".." +
                                                   std::to_string(seq - 1) + " are") +
                        " missing (deleted) or out of order");
    if (seq < expected)
      return broken(file, lineNo, seq,
                    "seq " + std::to_string(seq) + " where " + std::to_string(expected) +
                        " was expected: a record was inserted, repeated or moved here");
    if (prev != prevHash_)
      return broken(prevFile_, prevLine_, prevSeq_,
                    "this record does not hash to the prev of the record after it (" +
                        where(file, lineNo) + ", seq " + std::to_string(seq) +
                        "): it was edited (or that prev was), or a record was replaced");
  }

  std::string_view kindText = stringMember(d, "kind", ok);
  RecordKind kind = RecordKind::Operation;
  bool knownKind = ok && parseKind(kindText, kind);
  if (knownKind && kind == RecordKind::Checkpoint && !checkpoint(d, text, file, lineNo, seq, prev))
    return false;

  prevHash_ = lineHash(text);
  prevFile_ = file;
  prevLine_ = lineNo;
  prevSeq_ = seq;
  r_.lastSeq = seq;
  ++r_.records;
  beforeLastKind_ = lastKind_;
  lastKind_ = knownKind ? std::optional<RecordKind>(kind) : std::nullopt;
  return true;
}

bool Checker::checkpoint(const rapidjson::Document& d, std::string_view text,
                         const std::string& file, uint64_t lineNo, uint64_t seq,
                         std::string_view prev) {
  bool ok = true;
  Checkpoint c;
  c.seq = seq;
  c.ts = stringMember(d, "ts", ok);
  c.firstSeq = uintMember(d, "first_seq", ok);
  c.lastSeq = uintMember(d, "last_seq", ok);
  c.lastHash = stringMember(d, "last_hash", ok);
  c.keyId = stringMember(d, "key_id", ok);
  c.sig = stringMember(d, "sig", ok);
  if (!ok)
    return broken(file, lineNo, seq,
                  "checkpoint without ts, first_seq, last_seq, last_hash, key_id or sig");
  if (c.lastSeq + 1 != seq || c.lastHash != prev)
    return broken(file, lineNo, seq,
                  "checkpoint whose last_seq/last_hash are not the record before it");
  uint64_t expectedFirst = lastCheckpoint_ ? *lastCheckpoint_ + 1 : r_.firstSeq;
  if (c.firstSeq != expectedFirst && (lastCheckpoint_ || r_.firstSeq == 1))
    return broken(file, lineNo, seq,
                  "checkpoint first_seq " + std::to_string(c.firstSeq) + " where " +
                      std::to_string(expectedFirst) + " was expected (the record after " +
                      (lastCheckpoint_ ? "the previous checkpoint" : "the trail's start") + ")");
  std::string raw;
  if (!verifier::decodeBase64(c.sig, raw) || raw.size() != 64)
    return broken(file, lineNo, seq, "checkpoint sig is not the base64 of 64 bytes");
  verifier::Signature sig;
  std::memcpy(sig.data(), raw.data(), sig.size());
  if (!verifier::verifySignature(key_, sig, checkpointMessage(c))) {
    std::string given = verifier::fingerprint(key_);
    return broken(file, lineNo, seq,
                  c.keyId == given ? "checkpoint signature does not verify with the given key: the "
                                     "checkpoint was edited or forged"
                                   : "checkpoint signature does not verify with the given key (" +
                                         given + "); the checkpoint names key " + c.keyId);
  }
  // Its bytes are exactly what its signed fields serialize to: nothing unsigned can be changed
  // or added, even in the last checkpoint, which no later record hashes.
  if (serializeCheckpoint(c) != text)
    return broken(file, lineNo, seq,
                  "checkpoint line differs from its signed fields: it was edited (fields "
                  "added, reordered or re-encoded)");
  lastCheckpoint_ = seq;
  ++r_.checkpoints;
  return true;
}

void Checker::finish() {
  r_.intact = true;
  if (r_.records == 0) {
    r_.warnings.push_back("no records");
    return;
  }
  uint64_t sealedUpTo = lastCheckpoint_ ? *lastCheckpoint_ : r_.firstSeq - 1;
  r_.unsealed = r_.lastSeq - sealedUpTo;
  r_.cleanShutdown = lastKind_ == RecordKind::Checkpoint && beforeLastKind_ == RecordKind::Stop;
  if (r_.unsealed > 0)
    r_.warnings.push_back(
        "unsealed: " + std::to_string(r_.unsealed) + " record(s) after the last checkpoint (seq " +
        std::to_string(sealedUpTo + 1) + ".." + std::to_string(r_.lastSeq) +
        ") are protected by the chain only: removing them from the end, or editing the last "
        "one, would not be detected");
  if (!r_.cleanShutdown)
    r_.warnings.push_back("the trail does not end with a clean shutdown (a stop record and its "
                          "final checkpoint): the sidecar is still running, crashed, or its last "
                          "records were removed");
}

} // namespace

Result<VerifyReport> verifyTrail(const verifier::PublicKey& key,
                                 const std::vector<std::string>& files,
                                 const VerifyOptions& options) {
  VerifyReport report;
  // Order the files by the seq of their first record (rotated names say nothing reliable once
  // files are copied around).
  std::vector<TrailFile> ordered;
  for (const std::string& path : files) {
    LineReader reader;
    Status s = reader.open(path);
    if (!s.ok())
      return s;
    std::string first;
    bool terminated = false;
    if (!reader.next(first, terminated)) {
      if (!reader.error().empty())
        return Status::error(reader.error());
      report.warnings.push_back(path + " is empty");
      continue;
    }
    std::optional<LineHead> head = parseLineHead(first);
    if (!head || !terminated) {
      report.file = path;
      report.line = 1;
      report.problem = "the first line is not a complete audit record, so the file cannot be "
                       "placed in the trail";
      return report;
    }
    ordered.push_back({path, head->seq});
  }
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const TrailFile& a, const TrailFile& b) { return a.firstSeq < b.firstSeq; });
  for (size_t i = 1; i < ordered.size(); ++i) {
    if (ordered[i].firstSeq == ordered[i - 1].firstSeq) {
      report.file = ordered[i].path;
      report.line = 1;
      report.seq = ordered[i].firstSeq;
      report.problem = "starts at the same seq as " + ordered[i - 1].path +
                       ": the same file given twice, or a copy";
      return report;
    }
  }

  Checker checker(key, options, report);
  for (const TrailFile& f : ordered) {
    LineReader reader;
    Status s = reader.open(f.path);
    if (!s.ok())
      return s;
    ++report.files;
    std::string text;
    bool terminated = false;
    uint64_t lineNo = 0;
    while (reader.next(text, terminated)) {
      if (!checker.line(f.path, ++lineNo, text, terminated))
        return report;
    }
    if (!reader.error().empty())
      return Status::error(reader.error());
  }
  checker.finish();
  return report;
}

int runAuditVerify(const std::string& publicKey, const std::vector<std::string>& files,
                   std::ostream& out, std::ostream& err) {
  Result<verifier::PublicKey> key = verifier::parsePublicKey(publicKey);
  if (!key.ok()) {
    err << "audit verify: --key: " << key.error() << "\n";
    return 2;
  }
  if (files.empty()) {
    err << "audit verify: no files given (the audit trail and its rotated files)\n";
    return 2;
  }
  Result<VerifyReport> result = verifyTrail(*key, files);
  if (!result.ok()) {
    err << "audit verify: " << result.error() << "\n";
    return 2;
  }
  const VerifyReport& r = *result;
  if (r.intact) {
    out << "intact: " << r.records << " records";
    if (r.records > 0)
      out << " (seq " << r.firstSeq << ".." << r.lastSeq << ")";
    out << " in " << r.files << " file(s), " << r.checkpoints
        << " checkpoint signature(s) verified with " << verifier::fingerprint(*key) << "\n";
  } else {
    out << "broken: " << r.file << ":" << r.line;
    if (r.seq)
      out << " (seq " << *r.seq << ")";
    out << ": " << r.problem << "\n";
    out << "checked before it: " << r.records << " records, " << r.checkpoints
        << " checkpoint signature(s) verified\n";
  }
  for (const std::string& w : r.warnings)
    out << "warning: " << w << "\n";
  return r.intact ? 0 : 1;
}

} // namespace sidecar::audit
