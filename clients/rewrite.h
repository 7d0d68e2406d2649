#pragma once
// `mcp-sidecar wrap` and `wrap --undo` on the files themselves: the backup, the atomic rewrite,
// the diff and the messages. The changes are planned by wrap.h.
//
// Backup: FILE.mcp-sidecar.bak beside FILE (beside the real file when FILE is a symbolic link),
// with FILE's mode, made by the first wrap and never overwritten, so it always holds the file as
// it was before mcp-sidecar first touched it.
//
// Undo: when FILE is exactly what wrapping the backup gives (nobody changed it since), the backup
// is put back byte for byte and removed. When FILE changed since (the client or a person edited
// it: Claude Code rewrites ~/.claude.json all the time), putting the backup back would lose those
// changes, so the wrapped servers are unwrapped in place instead and the backup is kept; --force
// puts the backup back anyway. Without a backup, the servers are unwrapped in place.

#include <ostream>
#include <string>
#include <vector>

#include "clients/sources.h"
#include "clients/wrap.h"

namespace sidecar::clients {

struct RewriteOptions {
  WrapOptions wrap;
  bool dryRun = false; // print the diff, write nothing
  bool force = false;  // undo: restore the backup even when the file changed since the wrap
};

// What happened to the files, for the summary and the exit status.
struct RewriteTally {
  size_t filesFound = 0; // existing files (or backups) looked at
  size_t backupsFound = 0;
  size_t filesChanged = 0;
  size_t filesFailed = 0;
  size_t serversChanged = 0;
  std::vector<std::string> namesSeen; // servers found, for checking --server names
};

// Wraps the stdio servers of `source`. The diff goes to `out`; one line per file (what was done,
// the backup, what to do next) and every error go to `err`, prefixed with `prog`. A missing file
// is skipped silently unless `required`. Returns false when the file could not be handled (named
// in the message); the file is then untouched.
bool wrapSource(const Source& source, const RewriteOptions& o, bool required, const char* prog,
                std::ostream& out, std::ostream& err, RewriteTally& tally);

// Undoes the wrap of `source` (see the file comment). Same conventions as wrapSource.
bool undoSource(const Source& source, const RewriteOptions& o, bool required, const char* prog,
                std::ostream& out, std::ostream& err, RewriteTally& tally);

// The backup's path for `path` (after resolving links).
std::string backupPath(const std::string& path);

} // namespace sidecar::clients
