#include "common/log.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/clock.h"

namespace sidecar::log {
namespace {

std::atomic<int> gLevel{static_cast<int>(Level::Info)};

struct Sink {
  std::mutex mu;
  std::condition_variable cv;
  std::string pending;
  size_t maxPending = 8 << 20;
  bool running = false;
  bool stopping = false;
  uint64_t dropped = 0; // total, for droppedLines()
  uint64_t droppedUnreported = 0;
  std::thread thread;
};

Sink& sink() {
  static Sink* s = new Sink(); // never destroyed: lines may be logged during static teardown
  return *s;
}

void writeAll(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(STDERR_FILENO, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return; // stderr is gone: nothing better to do with a log line
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

void writerLoop() {
  Sink& s = sink();
  std::string batch;
  std::unique_lock lock(s.mu);
  for (;;) {
    s.cv.wait(lock, [&] { return !s.pending.empty() || s.stopping || s.droppedUnreported; });
    batch.swap(s.pending);
    uint64_t lost = s.droppedUnreported;
    s.droppedUnreported = 0;
    bool stop = s.stopping;
    lock.unlock();
    writeAll(batch);
    batch.clear();
    if (lost) {
      std::string line =
          "{\"ts\":\"" + rfc3339Now() +
          "\",\"level\":\"error\",\"msg\":\"log lines dropped: stderr could not keep "
          "up\",\"dropped\":" +
          std::to_string(lost) + "}\n";
      writeAll(line);
    }
    lock.lock();
    if (stop && s.pending.empty())
      return;
  }
}

void appendField(rapidjson::Writer<rapidjson::StringBuffer>& w, const Field& f) {
  w.Key(f.key().data(), static_cast<rapidjson::SizeType>(f.key().size()));
  switch (f.kind()) {
  case Field::Kind::Str:
    w.String(f.str().data(), static_cast<rapidjson::SizeType>(f.str().size()));
    break;
  case Field::Kind::Int:
    w.Int64(f.i());
    break;
  case Field::Kind::Uint:
    w.Uint64(f.u());
    break;
  case Field::Kind::Dbl:
    w.Double(f.d());
    break;
  case Field::Kind::Bool:
    w.Bool(f.b());
    break;
  }
}

} // namespace

bool parseLevel(std::string_view text, Level& out) {
  if (text == "debug")
    out = Level::Debug;
  else if (text == "info")
    out = Level::Info;
  else if (text == "warn" || text == "warning")
    out = Level::Warn;
  else if (text == "error")
    out = Level::Error;
  else
    return false;
  return true;
}

const char* levelName(Level level) {
  switch (level) {
  case Level::Debug:
    return "debug";
  case Level::Info:
    return "info";
  case Level::Warn:
    return "warn";
  case Level::Error:
    return "error";
  }
  return "info";
}

void setLevel(Level level) {
  gLevel.store(static_cast<int>(level), std::memory_order_relaxed);
}
bool enabled(Level level) {
  return static_cast<int>(level) >= gLevel.load(std::memory_order_relaxed);
}

void write(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  std::string ts = rfc3339Now();
  w.Key("ts");
  w.String(ts.data(), static_cast<rapidjson::SizeType>(ts.size()));
  w.Key("level");
  w.String(levelName(level));
  w.Key("msg");
  w.String(msg.data(), static_cast<rapidjson::SizeType>(msg.size()));
  for (const Field& f : fields)
    appendField(w, f);
  w.EndObject();
  std::string_view line(buf.GetString(), buf.GetSize());

  Sink& s = sink();
  std::unique_lock lock(s.mu);
  if (!s.running) {
    lock.unlock();
    std::string out(line);
    out.push_back('\n');
    writeAll(out);
    return;
  }
  if (s.pending.size() + line.size() + 1 > s.maxPending) {
    ++s.dropped;
    ++s.droppedUnreported;
    return; // the writer reports the loss
  }
  bool wasEmpty = s.pending.empty();
  s.pending.append(line);
  s.pending.push_back('\n');
  lock.unlock();
  if (wasEmpty)
    s.cv.notify_one();
}

void start(size_t maxPendingBytes) {
  Sink& s = sink();
  std::lock_guard lock(s.mu);
  if (s.running)
    return;
  s.maxPending = maxPendingBytes;
  s.running = true;
  s.stopping = false;
  s.thread = std::thread(writerLoop);
}

void stop() {
  Sink& s = sink();
  {
    std::lock_guard lock(s.mu);
    if (!s.running)
      return;
    s.stopping = true;
  }
  s.cv.notify_one();
  s.thread.join();
  std::lock_guard lock(s.mu);
  s.running = false;
  s.stopping = false;
}

uint64_t droppedLines() {
  Sink& s = sink();
  std::lock_guard lock(s.mu);
  return s.dropped;
}

bool RateLimiter::allow(uint64_t nowNs, uint64_t& suppressed) {
  if (tokens_ < 0) {
    tokens_ = burst_;
    lastNs_ = nowNs;
  }
  if (nowNs > lastNs_) {
    tokens_ = std::min<double>(burst_, tokens_ + static_cast<double>(nowNs - lastNs_) /
                                                     static_cast<double>(intervalNs_));
    lastNs_ = nowNs;
  }
  if (tokens_ >= 1) {
    tokens_ -= 1;
    suppressed = suppressed_;
    suppressed_ = 0;
    return true;
  }
  ++suppressed_;
  return false;
}

} // namespace sidecar::log
