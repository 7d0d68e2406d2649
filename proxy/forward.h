#pragma once
// What the proxy changes in a message as it passes (RFC 9110 §7.6): hop-by-hop fields are
// removed (those named in Connection too), the request is re-framed with Content-Length (the body
// was read whole), and X-Forwarded-For/-Proto/-Host are added.

#include <string>
#include <string_view>

#include "proxy/request_parser.h"
#include "proxy/upstream.h"

namespace sidecar::proxy {

// Appends the request line and headers to send upstream for `req`.
// `clientIp`: the peer address, appended to X-Forwarded-For. `upstreamAuthority`: the Host value
// the upstream expects (its own host:port, as an MCP server's DNS-rebinding check wants).
void buildUpstreamRequestHead(const RequestParser& req, std::string_view clientIp,
                              std::string_view upstreamAuthority, std::string& out);

// Appends the status line and headers of the answer to the client.
// `chunked`: the sidecar frames the body as chunked (the upstream's own framing headers are
// dropped). `keepAlive`: the connection stays open after this answer. `http11`: the client spoke
// HTTP/1.1 (else HTTP/1.0, which needs an explicit keep-alive).
void buildClientResponseHead(const ResponseHead& head, bool chunked, bool keepAlive, bool http11,
                             std::string& out);

} // namespace sidecar::proxy
