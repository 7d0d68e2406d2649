#pragma once
// The processes integration tests run: the mcp-sidecar binary and the Node fake upstream
// (tests/support/upstream.mjs). Both bind port 0 and report the ports they got, so tests run in
// parallel without port clashes. Startup waits are scaled by MCP_SIDECAR_TEST_TIMEOUT_SCALE.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/process.h"

namespace sidecar::test {

struct SidecarProcess;
using SidecarProcessPtr = std::unique_ptr<SidecarProcess>;

struct SidecarProcess {
  // The binary: $MCP_SIDECAR_BIN when set and non-empty, else the build's mcp-sidecar.
  static std::string binaryPath();

  // Runs `<bin> serve --listen 127.0.0.1:0 --admin 127.0.0.1:0 --log-level info <extraArgs>`
  // (a default is left out when extraArgs sets that flag itself) with `env` added to the
  // environment, and waits up to scaled(10 s) for the stderr log line with "msg":"listening",
  // whose "listen" and "admin" fields ("127.0.0.1:PORT") give port() and adminPort().
  // Returns nullptr after adding a test failure with the process's output if it exits, times
  // out, or the line lacks a listen address.
  static SidecarProcessPtr start(std::vector<std::string> extraArgs,
                                 std::vector<std::pair<std::string, std::string>> env = {});

  uint16_t port() const { return port_; }
  // 0 if the listening line had no admin address.
  uint16_t adminPort() const { return adminPort_; }
  // "127.0.0.1:PORT" of the proxy listener.
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  Process& proc() { return *proc_; }

  // Sends SIGTERM and waits up to `timeout` for the exit; returns the wait status or nullopt.
  std::optional<int> stop(std::chrono::milliseconds timeout);

  ProcessPtr proc_;
  uint16_t port_ = 0;
  uint16_t adminPort_ = 0;
};

struct UpstreamProcess;
using UpstreamProcessPtr = std::unique_ptr<UpstreamProcess>;

struct UpstreamProcess {
  // Path of upstream.mjs in the source tree.
  static std::string scriptPath();

  // Runs `node upstream.mjs --port <port>` ($MCP_SIDECAR_NODE overrides "node") and waits up to
  // scaled(10 s) for "listening <port>" on stdout. `port` 0 picks an ephemeral port; a fixed one
  // lets a test restart an upstream where the proxy expects it. Returns nullptr after adding a
  // test failure with the output if it does not come up.
  static UpstreamProcessPtr start(uint16_t port = 0);

  uint16_t port() const { return port_; }
  // "127.0.0.1:PORT", the form upstream flags take.
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  Process& proc() { return *proc_; }

  // Sends SIGTERM and waits up to `timeout` for the exit; returns the wait status or nullopt.
  std::optional<int> stop(std::chrono::milliseconds timeout);

  ProcessPtr proc_;
  uint16_t port_ = 0;
};

} // namespace sidecar::test
