#include "mcp/jsonrpc.h"

#include <rapidjson/document.h>

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

} // namespace sidecar::mcp
