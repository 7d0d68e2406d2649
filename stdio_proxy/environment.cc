#include "stdio_proxy/environment.h"

#include <string_view>

namespace sidecar::stdio_proxy {

namespace {

std::string_view nameOf(std::string_view entry) {
  size_t eq = entry.find('=');
  return eq == std::string_view::npos ? std::string_view() : entry.substr(0, eq);
}

bool sidecarOwn(std::string_view name) {
  return name.starts_with("MCP_SIDECAR_") || name.starts_with("AIM_");
}

} // namespace

std::vector<std::string> passThroughEnvironment(char** parent,
                                                const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = parent; e && *e; ++e) {
    std::string_view kv(*e);
    std::string_view name = nameOf(kv);
    if (name.empty() || sidecarOwn(name))
      continue;
    env.emplace_back(kv);
  }
  for (const std::string& x : extra) {
    std::string_view name = nameOf(x);
    if (name.empty())
      continue;
    bool replaced = false;
    for (std::string& e : env)
      if (nameOf(e) == name) {
        e = x;
        replaced = true;
        break;
      }
    if (!replaced)
      env.push_back(x);
  }
  return env;
}

bool validEnvEntry(const std::string& entry) {
  std::string_view name = nameOf(entry);
  if (name.empty())
    return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
      return false;
  return true;
}

} // namespace sidecar::stdio_proxy
