#pragma once
// Structured logging: one JSON object per line on stderr.
//
// Lines are formatted by the caller's thread and handed to a writer thread through a bounded
// buffer, so a worker never blocks on stderr. When the buffer is full (stderr is stuck), lines are
// dropped, counted, and the writer reports how many were lost as soon as it can write again:
// loss is never silent. Before start() (subcommands, tests) lines are written synchronously.

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace sidecar::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3 };

// Parses "debug", "info", "warn", "error"; returns false for anything else.
bool parseLevel(std::string_view text, Level& out);
const char* levelName(Level level);

class Field {
public:
  enum class Kind { Str, Int, Uint, Dbl, Bool };
  Field(std::string_view key, std::string_view v) : key_(key), kind_(Kind::Str), s_(v) {}
  Field(std::string_view key, const char* v) : key_(key), kind_(Kind::Str), s_(v) {}
  Field(std::string_view key, const std::string& v) : key_(key), kind_(Kind::Str), s_(v) {}
  Field(std::string_view key, int v) : key_(key), kind_(Kind::Int), i_(v) {}
  Field(std::string_view key, long v) : key_(key), kind_(Kind::Int), i_(v) {}
  Field(std::string_view key, long long v) : key_(key), kind_(Kind::Int), i_(v) {}
  Field(std::string_view key, unsigned v) : key_(key), kind_(Kind::Uint), u_(v) {}
  Field(std::string_view key, unsigned long v) : key_(key), kind_(Kind::Uint), u_(v) {}
  Field(std::string_view key, unsigned long long v) : key_(key), kind_(Kind::Uint), u_(v) {}
  Field(std::string_view key, double v) : key_(key), kind_(Kind::Dbl), d_(v) {}
  Field(std::string_view key, bool v) : key_(key), kind_(Kind::Bool), b_(v) {}

  std::string_view key() const { return key_; }
  Kind kind() const { return kind_; }
  std::string_view str() const { return s_; }
  long long i() const { return i_; }
  unsigned long long u() const { return u_; }
  double d() const { return d_; }
  bool b() const { return b_; }

private:
  std::string_view key_;
  Kind kind_;
  std::string_view s_;
  long long i_ = 0;
  unsigned long long u_ = 0;
  double d_ = 0;
  bool b_ = false;
};

void setLevel(Level level);
bool enabled(Level level);

// Formats one line and queues it (or writes it, before start()).
void write(Level level, std::string_view msg, std::initializer_list<Field> fields = {});

inline void debug(std::string_view msg, std::initializer_list<Field> f = {}) {
  if (enabled(Level::Debug))
    write(Level::Debug, msg, f);
}
inline void info(std::string_view msg, std::initializer_list<Field> f = {}) {
  if (enabled(Level::Info))
    write(Level::Info, msg, f);
}
inline void warn(std::string_view msg, std::initializer_list<Field> f = {}) {
  if (enabled(Level::Warn))
    write(Level::Warn, msg, f);
}
inline void error(std::string_view msg, std::initializer_list<Field> f = {}) {
  write(Level::Error, msg, f);
}

// Starts the writer thread; lines written before stay synchronous. `maxPendingBytes` bounds the
// buffer between callers and the writer.
void start(size_t maxPendingBytes = 8 << 20);
// Flushes everything queued and stops the writer thread; later lines are synchronous again.
void stop();
// Lines dropped because the buffer was full, since start.
uint64_t droppedLines();

// Rate limiter for log lines that untrusted input can trigger: allows `burst` lines, then one
// per `intervalNs`, and counts what it suppressed so the next allowed line can report it.
// Not thread-safe: keep one per worker.
class RateLimiter {
public:
  RateLimiter(uint32_t burst, uint64_t intervalNs) : burst_(burst), intervalNs_(intervalNs) {}
  // True when a line may be written now; `suppressed` receives how many were held back since
  // the last allowed line.
  bool allow(uint64_t nowNs, uint64_t& suppressed);

private:
  uint32_t burst_;
  uint64_t intervalNs_;
  double tokens_ = -1;
  uint64_t lastNs_ = 0;
  uint64_t suppressed_ = 0;
};

} // namespace sidecar::log
