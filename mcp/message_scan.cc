#include "mcp/message_scan.h"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <algorithm>

#include "common/utf8.h"
#include "mcp/message_facts.h"

namespace sidecar::mcp {

namespace {

using detail::RootFacts;
using detail::ValueType;
using detail::Where;

struct Frame {
  Where where;
  bool object;
  std::string key;   // the member being read (objects)
  size_t keyEnd = 0; // offset just past the key's closing quote
};

class Scanner : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, Scanner> {
public:
  Scanner(std::string_view src, rapidjson::MemoryStream& ms, MessageInfo& info)
      : src_(src), ms_(ms), info_(info) {
    stack_.clear(); // a scan that failed half-way leaves its frames
    starts_.clear();
  }

  bool Null() { return scalar(Type::Null, {}); }
  bool Bool(bool b) { return scalar(b ? Type::True : Type::False, {}); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    return scalar(Type::Number, std::string_view(s, n));
  }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    return scalar(Type::String, std::string_view(s, n));
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    Frame& f = stack_.back();
    f.key.assign(s, n);
    f.keyEnd = ms_.Tell();
    return true;
  }
  bool StartObject() { return open(true); }
  bool StartArray() { return open(false); }
  bool EndObject(rapidjson::SizeType) { return close(); }
  bool EndArray(rapidjson::SizeType) { return close(); }

private:
  using Type = ValueType;

  size_t valueStart(const Frame& f) const {
    size_t p = f.keyEnd;
    while (p < src_.size() && (src_[p] == ' ' || src_[p] == '\t' || src_[p] == '\n' ||
                               src_[p] == '\r' || src_[p] == ':'))
      ++p;
    return p;
  }

  // A value ended at the stream position (containers: `open` recorded the start).
  void member(Type t, std::string_view text, Span span) {
    if (stack_.empty() || !stack_.back().object)
      return;
    const Frame& f = stack_.back();
    detail::noteMember(f.where, f.key, t, text, span, info_, facts_);
  }

  bool scalar(Type t, std::string_view text) {
    if (stack_.empty())
      return true; // a bare scalar: not a message; the caller reports it
    size_t end = ms_.Tell();
    Span span;
    if (stack_.back().object) {
      size_t start = valueStart(stack_.back());
      span = {start, end - start};
    }
    member(t, text, span);
    return true;
  }

  bool open(bool object) {
    // The iterative parser reports a container's start and end while its bracket is the next
    // character (the recursive one, after taking it).
    size_t start = ms_.Tell(); // at the opening bracket
    Where where = Where::Other;
    if (stack_.empty()) {
      where = object ? Where::Root : Where::Other;
    } else if (stack_.back().object) {
      const Frame& f = stack_.back();
      start = valueStart(f);
      where = detail::childWhere(f.where, f.key, object);
    }
    starts_.push_back(start);
    stack_.push_back({where, object, {}, 0});
    return true;
  }

  bool close() {
    size_t start = starts_.back();
    starts_.pop_back();
    stack_.pop_back();
    size_t end = ms_.Tell() + 1; // past the closing bracket
    if (stack_.empty())
      return true; // the message itself
    if (stack_.size() == 1 && !stack_.back().object)
      items_.push_back({start, end - start}); // a batch element
    member(Type::Container, {}, {start, end - start});
    return true;
  }

public:
  std::string_view src_;
  rapidjson::MemoryStream& ms_;
  MessageInfo& info_;
  // Per thread and kept between scans: two scans per observed call would otherwise allocate
  // and regrow both for every message.
  static thread_local std::vector<Frame> tlStack;
  static thread_local std::vector<size_t> tlStarts;
  std::vector<Frame>& stack_ = tlStack;
  std::vector<size_t>& starts_ = tlStarts;
  std::vector<Span> items_;
  RootFacts facts_;
};

thread_local std::vector<Frame> Scanner::tlStack;
thread_local std::vector<size_t> Scanner::tlStarts;

} // namespace

namespace detail {

Where childWhere(Where parent, std::string_view key, bool object) {
  if (!object)
    return Where::Other;
  if (parent == Where::Root) {
    if (key == "params")
      return Where::Params;
    if (key == "result")
      return Where::Result;
    if (key == "error")
      return Where::Error;
  } else if (parent == Where::Params && key == "_meta") {
    return Where::Meta;
  }
  return Where::Other;
}

void noteMember(Where where, std::string_view k, ValueType t, std::string_view text, Span span,
                MessageInfo& info, RootFacts& facts) {
  switch (where) {
  case Where::Root:
    if (k == "id") {
      info.id = span;
      info.idIsString = t == ValueType::String;
      facts.idSeen = true;
      facts.idValid = t == ValueType::String || t == ValueType::Number;
    } else if (k == "method") {
      if (t == ValueType::String)
        info.method.assign(text);
      facts.methodSeen = true;
    } else if (k == "result") {
      info.hasResult = true;
    } else if (k == "error") {
      info.hasError = true;
    } else if (k == "params") {
      info.params = span;
    }
    break;
  case Where::Params:
    if (k == "name" && t == ValueType::String)
      info.toolName.assign(text);
    else if (k == "protocolVersion" && t == ValueType::String)
      info.protocolVersion.assign(text);
    else if (k == "progressToken")
      info.paramsProgressToken = span;
    else if (k == "requestId")
      info.paramsRequestId = span;
    else if (k == "arguments")
      info.arguments = span;
    break;
  case Where::Meta:
    if (k == "progressToken")
      info.metaProgressToken = span;
    else if (k == "io.modelcontextprotocol/protocolVersion")
      info.modernClaim = true;
    break;
  case Where::Result:
    if (k == "isError" && t == ValueType::True)
      info.isErrorResult = true;
    break;
  case Where::Error:
    if (k == "code" && t == ValueType::Number)
      info.errorCode = atoi(std::string(text).c_str());
    break;
  case Where::Other:
    break;
  }
}

void classify(std::string_view json, MessageInfo& info, const RootFacts& facts,
              std::vector<Span>&& items) {
  size_t first = json.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && json[first] == '[') {
    info.batch = true;
    info.items = std::move(items);
    if (info.items.empty())
      info.error = "an empty JSON-RPC batch";
    return;
  }
  if (first == std::string_view::npos || json[first] != '{') {
    info.error = "a JSON-RPC message must be a JSON object";
    return;
  }
  if (facts.idSeen && !facts.idValid) {
    info.error = "the JSON-RPC id must be a string or a number";
    return;
  }
  if (facts.methodSeen) {
    if (info.method.empty()) {
      info.error = "the JSON-RPC method must be a non-empty string";
      return;
    }
    info.kind = facts.idSeen ? MessageKind::Request : MessageKind::Notification;
    return;
  }
  if (info.hasResult || info.hasError) {
    if (!facts.idSeen) {
      info.error = "a JSON-RPC response must have an id";
      return;
    }
    info.kind = MessageKind::Response;
    return;
  }
  info.error = "not a JSON-RPC request, notification or response (no method, result or error)";
}

void keepValidUtf8(MessageInfo& info) {
  for (std::string* kept : {&info.method, &info.toolName, &info.protocolVersion})
    if (!validUtf8(*kept))
      *kept = sanitizeUtf8(*kept);
}

MessageInfo scanWithRapidJson(std::string_view json, ScanMode mode) {
  MessageInfo info;
  rapidjson::MemoryStream ms(json.data(), json.size());
  Scanner h(json, ms, info);
  rapidjson::Reader reader;
  // Numbers as raw text: ids and tokens are spliced, never converted. Iterative: nesting in
  // untrusted input must not exhaust the thread's stack (a 1 MiB body of '[' did, recursively).
  constexpr unsigned kFlags =
      rapidjson::kParseNumbersAsStringsFlag | rapidjson::kParseIterativeFlag;
  rapidjson::ParseResult r;
  if (mode == ScanMode::Validate) {
    r = reader.Parse<kFlags | rapidjson::kParseValidateEncodingFlag>(ms, h);
  } else {
    r = reader.Parse<kFlags>(ms, h);
    keepValidUtf8(info);
  }
  if (r.IsError()) {
    info.error = std::string("not valid JSON: ") + rapidjson::GetParseError_En(r.Code()) +
                 " at byte " + std::to_string(r.Offset());
    return info;
  }
  classify(json, info, h.facts_, std::move(h.items_));
  return info;
}

} // namespace detail

MessageInfo scanMessage(std::string_view json, ScanMode mode) {
  MessageInfo info;
  if (detail::skimMessage(json, mode, info))
    return info;
  return detail::scanWithRapidJson(json, mode);
}

void splice(std::string_view src, std::vector<std::pair<Span, std::string_view>> edits,
            std::string& out) {
  std::sort(edits.begin(), edits.end(),
            [](const auto& a, const auto& b) { return a.first.off < b.first.off; });
  size_t pos = 0;
  for (const auto& [span, text] : edits) {
    if (span.off < pos)
      continue; // overlapping edit: ignored (callers never produce one)
    out.append(src.substr(pos, span.off - pos));
    out.append(text);
    pos = span.off + span.len;
  }
  out.append(src.substr(pos));
}

} // namespace sidecar::mcp
