#include "audit/writer.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>

#include "audit/trail_file.h"
#include "common/clock.h"
#include "common/log.h"
#include "verifier/keys.h"

namespace sidecar::audit {

namespace {
// How appenders and the writer meet without a thread switch per record (run()): an idle writer
// is woken by the first record and gathers for up to kGather; while records keep coming it
// sleeps kPoll between batches and is woken early only when the queue is half full. Both are
// far inside the group-commit interval. (20 ms rather than 5: a quarter of the wake-ups, each of
// which preempts a worker sharing the cpu.)
constexpr std::chrono::milliseconds kGather{2};
constexpr std::chrono::milliseconds kPoll{20};
} // namespace

// Where the chain continues, found by open() in the existing trail.
struct AuditWriter::Resume {
  uint64_t nextSeq = 1;
  std::string prevHash{kGenesisHash};
  uint64_t sealedFrom = 1;
  std::string startReason = "new trail";
};

namespace {

constexpr mode_t kFileMode = 0600;

void syncDirectoryOf(const std::string& path) {
  std::filesystem::path p(path);
  std::string dir = p.has_parent_path() ? p.parent_path().string() : ".";
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return; // best effort: the file's own data is synced either way
  ::fsync(fd);
  ::close(fd);
}

// Opens the current file for appending (O_RDWR: resume reads its tail), creating it with mode
// 0600 and setting 0600 on a file that was wider (a umask can only narrow, a file made by
// hand can be anything). Sets `regular`, and `err` to the errno of a failure.
Result<int> openTrailFile(const std::string& path, bool& regular, int& err) {
  int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, kFileMode);
  if (fd < 0) {
    err = errno;
    return Status::error(errnoMessage("cannot open the audit trail", path, err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    err = errno;
    ::close(fd);
    return Status::error(errnoMessage("cannot stat the audit trail", path, err));
  }
  regular = S_ISREG(st.st_mode);
  if (regular && (st.st_mode & 07777) != kFileMode) {
    if (::fchmod(fd, kFileMode) != 0) {
      err = errno;
      ::close(fd);
      return Status::error(errnoMessage("cannot set mode 0600 on the audit trail", path, err));
    }
    log::warn("audit trail mode set to 0600",
              {{"path", path}, {"was", static_cast<unsigned>(st.st_mode & 07777)}});
  }
  return fd;
}

// Reads the trail backwards from its newest line: the last line (where the chain continues) and
// the last checkpoint (where the next checkpoint's range starts). `sources` are (fd, end) pairs,
// newest file first.
struct TailScan {
  bool found = false;
  std::string lastLine;
  LineHead last;
  std::optional<RecordKind> beforeLast;
  std::optional<uint64_t> checkpointSeq;
  uint64_t earliestSeq = 0;
};

Status scanTail(int fd, uint64_t end, const std::string& path, TailScan& scan) {
  std::string bad;
  Status s = forEachLineReverse(fd, end, [&](std::string_view line) {
    std::optional<LineHead> head = parseLineHead(line);
    if (!head) {
      bad = "a line that is not an audit record";
      return false;
    }
    if (!scan.found) {
      scan.found = true;
      scan.lastLine.assign(line);
      scan.last = *head;
    } else if (!scan.beforeLast) {
      scan.beforeLast = head->kind;
    }
    scan.earliestSeq = head->seq;
    if (!scan.checkpointSeq && head->knownKind && head->kind == RecordKind::Checkpoint)
      scan.checkpointSeq = head->seq;
    // Enough once the last checkpoint and the kind of the record before the last are known.
    return !(scan.checkpointSeq && scan.beforeLast);
  });
  if (!s.ok())
    return Status::error("cannot resume the audit trail from " + path + ": " + s.message());
  if (!bad.empty())
    return Status::error("cannot resume the audit trail from " + path + ": it holds " + bad +
                         "; move the file aside (and keep it as evidence) to start a new trail");
  return {};
}

} // namespace

Result<std::unique_ptr<AuditWriter>> AuditWriter::open(AuditOptions options) {
  if (options.path.empty())
    return Status::error("audit_log: the audit trail needs a file path");
  if (options.queueCapacity == 0)
    return Status::error("audit queue capacity: must be at least 1");
  if (options.checkpointEvery == 0)
    return Status::error("audit_checkpoint_every: must be at least 1");
  if (options.checkpointInterval.count() <= 0)
    return Status::error("audit_checkpoint_interval: must be positive");
  if (options.maxBytes == 0)
    return Status::error("audit_max_bytes: must be positive");
  if (sodium_init() < 0)
    return Status::error("libsodium cannot be initialised");
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_seed_keypair(pk, sk, options.signingKey.data());
  bool keyMatches = sodium_memcmp(pk, options.signingKey.data() + 32, sizeof pk) == 0;
  sodium_memzero(sk, sizeof sk);
  if (!keyMatches)
    return Status::error("the audit signing key's last 32 bytes are not the public key of its "
                         "first 32 (the seed): pass libsodium's 64-byte secret key");
  verifier::PublicKey pub;
  std::memcpy(pub.bytes.data(), pk, pub.bytes.size());

  auto rotated = listRotated(options.path);
  unsigned nextRotation = rotated.empty() ? 1 : rotated.back().first + 1;

  bool regular = true;
  int openErr = 0;
  Result<int> opened = openTrailFile(options.path, regular, openErr);
  if (!opened.ok())
    return opened.status();
  int fd = *opened;
  auto fail = [&](Status s) -> Result<std::unique_ptr<AuditWriter>> {
    ::close(fd);
    return s;
  };

  Resume resume;
  uint64_t size = 0;
  if (regular) {
    struct stat st {};
    if (::fstat(fd, &st) != 0)
      return fail(Status::error(errnoMessage("cannot stat", options.path, errno)));
    size = static_cast<uint64_t>(st.st_size);
    Result<uint64_t> complete = completeLinesEnd(fd, size);
    if (!complete.ok())
      return fail(Status::error("cannot resume the audit trail from " + options.path + ": " +
                                complete.error()));
    std::string cutNote;
    if (*complete < size) {
      // A crash in the middle of a write: the partial line was never a record. Cut it so that
      // the next line starts clean, and say so in the start record (size and digest).
      std::string partial(size - *complete, '\0');
      if (::pread(fd, partial.data(), partial.size(), static_cast<off_t>(*complete)) !=
              static_cast<ssize_t>(partial.size()) ||
          ::ftruncate(fd, static_cast<off_t>(*complete)) != 0 || ::fdatasync(fd) != 0)
        return fail(Status::error(
            errnoMessage("cannot cut the partial last line of", options.path, errno)));
      cutNote = "; removed a partial last line of " + std::to_string(partial.size()) +
                " bytes (sha256 " + lineHash(partial) + ")";
      log::warn(
          "audit trail ended with a partial line; cut it",
          {{"path", options.path}, {"bytes", static_cast<unsigned long long>(partial.size())}});
      size = *complete;
    }

    TailScan scan;
    Status s = scanTail(fd, size, options.path, scan);
    if (!s.ok())
      return fail(s);
    for (auto it = rotated.rbegin(); s.ok() && it != rotated.rend() && !scan.checkpointSeq; ++it) {
      int rfd = ::open(it->second.c_str(), O_RDONLY | O_CLOEXEC);
      if (rfd < 0)
        return fail(Status::error(errnoMessage("cannot read", it->second, errno)));
      struct stat rst {};
      s = ::fstat(rfd, &rst) == 0
              ? scanTail(rfd, static_cast<uint64_t>(rst.st_size), it->second, scan)
              : Status::error(errnoMessage("cannot stat", it->second, errno));
      ::close(rfd);
    }
    if (!s.ok())
      return fail(s);
    if (scan.found) {
      resume.nextSeq = scan.last.seq + 1;
      resume.prevHash = lineHash(scan.lastLine);
      resume.sealedFrom = scan.checkpointSeq ? *scan.checkpointSeq + 1 : scan.earliestSeq;
      bool clean = scan.last.kind == RecordKind::Checkpoint &&
                   scan.beforeLast == std::optional<RecordKind>(RecordKind::Stop);
      resume.startReason =
          clean ? "resumed after a clean shutdown" : "resumed after an unclean shutdown";
    }
    resume.startReason += cutNote;
  }

  if (regular)
    syncDirectoryOf(options.path); // a file just created must survive a crash by name too
  std::string keyId = verifier::fingerprint(pub);
  std::unique_ptr<AuditWriter> w(
      new AuditWriter(std::move(options), fd, regular, size, nextRotation, resume, keyId));
  return w;
}

AuditWriter::AuditWriter(AuditOptions options, int fd, bool regular, uint64_t size,
                         unsigned nextRotation, const Resume& resume, std::string keyId)
    : options_(std::move(options)), keyId_(std::move(keyId)), fd_(fd), regular_(regular),
      fileSize_(size), nextRotation_(nextRotation), nextSeq_(resume.nextSeq),
      prevHash_(resume.prevHash), sealedFrom_(resume.sealedFrom) {
  // Records a crash left unsealed are sealed by the next checkpoint (its first_seq says so).
  unsealed_ = nextSeq_ - sealedFrom_;
  Clock::time_point now = Clock::now();
  checkpointDue_ = now + options_.checkpointInterval;
  AuditRecord start;
  start.kind = RecordKind::Start;
  start.reason = resume.startReason;
  start.detail = options_.startDetail;
  emit(start, now);
  thread_ = std::thread([this] { run(); });
}

AuditWriter::~AuditWriter() {
  stop("shutdown");
  sodium_memzero(options_.signingKey.data(), options_.signingKey.size());
}

bool AuditWriter::append(AuditRecord&& record) {
  if (record.ts.empty() && record.monoNs == 0)
    record.monoNs = monoNowNs();
  std::unique_lock lock(mu_);
  cvSpace_.wait(lock, [&] { return queue_.size() < options_.queueCapacity || stopRequested_; });
  if (stopRequested_) {
    recordsLost_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  enqueue(std::move(record), lock);
  return true;
}

AppendResult AuditWriter::tryAppend(AuditRecord& record) {
  std::unique_lock lock(mu_);
  if (stopRequested_) {
    recordsLost_.fetch_add(1, std::memory_order_relaxed);
    return AppendResult::Stopped;
  }
  if (queue_.size() >= options_.queueCapacity) {
    wantSpace_ = true;
    return AppendResult::Full;
  }
  if (record.ts.empty() && record.monoNs == 0)
    record.monoNs = monoNowNs();
  enqueue(std::move(record), lock);
  return AppendResult::Queued;
}

void AuditWriter::enqueue(AuditRecord&& record, std::unique_lock<std::mutex>& lock) {
  queue_.push_back(std::move(record));
  bool wake = writerIdle_ || queue_.size() == wakeAt();
  writerIdle_ = false; // one wake-up is enough
  lock.unlock();
  if (wake)
    cvWork_.notify_one();
}

bool AuditWriter::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  uint64_t generation = ++flushAsked_;
  cvWork_.notify_one();
  cvFlushed_.wait_for(lock, timeout, [&] { return flushDone_ >= generation || finished_; });
  return flushDone_ >= generation;
}

void AuditWriter::stop(std::string_view reason) {
  std::lock_guard stopLock(stopMu_);
  {
    std::lock_guard lock(mu_);
    if (!stopRequested_) {
      stopRequested_ = true;
      stopReason_ = std::string(reason);
    }
  }
  cvWork_.notify_one();
  cvSpace_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

AuditStats AuditWriter::stats() const {
  AuditStats s;
  s.recordsWritten = recordsWritten_.load(std::memory_order_relaxed);
  s.writeErrors = writeErrors_.load(std::memory_order_relaxed);
  s.recordsLost = recordsLost_.load(std::memory_order_relaxed);
  s.checkpoints = checkpoints_.load(std::memory_order_relaxed);
  s.rotations = rotations_.load(std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  s.queued = queue_.size();
  return s;
}

AuditWriter::Clock::time_point AuditWriter::nextDeadline() const {
  Clock::time_point t = Clock::time_point::max();
  if (dirty_ && !syncFailing_)
    t = std::min(t, unsyncedSince_ + options_.flushInterval);
  if (writeFailing_ || syncFailing_)
    t = std::min(t, retryAt_);
  if (unsealed_ > 0)
    t = std::min(t, checkpointDue_);
  if (stopSeen_)
    t = std::min(t, stopDeadline_);
  return t;
}

void AuditWriter::run() {
  std::vector<AuditRecord> batch;
  for (;;) {
    bool flushNow = false;
    bool callSpace = false;
    bool drained = false;
    uint64_t flushGeneration = 0;
    std::string stopReason;
    {
      std::unique_lock lock(mu_);
      // While writes fail, only a retry deadline, stop or flush wakes the writer.
      auto ready = [&] {
        return (!writeFailing_ && (!pending_.empty() || !queue_.empty())) ||
               (stopRequested_ && !stopSeen_) || flushAsked_ > flushSeen_;
      };
      auto urgent = [&] {
        return queue_.size() >= wakeAt() || stopRequested_ || flushAsked_ > flushSeen_;
      };
      Clock::time_point deadline = nextDeadline();
      if (polling_) {
        // Records kept coming: sleep a poll period. Appenders do not wake a polling writer (a
        // futex call and a thread switch per record would cost more than the record itself).
        cvWork_.wait_until(lock, std::min(deadline, Clock::now() + kPoll), urgent);
      } else {
        writerIdle_ = !ready();
        if (deadline == Clock::time_point::max())
          cvWork_.wait(lock, ready);
        else
          cvWork_.wait_until(lock, deadline, ready);
        writerIdle_ = false;
        // Gather: records arriving one by one would otherwise cost a thread switch each.
        if (!writeFailing_ && !queue_.empty() && !urgent())
          cvWork_.wait_until(lock, Clock::now() + kGather, urgent);
      }
      if (stopRequested_ && !stopSeen_) {
        stopSeen_ = true;
        stopDeadline_ = Clock::now() + options_.stopTimeout;
        callSpace = true; // an event loop waiting for room learns that it is stopped
      }
      stopReason = stopReason_;
      // Everything appended before this flush() is in the queue now, taken below (or, while
      // writes fail, still queued: then the flush is not done).
      flushNow = flushAsked_ > flushSeen_;
      flushGeneration = flushAsked_;
      flushSeen_ = flushGeneration;
      // While a write is failing, records stay in the queue: its bound is the backpressure.
      polling_ = !writeFailing_ && !queue_.empty();
      if (!writeFailing_ && !queue_.empty()) {
        batch.swap(queue_); // batch is empty: the two buffers keep their capacity
        cvSpace_.notify_all();
        if (wantSpace_) {
          wantSpace_ = false;
          callSpace = true;
        }
      }
      drained = queue_.empty();
    }
    if (callSpace && options_.onSpace)
      options_.onSpace();
    if (!batch.empty() && options_.beforeBatch)
      options_.beforeBatch();

    Clock::time_point now = Clock::now();
    if (!batch.empty())
      wallMinusMono_ = std::chrono::system_clock::now().time_since_epoch() -
                       std::chrono::nanoseconds(monoNowNs());
    for (AuditRecord& r : batch)
      emit(r, now);
    batch.clear();
    if (unsealed_ > 0 && now >= checkpointDue_)
      emitCheckpoint();
    if (stopSeen_ && drained && !stopEmitted_) {
      AuditRecord stopRecord;
      stopRecord.kind = RecordKind::Stop;
      stopRecord.reason = stopReason;
      emit(stopRecord, now);
      if (unsealed_ > 0)  // emit() may have just written one (checkpointEvery)
        emitCheckpoint(); // a clean shutdown leaves nothing unsealed
      stopEmitted_ = true;
    }

    bool writeDue = !writeFailing_ || now >= retryAt_;
    if ((!pending_.empty() || fd_ < 0) && writeDue)
      writePending(now);
    bool syncDue = flushNow || stopSeen_ || options_.flushInterval.count() <= 0 ||
                   now >= unsyncedSince_ + options_.flushInterval;
    // Also while a write fails: what did reach the file (whole lines, maybe part of one) is
    // synced on time, and a sync deadline never stays in the past.
    if (dirty_ && syncDue && (!syncFailing_ || now >= retryAt_))
      syncFile(now);
    maybeRotate(now);

    std::unique_lock lock(mu_);
    if (pending_.empty() && !dirty_ && !writeFailing_ && drained && flushDone_ < flushGeneration) {
      flushDone_ = flushGeneration;
      cvFlushed_.notify_all();
    }
    bool done = stopEmitted_ && pending_.empty() && !dirty_;
    if (done) // everything is durable: any flush(), even a later one, is satisfied
      flushDone_ = std::numeric_limits<uint64_t>::max();
    if (!done && stopSeen_ && Clock::now() >= stopDeadline_) {
      uint64_t lost = pendingLines_ + queue_.size();
      recordsLost_.fetch_add(lost, std::memory_order_relaxed);
      queue_.clear();
      if (lost > 0)
        log::error("audit trail: records lost at shutdown, the file could not be written",
                   {{"path", options_.path},
                    {"records_lost", static_cast<unsigned long long>(lost)},
                    {"unsynced", dirty_}});
      else
        log::error("audit trail: the last records were written but could not be synced at "
                   "shutdown",
                   {{"path", options_.path}});
      done = true;
    }
    if (done) {
      finished_ = true;
      cvFlushed_.notify_all();
      cvSpace_.notify_all();
      break;
    }
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void AuditWriter::emit(AuditRecord& record, Clock::time_point now) {
  assert(record.kind != RecordKind::Checkpoint); // only emitCheckpoint() makes those
  std::string_view ts = record.ts;
  if (ts.empty()) { // formatted into the writer's own buffer: no allocation per record
    using std::chrono::system_clock;
    system_clock::time_point when =
        record.monoNs != 0
            ? system_clock::time_point(std::chrono::duration_cast<system_clock::duration>(
                  std::chrono::nanoseconds(record.monoNs) + wallMinusMono_))
            : system_clock::now(); // the writer's own records (start, stop)
    rfc3339Into(when, tsBuf_);
    ts = tsBuf_;
  }
  emitLine(serializeRecordView(record, nextSeq_, prevHash_, ts, options_.args));
  if (unsealed_++ == 0)
    checkpointDue_ = now + options_.checkpointInterval;
  if (unsealed_ >= options_.checkpointEvery)
    emitCheckpoint();
}

void AuditWriter::emitLine(std::string_view line) {
  prevHash_.resize(64); // the hash is written in place: no new string per record
  lineHashTo(line, prevHash_.data());
  ++nextSeq_;
  pending_ += line;
  pending_ += '\n';
  ++pendingLines_;
}

void AuditWriter::emitCheckpoint() {
  Checkpoint c;
  c.seq = nextSeq_;
  c.ts = rfc3339Now();
  c.firstSeq = sealedFrom_;
  c.lastSeq = nextSeq_ - 1;
  c.lastHash = prevHash_;
  c.keyId = keyId_;
  std::string message = checkpointMessage(c);
  std::array<uint8_t, crypto_sign_BYTES> sig{};
  crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size(), options_.signingKey.data());
  c.sig = verifier::base64(sig);
  emitLine(serializeCheckpoint(c));
  sealedFrom_ = nextSeq_;
  unsealed_ = 0;
  checkpoints_.fetch_add(1, std::memory_order_relaxed);
}

int AuditWriter::openCurrent() {
  bool regular = true;
  int err = 0;
  Result<int> fd = openTrailFile(options_.path, regular, err);
  if (!fd.ok())
    return err;
  fd_ = *fd;
  regular_ = regular;
  fileSize_ = 0;
  syncDirectoryOf(options_.path); // the new name must survive a crash too
  return 0;
}

bool AuditWriter::writePending(Clock::time_point now) {
  if (fd_ < 0) {
    if (int err = openCurrent(); err != 0) {
      writeFailing_ = true;
      noteError("open", err, now);
      return false;
    }
  }
  while (!pending_.empty()) {
    ssize_t n = ::write(fd_, pending_.data(), pending_.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      writeFailing_ = true;
      noteError("write", n < 0 ? errno : EIO, now);
      return false;
    }
    // A short write (disk filling up) leaves the rest of a line in pending_: the retry writes
    // exactly the missing bytes, so the file ends up with the lines as they were chained.
    auto written = static_cast<size_t>(n);
    uint64_t lines = pendingLines_; // the usual case: everything written
    if (written < pending_.size())
      lines = static_cast<uint64_t>(
          std::count(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(written), '\n'));
    pending_.erase(0, written);
    pendingLines_ -= lines;
    recordsWritten_.fetch_add(lines, std::memory_order_relaxed);
    fileSize_ += written;
    if (regular_ && !dirty_) {
      dirty_ = true;
      unsyncedSince_ = now;
    }
  }
  writeFailing_ = false;
  noteRecovered();
  return true;
}

bool AuditWriter::syncFile(Clock::time_point now) {
  if (::fdatasync(fd_) != 0) {
    // After a failed fdatasync the kernel may have dropped the dirty pages: what it covered is
    // not known to be on disk. Counted and retried; the readiness check turns false meanwhile.
    syncFailing_ = true;
    noteError("fdatasync", errno, now);
    return false;
  }
  dirty_ = false;
  syncFailing_ = false;
  noteRecovered();
  return true;
}

void AuditWriter::maybeRotate(Clock::time_point now) {
  if (!regular_ || fd_ < 0 || fileSize_ < options_.maxBytes || now < rotateRetryAt_)
    return;
  if (!pending_.empty() || writeFailing_ || syncFailing_)
    return;
  // Every rotated file ends with a checkpoint: its records are sealed before it is closed.
  if (unsealed_ > 0) {
    emitCheckpoint();
    if (!writePending(now))
      return;
  }
  if (dirty_ && !syncFile(now))
    return;
  std::string target = rotatedPath(options_.path, nextRotation_);
  // Never replace a file that is already there (put there by hand): take the next free index.
  while (::access(target.c_str(), F_OK) == 0)
    target = rotatedPath(options_.path, ++nextRotation_);
  if (::rename(options_.path.c_str(), target.c_str()) != 0) {
    int err = errno;
    writeErrors_.fetch_add(1, std::memory_order_relaxed);
    log::error("audit trail rotation failed; still writing to the current file",
               {{"path", options_.path}, {"to", target}, {"error", std::strerror(err)}});
    rotateRetryAt_ = now + std::max(options_.retryInterval, std::chrono::milliseconds(1000));
    return;
  }
  ++nextRotation_;
  rotations_.fetch_add(1, std::memory_order_relaxed);
  ::close(fd_);
  fd_ = -1;
  if (int err = openCurrent(); err != 0) {
    writeFailing_ = true;
    noteError("open", err, now);
  }
}

void AuditWriter::noteError(const char* op, int err, Clock::time_point now) {
  writeErrors_.fetch_add(1, std::memory_order_relaxed);
  healthy_.store(false, std::memory_order_relaxed);
  retryAt_ = now + options_.retryInterval;
  if (errorLogged_)
    return; // once per episode: a full disk must not flood the log
  errorLogged_ = true;
  log::error("audit trail write failed; retrying, records wait in the queue",
             {{"path", options_.path}, {"op", op}, {"errno", err}, {"error", std::strerror(err)}});
}

void AuditWriter::noteRecovered() {
  if (writeFailing_ || syncFailing_ || fd_ < 0)
    return;
  healthy_.store(true, std::memory_order_relaxed);
  if (errorLogged_) {
    errorLogged_ = false;
    log::info("audit trail writable again",
              {{"path", options_.path},
               {"write_errors",
                static_cast<unsigned long long>(writeErrors_.load(std::memory_order_relaxed))}});
  }
}

} // namespace sidecar::audit
