#include "discovery/catalog.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "common/json_text.h"

namespace sidecar::discovery {

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

bool parseArray(std::string_view json, rapidjson::Document& d) {
  if (jsonNestsDeeperThan(json)) // what is parsed here is written out again with Accept()
    return false;
  d.Parse(json.data(), json.size());
  return !d.HasParseError() && d.IsArray();
}

const rapidjson::Value* member(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject())
    return nullptr;
  auto it = v.FindMember(name);
  return it == v.MemberEnd() ? nullptr : &it->value;
}

void copyMember(Writer& w, const rapidjson::Value& from, const char* name, const char* as) {
  if (const rapidjson::Value* m = member(from, name)) {
    w.Key(as);
    m->Accept(w);
  }
}

std::string stringMember(const rapidjson::Value& v, const char* name) {
  const rapidjson::Value* m = member(v, name);
  return m && m->IsString() ? std::string(m->GetString(), m->GetStringLength()) : std::string();
}

// A resource as MCP lists it, with AIM's `mimeTypes` array beside MCP's `mimeType` string
// (aim-wire.md §10: AIM reads the array, MCP and the demo server send the string).
void writeResource(Writer& w, const rapidjson::Value& r) {
  w.StartObject();
  for (auto it = r.MemberBegin(); it != r.MemberEnd(); ++it) {
    if (std::string_view(it->name.GetString()) == "mimeTypes")
      continue;
    w.Key(it->name.GetString(), it->name.GetStringLength());
    it->value.Accept(w);
  }
  w.Key("mimeTypes");
  w.StartArray();
  if (const rapidjson::Value* types = member(r, "mimeTypes"); types && types->IsArray()) {
    for (const auto& t : types->GetArray())
      t.Accept(w);
  } else if (const rapidjson::Value* type = member(r, "mimeType"); type && type->IsString()) {
    type->Accept(w);
  }
  w.EndArray();
  w.EndObject();
}

} // namespace

bool Catalog::applyInitializeLocked(std::string_view json) {
  rapidjson::Document d;
  if (jsonNestsDeeperThan(json))
    return false;
  d.Parse(json.data(), json.size());
  if (d.HasParseError() || !d.IsObject())
    return false;
  if (const rapidjson::Value* info = member(d, "serverInfo"); info && info->IsObject()) {
    rapidjson::StringBuffer buf;
    Writer w(buf);
    info->Accept(w);
    serverInfo_.assign(buf.GetString(), buf.GetSize());
  }
  protocolVersion_ = stringMember(d, "protocolVersion");
  return true;
}

bool Catalog::applyToolsLocked(std::string_view arrayJson) {
  rapidjson::Document d;
  if (!parseArray(arrayJson, d))
    return false;
  std::vector<std::string> names;
  for (const auto& t : d.GetArray())
    if (std::string n = stringMember(t, "name"); !n.empty())
      names.push_back(std::move(n));
  tools_.assign(arrayJson);
  toolNames_ = std::move(names);
  toolsKnown_ = true;
  return true;
}

bool Catalog::applyListLocked(std::string_view arrayJson, std::string& list) {
  rapidjson::Document d;
  if (!parseArray(arrayJson, d))
    return false;
  list.assign(arrayJson);
  return true;
}

void Catalog::setInitializeResult(std::string_view json) {
  std::lock_guard<std::mutex> g(mu_);
  if (applyInitializeLocked(json))
    rebuildLocked();
}

void Catalog::setTools(std::string_view arrayJson) {
  std::lock_guard<std::mutex> g(mu_);
  if (applyToolsLocked(arrayJson))
    rebuildLocked();
}

void Catalog::setResources(std::string_view arrayJson) {
  std::lock_guard<std::mutex> g(mu_);
  if (applyListLocked(arrayJson, resources_))
    rebuildLocked();
}

void Catalog::setPrompts(std::string_view arrayJson) {
  std::lock_guard<std::mutex> g(mu_);
  if (applyListLocked(arrayJson, prompts_))
    rebuildLocked();
}

void Catalog::setListing(std::string_view initializeResult, std::string_view tools,
                         std::string_view resources, std::string_view prompts) {
  std::lock_guard<std::mutex> g(mu_);
  bool changed = applyInitializeLocked(initializeResult);
  changed = applyToolsLocked(tools) || changed;
  changed = applyListLocked(resources, resources_) || changed;
  changed = applyListLocked(prompts, prompts_) || changed;
  if (changed)
    rebuildLocked();
}

std::string Catalog::document(bool aimVerified) const {
  std::lock_guard<std::mutex> g(mu_);
  return doc_[aimVerified ? 1 : 0];
}

std::vector<std::string> Catalog::toolNames() const {
  std::lock_guard<std::mutex> g(mu_);
  return toolNames_;
}

bool Catalog::toolsKnown() const {
  std::lock_guard<std::mutex> g(mu_);
  return toolsKnown_;
}

std::string Catalog::serverName() const {
  if (!id_.name.empty())
    return id_.name;
  std::lock_guard<std::mutex> g(mu_);
  rapidjson::Document info;
  info.Parse(serverInfo_.data(), serverInfo_.size());
  std::string n = info.HasParseError() ? std::string() : stringMember(info, "name");
  return n.empty() ? "mcp-server" : n;
}

// Both shapes in one document: the guide's (`server`, `capabilities` with `parameters` and
// `returns`) and the one AIM parses (`tools` with `inputSchema`, `resources` with `mimeTypes`,
// `prompts`, `serverInfo`). Unknown keys are ignored by both readers.
void Catalog::rebuildLocked() {
  rapidjson::Document info, tools, resources, prompts;
  info.Parse(serverInfo_.data(), serverInfo_.size());
  if (info.HasParseError() || !info.IsObject())
    info.SetObject();
  if (!parseArray(tools_, tools))
    tools.SetArray();
  if (!parseArray(resources_, resources))
    resources.SetArray();
  if (!parseArray(prompts_, prompts))
    prompts.SetArray();
  std::string name = id_.name.empty() ? stringMember(info, "name") : id_.name;
  if (name.empty())
    name = "mcp-server";
  std::string version = id_.version.empty() ? stringMember(info, "version") : id_.version;

  for (int verified = 0; verified < 2; ++verified) {
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    w.Key("server");
    w.StartObject();
    w.Key("name");
    w.String(name.c_str(), static_cast<rapidjson::SizeType>(name.size()));
    w.Key("version");
    w.String(version.c_str(), static_cast<rapidjson::SizeType>(version.size()));
    w.Key("aim_verified");
    w.Bool(verified == 1);
    w.Key("public_key");
    w.String(id_.publicKeySpkiHex.c_str());
    w.Key("public_key_base64");
    w.String(id_.publicKeyBase64.c_str());
    w.Key("key_id");
    w.String(id_.keyId.c_str());
    w.Key("capabilities_url");
    w.String("/.well-known/mcp/capabilities");
    w.EndObject();

    w.Key("capabilities");
    w.StartArray();
    for (const auto& t : tools.GetArray()) {
      if (!t.IsObject())
        continue;
      w.StartObject();
      copyMember(w, t, "name", "name");
      copyMember(w, t, "description", "description");
      w.Key("parameters");
      const rapidjson::Value* props = nullptr;
      if (const rapidjson::Value* in = member(t, "inputSchema"))
        props = member(*in, "properties");
      if (props)
        props->Accept(w);
      else {
        w.StartObject();
        w.EndObject();
      }
      if (const rapidjson::Value* out = member(t, "outputSchema")) {
        w.Key("returns");
        out->Accept(w);
      }
      w.EndObject();
    }
    w.EndArray();

    w.Key("tools");
    tools.Accept(w);
    w.Key("resources");
    w.StartArray();
    for (const auto& r : resources.GetArray())
      if (r.IsObject())
        writeResource(w, r);
    w.EndArray();
    w.Key("prompts");
    prompts.Accept(w);
    w.Key("serverInfo");
    w.StartObject();
    const rapidjson::Value& infoView = info; // const iterators: unambiguous under C++20
    for (auto it = infoView.MemberBegin(); it != infoView.MemberEnd(); ++it) {
      w.Key(it->name.GetString(), it->name.GetStringLength());
      it->value.Accept(w);
    }
    if (!info.HasMember("protocolVersion") && !protocolVersion_.empty()) {
      w.Key("protocolVersion");
      w.String(protocolVersion_.c_str());
    }
    w.EndObject();
    w.EndObject();
    doc_[verified].assign(buf.GetString(), buf.GetSize());
  }
}

} // namespace sidecar::discovery
