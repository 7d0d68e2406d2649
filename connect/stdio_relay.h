#pragma once
// The client's side of the MCP stdio transport (newline-delimited JSON-RPC, mcp-transport.md
// §5.1): lines read from the client's stdin, and messages written to its stdout as single lines.
// stdout carries nothing else: logging goes to stderr.

#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace sidecar::connect {

// Splits a byte stream into lines. Pure.
class LineSplitter {
public:
  // A line longer than `maxLineBytes` is skipped whole and reported to onOversized.
  explicit LineSplitter(size_t maxLineBytes = 64u << 20) : max_(maxLineBytes) {}

  using OnLine = std::function<void(std::string&& line)>;
  using OnOversized = std::function<void(size_t bytes)>;

  // Calls `onLine` inline for every line completed by `bytes`, without its "\n" and one trailing
  // "\r"; empty lines are skipped.
  void feed(std::string_view bytes, const OnLine& onLine, const OnOversized& onOversized);
  // End of input: a last line without "\n" still counts (a client that closes right after).
  void finish(const OnLine& onLine, const OnOversized& onOversized);

private:
  void complete(const OnLine& onLine, const OnOversized& onOversized);

  size_t max_;
  std::string line_;
  bool skipping_ = false; // inside an oversized line, until its end
  size_t skipped_ = 0;
};

// Reads the client's lines on a thread of its own until end of input or a termination signal.
class StdinReader {
public:
  struct Callbacks {
    LineSplitter::OnLine onLine;
    LineSplitter::OnOversized onOversized;
    // The input ended: `why` is "" at end of file, else the signal or read error. Runs once for
    // the end of input, and again for every termination signal after it.
    std::function<void(const std::string& why)> onEnd;
  };

  // Starts the thread on `fd`. `signalFd` (a signalfd for the termination signals, or -1) is
  // watched beside it, so that SIGTERM from the client ends the session as end of input does.
  StdinReader(int fd, int signalFd, Callbacks callbacks);
  // Stops the thread and joins it.
  ~StdinReader();
  StdinReader(const StdinReader&) = delete;
  StdinReader& operator=(const StdinReader&) = delete;

private:
  void run();

  int fd_;
  int signalFd_;
  Callbacks cb_;
  int stopPipe_[2] = {-1, -1};
  std::thread thread_;
};

// Writes one message per line to a file descriptor; any thread.
class LineWriter {
public:
  explicit LineWriter(int fd) : fd_(fd) {}

  // Writes `line` and "\n" whole (retrying short writes and EINTR). False once the descriptor
  // failed (the client closed its end: EPIPE); every later write is then refused too.
  bool write(std::string_view line);
  bool failed() const;

private:
  int fd_;
  mutable std::mutex mu_;
  bool failed_ = false;
};

// Makes the JSON text `json` one stdio line: checks that it is a JSON object or array (false
// otherwise) and replaces the CR and LF between its tokens by spaces — JSON strings cannot hold
// raw line breaks, so that changes no value.
bool toStdioLine(std::string_view json, std::string& out);

} // namespace sidecar::connect
