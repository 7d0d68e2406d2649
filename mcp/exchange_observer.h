#pragma once
// What the sidecar learns from one MCP exchange it passes through unchanged (HTTP upstream): the
// request's method, tool and id, and from the answer — JSON or an SSE stream — the outcome of that
// request (result, isError, JSON-RPC error). Bytes are only looked at, never changed.
//
// The answer arrives in pieces. A JSON answer that arrives in one piece is scanned in place; one
// that arrives in several is gathered first (RapidJSON's reader needs contiguous input), up to
// kMaxGathered, beyond which the outcome is reported as unknown rather than buffering without
// bound. SSE is read line by line and only the data of events is kept, one event at a time.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mcp/message_scan.h"

namespace sidecar::mcp {

class ExchangeObserver {
public:
  static constexpr size_t kMaxGathered = 1 << 20;

  // The request body. False when it is not a single JSON-RPC request (nothing to observe).
  bool request(std::string_view body, bool keepArgs);
  // The answer's head: its status and Content-Type; `length` when Content-Length is known.
  void head(int status, std::string_view contentType, std::optional<uint64_t> length);
  // A piece of the answer's body.
  void body(std::string_view piece);
  // The answer is complete.
  void end();

  bool observing() const { return observing_; }
  const std::string& method() const { return method_; }
  const std::string& tool() const { return tool_; }
  const std::string& rpcId() const { return rpcId_; }
  std::optional<std::string>& args() { return args_; }
  // The request's facts, moved out for its audit record (the last use of them: the next
  // request() sets them again).
  std::string takeMethod() { return std::move(method_); }
  std::string takeTool() { return std::move(tool_); }
  std::string takeRpcId() { return std::move(rpcId_); }
  // ok, tool_error, rpc_error, upstream_error (an HTTP error status), or unknown.
  const std::string& outcome() const { return outcome_; }
  // The answer to the request has been seen (the rest of the body cannot change the outcome).
  bool decided() const { return decided_; }
  const std::string& reason() const { return reason_; }
  // The tool names of a tools/list answer (the metrics' `tool` label set).
  const std::vector<std::string>& listedTools() const { return listedTools_; }

private:
  void judge(std::string_view message);
  void sseBytes(std::string_view piece);
  void sseLine(std::string_view line);

  bool observing_ = false;
  std::string method_, tool_, rpcId_;
  std::optional<std::string> args_;
  std::string outcome_ = "unknown", reason_;
  bool decided_ = false;
  enum class Body { Other, Json, Sse } kind_ = Body::Other;
  std::optional<uint64_t> length_;
  std::string gathered_; // a JSON answer in pieces
  bool overflow_ = false;
  std::string line_;      // the SSE line being read
  std::string eventData_; // the data of the SSE event being read
  bool lastWasCr_ = false;
  std::vector<std::string> listedTools_;
};

} // namespace sidecar::mcp
