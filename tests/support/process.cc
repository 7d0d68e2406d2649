#include "tests/support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>

extern char** environ;

namespace sidecar::test {
namespace {

using Clock = std::chrono::steady_clock;

// Output beyond this many bytes per stream is elided (head kept short, tail kept) when dumping.
constexpr size_t kDumpTailBytes = 1 << 20;
constexpr size_t kReadChunk = 64 * 1024;
// How long the destructor waits for the pipes to reach EOF after the group was killed, before
// giving up on descendants that escaped the group and still hold them.
constexpr auto kPipeDrainTimeout = std::chrono::seconds(2);
// How long waitExit() waits for output still in the pipes after the child exited. Only reached
// when descendants keep the pipes open.
constexpr auto kExitDrainTimeout = std::chrono::seconds(1);

size_t streamIndex(Stream which) {
  return which == Stream::Stdout ? 0 : 1;
}

void closeFd(int& fd) {
  if (fd >= 0) {
    ::close(fd);
    fd = -1;
  }
}

std::string errnoText(int err) {
  return std::string(std::strerror(err));
}

// Finds an executable for `name`: itself when it contains '/', else the first match in PATH.
std::optional<std::string> resolveProgram(const std::string& name) {
  if (name.find('/') != std::string::npos)
    return name;
  const char* pathEnv = std::getenv("PATH");
  std::string path = pathEnv != nullptr ? pathEnv : "/usr/local/bin:/usr/bin:/bin";
  size_t begin = 0;
  while (begin <= path.size()) {
    size_t end = path.find(':', begin);
    if (end == std::string::npos)
      end = path.size();
    std::string dir = path.substr(begin, end - begin);
    if (dir.empty())
      dir = ".";
    std::string candidate = dir + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    begin = end + 1;
  }
  return std::nullopt;
}

std::vector<std::string>
buildEnvironment(const std::vector<std::pair<std::string, std::string>>& extraEnv) {
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    std::string_view name = text.substr(0, text.find('='));
    bool overridden = std::any_of(extraEnv.begin(), extraEnv.end(),
                                  [&](const auto& kv) { return kv.first == name; });
    if (!overridden)
      env.emplace_back(text);
  }
  for (const auto& [name, value] : extraEnv)
    env.push_back(name + "=" + value);
  return env;
}

std::vector<char*> cStringArray(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings)
    out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// What the child reports through the exec-error pipe when it cannot exec.
struct ChildFailure {
  int stage; // 0 = chdir, 1 = execve, 2 = dup2
  int err;
};

// Runs in the forked child: only async-signal-safe calls until execve.
[[noreturn]] void execChild(const char* program, char* const* argv, char* const* envp,
                            const char* cwd, int stdinFd, int stdoutFd, int stderrFd, int reportFd,
                            pid_t parent) {
  auto fail = [&](int stage) {
    ChildFailure failure{stage, errno};
    ssize_t ignored = ::write(reportFd, &failure, sizeof failure);
    (void)ignored;
    ::_exit(127);
  };
  ::setpgid(0, 0);
  // Die with the parent rather than leak when a test binary crashes. Checking the parent after
  // prctl closes the race where it died before the request was made.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent)
    ::_exit(127);

  // Ignored signals survive exec (a test may ignore SIGPIPE); the child starts from defaults.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig)
    ::sigaction(sig, &dfl, nullptr);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);

  if (::dup2(stdinFd, STDIN_FILENO) < 0 || ::dup2(stdoutFd, STDOUT_FILENO) < 0 ||
      ::dup2(stderrFd, STDERR_FILENO) < 0) {
    fail(2);
  }
  // Descriptors the test process opened without O_CLOEXEC must not leak into the child.
  if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    for (int fd = 3; fd < 4096; ++fd)
      ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  if (cwd != nullptr && ::chdir(cwd) != 0)
    fail(0);
  ::execve(program, argv, envp);
  fail(1);
  ::_exit(127); // unreachable; keeps [[noreturn]] honest for the compiler
}

std::string joinArgv(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& arg : argv) {
    if (!out.empty())
      out += ' ';
    out += arg;
  }
  return out;
}

std::string elide(const std::string& text) {
  if (text.size() <= kDumpTailBytes)
    return text;
  std::ostringstream out;
  out << "[... " << (text.size() - kDumpTailBytes) << " earlier bytes omitted ...]\n"
      << text.substr(text.size() - kDumpTailBytes);
  return out.str();
}

bool hasSanitizerReport(const std::string& text) {
  static const char* const kMarkers[] = {
      "ERROR: AddressSanitizer",
      "ERROR: LeakSanitizer",
      "WARNING: ThreadSanitizer",
      "ERROR: ThreadSanitizer",
      "SUMMARY: UndefinedBehaviorSanitizer",
      "ERROR: MemorySanitizer",
  };
  return std::any_of(std::begin(kMarkers), std::end(kMarkers),
                     [&](const char* marker) { return text.find(marker) != std::string::npos; });
}

} // namespace

const char* streamName(Stream which) {
  return which == Stream::Stdout ? "stdout" : "stderr";
}

ProcessPtr Process::spawn(std::vector<std::string> argv,
                          std::vector<std::pair<std::string, std::string>> extraEnv,
                          std::string cwd, bool pipeStdin) {
  if (argv.empty()) {
    ADD_FAILURE() << "Process::spawn: empty argv";
    return nullptr;
  }
  std::optional<std::string> program = resolveProgram(argv[0]);
  if (!program) {
    ADD_FAILURE() << "Process::spawn: " << argv[0] << " not found in PATH";
    return nullptr;
  }

  // Everything the child needs is built before fork: after it, only async-signal-safe calls.
  std::vector<std::string> argvCopy = argv;
  std::vector<char*> cArgv = cStringArray(argvCopy);
  std::vector<std::string> env = buildEnvironment(extraEnv);
  std::vector<char*> cEnv = cStringArray(env);

  int outPipe[2] = {-1, -1};
  int errPipe[2] = {-1, -1};
  int reportPipe[2] = {-1, -1};
  int stopPipe[2] = {-1, -1};
  int inPipe[2] = {-1, -1};
  int devNull = pipeStdin ? (::pipe2(inPipe, O_CLOEXEC) == 0 ? inPipe[0] : -1)
                          : ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  auto closeAll = [&] {
    for (int* pair : {outPipe, errPipe, reportPipe, stopPipe}) {
      closeFd(pair[0]);
      closeFd(pair[1]);
    }
    closeFd(devNull);
    closeFd(inPipe[1]);
  };
  if (devNull < 0 || ::pipe2(outPipe, O_CLOEXEC) != 0 || ::pipe2(errPipe, O_CLOEXEC) != 0 ||
      ::pipe2(reportPipe, O_CLOEXEC) != 0 || ::pipe2(stopPipe, O_CLOEXEC) != 0) {
    int err = errno;
    closeAll();
    ADD_FAILURE() << "Process::spawn: cannot create pipes: " << errnoText(err);
    return nullptr;
  }

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    closeAll();
    ADD_FAILURE() << "Process::spawn: fork: " << errnoText(err);
    return nullptr;
  }
  if (pid == 0) {
    execChild(program->c_str(), cArgv.data(), cEnv.data(), cwd.empty() ? nullptr : cwd.c_str(),
              devNull, outPipe[1], errPipe[1], reportPipe[1], parent);
  }
  // Set the group from both sides so it exists before spawn() returns, whoever runs first.
  // EACCES means the child already exec'd (having set its group itself).
  ::setpgid(pid, pid);

  closeFd(outPipe[1]);
  closeFd(errPipe[1]);
  closeFd(reportPipe[1]);
  closeFd(devNull);

  ChildFailure failure{};
  size_t got = 0;
  while (got < sizeof failure) {
    ssize_t n =
        ::read(reportPipe[0], reinterpret_cast<char*>(&failure) + got, sizeof failure - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += static_cast<size_t>(n);
  }
  closeFd(reportPipe[0]);
  if (got == sizeof failure) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    closeAll();
    static const char* const kStages[] = {"chdir", "execve", "dup2"};
    const char* stage = failure.stage >= 0 && failure.stage <= 2 ? kStages[failure.stage] : "?";
    ADD_FAILURE() << "Process::spawn: " << stage << " failed for " << *program
                  << (failure.stage == 0 ? " in " + cwd : std::string()) << ": "
                  << errnoText(failure.err);
    return nullptr;
  }

  ProcessPtr p(new Process(std::move(argv), pid, outPipe[0], errPipe[0], stopPipe[0], stopPipe[1]));
  p->stdinFd_ = inPipe[1];
  return p;
}

bool Process::writeStdin(std::string_view bytes) {
  if (stdinFd_ < 0)
    return false;
  // A child that has gone must fail the write, not kill the test with SIGPIPE.
  static const bool ignored = [] { return ::signal(SIGPIPE, SIG_IGN) != SIG_ERR; }();
  (void)ignored;
  while (!bytes.empty()) {
    ssize_t n = ::write(stdinFd_, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void Process::closeStdin() {
  if (stdinFd_ >= 0)
    ::close(stdinFd_);
  stdinFd_ = -1;
}

Process::Process(std::vector<std::string> argv, pid_t pid, int stdoutFd, int stderrFd,
                 int stopReadFd, int stopWriteFd)
    : argv_(std::move(argv)), pid_(pid), stopReadFd_(stopReadFd), stopWriteFd_(stopWriteFd) {
  reader_ = std::thread(
      [this, stdoutFd, stderrFd, stopReadFd] { readLoop(stdoutFd, stderrFd, stopReadFd); });
}

Process::~Process() {
  closeStdin();
  {
    std::lock_guard<std::mutex> lock(statusMutex_);
    pollExitLocked();
    if (!status_)
      sentSignals_.insert(SIGKILL);
  }
  // The child is unreaped until here (see pollExitLocked), so the group id cannot have been
  // reused: this reaches the child and whatever descendants stayed in its group.
  ::killpg(pid_, SIGKILL);
  int status = 0;
  pid_t reaped;
  do {
    reaped = ::waitpid(pid_, &status, 0);
  } while (reaped < 0 && errno == EINTR);
  {
    std::lock_guard<std::mutex> lock(statusMutex_);
    if (!status_)
      status_ = reaped == pid_ ? status : -1;
  }

  {
    std::unique_lock<std::mutex> lock(outputMutex_);
    outputChanged_.wait_for(lock, kPipeDrainTimeout,
                            [this] { return captures_[0].closed && captures_[1].closed; });
  }
  char byte = 0;
  ssize_t ignored = ::write(stopWriteFd_, &byte, 1);
  (void)ignored;
  reader_.join();
  // Both ends stay open until the reader is gone, so the wake-up write above cannot SIGPIPE.
  closeFd(stopWriteFd_);
  closeFd(stopReadFd_);

  checkForCrash();
  dumpOnFailure();
}

void Process::readLoop(int stdoutFd, int stderrFd, int stopReadFd) {
  int fds[2] = {stdoutFd, stderrFd};
  std::vector<char> buffer(kReadChunk);
  for (;;) {
    pollfd pfds[3];
    nfds_t count = 0;
    size_t owner[3];
    for (size_t i = 0; i < 2; ++i) {
      if (fds[i] < 0)
        continue;
      pfds[count] = pollfd{fds[i], POLLIN, 0};
      owner[count++] = i;
    }
    if (count == 0)
      break;
    pfds[count] = pollfd{stopReadFd, POLLIN, 0};
    const nfds_t stopIndex = count++;
    if (::poll(pfds, count, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (pfds[stopIndex].revents != 0)
      break;
    for (nfds_t p = 0; p < stopIndex; ++p) {
      if (pfds[p].revents == 0)
        continue;
      size_t i = owner[p];
      ssize_t n = ::read(fds[i], buffer.data(), buffer.size());
      if (n < 0 && (errno == EINTR || errno == EAGAIN))
        continue;
      std::lock_guard<std::mutex> lock(outputMutex_);
      if (n > 0) {
        captures_[i].text.append(buffer.data(), static_cast<size_t>(n));
      } else {
        captures_[i].closed = true;
        closeFd(fds[i]);
      }
      outputChanged_.notify_all();
    }
  }
  std::lock_guard<std::mutex> lock(outputMutex_);
  for (size_t i = 0; i < 2; ++i) {
    closeFd(fds[i]);
    captures_[i].closed = true;
  }
  outputChanged_.notify_all();
}

void Process::pollExitLocked() {
  if (status_)
    return;
  // WNOWAIT leaves the child a zombie, which keeps its pid and process-group id from being
  // reused until the destructor reaps it; so signals sent later can never hit a stranger.
  siginfo_t info{};
  info.si_pid = 0;
  int rc;
  do {
    rc = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    // ECHILD: someone else reaped it (a test calling waitpid(-1)); its status is lost.
    status_ = -1;
    return;
  }
  if (info.si_pid != pid_)
    return;
  // Rebuild the raw wait status from siginfo, in the encoding the W* macros decode.
  switch (info.si_code) {
  case CLD_EXITED:
    status_ = (info.si_status & 0xff) << 8;
    break;
  case CLD_KILLED:
    status_ = info.si_status & 0x7f;
    break;
  case CLD_DUMPED:
    status_ = (info.si_status & 0x7f) | 0x80;
    break;
  default:
    break; // stopped or continued: still alive
  }
}

template <class Accept>
std::optional<std::string> Process::waitForLine(Stream which, std::chrono::milliseconds timeout,
                                                size_t from, Accept&& accept) {
  const auto deadline = Clock::now() + timeout;
  std::unique_lock<std::mutex> lock(outputMutex_);
  const Capture& capture = captures_[streamIndex(which)];
  const std::string& text = capture.text;
  // Start at the beginning of the line that holds `from`: lines completed after the mark.
  size_t pos = std::min(from, text.size());
  if (pos > 0) {
    size_t newline = text.rfind('\n', pos - 1);
    pos = newline == std::string::npos ? 0 : newline + 1;
  }
  auto lineAt = [&](size_t begin, size_t end) {
    std::string_view line(text.data() + begin, end - begin);
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    return line;
  };
  bool timedOut = false;
  for (;;) {
    for (size_t newline; (newline = text.find('\n', pos)) != std::string::npos; pos = newline + 1) {
      std::string_view line = lineAt(pos, newline);
      if (accept(line))
        return std::string(line);
    }
    if (capture.closed) {
      if (pos < text.size()) {
        std::string_view line = lineAt(pos, text.size());
        if (accept(line))
          return std::string(line);
      }
      return std::nullopt;
    }
    if (timedOut)
      return std::nullopt;
    timedOut = outputChanged_.wait_until(lock, deadline) == std::cv_status::timeout;
  }
}

std::optional<std::string> Process::waitForOutput(std::string_view needle, Stream which,
                                                  std::chrono::milliseconds timeout, size_t from) {
  return waitForLine(which, timeout, from, [&](std::string_view line) {
    return line.find(needle) != std::string_view::npos;
  });
}

std::optional<RegexMatch> Process::waitForOutput(const std::regex& pattern, Stream which,
                                                 std::chrono::milliseconds timeout, size_t from) {
  RegexMatch result;
  std::optional<std::string> line =
      waitForLine(which, timeout, from, [&](std::string_view candidate) {
        std::cmatch match;
        if (!std::regex_search(candidate.data(), candidate.data() + candidate.size(), match,
                               pattern)) {
          return false;
        }
        result.groups.clear();
        for (const auto& group : match)
          result.groups.push_back(group.str());
        return true;
      });
  if (!line)
    return std::nullopt;
  result.line = std::move(*line);
  return result;
}

size_t Process::outputSize(Stream which) const {
  std::lock_guard<std::mutex> lock(outputMutex_);
  return captures_[streamIndex(which)].text.size();
}

std::string Process::outputText(Stream which) const {
  std::lock_guard<std::mutex> lock(outputMutex_);
  return captures_[streamIndex(which)].text;
}

std::string Process::stdoutText() const {
  return outputText(Stream::Stdout);
}
std::string Process::stderrText() const {
  return outputText(Stream::Stderr);
}

bool Process::sendSignal(int signal) {
  std::lock_guard<std::mutex> lock(statusMutex_);
  pollExitLocked();
  if (status_)
    return false;
  sentSignals_.insert(signal);
  return ::kill(pid_, signal) == 0;
}

bool Process::sendSignalToGroup(int signal) {
  std::lock_guard<std::mutex> lock(statusMutex_);
  pollExitLocked();
  sentSignals_.insert(signal);
  // Allowed after the child exited too: its zombie still holds the group id (pollExitLocked).
  return ::killpg(pid_, signal) == 0;
}

std::optional<int> Process::exitStatus() {
  std::lock_guard<std::mutex> lock(statusMutex_);
  pollExitLocked();
  return status_;
}

bool Process::running() {
  return !exitStatus().has_value();
}

std::optional<int> Process::waitExit(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (std::optional<int> status = exitStatus()) {
      // The child's pipes reach EOF as it exits, but the reader thread may not have drained them
      // yet: wait for that, so stdoutText()/stderrText() are complete once waitExit() returns.
      std::unique_lock<std::mutex> lock(outputMutex_);
      if (!exitDrained_) {
        outputChanged_.wait_for(lock, kExitDrainTimeout,
                                [this] { return captures_[0].closed && captures_[1].closed; });
        exitDrained_ = true;
      }
      return status;
    }
    auto now = Clock::now();
    if (now >= deadline)
      return std::nullopt;
    std::this_thread::sleep_for(
        std::min<Clock::duration>(std::chrono::milliseconds(5), deadline - now));
  }
}

std::string Process::describeStatus(int status) {
  std::ostringstream out;
  if (status == -1) {
    out << "exit status unknown (reaped elsewhere)";
  } else if (WIFEXITED(status)) {
    out << "exited with " << WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = ::sigdescr_np(sig);
    out << "killed by signal " << sig << " (" << (name != nullptr ? name : "?") << ")";
    if (WCOREDUMP(status))
      out << ", core dumped";
  } else {
    out << "wait status 0x" << std::hex << status;
  }
  return out.str();
}

void Process::checkForCrash() {
  if (allowAbnormalExit_)
    return;
  std::optional<int> status;
  bool sentByTest = false;
  {
    std::lock_guard<std::mutex> lock(statusMutex_);
    status = status_;
    if (status && WIFSIGNALED(*status))
      sentByTest = sentSignals_.count(WTERMSIG(*status)) > 0;
  }
  const bool crashed = status && *status != -1 && WIFSIGNALED(*status) && !sentByTest;
  const bool sanitizer = hasSanitizerReport(stderrText());
  if (!crashed && !sanitizer)
    return;
  dumped_ = true; // the failure message carries the output
  ADD_FAILURE() << "child " << argv_[0] << " (pid " << pid_ << ") "
                << (status ? describeStatus(*status) : std::string("still running"))
                << (crashed ? ", a signal the test did not send" : "")
                << (sanitizer ? "; its stderr holds a sanitizer report" : "") << "\n"
                << dumpText();
}

std::string Process::dumpText() {
  std::optional<int> status;
  {
    std::lock_guard<std::mutex> lock(statusMutex_);
    pollExitLocked();
    status = status_;
  }
  std::ostringstream out;
  out << "==== process pid " << pid_ << ": " << joinArgv(argv_) << "\n"
      << "==== " << (status ? describeStatus(*status) : std::string("still running")) << "\n";
  for (Stream which : {Stream::Stdout, Stream::Stderr}) {
    std::string text = outputText(which);
    out << "---- " << streamName(which) << " (" << text.size() << " bytes) ----\n" << elide(text);
    if (!text.empty() && text.back() != '\n')
      out << "\n";
  }
  out << "==== end of process pid " << pid_ << "\n";
  return out.str();
}

void Process::dumpOnFailure() {
  if (dumped_ || !::testing::Test::HasFailure())
    return;
  dumped_ = true;
  std::cerr << dumpText() << std::flush;
}

} // namespace sidecar::test
