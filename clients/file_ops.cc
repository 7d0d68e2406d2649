#include "clients/file_ops.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace sidecar::clients {

namespace {

// What to do about a failed system call on a file, after strerror.
std::string advice(int err) {
  switch (err) {
  case EACCES:
  case EPERM:
    return " (run as the user whose client configuration it is, or fix its permissions)";
  case EROFS:
    return " (the file system is read-only)";
  case ENOSPC:
  case EDQUOT:
    return " (free some disk space and run again)";
  default:
    return "";
  }
}

std::string failure(const char* what, const std::string& path, int err) {
  return std::string(what) + " " + path + ": " + std::strerror(err) + advice(err);
}

std::string dirOf(const std::string& path) {
  std::filesystem::path p(path);
  std::string dir = p.parent_path().string();
  return dir.empty() ? "." : dir;
}

bool writeAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void syncDirectory(const std::string& dir) {
  // Makes the rename durable; a failure here loses nothing already written, so it is ignored.
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// Writes `bytes` to a new temporary file beside `path` with `meta` applied and flushed; returns
// its name in `tmp`.
Status writeTemp(const std::string& path, std::string_view bytes, const FileMeta& meta,
                 std::string& tmp) {
  std::filesystem::path p(path);
  // Hidden, and named after the file, so a leftover (after a crash) says where it came from.
  std::string name = ".";
  name += p.filename().string();
  name += ".mcp-sidecar-XXXXXX";
  tmp = (p.parent_path() / name).string();
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) {
    int err = errno;
    return Status::error(failure("cannot create a temporary file in", dirOf(path), err));
  }
  int err = 0;
  if (!writeAll(fd, bytes))
    err = errno;
  if (!err && ::fchmod(fd, meta.mode & 07777) != 0)
    err = errno;
  if (!err && (meta.uid != ::geteuid() || meta.gid != ::getegid()) &&
      ::fchown(fd, meta.uid, meta.gid) != 0 && meta.uid != ::geteuid())
    err = errno; // our own file in a group we are not in keeps our group: no harm to anyone
  if (!err && ::fsync(fd) != 0)
    err = errno;
  if (::close(fd) != 0 && !err)
    err = errno;
  if (err) {
    ::unlink(tmp.c_str());
    return Status::error(failure("cannot write a new version of", path, err));
  }
  return {};
}

} // namespace

FileRead readWholeFile(const std::string& path) {
  FileRead r;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      r.status = FileRead::Status::Missing;
      return r;
    }
    r.error = failure("cannot read", path, err);
    return r;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    r.error = failure("cannot read", path, err);
    return r;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    r.error = "cannot read " + path + ": " +
              (S_ISDIR(st.st_mode) ? "it is a directory" : "it is not a regular file") +
              " (name the client's JSON configuration file)";
    return r;
  }
  if (static_cast<size_t>(st.st_size) > kMaxConfigBytes) {
    ::close(fd);
    r.error = "cannot read " + path + ": it is " + std::to_string(st.st_size) +
              " bytes, larger than any MCP client configuration (limit " +
              std::to_string(kMaxConfigBytes) + ")";
    return r;
  }
  r.meta.mode = st.st_mode & 07777;
  r.meta.uid = st.st_uid;
  r.meta.gid = st.st_gid;
  r.bytes.reserve(static_cast<size_t>(st.st_size));
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      r.error = failure("cannot read", path, err);
      return r;
    }
    if (n == 0)
      break;
    r.bytes.append(buf, static_cast<size_t>(n));
    if (r.bytes.size() > kMaxConfigBytes) {
      ::close(fd);
      r.error = "cannot read " + path + ": it grew past " + std::to_string(kMaxConfigBytes) +
                " bytes while being read";
      return r;
    }
  }
  ::close(fd);
  r.status = FileRead::Status::Ok;
  return r;
}

std::string resolveForWrite(const std::string& path) {
  std::error_code ec;
  std::filesystem::path real = std::filesystem::canonical(path, ec);
  return ec ? path : real.string();
}

Status replaceFile(const std::string& path, std::string_view bytes, const FileMeta& meta) {
  std::string tmp;
  if (Status s = writeTemp(path, bytes, meta, tmp); !s.ok())
    return s;
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Status::error(failure("cannot replace", path, err));
  }
  syncDirectory(dirOf(path));
  return {};
}

Status createFileExclusive(const std::string& path, std::string_view bytes, const FileMeta& meta,
                           bool& existed) {
  existed = false;
  std::string tmp;
  if (Status s = writeTemp(path, bytes, meta, tmp); !s.ok())
    return s;
  // link() never replaces an existing file, and the new name appears complete or not at all.
  int rc = ::link(tmp.c_str(), path.c_str());
  int err = rc == 0 ? 0 : errno;
  ::unlink(tmp.c_str());
  if (rc == 0) {
    syncDirectory(dirOf(path));
    return {};
  }
  if (err == EEXIST) {
    existed = true;
    return {};
  }
  if (err != EPERM && err != ENOTSUP && err != EXDEV && err != EMLINK)
    return Status::error(failure("cannot create", path, err));
  // A file system without hard links: an exclusive create, written in place.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, meta.mode & 07777);
  if (fd < 0) {
    err = errno;
    if (err == EEXIST) {
      existed = true;
      return {};
    }
    return Status::error(failure("cannot create", path, err));
  }
  err = 0;
  if (!writeAll(fd, bytes) || ::fsync(fd) != 0)
    err = errno;
  if (::close(fd) != 0 && !err)
    err = errno;
  if (err) {
    ::unlink(path.c_str());
    return Status::error(failure("cannot write", path, err));
  }
  return {};
}

bool pathExists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

Status removeFile(const std::string& path) {
  if (::unlink(path.c_str()) != 0) {
    int err = errno;
    return Status::error(failure("cannot remove", path, err));
  }
  syncDirectory(dirOf(path));
  return {};
}

} // namespace sidecar::clients
