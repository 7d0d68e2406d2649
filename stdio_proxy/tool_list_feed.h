#pragma once
// Feeds the tools/list answers that pass through the stdio proxy (and its own) to the drift
// watch, page by page: a list is compared only once complete (docs/drift.md, "How it works").
//
// A first page (a request without `cursor`) starts a new list; a later page is added to the list
// being gathered. An answer the manifest cannot read — an error answer included — fails closed
// (DriftWatch::observeUnreadable), as in the serve bridge. Not thread-safe.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "drift/manifest.h"

namespace sidecar::watch {
class DriftWatch;
}

namespace sidecar::stdio_proxy {

class ToolListFeed {
public:
  // `watch` may be null: then nothing is fed. `onTools`, when set, gets the names of each
  // complete list (the metrics' tool labels).
  explicit ToolListFeed(watch::DriftWatch* watch,
                        std::function<void(const std::vector<std::string>&)> onTools = {})
      : watch_(watch), onTools_(std::move(onTools)) {}

  // One tools/list answer (the whole JSON-RPC response line). `laterPage`: its request carried a
  // cursor. Returns the list's `nextCursor` when more pages follow, else an empty string.
  std::string answer(std::string_view json, bool laterPage);

private:
  watch::DriftWatch* watch_;
  std::function<void(const std::vector<std::string>&)> onTools_;
  drift::ToolManifest manifest_;
  bool gathering_ = false; // a first page was seen and the list is not complete yet
};

// True when an initialize answer (the whole JSON-RPC response line) declares the `tools`
// capability: only then does the proxy ask for the tools itself.
bool declaresTools(std::string_view initializeAnswer);

} // namespace sidecar::stdio_proxy
