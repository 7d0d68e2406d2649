#include "common/clock.h"

#include <ctime>

namespace sidecar {

void rfc3339Into(std::chrono::system_clock::time_point when, std::string& out) {
  using namespace std::chrono;
  auto sinceEpoch = duration_cast<milliseconds>(when.time_since_epoch()).count();
  auto second = static_cast<time_t>(sinceEpoch / 1000);
  auto ms = static_cast<int>(sinceEpoch % 1000);
  if (ms < 0) { // before 1970: the calendar second below, the milliseconds above it
    ms += 1000;
    --second;
  }
  // Every audit record is stamped: the calendar part changes once a second, so each thread keeps
  // it instead of running gmtime_r and strftime per record.
  thread_local time_t cachedSecond = -1;
  thread_local char prefix[32];
  thread_local size_t prefixLen = 0;
  if (second != cachedSecond || prefixLen == 0) {
    tm t{};
    gmtime_r(&second, &t);
    prefixLen = strftime(prefix, sizeof prefix, "%Y-%m-%dT%H:%M:%S", &t);
    cachedSecond = second;
  }
  out.assign(prefix, prefixLen);
  const char tail[5] = {'.', static_cast<char>('0' + ms / 100),
                        static_cast<char>('0' + ms / 10 % 10), static_cast<char>('0' + ms % 10),
                        'Z'};
  out.append(tail, sizeof tail);
}

std::string rfc3339(std::chrono::system_clock::time_point when) {
  std::string out;
  rfc3339Into(when, out);
  return out;
}

std::string rfc3339Now() {
  return rfc3339(std::chrono::system_clock::now());
}

} // namespace sidecar
