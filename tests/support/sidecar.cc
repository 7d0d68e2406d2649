#include "tests/support/sidecar.h"

#include <signal.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <string_view>

#include "tests/support/http_client.h"

#ifndef SIDECAR_SOURCE_DIR
#error "SIDECAR_SOURCE_DIR must be defined by the build (tests/support/CMakeLists.txt)"
#endif
#ifndef SIDECAR_BIN_PATH
#error "SIDECAR_BIN_PATH must be defined by the build (tests/support/CMakeLists.txt)"
#endif

namespace sidecar::test {
namespace {

constexpr auto kStartTimeout = std::chrono::seconds(10);

bool hasFlag(const std::vector<std::string>& args, const std::string& flag) {
  return std::any_of(args.begin(), args.end(), [&](const std::string& arg) {
    return arg == flag || arg.rfind(flag + "=", 0) == 0;
  });
}

// The port of `"field":"HOST:PORT"` in a JSON log line, or 0. Parsed by hand rather than with
// std::regex, whose construction trips GCC 12's -Wmaybe-uninitialized under -O2 + ASan.
uint16_t portField(std::string_view line, std::string_view field) {
  const std::string key = "\"" + std::string(field) + "\":\"";
  size_t start = line.find(key);
  if (start == std::string_view::npos)
    return 0;
  start += key.size();
  size_t end = line.find('"', start);
  if (end == std::string_view::npos)
    return 0;
  std::string_view address = line.substr(start, end - start);
  size_t colon = address.rfind(':');
  if (colon == std::string_view::npos)
    return 0;
  std::string_view digits = address.substr(colon + 1);
  unsigned long port = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || port > 65535)
    return 0;
  return static_cast<uint16_t>(port);
}

// Parses "listening <port>" as upstream.mjs prints it; 0 if the line is anything else.
uint16_t upstreamPort(std::string_view line) {
  constexpr std::string_view kPrefix = "listening ";
  if (line.substr(0, kPrefix.size()) != kPrefix)
    return 0;
  std::string_view digits = line.substr(kPrefix.size());
  unsigned long port = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || port > 65535)
    return 0;
  return static_cast<uint16_t>(port);
}

// Adds a failure explaining why `proc` did not come up, with its output, and suppresses the
// dump its destructor would print.
void failStartup(Process& proc, const std::string& what, std::chrono::milliseconds waited) {
  // Its pipes reach EOF a moment before the exit status can be collected: allow for that.
  std::optional<int> status = proc.waitExit(std::chrono::seconds(1));
  std::string why = status ? Process::describeStatus(*status)
                           : "no listening line within " + std::to_string(waited.count()) + " ms";
  ADD_FAILURE() << what << " did not start (" << why << ")\n" << proc.dumpText();
  proc.markDumped();
}

std::optional<int> stopProcess(Process& proc, std::chrono::milliseconds timeout) {
  proc.sendSignal(SIGTERM);
  return proc.waitExit(timeout);
}

} // namespace

std::string SidecarProcess::binaryPath() {
  const char* fromEnv = std::getenv("MCP_SIDECAR_BIN");
  if (fromEnv != nullptr && *fromEnv != '\0')
    return fromEnv;
  return SIDECAR_BIN_PATH;
}

SidecarProcessPtr SidecarProcess::start(std::vector<std::string> extraArgs,
                                        std::vector<std::pair<std::string, std::string>> env) {
  std::vector<std::string> argv = {binaryPath(), "serve"};
  if (!hasFlag(extraArgs, "--listen"))
    argv.insert(argv.end(), {"--listen", "127.0.0.1:0"});
  if (!hasFlag(extraArgs, "--admin"))
    argv.insert(argv.end(), {"--admin", "127.0.0.1:0"});
  if (!hasFlag(extraArgs, "--log-level"))
    argv.insert(argv.end(), {"--log-level", "info"});
  if (!hasFlag(extraArgs, "--state-dir")) {
    // Its own state (key, audit trail) per sidecar: tests run in parallel.
    std::string tmpl = ::testing::TempDir() + "/mcp-sidecar-state-XXXXXX";
    if (char* dir = mkdtemp(tmpl.data()))
      argv.insert(argv.end(), {"--state-dir", dir});
  }
  argv.insert(argv.end(), extraArgs.begin(), extraArgs.end());

  auto sidecar = std::make_unique<SidecarProcess>();
  sidecar->proc_ = Process::spawn(std::move(argv), std::move(env));
  if (!sidecar->proc_)
    return nullptr; // spawn() added the failure

  const auto timeout = scaled(kStartTimeout);
  std::optional<std::string> line =
      sidecar->proc_->waitForOutput("\"msg\":\"listening\"", Stream::Stderr, timeout);
  if (!line) {
    failStartup(*sidecar->proc_, "mcp-sidecar", timeout);
    return nullptr;
  }
  sidecar->port_ = portField(*line, "listen");
  sidecar->adminPort_ = portField(*line, "admin");
  if (sidecar->port_ == 0) {
    ADD_FAILURE() << "mcp-sidecar's listening line has no \"listen\":\"HOST:PORT\": " << *line;
    return nullptr;
  }
  return sidecar;
}

std::optional<int> SidecarProcess::stop(std::chrono::milliseconds timeout) {
  return stopProcess(*proc_, timeout);
}

std::string UpstreamProcess::scriptPath() {
  return std::string(SIDECAR_SOURCE_DIR) + "/tests/support/upstream.mjs";
}

UpstreamProcessPtr UpstreamProcess::start(uint16_t port) {
  const char* node = std::getenv("MCP_SIDECAR_NODE");
  std::vector<std::string> argv = {node != nullptr && *node != '\0' ? node : "node", scriptPath(),
                                   "--port", std::to_string(port)};
  auto upstream = std::make_unique<UpstreamProcess>();
  upstream->proc_ = Process::spawn(std::move(argv));
  if (!upstream->proc_)
    return nullptr;

  const auto timeout = scaled(kStartTimeout);
  std::optional<std::string> line =
      upstream->proc_->waitForOutput("listening ", Stream::Stdout, timeout);
  if (!line) {
    failStartup(*upstream->proc_, "upstream.mjs", timeout);
    return nullptr;
  }
  uint16_t got = upstreamPort(*line);
  if (got == 0 || (port != 0 && got != port)) {
    ADD_FAILURE() << "upstream.mjs reported a bad port: " << *line;
    return nullptr;
  }
  upstream->port_ = got;
  return upstream;
}

std::optional<int> UpstreamProcess::stop(std::chrono::milliseconds timeout) {
  return stopProcess(*proc_, timeout);
}

} // namespace sidecar::test
