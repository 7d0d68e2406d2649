#include "stdio_proxy/exchange_tracker.h"

#include <rapidjson/document.h>

namespace sidecar::stdio_proxy {

Exchange startExchange(const mcp::MessageInfo& m, std::string_view line) {
  Exchange e;
  e.rpcId = std::string(m.id.in(line));
  e.method = m.method;
  e.tool = m.method == "tools/call" ? m.toolName : std::string();
  if (m.arguments.present())
    e.args.emplace(m.arguments.in(line));
  e.cursor = hasCursor(m, line);
  e.bytesIn = line.size();
  return e;
}

bool ExchangeTracker::request(const mcp::MessageInfo& m, std::string_view line, uint64_t nowNs,
                              std::string verificationId) {
  std::string id(m.id.in(line));
  if (waiting_.size() >= kMaxInflight || waiting_.count(id)) {
    ++untracked_;
    return false;
  }
  Waiting w;
  w.startNs = nowNs;
  w.exchange = startExchange(m, line);
  w.exchange.verificationId = std::move(verificationId);
  waiting_.emplace(std::move(id), std::move(w));
  return true;
}

std::optional<Exchange> ExchangeTracker::response(const mcp::MessageInfo& m, std::string_view line,
                                                  uint64_t nowNs) {
  if (!m.id.present())
    return std::nullopt;
  auto it = waiting_.find(std::string(m.id.in(line)));
  if (it == waiting_.end())
    return std::nullopt;
  Exchange e = std::move(it->second.exchange);
  e.latencyMs = static_cast<double>(nowNs - it->second.startNs) / 1e6;
  waiting_.erase(it);
  e.bytesOut = line.size();
  judgeResponse(m, e.outcome, e.reason);
  return e;
}

std::vector<Exchange> ExchangeTracker::abandon(std::string_view outcome, std::string_view reason,
                                               uint64_t nowNs) {
  std::vector<Exchange> out;
  out.reserve(waiting_.size());
  for (auto& [id, w] : waiting_) {
    Exchange e = std::move(w.exchange);
    e.latencyMs = static_cast<double>(nowNs - w.startNs) / 1e6;
    e.outcome = outcome;
    e.reason = reason;
    out.push_back(std::move(e));
  }
  waiting_.clear();
  return out;
}

void judgeResponse(const mcp::MessageInfo& m, std::string& outcome, std::string& reason) {
  if (m.hasError) {
    outcome = "rpc_error";
    reason = std::to_string(m.errorCode);
  } else if (m.hasResult) {
    outcome = m.isErrorResult ? "tool_error" : "ok";
    reason.clear();
  } else {
    outcome = "upstream_error";
    reason = "invalid_response";
  }
}

audit::AuditRecord operationRecord(Exchange e) {
  audit::AuditRecord r;
  r.kind = audit::RecordKind::Operation;
  r.rpcId = std::move(e.rpcId);
  r.method = std::move(e.method);
  r.tool = std::move(e.tool);
  r.outcome = std::move(e.outcome);
  r.reason = std::move(e.reason);
  r.latencyMs = e.latencyMs;
  r.bytesIn = e.bytesIn;
  r.bytesOut = e.bytesOut;
  r.args = std::move(e.args);
  return r;
}

bool hasCursor(const mcp::MessageInfo& m, std::string_view line) {
  if (!m.params.present())
    return false;
  std::string_view params = m.params.in(line);
  if (params.find("cursor") == std::string_view::npos)
    return false; // the common case: no parse
  rapidjson::Document d;
  d.Parse(params.data(), params.size());
  return !d.HasParseError() && d.IsObject() && d.HasMember("cursor") && !d["cursor"].IsNull();
}

} // namespace sidecar::stdio_proxy
