#include "mcp/exchange_observer.h"

#include <rapidjson/document.h>

#include <cctype>

namespace sidecar::mcp {

namespace {
bool typeIs(std::string_view contentType, std::string_view type) {
  std::string_view t = contentType.substr(0, contentType.find(';'));
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t'))
    t.remove_suffix(1);
  if (t.size() != type.size())
    return false;
  for (size_t i = 0; i < t.size(); ++i)
    if (tolower(static_cast<unsigned char>(t[i])) != type[i])
      return false;
  return true;
}
} // namespace

bool ExchangeObserver::request(std::string_view body, bool keepArgs) {
  MessageInfo m = scanMessage(body, ScanMode::Observe);
  observing_ = m.kind == MessageKind::Request;
  if (!observing_)
    return false;
  method_ = std::move(m.method);
  tool_ = std::move(m.toolName);
  rpcId_.assign(m.id.in(body));
  if (keepArgs && m.arguments.present())
    args_.emplace(m.arguments.in(body));
  return true;
}

void ExchangeObserver::head(int status, std::string_view contentType,
                            std::optional<uint64_t> length) {
  if (!observing_)
    return;
  length_ = length;
  if (status >= 400) {
    outcome_ = "upstream_error";
    reason_ = "http_" + std::to_string(status);
    decided_ = true;
    return;
  }
  if (typeIs(contentType, "application/json"))
    kind_ = Body::Json;
  else if (typeIs(contentType, "text/event-stream"))
    kind_ = Body::Sse;
}

void ExchangeObserver::body(std::string_view piece) {
  if (!observing_ || decided_ || piece.empty())
    return;
  if (kind_ == Body::Sse) {
    sseBytes(piece);
    return;
  }
  if (kind_ != Body::Json || overflow_)
    return;
  if (gathered_.empty() && length_ && *length_ == piece.size()) {
    judge(piece); // the whole answer in one piece: scanned where it lies
    return;
  }
  if (gathered_.size() + piece.size() > kMaxGathered) {
    overflow_ = true;
    gathered_.clear();
    gathered_.shrink_to_fit();
    reason_ = "answer too large to observe";
    return;
  }
  gathered_.append(piece);
}

void ExchangeObserver::end() {
  if (!observing_ || decided_)
    return;
  if (kind_ == Body::Json && !gathered_.empty() && !overflow_)
    judge(gathered_);
  else if (kind_ == Body::Sse && !line_.empty())
    sseLine(line_); // a last line without its end
  gathered_.clear();
}

void ExchangeObserver::judge(std::string_view message) {
  MessageInfo m = scanMessage(message, ScanMode::Observe);
  if (m.kind != MessageKind::Response || m.id.in(message) != rpcId_)
    return; // not the answer to this request (SSE: a notification or a server request)
  decided_ = true;
  if (m.hasError) {
    outcome_ = "rpc_error";
    reason_ = std::to_string(m.errorCode);
  } else {
    outcome_ = m.isErrorResult ? "tool_error" : "ok";
  }
  if (method_ == "tools/list" && m.hasResult) {
    // A rare answer: a document is fine here.
    rapidjson::Document d;
    d.Parse(message.data(), message.size());
    if (d.IsObject() && d.HasMember("result") && d["result"].IsObject() &&
        d["result"].HasMember("tools") && d["result"]["tools"].IsArray()) {
      const auto& tools = d["result"]["tools"];
      for (rapidjson::SizeType i = 0; i < tools.Size(); ++i)
        if (tools[i].IsObject() && tools[i].HasMember("name") && tools[i]["name"].IsString())
          listedTools_.emplace_back(tools[i]["name"].GetString(),
                                    tools[i]["name"].GetStringLength());
    }
  }
}

// SSE (WHATWG "event stream" interpretation), only as far as needed: lines end in CRLF, LF or CR;
// `data:` lines (one optional space after the colon) are joined with LF; an empty line ends the
// event.
void ExchangeObserver::sseBytes(std::string_view piece) {
  for (char c : piece) {
    if (lastWasCr_ && c == '\n') {
      lastWasCr_ = false;
      continue;
    }
    lastWasCr_ = c == '\r';
    if (c == '\r' || c == '\n') {
      sseLine(line_);
      line_.clear();
      if (decided_)
        return;
      continue;
    }
    if (line_.size() < kMaxGathered)
      line_.push_back(c);
  }
}

void ExchangeObserver::sseLine(std::string_view line) {
  if (line.empty()) {
    if (!eventData_.empty())
      judge(eventData_);
    eventData_.clear();
    return;
  }
  if (line.substr(0, 5) != "data:")
    return;
  std::string_view v = line.substr(5);
  if (!v.empty() && v[0] == ' ')
    v.remove_prefix(1);
  if (!eventData_.empty())
    eventData_.push_back('\n');
  if (eventData_.size() + v.size() <= kMaxGathered)
    eventData_.append(v);
}

} // namespace sidecar::mcp
