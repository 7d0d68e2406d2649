#pragma once
// What both message scanners (message_scan.cc on RapidJSON, message_skim.cc by hand) share: which
// members of a JSON-RPC message matter, and how the message is classified once they are known.
// One copy of these rules, so that the two scanners cannot disagree about them.

#include <string_view>
#include <vector>

#include "mcp/message_scan.h"

namespace sidecar::mcp::detail {

// Which object a value is in: the places in a message whose members matter.
enum class Where { Other, Root, Params, Meta, Result, Error };

enum class ValueType { Null, True, False, Number, String, Container };

// Facts about the root object that classify() needs besides MessageInfo.
struct RootFacts {
  bool idSeen = false;
  bool idValid = false;
  bool methodSeen = false;
};

// Where an object or array that is the value of member `key` of an object in `parent` is.
// (`parent` is Other for array elements.)
Where childWhere(Where parent, std::string_view key, bool object);

// A member `key` of an object in `where` has a value of type `t`: its decoded text (strings and
// numbers; empty otherwise) and its span in the message.
void noteMember(Where where, std::string_view key, ValueType t, std::string_view text, Span span,
                MessageInfo& info, RootFacts& facts);

// Sets info.kind, or info.error, for a message that is valid JSON; `items` are the spans of a
// batch's elements.
void classify(std::string_view json, MessageInfo& info, const RootFacts& facts,
              std::vector<Span>&& items);

// Observe mode: the kept strings (method, tool name, protocol version) made valid UTF-8.
void keepValidUtf8(MessageInfo& info);

// The message-scan paths, for the tests that compare them: the RapidJSON scanner (authoritative:
// it also explains invalid input), and the skimmer, which returns false for anything it leaves
// to the RapidJSON scanner (invalid JSON, escapes it does not decode).
MessageInfo scanWithRapidJson(std::string_view json, ScanMode mode);
bool skimMessage(std::string_view json, ScanMode mode, MessageInfo& info);

} // namespace sidecar::mcp::detail
