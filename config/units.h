#pragma once
// Parsers for the value forms of shared configuration (docs/configuration.md): durations,
// sizes, HOST:PORT and upstream URLs. Each returns an error text that says what is allowed.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sidecar::config {

// "30", "30s", "250ms", "5m", "1h" -> milliseconds. Plain numbers are seconds.
Result<uint64_t> parseDurationMs(std::string_view text);

// "4096", "4096B", "64KiB", "4MiB", "1GiB", "10KB", "10MB", "1GB" -> bytes.
Result<uint64_t> parseSize(std::string_view text);

struct HostPort {
  std::string host; // as written, without brackets for IPv6
  uint16_t port = 0;
  std::string str() const; // "127.0.0.1:8787", "[::1]:8787"
};
// "127.0.0.1:8787", "[::1]:8787", "localhost:8787", ":8787" (all interfaces). Port 0 asks the
// kernel for a free port.
Result<HostPort> parseHostPort(std::string_view text);

struct HttpUrl {
  std::string host;
  uint16_t port = 80;
  std::string path = "/";        // path and query, "/" when absent
  std::string authority() const; // host[:port] as a Host header value
};
// "http://host[:port][/path]". https is refused with an explanation.
Result<HttpUrl> parseHttpUrl(std::string_view text);

} // namespace sidecar::config
