#pragma once
// The sidecar's own MCP session with an HTTP upstream, to learn what the server says of itself:
// initialize, then tools/list (every page), resources/list and prompts/list when the server
// declares them, then DELETE of the session. The capabilities document, AIM's registration, the
// metrics' tool labels and drift detection read the result (docs/drift.md, docs/aim.md).
//
// Runs on a thread of its own with libcurl (blocking easy handles are the simple, correct tool
// for a handful of sequential requests off the request path). Lists at start, retrying with
// backoff (1 s doubling to 30 s) until the upstream answers, then every `refresh`, and at once
// after refreshNow() (a tools/list answer seen in passing traffic), at most every 0.5 s.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/status.h"
#include "drift/manifest.h"

namespace sidecar::discovery {

struct Listing {
  std::string initializeResult; // JSON text of the InitializeResult
  std::string tools = "[]";     // JSON arrays, every page merged
  std::string resources = "[]";
  std::string prompts = "[]";
  drift::ToolManifest manifest; // the tools as drift reads them
  std::string manifestError;    // a tool page drift could not read ("" = none)
  // The resources and prompts as drift reads them, when the server declares them (else nullopt),
  // and why a page could not be read ("" = none).
  std::optional<drift::DefinitionManifest> resourceManifest;
  std::string resourceManifestError;
  std::optional<drift::DefinitionManifest> promptManifest;
  std::string promptManifestError;
};

struct ListerOptions {
  std::string url;       // the upstream's MCP endpoint, http://host:port/path
  std::string userAgent; // e.g. "mcp-sidecar/0.1.0"
  std::string version;   // clientInfo.version
  std::chrono::milliseconds refresh{60000};
  std::chrono::milliseconds timeout{10000}; // per request
  // Called on the lister's thread after each complete listing.
  std::function<void(const Listing&)> onListing;
};

class HttpLister {
public:
  explicit HttpLister(ListerOptions options);
  ~HttpLister(); // stop()
  HttpLister(const HttpLister&) = delete;
  HttpLister& operator=(const HttpLister&) = delete;

  void start();
  void stop();
  // Any thread: list again now.
  void refreshNow();

  // One listing, on the calling thread (tests, and the thread's loop). Errors say which request
  // failed and how.
  static Result<Listing> listOnce(const ListerOptions& options);

private:
  void run();

  const ListerOptions options_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool poked_ = false;
};

} // namespace sidecar::discovery
