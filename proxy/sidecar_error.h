#pragma once
// The sidecar's own errors, mapped in one place to an HTTP status and a JSON-RPC error code
// (docs/errors.md; request-signing contract §5). Codes outside the JSON-RPC reserved range are the
// sidecar's; -32600 is used for HTTP framing errors, where no JSON-RPC message could be read.

#include <string>
#include <string_view>

namespace sidecar::proxy {

enum class SidecarError {
  BadRequest,          // 400, malformed or ambiguous HTTP framing
  HeaderTimeout,       // 408
  BodyTooLarge,        // 413
  ExpectationFailed,   // 417
  HeaderTooLarge,      // 431
  TooManyConnections,  // 503
  UpstreamUnavailable, // 502 / -31004
  UpstreamTimeout,     // 504 / -31005
  SignatureRejected,   // 401 / -31001 (data.reason: the verifier's reason)
  ForbiddenByPolicy,   // 403 / -31002 (e.g. a tool not on the caller's allow-list)
  ReplayCacheFull,     // 503 / -31008
  HostNotAllowed,      // 403 / -32000 (DNS-rebinding protection: --allowed-hosts)
  OriginNotAllowed,    // 403 / -32000 (--allowed-origins)
  NotFound,            // 404 (a path the stdio bridge does not serve)
  MethodNotAllowed,    // 405 (with Allow: GET, POST, DELETE)
  NotAcceptable,       // 406 (Accept lacks application/json or text/event-stream)
  UnsupportedMedia,    // 415 (Content-Type is not application/json)
  ParseError,          // 400 / -32700 (the body is not JSON)
  InvalidMessage,      // 400 / -32600 (JSON, but not one JSON-RPC message)
  BadProtocolVersion,  // 400 / -32000 (MCP-Protocol-Version not supported)
  SessionRequired,     // 400 / -32000 (a 2026-07-28 request: see docs/stdio-bridge.md)
  ApprovalRequired,    // 403 / -31003 (a --gate tool AIM did not approve)
  DriftBlocked,        // 409 / -31007 (--drift-policy block: the tool changed since the baseline)
};

struct ErrorInfo {
  int httpStatus;
  int rpcCode;
  const char* message; // JSON-RPC error message
  const char* reason;  // machine-readable reason (metrics label, data.reason)
};

const ErrorInfo& errorInfo(SidecarError e);

// A complete HTTP/1.1 response carrying a JSON-RPC error body. The body echoes the id of the
// request when `requestBody` is a single JSON-RPC request, else null. `detail` says, for a person,
// what went wrong and what to do. With `close`, the response says `Connection: close`.
std::string buildErrorResponse(SidecarError e, std::string_view detail,
                               std::string_view requestBody, bool close);

// The same, with `reason` replacing the default data.reason and `extraHeaders` (complete
// "Name: value\r\n" lines) added to the head.
std::string buildErrorResponse(SidecarError e, std::string_view reason, std::string_view detail,
                               std::string_view requestBody, bool close,
                               std::string_view extraHeaders);

// The JSON text of the `id` of a single JSON-RPC request in `body`, or "null".
std::string jsonRpcIdOf(std::string_view body);

} // namespace sidecar::proxy
