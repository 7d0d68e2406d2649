#include "connect/known_servers.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/clock.h"

namespace sidecar::connect {

namespace {

// Splits `line` into whitespace-separated fields, stopping at a field that starts with '#'.
std::vector<std::string> fields(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  std::string f;
  while (in >> f) {
    if (f[0] == '#')
      break;
    out.push_back(f);
  }
  return out;
}

} // namespace

Result<std::string> knownServersPath(const std::function<const char*(const char*)>& getenv) {
  const char* xdg = getenv("XDG_CONFIG_HOME");
  if (xdg != nullptr && xdg[0] == '/')
    return std::string(xdg) + "/mcp-sidecar/known_servers";
  const char* home = getenv("HOME");
  if (home != nullptr && home[0] == '/')
    return std::string(home) + "/.config/mcp-sidecar/known_servers";
  return Status::error("neither XDG_CONFIG_HOME nor HOME is set to an absolute path, so there "
                       "is no known_servers file: set HOME, or pin the key with --server-key");
}

Result<KnownServers> KnownServers::load(const std::string& path) {
  KnownServers ks;
  ks.path_ = path;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec) && !ec)
    return ks;
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status::error("cannot read " + path + ": " + std::strerror(errno) +
                         " (fix its permissions, or pin the key with --server-key)");
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    std::vector<std::string> f = fields(line);
    if (f.empty())
      continue;
    std::string where = path + ":" + std::to_string(n);
    auto note = [&](const std::string& origin, const std::string& why) {
      ks.warnings_.push_back(where + ": " + why + "; the line is ignored");
      for (auto& [o, lines] : ks.unreadable_)
        if (o == origin) {
          lines.push_back(n);
          return;
        }
      ks.unreadable_.push_back({origin, {n}});
    };
    if (f.size() != 2) {
      note(f[0], "expected 'ORIGIN KEY', found " + std::to_string(f.size()) + " fields");
      continue;
    }
    auto key = verifier::parsePublicKey(f[1]);
    if (!key.ok()) {
      note(f[0], "the key is not readable: " + key.error());
      continue;
    }
    ks.entries_.push_back({f[0], *key, n});
  }
  if (in.bad())
    return Status::error("reading " + path + " failed: " + std::strerror(errno));
  return ks;
}

std::vector<KnownServer> KnownServers::find(const std::string& origin) const {
  std::vector<KnownServer> out;
  for (const KnownServer& e : entries_)
    if (e.origin == origin)
      out.push_back(e);
  return out;
}

const std::vector<size_t>& KnownServers::unreadable(const std::string& origin) const {
  static const std::vector<size_t> kNone;
  for (const auto& [o, lines] : unreadable_)
    if (o == origin)
      return lines;
  return kNone;
}

Status KnownServers::append(const std::string& path, const std::string& origin,
                            const verifier::PublicKey& key) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec)
      return Status::error("cannot create " + dir.string() + ": " + ec.message());
    // Only the directory made here is narrowed to the owner; an existing one keeps its mode.
    ::chmod(dir.c_str(), 0700);
  }
  std::string line = origin + " " + verifier::base64(key.bytes) + " # " +
                     verifier::fingerprint(key) + ", learned " + rfc3339Now() + "\n";
  int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return Status::error("cannot open " + path +
                         " to add the server's key: " + std::strerror(errno));
  // A file that does not end in a newline (edited by hand) must not swallow the new line.
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) {
    char last = 0;
    if (::pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n')
      line.insert(0, "\n");
  }
  ssize_t w = ::write(fd, line.data(), line.size());
  int err = errno;
  bool ok = w == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok)
    return Status::error("writing " + path + " failed: " + std::strerror(err));
  return {};
}

std::string changedKeyMessage(const std::string& origin, const verifier::PublicKey& presented,
                              const std::vector<KnownServer>& known, const std::string& path) {
  std::string m = "refusing to connect to " + origin + ":\n";
  m += "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n";
  m += "@    WARNING: THE MCP SERVER'S KEY HAS CHANGED!           @\n";
  m += "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n";
  m += "Someone may be impersonating " + origin +
       " (a man in the middle), or its operator replaced the sidecar's key.\n";
  m += "The server now presents the key " + verifier::fingerprint(presented) + " (" +
       verifier::base64(presented.bytes) + ").\n";
  for (const KnownServer& k : known)
    m += path + ":" + std::to_string(k.line) + " holds " + verifier::fingerprint(k.key) + ".\n";
  m += "Nothing was sent to the server. If you know the change is legitimate, remove ";
  if (known.size() == 1) {
    m += "line " + std::to_string(known[0].line) + " of " + path;
  } else {
    m += "lines";
    for (size_t i = 0; i < known.size(); ++i)
      m += (i == 0 ? " " : ", ") + std::to_string(known[i].line);
    m += " of " + path;
  }
  m += " and connect again (the new key is then learned), or pin it with --server-key.\n";
  return m;
}

} // namespace sidecar::connect
