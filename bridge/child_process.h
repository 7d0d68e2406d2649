#pragma once
// One stdio MCP server process, driven from a libuv loop: newline-delimited JSON-RPC on its stdin
// and stdout, its stderr relayed to the log line by line, and a shutdown that leaves nothing
// behind.
//
// The child runs in its own session and process group (UV_PROCESS_DETACHED calls setsid), so that
// signals reach the whole tree: `npx -y pkg` runs the server as a grandchild, which outlives a
// signal sent to npx alone. Shutdown follows the MCP stdio sequence for the group: close stdin,
// wait, SIGTERM, wait, SIGKILL. Descendants reparented to the sidecar (it is a child subreaper,
// see app/serve.cc) are reaped by process group once the leader has exited.
//
// Lifetime: owned by its creator; `stop()` then wait for `onGone` before deleting it.

#include <sys/types.h>
#include <uv.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace sidecar::bridge {

struct ChildSpec {
  std::string name; // for logs: the server's name
  std::vector<std::string> argv;
  std::vector<std::string> env; // KEY=VALUE, complete
  std::string cwd;              // empty: the sidecar's
  size_t maxLine = 16 << 20;    // longest stdout message accepted
  uint64_t graceMs = 2000;      // between the shutdown steps
};

class ChildProcess {
public:
  // One stdout message (without its newline).
  std::function<void(std::string_view)> onMessage;
  // The leader exited (`signal` 0 for a normal exit). The group may still be being reaped.
  std::function<void(int64_t status, int signal)> onExit;
  // Everything is closed and the group is gone: the object may be deleted.
  std::function<void()> onGone;
  // A write to stdin completed (queuedBytes() may have dropped): a relay resumes its reading.
  std::function<void()> onWriteDone;

  ChildProcess(uv_loop_t* loop, ChildSpec spec);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts the process; false with `error` (naming the command and the cause) when it cannot.
  bool start(std::string& error);
  // Queues one message (a newline is added). False when stdin is closed.
  bool send(std::string line);
  // Bytes written to stdin that the child has not read yet.
  size_t queuedBytes() const;
  // Stops and resumes reading the child's stdout (a relay whose destination is backed up). The
  // messages of bytes already read are still delivered. Idempotent.
  void pauseOutput();
  void resumeOutput();
  // Begins the shutdown sequence (idempotent).
  void stop();
  bool running() const { return running_; }
  pid_t pid() const { return pid_; }
  const ChildSpec& spec() const { return spec_; }

private:
  static void onProcessExit(uv_process_t* p, int64_t status, int signal);
  static void onAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void onStdout(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);
  static void onStderr(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);
  static void onWritten(uv_write_t* req, int status);
  static void onTimer(uv_timer_t* t);
  static void onHandleClosed(uv_handle_t* h);
  void closeStdin();
  void lines(std::string& buf, const char* data, size_t n, bool err);
  void reapGroup();
  void maybeGone();

  uv_loop_t* loop_;
  ChildSpec spec_;
  uv_process_t process_{};
  uv_pipe_t in_{}, out_{}, err_{};
  uv_timer_t timer_{};
  int openHandles_ = 0;
  bool running_ = false; // the leader has not exited
  bool stopping_ = false;
  bool stdinOpen_ = false;
  bool groupGone_ = false;
  bool goneSent_ = false;
  int stopStep_ = 0; // 0 none, 1 stdin closed, 2 SIGTERM sent, 3 SIGKILL sent
  pid_t pid_ = 0;
  uint64_t reapStartNs_ = 0; // loop time (ms) when the leader exited
  std::string outBuf_, errBuf_;
  bool discarding_ = false; // skipping the rest of an over-long stdout line
  bool outPaused_ = false;
  bool outEnded_ = false;     // stdout reached EOF or an error
  uint64_t drainStartMs_ = 0; // loop time + 1 when the group was found gone with stdout open
  char readBuf_[64 * 1024];
};

} // namespace sidecar::bridge
