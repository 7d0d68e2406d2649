#include "app/drift_command.h"

#include <curl/curl.h>

#include <CLI/CLI.hpp>
#include <cstdio>

namespace sidecar::app {

CLI::App* addDriftCommand(CLI::App& app, DriftAcceptOptions& o) {
  CLI::App* drift = app.add_subcommand("drift", "Tool-definition drift (docs/drift.md).");
  drift->require_subcommand(1);
  CLI::App* accept = drift->add_subcommand(
      "accept", "Ask the running sidecar to take the server's current tool definitions as the\n"
                "new baseline (after reviewing the change it reported).");
  accept->add_option("--admin", o.admin, "the sidecar's admin address (HOST:PORT)")
      ->capture_default_str();
  return accept;
}

namespace {
size_t collect(char* p, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, size * n);
  return size * n;
}
} // namespace

int runDriftAccept(const DriftAcceptOptions& o) {
  CURL* c = curl_easy_init();
  if (!c) {
    std::fprintf(stderr, "mcp-sidecar drift accept: cannot initialise libcurl\n");
    return 1;
  }
  std::string url = "http://" + o.admin + "/drift/accept", body;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(c);
  if (rc != CURLE_OK) {
    std::fprintf(stderr,
                 "mcp-sidecar drift accept: cannot reach the sidecar's admin port at %s: %s "
                 "(is it running? pass --admin HOST:PORT as given to serve --admin)\n",
                 o.admin.c_str(), curl_easy_strerror(rc));
    return 1;
  }
  if (status / 100 != 2) {
    std::fprintf(stderr, "mcp-sidecar drift accept: the sidecar answered %ld: %s", status,
                 body.c_str());
    return 1;
  }
  std::fputs(body.c_str(), stdout);
  return 0;
}

} // namespace sidecar::app
