#include "clients/detect.h"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <cctype>
#include <filesystem>
#include <set>

#include "clients/wrap.h"

namespace sidecar::clients {

namespace {

std::vector<std::pair<std::string, std::string>> stringMap(const JsonNode* n, const char* what,
                                                           const std::string& where,
                                                           std::vector<std::string>& warnings) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!n || n->kind == JsonNode::Kind::Null)
    return out;
  if (!n->isObject()) {
    warnings.push_back(where + ": \"" + what + "\" is not an object; ignored");
    return out;
  }
  for (const JsonNode::Member& m : n->members) {
    if (m.value.isObject() || m.value.isArray()) {
      warnings.push_back(where + ": \"" + what + "\".\"" + m.key + "\" is not a string; ignored");
      continue;
    }
    out.emplace_back(m.key, m.value.text);
  }
  return out;
}

std::optional<std::string> stringMember(const JsonNode& n, std::string_view key) {
  const JsonNode* v = n.find(key);
  if (v && v->isString())
    return v->text;
  return std::nullopt;
}

// "Claude Code (local scope, project /src/app)": scopes only for clients that have several.
std::string groupTitle(const ServerEntry& e) {
  std::string title(clientTitle(e.client));
  if (e.client == Client::ClaudeCode || e.client == Client::Cursor || e.client == Client::VsCode) {
    title += " (" + e.scope + " scope";
    if (!e.project.empty())
      title += ", project " + e.project;
    title += ")";
  }
  return title;
}

std::string plural(size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

void writeString(rapidjson::PrettyWriter<rapidjson::StringBuffer>& w, const std::string& s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void writeOptional(rapidjson::PrettyWriter<rapidjson::StringBuffer>& w,
                   const std::optional<std::string>& s) {
  if (s)
    writeString(w, *s);
  else
    w.Null();
}

void writeMap(rapidjson::PrettyWriter<rapidjson::StringBuffer>& w,
              const std::vector<std::pair<std::string, std::string>>& map, bool show) {
  w.StartObject();
  for (const auto& [k, v] : map) {
    writeString(w, k);
    writeString(w, show ? v : redact(v));
  }
  w.EndObject();
}

} // namespace

std::vector<ServerEntry> serverEntries(const ConfigFile& file, std::vector<std::string>& warnings) {
  std::vector<ServerEntry> out;
  ServerList list = listServers(file);
  warnings.insert(warnings.end(), list.problems.begin(), list.problems.end());
  for (const ServerRef& ref : list.servers) {
    const std::string where = file.source.path + ": server \"" + ref.name + "\"";
    const JsonNode& n = *ref.node;
    if (!n.isObject()) {
      warnings.push_back(where + " is not a JSON object; skipped");
      continue;
    }
    ServerEntry e;
    e.name = ref.name;
    e.client = file.source.client;
    e.source = file.source.path;
    e.scope = ref.scope;
    e.project = ref.project;
    e.url = stringMember(n, "url");
    if (!e.url)
      e.url = stringMember(n, "serverUrl"); // Windsurf
    const JsonNode* command = n.find("command");
    if (command && !command->isString()) {
      warnings.push_back(where + ": \"command\" is not a string; skipped");
      continue;
    }
    if (command)
      e.command = command->text;
    if (!e.command && !e.url) {
      warnings.push_back(where + " has neither \"command\" nor \"url\"; skipped");
      continue;
    }
    if (const JsonNode* type = n.find("type"); type && type->isString())
      e.transport = type->text;
    else
      e.transport = e.command ? "stdio" : "remote";
    if (const JsonNode* args = n.find("args"); args && args->isArray()) {
      for (const JsonNode& a : args->elements) {
        if (a.isObject() || a.isArray()) {
          warnings.push_back(where + ": an element of \"args\" is not a string; left out");
          continue;
        }
        e.args.push_back(a.text);
      }
    } else if (args && args->kind != JsonNode::Kind::Null) {
      warnings.push_back(where + ": \"args\" is not an array; ignored");
    }
    e.env = stringMap(n.find("env"), "env", where, warnings);
    e.headers = stringMap(n.find("headers"), "headers", where, warnings);
    e.cwd = stringMember(n, "cwd");
    if (const JsonNode* d = n.find("disabled"); d && d->text == "true")
      e.disabled = true;
    e.wrapped = e.command && parseWrapped(*e.command, e.args).has_value();
    out.push_back(std::move(e));
  }
  return out;
}

DetectResult detect(const std::vector<Source>& sources, bool required) {
  DetectResult r;
  std::set<std::string> seen;
  for (const Source& source : sources) {
    std::error_code ec;
    std::string real = std::filesystem::weakly_canonical(source.path, ec).string();
    if (ec)
      real = source.path;
    if (!seen.insert(real).second)
      continue;
    ConfigRead read = readConfig(source);
    if (read.status == ConfigRead::Status::Missing) {
      if (required)
        r.errors.push_back("cannot read " + source.path +
                           ": no such file (check the path given to --config)");
      else
        r.missing.push_back(source.path);
      continue;
    }
    if (read.status == ConfigRead::Status::Failed) {
      r.errors.push_back(read.error);
      continue;
    }
    r.filesRead.push_back(source.path);
    std::vector<ServerEntry> entries = serverEntries(read.file, r.warnings);
    r.servers.insert(r.servers.end(), std::make_move_iterator(entries.begin()),
                     std::make_move_iterator(entries.end()));
  }
  return r;
}

std::string redact(const std::string& value) {
  if (value.empty())
    return value;
  // One placeholder and nothing else: a reference to a secret, not the secret.
  if (value.size() > 3 && value.compare(0, 2, "${") == 0 && value.back() == '}' &&
      value.find('}') == value.size() - 1)
    return value;
  return "***";
}

std::string shellQuote(const std::string& s) {
  if (s.empty())
    return "''";
  bool safe = true;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) ||
          std::string_view("@%+=:,./-_").find(c) != std::string_view::npos)) {
      safe = false;
      break;
    }
  }
  if (safe)
    return s;
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

std::string renderText(const DetectResult& r, const RenderOptions& o) {
  std::string out;
  if (r.servers.empty()) {
    out += r.errors.empty() ? "No MCP servers found.\n"
                            : "No MCP servers found in the files that could be read.\n";
    if (!r.filesRead.empty()) {
      out += "Read, without servers in them:\n";
      for (const std::string& f : r.filesRead)
        out += "  " + f + "\n";
    }
    if (!r.missing.empty()) {
      out += "Not there:\n";
      for (const std::string& f : r.missing)
        out += "  " + f + "\n";
    }
    return out;
  }
  std::set<std::string> files;
  size_t remote = 0;
  for (const ServerEntry& e : r.servers) {
    files.insert(e.source);
    remote += e.command ? 0 : 1;
  }
  out += "Found " + plural(r.servers.size(), "MCP server", "MCP servers");
  if (remote)
    out += " (" + std::to_string(r.servers.size() - remote) + " stdio, " + std::to_string(remote) +
           " remote)";
  out += " in " + plural(files.size(), "file", "files") + ":\n";
  std::string group;
  for (const ServerEntry& e : r.servers) {
    std::string g = groupTitle(e) + ": " + e.source;
    if (g != group) {
      out += "\n" + g + "\n";
      group = g;
    }
    out += "  - " + e.name + ": ";
    if (e.command) {
      out += shellQuote(*e.command);
      for (const std::string& a : e.args) {
        out += ' ';
        out += shellQuote(a);
      }
    } else {
      out += *e.url + " (" + e.transport + ")";
    }
    if (e.disabled)
      out += "  [disabled]";
    if (e.wrapped)
      out += "  [wrapped]";
    out += "\n";
    auto pairs = [&](const char* label, const std::vector<std::pair<std::string, std::string>>& m) {
      if (m.empty())
        return;
      out += std::string("      ") + label + ":";
      for (const auto& [k, v] : m)
        out += " " + k + "=" + (o.showEnv || redact(v) == v ? shellQuote(v) : redact(v));
      out += "\n";
    };
    pairs("env", e.env);
    pairs("headers", e.headers);
    if (e.cwd)
      out += "      cwd: " + *e.cwd + "\n";
  }
  return out;
}

std::string renderJson(const DetectResult& r, const RenderOptions& o) {
  rapidjson::StringBuffer buf;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
  w.SetIndent(' ', 2);
  w.StartArray();
  for (const ServerEntry& e : r.servers) {
    w.StartObject();
    w.Key("name");
    writeString(w, e.name);
    w.Key("client");
    writeString(w, std::string(clientName(e.client)));
    w.Key("source");
    writeString(w, e.source);
    w.Key("scope");
    writeString(w, e.scope);
    w.Key("project");
    writeOptional(w, e.project.empty() ? std::nullopt : std::optional<std::string>(e.project));
    w.Key("transport");
    writeString(w, e.transport);
    w.Key("command");
    writeOptional(w, e.command);
    w.Key("args");
    w.StartArray();
    for (const std::string& a : e.args)
      writeString(w, a);
    w.EndArray();
    w.Key("env");
    writeMap(w, e.env, o.showEnv);
    w.Key("url");
    writeOptional(w, e.url);
    w.Key("headers");
    writeMap(w, e.headers, o.showEnv);
    w.Key("cwd");
    writeOptional(w, e.cwd);
    w.Key("disabled");
    w.Bool(e.disabled);
    w.Key("wrapped");
    w.Bool(e.wrapped);
    w.EndObject();
  }
  w.EndArray();
  return std::string(buf.GetString(), buf.GetSize()) + "\n";
}

} // namespace sidecar::clients
