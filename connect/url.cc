#include "connect/url.h"

#include <curl/curl.h>

#include <cctype>
#include <memory>

namespace sidecar::connect {

namespace {

struct UrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
using UrlPtr = std::unique_ptr<CURLU, UrlDeleter>;

// One part of `u`, "" when absent.
std::string part(CURLU* u, CURLUPart which, unsigned flags = 0) {
  char* s = nullptr;
  if (curl_url_get(u, which, &s, flags) != CURLUE_OK || s == nullptr)
    return {};
  std::string out(s);
  curl_free(s);
  return out;
}

std::string lower(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

} // namespace

Result<ServerUrl> parseServerUrl(std::string_view text) {
  std::string in(text);
  UrlPtr u(curl_url());
  if (!u)
    return Status::error("libcurl: curl_url() failed");
  // No CURLU_GUESS_SCHEME: "host:8787/mcp" is refused rather than guessed.
  CURLUcode rc = curl_url_set(u.get(), CURLUPART_URL, in.c_str(), 0);
  if (rc != CURLUE_OK)
    return Status::error("'" + in + "' is not a URL (" + curl_url_strerror(rc) +
                         "); expected e.g. http://127.0.0.1:8787/mcp");
  ServerUrl out;
  std::string scheme = lower(part(u.get(), CURLUPART_SCHEME));
  if (scheme != "http" && scheme != "https")
    return Status::error("'" + in + "': the scheme must be http or https, not '" + scheme + "'");
  out.tls = scheme == "https";
  if (!part(u.get(), CURLUPART_USER).empty())
    return Status::error("'" + in + "': credentials in the URL are not supported");
  std::string host = lower(part(u.get(), CURLUPART_HOST));
  if (host.empty())
    return Status::error("'" + in + "' names no host");
  std::string port = part(u.get(), CURLUPART_PORT); // only when given explicitly
  if ((out.tls && port == "443") || (!out.tls && port == "80"))
    port.clear();
  out.origin = scheme + "://" + host + (port.empty() ? "" : ":" + port);
  std::string path = part(u.get(), CURLUPART_PATH);
  if (path.empty())
    path = "/";
  std::string query = part(u.get(), CURLUPART_QUERY);
  out.target = query.empty() ? path : path + "?" + query;
  out.url = out.origin + out.target;
  return out;
}

} // namespace sidecar::connect
