#pragma once
// The server keys `mcp-sidecar connect` has learned on first use, one line per server origin, as
// ssh's known_hosts (docs/connect.md "known_servers"):
//
//   # comment
//   ORIGIN KEY [# comment]
//
// ORIGIN is scheme://host[:port] as ServerUrl::origin writes it; KEY any public-key form of
// contract §1 without spaces (connect writes the standard base64 of the raw 32 bytes). Several
// lines may name one origin (a key rotation the user accepted): any of their keys is the
// server's.

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "verifier/keys.h"

namespace sidecar::connect {

// $XDG_CONFIG_HOME/mcp-sidecar/known_servers when XDG_CONFIG_HOME is set to an absolute path
// (the XDG Base Directory rule: a relative value is ignored), else
// $HOME/.config/mcp-sidecar/known_servers. `getenv` is injected for tests. Error when neither
// variable is usable.
Result<std::string> knownServersPath(const std::function<const char*(const char*)>& getenv);

struct KnownServer {
  std::string origin;
  verifier::PublicKey key;
  size_t line = 0; // 1-based line number in the file
};

class KnownServers {
public:
  // Reads `path`; a missing file is an empty list. A line that cannot be read is skipped and
  // described in warnings() (file:line and why), unless it names no readable origin either.
  // Errors: the file exists but cannot be read.
  static Result<KnownServers> load(const std::string& path);

  // Every entry for `origin`, in file order.
  std::vector<KnownServer> find(const std::string& origin) const;
  // Warnings about lines that were skipped, with file and line number; for the log.
  const std::vector<std::string>& warnings() const { return warnings_; }
  // Lines for `origin` that could not be read: a changed key must not hide behind one.
  const std::vector<size_t>& unreadable(const std::string& origin) const;
  const std::string& path() const { return path_; }

  // Appends "ORIGIN KEY # key-id, learned <date>" to `path` in one write, creating the file
  // (mode 0600) and its directory (mode 0700) when missing.
  static Status append(const std::string& path, const std::string& origin,
                       const verifier::PublicKey& key);

private:
  std::string path_;
  std::vector<KnownServer> entries_;
  std::vector<std::string> warnings_;
  std::vector<std::pair<std::string, std::vector<size_t>>> unreadable_;
};

// The refusal printed when the server's key is not the one on file, in ssh's manner: what was
// expected and found, the file and line(s) to remove once the change is known to be legitimate.
std::string changedKeyMessage(const std::string& origin, const verifier::PublicKey& presented,
                              const std::vector<KnownServer>& known, const std::string& path);

} // namespace sidecar::connect
