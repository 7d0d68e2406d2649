#include "drift/report.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "drift/aim_manifest.h"

namespace sidecar::drift {
namespace {

// Bytes of server text quoted in a summary: enough to see an injected instruction, short enough
// for a log line.
constexpr size_t kTextPrefix = 200;
// Bytes of a JSON value (an annotation, a `required` list) quoted in a summary.
constexpr size_t kValuePrefix = 60;
// About how long DriftReport::summary() may grow before it stops listing changes.
constexpr size_t kSummaryBytes = 4096;

// `text` cut to at most `max` bytes at a UTF-8 character boundary.
std::string_view cutUtf8(std::string_view text, size_t max) {
  if (text.size() <= max)
    return text;
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80)
    --end;
  return text.substr(0, end);
}

// `text` as a JSON string, cut to `max` bytes, with "…" after the quote when cut.
std::string quoted(std::string_view text, size_t max = kTextPrefix) {
  std::string_view cut = cutUtf8(text, max);
  std::string out = jsonString(cut);
  if (cut.size() < text.size())
    out += "…";
  return out;
}

// A canonical JSON value cut for a summary (JSON text is already escaped).
std::string shortValue(std::string_view canonicalText) {
  std::string_view cut = cutUtf8(canonicalText, kValuePrefix);
  std::string out(cut);
  if (cut.size() < canonicalText.size())
    out += "…";
  return out;
}

std::optional<JsonValue> parsed(const std::string* canonicalText) {
  if (!canonicalText)
    return std::nullopt;
  Result<JsonValue> v = parseJson(*canonicalText);
  if (!v.ok())
    return std::nullopt; // cannot happen for text canonical() wrote
  return std::move(*v);
}

std::string describeDescription(const std::string* before, const std::string* after) {
  std::optional<JsonValue> a = parsed(before), b = parsed(after);
  if (!b)
    return "description removed";
  if (!b->isString())
    return "description is now " + shortValue(*after);
  std::string now = b->text;
  if (!a)
    return "description added (" + std::to_string(now.size()) + " bytes): " + quoted(now);
  if (!a->isString())
    return "description changed to " + std::to_string(now.size()) + " bytes: " + quoted(now);
  const std::string& was = a->text;
  std::string sizes =
      " from " + std::to_string(was.size()) + " to " + std::to_string(now.size()) + " bytes";
  if (now.size() > was.size() && now.compare(0, was.size(), was) == 0)
    return "description grew" + sizes +
           "; appended: " + quoted(std::string_view(now).substr(was.size()));
  return "description changed" + sizes + "; now: " + quoted(now);
}

// The names of the members of `v`, when it is an object.
std::set<std::string> memberNames(const JsonValue* v) {
  std::set<std::string> names;
  if (v && v->isObject())
    names.insert(v->keys.begin(), v->keys.end());
  return names;
}

std::string canonicalOrEmpty(const JsonValue* v) {
  return v ? canonical(*v) : std::string();
}

void appendList(std::string& out, std::string_view label, const std::vector<std::string>& names) {
  if (names.empty())
    return;
  if (!out.empty())
    out += "; ";
  out += label;
  out += ' ';
  for (size_t i = 0; i < names.size(); ++i) {
    if (i)
      out += ", ";
    out += quoted(names[i], kValuePrefix);
  }
}

// A JSON Schema diff that people can read: properties added, removed and changed, `required`,
// and the other top-level members that changed. Deeper changes show as a changed property.
std::string describeSchema(std::string_view field, const std::string* before,
                           const std::string* after) {
  std::string name(field);
  if (!before)
    return name + " added";
  if (!after)
    return name + " removed";
  std::optional<JsonValue> a = parsed(before), b = parsed(after);
  if (!a || !b || !a->isObject() || !b->isObject())
    return name + " changed to " + shortValue(*after);

  const JsonValue* pa = a->find("properties");
  const JsonValue* pb = b->find("properties");
  std::vector<std::string> added, removed, changed, other;
  std::set<std::string> propsA = memberNames(pa), propsB = memberNames(pb);
  for (const std::string& p : propsB)
    if (!propsA.count(p))
      added.push_back(p);
  for (const std::string& p : propsA) {
    if (!propsB.count(p))
      removed.push_back(p);
    else if (canonical(*pa->find(p)) != canonical(*pb->find(p)))
      changed.push_back(p);
  }
  std::set<std::string> top = memberNames(&*a);
  top.merge(memberNames(&*b));
  for (const std::string& m : top)
    if (m != "properties" && m != "required" &&
        canonicalOrEmpty(a->find(m)) != canonicalOrEmpty(b->find(m)))
      other.push_back(m);
  // A `properties` that is not an object changed as a whole.
  if ((pa && !pa->isObject()) || (pb && !pb->isObject()))
    if (canonicalOrEmpty(pa) != canonicalOrEmpty(pb))
      other.push_back("properties");

  std::string out;
  appendList(out, "property added", added);
  appendList(out, "property removed", removed);
  appendList(out, "property changed", changed);
  std::string reqA = canonicalOrEmpty(a->find("required"));
  std::string reqB = canonicalOrEmpty(b->find("required"));
  if (reqA != reqB) {
    if (!out.empty())
      out += "; ";
    out += "required " + (reqA.empty() ? "(none)" : shortValue(reqA)) + " -> " +
           (reqB.empty() ? "(none)" : shortValue(reqB));
  }
  appendList(out, "also changed", other);
  return name + ": " + out;
}

std::string describeAnnotations(const std::string* before, const std::string* after) {
  if (!before)
    return "annotations added: " + shortValue(*after);
  if (!after)
    return "annotations removed";
  std::optional<JsonValue> a = parsed(before), b = parsed(after);
  if (!a || !b || !a->isObject() || !b->isObject())
    return "annotations changed to " + shortValue(*after);
  std::set<std::string> keys = memberNames(&*a);
  keys.merge(memberNames(&*b));
  std::string out;
  for (const std::string& k : keys) {
    std::string va = canonicalOrEmpty(a->find(k)), vb = canonicalOrEmpty(b->find(k));
    if (va == vb)
      continue;
    out += out.empty() ? "" : "; ";
    out += quoted(k, kValuePrefix) + " " + (va.empty() ? "(absent)" : shortValue(va)) + " -> " +
           (vb.empty() ? "(absent)" : shortValue(vb));
  }
  return "annotations: " + out;
}

// A member whose value people read as a whole: `title "Echo Tool" -> "Echo"`.
std::string describeValue(std::string_view field, const std::string* before,
                          const std::string* after) {
  auto side = [](const std::string* text) -> std::string {
    if (!text)
      return "(none)";
    std::optional<JsonValue> v = parsed(text);
    return v && v->isString() ? quoted(v->text, kValuePrefix) : shortValue(*text);
  };
  return std::string(field) + " " + side(before) + " -> " + side(after);
}

// A prompt's arguments by name, when every argument is an object with a string `name`: name ->
// canonical JSON of the argument.
std::optional<std::map<std::string, std::string>> argumentsByName(const JsonValue& v) {
  if (!v.isArray())
    return std::nullopt;
  std::map<std::string, std::string> out;
  for (const JsonValue& a : v.items) {
    const JsonValue* name = a.isObject() ? a.find("name") : nullptr;
    if (!name || !name->isString() || out.count(name->text))
      return std::nullopt;
    out.emplace(name->text, canonical(a));
  }
  return out;
}

// A prompt's `arguments`: which were added, removed and changed, by name.
std::string describeArguments(const std::string* before, const std::string* after) {
  if (!before)
    return "arguments added: " + shortValue(*after);
  if (!after)
    return "arguments removed";
  std::optional<JsonValue> a = parsed(before), b = parsed(after);
  std::optional<std::map<std::string, std::string>> na, nb;
  if (a && b) {
    na = argumentsByName(*a);
    nb = argumentsByName(*b);
  }
  if (!na || !nb)
    return "arguments changed to " + shortValue(*after);
  std::vector<std::string> added, removed, changed;
  for (const auto& [name, value] : *nb)
    if (!na->count(name))
      added.push_back(name);
  for (const auto& [name, value] : *na) {
    auto now = nb->find(name);
    if (now == nb->end())
      removed.push_back(name);
    else if (now->second != value)
      changed.push_back(name);
  }
  std::string out;
  appendList(out, "argument added", added);
  appendList(out, "argument removed", removed);
  appendList(out, "argument changed", changed);
  return out.empty() ? "arguments reordered" : "arguments: " + out;
}

std::string describeField(std::string_view field, const std::string* before,
                          const std::string* after) {
  if (field == "description")
    return describeDescription(before, after);
  if (field == "inputSchema" || field == "outputSchema")
    return describeSchema(field, before, after);
  if (field == "annotations")
    return describeAnnotations(before, after);
  if (field == "arguments")
    return describeArguments(before, after);
  return describeValue(field, before, after); // title, name, mimeType, mimeTypes
}

bool isTools(const ListKind& kind) {
  return kind.method == kToolList.method;
}

bool isResources(const ListKind& kind) {
  return kind.method == kResourceList.method;
}

// A resource's `name` member, for riskSeverity(); "" for other kinds.
std::string resourceNameOf(const ListKind& kind, const Definition& item) {
  if (!isResources(kind))
    return {};
  std::optional<JsonValue> name = parsed(item.field("name"));
  return name && name->isString() ? name->text : std::string();
}

ItemChange addedItem(const ListKind& kind, const Definition& item) {
  ItemChange c;
  c.tool = item.name;
  c.kind = ChangeKind::Added;
  // A new tool is a capability nobody reviewed; a new resource or prompt is something to read or
  // pick, which the client asks for by itself.
  c.severity = isTools(kind) ? Severity::Warning : Severity::Info;
  c.newHash = item.hash;
  c.resourceName = resourceNameOf(kind, item);
  c.summary = "added " + quoted(item.name, kValuePrefix);
  std::optional<JsonValue> description = parsed(item.field("description"));
  if (description && description->isString())
    c.summary += ": description (" + std::to_string(description->text.size()) +
                 " bytes): " + quoted(description->text);
  return c;
}

ItemChange removedItem(const ListKind& kind, const Definition& item) {
  ItemChange c;
  c.tool = item.name;
  c.kind = ChangeKind::Removed;
  c.severity = Severity::Info;
  c.oldHash = item.hash;
  c.resourceName = resourceNameOf(kind, item);
  c.summary = "removed " + quoted(item.name, kValuePrefix);
  return c;
}

ItemChange changedItem(const ListKind& kind, const Definition& before, const Definition& after) {
  ItemChange c;
  c.tool = after.name;
  c.kind = ChangeKind::Changed;
  c.oldHash = before.hash;
  c.newHash = after.hash;
  c.resourceName = resourceNameOf(kind, after);
  for (std::string_view field : kind.hashedFields) {
    if (field == kind.key)
      continue; // the key both sides were matched on
    const std::string* a = before.field(field);
    const std::string* b = after.field(field);
    if ((!a && !b) || (a && b && *a == *b))
      continue;
    FieldChange f;
    f.field = field;
    f.severity = fieldSeverity(kind, field);
    f.summary = describeField(field, a, b);
    c.severity = std::max(c.severity, f.severity);
    c.fields.push_back(std::move(f));
  }
  c.summary = "changed " + quoted(c.tool, kValuePrefix) + ": ";
  for (size_t i = 0; i < c.fields.size(); ++i)
    c.summary += (i ? "; " : "") + c.fields[i].summary;
  return c;
}

std::vector<std::string> namesOf(const std::vector<ItemChange>& changes, ChangeKind kind) {
  std::vector<std::string> out;
  for (const ItemChange& c : changes)
    if (c.kind == kind)
      out.push_back(c.tool);
  return out;
}

void appendHashOrNull(const std::string& hash, std::string& out) {
  if (hash.empty())
    out += "null";
  else
    appendJsonString(hash, out);
}

// `"added":[…],"removed":[…],"changed":[…],"changes":[…]`, each change keyed by `keyName`
// ("tool", "resource", "prompt").
void appendChanges(const std::vector<ItemChange>& changes, std::string_view keyName,
                   std::string& out) {
  for (ChangeKind kind : {ChangeKind::Added, ChangeKind::Removed, ChangeKind::Changed}) {
    out += '"';
    out += changeKindName(kind);
    out += "\":[";
    std::vector<std::string> names = namesOf(changes, kind);
    for (size_t i = 0; i < names.size(); ++i) {
      if (i)
        out += ',';
      appendJsonString(names[i], out);
    }
    out += "],";
  }
  out += "\"changes\":[";
  for (size_t i = 0; i < changes.size(); ++i) {
    const ItemChange& c = changes[i];
    if (i)
      out += ',';
    out += "{\"";
    out += keyName;
    out += "\":";
    appendJsonString(c.tool, out);
    out += ",\"change\":";
    appendJsonString(changeKindName(c.kind), out);
    out += ",\"severity\":";
    appendJsonString(severityName(c.severity), out);
    out += ",\"summary\":";
    appendJsonString(c.summary, out);
    out += ",\"old_sha256\":";
    appendHashOrNull(c.oldHash, out);
    out += ",\"new_sha256\":";
    appendHashOrNull(c.newHash, out);
    out += ",\"fields\":[";
    for (size_t j = 0; j < c.fields.size(); ++j) {
      if (j)
        out += ',';
      out += "{\"field\":";
      appendJsonString(c.fields[j].field, out);
      out += ",\"severity\":";
      appendJsonString(severityName(c.fields[j].severity), out);
      out += ",\"summary\":";
      appendJsonString(c.fields[j].summary, out);
      out += '}';
    }
    out += "]}";
  }
  out += ']';
}

void appendListDrift(const ListDrift& d, std::string_view keyName, std::string& out) {
  out += "{\"baseline\":";
  appendHashOrNull(d.baselineHash, out);
  out += ",\"current\":";
  appendHashOrNull(d.currentHash, out);
  out += ",\"unreadable\":";
  if (d.unreadable.empty())
    out += "null";
  else
    appendJsonString(d.unreadable, out);
  out += ',';
  appendChanges(d.changes, keyName, out);
  out += '}';
}

} // namespace

const char* severityName(Severity severity) {
  switch (severity) {
  case Severity::Info:
    return "info";
  case Severity::Warning:
    return "warning";
  case Severity::Critical:
    return "critical";
  }
  return "critical";
}

const char* changeKindName(ChangeKind kind) {
  switch (kind) {
  case ChangeKind::Added:
    return "added";
  case ChangeKind::Removed:
    return "removed";
  case ChangeKind::Changed:
    return "changed";
  }
  return "changed";
}

Severity fieldSeverity(std::string_view field) {
  if (field == "description" || field == "inputSchema")
    return Severity::Critical;
  if (field == "annotations" || field == "outputSchema")
    return Severity::Warning;
  return Severity::Info; // title
}

Severity fieldSeverity(const ListKind& kind, std::string_view field) {
  if (isTools(kind))
    return fieldSeverity(field);
  // A resource or prompt is read or picked, not run, and never refused: what it says it is
  // (description, URI, MIME type, arguments) matters for review; its display names do not.
  if (field == "name" || field == "title")
    return Severity::Info;
  return Severity::Warning;
}

std::vector<std::string> ListDrift::names(ChangeKind kind) const {
  return namesOf(changes, kind);
}

std::string DriftReport::subject() const {
  std::vector<const char*> what;
  if (toolsDrifted())
    what.push_back("tool");
  if (resources.drifted())
    what.push_back("resource");
  if (prompts.drifted())
    what.push_back("prompt");
  if (what.empty())
    return "tool";
  std::string out;
  for (size_t i = 0; i < what.size(); ++i) {
    if (i)
      out += i + 1 == what.size() ? " and " : ", ";
    out += what[i];
  }
  return out;
}

Severity DriftReport::severity() const {
  Severity s = Severity::Info;
  for (Severity e : events())
    s = std::max(s, e);
  return s;
}

std::vector<Severity> DriftReport::events() const {
  std::vector<Severity> out;
  if (!detailed || !unreadable.empty()) {
    out.push_back(Severity::Critical);
  } else {
    for (const ToolChange& c : changes)
      out.push_back(c.severity);
  }
  for (const ListDrift* list : {&resources, &prompts}) {
    if (!list->unreadable.empty()) {
      out.push_back(Severity::Critical);
      continue;
    }
    for (const ItemChange& c : list->changes)
      out.push_back(c.severity);
  }
  return out;
}

std::vector<std::string> DriftReport::tools(ChangeKind kind) const {
  return namesOf(changes, kind);
}

std::string DriftReport::summary() const {
  std::string out = subject() + " definitions drifted (" + severityName(severity()) + "): ";
  size_t remaining = changes.size() + resources.changes.size() + prompts.changes.size();
  bool cut = false;
  // Appends the summaries of `list`, until the summary is long enough.
  auto appendChangeLines = [&](const std::vector<ItemChange>& list) {
    for (size_t i = 0; i < list.size() && !cut; ++i) {
      if (out.size() > kSummaryBytes) {
        out += "; … " + std::to_string(remaining) + " more";
        cut = true;
        break;
      }
      out += i ? "; " : ": ";
      out += list[i].summary;
      --remaining;
    }
  };
  bool toolsPart = toolsDrifted() || (!resources.drifted() && !prompts.drifted());
  if (toolsPart) {
    if (!unreadable.empty()) {
      out += "the tools/list answer could not be read: " + quoted(unreadable);
    } else {
      out += baselineHash + " -> " + currentHash;
      if (!detailed)
        out += "; no stored baseline has the pinned hash, so which tools changed is unknown";
      else
        appendChangeLines(changes);
    }
  }
  const std::pair<const ListDrift*, const ListKind*> lists[] = {{&resources, &kResourceList},
                                                                {&prompts, &kPromptList}};
  for (const auto& [list, kind] : lists) {
    if (!list->drifted() || cut)
      continue;
    if (toolsPart)
      out += "; ";
    toolsPart = true;
    out += kind->member;
    if (!list->unreadable.empty()) {
      out += ": the ";
      out += kind->method;
      out += " answer could not be read: " + quoted(list->unreadable);
      continue;
    }
    out += " " + list->baselineHash + " -> " + list->currentHash;
    appendChangeLines(list->changes);
  }
  return out;
}

std::string DriftReport::toJson() const {
  std::string out = "{\"severity\":";
  appendJsonString(severityName(severity()), out);
  out += ",\"baseline\":";
  appendJsonString(baselineHash, out);
  out += ",\"current\":";
  appendHashOrNull(currentHash, out);
  out += ",\"detailed\":";
  out += detailed ? "true" : "false";
  out += ",\"unreadable\":";
  if (unreadable.empty())
    out += "null";
  else
    appendJsonString(unreadable, out);
  out += ',';
  appendChanges(changes, "tool", out);
  out += ",\"resources\":";
  appendListDrift(resources, "resource", out);
  out += ",\"prompts\":";
  appendListDrift(prompts, "prompt", out);
  out += '}';
  return out;
}

std::vector<ItemChange> compareItems(const DefinitionManifest& baseline,
                                     const DefinitionManifest& current) {
  const ListKind& kind = current.kind();
  std::vector<ItemChange> changes;
  // Both maps iterate in key order: one merge pass yields changes in key order.
  auto a = baseline.items().begin(), aEnd = baseline.items().end();
  auto b = current.items().begin(), bEnd = current.items().end();
  while (a != aEnd || b != bEnd) {
    if (b == bEnd || (a != aEnd && a->first < b->first)) {
      changes.push_back(removedItem(kind, a->second));
      ++a;
    } else if (a == aEnd || b->first < a->first) {
      changes.push_back(addedItem(kind, b->second));
      ++b;
    } else {
      if (a->second.hash != b->second.hash)
        changes.push_back(changedItem(kind, a->second, b->second));
      ++a;
      ++b;
    }
  }
  return changes;
}

DriftReport compare(const ToolManifest& baseline, const ToolManifest& current) {
  DriftReport r;
  r.baselineHash = baseline.hash();
  r.currentHash = current.hash();
  r.changes = compareItems(baseline, current);
  return r;
}

ListDrift compareList(const DefinitionManifest& baseline, const DefinitionManifest& current) {
  ListDrift d;
  d.baselineHash = baseline.hash();
  d.currentHash = current.hash();
  d.changes = compareItems(baseline, current);
  return d;
}

DriftReport comparePinned(std::string_view pinned, const ToolManifest& current) {
  DriftReport r;
  r.baselineHash = pinned;
  r.currentHash = current.hash();
  r.detailed = false;
  return r;
}

const char* riskSeverity(const DriftReport& report) {
  if (!report.detailed || !report.unreadable.empty() || !report.resources.unreadable.empty() ||
      !report.prompts.unreadable.empty())
    return "high";
  bool removedOrChanged = false;
  // AIM's rule, over the names AIM keys each kind by: a tool's or prompt's name, a resource's
  // `name` member (not its URI).
  auto risky = [&](const std::vector<ItemChange>& changes, bool resources) {
    for (const ItemChange& c : changes) {
      if (c.kind == ChangeKind::Removed) {
        removedOrChanged = true;
        continue;
      }
      if (c.kind == ChangeKind::Changed)
        removedOrChanged = true;
      if (aimRiskyName(resources ? c.resourceName : c.tool))
        return true;
    }
    return false;
  };
  if (risky(report.changes, false) || risky(report.resources.changes, true) ||
      risky(report.prompts.changes, false))
    return "high";
  return removedOrChanged ? "medium" : "low";
}

} // namespace sidecar::drift
