#pragma once
// What the proxy asks of the parts of the sidecar it does not own: the documents the sidecar
// serves itself on the MCP port, and the per-call policy that AIM drives (gated tools, usage,
// revocation). Implemented in discovery/ and app/; the proxy only sees these interfaces. Every
// function may be called from any worker thread.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sidecar::proxy {

// A complete answer the sidecar gives itself.
struct LocalAnswer {
  int status = 200;
  std::string headers; // complete "Name: value\r\n" lines, Content-Type included
  std::string body;
};

class LocalEndpoints {
public:
  virtual ~LocalEndpoints() = default;
  // Whether the sidecar answers `method` (GET, HEAD, POST …) on `path` (no query) itself. Such a
  // request is never gated and never forwarded.
  virtual bool serves(std::string_view method, std::string_view path) const = 0;
  // The answer. `nonce` and `requestSignature` are the request's X-MCP-Nonce and
  // X-MCP-Signature ("" when absent): the answer is signed over them (signing contract §6).
  virtual LocalAnswer answer(std::string_view method, std::string_view path, std::string_view body,
                             std::string_view nonce, std::string_view requestSignature) = 0;
};

struct ApprovalOutcome {
  bool approved = false;
  std::string reason;         // why not, for the caller and the log
  std::string verificationId; // AIM's id, "" when AIM never answered
};

class CallPolicy {
public:
  virtual ~CallPolicy() = default;
  // Whether calls of `tool` need approval first (--gate).
  virtual bool gated(std::string_view tool) const = 0;
  // Asks for approval of one call. `done` runs exactly once, on some other thread, unless an
  // error is returned (then never; the error says why the call cannot be approved).
  virtual Result<uint64_t> requestApproval(std::string_view tool, std::string_view callId,
                                           std::string_view caller,
                                           std::function<void(ApprovalOutcome)> done) = 0;
  // The caller went away: `done` will not run.
  virtual void cancelApproval(uint64_t id) = 0;
  // After an approved call was forwarded: its outcome, reported to AIM. `error` "" = none.
  virtual void executed(std::string_view verificationId, bool ok, std::string_view error) = 0;
  // A tools/call of `tool` was forwarded (usage counts).
  virtual void toolCalled(std::string_view tool) = 0;
  // Whether AIM's revocation list names this AIM agent id.
  virtual bool revoked(std::string_view aimAgentId) const = 0;
};

} // namespace sidecar::proxy
