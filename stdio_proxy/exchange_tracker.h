#pragma once
// Pairs the client's requests with the server's answers as they pass through the stdio proxy, to
// make one audit record (and one metrics observation) per exchange. Messages are only looked at
// (mcp::scanMessage, no document built); their bytes are never changed.
//
// Requests are matched by the exact text of their id (`7` and `"7"` are different requests). The
// number of requests waiting is bounded (kMaxInflight): beyond it new requests pass unrecorded
// and are counted, so a client that never gets answers cannot grow the map without bound.
// Not thread-safe; time is passed in (monotonic nanoseconds) so that tests need no clock.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "audit/record.h"
#include "mcp/message_scan.h"

namespace sidecar::stdio_proxy {

// One request and what became of it.
struct Exchange {
  std::string rpcId; // the id's JSON text as the client sent it
  std::string method;
  std::string tool;                // params.name of tools/call
  std::optional<std::string> args; // params.arguments, exact bytes
  bool cursor = false;             // params.cursor was given (a later page of a list)
  uint64_t bytesIn = 0;            // the request line's bytes (without the newline)
  uint64_t bytesOut = 0;           // the answer line's bytes
  double latencyMs = 0;
  std::string outcome; // ok, tool_error, rpc_error, upstream_error, rejected
  std::string reason;  // the JSON-RPC error code, or why there was no answer
  // AIM's id of the approval of a gated call (--gate): its outcome is reported to AIM. "" = none.
  std::string verificationId;
};

class ExchangeTracker {
public:
  static constexpr size_t kMaxInflight = 10000;

  // A request of the client, about to be forwarded. `m` is scanMessage(line) with kind Request;
  // `nowNs` is when it arrived; `verificationId` is AIM's approval of a gated call ("" = none),
  // handed back with the exchange. False when it is not tracked (the id is already waiting, or the
  // map is full).
  bool request(const mcp::MessageInfo& m, std::string_view line, uint64_t nowNs,
               std::string verificationId = {});
  // A response of the server (`m` of kind Response). The exchange it completes, or nullopt when
  // it answers nothing the tracker waits for.
  std::optional<Exchange> response(const mcp::MessageInfo& m, std::string_view line,
                                   uint64_t nowNs);
  // Every request still waiting, completed with `outcome` and `reason` (the server exited, the
  // proxy stopped). The tracker is empty afterwards.
  std::vector<Exchange> abandon(std::string_view outcome, std::string_view reason, uint64_t nowNs);

  size_t inflight() const { return waiting_.size(); }
  uint64_t untracked() const { return untracked_; }

private:
  struct Waiting {
    Exchange exchange;
    uint64_t startNs = 0;
  };
  std::unordered_map<std::string, Waiting> waiting_;
  uint64_t untracked_ = 0;
};

// The exchange of a request (`m` of kind Request) before it is answered: id, method, tool,
// arguments, cursor and bytesIn are set.
Exchange startExchange(const mcp::MessageInfo& m, std::string_view line);

// The outcome of a response: ok, tool_error (result.isError), rpc_error (with the error code as
// reason), or upstream_error when it has neither result nor error.
void judgeResponse(const mcp::MessageInfo& m, std::string& outcome, std::string& reason);

// The audit record of kind Operation for `e` (the session is empty: stdio has one client).
audit::AuditRecord operationRecord(Exchange e);

// True when the params of a request (`m.params` in `line`) have a `cursor` member.
bool hasCursor(const mcp::MessageInfo& m, std::string_view line);

} // namespace sidecar::stdio_proxy
