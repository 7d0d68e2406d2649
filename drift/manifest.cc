#include "drift/manifest.h"

#include <cctype>
#include <set>
#include <vector>

namespace sidecar::drift {
namespace {

std::string manifestHashOf(const std::map<std::string, ToolDefinition>& tools) {
  // The map iterates in byte order of the names, which is the canonical member order, so the
  // object can be written directly.
  std::string object = "{";
  bool first = true;
  for (const auto& [name, tool] : tools) {
    if (!first)
      object += ',';
    first = false;
    appendJsonString(name, object);
    object += ':';
    appendJsonString(tool.hash, object);
  }
  object += '}';
  return "sha256:" + sha256Hex(object);
}

// The `result` object of a tools/list answer given as a whole response or as the result alone.
Result<const JsonValue*> resultOf(const JsonValue& doc) {
  if (!doc.isObject())
    return Status::error("a tools/list answer must be a JSON object");
  if (const JsonValue* error = doc.find("error")) {
    std::string what = "the tools/list answer is an error";
    if (const JsonValue* message = error->find("message"); message && message->isString())
      what += ": " + jsonString(message->text);
    return Status::error(what);
  }
  const JsonValue* result = doc.find("result");
  if (!result)
    result = &doc;
  if (!result->isObject())
    return Status::error("the tools/list result must be a JSON object");
  return result;
}

} // namespace

const std::string* ToolDefinition::field(std::string_view member) const {
  auto it = fields.find(std::string(member));
  return it == fields.end() ? nullptr : &it->second;
}

Result<ToolDefinition> makeToolDefinition(const JsonValue& tool) {
  if (!tool.isObject())
    return Status::error("a tool must be a JSON object");
  const JsonValue* name = tool.find("name");
  if (!name || !name->isString())
    return Status::error("a tool has no string \"name\"");
  ToolDefinition def;
  def.name = name->text;
  def.form = "{";
  for (std::string_view field : kHashedFields) { // already in canonical order
    const JsonValue* value = tool.find(field);
    if (!value)
      continue;
    std::string text = canonical(*value);
    if (def.form.size() > 1)
      def.form += ',';
    appendJsonString(field, def.form);
    def.form += ':';
    def.form += text;
    def.fields.emplace(std::string(field), std::move(text));
  }
  def.form += '}';
  def.hash = sha256Hex(def.form);
  return def;
}

Status ToolManifest::addPage(std::string_view json) {
  Result<JsonValue> doc = parseJson(json);
  if (!doc.ok())
    return Status::error("the tools/list answer is not valid JSON: " + doc.error());
  Result<const JsonValue*> result = resultOf(*doc);
  if (!result.ok())
    return result.status();
  const JsonValue* tools = (*result)->find("tools");
  if (!tools || !tools->isArray())
    return Status::error("the tools/list result has no \"tools\" array");
  std::optional<std::string> cursor;
  if (const JsonValue* next = (*result)->find("nextCursor")) {
    if (next->isString())
      cursor = next->text;
    else if (next->type != JsonValue::Type::Null)
      return Status::error("the tools/list result's \"nextCursor\" is not a string");
  }

  // Everything is checked before anything is merged, so a bad page changes nothing.
  std::vector<ToolDefinition> page;
  page.reserve(tools->items.size());
  std::set<std::string_view> names;
  for (size_t i = 0; i < tools->items.size(); ++i) {
    Result<ToolDefinition> def = makeToolDefinition(tools->items[i]);
    if (!def.ok())
      return Status::error("tools[" + std::to_string(i) + "]: " + def.error());
    if (!names.insert(tools->items[i].find("name")->text).second)
      return Status::error("the tool name " + jsonString(def->name) +
                           " appears twice in tools/list");
    if (tools_.count(def->name))
      return Status::error("the tool name " + jsonString(def->name) +
                           " appears twice in tools/list (on an earlier page too)");
    page.push_back(std::move(*def));
  }
  for (ToolDefinition& def : page) {
    std::string name = def.name;
    tools_.emplace(std::move(name), std::move(def));
  }
  nextCursor_ = std::move(cursor);
  rehash();
  return Status();
}

Status ToolManifest::addTool(std::string_view json) {
  Result<JsonValue> doc = parseJson(json);
  if (!doc.ok())
    return Status::error("the tool is not valid JSON: " + doc.error());
  Result<ToolDefinition> def = makeToolDefinition(*doc);
  if (!def.ok())
    return def.status();
  return addDefinition(std::move(*def));
}

Status ToolManifest::addDefinition(ToolDefinition definition) {
  if (tools_.count(definition.name))
    return Status::error("the tool name " + jsonString(definition.name) + " appears twice");
  std::string name = definition.name;
  tools_.emplace(std::move(name), std::move(definition));
  rehash();
  return Status();
}

const ToolDefinition* ToolManifest::find(std::string_view name) const {
  auto it = tools_.find(std::string(name));
  return it == tools_.end() ? nullptr : &it->second;
}

void ToolManifest::rehash() {
  hash_ = manifestHashOf(tools_);
}

std::string ToolManifest::emptyHash() {
  return manifestHashOf({});
}

Result<std::string> parseManifestHash(std::string_view text) {
  std::string_view hex = text;
  if (hex.substr(0, 7) == "sha256:")
    hex.remove_prefix(7);
  bool ok = hex.size() == 64;
  std::string out = "sha256:";
  for (size_t i = 0; ok && i < hex.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(hex[i]);
    ok = std::isxdigit(c) != 0;
    out += static_cast<char>(std::tolower(c));
  }
  if (!ok)
    return Status::error("a tool-manifest hash is \"sha256:\" followed by 64 hex digits, as "
                         "docs/drift.md computes it; got " +
                         jsonString(text));
  return out;
}

} // namespace sidecar::drift
