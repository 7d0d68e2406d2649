#include "mcp/message_scan.h"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <algorithm>

#include "common/utf8.h"

namespace sidecar::mcp {

namespace {

// Which object a frame is: the places in a message whose members matter.
enum class Where { Other, Root, Params, Meta, Result, Error };

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
  enum class Type { Null, True, False, Number, String, Container };

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
    std::string_view k = f.key;
    switch (f.where) {
    case Where::Root:
      if (k == "id") {
        info_.id = span;
        info_.idIsString = t == Type::String;
        idSeen_ = true;
        idValid_ = t == Type::String || t == Type::Number;
      } else if (k == "method") {
        if (t == Type::String)
          info_.method.assign(text);
        methodSeen_ = true;
      } else if (k == "result") {
        info_.hasResult = true;
      } else if (k == "error") {
        info_.hasError = true;
      } else if (k == "params") {
        info_.params = span;
      }
      break;
    case Where::Params:
      if (k == "name" && t == Type::String)
        info_.toolName.assign(text);
      else if (k == "protocolVersion" && t == Type::String)
        info_.protocolVersion.assign(text);
      else if (k == "progressToken")
        info_.paramsProgressToken = span;
      else if (k == "requestId")
        info_.paramsRequestId = span;
      else if (k == "arguments")
        info_.arguments = span;
      break;
    case Where::Meta:
      if (k == "progressToken")
        info_.metaProgressToken = span;
      else if (k == "io.modelcontextprotocol/protocolVersion")
        info_.modernClaim = true;
      break;
    case Where::Result:
      if (k == "isError" && t == Type::True)
        info_.isErrorResult = true;
      break;
    case Where::Error:
      if (k == "code" && t == Type::Number)
        info_.errorCode = atoi(std::string(text).c_str());
      break;
    case Where::Other:
      break;
    }
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
    size_t start = ms_.Tell() - 1; // just past the opening bracket
    Where where = Where::Other;
    if (stack_.empty()) {
      where = object ? Where::Root : Where::Other;
    } else if (stack_.back().object) {
      const Frame& f = stack_.back();
      start = valueStart(f);
      if (f.where == Where::Root && f.key == "params" && object)
        where = Where::Params;
      else if (f.where == Where::Root && f.key == "result" && object)
        where = Where::Result;
      else if (f.where == Where::Root && f.key == "error" && object)
        where = Where::Error;
      else if (f.where == Where::Params && f.key == "_meta" && object)
        where = Where::Meta;
    }
    starts_.push_back(start);
    stack_.push_back({where, object, {}, 0});
    return true;
  }

  bool close() {
    size_t start = starts_.back();
    starts_.pop_back();
    stack_.pop_back();
    size_t end = ms_.Tell();
    if (stack_.empty()) {
      root_ = {start, end - start};
      return true;
    }
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
  Span root_;
  bool idSeen_ = false, idValid_ = false, methodSeen_ = false;
};

thread_local std::vector<Frame> Scanner::tlStack;
thread_local std::vector<size_t> Scanner::tlStarts;

} // namespace

MessageInfo scanMessage(std::string_view json, ScanMode mode) {
  MessageInfo info;
  rapidjson::MemoryStream ms(json.data(), json.size());
  Scanner h(json, ms, info);
  rapidjson::Reader reader;
  // Numbers as raw text: ids and tokens are spliced, never converted.
  constexpr unsigned kFlags = rapidjson::kParseNumbersAsStringsFlag;
  rapidjson::ParseResult r;
  if (mode == ScanMode::Validate) {
    r = reader.Parse<kFlags | rapidjson::kParseValidateEncodingFlag>(ms, h);
  } else {
    r = reader.Parse<kFlags>(ms, h);
    for (std::string* kept : {&info.method, &info.toolName, &info.protocolVersion})
      if (!validUtf8(*kept))
        *kept = sanitizeUtf8(*kept);
  }
  if (r.IsError()) {
    info.error = std::string("not valid JSON: ") + rapidjson::GetParseError_En(r.Code()) +
                 " at byte " + std::to_string(r.Offset());
    return info;
  }
  size_t first = json.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && json[first] == '[') {
    info.batch = true;
    info.items = std::move(h.items_);
    if (info.items.empty())
      info.error = "an empty JSON-RPC batch";
    return info;
  }
  if (first == std::string_view::npos || json[first] != '{') {
    info.error = "a JSON-RPC message must be a JSON object";
    return info;
  }
  if (h.idSeen_ && !h.idValid_) {
    info.error = "the JSON-RPC id must be a string or a number";
    return info;
  }
  if (h.methodSeen_) {
    if (info.method.empty()) {
      info.error = "the JSON-RPC method must be a non-empty string";
      return info;
    }
    info.kind = h.idSeen_ ? MessageKind::Request : MessageKind::Notification;
    return info;
  }
  if (info.hasResult || info.hasError) {
    if (!h.idSeen_) {
      info.error = "a JSON-RPC response must have an id";
      return info;
    }
    info.kind = MessageKind::Response;
    return info;
  }
  info.error = "not a JSON-RPC request, notification or response (no method, result or error)";
  return info;
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
