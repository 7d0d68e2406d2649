#pragma once
// The AIM spool: a bounded directory of records that AIM must receive, kept until AIM
// acknowledges each with a 2xx (docs/aim.md "Nothing lost").
//
// One file per record, `<seq>.<kind>.rec`, written to a temporary name and renamed into place
// before append() returns, so a record that append() accepted survives a crash of the process
// (SIGKILL included) at any later point; sync() makes it survive a power loss too. Before its
// first attempt a record is renamed to `<seq>.<kind>.sent`: a record found in that state after a
// restart may already have reached AIM, and resending it may create a duplicate that the shipper
// counts. Records AIM refuses for good are moved to `dead/` with a `.reason` file beside them:
// kept, counted and counted against the bound, never deleted by the sidecar.
//
// The bound covers every record byte, live and dead. append() refuses a record that would cross
// it (the caller reports the refusal; nothing is dropped silently), and nearFull() turns true at
// `nearFullRatio` of it so that readiness can fail before records are refused.
//
// Thread safety: every member may be called from any thread (one mutex). append() does file I/O
// (open, write, rename; no fsync) under that mutex.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sidecar::aim {

struct SpoolOptions {
  std::string dir;                  // created with mode 0700 when missing
  uint64_t maxBytes = 256ull << 20; // --spool-max-bytes
  double nearFullRatio = 0.9;       // nearFull() from this share of maxBytes
  bool syncEachAppend = false;      // fsync in append() itself (slower; power-loss safe at once)
};

struct SpoolRecord {
  uint64_t seq = 0;
  std::string kind;
  std::string payload;
  // An earlier attempt, in this run or before a restart, may have reached AIM.
  bool maybeSent = false;
};

class Spool;
using SpoolPtr = std::unique_ptr<Spool>;

class Spool {
public:
  // Creates the directory if needed, removes temporary files a crash left, and indexes the
  // records found (`.sent` ones as maybeSent). Errors name the directory and the failing call.
  static Result<SpoolPtr> open(SpoolOptions options);

  // Writes a record of `kind` ([a-z0-9_]+) holding `payload` and returns its sequence number,
  // which orders delivery. With `replaceOlder`, older records of the same kind that are not being
  // attempted are deleted after the new one is in place (usage reports: each holds cumulative
  // totals, so only the newest matters). Errors: the bound would be crossed (the message names
  // --spool-max-bytes), or a file call failed.
  Result<uint64_t> append(std::string_view kind, std::string_view payload,
                          bool replaceOlder = false);

  // The oldest live record, read from disk; nullopt when there is none. A record whose file can
  // no longer be read is moved to dead/ (counted) and the next one is returned.
  std::optional<SpoolRecord> front();

  // Before each attempt to send `seq`: renames it to `.sent` on the first attempt and protects it
  // from replaceOlder until remove(), deadLetter() or endAttempt().
  Status beginAttempt(uint64_t seq);
  // After a failed attempt that will be retried.
  void endAttempt(uint64_t seq);
  // After AIM acknowledged `seq`.
  Status remove(uint64_t seq);
  // After AIM refused `seq` for good: moves it to dead/ with `reason` beside it.
  Status deadLetter(uint64_t seq, std::string_view reason);

  // fsyncs every file written since the last call, and the directory.
  void sync();

  uint64_t bytes() const; // live and dead record bytes
  size_t records() const; // live records
  size_t deadLetters() const;
  bool nearFull() const;
  uint64_t maxBytes() const { return options_.maxBytes; }
  const std::string& dir() const { return options_.dir; }
  // Appends refused because of the bound, since open.
  uint64_t refused() const;
  // Live records, oldest first, payloads included (tests, status).
  std::vector<SpoolRecord> list() const;

  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

private:
  struct Entry {
    std::string kind;
    uint64_t size = 0;
    bool sent = false; // the file is `.sent`
  };

  explicit Spool(SpoolOptions options) : options_(std::move(options)) {}
  std::string fileName(uint64_t seq, const Entry& e) const;
  Status moveToDeadLocked(uint64_t seq, std::string_view reason);

  SpoolOptions options_;
  mutable std::mutex mu_;
  std::map<uint64_t, Entry> live_;
  uint64_t nextSeq_ = 1;
  uint64_t liveBytes_ = 0;
  uint64_t deadBytes_ = 0;
  size_t deadCount_ = 0;
  uint64_t refused_ = 0;
  uint64_t attempting_ = 0; // 0: none
  std::vector<std::string> unsynced_;
  bool dirDirty_ = false;
};

} // namespace sidecar::aim
