#include "aim/wire.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>

namespace sidecar::aim {

namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

std::string upperAscii(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string signBase64(const verifier::PrivateKey& key, std::string_view message) {
  verifier::Signature sig = verifier::sign(key, message);
  return verifier::base64(sig);
}

std::string publicKeyBase64(const verifier::PublicKey& key) {
  return verifier::base64(key.bytes);
}

void putString(JsonWriter& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void putKey(JsonWriter& w, std::string_view s) {
  w.Key(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// Python's json.dumps with ensure_ascii, restricted to what Go's encoder writes identically:
// printable ASCII, where only '"' and '\' are escaped.
Status appendPythonString(std::string& out, std::string_view s, std::string_view field) {
  out.push_back('"');
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c > 0x7e)
      return Status::error("the AIM verification field " + std::string(field) +
                           " holds a character outside printable ASCII (byte " + std::to_string(c) +
                           "): Python and Go serialise it differently, so AIM could not check "
                           "the signature (aim-wire.md §5.1)");
    if (ch == '"' || ch == '\\')
      out.push_back('\\');
    out.push_back(ch);
  }
  out.push_back('"');
  return {};
}

constexpr int64_t kMaxSafeInteger = int64_t{1} << 53;

bool getString(const rapidjson::Value& obj, const char* camel, const char* snake,
               std::string& out) {
  for (const char* name : {camel, snake}) {
    if (name == nullptr || !obj.HasMember(name))
      continue;
    const rapidjson::Value& v = obj[name];
    if (v.IsString()) {
      out.assign(v.GetString(), v.GetStringLength());
      return true;
    }
  }
  return false;
}

bool getNumber(const rapidjson::Value& obj, const char* camel, const char* snake, double& out) {
  for (const char* name : {camel, snake}) {
    if (name == nullptr || !obj.HasMember(name))
      continue;
    const rapidjson::Value& v = obj[name];
    if (v.IsNumber()) {
      out = v.GetDouble();
      return true;
    }
  }
  return false;
}

bool parseObject(std::string_view body, rapidjson::Document& doc) {
  doc.Parse(body.data(), body.size());
  return !doc.HasParseError() && doc.IsObject();
}

} // namespace

std::string agentRequestMessage(std::string_view method, std::string_view target,
                                int64_t unixSeconds, std::string_view body) {
  std::string m = upperAscii(method);
  m += '\n';
  m += target;
  m += '\n';
  m += std::to_string(unixSeconds);
  if (!body.empty()) {
    m += '\n';
    m += body;
  }
  return m;
}

HeaderList agentRequestHeaders(const verifier::PrivateKey& key, std::string_view agentId,
                               std::string_view method, std::string_view target,
                               int64_t unixSeconds, std::string_view body) {
  std::string message = agentRequestMessage(method, target, unixSeconds, body);
  return {{"X-Agent-ID", std::string(agentId)},
          {"X-Timestamp", std::to_string(unixSeconds)},
          {"X-Signature", signBase64(key, message)},
          {"X-Public-Key", publicKeyBase64(key.pub)}};
}

std::string pollMessage(std::string_view verificationId, std::string_view agentId,
                        int64_t unixSeconds) {
  return "GET\n/api/v1/sdk-api/verifications/" + lowerAscii(verificationId) + "\n" +
         lowerAscii(agentId) + "\n" + std::to_string(unixSeconds);
}

HeaderList pollHeaders(const verifier::PrivateKey& key, std::string_view verificationId,
                       std::string_view agentId, int64_t unixSeconds) {
  return {{"X-AIM-Agent-ID", lowerAscii(agentId)},
          {"X-AIM-Timestamp", std::to_string(unixSeconds)},
          {"X-AIM-Signature", signBase64(key, pollMessage(verificationId, agentId, unixSeconds))}};
}

Result<std::string> legacyVerificationMessage(const VerificationRequest& request) {
  // Keys of the signed object in sorted order: action_type, agent_id, context, resource,
  // timestamp.
  std::string out = "{\"action_type\": ";
  if (Status st = appendPythonString(out, request.capability, "capability"); !st.ok())
    return st;
  out += ", \"agent_id\": ";
  if (Status st = appendPythonString(out, request.agentId, "agentId"); !st.ok())
    return st;
  out += ", \"context\": {";
  std::vector<const std::pair<std::string, ContextValue>*> entries;
  entries.reserve(request.context.size());
  for (const auto& entry : request.context)
    entries.push_back(&entry);
  std::sort(entries.begin(), entries.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& [name, value] = *entries[i];
    if (i > 0) {
      if (entries[i - 1]->first == name)
        return Status::error("the AIM verification context has the key \"" + name + "\" twice");
      out += ", ";
    }
    if (Status st = appendPythonString(out, name, "context key"); !st.ok())
      return st;
    out += ": ";
    if (const auto* text = std::get_if<std::string>(&value)) {
      if (Status st = appendPythonString(out, *text, "context." + name); !st.ok())
        return st;
    } else {
      int64_t n = std::get<int64_t>(value);
      if (n > kMaxSafeInteger || n < -kMaxSafeInteger)
        return Status::error("the AIM verification context value " + name + " = " +
                             std::to_string(n) +
                             " is beyond ±2^53: Go reads it as a float64 and would sign "
                             "different digits (aim-wire.md §5.1)");
      out += std::to_string(n);
    }
  }
  out += "}, \"resource\": ";
  if (request.resource && !request.resource->empty()) {
    if (Status st = appendPythonString(out, *request.resource, "resource"); !st.ok())
      return st;
  } else {
    out += "null";
  }
  out += ", \"timestamp\": ";
  if (Status st = appendPythonString(out, request.timestamp, "timestamp"); !st.ok())
    return st;
  out += "}";
  return out;
}

Result<std::string> legacyVerificationBody(const verifier::PrivateKey& key,
                                           const VerificationRequest& request) {
  auto message = legacyVerificationMessage(request);
  if (!message.ok())
    return message.status();
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  putKey(w, "agentId");
  putString(w, request.agentId);
  putKey(w, "capability");
  putString(w, request.capability);
  putKey(w, "resource");
  if (request.resource && !request.resource->empty())
    putString(w, *request.resource);
  else
    w.Null();
  putKey(w, "context");
  w.StartObject();
  for (const auto& [name, value] : request.context) {
    putKey(w, name);
    if (const auto* text = std::get_if<std::string>(&value))
      putString(w, *text);
    else
      w.Int64(std::get<int64_t>(value));
  }
  w.EndObject();
  putKey(w, "timestamp");
  putString(w, request.timestamp);
  if (!request.riskLevel.empty()) {
    putKey(w, "riskLevel");
    putString(w, request.riskLevel);
  }
  putKey(w, "signature");
  putString(w, signBase64(key, *message));
  putKey(w, "publicKey");
  putString(w, publicKeyBase64(key.pub));
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string pythonUtcTimestamp(std::chrono::system_clock::time_point when) {
  auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(when.time_since_epoch()).count();
  int64_t secs = micros / 1000000;
  int64_t frac = micros % 1000000;
  if (frac < 0) {
    frac += 1000000;
    --secs;
  }
  time_t t = static_cast<time_t>(secs);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf, n);
  if (frac != 0) {
    char f[16];
    snprintf(f, sizeof f, ".%06lld", static_cast<long long>(frac));
    out += f;
  }
  out += 'Z';
  return out;
}

std::string rfc3339Utc(std::chrono::system_clock::time_point when) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count();
  int64_t secs = ms / 1000;
  int64_t frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    --secs;
  }
  time_t t = static_cast<time_t>(secs);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char f[16];
  snprintf(f, sizeof f, ".%03lldZ", static_cast<long long>(frac));
  return std::string(buf, n) + f;
}

Result<ChallengeAnswer> answerChallenge(const verifier::PrivateKey& key,
                                        std::string_view requestBody) {
  rapidjson::Document doc;
  if (!parseObject(requestBody, doc))
    return Status::error("the AIM challenge body is not a JSON object");
  ChallengeAnswer answer;
  if (!getString(doc, "challenge", nullptr, answer.challenge) || answer.challenge.empty())
    return Status::error("the AIM challenge body has no \"challenge\" string");
  getString(doc, "server_id", "serverId", answer.serverId);
  std::string sig = signBase64(key, answer.challenge);
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  putKey(w, "signedChallenge");
  putString(w, sig);
  putKey(w, "signed_challenge");
  putString(w, sig);
  w.EndObject();
  answer.body.assign(buf.GetString(), buf.GetSize());
  return answer;
}

std::string agentRegistrationBody(const AgentRegistration& agent,
                                  const verifier::PublicKey& publicKey) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  putKey(w, "name");
  putString(w, agent.name);
  putKey(w, "displayName");
  putString(w, agent.displayName.empty() ? agent.name : agent.displayName);
  putKey(w, "description");
  putString(w, agent.description);
  putKey(w, "agentType");
  putString(w, agent.agentType);
  putKey(w, "version");
  putString(w, agent.version);
  putKey(w, "capabilities");
  w.StartArray();
  w.EndArray();
  putKey(w, "talksTo");
  w.StartArray();
  w.EndArray();
  putKey(w, "metadata");
  w.StartObject();
  w.EndObject();
  putKey(w, "publicKey");
  putString(w, publicKeyBase64(publicKey));
  if (!agent.declaredPurpose.empty()) {
    putKey(w, "declaredPurpose");
    putString(w, agent.declaredPurpose);
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string mcpServerRegistrationBody(const McpServerRegistration& server,
                                      const verifier::PublicKey& publicKey,
                                      std::string_view agentId) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  putKey(w, "name");
  putString(w, server.name);
  putKey(w, "description");
  putString(w, server.description);
  putKey(w, "url");
  putString(w, server.url);
  putKey(w, "version");
  putString(w, server.version);
  putKey(w, "publicKey");
  putString(w, publicKeyBase64(publicKey));
  if (!server.verificationUrl.empty()) {
    putKey(w, "verificationUrl");
    putString(w, server.verificationUrl);
  }
  putKey(w, "capabilities");
  w.StartArray();
  for (const std::string& c : server.capabilities)
    putString(w, c);
  w.EndArray();
  putKey(w, "registeredByAgent");
  putString(w, agentId);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string usageReportBody(std::string_view agentId, std::string_view reportedAt,
                            std::string_view serverId, const UsageTotals& totals) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  putKey(w, "agentId");
  putString(w, agentId);
  putKey(w, "reportedAt");
  putString(w, reportedAt);
  putKey(w, "mcpServers");
  w.StartObject();
  putKey(w, serverId);
  w.StartObject();
  putKey(w, "toolUsage");
  w.StartObject();
  for (const auto& [tool, usage] : totals) {
    putKey(w, tool);
    w.StartObject();
    putKey(w, "count");
    w.Uint64(usage.count);
    putKey(w, "firstUsed");
    putString(w, usage.firstUsed);
    putKey(w, "lastUsed");
    putString(w, usage.lastUsed);
    w.EndObject();
  }
  w.EndObject();
  putKey(w, "capabilitiesAttested");
  w.StartArray();
  w.EndArray();
  w.EndObject();
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string executionStatusBody(bool executed, std::string_view executedAt,
                                std::string_view executionError) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  putKey(w, "executed");
  w.Bool(executed);
  if (!executedAt.empty()) {
    putKey(w, "executedAt");
    putString(w, executedAt);
  }
  if (!executionError.empty()) {
    putKey(w, "executionError");
    putString(w, executionError);
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

Result<std::string> parseCreatedId(std::string_view body) {
  rapidjson::Document doc;
  if (!parseObject(body, doc))
    return Status::error("the answer is not a JSON object");
  std::string id;
  if (!getString(doc, "id", nullptr, id) || id.empty())
    return Status::error("the answer has no \"id\"");
  return id;
}

std::optional<std::string> parseExistingId(std::string_view body) {
  rapidjson::Document doc;
  if (!parseObject(body, doc))
    return std::nullopt;
  std::string id;
  if (!getString(doc, "existingId", "existing_id", id) || id.empty())
    return std::nullopt;
  return id;
}

Result<VerificationAnswer> parseVerificationAnswer(std::string_view body) {
  rapidjson::Document doc;
  if (!parseObject(body, doc))
    return Status::error("the verification answer is not a JSON object");
  VerificationAnswer a;
  if (!getString(doc, "status", nullptr, a.status))
    return Status::error("the verification answer has no \"status\"");
  getString(doc, "id", nullptr, a.id);
  getString(doc, "approvedBy", "approved_by", a.approvedBy);
  getString(doc, "expiresAt", "expires_at", a.expiresAt);
  getString(doc, "denialReason", "denial_reason", a.denialReason);
  getString(doc, "enforcementMode", "enforcement_mode", a.enforcementMode);
  getNumber(doc, "trustScore", "trust_score", a.trustScore);
  return a;
}

HeartbeatAnswer parseHeartbeatAnswer(std::string_view body) {
  HeartbeatAnswer a;
  rapidjson::Document doc;
  if (!parseObject(body, doc))
    return a;
  getString(doc, "status", nullptr, a.status);
  getNumber(doc, "trustScore", "trust_score", a.trustScore);
  return a;
}

Result<std::vector<std::string>> parseRevocationList(std::string_view body) {
  rapidjson::Document doc;
  if (!parseObject(body, doc))
    return Status::error("the revocation list is not a JSON object");
  if (!doc.HasMember("revocations") || !doc["revocations"].IsArray())
    return Status::error("the revocation list has no \"revocations\" array");
  const rapidjson::Value& list = doc["revocations"];
  std::vector<std::string> ids;
  for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
    if (!list[i].IsObject())
      continue;
    std::string id;
    if (getString(list[i], "agentId", "agent_id", id) && !id.empty())
      ids.push_back(lowerAscii(id));
  }
  return ids;
}

std::optional<std::chrono::seconds> parseRetryAfter(std::string_view value,
                                                    std::chrono::system_clock::time_point now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
    value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
    value.remove_suffix(1);
  if (value.empty())
    return std::nullopt;
  if (std::all_of(value.begin(), value.end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    if (value.size() > 9)
      return std::chrono::seconds(999999999);
    return std::chrono::seconds(std::stoll(std::string(value)));
  }
  // IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
  struct tm tm {};
  std::string text(value);
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0')
    return std::nullopt;
  time_t at = timegm(&tm);
  auto delta = std::chrono::system_clock::from_time_t(at) - now;
  auto secs = std::chrono::ceil<std::chrono::seconds>(delta);
  return secs.count() > 0 ? secs : std::chrono::seconds(0);
}

bool isUuid(std::string_view text) {
  if (text.size() != 36)
    return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-')
        return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(text[i]))) {
      return false;
    }
  }
  return true;
}

std::string lowerAscii(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string bodyExcerpt(std::string_view body, size_t limit) {
  std::string out;
  bool cut = body.size() > limit;
  if (cut)
    body = body.substr(0, limit);
  out.reserve(body.size() + 3);
  for (char ch : body) {
    auto c = static_cast<unsigned char>(ch);
    out.push_back(c < 0x20 || c == 0x7f ? ' ' : ch);
  }
  if (cut)
    out += "…";
  if (out.empty())
    out = "(empty body)";
  return out;
}

} // namespace sidecar::aim
