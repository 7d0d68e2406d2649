#include "clients/config_file.h"

namespace sidecar::clients {

namespace {

std::string_view kindName(JsonNode::Kind k) {
  switch (k) {
  case JsonNode::Kind::Null:
    return "null";
  case JsonNode::Kind::Bool:
    return "a boolean";
  case JsonNode::Kind::Number:
    return "a number";
  case JsonNode::Kind::String:
    return "a string";
  case JsonNode::Kind::Object:
    return "an object";
  case JsonNode::Kind::Array:
    return "an array";
  }
  return "a value";
}

std::string clientReads(const Source& s) {
  if (s.client == Client::Other)
    return "the client that uses it cannot read it either";
  return std::string(clientTitle(s.client)) + " cannot read it either";
}

// Adds the members of the server list `list` (the value at `where` in the file) to `out`.
void addList(const ConfigFile& file, const JsonNode* list, std::string_view where,
             const std::string& scope, const std::string& project, ServerList& out) {
  if (!list || list->kind == JsonNode::Kind::Null)
    return;
  if (!list->isObject()) {
    out.problems.push_back(file.source.path + ": " + std::string(where) + " is " +
                           std::string(kindName(list->kind)) +
                           ", not an object of servers; ignored (fix it, or remove it)");
    return;
  }
  for (const JsonNode::Member& m : list->members)
    out.servers.push_back(ServerRef{m.key, scope, project, &m.value});
}

} // namespace

ConfigRead readConfig(const Source& source) {
  FileRead f = readWholeFile(source.path);
  ConfigRead r;
  if (f.status == FileRead::Status::Missing) {
    r.status = ConfigRead::Status::Missing;
    return r;
  }
  if (f.status == FileRead::Status::Failed) {
    r.error = f.error;
    return r;
  }
  return parseConfig(source, std::move(f.bytes), f.meta);
}

ConfigRead parseConfig(const Source& source, std::string text, const FileMeta& meta) {
  ConfigRead r;
  JsonParse parsed = parseJsonTree(text, source.jsonc);
  if (!parsed.ok) {
    LineColumn lc = lineColumnAt(text, parsed.errorOffset);
    r.error = source.path + ":" + std::to_string(lc.line) + ":" + std::to_string(lc.column) +
              ": invalid JSON: " + parsed.error;
    if (!source.jsonc && parseJsonTree(text, true).ok)
      r.error += " (comments and trailing commas are not JSON, and " +
                 std::string(clientTitle(source.client)) + " does not accept them: remove them)";
    else
      r.error += " (fix the file: " + clientReads(source) + ")";
    return r;
  }
  if (!parsed.root.isObject()) {
    r.error = source.path + ": the top level is " + std::string(kindName(parsed.root.kind)) +
              ", not a JSON object holding the server list (is it an MCP client's "
              "configuration?)";
    return r;
  }
  ConfigFile& file = r.file;
  file.source = source;
  file.text = std::move(text);
  file.meta = meta;
  file.root = std::move(parsed.root);
  if (source.layout == Layout::Auto) {
    const JsonNode& root = file.root;
    const JsonNode* mcp = root.find("mcp");
    if (root.find("projects") && root.find("projects")->isObject())
      file.source.layout = Layout::ClaudeCodeState;
    else if (root.find("mcpServers"))
      file.source.layout = Layout::McpServers;
    else if (root.find("servers"))
      file.source.layout = Layout::VsCodeServers;
    else if (mcp && mcp->find("servers"))
      file.source.layout = Layout::VsCodeSettings;
    else {
      r.error = source.path +
                ": no MCP server list in it: expected a top-level \"mcpServers\" object (Claude "
                "Desktop, Claude Code, Cursor, Windsurf) or \"servers\" (VS Code); pass "
                "--client to say whose file it is";
      return r;
    }
  }
  r.status = ConfigRead::Status::Ok;
  return r;
}

ServerList listServers(const ConfigFile& file) {
  ServerList out;
  const JsonNode& root = file.root;
  const std::string& scope = file.source.scope;
  switch (file.source.layout) {
  case Layout::McpServers:
  case Layout::Auto:
    addList(file, root.find("mcpServers"), "\"mcpServers\"", scope, "", out);
    break;
  case Layout::VsCodeServers:
    addList(file, root.find("servers"), "\"servers\"", scope, "", out);
    break;
  case Layout::VsCodeSettings:
    if (const JsonNode* mcp = root.find("mcp"); mcp && mcp->isObject())
      addList(file, mcp->find("servers"), "\"mcp\".\"servers\"", scope, "", out);
    break;
  case Layout::ClaudeCodeState:
    addList(file, root.find("mcpServers"), "\"mcpServers\"", "user", "", out);
    if (const JsonNode* projects = root.find("projects"); projects && projects->isObject()) {
      for (const JsonNode::Member& p : projects->members) {
        if (!p.value.isObject())
          continue; // Claude Code's own bookkeeping; not ours to judge
        addList(file, p.value.find("mcpServers"), "\"projects\".\"" + p.key + "\".\"mcpServers\"",
                "local", p.key, out);
      }
    }
    break;
  }
  return out;
}

} // namespace sidecar::clients
