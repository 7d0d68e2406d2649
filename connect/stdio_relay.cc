#include "connect/stdio_relay.h"

#include <fcntl.h>
#include <poll.h>
#include <rapidjson/document.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

namespace sidecar::connect {

void LineSplitter::feed(std::string_view bytes, const OnLine& onLine,
                        const OnOversized& onOversized) {
  while (!bytes.empty()) {
    size_t nl = bytes.find('\n');
    std::string_view piece = bytes.substr(0, nl);
    if (skipping_) {
      skipped_ += piece.size();
    } else if (line_.size() + piece.size() > max_) {
      skipping_ = true;
      skipped_ = line_.size() + piece.size();
      line_ = std::string();
    } else {
      line_.append(piece);
    }
    if (nl == std::string_view::npos)
      return;
    bytes.remove_prefix(nl + 1);
    complete(onLine, onOversized);
  }
}

void LineSplitter::finish(const OnLine& onLine, const OnOversized& onOversized) {
  if (skipping_ || !line_.empty())
    complete(onLine, onOversized);
}

void LineSplitter::complete(const OnLine& onLine, const OnOversized& onOversized) {
  if (skipping_) {
    onOversized(skipped_);
    skipping_ = false;
    skipped_ = 0;
    return;
  }
  if (!line_.empty() && line_.back() == '\r')
    line_.pop_back();
  std::string line = std::move(line_);
  line_ = std::string();
  if (!line.empty())
    onLine(std::move(line));
}

StdinReader::StdinReader(int fd, int signalFd, Callbacks callbacks)
    : fd_(fd), signalFd_(signalFd), cb_(std::move(callbacks)) {
  if (::pipe2(stopPipe_, O_CLOEXEC) != 0)
    stopPipe_[0] = stopPipe_[1] = -1;
  thread_ = std::thread([this] { run(); });
}

StdinReader::~StdinReader() {
  if (stopPipe_[1] >= 0) {
    char b = 1;
    ssize_t n = ::write(stopPipe_[1], &b, 1);
    (void)n;
  }
  if (thread_.joinable())
    thread_.join();
  for (int fd : stopPipe_)
    if (fd >= 0)
      ::close(fd);
}

void StdinReader::run() {
  LineSplitter splitter;
  bool inputOpen = true;
  char buf[64 * 1024];
  for (;;) {
    pollfd fds[3];
    nfds_t n = 0;
    fds[n++] = {stopPipe_[0], POLLIN, 0};
    int sigIndex = -1, inIndex = -1;
    if (signalFd_ >= 0) {
      sigIndex = static_cast<int>(n);
      fds[n++] = {signalFd_, POLLIN, 0};
    }
    if (inputOpen) {
      inIndex = static_cast<int>(n);
      fds[n++] = {fd_, POLLIN, 0};
    }
    if (::poll(fds, n, -1) < 0) {
      if (errno == EINTR)
        continue;
      if (inputOpen)
        cb_.onEnd(std::string("poll failed: ") + std::strerror(errno));
      return;
    }
    if (fds[0].revents != 0)
      return;
    if (sigIndex >= 0 && fds[sigIndex].revents != 0) {
      signalfd_siginfo si{};
      if (::read(signalFd_, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        const char* name = sigabbrev_np(static_cast<int>(si.ssi_signo));
        cb_.onEnd(std::string("signal SIG") + (name != nullptr ? name : "?"));
        inputOpen = false;
      }
      continue;
    }
    if (inIndex >= 0 && fds[inIndex].revents != 0) {
      ssize_t r = ::read(fd_, buf, sizeof buf);
      if (r < 0 && (errno == EINTR || errno == EAGAIN))
        continue;
      if (r <= 0) {
        splitter.finish(cb_.onLine, cb_.onOversized);
        inputOpen = false;
        cb_.onEnd(r == 0 ? std::string()
                         : std::string("reading stdin failed: ") + std::strerror(errno));
        continue;
      }
      splitter.feed(std::string_view(buf, static_cast<size_t>(r)), cb_.onLine, cb_.onOversized);
    }
  }
}

bool LineWriter::write(std::string_view line) {
  std::lock_guard<std::mutex> g(mu_);
  if (failed_)
    return false;
  std::string out;
  out.reserve(line.size() + 1);
  out.append(line);
  out += '\n';
  size_t off = 0;
  while (off < out.size()) {
    ssize_t n = ::write(fd_, out.data() + off, out.size() - off);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      failed_ = true;
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

bool LineWriter::failed() const {
  std::lock_guard<std::mutex> g(mu_);
  return failed_;
}

bool toStdioLine(std::string_view json, std::string& out) {
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  if (d.HasParseError() || !(d.IsObject() || d.IsArray()))
    return false;
  out.assign(json);
  for (char& c : out)
    if (c == '\n' || c == '\r')
      c = ' ';
  return true;
}

} // namespace sidecar::connect
