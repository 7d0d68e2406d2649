#pragma once
// Files of the audit trail: naming of rotated files, reading lines forwards (verify) and
// backwards (resume). Blocking I/O: the writer thread, startup and the CLI use these, never an
// event loop.

#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "audit/record.h"
#include "common/status.h"

namespace sidecar::audit {

// "<path>.<index>": the index-th rotated file (1 is the oldest).
std::string rotatedPath(const std::string& path, unsigned index);

// The rotated files of `path` present in its directory, by index ascending: (index, path).
// Names other than "<basename>.<digits>" are ignored.
std::vector<std::pair<unsigned, std::string>> listRotated(const std::string& path);

// The facts resume and verify need from one line.
struct LineHead {
  uint64_t seq = 0;
  RecordKind kind = RecordKind::Operation;
  bool knownKind = false;
};
// Parses `line` as a JSON object with a non-negative integer `seq` and reads its `kind`.
// nullopt when it is not one.
std::optional<LineHead> parseLineHead(std::string_view line);

// Offset just past the last line feed among the first `size` bytes of `fd` (0 when there is
// none). Bytes after it are a partial line.
Result<uint64_t> completeLinesEnd(int fd, uint64_t size);

// Calls `fn` with each line (without its line feed) of the first `end` bytes of `fd`, last line
// first, until `fn` returns false. `end` must be 0 or just past a line feed.
Status forEachLineReverse(int fd, uint64_t end, const std::function<bool(std::string_view)>& fn);

// Forward reader of exact lines. Not thread-safe.
class LineReader {
public:
  LineReader() = default;
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // Opens `path` for reading; the error names the path and errno text.
  Status open(const std::string& path);
  // The next line without its line feed. `terminated` is false for a last line that ends without
  // one (a partial line). False at end of file or on a read error (see error()).
  bool next(std::string& line, bool& terminated);
  const std::string& error() const { return error_; }

private:
  FILE* file_ = nullptr;
  char* buf_ = nullptr;
  size_t cap_ = 0;
  std::string path_;
  std::string error_;
};

// "<what> <path>: <strerror(err)>".
std::string errnoMessage(std::string_view what, const std::string& path, int err);

} // namespace sidecar::audit
