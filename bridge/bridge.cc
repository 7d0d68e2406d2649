#include "bridge/bridge.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sodium.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <unordered_map>

#include "audit/writer.h"
#include "bridge/child_process.h"
#include "common/clock.h"
#include "common/json_text.h"
#include "common/log.h"
#include "common/version.h"
#include "drift/detector.h"
#include "mcp/jsonrpc.h"
#include "metrics/mcp_metrics.h"
#include "metrics/metrics.h"
#include "watch/drift_watch.h"

namespace sidecar::bridge {

namespace {

// Protocol revisions of the legacy era this bridge serves (docs/stdio-bridge.md).
constexpr const char* kVersions[] = {"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"};
constexpr const char* kLatest = "2025-11-25";
constexpr uint64_t kSweepMs = 1000;
constexpr uint64_t kKeepAliveMs = 15000;
constexpr size_t kMaxQueuedPerSession = 1000;
constexpr uint64_t kFirstBackoffMs = 250;
constexpr uint64_t kMaxBackoffMs = 30000;

// JSON-RPC codes of the sidecar (docs/errors.md).
constexpr int kUpstreamDown = -31004;
constexpr int kUpstreamTimeout = -31005;
constexpr int kOverloaded = -31009;
constexpr int kDriftBlocked = -31007;

bool supportedVersion(std::string_view v) {
  for (const char* k : kVersions)
    if (v == k)
      return true;
  return false;
}

std::string rpcError(std::string_view id, int code, std::string_view message,
                     std::string_view reason, std::string_view detail) {
  return mcp::errorResponse(id, code, message, reason, detail);
}

std::string sseEvent(std::string_view json) {
  std::string e;
  e.reserve(json.size() + 24);
  e += "event: message\ndata: ";
  e += json;
  e += "\n\n";
  return e;
}

bool parseInt(std::string_view s, int64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::string newSessionId() {
  unsigned char raw[16];
  randombytes_buf(raw, sizeof raw);
  char hex[33];
  sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
  return std::string(hex, 32);
}

const char* kJson = "Content-Type: application/json\r\n";
const char* kSseHead =
    "Content-Type: text/event-stream\r\nCache-Control: no-cache, no-transform\r\n"
    "X-Accel-Buffering: no\r\n";

struct Target {
  ReplyBox* box = nullptr;
  uint64_t token = 0;
  explicit operator bool() const { return box != nullptr; }
};

// A name for logs from the command: the npm package when one shows (`npx -y @scope/pkg`,
// `node .../node_modules/@scope/pkg/dist/index.js`), else the program's file name.
std::string serverName(const std::vector<std::string>& argv) {
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    size_t nm = a.rfind("/node_modules/");
    if (nm != std::string::npos) {
      std::string rest = a.substr(nm + 14);
      size_t cut = rest.find('/', rest[0] == '@' ? rest.find('/') + 1 : 0);
      return rest.substr(0, cut);
    }
  }
  std::string prog = argv[0].substr(argv[0].find_last_of('/') + 1);
  if (prog == "npx" || prog == "uvx" || prog == "bunx" || prog == "pnpx") {
    for (size_t i = 1; i < argv.size(); ++i)
      if (!argv[i].empty() && argv[i][0] != '-')
        return argv[i];
  }
  return prog;
}

// A line from the MCP server, parsed for parts of it to be written out again. Left Null (not an
// object) when it nests deeper than kMaxJsonNesting: Accept() recurses once per level
// (common/json_text.h).
void parseServerLine(rapidjson::Document& d, std::string_view line) {
  if (!jsonNestsDeeperThan(line))
    d.Parse(line.data(), line.size());
}

} // namespace

struct Session;
struct Child;

// A 2025-03-26 batch whose requests are in flight: their answers go back as one array.
struct Batch {
  Target target; // empty once the client went away
  size_t remaining = 0;
  std::vector<std::string> answers;
};

// One client message: a whole POST body, or one element of a batch.
struct In {
  std::string_view body;
  const mcp::MessageInfo& m;
  Target t; // empty for batch elements: they answer through the batch
  std::shared_ptr<Batch> batch;
  std::string_view caller; // the verified key id
  std::string_view session;
};

// A client request in flight at a child, keyed there by the id the child sees.
struct Pending {
  Session* session = nullptr;   // null once the session ended (the answer is then dropped)
  std::string origId;           // the client's id, exact JSON text
  std::string origToken;        // the client's progress token, exact JSON text (or empty)
  Target target;                // empty once the client connection went away
  std::shared_ptr<Batch> batch; // a batch element: the answer joins the batch's array
  bool streaming = false;       // the SSE head has been sent
  uint64_t startMs = 0;
  uint64_t startNs = 0;
  std::string method;
  std::string tool;
  std::string caller;
  uint64_t bytesIn = 0;
  std::optional<std::string> args; // params.arguments, exact bytes (for the audit digest)
};

// A downstream `initialize` waiting for its child to be ready.
struct InitWait {
  Target target;
  std::string origId;
  std::string requestedVersion;
  Session* session = nullptr; // per-session children: the session being set up
  std::string caller;
  uint64_t startNs = 0;
  uint64_t bytesIn = 0;
};

struct Child {
  enum class State { Starting, Ready, Down, Stopped };
  std::unique_ptr<ChildProcess> proc;
  State state = State::Starting;
  int64_t initId = 0;
  int64_t toolsListId = 0;      // the bridge's own tools/list in flight (0: none)
  drift::ToolManifest manifest; // the pages of that tools/list so far
  std::string toolsJson;        // the tools of those pages, JSON, comma-separated
  bool hasTools = false;        // the server declared the tools capability
  bool hasResources = false;
  bool hasPrompts = false;
  // The bridge's own resources/list and prompts/list (for the capabilities document and drift).
  struct OwnList {
    explicit OwnList(const drift::ListKind& kind) : manifest(kind) {}
    int64_t id = 0;                     // in flight (0: none)
    std::string items;                  // JSON of the items so far, comma-separated
    drift::DefinitionManifest manifest; // the pages so far, as drift reads them
    bool unreadable = false;            // a page drift could not read (reported already)
  };
  OwnList resourcesList{drift::kResourceList}, promptsList{drift::kPromptList};
  bool listing = false;           // the first tools/list after initialize is in flight
  std::vector<std::string> tools; // names gathered so far (pages)
  std::string initResult;         // the child's InitializeResult, JSON text
  std::string version;            // what it negotiated with the bridge
  std::vector<InitWait> waiting;
  std::unordered_map<int64_t, Pending> pending;
  std::unordered_map<std::string, Session*> serverRequests; // child's request id -> session
  Session* owner = nullptr;                                 // --child-per-session
  uint64_t backoffMs = kFirstBackoffMs;
  uint64_t readyAtMs = 0;
  uv_timer_t restartTimer{};
  bool timerOpen = false;
  bool everReady = false;
  uint64_t startedAtMs = 0;
  uint64_t lastWaitNoteMs = 0;
};

struct Session {
  std::string id;
  std::string version;
  Target get;                                        // the open GET stream
  std::deque<std::string> queued;                    // SSE events waiting for a GET stream
  std::unordered_map<std::string, int64_t> inflight; // client id -> child id
  std::unique_ptr<Child> ownChild;                   // --child-per-session
  Child* child = nullptr;
  uint64_t lastActiveMs = 0;
  bool ready = false; // initialize answered
  uint64_t dropped = 0;
};

struct TokenUse {
  Session* session = nullptr;
  bool get = false;
  Child* child = nullptr;
  int64_t childId = 0;
  std::shared_ptr<Batch> batch;
};

struct Bridge::Impl {
  Bridge& self;
  BridgeOptions opt;
  metrics::ProcessState& process;
  uv_loop_t loop{};
  Mailbox<Call> inbox;
  uv_timer_t sweep{};
  std::thread thread;
  std::unique_ptr<Child> shared; // the shared child (default mode)
  std::unordered_map<std::string, std::unique_ptr<Session>> sessions;
  std::unordered_map<uint64_t, TokenUse> tokens;
  std::vector<std::unique_ptr<ChildProcess>> dying; // exited, still reaping their group
  int64_t nextId = 1;
  uint64_t lastKeepAliveMs = 0;
  bool draining = false;
  bool stopping = false;
  log::RateLimiter warnLimiter{20, 1000000000ull};
  std::atomic<bool> startOk{false};

  Impl(Bridge& b, BridgeOptions o, metrics::ProcessState& p)
      : self(b), opt(std::move(o)), process(p) {}

  uint64_t now() { return uv_now(&loop); }

  // ---- replies ----

  void send(Target t, Reply::Kind kind, int status, std::string headers, std::string body) {
    if (!t)
      return;
    Reply r;
    r.token = t.token;
    r.kind = kind;
    r.status = status;
    r.headers = std::move(headers);
    r.body = std::move(body);
    t.box->post(std::move(r));
  }
  void full(Target t, int status, std::string body, std::string extra = {}) {
    send(t, Reply::Kind::Full, status, kJson + extra, std::move(body));
  }
  void accepted(Target t) { send(t, Reply::Kind::Full, 202, {}, {}); }
  void httpError(const Call& c, int status, int code, std::string_view message,
                 std::string_view reason, std::string_view detail = {}) {
    std::string_view id;
    if (c.info.kind == mcp::MessageKind::Request)
      id = c.info.id.in(c.body);
    full({c.reply, c.token}, status, rpcError(id, code, message, reason, detail));
  }

  // ---- the loop ----

  void run() {
    uv_run(&loop, UV_RUN_DEFAULT);
    // Everything is closed: the loop can go.
    uv_loop_close(&loop);
  }

  void onCalls(std::vector<Call>& calls) {
    for (Call& c : calls) {
      switch (c.op) {
      case Call::Op::Post:
        post(c);
        break;
      case Call::Op::Get:
        get(c);
        break;
      case Call::Op::Delete:
        del(c);
        break;
      case Call::Op::Cancel:
        cancel(c.token);
        break;
      case Call::Op::Drain:
        drain();
        break;
      case Call::Op::Stop:
        stop();
        break;
      case Call::Op::AcceptDrift:
        acceptDrift();
        break;
      }
    }
  }

  Session* findSession(const Call& c) {
    if (c.session.empty()) {
      httpError(c, 400, -32000, "Bad Request: Mcp-Session-Id header is required",
                "session_required",
                "send the Mcp-Session-Id the initialize response carried, or initialize first");
      return nullptr;
    }
    auto it = sessions.find(c.session);
    if (it == sessions.end()) {
      httpError(c, 404, -32001, "Session not found", "unknown_session",
                "the session ended or never existed; initialize a new session");
      return nullptr;
    }
    Session* s = it->second.get();
    if (!s->ready) {
      httpError(c, 400, -32000, "Bad Request: the session is still being initialized",
                "session_not_ready", "wait for the initialize response");
      return nullptr;
    }
    s->lastActiveMs = now();
    return s;
  }

  void post(Call& c) {
    const mcp::MessageInfo& m = c.info;
    if (m.kind == mcp::MessageKind::Request && m.method == "initialize") {
      if (!c.session.empty()) {
        httpError(c, 400, -32600, "Invalid Request: Server already initialized",
                  "already_initialized",
                  "send initialize without an Mcp-Session-Id to start a new session");
        return;
      }
      initialize(c);
      return;
    }
    Session* s = findSession(c);
    if (!s)
      return;
    if (m.batch) {
      postBatch(c, *s);
      return;
    }
    In in{c.body, m, {c.reply, c.token}, nullptr, c.caller, c.session};
    fromClient(in, c.token, *s);
  }

  // A JSON-RPC batch, which only revision 2025-03-26 allows: its elements are handled one by one
  // (the child may not take batches) and the answers to its requests go back as one JSON array.
  void postBatch(Call& c, Session& s) {
    if (s.version != "2025-03-26") {
      httpError(c, 400, -32600, "Invalid Request: JSON-RPC batches are not allowed",
                "batch_not_allowed",
                "batches exist only in protocol revision 2025-03-26; this session negotiated " +
                    s.version + ": send one message per POST");
      return;
    }
    std::vector<mcp::MessageInfo> items;
    size_t requests = 0;
    for (const mcp::Span& sp : c.info.items) {
      items.push_back(mcp::scanMessage(sp.in(c.body)));
      const mcp::MessageInfo& im = items.back();
      if (im.kind == mcp::MessageKind::Invalid || im.batch ||
          (im.kind == mcp::MessageKind::Request && im.method == "initialize")) {
        httpError(c, 400, -32600, "Invalid Request: a batch element is not allowed",
                  "invalid_batch",
                  "element " + std::to_string(items.size()) + ": " +
                      (im.error.empty() ? "initialize must not be batched" : im.error));
        return;
      }
      requests += im.kind == mcp::MessageKind::Request ? 1 : 0;
    }
    auto batch = std::make_shared<Batch>();
    batch->remaining = requests;
    if (requests > 0) {
      batch->target = {c.reply, c.token};
      tokens[c.token] = {&s, false, nullptr, 0, batch};
    }
    for (size_t i = 0; i < items.size(); ++i) {
      In in{c.info.items[i].in(c.body), items[i], {}, batch, c.caller, c.session};
      fromClient(in, 0, s);
    }
    if (requests == 0)
      accepted({c.reply, c.token});
  }

  void fromClient(In& in, uint64_t token, Session& s) {
    Child& ch = *s.child;
    switch (in.m.kind) {
    case mcp::MessageKind::Notification:
      notificationFromClient(in, s, ch);
      return;
    case mcp::MessageKind::Response:
      responseFromClient(in, s, ch);
      return;
    case mcp::MessageKind::Request:
      requestFromClient(in, token, s, ch);
      return;
    case mcp::MessageKind::Invalid:
      break;
    }
    refuse(in, 400, -32600, "Invalid Request", "invalid_message", in.m.error);
  }

  // The answer to one client message: directly, or into its batch.
  void answer(In& in, int status, std::string json) {
    if (in.batch)
      batchAnswer(*in.batch, std::move(json));
    else
      full(in.t, status, std::move(json));
  }
  void refuse(In& in, int status, int code, std::string_view message, std::string_view reason,
              std::string_view detail) {
    std::string_view id;
    if (in.m.kind == mcp::MessageKind::Request)
      id = in.m.id.in(in.body);
    else if (in.batch)
      return; // a batched notification or response has nowhere to get an error
    answer(in, status, rpcError(id, code, message, reason, detail));
  }
  void acceptedIn(In& in) {
    if (!in.batch)
      accepted(in.t);
  }
  void batchAnswer(Batch& b, std::string json) {
    b.answers.push_back(std::move(json));
    if (b.remaining == 0 || --b.remaining > 0 || !b.target)
      return;
    std::string body = "[";
    for (size_t i = 0; i < b.answers.size(); ++i)
      body += (i ? "," : "") + b.answers[i];
    body += "]";
    tokens.erase(b.target.token);
    full(b.target, 200, std::move(body));
    b.target = {};
  }

  void notificationFromClient(In& in, Session& s, Child& ch) {
    const mcp::MessageInfo& m = in.m;
    if (m.method == "notifications/initialized" || ch.state != Child::State::Ready) {
      // The child was initialized once, by the bridge; a child that is not running has nothing
      // to be told.
      acceptedIn(in);
      return;
    }
    if (m.method == "notifications/cancelled" && m.paramsRequestId.present()) {
      auto it = s.inflight.find(std::string(m.paramsRequestId.in(in.body)));
      if (it == s.inflight.end()) {
        acceptedIn(in); // already answered: nothing to cancel
        return;
      }
      std::string idText = std::to_string(it->second);
      std::string line;
      mcp::splice(in.body, {{m.paramsRequestId, idText}}, line);
      ch.proc->send(std::move(line));
      acceptedIn(in);
      return;
    }
    ch.proc->send(std::string(in.body));
    acceptedIn(in);
  }

  void responseFromClient(In& in, Session& s, Child& ch) {
    std::string idText(in.m.id.in(in.body));
    auto it = ch.serverRequests.find(idText);
    if (it == ch.serverRequests.end() || it->second != &s) {
      refuse(in, 400, -32600, "Invalid Request: no request with this id is waiting for an answer",
             "unknown_response_id",
             "a response must answer a request the server sent on this session");
      return;
    }
    ch.serverRequests.erase(it);
    if (ch.state == Child::State::Ready)
      ch.proc->send(std::string(in.body));
    acceptedIn(in);
  }

  void requestFromClient(In& in, uint64_t token, Session& s, Child& ch) {
    const mcp::MessageInfo& m = in.m;
    std::string origId(m.id.in(in.body));
    if (opt.drift && m.method == "tools/call" && opt.drift->blocks(m.toolName)) {
      if (opt.mcp)
        opt.mcp->observe(m.method, m.toolName, "rejected", -1);
      refuse(in, 409, kDriftBlocked, "Tool definition changed (drift)", "tool_drift_blocked",
             "the definition of tool '" + m.toolName +
                 "' changed since the baseline (--drift-policy block); an operator must review "
                 "it and run `mcp-sidecar drift accept`");
      return;
    }
    if (ch.state != Child::State::Ready) {
      answer(in, 200,
             rpcError(origId, kUpstreamDown, "the MCP server is not running", "upstream_down",
                      "the stdio MCP server exited and is being restarted; retry shortly"));
      return;
    }
    if (ch.proc->queuedBytes() > opt.maxQueuedBytes) {
      answer(in, 503,
             rpcError(origId, kOverloaded, "the MCP server is not keeping up",
                      "upstream_overloaded",
                      "the server has not read the requests already sent to it; retry later"));
      return;
    }
    if (s.inflight.count(origId)) {
      refuse(in, 400, -32600, "Invalid Request: this id is already in use by a request in flight",
             "duplicate_id", "use a new id for each request of a session");
      return;
    }
    int64_t childId = nextId++;
    std::string idText = std::to_string(childId);
    Pending p;
    p.session = &s;
    p.origId = origId;
    p.target = in.t;
    p.batch = in.batch;
    p.startMs = now();
    p.startNs = monoNowNs();
    p.method = m.method;
    p.tool = m.toolName;
    p.caller = in.caller;
    p.bytesIn = in.body.size();
    if (opt.audit && m.arguments.present())
      p.args.emplace(m.arguments.in(in.body));
    std::vector<std::pair<mcp::Span, std::string_view>> edits{{m.id, idText}};
    if (m.metaProgressToken.present()) {
      p.origToken.assign(m.metaProgressToken.in(in.body));
      edits.push_back({m.metaProgressToken, idText}); // the token is the child-side id
    }
    std::string line;
    line.reserve(in.body.size() + 8);
    mcp::splice(in.body, std::move(edits), line);
    if (!ch.proc->send(std::move(line))) {
      answer(in, 200,
             rpcError(origId, kUpstreamDown, "the MCP server is not running", "upstream_down",
                      "the stdio MCP server closed its input; it is being restarted"));
      return;
    }
    s.inflight.emplace(std::move(origId), childId);
    ch.pending.emplace(childId, std::move(p));
    if (token)
      tokens[token] = {&s, false, &ch, childId, nullptr};
  }

  // ---- sessions ----

  std::string negotiate(const std::string& requested, const Child& ch) {
    // Echo the client's revision when the bridge supports it and it is not newer than what the
    // child agreed to (a proxy must not claim more than its upstream); else the child's.
    if (supportedVersion(requested) && requested <= ch.version)
      return requested;
    return ch.version;
  }

  void initialize(Call& c) {
    Target t{c.reply, c.token};
    if (draining || stopping) {
      full(t, 503,
           rpcError(c.info.id.in(c.body), kUpstreamDown, "the sidecar is shutting down",
                    "shutting_down", "connect to another replica"));
      return;
    }
    InitWait w{t,
               std::string(c.info.id.in(c.body)),
               c.info.protocolVersion,
               nullptr,
               c.caller,
               monoNowNs(),
               c.body.size()};
    if (!opt.childPerSession) {
      if (shared->state == Child::State::Ready && !shared->listing)
        answerInitialize(w, *shared);
      else
        shared->waiting.push_back(std::move(w));
      return;
    }
    size_t running = 0;
    for (auto& [id, s] : sessions)
      running += s->ownChild ? 1 : 0;
    if (running >= opt.maxChildren) {
      full(t, 503,
           rpcError(w.origId, kOverloaded, "too many sessions", "max_children",
                    "--max-children (" + std::to_string(opt.maxChildren) +
                        ") sessions each have a child; end one (DELETE) or raise the limit"));
      return;
    }
    auto s = std::make_unique<Session>();
    s->id = newSessionId();
    s->lastActiveMs = now();
    s->ownChild = std::make_unique<Child>();
    s->child = s->ownChild.get();
    s->child->owner = s.get();
    w.session = s.get();
    s->child->waiting.push_back(std::move(w));
    Session* raw = s.get();
    sessions.emplace(s->id, std::move(s));
    std::string err;
    if (!startChild(*raw->child, err)) {
      for (InitWait& iw : raw->child->waiting)
        full(
            iw.target, 502,
            rpcError(iw.origId, kUpstreamDown, "cannot start the MCP server", "spawn_failed", err));
      raw->child->waiting.clear();
      endSession(*raw, "spawn failed");
    }
  }

  void answerInitialize(InitWait& w, Child& ch) {
    Session* s = w.session;
    if (!s) {
      auto fresh = std::make_unique<Session>();
      fresh->id = newSessionId();
      fresh->child = &ch;
      s = fresh.get();
      sessions.emplace(fresh->id, std::move(fresh));
    }
    s->version = negotiate(w.requestedVersion, ch);
    s->ready = true;
    s->lastActiveMs = now();
    process.sessionsActive.store(static_cast<int64_t>(sessions.size()), std::memory_order_relaxed);
    std::string result = ch.initResult;
    if (s->version != ch.version) {
      rapidjson::Document d;
      d.Parse(result.data(), result.size());
      if (!d.HasParseError() && d.IsObject() && d.HasMember("protocolVersion")) {
        d["protocolVersion"].SetString(s->version.data(),
                                       static_cast<rapidjson::SizeType>(s->version.size()),
                                       d.GetAllocator());
        rapidjson::StringBuffer buf;
        rapidjson::Writer<rapidjson::StringBuffer> wr(buf);
        d.Accept(wr);
        result.assign(buf.GetString(), buf.GetSize());
      }
    }
    std::string body = "{\"jsonrpc\":\"2.0\",\"id\":" + w.origId + ",\"result\":" + result + "}";
    Pending rec; // the record of this operation, answered by the bridge from its cache
    rec.session = s;
    rec.origId = w.origId;
    rec.method = "initialize";
    rec.caller = w.caller;
    rec.startNs = w.startNs;
    rec.bytesIn = w.bytesIn;
    record(rec, body.size(), "ok", {});
    full(w.target, 200, std::move(body),
         "Mcp-Session-Id: " + s->id + "\r\nAccess-Control-Expose-Headers: Mcp-Session-Id\r\n");
    log::debug("MCP session started", {{"session", s->id}, {"protocol_version", s->version}});
  }

  void endSession(Session& s, const char* why) {
    log::debug("MCP session ended", {{"session", s.id}, {"why", why}});
    if (s.get) {
      send(s.get, Reply::Kind::End, 0, {}, {});
      tokens.erase(s.get.token);
      s.get = {};
    }
    Child* ch = s.child;
    for (auto& [orig, childId] : s.inflight) {
      auto it = ch->pending.find(childId);
      if (it != ch->pending.end())
        it->second.session = nullptr;
    }
    for (auto it = ch->serverRequests.begin(); it != ch->serverRequests.end();)
      it = it->second == &s ? ch->serverRequests.erase(it) : std::next(it);
    if (s.ownChild) {
      stopChild(std::move(s.ownChild));
      s.child = nullptr;
    }
    std::string id = s.id;
    sessions.erase(id);
    process.sessionsActive.store(static_cast<int64_t>(sessions.size()), std::memory_order_relaxed);
  }

  void get(Call& c) {
    Session* s = findSession(c);
    if (!s)
      return;
    Target t{c.reply, c.token};
    if (draining || stopping) {
      full(t, 503,
           rpcError({}, kUpstreamDown, "the sidecar is shutting down", "shutting_down", {}));
      return;
    }
    if (s->get) {
      full(t, 409,
           rpcError({}, -32000, "Conflict: Only one SSE stream is allowed per session",
                    "stream_exists", "close the session's other GET stream first"));
      return;
    }
    s->get = t;
    tokens[c.token] = {s, true, nullptr, 0, nullptr};
    send(t, Reply::Kind::Head, 200, kSseHead, {});
    while (!s->queued.empty()) {
      send(t, Reply::Kind::Event, 0, {}, std::move(s->queued.front()));
      s->queued.pop_front();
    }
  }

  void del(Call& c) {
    Session* s = findSession(c);
    if (!s)
      return;
    endSession(*s, "DELETE");
    send({c.reply, c.token}, Reply::Kind::Full, 200, {}, {});
  }

  void cancel(uint64_t token) {
    auto it = tokens.find(token);
    if (it == tokens.end())
      return;
    TokenUse u = it->second;
    tokens.erase(it);
    if (u.batch) {
      u.batch->target = {};
      return;
    }
    if (u.get) {
      if (u.session && u.session->get.token == token)
        u.session->get = {};
      return;
    }
    // The client went away before its answer: the child's answer will be dropped. Not a
    // cancellation (MCP: a disconnect is not a cancel).
    auto p = u.child->pending.find(u.childId);
    if (p != u.child->pending.end())
      p->second.target = {};
  }

  // ---- toward sessions ----

  // Sends a message to a session: on the stream of its most recent request in flight when
  // `related`, else on its GET stream, else queued for the next GET stream.
  void toSession(Session& s, std::string_view json, bool related) {
    if (related) {
      Pending* best = nullptr;
      for (auto& [orig, childId] : s.inflight) {
        auto it = s.child->pending.find(childId);
        if (it == s.child->pending.end() || !it->second.target)
          continue;
        if (!best || it->second.startMs >= best->startMs)
          best = &it->second;
      }
      if (best) {
        toRequestStream(*best, json);
        return;
      }
    }
    if (s.get) {
      send(s.get, Reply::Kind::Event, 0, {}, sseEvent(json));
      return;
    }
    if (s.queued.size() >= kMaxQueuedPerSession) {
      s.queued.pop_front();
      ++s.dropped;
      uint64_t suppressed = 0;
      if (warnLimiter.allow(monoNowNs(), suppressed))
        log::warn("a session's client opened no GET stream; oldest queued server message dropped",
                  {{"session", s.id},
                   {"queued_limit", static_cast<unsigned long>(kMaxQueuedPerSession)},
                   {"dropped", static_cast<unsigned long long>(s.dropped)}});
    }
    s.queued.push_back(sseEvent(json));
  }

  void toRequestStream(Pending& p, std::string_view json) {
    if (!p.streaming) {
      p.streaming = true;
      send(p.target, Reply::Kind::Head, 200, kSseHead, {});
    }
    send(p.target, Reply::Kind::Event, 0, {}, sseEvent(json));
  }

  void finishPending(Child& ch, int64_t childId, std::string answer, std::string_view outcome,
                     std::string_view reason = {}) {
    auto it = ch.pending.find(childId);
    if (it == ch.pending.end())
      return;
    Pending p = std::move(it->second);
    ch.pending.erase(it);
    record(p, answer.size(), outcome, reason);
    if (p.session)
      p.session->inflight.erase(p.origId);
    if (p.batch) {
      batchAnswer(*p.batch, std::move(answer));
      return;
    }
    if (!p.target)
      return;
    tokens.erase(p.target.token);
    if (p.streaming) {
      send(p.target, Reply::Kind::Event, 0, {}, sseEvent(answer));
      send(p.target, Reply::Kind::End, 0, {}, {});
    } else {
      full(p.target, 200, std::move(answer));
    }
  }

  // Metrics and the audit trail for one answered request.
  void record(Pending& p, size_t bytesOut, std::string_view outcome, std::string_view reason) {
    double seconds = static_cast<double>(monoNowNs() - p.startNs) / 1e9;
    if (opt.mcp)
      opt.mcp->observe(p.method, p.tool, outcome, seconds);
    if (!opt.audit)
      return;
    audit::AuditRecord r;
    r.kind = audit::RecordKind::Operation;
    r.session = p.session ? p.session->id : std::string();
    r.rpcId = p.origId;
    r.method = p.method;
    r.tool = p.tool;
    r.caller = p.caller;
    r.outcome = outcome;
    r.reason = reason;
    r.latencyMs = seconds * 1000;
    r.bytesIn = p.bytesIn;
    r.bytesOut = bytesOut;
    r.args = std::move(p.args);
    opt.audit->append(std::move(r));
  }

  // The one session a message not tied to a request belongs to, or null when it cannot be told.
  Session* attribute(Child& ch) {
    if (ch.owner)
      return ch.owner;
    Session* found = nullptr;
    for (auto& [id, s] : sessions) {
      if (s->child != &ch || s->inflight.empty())
        continue;
      if (found)
        return nullptr; // several sessions have calls in flight
      found = s.get();
    }
    if (found)
      return found;
    if (sessions.size() == 1 && sessions.begin()->second->child == &ch)
      return sessions.begin()->second.get();
    return nullptr;
  }

  // ---- from the child ----

  void fromChild(Child& ch, std::string_view line) {
    mcp::MessageInfo m = mcp::scanMessage(line);
    if (m.batch) {
      for (const mcp::Span& item : m.items)
        fromChild(ch, item.in(line));
      return;
    }
    switch (m.kind) {
    case mcp::MessageKind::Response:
      responseFromChild(ch, line, m);
      return;
    case mcp::MessageKind::Request:
      requestFromChild(ch, line, m);
      return;
    case mcp::MessageKind::Notification:
      notificationFromChild(ch, line, m);
      return;
    case mcp::MessageKind::Invalid:
      break;
    }
    uint64_t suppressed = 0;
    if (warnLimiter.allow(monoNowNs(), suppressed))
      log::warn("the MCP server wrote a stdout line that is not a JSON-RPC message; skipped",
                {{"server", opt.name},
                 {"error", m.error},
                 {"line", std::string(line.substr(0, 200))},
                 {"suppressed", static_cast<unsigned long long>(suppressed)}});
  }

  void responseFromChild(Child& ch, std::string_view line, const mcp::MessageInfo& m) {
    int64_t id = 0;
    if (!parseInt(m.id.in(line), id)) {
      log::debug("MCP server answered an id the bridge never sent", {{"line", std::string(line)}});
      return;
    }
    if (id == ch.initId && ch.state == Child::State::Starting) {
      initResultFromChild(ch, line, m);
      return;
    }
    if (id == ch.toolsListId) {
      toolsFromChild(ch, line);
      return;
    }
    if (id == ch.resourcesList.id) {
      ownListFromChild(ch, line, "resources/list", "resources", ch.resourcesList, opt.onResources);
      return;
    }
    if (id == ch.promptsList.id) {
      ownListFromChild(ch, line, "prompts/list", "prompts", ch.promptsList, opt.onPrompts);
      return;
    }
    auto it = ch.pending.find(id);
    if (it == ch.pending.end())
      return; // timed out or cancelled earlier
    std::string answer;
    answer.reserve(line.size() + 8);
    mcp::splice(line, {{m.id, it->second.origId}}, answer);
    std::string code = m.hasError ? std::to_string(m.errorCode) : std::string();
    finishPending(ch, id, std::move(answer),
                  m.hasError        ? "rpc_error"
                  : m.isErrorResult ? "tool_error"
                                    : "ok",
                  code);
  }

  void requestFromChild(Child& ch, std::string_view line, const mcp::MessageInfo& m) {
    std::string idText(m.id.in(line));
    if (m.method == "ping") {
      ch.proc->send("{\"jsonrpc\":\"2.0\",\"id\":" + idText + ",\"result\":{}}");
      return;
    }
    if (m.method == "roots/list") {
      // The bridge does not offer the roots capability: the directories a server exposes are the
      // operator's choice (its command line), not a caller's.
      ch.proc->send(rpcError(idText, -32601, "roots are not offered by this client", {}, {}));
      return;
    }
    Session* s = attribute(ch);
    if (!s) {
      log::warn("the MCP server sent a request the sidecar cannot attribute to one session "
                "(several sessions have calls in flight); refused. Run with "
                "--child-per-session for servers that call back to clients",
                {{"server", opt.name}, {"method", m.method}});
      ch.proc->send(rpcError(
          idText, -32603, "mcp-sidecar: cannot route this request to one client session", {}, {}));
      return;
    }
    ch.serverRequests[idText] = s;
    toSession(*s, line, true);
  }

  void notificationFromChild(Child& ch, std::string_view line, const mcp::MessageInfo& m) {
    if (m.method == "notifications/progress" && m.paramsProgressToken.present()) {
      int64_t token = 0;
      if (!parseInt(m.paramsProgressToken.in(line), token))
        return;
      auto it = ch.pending.find(token);
      if (it == ch.pending.end() || !it->second.target || it->second.origToken.empty())
        return;
      std::string msg;
      mcp::splice(line, {{m.paramsProgressToken, it->second.origToken}}, msg);
      toRequestStream(it->second, msg);
      return;
    }
    if (m.method == "notifications/cancelled" && m.paramsRequestId.present()) {
      auto it = ch.serverRequests.find(std::string(m.paramsRequestId.in(line)));
      if (it != ch.serverRequests.end()) {
        Session* s = it->second;
        ch.serverRequests.erase(it);
        toSession(*s, line, true);
      }
      return;
    }
    if (m.method == "notifications/tools/list_changed")
      askTools(ch, {}); // the metrics' tool names and the drift check read the new list
    if (m.method == "notifications/resources/list_changed" && opt.onResources)
      askOwnList(ch, "resources/list", ch.resourcesList, {});
    if (m.method == "notifications/prompts/list_changed" && opt.onPrompts)
      askOwnList(ch, "prompts/list", ch.promptsList, {});
    bool broadcast =
        m.method.ends_with("/list_changed") || m.method == "notifications/resources/updated";
    if (broadcast) {
      for (auto& [id, s] : sessions)
        if (s->child == &ch && s->ready)
          toSession(*s, line, false);
      return;
    }
    Session* s = attribute(ch);
    if (s) {
      toSession(*s, line, true);
      return;
    }
    log::debug("MCP server notification not attributable to one session; logged only",
               {{"server", opt.name}, {"message", std::string(line.substr(0, 500))}});
  }

  // ---- children ----

  ChildSpec spec() {
    ChildSpec sp;
    sp.name = opt.name;
    sp.argv = opt.command;
    sp.env = opt.env;
    sp.cwd = opt.cwd;
    return sp;
  }

  bool startChild(Child& ch, std::string& error) {
    ch.state = Child::State::Starting;
    ch.proc = std::make_unique<ChildProcess>(&loop, spec());
    Child* chp = &ch;
    ChildProcess* proc = ch.proc.get();
    proc->onMessage = [this, chp](std::string_view line) { fromChild(*chp, line); };
    proc->onExit = [this, chp, proc](int64_t status, int sig) {
      childExited(*chp, proc, status, sig);
    };
    if (!proc->start(error)) {
      // Its handles close on their own; keep it until they have.
      retire(std::move(ch.proc));
      ch.state = Child::State::Down;
      return false;
    }
    if (!ch.timerOpen) {
      uv_timer_init(&loop, &ch.restartTimer);
      ch.restartTimer.data = chp;
      ch.timerOpen = true;
    }
    log::info("MCP server started", {{"server", opt.name},
                                     {"pid", static_cast<long>(proc->pid())},
                                     {"command", opt.command[0]}});
    ch.startedAtMs = ch.lastWaitNoteMs = now();
    ch.initId = nextId++;
    std::string init = "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(ch.initId) +
                       ",\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"" + kLatest +
                       "\",\"capabilities\":{\"sampling\":{},\"elicitation\":{\"form\":{},"
                       "\"url\":{}}},\"clientInfo\":{\"name\":\"mcp-sidecar\",\"version\":\"" +
                       kVersion + "\"}}}";
    proc->send(std::move(init));
    return true;
  }

  void retire(std::unique_ptr<ChildProcess> proc) {
    ChildProcess* raw = proc.get();
    raw->onMessage = nullptr;
    raw->onExit = nullptr;
    raw->onGone = [this, raw] {
      // Deferred: onGone runs inside the process's own close callback.
      auto it =
          std::find_if(dying.begin(), dying.end(), [raw](const auto& p) { return p.get() == raw; });
      if (it != dying.end()) {
        dyingDone.push_back(std::move(*it));
        dying.erase(it);
      }
      maybeFinish();
    };
    raw->stop();
    dying.push_back(std::move(proc));
  }
  std::vector<std::unique_ptr<ChildProcess>> dyingDone;

  void initResultFromChild(Child& ch, std::string_view line, const mcp::MessageInfo& m) {
    rapidjson::Document d;
    parseServerLine(d, line);
    std::string version;
    if (m.hasResult && d.IsObject() && d.HasMember("result") && d["result"].IsObject()) {
      const auto& r = d["result"];
      if (r.HasMember("protocolVersion") && r["protocolVersion"].IsString())
        version = r["protocolVersion"].GetString();
      bool caps = r.HasMember("capabilities") && r["capabilities"].IsObject();
      ch.hasTools = caps && r["capabilities"].HasMember("tools");
      ch.hasResources = caps && r["capabilities"].HasMember("resources");
      ch.hasPrompts = caps && r["capabilities"].HasMember("prompts");
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer> w(buf);
      r.Accept(w);
      ch.initResult.assign(buf.GetString(), buf.GetSize());
    }
    if (version.empty() || !supportedVersion(version)) {
      log::error("the MCP server refused or garbled initialize; stopping it",
                 {{"server", opt.name},
                  {"answer", std::string(line.substr(0, 500))},
                  {"hint", "check that the command is an MCP server speaking stdio, protocol "
                           "2024-11-05 to 2025-11-25"}});
      ch.proc->stop(); // the exit path restarts it with backoff
      return;
    }
    ch.version = version;
    ch.state = Child::State::Ready;
    ch.everReady = true;
    if (opt.onInitialized)
      opt.onInitialized(ch.initResult);
    ch.readyAtMs = now();
    ch.proc->send("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    if (!ch.owner)
      process.upstreamUp.store(1, std::memory_order_relaxed);
    log::info("MCP server initialized", {{"server", opt.name},
                                         {"protocol_version", version},
                                         {"pid", static_cast<long>(ch.proc->pid())}});
    // The bridge reads the tools at once (metrics labels, drift). Under --drift-policy block,
    // sessions start only once they are known, so that no call reaches a changed tool unchecked;
    // otherwise sessions do not wait for it (a cold server's first tools/list can take tens of
    // milliseconds), and a call that overtakes the list is labelled `other`.
    ch.tools.clear();
    bool ask = ch.hasTools && (opt.mcp || opt.drift || opt.onTools);
    ch.listing = ask && opt.drift && opt.drift->policy() == drift::DriftPolicy::Block;
    if (ask)
      askTools(ch, {});
    if (ch.hasResources && opt.onResources)
      askOwnList(ch, "resources/list", ch.resourcesList, {});
    if (ch.hasPrompts && opt.onPrompts)
      askOwnList(ch, "prompts/list", ch.promptsList, {});
    if (!ch.listing)
      releaseWaiting(ch);
  }

  void releaseWaiting(Child& ch) {
    ch.listing = false;
    std::vector<InitWait> waiting;
    waiting.swap(ch.waiting);
    for (InitWait& w : waiting)
      answerInitialize(w, ch);
  }

  // The bridge's own tools/list: the names label the metrics (anything else is "other").
  void askTools(Child& ch, const std::string& cursor) {
    if (ch.state != Child::State::Ready || (!opt.mcp && !opt.drift && !opt.onTools))
      return;
    if (cursor.empty()) {
      ch.tools.clear();
      ch.toolsJson.clear();
      ch.manifest = drift::ToolManifest();
    }
    ch.toolsListId = nextId++;
    std::string req = mcp::listRequest(std::to_string(ch.toolsListId), "tools/list", cursor);
    ch.proc->send(std::move(req));
  }

  // resources/list or prompts/list of the bridge's own, page by page.
  void askOwnList(Child& ch, const char* method, Child::OwnList& list, const std::string& cursor) {
    if (ch.state != Child::State::Ready)
      return;
    if (cursor.empty()) {
      list.items.clear();
      list.manifest = drift::DefinitionManifest(list.manifest.kind());
      list.unreadable = false;
    }
    list.id = nextId++;
    std::string req = mcp::listRequest(std::to_string(list.id), method, cursor);
    ch.proc->send(std::move(req));
  }

  void ownListFromChild(Child& ch, std::string_view line, const char* method, const char* member,
                        Child::OwnList& list, const std::function<void(const std::string&)>& done) {
    list.id = 0;
    // Drift: resources and prompts are reported, never refused; an unreadable page is reported
    // as such (it could hide any change), once per listing.
    if (opt.drift && !list.unreadable)
      if (Status st = list.manifest.addPage(line); !st.ok()) {
        list.unreadable = true;
        opt.drift->observeUnreadable(list.manifest.kind(), st.message());
      }
    rapidjson::Document d;
    parseServerLine(d, line);
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("result") || !d["result"].IsObject())
      return; // an error answer: the document keeps what it had
    const auto& r = d["result"];
    if (r.HasMember(member) && r[member].IsArray())
      for (const auto& item : r[member].GetArray()) {
        rapidjson::StringBuffer buf;
        rapidjson::Writer<rapidjson::StringBuffer> w(buf);
        item.Accept(w);
        if (!list.items.empty())
          list.items += ',';
        list.items.append(buf.GetString(), buf.GetSize());
      }
    if (r.HasMember("nextCursor") && r["nextCursor"].IsString() &&
        list.items.size() < (16u << 20)) {
      askOwnList(ch, method, list, r["nextCursor"].GetString());
      return;
    }
    if (done)
      done("[" + list.items + "]");
    if (opt.drift && !list.unreadable)
      opt.drift->observeList(list.manifest);
  }

  void toolsFromChild(Child& ch, std::string_view line) {
    ch.toolsListId = 0;
    if (opt.drift) {
      if (Status st = ch.manifest.addPage(line); !st.ok()) {
        // Fails closed: a list the sidecar cannot read could hide any change.
        opt.drift->observeUnreadable(st.message());
        if (ch.listing)
          releaseWaiting(ch);
        return;
      }
    }
    rapidjson::Document d;
    parseServerLine(d, line);
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("result") || !d["result"].IsObject()) {
      if (ch.listing)
        releaseWaiting(ch); // sessions must not wait on a list that will not come
      return;
    }
    const auto& r = d["result"];
    if (r.HasMember("tools") && r["tools"].IsArray())
      for (rapidjson::SizeType i = 0; i < r["tools"].Size(); ++i) {
        const auto& t = r["tools"][i];
        if (t.IsObject() && t.HasMember("name") && t["name"].IsString())
          ch.tools.emplace_back(t["name"].GetString(), t["name"].GetStringLength());
        if (opt.onTools) {
          rapidjson::StringBuffer buf;
          rapidjson::Writer<rapidjson::StringBuffer> w(buf);
          t.Accept(w);
          if (!ch.toolsJson.empty())
            ch.toolsJson += ',';
          ch.toolsJson.append(buf.GetString(), buf.GetSize());
        }
      }
    if (r.HasMember("nextCursor") && r["nextCursor"].IsString() && ch.tools.size() < 100000) {
      askTools(ch, r["nextCursor"].GetString());
      return;
    }
    if (opt.mcp)
      opt.mcp->setTools(ch.tools);
    if (opt.onTools)
      opt.onTools("[" + ch.toolsJson + "]");
    if (opt.drift)
      opt.drift->observe(ch.manifest);
    if (ch.listing)
      releaseWaiting(ch);
  }

  // ---- drift ----

  void acceptDrift() {
    if (opt.drift)
      opt.drift->accept();
  }

  void childExited(Child& ch, ChildProcess* proc, int64_t status, int sig) {
    if (ch.proc.get() != proc)
      return;
    bool expected = stopping || ch.state == Child::State::Stopped;
    if (!expected)
      log::warn("MCP server exited", {{"server", opt.name},
                                      {"pid", static_cast<long>(proc->pid())},
                                      {"exit_status", static_cast<long long>(status)},
                                      {"signal", sig}});
    if (!ch.owner)
      process.upstreamUp.store(0, std::memory_order_relaxed);
    // Every call in flight gets its answer now: the server will not give one.
    std::vector<int64_t> ids;
    for (auto& [id, p] : ch.pending)
      ids.push_back(id);
    for (int64_t id : ids) {
      const Pending& p = ch.pending.at(id);
      finishPending(ch, id,
                    rpcError(p.origId, kUpstreamDown, "the MCP server exited", "upstream_exited",
                             "the stdio MCP server exited before answering; it is restarted"),
                    "upstream_error", "upstream_exited");
    }
    ch.serverRequests.clear();
    retire(std::move(ch.proc));
    if (expected || ch.state == Child::State::Stopped) {
      ch.state = Child::State::Stopped;
      for (InitWait& w : ch.waiting)
        full(
            w.target, 503,
            rpcError(w.origId, kUpstreamDown, "the sidecar is shutting down", "shutting_down", {}));
      ch.waiting.clear();
      return;
    }
    ch.state = Child::State::Down;
    if (ch.everReady && now() - ch.readyAtMs > kMaxBackoffMs)
      ch.backoffMs = kFirstBackoffMs; // it ran well for a while: start over
    log::info("restarting the MCP server",
              {{"server", opt.name}, {"in_ms", static_cast<unsigned long>(ch.backoffMs)}});
    uv_timer_start(&ch.restartTimer, onRestart, ch.backoffMs, 0);
    ch.backoffMs = std::min(ch.backoffMs * 2, kMaxBackoffMs);
  }

  static void onRestart(uv_timer_t* t) {
    auto* ch = static_cast<Child*>(t->data);
    Impl* self = static_cast<Impl*>(t->loop->data);
    if (self->stopping || ch->state != Child::State::Down)
      return;
    self->process.childRestarts.fetch_add(1, std::memory_order_relaxed);
    std::string err;
    if (!self->startChild(*ch, err)) {
      log::error("cannot restart the MCP server", {{"server", self->opt.name}, {"error", err}});
      uv_timer_start(&ch->restartTimer, onRestart, ch->backoffMs, 0);
      ch->backoffMs = std::min(ch->backoffMs * 2, kMaxBackoffMs);
    }
  }

  void stopChild(std::unique_ptr<Child> ch) {
    ch->state = Child::State::Stopped;
    for (auto& [id, p] : ch->pending)
      if (p.target) {
        tokens.erase(p.target.token);
        full(p.target, 200,
             rpcError(p.origId, kUpstreamDown, "the session ended", "session_ended", {}));
      }
    ch->pending.clear();
    if (ch->proc)
      retire(std::move(ch->proc));
    if (ch->timerOpen) {
      // The timer's data is the Child: close it before the Child goes.
      ch->timerOpen = false;
      auto* holder = ch.release();
      uv_close(reinterpret_cast<uv_handle_t*>(&holder->restartTimer),
               [](uv_handle_t* h) { delete static_cast<Child*>(h->data); });
    }
  }

  // ---- timers ----

  static void onSweep(uv_timer_t* t) { static_cast<Impl*>(t->data)->sweepOnce(); }

  void sweepOnce() {
    dyingDone.clear(); // processes whose handles have all closed (freed outside their callbacks)
    uint64_t n = now();
    // Calls the child has not answered in time.
    std::vector<Child*> children;
    if (shared)
      children.push_back(shared.get());
    for (auto& [id, s] : sessions)
      if (s->ownChild)
        children.push_back(s->ownChild.get());
    for (Child* ch : children) {
      std::vector<int64_t> late;
      for (auto& [id, p] : ch->pending)
        if (n - p.startMs > opt.requestTimeoutMs)
          late.push_back(id);
      for (int64_t id : late) {
        const Pending& p = ch->pending.at(id);
        log::warn("the MCP server did not answer in time; the call is cancelled",
                  {{"server", opt.name},
                   {"method", p.method},
                   {"timeout_ms", static_cast<unsigned long long>(opt.requestTimeoutMs)}});
        if (ch->state == Child::State::Ready)
          ch->proc->send("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":"
                         "{\"requestId\":" +
                         std::to_string(id) + ",\"reason\":\"timeout\"}}");
        finishPending(*ch, id,
                      rpcError(p.origId, kUpstreamTimeout, "the MCP server did not answer in time",
                               "upstream_timeout", "no answer within --upstream-timeout"),
                      "upstream_error", "upstream_timeout");
      }
    }
    // A person waiting for a slow start (a first `npx -y` downloads the package) is told why.
    for (Child* ch : children) {
      if (ch->state != Child::State::Starting || n - ch->lastWaitNoteMs < 10000)
        continue;
      ch->lastWaitNoteMs = n;
      log::info("still waiting for the MCP server to answer initialize (a first npx -y "
                "downloads the package; pre-install it to start faster)",
                {{"server", opt.name},
                 {"waited_s", static_cast<unsigned long long>((n - ch->startedAtMs) / 1000)},
                 {"callers_waiting", static_cast<unsigned long>(ch->waiting.size())}});
    }
    // Idle sessions.
    std::vector<Session*> idle;
    for (auto& [id, s] : sessions) {
      if (!s->ready || n - s->lastActiveMs < opt.idleTimeoutMs)
        continue;
      // A shared-child session with an open GET stream is a client still listening; a
      // per-session child is stopped regardless, since it holds a process.
      if (!s->ownChild && (s->get || !s->inflight.empty()))
        continue;
      idle.push_back(s.get());
    }
    for (Session* s : idle)
      endSession(*s, "idle timeout");
    // SSE keep-alives on GET streams, so that proxies in between do not cut them.
    if (n - lastKeepAliveMs >= kKeepAliveMs) {
      lastKeepAliveMs = n;
      for (auto& [id, s] : sessions)
        if (s->get)
          send(s->get, Reply::Kind::Event, 0, {}, ": keepalive\n\n");
    }
  }

  // ---- shutdown ----

  void drain() {
    if (draining)
      return;
    draining = true;
    for (auto& [id, s] : sessions)
      if (s->get) {
        send(s->get, Reply::Kind::End, 0, {}, {});
        tokens.erase(s->get.token);
        s->get = {};
      }
  }

  void stop() {
    if (stopping)
      return;
    drain();
    stopping = true;
    std::vector<Session*> all;
    for (auto& [id, s] : sessions)
      all.push_back(s.get());
    for (Session* s : all)
      endSession(*s, "shutdown");
    if (shared)
      stopChild(std::move(shared));
    uv_timer_stop(&sweep);
    uv_close(reinterpret_cast<uv_handle_t*>(&sweep), nullptr);
    inbox.close();
    maybeFinish();
  }

  void maybeFinish() {
    // The loop ends by itself once every handle is closed; this only logs it.
    if (stopping && dying.empty())
      log::debug("stdio bridge stopped", {{"server", opt.name}});
  }

  ~Impl() { dyingDone.clear(); }
};

Bridge::Bridge(BridgeOptions opt, metrics::ProcessState& process)
    : impl_(std::make_unique<Impl>(*this, std::move(opt), process)) {}

Bridge::~Bridge() {
  join();
}

bool Bridge::start(std::string& error) {
  Impl& m = *impl_;
  if (m.opt.command.empty()) {
    error = "no command for the stdio MCP server";
    return false;
  }
  if (m.opt.name.empty())
    m.opt.name = serverName(m.opt.command);
  uv_loop_init(&m.loop);
  m.loop.data = &m;
  m.inbox.open(&m.loop, [&m](std::vector<Call>& calls) { m.onCalls(calls); });
  uv_timer_init(&m.loop, &m.sweep);
  m.sweep.data = &m;
  uv_timer_start(&m.sweep, Impl::onSweep, kSweepMs, kSweepMs);
  m.process.stdioUpstream = true;
  if (!m.opt.childPerSession) {
    m.shared = std::make_unique<Child>();
    if (!m.startChild(*m.shared, error)) {
      // Nothing ran: close what was opened and give the error to the caller (exit 1).
      m.stopping = true;
      m.shared.reset();
      uv_close(reinterpret_cast<uv_handle_t*>(&m.sweep), nullptr);
      m.inbox.close();
      uv_run(&m.loop, UV_RUN_DEFAULT);
      uv_loop_close(&m.loop);
      return false;
    }
  } else {
    m.process.upstreamUp.store(1, std::memory_order_relaxed); // children start per session
  }
  m.thread = std::thread([&m] { m.run(); });
  return true;
}

void Bridge::submit(Call&& call) {
  impl_->inbox.post(std::move(call));
}

void Bridge::acceptDrift() {
  Call c;
  c.op = Call::Op::AcceptDrift;
  impl_->inbox.post(std::move(c));
}

std::string Bridge::driftStatus() const {
  return impl_->opt.drift ? impl_->opt.drift->stateJson() : "null";
}

void Bridge::drain() {
  Call c;
  c.op = Call::Op::Drain;
  impl_->inbox.post(std::move(c));
}

void Bridge::stop() {
  Call c;
  c.op = Call::Op::Stop;
  impl_->inbox.post(std::move(c));
}

void Bridge::join() {
  if (impl_ && impl_->thread.joinable())
    impl_->thread.join();
}

std::vector<std::string> childEnvironment(char** parent, const std::vector<std::string>& extra) {
  // What a server started with npx or node needs; everything else (the sidecar's own secrets,
  // AIM keys) stays out of the child.
  static const char* const kExact[] = {"PATH",
                                       "HOME",
                                       "USER",
                                       "LOGNAME",
                                       "SHELL",
                                       "TERM",
                                       "LANG",
                                       "TZ",
                                       "TMPDIR",
                                       "NODE_EXTRA_CA_CERTS",
                                       "NODE_OPTIONS",
                                       "NODE_PATH",
                                       "SSL_CERT_FILE",
                                       "SSL_CERT_DIR",
                                       "HTTP_PROXY",
                                       "HTTPS_PROXY",
                                       "NO_PROXY",
                                       "http_proxy",
                                       "https_proxy",
                                       "no_proxy",
                                       "ALL_PROXY",
                                       "all_proxy",
                                       "XDG_CONFIG_HOME",
                                       "XDG_CACHE_HOME",
                                       "XDG_DATA_HOME",
                                       "XDG_RUNTIME_DIR",
                                       "PYTHONPATH",
                                       "VIRTUAL_ENV",
                                       "UV_CACHE_DIR"};
  static const char* const kPrefix[] = {"LC_", "npm_config_", "NPM_CONFIG_", "COREPACK_"};
  std::map<std::string, std::string> env;
  for (char** e = parent; e && *e; ++e) {
    std::string_view kv(*e);
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos)
      continue;
    std::string key(kv.substr(0, eq));
    bool keep = false;
    for (const char* k : kExact)
      keep = keep || key == k;
    for (const char* p : kPrefix)
      keep = keep || key.starts_with(p);
    if (keep)
      env[key] = std::string(kv.substr(eq + 1));
  }
  for (const std::string& kv : extra) {
    size_t eq = kv.find('=');
    if (eq != std::string::npos)
      env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  if (!env.count("PATH"))
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  std::vector<std::string> out;
  for (auto& [k, v] : env)
    out.push_back(k + "=" + v);
  return out;
}

} // namespace sidecar::bridge
