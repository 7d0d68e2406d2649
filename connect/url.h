#pragma once
// The URL `mcp-sidecar connect` talks to, split into what signing and key pinning need.

#include <string>
#include <string_view>

#include "common/status.h"

namespace sidecar::connect {

struct ServerUrl {
  std::string url;    // normalised, without fragment: what is requested
  std::string origin; // scheme://host[:port], lower case, the port only when not the default
  std::string target; // path and query as sent, e.g. "/mcp?x=1" (the signed TARGET, §3)
  bool tls = false;

  // The URL of `path` (absolute, starting with '/') on the same origin.
  std::string at(std::string_view path) const { return origin + std::string(path); }
};

// Parses an http or https URL with libcurl's URL parser, whose normalisation (dot segments,
// default path "/") is the one libcurl applies when it sends the request, so `target` is
// byte for byte the request-target on the wire. Errors name the URL and what is wrong.
Result<ServerUrl> parseServerUrl(std::string_view text);

} // namespace sidecar::connect
