#pragma once
// One client configuration file: read, parsed (an invalid file is reported with its path and the
// parser's line:column), its layout settled, and its server lists found.

#include <string>
#include <vector>

#include "clients/file_ops.h"
#include "clients/json_tree.h"
#include "clients/sources.h"

namespace sidecar::clients {

struct ConfigFile {
  Source source; // layout is never Auto here
  std::string text;
  FileMeta meta;
  JsonNode root; // an object
};

struct ConfigRead {
  enum class Status { Ok, Missing, Failed };
  Status status = Status::Failed;
  ConfigFile file;
  // Failed: one line naming the file and what is wrong, e.g.
  // "/h/.cursor/mcp.json:3:5: invalid JSON: Missing a comma or '}' after an object member".
  std::string error;
};

// Reads and parses `source.path`. Missing when there is no such file. Failed when it cannot be
// read, is not JSON (comments allowed when source.jsonc), its top level is not an object, or
// (Layout::Auto only) nothing in it looks like a server list.
ConfigRead readConfig(const Source& source);
// As readConfig, for bytes already read (`meta` is carried along).
ConfigRead parseConfig(const Source& source, std::string text, const FileMeta& meta);

// One server entry of a file: where it is, and its JSON value (not necessarily an object).
struct ServerRef {
  std::string name;
  std::string scope;    // "user", "local", "project" or "workspace"
  std::string project;  // the project's path (Claude Code's local scope), else empty
  const JsonNode* node; // points into the ConfigFile's tree
};

struct ServerList {
  std::vector<ServerRef> servers;
  // Parts of the file that should hold servers but are not objects ("mcpServers is an array"):
  // warnings naming the file; the rest is still listed.
  std::vector<std::string> problems;
};

// Every server entry of `file`, in file order (for ~/.claude.json: user scope, then each
// project's local scope in the order of "projects").
ServerList listServers(const ConfigFile& file);

} // namespace sidecar::clients
