#include "drift/manifest.h"

#include <cctype>
#include <set>
#include <vector>

namespace sidecar::drift {
namespace {

std::string manifestHashOf(const std::map<std::string, Definition>& items) {
  // The map iterates in byte order of the keys, which is the canonical member order, so the
  // object can be written directly.
  std::string object;
  object += '{';
  bool first = true;
  for (const auto& [key, item] : items) {
    if (!first)
      object += ',';
    first = false;
    appendJsonString(key, object);
    object += ':';
    appendJsonString(item.hash, object);
  }
  object += '}';
  return "sha256:" + sha256Hex(object);
}

// The `result` object of a list answer given as a whole response or as the result alone.
Result<const JsonValue*> resultOf(const ListKind& kind, const JsonValue& doc) {
  std::string method(kind.method);
  if (!doc.isObject())
    return Status::error("a " + method + " answer must be a JSON object");
  if (const JsonValue* error = doc.find("error")) {
    std::string what = "the " + method + " answer is an error";
    if (const JsonValue* message = error->find("message"); message && message->isString())
      what += ": " + jsonString(message->text);
    return Status::error(what);
  }
  const JsonValue* result = doc.find("result");
  if (!result)
    result = &doc;
  if (!result->isObject())
    return Status::error("the " + method + " result must be a JSON object");
  return result;
}

// `the tool name "x"`: how messages name an item.
std::string itemName(const ListKind& kind, std::string_view key) {
  return "the " + std::string(kind.noun) + " " + std::string(kind.key) + " " + jsonString(key);
}

} // namespace

const std::string* Definition::field(std::string_view member) const {
  auto it = fields.find(std::string(member));
  return it == fields.end() ? nullptr : &it->second;
}

Result<Definition> makeDefinition(const ListKind& kind, const JsonValue& item) {
  std::string noun(kind.noun);
  if (!item.isObject())
    return Status::error("a " + noun + " must be a JSON object");
  const JsonValue* key = item.find(kind.key);
  if (!key || !key->isString())
    return Status::error("a " + noun + " has no string \"" + std::string(kind.key) + "\"");
  Definition def;
  def.name = key->text;
  std::string form;
  form += '{';
  for (std::string_view field : kind.hashedFields) { // already in canonical order
    const JsonValue* value = item.find(field);
    if (!value)
      continue;
    std::string text = canonical(*value);
    if (form.size() > 1)
      form += ',';
    appendJsonString(field, form);
    form += ':';
    form += text;
    def.fields.emplace(std::string(field), std::move(text));
  }
  form += '}';
  def.hash = sha256Hex(form);
  def.form = std::move(form);
  return def;
}

Result<ToolDefinition> makeToolDefinition(const JsonValue& tool) {
  return makeDefinition(kToolList, tool);
}

DefinitionManifest::DefinitionManifest(const ListKind& kind)
    : kind_(&kind), hash_(manifestHashOf({})) {}

Status DefinitionManifest::addPage(std::string_view json) {
  const ListKind& kind = *kind_;
  std::string method(kind.method);
  std::string member(kind.member);
  Result<JsonValue> doc = parseJson(json);
  if (!doc.ok())
    return Status::error("the " + method + " answer is not valid JSON: " + doc.error());
  Result<const JsonValue*> result = resultOf(kind, *doc);
  if (!result.ok())
    return result.status();
  const JsonValue* list = (*result)->find(member);
  if (!list || !list->isArray())
    return Status::error("the " + method + " result has no \"" + member + "\" array");
  std::optional<std::string> cursor;
  if (const JsonValue* next = (*result)->find("nextCursor")) {
    if (next->isString())
      cursor = next->text;
    else if (next->type != JsonValue::Type::Null)
      return Status::error("the " + method + " result's \"nextCursor\" is not a string");
  }

  // Everything is checked before anything is merged, so a bad page changes nothing.
  std::vector<Definition> page;
  page.reserve(list->items.size());
  std::set<std::string_view> keys;
  for (size_t i = 0; i < list->items.size(); ++i) {
    Result<Definition> def = makeDefinition(kind, list->items[i]);
    if (!def.ok())
      return Status::error(member + "[" + std::to_string(i) + "]: " + def.error());
    if (!keys.insert(list->items[i].find(kind.key)->text).second)
      return Status::error(itemName(kind, def->name) + " appears twice in " + method);
    if (items_.count(def->name))
      return Status::error(itemName(kind, def->name) + " appears twice in " + method +
                           " (on an earlier page too)");
    page.push_back(std::move(*def));
  }
  for (Definition& def : page) {
    std::string key = def.name;
    items_.emplace(std::move(key), std::move(def));
  }
  nextCursor_ = std::move(cursor);
  rehash();
  return Status();
}

Status DefinitionManifest::addItem(std::string_view json) {
  Result<JsonValue> doc = parseJson(json);
  if (!doc.ok())
    return Status::error("the " + std::string(kind_->noun) + " is not valid JSON: " + doc.error());
  Result<Definition> def = makeDefinition(*kind_, *doc);
  if (!def.ok())
    return def.status();
  return addDefinition(std::move(*def));
}

Status DefinitionManifest::addDefinition(Definition definition) {
  if (items_.count(definition.name))
    return Status::error(itemName(*kind_, definition.name) + " appears twice");
  std::string key = definition.name;
  items_.emplace(std::move(key), std::move(definition));
  rehash();
  return Status();
}

const Definition* DefinitionManifest::find(std::string_view key) const {
  auto it = items_.find(std::string(key));
  return it == items_.end() ? nullptr : &it->second;
}

void DefinitionManifest::rehash() {
  hash_ = manifestHashOf(items_);
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
