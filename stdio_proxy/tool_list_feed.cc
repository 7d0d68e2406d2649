#include "stdio_proxy/tool_list_feed.h"

#include <rapidjson/document.h>

#include "watch/drift_watch.h"

namespace sidecar::stdio_proxy {

std::string ToolListFeed::answer(std::string_view json, bool laterPage) {
  if (!watch_ && !onTools_)
    return {};
  if (!laterPage) {
    manifest_ = drift::ToolManifest();
    gathering_ = true;
  } else if (!gathering_) {
    return {}; // a later page of a list whose first page was not seen: nothing to compare
  }
  if (Status st = manifest_.addPage(json); !st.ok()) {
    gathering_ = false;
    if (watch_)
      watch_->observeUnreadable(st.message());
    return {};
  }
  if (!manifest_.complete())
    return *manifest_.nextCursor();
  gathering_ = false;
  if (onTools_) {
    std::vector<std::string> names;
    for (const auto& [name, def] : manifest_.tools())
      names.push_back(name);
    onTools_(names);
  }
  if (watch_)
    watch_->observe(manifest_);
  return {};
}

bool declaresTools(std::string_view initializeAnswer) {
  rapidjson::Document d;
  d.Parse(initializeAnswer.data(), initializeAnswer.size());
  if (d.HasParseError() || !d.IsObject())
    return false;
  const rapidjson::Value& view = d; // const iterators: unambiguous under C++20
  auto r = view.FindMember("result");
  if (r == view.MemberEnd() || !r->value.IsObject())
    return false;
  auto c = r->value.FindMember("capabilities");
  return c != r->value.MemberEnd() && c->value.IsObject() && c->value.HasMember("tools");
}

} // namespace sidecar::stdio_proxy
