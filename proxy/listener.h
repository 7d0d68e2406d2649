#pragma once
// Listening sockets and address resolution, done once at start-up (blocking calls are fine
// there; nothing here runs on the request path).

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "common/status.h"
#include "config/units.h"

namespace sidecar::proxy {

// Resolves `host` (a name or a literal) to its first address, with `port`.
Result<sockaddr_storage> resolveAddress(const std::string& host, uint16_t port);

// A bound TCP socket (not yet listening) for `hp`. With `reusePort`, SO_REUSEPORT is set so that
// several workers can bind the same port. `boundPort` receives the port actually bound (useful
// with port 0). The error names the address and what to do.
Result<int> bindListenSocket(const config::HostPort& hp, bool reusePort, uint16_t& boundPort);

} // namespace sidecar::proxy
