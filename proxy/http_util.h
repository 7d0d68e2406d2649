#pragma once
// Small HTTP/1.1 helpers shared by the client and upstream sides.

#include <string>
#include <string_view>

#include "common/ascii.h"

namespace sidecar::proxy {

// True when `list` (a comma-separated header value) contains `token`, case-insensitively.
bool headerHasToken(std::string_view list, std::string_view token);

// Hop-by-hop fields that a proxy never forwards (RFC 9110 §7.6.1), plus Proxy-Connection, which
// old clients send, and Keep-Alive.
bool isHopByHop(std::string_view name);

// The reason phrase for a status code the sidecar itself produces.
const char* reasonPhrase(int status);

// Appends the decimal form of `v`.
void appendUint(std::string& out, uint64_t v);
// Appends the lower-case hexadecimal form of `v` (chunk sizes).
void appendHex(std::string& out, uint64_t v);

} // namespace sidecar::proxy
