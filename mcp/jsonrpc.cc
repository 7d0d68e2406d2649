#include "mcp/jsonrpc.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace sidecar::mcp {

namespace {
// Member lookups use HasMember: comparing RapidJSON member iterators is ambiguous under clang's
// C++20 rules (-Wambiguous-reversed-operator).
void collect(const rapidjson::Value& msg, std::vector<std::string>& out) {
  if (!msg.IsObject() || !msg.HasMember("method"))
    return;
  const rapidjson::Value& method = msg["method"];
  if (!method.IsString() ||
      std::string_view(method.GetString(), method.GetStringLength()) != "tools/call")
    return;
  std::string name;
  if (msg.HasMember("params") && msg["params"].IsObject() && msg["params"].HasMember("name") &&
      msg["params"]["name"].IsString())
    name.assign(msg["params"]["name"].GetString(), msg["params"]["name"].GetStringLength());
  out.push_back(std::move(name));
}
} // namespace

std::vector<std::string> toolCallNames(std::string_view body) {
  std::vector<std::string> out;
  // Cheap pre-check: most bodies are not tool calls.
  if (body.find("tools/call") == std::string_view::npos)
    return out;
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError())
    return out;
  if (doc.IsArray()) {
    for (rapidjson::SizeType i = 0; i < doc.Size(); ++i)
      collect(doc[i], out);
  } else {
    collect(doc, out);
  }
  return out;
}

std::string errorResponse(std::string_view idJson, int code, std::string_view message,
                          std::string_view reason, std::string_view detail) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("jsonrpc");
  w.String("2.0");
  w.Key("id");
  if (idJson.empty())
    w.Null();
  else
    w.RawValue(idJson.data(), idJson.size(), rapidjson::kNumberType);
  w.Key("error");
  w.StartObject();
  w.Key("code");
  w.Int(code);
  w.Key("message");
  w.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  if (!reason.empty() || !detail.empty()) {
    w.Key("data");
    w.StartObject();
    if (!reason.empty()) {
      w.Key("reason");
      w.String(reason.data(), static_cast<rapidjson::SizeType>(reason.size()));
    }
    if (!detail.empty()) {
      w.Key("detail");
      w.String(detail.data(), static_cast<rapidjson::SizeType>(detail.size()));
    }
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string cursorParams(std::string_view cursor) {
  if (cursor.empty())
    return {};
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(cursor.data(), static_cast<rapidjson::SizeType>(cursor.size()));
  return "{\"cursor\":" + std::string(buf.GetString(), buf.GetSize()) + "}";
}

std::string listRequest(std::string_view idJson, std::string_view method, std::string_view cursor) {
  std::string req = "{\"jsonrpc\":\"2.0\",\"id\":";
  req += idJson;
  req += ",\"method\":\"";
  req += method;
  req += '"';
  if (!cursor.empty())
    req += ",\"params\":" + cursorParams(cursor);
  req += '}';
  return req;
}

} // namespace sidecar::mcp
