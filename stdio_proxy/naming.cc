#include "stdio_proxy/naming.h"

#include <sodium.h>

#include <array>
#include <string_view>

namespace sidecar::stdio_proxy {

namespace {

constexpr size_t kMaxName = 48;

// Programs that run a package or script named by a later argument.
bool isRunner(std::string_view base) {
  static constexpr std::array<std::string_view, 16> kRunners = {
      "npx",  "bunx", "uvx", "pipx", "node", "nodejs", "python", "python3",
      "deno", "bun",  "npm", "pnpm", "yarn", "uv",     "tsx",    "ts-node"};
  for (std::string_view r : kRunners)
    if (base == r)
      return true;
  return false;
}

// Sub-commands of runners that come before the package: `npm exec`, `uv run`, `pnpm dlx`.
bool isRunnerVerb(std::string_view a) {
  return a == "exec" || a == "run" || a == "dlx" || a == "x" || a == "tool";
}

std::string_view baseName(std::string_view path) {
  while (path.size() > 1 && path.back() == '/')
    path.remove_suffix(1);
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// The name a script or package argument stands for.
std::string nameOf(std::string_view arg) {
  // A package spec: @scope/name@version, name@version.
  if (!arg.empty() && arg.front() == '@') {
    size_t slash = arg.find('/');
    if (slash != std::string_view::npos) {
      arg = arg.substr(slash + 1);
    }
  }
  if (size_t at = arg.find('@');
      at != std::string_view::npos && at > 0 && arg.find('/') == std::string_view::npos)
    arg = arg.substr(0, at);
  std::string_view path = arg;
  std::string_view base = baseName(path);
  for (std::string_view ext : {".js", ".mjs", ".cjs", ".ts", ".py"})
    if (base.size() > ext.size() && base.substr(base.size() - ext.size()) == ext) {
      base.remove_suffix(ext.size());
      break;
    }
  // `…/weather/dist/index.js`: the generic file name says nothing, its project directory does.
  if (base == "index" || base == "main" || base == "server" || base == "__main__" ||
      base == "cli") {
    std::string_view dir = path.substr(0, path.size() - baseName(path).size());
    for (;;) {
      while (!dir.empty() && dir.back() == '/')
        dir.remove_suffix(1);
      if (dir.empty())
        break;
      std::string_view d = baseName(dir);
      if (d != "dist" && d != "build" && d != "src" && d != "lib" && d != "bin" && d != "." &&
          d != "..") {
        base = d;
        break;
      }
      dir.remove_suffix(d.size());
    }
  }
  return std::string(base);
}

std::string clean(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (out.size() == kMaxName)
      break;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    out += ok ? c : '_';
  }
  // Never "." or "..": the name becomes a path component.
  if (out.empty() || out.find_first_not_of('.') == std::string::npos)
    return "server";
  return out;
}

} // namespace

std::string serverName(const std::vector<std::string>& argv) {
  if (argv.empty())
    return "server";
  std::string_view base = baseName(argv[0]);
  if (!isRunner(base))
    return clean(nameOf(argv[0]));
  for (size_t i = 1; i < argv.size(); ++i) {
    std::string_view a = argv[i];
    if (a.empty() || a.front() == '-' || isRunnerVerb(a))
      continue;
    return clean(nameOf(a));
  }
  return clean(base);
}

std::string serverDirName(const std::vector<std::string>& argv) {
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  for (size_t i = 0; i < argv.size(); ++i) {
    if (i > 0)
      crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>("\0"), 1);
    crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(argv[i].data()),
                              argv[i].size());
  }
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&st, digest);
  char hex[9];
  sodium_bin2hex(hex, sizeof hex, digest, 4);
  return serverName(argv) + "-" + std::string(hex, 8);
}

std::string defaultStateDir(const std::vector<std::string>& argv, const char* xdgStateHome,
                            const char* home) {
  auto trimmed = [](std::string s) {
    while (s.size() > 1 && s.back() == '/')
      s.pop_back();
    return s;
  };
  std::string base;
  if (xdgStateHome && xdgStateHome[0] == '/')
    base = trimmed(xdgStateHome);
  else if (home && home[0] == '/')
    base = trimmed(home) + "/.local/state";
  else
    return {};
  return base + "/mcp-sidecar/" + serverDirName(argv);
}

} // namespace sidecar::stdio_proxy
