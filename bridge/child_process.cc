#include "bridge/child_process.h"

#include <sys/wait.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "common/log.h"

namespace sidecar::bridge {

namespace {
constexpr uint64_t kPollMs = 50;
constexpr size_t kMaxStderrLine = 8 << 10;

struct WriteReq {
  uv_write_t req;
  std::string bytes;
  ChildProcess* owner;
};
} // namespace

ChildProcess::ChildProcess(uv_loop_t* loop, ChildSpec spec) : loop_(loop), spec_(std::move(spec)) {
  uv_pipe_init(loop_, &in_, 0);
  uv_pipe_init(loop_, &out_, 0);
  uv_pipe_init(loop_, &err_, 0);
  uv_timer_init(loop_, &timer_);
  for (uv_handle_t* h :
       {reinterpret_cast<uv_handle_t*>(&in_), reinterpret_cast<uv_handle_t*>(&out_),
        reinterpret_cast<uv_handle_t*>(&err_), reinterpret_cast<uv_handle_t*>(&timer_)})
    h->data = this;
  openHandles_ = 4;
  process_.data = this;
}

ChildProcess::~ChildProcess() = default;

bool ChildProcess::start(std::string& error) {
  std::vector<char*> args, env;
  for (std::string& a : spec_.argv)
    args.push_back(a.data());
  args.push_back(nullptr);
  for (std::string& e : spec_.env)
    env.push_back(e.data());
  env.push_back(nullptr);

  uv_stdio_container_t stdio[3];
  stdio[0].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_READABLE_PIPE);
  stdio[0].data.stream = reinterpret_cast<uv_stream_t*>(&in_);
  stdio[1].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
  stdio[1].data.stream = reinterpret_cast<uv_stream_t*>(&out_);
  stdio[2].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
  stdio[2].data.stream = reinterpret_cast<uv_stream_t*>(&err_);

  uv_process_options_t opt{};
  opt.exit_cb = onProcessExit;
  opt.file = args[0];
  opt.args = args.data();
  opt.env = env.data();
  opt.cwd = spec_.cwd.empty() ? nullptr : spec_.cwd.c_str();
  opt.flags = UV_PROCESS_DETACHED; // setsid(): its own session and process group
  opt.stdio_count = 3;
  opt.stdio = stdio;
  int rc = uv_spawn(loop_, &process_, &opt);
  if (rc != 0) {
    error = "cannot start the MCP server `" + spec_.argv[0] + "`: " + uv_strerror(rc) +
            (rc == UV_ENOENT   ? " (is it installed and on PATH? give the full path after --)"
             : rc == UV_EACCES ? " (is it executable?)"
                               : "");
    if (!spec_.cwd.empty() && rc == UV_ENOENT)
      error += "; also check that the working directory " + spec_.cwd + " exists";
    // The process handle is initialised even when the spawn fails; closing it keeps the loop
    // clean. Nothing ran, so there is no group to reap.
    ++openHandles_;
    groupGone_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&process_), onHandleClosed);
    for (uv_handle_t* h :
         {reinterpret_cast<uv_handle_t*>(&in_), reinterpret_cast<uv_handle_t*>(&out_),
          reinterpret_cast<uv_handle_t*>(&err_), reinterpret_cast<uv_handle_t*>(&timer_)})
      uv_close(h, onHandleClosed);
    return false;
  }
  ++openHandles_;
  running_ = true;
  stdinOpen_ = true;
  pid_ = process_.pid;
  uv_read_start(reinterpret_cast<uv_stream_t*>(&out_), onAlloc, onStdout);
  uv_read_start(reinterpret_cast<uv_stream_t*>(&err_), onAlloc, onStderr);
  return true;
}

bool ChildProcess::send(std::string line) {
  if (!stdinOpen_)
    return false;
  line.push_back('\n');
  auto* w = new WriteReq{{}, std::move(line), this};
  w->req.data = w;
  uv_buf_t b = uv_buf_init(w->bytes.data(), static_cast<unsigned>(w->bytes.size()));
  if (uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&in_), &b, 1, onWritten) != 0) {
    delete w;
    return false;
  }
  return true;
}

size_t ChildProcess::queuedBytes() const {
  return uv_stream_get_write_queue_size(reinterpret_cast<const uv_stream_t*>(&in_));
}

void ChildProcess::onWritten(uv_write_t* req, int status) {
  auto* w = static_cast<WriteReq*>(req->data);
  if (status != 0 && status != UV_ECANCELED && w->owner->running_)
    log::warn("cannot write to the MCP server's stdin",
              {{"server", w->owner->spec_.name}, {"error", uv_strerror(status)}});
  ChildProcess* c = w->owner;
  delete w;
  if (status != UV_ECANCELED && c->onWriteDone) {
    auto cb = c->onWriteDone;
    cb();
  }
}

void ChildProcess::pauseOutput() {
  if (outPaused_)
    return;
  outPaused_ = true;
  if (!outEnded_ && !uv_is_closing(reinterpret_cast<uv_handle_t*>(&out_)))
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&out_));
}

void ChildProcess::resumeOutput() {
  if (!outPaused_)
    return;
  outPaused_ = false;
  if (pid_ != 0 && !outEnded_ && !uv_is_closing(reinterpret_cast<uv_handle_t*>(&out_)))
    uv_read_start(reinterpret_cast<uv_stream_t*>(&out_), onAlloc, onStdout);
}

void ChildProcess::closeStdin() {
  if (!stdinOpen_)
    return;
  stdinOpen_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&in_), onHandleClosed);
}

void ChildProcess::stop() {
  if (stopping_)
    return;
  stopping_ = true;
  if (!running_)
    return;     // the exit path is already reaping
  closeStdin(); // step 1 of the MCP stdio shutdown: EOF on stdin
  stopStep_ = 1;
  uv_timer_start(&timer_, onTimer, spec_.graceMs, 0);
}

void ChildProcess::onTimer(uv_timer_t* t) {
  auto* c = static_cast<ChildProcess*>(t->data);
  if (c->running_) {
    // The leader is still there: escalate.
    if (c->stopStep_ == 1) {
      c->stopStep_ = 2;
      kill(-c->pid_, SIGTERM);
      log::info("MCP server did not exit on stdin EOF; sent SIGTERM to its process group",
                {{"server", c->spec_.name}, {"pid", static_cast<long>(c->pid_)}});
    } else if (c->stopStep_ == 2) {
      c->stopStep_ = 3;
      kill(-c->pid_, SIGKILL);
      log::warn("MCP server did not exit on SIGTERM; sent SIGKILL to its process group",
                {{"server", c->spec_.name}, {"pid", static_cast<long>(c->pid_)}});
    }
    uv_timer_start(&c->timer_, onTimer, c->spec_.graceMs, 0);
    return;
  }
  c->reapGroup();
}

void ChildProcess::onProcessExit(uv_process_t* p, int64_t status, int signal) {
  auto* c = static_cast<ChildProcess*>(p->data);
  c->running_ = false;
  c->closeStdin();
  uv_close(reinterpret_cast<uv_handle_t*>(&c->process_), onHandleClosed);
  if (c->onExit) {
    auto cb = c->onExit; // the callback may replace or clear onExit while it runs
    cb(status, signal);
  }
  // Whatever else runs in the group (npx's node child) goes too: without its leader nothing
  // would ever stop it.
  if (kill(-c->pid_, 0) == 0) {
    kill(-c->pid_, c->stopStep_ >= 3 ? SIGKILL : SIGTERM);
    c->stopStep_ = c->stopStep_ >= 3 ? 3 : 2;
  }
  c->stopStep_ = std::max(c->stopStep_, 2);
  c->reapStartNs_ = uv_now(c->loop_);
  c->reapGroup();
}

void ChildProcess::reapGroup() {
  int st = 0;
  while (waitpid(-pid_, &st, WNOHANG) > 0) {
  }
  if (groupGone_) {
    // Waiting for stdout's EOF (below).
  } else if (kill(-pid_, 0) != 0 && errno == ESRCH) {
    groupGone_ = true;
  } else {
    uint64_t waited = uv_now(loop_) - reapStartNs_;
    if (stopStep_ == 2 && waited >= spec_.graceMs) {
      stopStep_ = 3;
      kill(-pid_, SIGKILL);
      log::warn("processes of the MCP server's group outlived it; sent SIGKILL",
                {{"server", spec_.name}, {"pgid", static_cast<long>(pid_)}});
    } else if (stopStep_ == 3 && waited >= 3 * spec_.graceMs) {
      // Zombies that only PID 1 could reap (the sidecar is not their subreaper): give up.
      log::warn("processes of the MCP server's group remain after SIGKILL; run the sidecar as "
                "the container's init or with a reaping init (tini)",
                {{"server", spec_.name}, {"pgid", static_cast<long>(pid_)}});
      groupGone_ = true;
    }
  }
  if (!groupGone_) {
    uv_timer_start(&timer_, onTimer, kPollMs, 0);
    return;
  }
  uv_timer_stop(&timer_);
  // The group is gone: nothing more will be written to stdout or stderr. What it wrote last may
  // still be in the pipe, so stdout is closed at its EOF (or after a grace period, should a
  // process outside the group hold the pipe open, or reading stay paused).
  if (!outEnded_) {
    if (drainStartMs_ == 0)
      drainStartMs_ = uv_now(loop_) + 1;
    if (uv_now(loop_) + 1 - drainStartMs_ < spec_.graceMs) {
      uv_timer_start(&timer_, onTimer, kPollMs, 0);
      return;
    }
  }
  for (uv_handle_t* h :
       {reinterpret_cast<uv_handle_t*>(&out_), reinterpret_cast<uv_handle_t*>(&err_),
        reinterpret_cast<uv_handle_t*>(&timer_)})
    if (!uv_is_closing(h))
      uv_close(h, onHandleClosed);
}

void ChildProcess::onHandleClosed(uv_handle_t* h) {
  auto* c = static_cast<ChildProcess*>(h->data);
  --c->openHandles_;
  c->maybeGone();
}

void ChildProcess::maybeGone() {
  if (openHandles_ > 0 || goneSent_)
    return;
  goneSent_ = true;
  if (onGone) {
    auto cb = onGone;
    cb();
  }
}

void ChildProcess::onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* c = static_cast<ChildProcess*>(h->data);
  *buf = uv_buf_init(c->readBuf_, sizeof c->readBuf_);
}

void ChildProcess::onStdout(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  auto* c = static_cast<ChildProcess*>(s->data);
  if (n < 0) {
    c->outEnded_ = true;
    uv_read_stop(s);
    return;
  }
  c->lines(c->outBuf_, buf->base, static_cast<size_t>(n), false);
}

void ChildProcess::onStderr(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  auto* c = static_cast<ChildProcess*>(s->data);
  if (n < 0) {
    if (!c->errBuf_.empty())
      log::info("MCP server stderr", {{"server", c->spec_.name}, {"line", c->errBuf_}});
    c->errBuf_.clear();
    uv_read_stop(s);
    return;
  }
  c->lines(c->errBuf_, buf->base, static_cast<size_t>(n), true);
}

void ChildProcess::lines(std::string& acc, const char* data, size_t n, bool err) {
  const char* p = data;
  const char* end = data + n;
  while (p < end) {
    const char* nl = static_cast<const char*>(memchr(p, '\n', static_cast<size_t>(end - p)));
    size_t take = nl ? static_cast<size_t>(nl - p) : static_cast<size_t>(end - p);
    if (!err && discarding_) {
      if (nl)
        discarding_ = false;
    } else {
      size_t cap = err ? kMaxStderrLine : spec_.maxLine;
      if (acc.size() + take > cap) {
        if (err) {
          acc.append(p, cap - acc.size());
        } else {
          log::error("MCP server wrote a stdout message longer than the limit; it is dropped",
                     {{"server", spec_.name}, {"limit_bytes", static_cast<unsigned long>(cap)}});
          acc.clear();
          discarding_ = !nl;
        }
      } else {
        acc.append(p, take);
      }
    }
    if (!nl)
      return;
    p = nl + 1;
    if (!acc.empty() && acc.back() == '\r')
      acc.pop_back();
    if (err) {
      if (!acc.empty())
        log::info("MCP server stderr", {{"server", spec_.name}, {"line", acc}});
    } else if (!acc.empty() && onMessage) {
      auto cb = onMessage; // the callback may replace or clear onMessage while it runs
      cb(acc);
    }
    acc.clear();
  }
}

} // namespace sidecar::bridge
