#include "app/aim_register.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>

#include "aim/http.h"
#include "aim/wire.h"
#include "app/identity.h"
#include "common/version.h"

namespace sidecar::app {

namespace {

// One request at a time, waited for: the aim/ HTTP client is asynchronous (it serves the
// sidecar's AIM thread); a command line tool just drives it until the answer is in.
aim::HttpResponse call(aim::HttpClient& http, aim::HttpRequest req) {
  bool done = false;
  aim::HttpResponse out;
  http.start(std::move(req), [&](aim::HttpResponse r) {
    out = std::move(r);
    done = true;
  });
  while (!done)
    http.poll(std::chrono::milliseconds(200));
  return out;
}

std::string pathOf(const std::string& url) {
  size_t scheme = url.find("://");
  size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (slash == std::string::npos)
    return {};
  std::string p = url.substr(slash);
  while (!p.empty() && p.back() == '/')
    p.pop_back();
  return p;
}

std::string trimmed(std::string url) {
  while (!url.empty() && url.back() == '/')
    url.pop_back();
  return url;
}

// A file name for a server's key: its name with anything but [A-Za-z0-9._-] as '_'.
std::string safeName(const std::string& name) {
  std::string s;
  for (char c : name)
    s += (isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_') ? c : '_';
  return s.empty() ? std::string("server") : s;
}

std::string readText(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Status writeText(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << text;
    if (!f)
      return Status::error("cannot write " + tmp + ": " + strerror(errno));
  }
  ::chmod(tmp.c_str(), 0600);
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return Status::error("cannot replace " + path + ": " + strerror(errno));
  return {};
}

// registered.json: {"<aim url>": {"agentId": "...", "agentKey": "<b64>", "servers":
// {"<registration url>": {"name", "id", "publicKey"}}}}
struct State {
  rapidjson::Document doc;
  std::string path;

  rapidjson::Value& forAim(const std::string& aimUrl) {
    auto& a = doc.GetAllocator();
    if (!doc.HasMember(aimUrl.c_str())) {
      rapidjson::Value v(rapidjson::kObjectType);
      v.AddMember("agentId", "", a);
      v.AddMember("agentKey", "", a);
      v.AddMember("servers", rapidjson::Value(rapidjson::kObjectType), a);
      doc.AddMember(rapidjson::Value(aimUrl.c_str(), a), v, a);
    }
    return doc[aimUrl.c_str()];
  }
  Status save() {
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    doc.Accept(w);
    return writeText(path, std::string(b.GetString(), b.GetSize()) + "\n");
  }
};

void setString(rapidjson::Value& obj, const char* key, const std::string& v,
               rapidjson::Document::AllocatorType& a) {
  if (obj.HasMember(key))
    obj[key].SetString(v.c_str(), static_cast<rapidjson::SizeType>(v.size()), a);
  else
    obj.AddMember(rapidjson::Value(key, a), rapidjson::Value(v.c_str(), a), a);
}

std::string defaultKeysDir() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  const char* home = std::getenv("HOME");
  std::string base = xdg && *xdg ? xdg : std::string(home && *home ? home : ".") + "/.config";
  return base + "/mcp-sidecar/aim";
}

Status makeDirs(const std::string& dir) {
  std::string partial;
  for (size_t i = 0; i <= dir.size(); ++i) {
    if (i == dir.size() || (dir[i] == '/' && i > 0)) {
      partial = dir.substr(0, i);
      if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST)
        return Status::error("cannot create " + partial + ": " + strerror(errno) +
                             " (choose another --keys-dir)");
    }
  }
  return {};
}

} // namespace

std::string registrationUrl(const clients::ServerEntry& s, const std::string& hostName) {
  if (s.url)
    return *s.url;
  return stdioServerUrl(s.name, hostName);
}

std::string stdioServerUrl(const std::string& serverName, const std::string& hostName) {
  std::string name;
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : serverName) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      name += static_cast<char>(c);
    } else {
      name += '%';
      name += kHex[c >> 4];
      name += kHex[c & 15];
    }
  }
  return "stdio://" + hostName + "/" + name;
}

int registerServers(const RegisterConfig& cfgIn, const std::vector<clients::ServerEntry>& servers,
                    std::FILE* out, std::FILE* err) {
  const char* prog = "mcp-sidecar register";
  RegisterConfig cfg = cfgIn;
  if (cfg.aimUrl.empty()) {
    std::fprintf(err, "%s: no AIM: give --aim-url URL (or set AIM_URL)\n", prog);
    return 2;
  }
  cfg.aimUrl = trimmed(cfg.aimUrl);
  if (cfg.keysDir.empty())
    cfg.keysDir = defaultKeysDir();
  if (Status st = makeDirs(cfg.keysDir + "/servers"); !st.ok()) {
    std::fprintf(err, "%s: %s\n", prog, st.message().c_str());
    return 1;
  }
  aim::HttpOptions ho;
  ho.caFile = cfg.caFile;
  ho.userAgent = std::string("mcp-sidecar/") + kVersion;
  auto http = aim::HttpClient::create(ho);
  if (!http.ok()) {
    std::fprintf(err, "%s: %s\n", prog, http.error().c_str());
    return 1;
  }
  State state;
  state.path = cfg.keysDir + "/registered.json";
  std::string text = readText(state.path);
  state.doc.Parse(text.c_str());
  if (text.empty() || state.doc.HasParseError() || !state.doc.IsObject()) {
    if (!text.empty())
      std::fprintf(err, "%s: warning: %s is not valid JSON; starting it anew\n", prog,
                   state.path.c_str());
    state.doc.SetObject();
  }
  auto& alloc = state.doc.GetAllocator();

  // The registering agent: its key, and its id at this AIM (registered once, with the API key).
  auto agentKey = loadOrCreateKey(cfg.keysDir + "/agent.key");
  if (!agentKey.ok()) {
    std::fprintf(err, "%s: %s\n", prog, agentKey.error().c_str());
    return 1;
  }
  std::string agentPub = verifier::base64(agentKey->key.pub.bytes);
  rapidjson::Value& mine = state.forAim(cfg.aimUrl);
  std::string agentId =
      mine["agentKey"].GetString() == agentPub ? mine["agentId"].GetString() : std::string();
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  if (agentId.empty()) {
    if (cfg.apiKey.empty()) {
      std::fprintf(err,
                   "%s: no AIM agent is registered for this machine yet: give --aim-api-key KEY "
                   "(or set AIM_API_KEY) once, from AIM's settings\n",
                   prog);
      return 1;
    }
    aim::AgentRegistration agent;
    agent.name = std::string("mcp-sidecar-") + host;
    agent.displayName = agent.name;
    agent.description = std::string("mcp-sidecar register on ") + host;
    agent.version = kVersion;
    aim::HttpRequest req;
    req.method = "POST";
    req.url = cfg.aimUrl + "/api/v1/agents";
    req.headers = {{"Content-Type", "application/json"}, {"X-API-Key", cfg.apiKey}};
    req.body = aim::agentRegistrationBody(agent, agentKey->key.pub);
    req.freshConnection = true;
    aim::HttpResponse r = call(**http, std::move(req));
    auto id =
        r.status == 201 ? aim::parseCreatedId(r.body) : Result<std::string>(Status::error(""));
    if (!id.ok()) {
      std::fprintf(
          err, "%s: AIM did not register the agent: %s\n", prog,
          r.status == 0
              ? r.error.c_str()
              : ("HTTP " + std::to_string(r.status) + " " + aim::bodyExcerpt(r.body)).c_str());
      return 1;
    }
    agentId = *id;
    setString(mine, "agentId", agentId, alloc);
    setString(mine, "agentKey", agentPub, alloc);
    if (Status st = state.save(); !st.ok()) {
      std::fprintf(err, "%s: %s\n", prog, st.message().c_str());
      return 1;
    }
    std::fprintf(out, "AIM agent %s registered (%s)\n", agentId.c_str(), agent.name.c_str());
  }

  int failed = 0;
  std::string prefix = pathOf(cfg.aimUrl);
  for (const clients::ServerEntry& s : servers) {
    std::string url = registrationUrl(s, host);
    rapidjson::Value& known = mine["servers"];
    auto key = loadOrCreateKey(cfg.keysDir + "/servers/" + safeName(s.name) + ".key");
    if (!key.ok()) {
      std::fprintf(err, "%s: %s: %s\n", prog, s.name.c_str(), key.error().c_str());
      ++failed;
      continue;
    }
    std::string pub = verifier::base64(key->key.pub.bytes);
    if (known.HasMember(url.c_str()) &&
        std::string(known[url.c_str()]["publicKey"].GetString()) == pub) {
      std::fprintf(out, "%s: already registered\n   Server ID: %s\n   Public Key: %.32s...\n",
                   s.name.c_str(), known[url.c_str()]["id"].GetString(), pub.c_str());
      continue;
    }
    aim::McpServerRegistration reg;
    reg.name = s.name;
    reg.description = s.command ? "stdio MCP server: " + *s.command : "remote MCP server";
    reg.url = url;
    reg.version = kVersion;
    std::string route = "/api/v1/sdk-api/agents/" + agentId + "/mcp-servers";
    std::string body = aim::mcpServerRegistrationBody(reg, key->key.pub, agentId);
    aim::HttpRequest req;
    req.method = "POST";
    req.url = cfg.aimUrl + route;
    req.headers = aim::agentRequestHeaders(agentKey->key, agentId, "POST", prefix + route,
                                           static_cast<int64_t>(time(nullptr)), body);
    req.headers.emplace_back("Content-Type", "application/json");
    req.body = std::move(body);
    req.freshConnection = true;
    aim::HttpResponse r = call(**http, std::move(req));
    Result<std::string> id = Status::error("");
    if (r.status == 201)
      id = aim::parseCreatedId(r.body);
    else if (r.status == 409)
      if (auto existing = aim::parseExistingId(r.body))
        id = *existing;
    if (!id.ok()) {
      std::fprintf(
          err, "%s: %s: AIM did not register it: %s\n", prog, s.name.c_str(),
          r.status == 0
              ? r.error.c_str()
              : ("HTTP " + std::to_string(r.status) + " " + aim::bodyExcerpt(r.body)).c_str());
      ++failed;
      continue;
    }
    rapidjson::Value entry(rapidjson::kObjectType);
    entry.AddMember("name", rapidjson::Value(s.name.c_str(), alloc), alloc);
    entry.AddMember("id", rapidjson::Value(id->c_str(), alloc), alloc);
    entry.AddMember("publicKey", rapidjson::Value(pub.c_str(), alloc), alloc);
    if (known.HasMember(url.c_str()))
      known[url.c_str()] = entry;
    else
      known.AddMember(rapidjson::Value(url.c_str(), alloc), entry, alloc);
    if (Status st = state.save(); !st.ok())
      std::fprintf(err, "%s: %s\n", prog, st.message().c_str());
    std::fprintf(out, "%s: registered%s\n   Server ID: %s\n   Public Key: %.32s...\n",
                 s.name.c_str(), r.status == 409 ? " (AIM knew its URL already)" : "", id->c_str(),
                 pub.c_str());
  }
  return failed ? 1 : 0;
}

} // namespace sidecar::app
