#include "drift/report.h"

#include <algorithm>
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

std::string describeTitle(const std::string* before, const std::string* after) {
  auto side = [](const std::string* text) -> std::string {
    if (!text)
      return "(none)";
    std::optional<JsonValue> v = parsed(text);
    return v && v->isString() ? quoted(v->text, kValuePrefix) : shortValue(*text);
  };
  return "title " + side(before) + " -> " + side(after);
}

std::string describeField(std::string_view field, const std::string* before,
                          const std::string* after) {
  if (field == "description")
    return describeDescription(before, after);
  if (field == "inputSchema" || field == "outputSchema")
    return describeSchema(field, before, after);
  if (field == "annotations")
    return describeAnnotations(before, after);
  return describeTitle(before, after);
}

ToolChange addedTool(const ToolDefinition& tool) {
  ToolChange c;
  c.tool = tool.name;
  c.kind = ChangeKind::Added;
  c.severity = Severity::Warning;
  c.newHash = tool.hash;
  c.summary = "added " + quoted(tool.name, kValuePrefix);
  std::optional<JsonValue> description = parsed(tool.field("description"));
  if (description && description->isString())
    c.summary += ": description (" + std::to_string(description->text.size()) +
                 " bytes): " + quoted(description->text);
  return c;
}

ToolChange removedTool(const ToolDefinition& tool) {
  ToolChange c;
  c.tool = tool.name;
  c.kind = ChangeKind::Removed;
  c.severity = Severity::Info;
  c.oldHash = tool.hash;
  c.summary = "removed " + quoted(tool.name, kValuePrefix);
  return c;
}

ToolChange changedTool(const ToolDefinition& before, const ToolDefinition& after) {
  ToolChange c;
  c.tool = after.name;
  c.kind = ChangeKind::Changed;
  c.oldHash = before.hash;
  c.newHash = after.hash;
  for (std::string_view field : kHashedFields) {
    if (field == "name")
      continue; // the key both sides were matched on
    const std::string* a = before.field(field);
    const std::string* b = after.field(field);
    if ((!a && !b) || (a && b && *a == *b))
      continue;
    FieldChange f;
    f.field = field;
    f.severity = fieldSeverity(field);
    f.summary = describeField(field, a, b);
    c.severity = std::max(c.severity, f.severity);
    c.fields.push_back(std::move(f));
  }
  c.summary = "changed " + quoted(c.tool, kValuePrefix) + ": ";
  for (size_t i = 0; i < c.fields.size(); ++i)
    c.summary += (i ? "; " : "") + c.fields[i].summary;
  return c;
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

Severity DriftReport::severity() const {
  Severity s = Severity::Info;
  for (Severity e : events())
    s = std::max(s, e);
  return s;
}

std::vector<Severity> DriftReport::events() const {
  if (!detailed || !unreadable.empty())
    return {Severity::Critical};
  std::vector<Severity> out;
  out.reserve(changes.size());
  for (const ToolChange& c : changes)
    out.push_back(c.severity);
  return out;
}

std::vector<std::string> DriftReport::tools(ChangeKind kind) const {
  std::vector<std::string> out;
  for (const ToolChange& c : changes)
    if (c.kind == kind)
      out.push_back(c.tool);
  return out;
}

std::string DriftReport::summary() const {
  std::string out = "tool definitions drifted (" + std::string(severityName(severity())) + "): ";
  if (!unreadable.empty())
    return out + "the tools/list answer could not be read: " + quoted(unreadable);
  out += baselineHash + " -> " + currentHash;
  if (!detailed)
    return out + "; no stored baseline has the pinned hash, so which tools changed is unknown";
  for (size_t i = 0; i < changes.size(); ++i) {
    if (out.size() > kSummaryBytes) {
      out += "; … " + std::to_string(changes.size() - i) + " more";
      break;
    }
    out += i ? "; " : ": ";
    out += changes[i].summary;
  }
  return out;
}

std::string DriftReport::toJson() const {
  std::string out = "{\"severity\":";
  appendJsonString(severityName(severity()), out);
  out += ",\"baseline\":";
  appendJsonString(baselineHash, out);
  out += ",\"current\":";
  if (currentHash.empty())
    out += "null";
  else
    appendJsonString(currentHash, out);
  out += ",\"detailed\":";
  out += detailed ? "true" : "false";
  out += ",\"unreadable\":";
  if (unreadable.empty())
    out += "null";
  else
    appendJsonString(unreadable, out);
  for (ChangeKind kind : {ChangeKind::Added, ChangeKind::Removed, ChangeKind::Changed}) {
    out += ",\"";
    out += changeKindName(kind);
    out += "\":[";
    std::vector<std::string> names = tools(kind);
    for (size_t i = 0; i < names.size(); ++i) {
      if (i)
        out += ',';
      appendJsonString(names[i], out);
    }
    out += ']';
  }
  out += ",\"changes\":[";
  for (size_t i = 0; i < changes.size(); ++i) {
    const ToolChange& c = changes[i];
    if (i)
      out += ',';
    out += "{\"tool\":";
    appendJsonString(c.tool, out);
    out += ",\"change\":";
    appendJsonString(changeKindName(c.kind), out);
    out += ",\"severity\":";
    appendJsonString(severityName(c.severity), out);
    out += ",\"summary\":";
    appendJsonString(c.summary, out);
    out += ",\"old_sha256\":";
    if (c.oldHash.empty())
      out += "null";
    else
      appendJsonString(c.oldHash, out);
    out += ",\"new_sha256\":";
    if (c.newHash.empty())
      out += "null";
    else
      appendJsonString(c.newHash, out);
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
  out += "]}";
  return out;
}

DriftReport compare(const ToolManifest& baseline, const ToolManifest& current) {
  DriftReport r;
  r.baselineHash = baseline.hash();
  r.currentHash = current.hash();
  // Both maps iterate in name order: one merge pass yields changes in name order.
  auto a = baseline.tools().begin(), aEnd = baseline.tools().end();
  auto b = current.tools().begin(), bEnd = current.tools().end();
  while (a != aEnd || b != bEnd) {
    if (b == bEnd || (a != aEnd && a->first < b->first)) {
      r.changes.push_back(removedTool(a->second));
      ++a;
    } else if (a == aEnd || b->first < a->first) {
      r.changes.push_back(addedTool(b->second));
      ++b;
    } else {
      if (a->second.hash != b->second.hash)
        r.changes.push_back(changedTool(a->second, b->second));
      ++a;
      ++b;
    }
  }
  return r;
}

DriftReport comparePinned(std::string_view pinned, const ToolManifest& current) {
  DriftReport r;
  r.baselineHash = pinned;
  r.currentHash = current.hash();
  r.detailed = false;
  return r;
}

const char* riskSeverity(const DriftReport& report) {
  if (!report.detailed || !report.unreadable.empty())
    return "high";
  bool removedOrChanged = false;
  for (const ToolChange& c : report.changes) {
    if (c.kind == ChangeKind::Removed) {
      removedOrChanged = true;
      continue;
    }
    if (c.kind == ChangeKind::Changed)
      removedOrChanged = true;
    if (aimRiskyName(c.tool))
      return "high";
  }
  return removedOrChanged ? "medium" : "low";
}

} // namespace sidecar::drift
