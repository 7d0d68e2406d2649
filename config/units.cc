#include "config/units.h"

#include <charconv>

namespace sidecar::config {
namespace {

// Splits "123unit" into number and unit; false when there is no leading number.
bool splitNumber(std::string_view text, double& number, std::string_view& unit) {
  size_t i = 0;
  while (i < text.size() && (isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
    ++i;
  if (i == 0)
    return false;
  std::string digits(text.substr(0, i));
  char* end = nullptr;
  number = strtod(digits.c_str(), &end);
  if (end != digits.c_str() + digits.size())
    return false;
  unit = text.substr(i);
  while (!unit.empty() && unit.front() == ' ')
    unit.remove_prefix(1);
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

} // namespace

Result<uint64_t> parseDurationMs(std::string_view text) {
  text = trim(text);
  double n = 0;
  std::string_view unit;
  const std::string allowed = "expected a duration: seconds as a plain number, or a number with "
                              "a unit ms, s, m or h (e.g. 30, 30s, 250ms, 5m)";
  if (!splitNumber(text, n, unit))
    return Status::error(allowed);
  double ms;
  if (unit.empty() || unit == "s")
    ms = n * 1000;
  else if (unit == "ms")
    ms = n;
  else if (unit == "m")
    ms = n * 60000;
  else if (unit == "h")
    ms = n * 3600000;
  else
    return Status::error(allowed);
  if (ms > 1e13)
    return Status::error("duration too large; " + allowed);
  return static_cast<uint64_t>(ms);
}

Result<uint64_t> parseSize(std::string_view text) {
  text = trim(text);
  double n = 0;
  std::string_view unit;
  const std::string allowed = "expected a size: bytes as a plain number, or a number with a unit "
                              "B, KiB, MiB, GiB, KB, MB or GB (e.g. 4MiB)";
  if (!splitNumber(text, n, unit))
    return Status::error(allowed);
  double mul;
  if (unit.empty() || unit == "B")
    mul = 1;
  else if (unit == "KiB")
    mul = 1024.0;
  else if (unit == "MiB")
    mul = 1024.0 * 1024;
  else if (unit == "GiB")
    mul = 1024.0 * 1024 * 1024;
  else if (unit == "KB" || unit == "kB")
    mul = 1e3;
  else if (unit == "MB")
    mul = 1e6;
  else if (unit == "GB")
    mul = 1e9;
  else
    return Status::error(allowed);
  double v = n * mul;
  if (v > 1e15)
    return Status::error("size too large; " + allowed);
  return static_cast<uint64_t>(v);
}

std::string HostPort::str() const {
  if (host.find(':') != std::string::npos)
    return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<HostPort> parseHostPort(std::string_view text) {
  text = trim(text);
  const std::string allowed =
      "expected HOST:PORT, e.g. 127.0.0.1:8787, 0.0.0.0:8787 or [::1]:8787 (port 0-65535)";
  HostPort hp;
  std::string_view portText;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return Status::error(allowed);
    hp.host = std::string(text.substr(1, close - 1));
    portText = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos)
      return Status::error(allowed);
    hp.host = std::string(text.substr(0, colon));
    if (hp.host.find(':') != std::string::npos)
      return Status::error(allowed + " (put IPv6 addresses in brackets)");
    portText = text.substr(colon + 1);
  }
  if (hp.host.empty())
    hp.host = "0.0.0.0";
  unsigned port = 0;
  auto [p, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
  if (ec != std::errc() || p != portText.data() + portText.size() || portText.empty() ||
      port > 65535)
    return Status::error(allowed);
  hp.port = static_cast<uint16_t>(port);
  return hp;
}

std::string HttpUrl::authority() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return port == 80 ? h : h + ":" + std::to_string(port);
}

Result<HttpUrl> parseHttpUrl(std::string_view text) {
  text = trim(text);
  const std::string allowed = "expected http://HOST[:PORT][/PATH], e.g. http://127.0.0.1:3001/mcp";
  if (text.starts_with("https://"))
    return Status::error("https upstreams are not supported: the sidecar runs next to its MCP "
                         "server and reaches it over plain HTTP on loopback; " +
                         allowed);
  if (!text.starts_with("http://"))
    return Status::error(allowed);
  std::string_view rest = text.substr(7);
  size_t slash = rest.find_first_of("/?");
  std::string_view auth = rest.substr(0, slash);
  HttpUrl url;
  if (slash != std::string_view::npos) {
    url.path = std::string(rest.substr(slash));
    if (url.path.front() == '?')
      url.path = "/" + url.path; // not insert(0, …): GCC 12 at -O3 flags that (-Wrestrict, a
                                 // false positive) and -Werror makes it fatal
  }
  if (auth.empty())
    return Status::error(allowed);
  if (auth.find('@') != std::string_view::npos)
    return Status::error("credentials in the upstream URL are not supported; " + allowed);
  bool hasPort = auth.front() == '[' ? auth.find("]:") != std::string_view::npos
                                     : auth.find(':') != std::string_view::npos;
  if (hasPort) {
    auto hp = parseHostPort(auth);
    if (!hp.ok())
      return Status::error(allowed);
    url.host = hp->host;
    url.port = hp->port;
    if (url.port == 0)
      return Status::error("port 0 is not a valid upstream port; " + allowed);
  } else {
    url.host = std::string(auth.front() == '[' ? auth.substr(1, auth.size() - 2) : auth);
  }
  return url;
}

} // namespace sidecar::config
