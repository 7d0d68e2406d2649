#include "connect/http_session.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <ctime>
#include <set>
#include <utility>

#include "common/log.h"
#include "connect/answer_reader.h"
#include "connect/stdio_relay.h"
#include "mcp/jsonrpc.h"
#include "mcp/message_scan.h"

namespace sidecar::connect {

// What a client's line holds: the ids of its requests, and whether it opens or completes the
// handshake.
struct Scan {
  bool valid = false;
  std::string error;
  std::string method; // of a single message
  bool initialize = false;
  bool initialized = false; // notifications/initialized
  std::vector<std::string> requestIds;
};

namespace {

Scan scanLine(std::string_view line) {
  Scan s;
  mcp::MessageInfo info = mcp::scanMessage(line);
  std::vector<mcp::MessageInfo> items;
  if (info.batch) {
    for (const mcp::Span& item : info.items) {
      mcp::MessageInfo one = mcp::scanMessage(item.in(line));
      if (one.kind == mcp::MessageKind::Invalid) {
        s.error = "batch element: " + one.error;
        return s;
      }
      if (one.kind == mcp::MessageKind::Request)
        s.requestIds.emplace_back(one.id.in(item.in(line)));
    }
    s.method = "batch";
    s.valid = !info.items.empty();
    if (!s.valid)
      s.error = "an empty batch";
    return s;
  }
  if (info.kind == mcp::MessageKind::Invalid) {
    s.error = info.error;
    return s;
  }
  s.valid = true;
  s.method = info.method;
  if (info.kind == mcp::MessageKind::Request) {
    s.requestIds.emplace_back(info.id.in(line));
    s.initialize = info.method == "initialize";
  }
  s.initialized =
      info.kind == mcp::MessageKind::Notification && info.method == "notifications/initialized";
  if (info.kind == mcp::MessageKind::Response)
    s.method = "response";
  return s;
}

// The ids of the responses in a server's message (one message or a batch).
std::vector<std::string> responseIds(std::string_view json) {
  std::vector<std::string> out;
  mcp::MessageInfo info = mcp::scanMessage(json);
  if (info.batch) {
    for (const mcp::Span& item : info.items) {
      mcp::MessageInfo one = mcp::scanMessage(item.in(json));
      if (one.kind == mcp::MessageKind::Response && one.id.present())
        out.emplace_back(one.id.in(item.in(json)));
    }
  } else if (info.kind == mcp::MessageKind::Response && info.id.present()) {
    out.emplace_back(info.id.in(json));
  }
  return out;
}

// result.protocolVersion of an InitializeResult; "" when absent.
std::string negotiatedVersion(std::string_view json) {
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  if (d.HasParseError() || !d.IsObject())
    return {};
  const rapidjson::Value& view = d; // const iterators: unambiguous under C++20
  auto r = view.FindMember("result");
  if (r == view.MemberEnd() || !r->value.IsObject())
    return {};
  auto v = r->value.FindMember("protocolVersion");
  if (v == r->value.MemberEnd() || !v->value.IsString())
    return {};
  return std::string(v->value.GetString(), v->value.GetStringLength());
}

// The `error="..."` of a WWW-Authenticate: MCP-Signature challenge; "" when absent.
std::string challengeReason(const std::string& www) {
  size_t p = www.find("error=\"");
  if (p == std::string::npos)
    return {};
  p += 7;
  size_t e = www.find('"', p);
  return e == std::string::npos ? std::string() : www.substr(p, e - p);
}

// A session id must be visible ASCII (transport §Session Management).
bool validSessionId(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x21 && c <= 0x7e; });
}

bool is2xx(int status) {
  return status >= 200 && status < 300;
}

} // namespace

struct McpSession::Exchange {
  uint64_t id = 0;
  HttpEngine::TransferId transfer = 0;
  std::string method;
  bool initialize = false;
  bool initialized = false;
  std::vector<std::string> requestIds;
  std::set<std::string> answered;
  std::string sessionSent; // the Mcp-Session-Id the request carried
  bool failed = false;     // refused, or errors already given for its requests
  int status = 0;
  std::string wwwAuthenticate;
  std::unique_ptr<AnswerReader> reader;
};

McpSession::McpSession(HttpEngine& engine, SessionOptions options,
                       std::function<void(std::string_view line)> toClient)
    : engine_(engine), options_(std::move(options)), toClient_(std::move(toClient)),
      alive_(std::make_shared<bool>(true)) {
  getDelay_ = options_.reconnectDelay;
  if (!options_.now)
    options_.now = [] { return static_cast<int64_t>(time(nullptr)); };
}

McpSession::~McpSession() {
  *alive_ = false;
}

std::vector<std::pair<std::string, std::string>> McpSession::commonHeaders() const {
  std::vector<std::pair<std::string, std::string>> h;
  if (!sessionId_.empty())
    h.emplace_back("Mcp-Session-Id", sessionId_);
  if (!protocolVersion_.empty())
    h.emplace_back("MCP-Protocol-Version", protocolVersion_);
  return h;
}

void McpSession::send(std::string line) {
  if (closing_)
    return;
  Scan scan = scanLine(line);
  if (!scan.valid) {
    // As the MCP SDKs do with an unreadable line: reported, skipped, the session goes on.
    log::warn("a line from the client is not a JSON-RPC message; skipped",
              {{"detail", scan.error}, {"bytes", static_cast<unsigned long long>(line.size())}});
    return;
  }
  if (lost_ && !scan.initialize) {
    for (const std::string& id : scan.requestIds)
      toClient_(mcp::errorResponse(id, kSessionNotFound, "Session not found: " + lostDetail_,
                                   "session_not_found", {}));
    if (scan.requestIds.empty())
      log::warn("message dropped: the session is gone", {{"method", scan.method}});
    return;
  }
  if (initializing_) {
    // Until initialize is answered there is no session id to send it with.
    queue_.push_back(std::move(line));
    return;
  }
  post(std::move(line), scan);
}

void McpSession::releaseQueue() {
  std::deque<std::string> q;
  q.swap(queue_);
  while (!q.empty()) {
    std::string line = std::move(q.front());
    q.pop_front();
    send(std::move(line));
    if (initializing_) {
      // Another initialize: the rest waits for it.
      for (auto it = q.rbegin(); it != q.rend(); ++it)
        queue_.push_front(std::move(*it));
      return;
    }
  }
}

void McpSession::post(std::string line, const Scan& scan) {
  if (scan.initialize) {
    if (!sessionId_.empty())
      log::info("the client initializes again: a new session", {{"previous_session", sessionId_}});
    sessionId_.clear();
    protocolVersion_.clear();
    lost_ = false;
    wantGet_ = false;
    if (getTransfer_ != 0)
      engine_.cancel(getTransfer_);
    initializing_ = true;
  }
  auto ex = std::make_unique<Exchange>();
  ex->id = nextExchange_++;
  ex->method = scan.method;
  ex->initialize = scan.initialize;
  ex->initialized = scan.initialized;
  ex->requestIds = scan.requestIds;
  ex->sessionSent = sessionId_;

  verifier::RequestSignature sig =
      options_.signer->sign("POST", options_.url.target, sessionId_, line, options_.now());
  HttpRequest req;
  req.method = "POST";
  req.url = options_.url.url;
  req.headers = {{"Content-Type", "application/json"},
                 {"Accept", "application/json, text/event-stream"}};
  for (auto& h : commonHeaders())
    req.headers.push_back(std::move(h));
  for (auto& h : sig.headers())
    req.headers.push_back(std::move(h));
  req.body = std::move(line);

  AnswerReader::Options ro;
  ro.server = options_.serverKey ? &*options_.serverKey : nullptr;
  ro.request = {sig.nonce, sig.signature};
  Exchange* raw = ex.get();
  ex->reader = std::make_unique<AnswerReader>(
      ro, [this, raw](std::string_view json) { fromServer(raw, json); });

  uint64_t id = ex->id;
  HttpHandlers h;
  h.onHead = [this, id](const HttpHead& head) { return onHead(id, head); };
  h.onBody = [this, id](std::string_view b) { return onBody(id, b); };
  h.onDone = [this, id](const std::string& error) { onDone(id, error); };
  ex->transfer = engine_.start(std::move(req), std::move(h));
  log::debug("message sent",
             {{"method", ex->method}, {"exchange", static_cast<unsigned long long>(id)}});
  exchanges_[id] = std::move(ex);
}

bool McpSession::onHead(uint64_t id, const HttpHead& head) {
  auto it = exchanges_.find(id);
  if (it == exchanges_.end())
    return false;
  Exchange& ex = *it->second;
  ex.status = head.status;
  ex.wwwAuthenticate = head.header("www-authenticate");
  if (ex.initialize && is2xx(head.status)) {
    std::string sid = head.header("mcp-session-id");
    if (validSessionId(sid)) {
      sessionId_ = sid;
      log::info("session opened", {{"session", sessionId_}, {"url", options_.url.url}});
    } else if (!sid.empty()) {
      log::warn("the server's Mcp-Session-Id is not visible ASCII; ignored");
    }
  }
  Status s = ex.reader->head(head);
  if (!s.ok()) {
    log::error("answer refused: its signature does not hold",
               {{"method", ex.method}, {"status", head.status}, {"detail", s.message()}});
    failExchange(ex, kAnswerRejected, "Answer refused: " + s.message(), "answer_rejected");
    return false;
  }
  return true;
}

bool McpSession::onBody(uint64_t id, std::string_view bytes) {
  auto it = exchanges_.find(id);
  if (it == exchanges_.end() || it->second->failed)
    return false;
  Exchange& ex = *it->second;
  Status s = ex.reader->body(bytes);
  if (!s.ok()) {
    log::error("answer refused: its signature does not hold",
               {{"method", ex.method}, {"status", ex.status}, {"detail", s.message()}});
    failExchange(ex, kAnswerRejected, "Answer refused: " + s.message(), "answer_rejected");
    return false;
  }
  return true;
}

void McpSession::onDone(uint64_t id, const std::string& error) {
  auto it = exchanges_.find(id);
  if (it == exchanges_.end())
    return;
  std::unique_ptr<Exchange> ex = std::move(it->second);
  exchanges_.erase(it);

  if (!ex->failed) {
    if (!error.empty()) {
      std::string what = error == "cancelled" ? "the request was cancelled at shutdown"
                                              : "no answer from " + options_.url.url + ": " + error;
      log::warn("request failed", {{"method", ex->method}, {"detail", what}});
      failExchange(*ex, kServerUnreachable, "Server unreachable: " + what, "server_unreachable");
    } else {
      Status checked = ex->reader->end();
      const int status = ex->status;
      if (is2xx(status)) {
        if (!checked.ok()) {
          log::error("answer refused: its signature does not hold",
                     {{"method", ex->method}, {"status", status}, {"detail", checked.message()}});
          failExchange(*ex, kAnswerRejected, "Answer refused: " + checked.message(),
                       "answer_rejected");
        } else if (ex->answered.size() < ex->requestIds.size()) {
          failExchange(*ex, kHttpError,
                       "The server's answer (HTTP " + std::to_string(status) +
                           ") ended without a response to this request",
                       "no_response");
        }
      } else if (status == 404 && !ex->sessionSent.empty() && ex->sessionSent == sessionId_) {
        sessionLost("HTTP 404 to " + ex->method);
        failExchange(*ex, kSessionNotFound, "Session not found: " + lostDetail_,
                     "session_not_found");
      } else if (ex->answered.size() < ex->requestIds.size() || ex->requestIds.empty()) {
        std::string detail;
        int code = kHttpError;
        std::string reason = "http_" + std::to_string(status);
        if (status == 401) {
          code = kAnswerRejected;
          std::string why = challengeReason(ex->wwwAuthenticate);
          detail = "the server refused this request's signature (HTTP 401" +
                   (why.empty() ? std::string() : ", " + why) +
                   "): check that the server's trust store holds this key under the key id " +
                   options_.signer->keyId() + " (--key, --key-id), and this machine's clock";
          reason = "request_signature_refused";
        } else {
          detail = "the server answered HTTP " + std::to_string(status) + " to " + ex->method;
        }
        if (!checked.ok())
          detail += " (its answer is not passed on: " + checked.message() + ")";
        log::warn("request refused by the server",
                  {{"method", ex->method}, {"status", status}, {"detail", detail}});
        failExchange(*ex, code, detail, reason);
      }
    }
  }

  if (ex->initialize) {
    initializing_ = false;
    if (!ex->failed && is2xx(ex->status))
      log::info("initialized", {{"protocol_version", protocolVersion_}});
  }
  if (ex->initialized && !ex->failed && error.empty() && is2xx(ex->status)) {
    wantGet_ = true;
    openGetStream();
  }
  if (ex->initialize)
    releaseQueue();
  maybeFinishShutdown();
}

void McpSession::fromServer(Exchange* ex, std::string_view json) {
  std::string line;
  if (!toStdioLine(json, line)) {
    log::error("the server sent a message that is not JSON; dropped",
               {{"bytes", static_cast<unsigned long long>(json.size())}});
    return;
  }
  if (ex != nullptr) {
    for (std::string& id : responseIds(json)) {
      if (std::find(ex->requestIds.begin(), ex->requestIds.end(), id) == ex->requestIds.end())
        continue;
      if (ex->initialize) {
        std::string v = negotiatedVersion(json);
        if (!v.empty())
          protocolVersion_ = v;
      }
      ex->answered.insert(std::move(id));
    }
  }
  toClient_(line);
}

void McpSession::failExchange(Exchange& ex, int code, const std::string& message,
                              std::string_view reason) {
  if (ex.failed)
    return;
  ex.failed = true;
  for (const std::string& id : ex.requestIds)
    if (ex.answered.count(id) == 0)
      toClient_(mcp::errorResponse(id, code, message, reason, {}));
}

void McpSession::sessionLost(const std::string& how) {
  if (lost_)
    return;
  lost_ = true;
  lostDetail_ = "the server at " + options_.url.url + " no longer knows session " + sessionId_ +
                " (" + how + "): it was restarted, or the session expired. Restart this MCP " +
                "server in your client to start a new session";
  log::error("session lost", {{"session", sessionId_}, {"detail", lostDetail_}});
  wantGet_ = false;
  if (getTransfer_ != 0)
    engine_.cancel(getTransfer_);
}

void McpSession::openGetStream() {
  if (!wantGet_ || closing_ || lost_ || getTransfer_ != 0)
    return;
  verifier::RequestSignature sig =
      options_.signer->sign("GET", options_.url.target, sessionId_, "", options_.now());
  HttpRequest req;
  req.method = "GET";
  req.url = options_.url.url;
  req.headers = {{"Accept", "text/event-stream"}};
  for (auto& h : commonHeaders())
    req.headers.push_back(std::move(h));
  if (!lastEventId_.empty())
    req.headers.emplace_back("Last-Event-ID", lastEventId_);
  for (auto& h : sig.headers())
    req.headers.push_back(std::move(h));

  get_ = std::make_unique<Exchange>();
  get_->method = "GET stream";
  get_->sessionSent = sessionId_;
  AnswerReader::Options ro;
  ro.server = options_.serverKey ? &*options_.serverKey : nullptr;
  ro.request = {sig.nonce, sig.signature};
  get_->reader = std::make_unique<AnswerReader>(
      ro, [this](std::string_view json) { fromServer(nullptr, json); });
  HttpHandlers h;
  h.onHead = [this](const HttpHead& head) { return onGetHead(head); };
  h.onBody = [this](std::string_view b) { return onGetBody(b); };
  h.onDone = [this](const std::string& error) { onGetDone(error); };
  getTransfer_ = engine_.start(std::move(req), std::move(h));
}

bool McpSession::onGetHead(const HttpHead& head) {
  get_->status = head.status;
  if (head.status == 405) {
    log::info("the server offers no GET stream (405): server-initiated messages come only on "
              "the answers to requests");
    wantGet_ = false;
    return false;
  }
  if (head.status == 404 && !get_->sessionSent.empty() && get_->sessionSent == sessionId_) {
    sessionLost("HTTP 404 to the GET stream");
    return false;
  }
  if (head.status != 200) {
    log::warn("the GET stream was refused; retrying later", {{"status", head.status}});
    get_->failed = true;
    return false;
  }
  Status s = get_->reader->head(head);
  if (!s.ok()) {
    log::error("GET stream refused: its signature does not hold; retrying later",
               {{"detail", s.message()}});
    get_->failed = true;
    return false;
  }
  if (get_->reader->kind() != AnswerReader::Kind::EventStream) {
    log::warn("the GET stream is not an event stream; not reopened",
              {{"content_type", head.header("content-type")}});
    wantGet_ = false;
    return false;
  }
  log::debug("GET stream open");
  return true;
}

bool McpSession::onGetBody(std::string_view bytes) {
  if (get_->failed)
    return false;
  Status s = get_->reader->body(bytes);
  if (!s.ok()) {
    log::error("event refused on the GET stream: its signature does not hold; the stream is "
               "reopened",
               {{"detail", s.message()}});
    get_->failed = true;
    return false;
  }
  return true;
}

void McpSession::onGetDone(const std::string& error) {
  getTransfer_ = 0;
  std::unique_ptr<Exchange> ex = std::move(get_);
  if (ex && ex->reader) {
    if (!ex->reader->lastEventId().empty())
      lastEventId_ = ex->reader->lastEventId();
    if (error.empty() && !ex->failed) {
      Status s = ex->reader->end();
      if (!s.ok())
        log::error("GET stream: " + s.message());
    }
    if (ex->reader->events() > 0 && !ex->failed)
      getDelay_ = options_.reconnectDelay;
    if (ex->reader->retryMs())
      getDelay_ = std::chrono::milliseconds(*ex->reader->retryMs());
  }
  if (!error.empty() && error != "aborted" && error != "cancelled")
    log::warn("the GET stream ended", {{"detail", error}});
  scheduleGet();
  maybeFinishShutdown();
}

void McpSession::scheduleGet() {
  if (!wantGet_ || closing_ || lost_ || getScheduled_)
    return;
  getScheduled_ = true;
  std::chrono::milliseconds delay = getDelay_;
  getDelay_ = std::min(getDelay_ * 2, options_.maxReconnectDelay);
  std::weak_ptr<bool> alive = alive_;
  engine_.runAfter(delay, [this, alive] {
    if (alive.expired())
      return;
    getScheduled_ = false;
    openGetStream();
  });
}

void McpSession::shutdown(std::function<void()> done) {
  if (closing_)
    return;
  closing_ = true;
  done_ = std::move(done);
  if (!queue_.empty())
    log::warn("messages dropped at shutdown: initialize was never answered",
              {{"count", static_cast<unsigned long long>(queue_.size())}});
  queue_.clear();
  wantGet_ = false;
  if (getTransfer_ != 0)
    engine_.cancel(getTransfer_);
  if (!exchanges_.empty()) {
    std::weak_ptr<bool> alive = alive_;
    engine_.runAfter(options_.shutdownGrace, [this, alive] {
      if (alive.expired() || exchanges_.empty())
        return;
      log::warn("requests still running at shutdown are cancelled",
                {{"count", static_cast<unsigned long long>(exchanges_.size())}});
      for (auto& [id, ex] : exchanges_)
        engine_.cancel(ex->transfer);
    });
  }
  maybeFinishShutdown();
}

void McpSession::maybeFinishShutdown() {
  if (closing_ && !shutdownStarted_ && exchanges_.empty() && getTransfer_ == 0)
    finishShutdown();
}

void McpSession::finishShutdown() {
  shutdownStarted_ = true;
  if (sessionId_.empty() || lost_) {
    if (done_)
      engine_.post(std::move(done_));
    return;
  }
  verifier::RequestSignature sig =
      options_.signer->sign("DELETE", options_.url.target, sessionId_, "", options_.now());
  HttpRequest req;
  req.method = "DELETE";
  req.url = options_.url.url;
  req.headers = commonHeaders();
  for (auto& h : sig.headers())
    req.headers.push_back(std::move(h));
  req.timeout = options_.shutdownGrace;
  auto status = std::make_shared<int>(0);
  HttpHandlers h;
  h.onHead = [status](const HttpHead& head) {
    *status = head.status;
    return true;
  };
  h.onBody = [](std::string_view) { return true; };
  std::string session = sessionId_;
  h.onDone = [this, status, session](const std::string& error) {
    if (!error.empty())
      log::warn("the session could not be closed", {{"session", session}, {"detail", error}});
    else
      log::info("session closed", {{"session", session}, {"status", *status}});
    if (done_)
      done_();
  };
  engine_.start(std::move(req), std::move(h));
}

} // namespace sidecar::connect
