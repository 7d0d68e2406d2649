#include "aim/spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/log.h"

namespace sidecar::aim {

namespace {

Status sysError(std::string_view what, const std::string& path, int err) {
  return Status::error("AIM spool: " + std::string(what) + " " + path + ": " + strerror(err));
}

Status makeDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST)
    return {};
  return sysError("cannot create", dir, errno);
}

bool validKind(std::string_view kind) {
  if (kind.empty() || kind.size() > 64)
    return false;
  for (char c : kind)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
      return false;
  return true;
}

// "<20 digits>.<kind>.rec|.sent" → seq, kind, sent.
bool parseName(std::string_view name, uint64_t& seq, std::string& kind, bool& sent) {
  if (name.size() < 22 || name[20] != '.')
    return false;
  seq = 0;
  for (size_t i = 0; i < 20; ++i) {
    if (name[i] < '0' || name[i] > '9')
      return false;
    seq = seq * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  std::string_view rest = name.substr(21);
  size_t dot = rest.rfind('.');
  if (dot == std::string_view::npos)
    return false;
  std::string_view suffix = rest.substr(dot + 1);
  if (suffix == "rec")
    sent = false;
  else if (suffix == "sent")
    sent = true;
  else
    return false;
  kind = std::string(rest.substr(0, dot));
  return validKind(kind) && seq > 0;
}

std::string seqText(uint64_t seq) {
  char buf[32];
  snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(seq));
  return buf;
}

Status writeAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return sysError("cannot write", path, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Status writeFileAtomically(const std::string& tmp, const std::string& final, std::string_view data,
                           bool sync) {
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return sysError("cannot create", tmp, errno);
  Status st = writeAll(fd, data, tmp);
  if (st.ok() && sync && ::fsync(fd) != 0)
    st = sysError("cannot fsync", tmp, errno);
  ::close(fd);
  if (st.ok() && ::rename(tmp.c_str(), final.c_str()) != 0)
    st = sysError("cannot rename into", final, errno);
  if (!st.ok())
    ::unlink(tmp.c_str());
  return st;
}

bool readFile(const std::string& path, std::string& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  out.clear();
  char buf[16384];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      ::close(fd);
      return false;
    }
    if (n == 0)
      break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return true;
}

void fsyncPath(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0)
    return;
  ::fsync(fd);
  ::close(fd);
}

} // namespace

Result<SpoolPtr> Spool::open(SpoolOptions options) {
  if (options.dir.empty())
    return Status::error("AIM spool: no directory given");
  if (options.maxBytes == 0)
    return Status::error("--spool-max-bytes must be greater than 0");
  if (Status st = makeDir(options.dir); !st.ok())
    return st;
  if (Status st = makeDir(options.dir + "/dead"); !st.ok())
    return st;
  SpoolPtr spool(new Spool(std::move(options)));
  const std::string& dir = spool->options_.dir;

  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr)
    return sysError("cannot read", dir, errno);
  uint64_t maxSeq = 0;
  while (struct dirent* ent = ::readdir(d)) {
    std::string name = ent->d_name;
    if (name == "." || name == ".." || name == "dead")
      continue;
    std::string path = dir + "/" + name;
    if (name.rfind(".tmp-", 0) == 0) {
      // A record whose append() never returned: it was not accepted, so it is not lost.
      ::unlink(path.c_str());
      continue;
    }
    uint64_t seq = 0;
    std::string kind;
    bool sent = false;
    if (!parseName(name, seq, kind, sent)) {
      log::warn("AIM spool: ignoring a file that is not a record", {{"path", path}});
      continue;
    }
    struct stat stt {};
    if (::stat(path.c_str(), &stt) != 0)
      continue;
    Entry e{kind, static_cast<uint64_t>(stt.st_size), sent};
    spool->liveBytes_ += e.size;
    spool->live_[seq] = e;
    maxSeq = std::max(maxSeq, seq);
  }
  ::closedir(d);

  std::string deadDir = dir + "/dead";
  d = ::opendir(deadDir.c_str());
  if (d == nullptr)
    return sysError("cannot read", deadDir, errno);
  while (struct dirent* ent = ::readdir(d)) {
    std::string name = ent->d_name;
    uint64_t seq = 0;
    std::string kind;
    bool sent = false;
    if (!parseName(name, seq, kind, sent))
      continue;
    struct stat stt {};
    if (::stat((deadDir + "/" + name).c_str(), &stt) != 0)
      continue;
    spool->deadBytes_ += static_cast<uint64_t>(stt.st_size);
    ++spool->deadCount_;
    maxSeq = std::max(maxSeq, seq);
  }
  ::closedir(d);
  spool->nextSeq_ = maxSeq + 1;
  return spool;
}

std::string Spool::fileName(uint64_t seq, const Entry& e) const {
  return seqText(seq) + "." + e.kind + (e.sent ? ".sent" : ".rec");
}

Result<uint64_t> Spool::append(std::string_view kind, std::string_view payload, bool replaceOlder) {
  if (!validKind(kind))
    return Status::error("AIM spool: invalid record kind \"" + std::string(kind) + "\"");
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t replaced = 0;
  if (replaceOlder)
    for (const auto& [seq, e] : live_)
      if (e.kind == kind && seq != attempting_)
        replaced += e.size;
  uint64_t total = liveBytes_ + deadBytes_ - replaced + payload.size();
  if (total > options_.maxBytes) {
    ++refused_;
    return Status::error("AIM spool is full: " + std::to_string(liveBytes_ + deadBytes_) +
                         " bytes held, a record of " + std::to_string(payload.size()) +
                         " would pass --spool-max-bytes " + std::to_string(options_.maxBytes) +
                         " (AIM unreachable for long, or dead letters in " + options_.dir +
                         "/dead to inspect)");
  }
  uint64_t seq = nextSeq_;
  Entry e{std::string(kind), payload.size(), false};
  std::string final = options_.dir + "/" + fileName(seq, e);
  std::string tmp = options_.dir + "/.tmp-" + seqText(seq);
  if (Status st = writeFileAtomically(tmp, final, payload, options_.syncEachAppend); !st.ok())
    return st;
  ++nextSeq_;
  live_[seq] = e;
  liveBytes_ += e.size;
  if (options_.syncEachAppend)
    fsyncPath(options_.dir, O_RDONLY | O_DIRECTORY);
  else
    unsynced_.push_back(final);
  dirDirty_ = true;

  if (replaceOlder) {
    for (auto it = live_.begin(); it != live_.end();) {
      if (it->first != seq && it->second.kind == kind && it->first != attempting_) {
        std::string path = options_.dir + "/" + fileName(it->first, it->second);
        if (::unlink(path.c_str()) == 0 || errno == ENOENT) {
          liveBytes_ -= it->second.size;
          it = live_.erase(it);
          continue;
        }
      }
      ++it;
    }
  }
  return seq;
}

std::optional<SpoolRecord> Spool::front() {
  std::lock_guard<std::mutex> lock(mu_);
  while (!live_.empty()) {
    auto it = live_.begin();
    std::string path = options_.dir + "/" + fileName(it->first, it->second);
    SpoolRecord rec;
    if (readFile(path, rec.payload)) {
      rec.seq = it->first;
      rec.kind = it->second.kind;
      rec.maybeSent = it->second.sent;
      return rec;
    }
    int err = errno;
    log::error("AIM spool: a record cannot be read; moving it to dead/",
               {{"path", path}, {"error", strerror(err)}});
    if (!moveToDeadLocked(it->first, std::string("unreadable: ") + strerror(err)).ok()) {
      // Not even movable: forget it in memory so the shipper is not stuck, and say so loudly.
      liveBytes_ -= it->second.size;
      live_.erase(it);
      ++deadCount_;
    }
  }
  return std::nullopt;
}

Status Spool::beginAttempt(uint64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(seq);
  if (it == live_.end())
    return Status::error("AIM spool: no record " + std::to_string(seq));
  attempting_ = seq;
  if (it->second.sent)
    return {};
  std::string from = options_.dir + "/" + fileName(seq, it->second);
  Entry sent = it->second;
  sent.sent = true;
  std::string to = options_.dir + "/" + fileName(seq, sent);
  if (::rename(from.c_str(), to.c_str()) != 0)
    return sysError("cannot rename", from, errno);
  it->second.sent = true;
  dirDirty_ = true;
  return {};
}

void Spool::endAttempt(uint64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  if (attempting_ == seq)
    attempting_ = 0;
}

Status Spool::remove(uint64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  if (attempting_ == seq)
    attempting_ = 0;
  auto it = live_.find(seq);
  if (it == live_.end())
    return {};
  std::string path = options_.dir + "/" + fileName(seq, it->second);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return sysError("cannot delete", path, errno);
  liveBytes_ -= it->second.size;
  live_.erase(it);
  dirDirty_ = true;
  return {};
}

Status Spool::moveToDeadLocked(uint64_t seq, std::string_view reason) {
  auto it = live_.find(seq);
  if (it == live_.end())
    return {};
  std::string name = fileName(seq, it->second);
  std::string from = options_.dir + "/" + name;
  std::string to = options_.dir + "/dead/" + name;
  if (::rename(from.c_str(), to.c_str()) != 0)
    return sysError("cannot move to dead/", from, errno);
  std::string reasonPath = to + ".reason";
  std::string reasonText = std::string(reason) + "\n";
  (void)writeFileAtomically(options_.dir + "/dead/.tmp-" + seqText(seq), reasonPath, reasonText,
                            false);
  liveBytes_ -= it->second.size;
  deadBytes_ += it->second.size;
  ++deadCount_;
  live_.erase(it);
  dirDirty_ = true;
  return {};
}

Status Spool::deadLetter(uint64_t seq, std::string_view reason) {
  std::lock_guard<std::mutex> lock(mu_);
  if (attempting_ == seq)
    attempting_ = 0;
  return moveToDeadLocked(seq, reason);
}

void Spool::sync() {
  std::vector<std::string> files;
  bool dir = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    files.swap(unsynced_);
    dir = dirDirty_;
    dirDirty_ = false;
  }
  // A file renamed to .sent or deleted meanwhile is simply not found: nothing to sync.
  for (const std::string& f : files)
    fsyncPath(f, O_RDONLY);
  if (dir || !files.empty())
    fsyncPath(options_.dir, O_RDONLY | O_DIRECTORY);
}

uint64_t Spool::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return liveBytes_ + deadBytes_;
}

size_t Spool::records() const {
  std::lock_guard<std::mutex> lock(mu_);
  return live_.size();
}

size_t Spool::deadLetters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return deadCount_;
}

bool Spool::nearFull() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<double>(liveBytes_ + deadBytes_) >=
         options_.nearFullRatio * static_cast<double>(options_.maxBytes);
}

uint64_t Spool::refused() const {
  std::lock_guard<std::mutex> lock(mu_);
  return refused_;
}

std::vector<SpoolRecord> Spool::list() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<SpoolRecord> out;
  for (const auto& [seq, e] : live_) {
    SpoolRecord rec;
    rec.seq = seq;
    rec.kind = e.kind;
    rec.maybeSent = e.sent;
    readFile(options_.dir + "/" + fileName(seq, e), rec.payload);
    out.push_back(std::move(rec));
  }
  return out;
}

} // namespace sidecar::aim
