#pragma once
// `mcp-sidecar wrap`, the part without I/O: the new text of a client configuration in which every
// stdio server runs through the sidecar,
//
//   "command": "npx", "args": ["-y", "pkg"]
//     becomes
//   "command": "/usr/local/bin/mcp-sidecar", "args": ["stdio", "--", "npx", "-y", "pkg"]
//
// and the reverse. Only the bytes of those two values change (an "args" member is added after
// "command" when there was none): every other byte of the file, comments included, stays as it
// was. Arrays are written in the style of the array they replace (one line, or one element per
// line with its indentation).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clients/config_file.h"

namespace sidecar::clients {

inline constexpr std::string_view kBackupSuffix = ".mcp-sidecar.bak";

// A command line `SIDECAR stdio [OPTIONS] -- COMMAND ARGS...` where SIDECAR's file name is
// mcp-sidecar (or it is `sidecar`, the path wrap writes).
struct WrappedCommand {
  std::string sidecar;
  std::vector<std::string> options; // between "stdio" and "--"
  std::string command;
  std::vector<std::string> args;
};
std::optional<WrappedCommand> parseWrapped(std::string_view command,
                                           const std::vector<std::string>& args,
                                           std::string_view sidecar = {});

// The arguments wrap gives the sidecar: {"stdio", "--", command, args...}.
std::vector<std::string> wrappedArgs(const std::string& command,
                                     const std::vector<std::string>& args);

struct WrapOptions {
  std::string sidecarPath;          // written as "command"; absolute
  std::vector<std::string> servers; // only these names; empty: every server
};

struct ServerChange {
  enum class Kind {
    Wrapped,        // wrap changed it
    Unwrapped,      // unwrap changed it
    AlreadyWrapped, // wrap left it: it runs through a sidecar already
    NotWrapped,     // unwrap left it: it does not
    Remote,         // a URL server: nothing to wrap
    Skipped,        // not a usable stdio server; `note` says why
    NotSelected,    // not named in WrapOptions::servers
  };
  std::string name;
  std::string scope;
  std::string project;
  Kind kind = Kind::Skipped;
  std::string note;
};

struct Plan {
  std::string text; // the new file; equal to the old one when nothing changes
  bool changed = false;
  std::vector<ServerChange> servers;
  std::vector<std::string> warnings; // from listServers
  size_t count(ServerChange::Kind k) const;
};

// Wraps every selected stdio server of `file`. Servers already wrapped (by any mcp-sidecar) and
// remote ones are left alone, so a second run changes nothing.
Plan planWrap(const ConfigFile& file, const WrapOptions& o);

// Restores the original command and args of every selected wrapped server of `file` in place
// (`wrap --undo` when there is no usable backup). o.sidecarPath also counts as a sidecar.
Plan planUnwrap(const ConfigFile& file, const WrapOptions& o);

// Whether `command` runs an mcp-sidecar: its file name is mcp-sidecar, or it is `sidecar`.
bool isSidecarCommand(std::string_view command, std::string_view sidecar = {});

} // namespace sidecar::clients
