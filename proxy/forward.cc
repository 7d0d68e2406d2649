#include "proxy/forward.h"

#include "proxy/http_util.h"

#include <span>

namespace sidecar::proxy {

namespace {

// Whether `name` is listed in any Connection header of the message (those fields are hop-by-hop
// for this connection only, RFC 9110 §7.6.1).
template <typename Headers>
bool namedInConnection(const Headers& connectionValues, std::string_view name) {
  for (std::string_view v : connectionValues)
    if (headerHasToken(v, name))
      return true;
  return false;
}

// Whether the Connection values name any field besides the keep-alive/close options, i.e.
// whether each header must be checked against them.
template <typename Values> bool namesFields(const Values& connectionValues) {
  for (std::string_view v : connectionValues) {
    while (!v.empty()) {
      size_t comma = v.find(',');
      std::string_view t = trimBlanks(v.substr(0, comma));
      if (!t.empty() && !iequals(t, "keep-alive") && !iequals(t, "close"))
        return true;
      if (comma == std::string_view::npos)
        break;
      v.remove_prefix(comma + 1);
    }
  }
  return false;
}

void appendHeader(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ");
  out.append(value);
  out.append("\r\n");
}

} // namespace

void buildUpstreamRequestHead(const RequestParser& req, std::string_view clientIp,
                              std::string_view upstreamAuthority, std::string& out) {
  out.reserve(out.size() + 256 + req.url().size());
  out.append(req.methodName());
  out.push_back(' ');
  out.append(req.url());
  out.append(" HTTP/1.1\r\nHost: ");
  out.append(upstreamAuthority);
  out.append("\r\n");

  std::string_view connection[4];
  size_t nconn = 0;
  std::string_view host;
  for (size_t i = 0; i < req.headerCount(); ++i) {
    std::string_view n = req.headerName(i);
    if (iequals(n, "connection") && nconn < 4)
      connection[nconn++] = req.headerValue(i);
    else if (iequals(n, "host"))
      host = req.headerValue(i);
  }
  std::span<const std::string_view> conn(connection, nconn);
  if (nconn && !namesFields(conn))
    nconn = 0;
  std::string forwardedFor;
  for (size_t i = 0; i < req.headerCount(); ++i) {
    std::string_view n = req.headerName(i);
    std::string_view v = req.headerValue(i);
    if (isHopByHop(n) || iequals(n, "host") || iequals(n, "content-length") ||
        iequals(n, "expect") || iequals(n, "x-forwarded-proto") || iequals(n, "x-forwarded-host") ||
        (nconn && namedInConnection(conn, n)))
      continue;
    if (iequals(n, "x-forwarded-for")) {
      if (!forwardedFor.empty())
        forwardedFor.append(", ");
      forwardedFor.append(v);
      continue;
    }
    appendHeader(out, n, v);
  }
  if (!forwardedFor.empty())
    forwardedFor.append(", ");
  forwardedFor.append(clientIp);
  appendHeader(out, "X-Forwarded-For", forwardedFor);
  out.append("X-Forwarded-Proto: http\r\n");
  if (!host.empty())
    appendHeader(out, "X-Forwarded-Host", host);
  llhttp_method_t m = req.method();
  if (!req.body().empty() || m == HTTP_POST || m == HTTP_PUT || m == HTTP_PATCH) {
    out.append("Content-Length: ");
    appendUint(out, req.body().size());
    out.append("\r\n");
  }
  out.append("\r\n");
}

void buildClientResponseHead(const ResponseHead& head, bool chunked, bool keepAlive, bool http11,
                             std::string& out) {
  out.reserve(out.size() + 256);
  out.append("HTTP/1.1 ");
  appendUint(out, static_cast<uint64_t>(head.status));
  out.push_back(' ');
  if (!head.reason.empty())
    out.append(head.reason);
  else
    out.append(reasonPhrase(head.status));
  out.append("\r\n");

  std::string_view connection[4];
  size_t nconn = 0;
  for (const auto& [n, v] : head.headers)
    if (iequals(n, "connection") && nconn < 4)
      connection[nconn++] = v;
  std::span<const std::string_view> conn(connection, nconn);
  if (nconn && !namesFields(conn))
    nconn = 0;
  for (const auto& [n, v] : head.headers) {
    if (isHopByHop(n) || (nconn && namedInConnection(conn, n)))
      continue;
    if (chunked && iequals(n, "content-length"))
      continue;
    appendHeader(out, n, v);
  }
  if (chunked)
    out.append("Transfer-Encoding: chunked\r\n");
  if (!keepAlive)
    out.append("Connection: close\r\n");
  else if (!http11)
    out.append("Connection: keep-alive\r\n");
  out.append("\r\n");
}

} // namespace sidecar::proxy
