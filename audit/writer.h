#pragma once
// The audit trail's writer: a bounded queue in front of one writer thread that serializes,
// chains, checkpoints, writes, syncs and rotates (docs/audit.md).
//
// The request path only moves a record into the queue. When the queue is full, append() blocks
// and tryAppend() answers Full so that an event loop can stop reading from its clients until
// `onSpace` runs: records are never dropped to keep up. Everything else happens on the writer
// thread: `seq` and `prev`, argument digests and redaction, checkpoint signatures, group commit
// (fdatasync at least every `flushInterval`), rotation by size, and retries after write errors.
// A record that cannot be written stays queued and is retried; only records still unwritten when
// stop() gives up are lost, and they are counted (recordsLost) and logged.

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "audit/record.h"
#include "common/status.h"

namespace sidecar::audit {

enum class AppendResult {
  Queued,  // the record was moved into the queue
  Full,    // the queue is full; the record is untouched; `onSpace` runs when there is room
  Stopped, // the writer is stopping; the record is untouched and counted as lost
};

// What the request path sees of the audit trail (tests fake it).
class AuditSink {
public:
  virtual ~AuditSink() = default;
  // Queues `record` from any thread, blocking while the queue is full (backpressure). Kinds
  // Operation, Rejected and Drift; the writer writes start, stop and checkpoint records itself.
  // An empty `ts` without `monoNs` is stamped now. False after stop(): the record is counted
  // as lost.
  virtual bool append(AuditRecord&& record) = 0;
  // As append(), but never blocks: see AppendResult. For event loops.
  virtual AppendResult tryAppend(AuditRecord& record) = 0;
  // False while writes or syncs fail (the readiness check).
  virtual bool healthy() const = 0;
};

struct AuditOptions {
  std::string path;                     // the current file; rotated files are path.1, path.2, …
  std::array<uint8_t, 64> signingKey{}; // libsodium Ed25519 secret key: seed ‖ public key
  uint64_t maxBytes = 100ull << 20;     // rotate once the current file holds at least this much
  uint32_t checkpointEvery = 1000;      // a checkpoint after this many records …
  std::chrono::milliseconds checkpointInterval{10000}; // … or this long after the first unsealed
  std::chrono::milliseconds flushInterval{100}; // data is fdatasync'ed this soon; 0: every write
  size_t queueCapacity = 4096;                  // records
  ArgsPolicy args;
  std::string startDetail; // JSON written as the start record's `detail` (version, settings)
  // Runs on the writer thread when the queue has room again after tryAppend() answered Full, and
  // when the writer stops. Must not block; typically uv_async_send().
  std::function<void()> onSpace;
  std::chrono::milliseconds retryInterval{1000}; // between attempts after a write error
  std::chrono::milliseconds stopTimeout{5000};   // how long stop() retries failing writes
  // Tests: runs on the writer thread before each batch of queued records is handled.
  std::function<void()> beforeBatch;
};

struct AuditStats {
  uint64_t recordsWritten = 0; // lines fully written, every kind (mcp_sidecar_audit_records_total)
  uint64_t writeErrors = 0; // failed open, write, fdatasync and rename calls (…_write_errors_total)
  uint64_t recordsLost = 0; // appended after stop(), or still unwritten when stop() gave up
  uint64_t checkpoints = 0;
  uint64_t rotations = 0;
  size_t queued = 0;
};

class AuditWriter final : public AuditSink {
public:
  // Opens (creating with mode 0600, or setting 0600 on) `options.path`, resumes the chain from
  // the existing trail (a partial last line left by a crash is cut off and the cut noted in the
  // start record), queues the start record and starts the writer thread. Errors: an unusable
  // option (named), a file that cannot be opened, a trail whose last records cannot be read.
  static Result<std::unique_ptr<AuditWriter>> open(AuditOptions options);

  // stop("shutdown").
  ~AuditWriter() override;
  AuditWriter(const AuditWriter&) = delete;
  AuditWriter& operator=(const AuditWriter&) = delete;

  bool append(AuditRecord&& record) override;
  AppendResult tryAppend(AuditRecord& record) override;
  bool healthy() const override { return healthy_.load(std::memory_order_relaxed); }

  // Waits until every record appended before the call (and the writer's own records) is written
  // and synced. False on timeout, for instance while writes fail; true after a clean stop().
  bool flush(std::chrono::milliseconds timeout);

  // Refuses further records, writes what is queued, a stop record (`reason`) and a final
  // checkpoint, syncs, and joins the writer thread. While writes fail it retries for
  // `stopTimeout`, then counts what is left as lost. Idempotent; any thread but the writer's.
  void stop(std::string_view reason = "shutdown");

  AuditStats stats() const;
  const std::string& path() const { return options_.path; }

private:
  using Clock = std::chrono::steady_clock;
  struct Resume;

  AuditWriter(AuditOptions options, int fd, bool regular, uint64_t size, unsigned nextRotation,
              const Resume& resume, std::string keyId);

  // Writer thread only (and open(), before the thread starts).
  void run();
  void emit(AuditRecord& record, Clock::time_point now);
  void emitLine(std::string_view line);
  void emitCheckpoint();
  bool writePending(Clock::time_point now);
  bool syncFile(Clock::time_point now);
  void maybeRotate(Clock::time_point now);
  int openCurrent(); // 0, or the errno of the failure
  void noteError(const char* op, int err, Clock::time_point now);
  void noteRecovered();
  Clock::time_point nextDeadline() const;
  // Under `lock` (mu_, which it releases): queues the record and wakes the writer when it is idle
  // or the queue reaches wakeAt().
  void enqueue(AuditRecord&& record, std::unique_lock<std::mutex>& lock);
  // The queue length at which an appender wakes even a polling writer.
  size_t wakeAt() const { return std::max<size_t>(1, options_.queueCapacity / 2); }

  AuditOptions options_;
  std::string keyId_;

  // Writer-thread state.
  int fd_ = -1;
  bool regular_ = true; // a regular file: synced, rotated and resumed (not /dev/full, a FIFO…)
  uint64_t fileSize_ = 0;
  unsigned nextRotation_ = 1;
  uint64_t nextSeq_ = 1;
  std::string prevHash_;
  std::string tsBuf_; // a record's ts, formatted here (reused)
  // Wall-clock minus monotonic time, read once per batch: turns a record's monoNs into its ts.
  std::chrono::nanoseconds wallMinusMono_{0};
  uint64_t sealedFrom_ = 1; // first record not yet covered by a checkpoint
  uint64_t unsealed_ = 0;
  Clock::time_point checkpointDue_{};
  std::string pending_; // serialized lines not yet written (a failed write's rest first)
  uint64_t pendingLines_ = 0;
  bool dirty_ = false; // written, not yet synced
  Clock::time_point unsyncedSince_{};
  bool writeFailing_ = false;
  bool syncFailing_ = false;
  bool errorLogged_ = false;
  Clock::time_point retryAt_{};
  Clock::time_point rotateRetryAt_{};
  bool stopSeen_ = false;
  bool stopEmitted_ = false;
  bool polling_ = false; // the last round took records: sleep a poll period, unwoken
  Clock::time_point stopDeadline_{};

  // Shared with producers, under mu_.
  mutable std::mutex mu_;
  std::condition_variable cvWork_;    // the writer waits for records, stop or flush
  std::condition_variable cvSpace_;   // producers wait for room
  std::condition_variable cvFlushed_; // flush() waits for flushDone_
  std::vector<AuditRecord> queue_;    // swapped whole with the writer's batch
  bool stopRequested_ = false;
  bool finished_ = false;
  bool wantSpace_ = false;
  // The writer waits with nothing to do: the next append() wakes it. While records keep coming
  // it polls instead (run()), and appenders do not wake it per record.
  bool writerIdle_ = false;
  std::string stopReason_;
  // flush() asks for generation flushAsked_; the writer notes the generation it saw with the
  // queue it took (flushSeen_) and, once all that is written and synced, reports it done.
  uint64_t flushAsked_ = 0;
  uint64_t flushSeen_ = 0;
  uint64_t flushDone_ = 0;

  std::atomic<bool> healthy_{true};
  std::atomic<uint64_t> recordsWritten_{0};
  std::atomic<uint64_t> writeErrors_{0};
  std::atomic<uint64_t> recordsLost_{0};
  std::atomic<uint64_t> checkpoints_{0};
  std::atomic<uint64_t> rotations_{0};

  std::mutex stopMu_; // serializes stop() callers around join()
  std::thread thread_;
};

using AuditWriterPtr = std::unique_ptr<AuditWriter>;

} // namespace sidecar::audit
