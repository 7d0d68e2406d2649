#include "proxy/sidecar_error.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "mcp/jsonrpc.h"
#include "proxy/http_util.h"

namespace sidecar::proxy {

const ErrorInfo& errorInfo(SidecarError e) {
  static const ErrorInfo kTable[] = {
      {400, -32600, "Bad request", "bad_request"},
      {408, -32600, "Request timeout", "header_timeout"},
      {413, -32600, "Request body too large", "body_too_large"},
      {417, -32600, "Expectation failed", "expectation_failed"},
      {431, -32600, "Request headers too large", "header_too_large"},
      {503, -32600, "Too many connections", "too_many_connections"},
      {502, -31004, "Upstream unavailable", "upstream_unavailable"},
      {504, -31005, "Upstream timed out", "upstream_timeout"},
      {401, -31001, "Invalid MCP signature", "signature_invalid"},
      {403, -31002, "Forbidden by policy", "forbidden"},
      {503, -31008, "Replay cache full", "replay_cache_full"},
      {403, -32000, "Forbidden: Host not allowed", "host_not_allowed"},
      {403, -32000, "Forbidden: Origin not allowed", "origin_not_allowed"},
      {404, -32000, "Not found", "not_found"},
      {405, -32000, "Method not allowed", "method_not_allowed"},
      {406, -32000,
       "Not Acceptable: Client must accept both application/json and "
       "text/event-stream",
       "not_acceptable"},
      {415, -32000, "Unsupported Media Type: Content-Type must be application/json",
       "unsupported_media_type"},
      {400, -32700, "Parse error", "parse_error"},
      {400, -32600, "Invalid Request", "invalid_request"},
      {400, -32000, "Bad Request: Unsupported protocol version", "unsupported_protocol_version"},
      {400, -32000, "Bad Request: Mcp-Session-Id header is required", "session_required"},
      {403, -31003, "Approval required", "approval_denied"},
      {409, -31007, "Tool definition changed (drift)", "tool_drift_blocked"},
  };
  return kTable[static_cast<int>(e)];
}

std::string jsonRpcIdOf(std::string_view body) {
  size_t i = 0;
  while (i < body.size() && isspace(static_cast<unsigned char>(body[i])))
    ++i;
  if (i == body.size() || body[i] != '{')
    return "null";
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject())
    return "null";
  // HasMember, not FindMember() != MemberEnd(): comparing RapidJSON member iterators is
  // ambiguous under clang's C++20 rules (-Wambiguous-reversed-operator).
  if (!doc.HasMember("id"))
    return "null";
  const rapidjson::Value& id = doc["id"];
  if (!(id.IsString() || id.IsNumber()))
    return "null";
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  id.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

std::string buildErrorResponse(SidecarError e, std::string_view detail,
                               std::string_view requestBody, bool close) {
  return buildErrorResponse(e, errorInfo(e).reason, detail, requestBody, close, {});
}

std::string buildErrorResponse(SidecarError e, std::string_view reason, std::string_view detail,
                               std::string_view requestBody, bool close,
                               std::string_view extraHeaders) {
  const ErrorInfo& info = errorInfo(e);
  std::string id = jsonRpcIdOf(requestBody);
  std::string body = mcp::errorResponse(id == "null" ? std::string_view() : std::string_view(id),
                                        info.rpcCode, info.message, reason, detail);

  std::string out = "HTTP/1.1 ";
  appendUint(out, static_cast<uint64_t>(info.httpStatus));
  out += ' ';
  out += reasonPhrase(info.httpStatus);
  out += "\r\nContent-Type: application/json\r\nContent-Length: ";
  appendUint(out, body.size());
  if (close)
    out += "\r\nConnection: close";
  out += "\r\n";
  out.append(extraHeaders);
  out += "\r\n";
  out += body;
  return out;
}

} // namespace sidecar::proxy
