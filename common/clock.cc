#include "common/clock.h"

#include <ctime>

namespace sidecar {

std::string rfc3339Now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  // Every audit record is stamped: the calendar part changes once a second, so each thread keeps
  // it instead of running gmtime_r and strftime per record.
  thread_local time_t cachedSecond = -1;
  thread_local char prefix[32];
  thread_local size_t prefixLen = 0;
  if (ts.tv_sec != cachedSecond) {
    tm t{};
    gmtime_r(&ts.tv_sec, &t);
    prefixLen = strftime(prefix, sizeof prefix, "%Y-%m-%dT%H:%M:%S", &t);
    cachedSecond = ts.tv_sec;
  }
  long ms = ts.tv_nsec / 1000000;
  std::string out;
  out.reserve(prefixLen + 5);
  out.append(prefix, prefixLen);
  char tail[6] = {'.',
                  static_cast<char>('0' + ms / 100),
                  static_cast<char>('0' + ms / 10 % 10),
                  static_cast<char>('0' + ms % 10),
                  'Z',
                  '\0'};
  out.append(tail, 5);
  return out;
}

} // namespace sidecar
