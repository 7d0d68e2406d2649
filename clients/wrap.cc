#include "clients/wrap.h"

#include <algorithm>
#include <iterator>

namespace sidecar::clients {

namespace {

struct Edit {
  size_t begin;
  size_t end;
  std::string text;
};

std::string applyEdits(const std::string& text, std::vector<Edit> edits) {
  std::sort(edits.begin(), edits.end(),
            [](const Edit& a, const Edit& b) { return a.begin < b.begin; });
  std::string out;
  out.reserve(text.size() + 256);
  size_t at = 0;
  for (const Edit& e : edits) {
    out.append(text, at, e.begin - at);
    out += e.text;
    at = e.end;
  }
  out.append(text, at, std::string::npos);
  return out;
}

size_t lineStart(const std::string& text, size_t pos) {
  size_t nl = pos == 0 ? std::string::npos : text.rfind('\n', pos - 1);
  return nl == std::string::npos ? 0 : nl + 1;
}

// The spaces and tabs that start the line holding `pos`.
std::string lineIndent(const std::string& text, size_t pos) {
  size_t start = lineStart(text, pos);
  size_t end = start;
  while (end < text.size() && (text[end] == ' ' || text[end] == '\t'))
    ++end;
  return text.substr(start, end - start);
}

// Whether only spaces and tabs precede `pos` on its line.
bool firstOnLine(const std::string& text, size_t pos) {
  for (size_t i = lineStart(text, pos); i < pos; ++i)
    if (text[i] != ' ' && text[i] != '\t')
      return false;
  return true;
}

// One level of the file's indentation: the leading whitespace of its first indented line (in a
// pretty-printed file, a member of the top-level object); two spaces when nothing is indented.
std::string indentUnit(const std::string& text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos)
      end = text.size();
    size_t ws = pos;
    while (ws < end && (text[ws] == ' ' || text[ws] == '\t'))
      ++ws;
    if (ws > pos && ws < end && text[ws] != '\r')
      return text[pos] == '\t' ? "\t" : std::string(std::min<size_t>(ws - pos, 8), ' ');
    pos = end + 1;
  }
  return "  ";
}

struct ArrayStyle {
  bool multiline = false;
  std::string elemIndent;   // multiline: before each element
  std::string closeIndent;  // multiline: before the closing bracket
  bool closeOwnLine = true; // multiline: the bracket on a line of its own
  std::string sep = ", ";   // one line: between elements
  bool pad = false;         // one line: a space inside the brackets
  std::string newline = "\n";
};

ArrayStyle styleOf(const std::string& text, const JsonNode& arr, const std::string& unit,
                   const std::string& defaultSep) {
  ArrayStyle s;
  s.sep = defaultSep;
  const std::string_view span(text.data() + arr.begin, arr.end - arr.begin);
  const size_t close = arr.end - 1;
  if (span.find('\n') != std::string_view::npos) {
    s.multiline = true;
    if (!arr.elements.empty() && firstOnLine(text, arr.elements.front().begin))
      s.elemIndent = lineIndent(text, arr.elements.front().begin);
    else
      s.elemIndent = lineIndent(text, close) + unit;
    s.closeOwnLine = firstOnLine(text, close);
    s.closeIndent = lineIndent(text, close);
    return s;
  }
  if (arr.elements.size() >= 2) {
    std::string between =
        text.substr(arr.elements[0].end, arr.elements[1].begin - arr.elements[0].end);
    if (between.find_first_not_of(", \t") == std::string::npos && between.find(',') == 0)
      s.sep = between;
  }
  s.pad = !arr.elements.empty() && arr.begin + 1 < text.size() && text[arr.begin + 1] == ' ';
  return s;
}

std::string renderArray(const std::vector<std::string>& items, const ArrayStyle& s) {
  if (items.empty())
    return "[]";
  std::string out = "[";
  if (s.multiline) {
    for (size_t i = 0; i < items.size(); ++i) {
      out += s.newline + s.elemIndent + jsonQuote(items[i]);
      if (i + 1 < items.size())
        out += ",";
    }
    if (s.closeOwnLine)
      out += s.newline + s.closeIndent;
  } else {
    if (s.pad)
      out += " ";
    for (size_t i = 0; i < items.size(); ++i) {
      if (i)
        out += s.sep;
      out += jsonQuote(items[i]);
    }
    if (s.pad)
      out += " ";
  }
  return out + "]";
}

bool selected(const std::vector<std::string>& names, const std::string& name) {
  return names.empty() || std::find(names.begin(), names.end(), name) != names.end();
}

std::string_view baseName(std::string_view path) {
  size_t slash = path.find_last_of("/\\");
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// What a server entry is, for wrapping: a stdio server with its command and args, or the reason
// it is something else.
struct Stdio {
  ServerChange::Kind kind = ServerChange::Kind::Skipped; // Wrapped: a usable stdio server
  std::string note;
  const JsonNode::Member* command = nullptr;
  const JsonNode::Member* args = nullptr; // nullptr: none
  std::vector<std::string> argv;          // the args' strings
};

Stdio classify(const JsonNode& n) {
  Stdio s;
  if (!n.isObject()) {
    s.note = "not a JSON object";
    return s;
  }
  const JsonNode* type = n.find("type");
  const std::string typeName = type && type->isString() ? type->text : "";
  const bool hasUrl = n.find("url") || n.find("serverUrl");
  s.command = n.findMember("command");
  if (!typeName.empty() && typeName != "stdio") {
    static const char* const kRemote[] = {"http",           "sse", "streamable-http",
                                          "streamableHttp", "ws",  "websocket"};
    if (hasUrl || std::find(std::begin(kRemote), std::end(kRemote), typeName) != std::end(kRemote))
      s.kind = ServerChange::Kind::Remote;
    else
      s.note = "its \"type\" is \"" + typeName + "\", which mcp-sidecar does not know";
    return s;
  }
  if (hasUrl && !s.command) {
    s.kind = ServerChange::Kind::Remote;
    return s;
  }
  if (!s.command) {
    s.note = "it has neither \"command\" nor \"url\"";
    return s;
  }
  if (hasUrl) {
    s.note = "it has both \"command\" and a URL; say which with \"type\"";
    return s;
  }
  if (!s.command->value.isString() || s.command->value.text.empty()) {
    s.note = "its \"command\" is not a non-empty string";
    return s;
  }
  s.args = n.findMember("args");
  if (s.args && s.args->value.kind != JsonNode::Kind::Null) {
    if (!s.args->value.isArray()) {
      s.note = "its \"args\" is not an array";
      return s;
    }
    for (const JsonNode& e : s.args->value.elements) {
      if (!e.isString()) {
        s.note =
            "its \"args\" holds a " +
            std::string(e.kind == JsonNode::Kind::Number ? "number" : "value that is not a string");
        return s;
      }
      s.argv.push_back(e.text);
    }
  }
  s.kind = ServerChange::Kind::Wrapped;
  return s;
}

// The layout details a rewrite copies from the file.
struct FileStyle {
  std::string unit;           // one level of indentation
  std::string sep = ", ";     // between array elements on one line
  bool multilineArgs = false; // the file's "args" arrays put one element per line
  std::string newline = "\n"; // "\r\n" in a file written on Windows
};

FileStyle fileStyle(const ConfigFile& file, const ServerList& list) {
  FileStyle fs;
  fs.unit = indentUnit(file.text);
  if (file.text.find("\r\n") != std::string::npos)
    fs.newline = "\r\n";
  for (const ServerRef& ref : list.servers) {
    const JsonNode::Member* cmd = ref.node->findMember("command");
    if (cmd && file.text.compare(cmd->keyEnd, cmd->value.begin - cmd->keyEnd, ":") == 0)
      fs.sep = std::string(1, ','); // a compact file: `"command":"npx"`
    const JsonNode* args = ref.node->find("args");
    if (args && args->isArray() && !args->elements.empty()) {
      fs.multilineArgs = file.text.find('\n', args->begin) < args->end;
      break;
    }
  }
  return fs;
}

// The edits that make `s.command` run `command` with `args`.
void rewriteCommand(const ConfigFile& file, const FileStyle& fs, const Stdio& s,
                    const std::string& command, const std::vector<std::string>& args,
                    std::vector<Edit>& edits) {
  const std::string& text = file.text;
  const JsonNode::Member& cmd = *s.command;
  edits.push_back({cmd.value.begin, cmd.value.end, jsonQuote(command)});
  if (s.args) {
    ArrayStyle style;
    style.sep = fs.sep;
    if (s.args->value.isArray())
      style = styleOf(text, s.args->value, fs.unit, fs.sep);
    style.newline = fs.newline;
    edits.push_back({s.args->value.begin, s.args->value.end, renderArray(args, style)});
    return;
  }
  // No "args": add one after "command", laid out as "command" is.
  std::string colon = text.substr(cmd.keyEnd, cmd.value.begin - cmd.keyEnd);
  if (colon.find_first_not_of(" \t:") != std::string::npos)
    colon = ": ";
  const bool ownLine = firstOnLine(text, cmd.keyBegin);
  ArrayStyle style;
  style.sep = fs.sep;
  style.newline = fs.newline;
  if (ownLine && fs.multilineArgs) {
    style.multiline = true;
    style.elemIndent = lineIndent(text, cmd.keyBegin) + fs.unit;
    style.closeIndent = lineIndent(text, cmd.keyBegin);
  }
  std::string insert = ",";
  if (ownLine)
    insert += fs.newline + lineIndent(text, cmd.keyBegin);
  else if (fs.sep != ",")
    insert += " ";
  insert += "\"args\"" + colon + renderArray(args, style);
  edits.push_back({cmd.value.end, cmd.value.end, std::move(insert)});
}

} // namespace

bool isSidecarCommand(std::string_view command, std::string_view sidecar) {
  std::string_view base = baseName(command);
  return base == "mcp-sidecar" || base == "mcp-sidecar.exe" ||
         (!sidecar.empty() && command == sidecar);
}

std::optional<WrappedCommand> parseWrapped(std::string_view command,
                                           const std::vector<std::string>& args,
                                           std::string_view sidecar) {
  if (!isSidecarCommand(command, sidecar) || args.empty() || args[0] != "stdio")
    return std::nullopt;
  auto dashes = std::find(args.begin() + 1, args.end(), "--");
  if (dashes == args.end() || dashes + 1 == args.end())
    return std::nullopt;
  WrappedCommand w;
  w.sidecar.assign(command);
  w.options.assign(args.begin() + 1, dashes);
  w.command = *(dashes + 1);
  w.args.assign(dashes + 2, args.end());
  return w;
}

std::vector<std::string> wrappedArgs(const std::string& command,
                                     const std::vector<std::string>& args) {
  std::vector<std::string> out = {"stdio", "--", command};
  out.insert(out.end(), args.begin(), args.end());
  return out;
}

size_t Plan::count(ServerChange::Kind k) const {
  return static_cast<size_t>(std::count_if(servers.begin(), servers.end(),
                                           [k](const ServerChange& c) { return c.kind == k; }));
}

Plan planWrap(const ConfigFile& file, const WrapOptions& o) {
  Plan plan;
  ServerList list = listServers(file);
  plan.warnings = list.problems;
  const FileStyle fs = fileStyle(file, list);
  std::vector<Edit> edits;
  for (const ServerRef& ref : list.servers) {
    ServerChange c{ref.name, ref.scope, ref.project, ServerChange::Kind::NotSelected, {}};
    if (selected(o.servers, ref.name)) {
      Stdio s = classify(*ref.node);
      c.kind = s.kind;
      c.note = s.note;
      if (s.kind == ServerChange::Kind::Wrapped &&
          isSidecarCommand(s.command->value.text, o.sidecarPath)) {
        c.kind = ServerChange::Kind::AlreadyWrapped;
        if (s.command->value.text != o.sidecarPath)
          c.note = "through " + s.command->value.text;
      } else if (s.kind == ServerChange::Kind::Wrapped) {
        rewriteCommand(file, fs, s, o.sidecarPath, wrappedArgs(s.command->value.text, s.argv),
                       edits);
      }
    }
    plan.servers.push_back(std::move(c));
  }
  plan.text = applyEdits(file.text, std::move(edits));
  plan.changed = plan.text != file.text;
  return plan;
}

Plan planUnwrap(const ConfigFile& file, const WrapOptions& o) {
  Plan plan;
  ServerList list = listServers(file);
  plan.warnings = list.problems;
  const FileStyle fs = fileStyle(file, list);
  std::vector<Edit> edits;
  for (const ServerRef& ref : list.servers) {
    ServerChange c{ref.name, ref.scope, ref.project, ServerChange::Kind::NotSelected, {}};
    if (selected(o.servers, ref.name)) {
      Stdio s = classify(*ref.node);
      c.kind = s.kind;
      c.note = s.note;
      if (s.kind == ServerChange::Kind::Wrapped) {
        std::optional<WrappedCommand> w =
            parseWrapped(s.command->value.text, s.argv, o.sidecarPath);
        if (w) {
          c.kind = ServerChange::Kind::Unwrapped;
          rewriteCommand(file, fs, s, w->command, w->args, edits);
        } else {
          c.kind = ServerChange::Kind::NotWrapped;
        }
      }
    }
    plan.servers.push_back(std::move(c));
  }
  plan.text = applyEdits(file.text, std::move(edits));
  plan.changed = plan.text != file.text;
  return plan;
}

} // namespace sidecar::clients
