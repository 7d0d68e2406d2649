#pragma once
// Cumulative per-tool call counts since the state directory began: what `mcp-usage-report`
// carries (aim-wire.md §13). Totals only ever grow, so a lost or repeated report does no harm.
//
// On disk, in its directory (<state-dir>/aim/usage/):
// * `usage.json`: a snapshot {"generation":G,"tools":{name:{count,firstUsed,lastUsed}}};
// * `journal-<g>.log`: one line per call since, `["<tool>","<RFC 3339 time>"]`.
// Totals = the snapshot plus every journal of generation ≥ G. record() appends its line with one
// write(2) before it returns, so a call counted survives a crash of the process; compact() folds
// the journal into a new snapshot. Each step of compact() leaves files that add up to the same
// totals, so a crash at any point neither loses nor doubles a call. open() starts a new
// generation, which also leaves behind a line a crash cut short.
//
// Thread safety: every member may be called from any thread. record() holds a mutex for one small
// write; compact() writes and fsyncs the snapshot outside it.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "aim/wire.h"
#include "common/status.h"

namespace sidecar::aim {

class UsageStore;
using UsageStorePtr = std::unique_ptr<UsageStore>;

class UsageStore {
public:
  // Creates `dir` (0700) when missing, loads the snapshot and journals, and compacts once.
  // Errors name the file and what is wrong with it (an unreadable or invalid snapshot is an error,
  // not an empty start, so that totals never silently restart from zero).
  static Result<UsageStorePtr> open(std::string dir);
  ~UsageStore();

  // Counts one call of `tool` at `when`. The count is kept in memory even when the journal write
  // fails (the error is returned, and the next compact() persists it).
  Status record(std::string_view tool, std::chrono::system_clock::time_point when);

  UsageTotals totals() const;
  // Calls counted since open (changes when totals() does).
  uint64_t version() const;

  // Writes a snapshot of the totals and moves to a new journal.
  Status compact();

  UsageStore(const UsageStore&) = delete;
  UsageStore& operator=(const UsageStore&) = delete;

private:
  explicit UsageStore(std::string dir) : dir_(std::move(dir)) {}
  std::string journalPath(uint64_t generation) const;
  static void add(UsageTotals& totals, const std::string& tool, const std::string& when);

  const std::string dir_;
  mutable std::mutex mu_;
  UsageTotals totals_;
  uint64_t version_ = 0;
  uint64_t generation_ = 0; // of the journal being written
  int journalFd_ = -1;
  std::mutex compactMu_; // one compact() at a time
};

} // namespace sidecar::aim
