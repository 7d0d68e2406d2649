#pragma once
// The file operations of `wrap`: read a whole file telling "missing" from "unreadable", replace a
// file atomically with its mode and owner kept, and create a file only if none is there (the
// backup of the original). Every error message names the file and what to do.

#include <sys/types.h>

#include <string>
#include <string_view>

#include "common/status.h"

namespace sidecar::clients {

struct FileMeta {
  mode_t mode = 0600; // permission bits only
  uid_t uid = 0;
  gid_t gid = 0;
};

struct FileRead {
  enum class Status { Ok, Missing, Failed };
  Status status = Status::Failed;
  std::string bytes;
  FileMeta meta;
  std::string error; // Failed: "cannot read PATH: why (what to do)"
};

// Files larger than this are refused: no client configuration comes near it.
inline constexpr size_t kMaxConfigBytes = 64u << 20;

// Reads `path` whole. Missing when it does not exist (nor does its directory); Failed when it
// cannot be opened or read (permissions), is not a regular file, or is larger than
// kMaxConfigBytes. Never blocks on a FIFO.
FileRead readWholeFile(const std::string& path);

// `path` with symbolic links resolved when it exists (so that rewriting a file kept in a dotfiles
// repository behind a link changes the file, not the link); `path` itself otherwise.
std::string resolveForWrite(const std::string& path);

// Replaces `path` by a file holding `bytes` with `meta`'s mode, owner and group: written to a
// temporary file in the same directory, flushed, then renamed over `path`, so a reader sees the
// old file or the new one, never a mix. The owner is only changed when it differs from ours
// (running as root on a user's file); failing that is an error, not a silent change of owner.
Status replaceFile(const std::string& path, std::string_view bytes, const FileMeta& meta);

// Creates `path` holding `bytes` with `meta`'s mode, atomically, unless something is already
// there: then sets `existed` and leaves it untouched (returns ok).
Status createFileExclusive(const std::string& path, std::string_view bytes, const FileMeta& meta,
                           bool& existed);

// Whether something is at `path` (a broken link counts).
bool pathExists(const std::string& path);

// Removes `path`.
Status removeFile(const std::string& path);

} // namespace sidecar::clients
