#pragma once
// One pass over a JSON-RPC message that finds what a bridge needs — kind, method, tool, and the
// byte spans of the id, the progress token and a cancelled request's id — without building a
// document, so that ids can be rewritten by splicing the original bytes: no re-serialisation, and
// ids keep their exact text (2^53 and beyond, `1` versus `"1"`).
//
// Hand-written on top of RapidJSON's SAX reader (not a JSON parser of our own): RapidJSON validates
// the JSON and reports the events; this only tracks where in the message each event is.

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sidecar::mcp {

struct Span {
  size_t off = 0;
  size_t len = 0;
  bool present() const { return len > 0; }
  std::string_view in(std::string_view s) const { return s.substr(off, len); }
};

enum class MessageKind { Invalid, Request, Notification, Response };

struct MessageInfo {
  MessageKind kind = MessageKind::Invalid;
  std::string error; // why the message is Invalid
  // A top-level array: `items` are the spans of its elements (each scanned separately).
  bool batch = false;
  std::vector<Span> items;

  Span id; // the id's JSON text, e.g. `7` or `"a"`; absent for notifications
  bool idIsString = false;
  std::string method;
  std::string toolName;        // params.name (tools/call, prompts/get)
  std::string protocolVersion; // params.protocolVersion (initialize)
  Span metaProgressToken;      // params._meta.progressToken (requests)
  Span paramsProgressToken;    // params.progressToken (notifications/progress)
  Span paramsRequestId;        // params.requestId (notifications/cancelled)
  Span params;                 // the params value, e.g. tools/call arguments live inside
  Span arguments;              // params.arguments
  bool modernClaim = false;    // params._meta["io.modelcontextprotocol/protocolVersion"]
  bool hasResult = false;
  bool hasError = false;
  bool isErrorResult = false; // result.isError == true
  int errorCode = 0;          // error.code
};

enum class ScanMode {
  // RapidJSON also checks that every string is valid UTF-8: for messages the sidecar answers or
  // writes on itself (the stdio bridge, connect).
  Validate,
  // For messages only observed on their way through unchanged (the HTTP pass-through's audit and
  // metrics): the structure is still checked, but not the encoding of every string, which cost
  // about a third of the scan (bench/README.md). The upstream judges its own input. The strings
  // kept here (method, tool name, protocol version) are made valid UTF-8, bad bytes replaced by
  // U+FFFD, so nothing invalid reaches a log, a label or the audit trail.
  Observe,
};

// Scans one message (or a batch: then only `batch` and `items` are set).
MessageInfo scanMessage(std::string_view json, ScanMode mode = ScanMode::Validate);

// Replaces the given spans of `src` (sorted by offset, not overlapping) and appends the result to
// `out`.
void splice(std::string_view src, std::vector<std::pair<Span, std::string_view>> edits,
            std::string& out);

} // namespace sidecar::mcp
