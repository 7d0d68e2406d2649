#pragma once
// Child processes for integration tests: spawn, capture output, wait, and never leak.
//
// A Process runs one program in its own process group with stdin on /dev/null and stdout/stderr
// captured through pipes by a reader thread. Destroying the Process kills the whole group and
// reaps the child; a child that died of a signal the test did not send (SIGSEGV, SIGABRT, ...)
// or whose stderr holds a sanitizer report fails the current test, so a crash never passes
// silently. The captured output is printed when the current test has failed.
//
// Timeouts passed here are used as given; callers scale them (tests/support/http_client.h
// scaled()) where sanitizers slow things down.

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace sidecar::test {

enum class Stream { Stdout, Stderr };

const char* streamName(Stream which);

// A line of output matched by a regular expression. groups[0] is the whole match, groups[i] the
// i-th capture group (empty when it did not participate).
struct RegexMatch {
  std::string line;
  std::vector<std::string> groups;
};

class Process;
using ProcessPtr = std::unique_ptr<Process>;

class Process {
public:
  // Starts argv[0] (searched in PATH when it has no '/') with argv, the test's environment plus
  // `extraEnv` (which overrides variables of the same name), in `cwd` when not empty.
  // Returns nullptr and adds a test failure naming the reason when the program cannot be
  // started (missing binary, bad cwd, ...). The child gets PR_SET_PDEATHSIG(SIGKILL): if the
  // thread that called spawn() exits first, the child is killed, so spawn from the test thread.
  // With `pipeStdin`, stdin is a pipe the test writes with writeStdin() instead of /dev/null.
  static ProcessPtr spawn(std::vector<std::string> argv,
                          std::vector<std::pair<std::string, std::string>> extraEnv = {},
                          std::string cwd = "", bool pipeStdin = false);

  // Kills the process group if the child still runs, reaps it, stops the reader thread, then
  // reports crashes and dumps output on failure (see the file comment).
  ~Process();

  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }

  // With pipeStdin: writes all of `bytes` to the child's stdin (blocking); false when the pipe
  // is closed (the child exited) or was not asked for. closeStdin() gives the child EOF.
  bool writeStdin(std::string_view bytes);
  void closeStdin();
  const std::vector<std::string>& argv() const { return argv_; }

  // Waits for a complete line of `which` that contains `needle` and returns it (without the line
  // terminator). The search covers lines completed after byte offset `from` (see outputSize());
  // 0 searches everything captured. A final line without '\n' counts once the stream is closed.
  // Returns nullopt on timeout, or as soon as the stream is closed without a match (the process
  // exited), without waiting for the whole timeout.
  std::optional<std::string> waitForOutput(std::string_view needle, Stream which,
                                           std::chrono::milliseconds timeout, size_t from = 0);
  // As above, for the first line where std::regex_search finds `pattern`.
  std::optional<RegexMatch> waitForOutput(const std::regex& pattern, Stream which,
                                          std::chrono::milliseconds timeout, size_t from = 0);

  // Bytes captured so far on `which`; a mark for waitForOutput(..., from).
  size_t outputSize(Stream which) const;
  std::string stdoutText() const;
  std::string stderrText() const;
  std::string outputText(Stream which) const;

  // Sends `signal` to the child (not its group). The signal is remembered as sent by the test,
  // so death by it is not reported as a crash. Returns false if the child was already reaped or
  // kill() failed.
  bool sendSignal(int signal);
  // Sends `signal` to the whole process group (child and its descendants), remembered as above.
  bool sendSignalToGroup(int signal);

  // Waits up to `timeout` for the child to exit and returns its raw wait status (use WIFEXITED,
  // WEXITSTATUS, WIFSIGNALED, WTERMSIG). Returns nullopt if it still runs at the deadline.
  // When it returns a status, everything the child wrote is captured (it first waits, up to 1 s,
  // for the pipes to be drained; only descendants holding them open make it wait that long).
  std::optional<int> waitExit(std::chrono::milliseconds timeout);
  // The wait status if the child has exited (reaping it if needed), nullopt while it runs.
  std::optional<int> exitStatus();
  bool running();

  // Tests that make the child crash on purpose call this so the destructor does not fail them.
  void allowAbnormalExit() { allowAbnormalExit_ = true; }

  // Prints argv, pid, status and all captured output to stderr if the current test has failed.
  // Prints at most once per Process; the destructor calls it too.
  void dumpOnFailure();
  // The text dumpOnFailure() prints; callers that put it in a failure message of their own call
  // markDumped() so it is not printed twice.
  std::string dumpText();
  void markDumped() { dumped_ = true; }

  // Describes a raw wait status: "exited with 3", "killed by signal 11 (Segmentation fault)".
  static std::string describeStatus(int status);

private:
  struct Capture {
    std::string text;
    bool closed = false;
  };

  Process(std::vector<std::string> argv, pid_t pid, int stdoutFd, int stderrFd, int stopReadFd,
          int stopWriteFd);

  void readLoop(int stdoutFd, int stderrFd, int stopReadFd);
  // Reaps the child without blocking if it has exited; requires statusMutex_.
  void pollExitLocked();
  // Scans `which` from `from` for the first line accepted by `accept`; returns it or nullopt.
  template <class Accept>
  std::optional<std::string> waitForLine(Stream which, std::chrono::milliseconds timeout,
                                         size_t from, Accept&& accept);
  void checkForCrash();

  const std::vector<std::string> argv_;
  const pid_t pid_;

  mutable std::mutex outputMutex_;
  std::condition_variable outputChanged_;
  Capture captures_[2];

  std::mutex statusMutex_;
  std::optional<int> status_;
  std::set<int> sentSignals_;

  // A pipe whose write end wakes the reader thread so the destructor can stop it.
  int stopReadFd_;
  int stopWriteFd_;
  int stdinFd_ = -1; // the write end of the child's stdin (pipeStdin)
  std::thread reader_;
  bool exitDrained_ = false; // guarded by outputMutex_
  bool allowAbnormalExit_ = false;
  bool dumped_ = false;
};

} // namespace sidecar::test
