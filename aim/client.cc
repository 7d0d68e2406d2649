#include "aim/client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sodium.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/log.h"

namespace sidecar::aim {

namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;
using std::chrono::milliseconds;

constexpr const char* kProbeAgentId = "00000000-0000-0000-0000-000000000000";

int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

AimResult classify(const HttpResponse& r) {
  if (r.status == 0)
    return AimResult::NetworkError;
  if ((r.status >= 200 && r.status < 300) || r.status == 304)
    return AimResult::Ok;
  if (r.status == 429)
    return AimResult::RateLimited;
  if (r.status >= 500 || r.status == 401 || r.status == 408)
    return AimResult::Retry;
  return AimResult::Rejected;
}

// "AIM POST /api/v1/agents: 409 {…}" or "AIM POST /api/v1/agents: no answer: …".
std::string describe(std::string_view method, std::string_view route, const HttpResponse& r) {
  std::string out = "AIM " + std::string(method) + " " + std::string(route) + ": ";
  if (r.status == 0)
    return out + "no answer: " + r.error;
  return out + std::to_string(r.status) + " " + bodyExcerpt(r.body);
}

std::string reasonCode(const HttpResponse& r) {
  rapidjson::Document doc;
  doc.Parse(r.body.data(), r.body.size());
  if (doc.HasParseError() || !doc.IsObject())
    return {};
  for (const char* name : {"reasonCode", "reason_code"})
    if (doc.HasMember(name) && doc[name].IsString())
      return doc[name].GetString();
  return {};
}

milliseconds maxAgeOf(const std::string& cacheControl) {
  size_t at = cacheControl.find("max-age=");
  if (at == std::string::npos)
    return milliseconds(0);
  size_t i = at + 8;
  uint64_t secs = 0;
  while (i < cacheControl.size() && cacheControl[i] >= '0' && cacheControl[i] <= '9' &&
         secs < 86400 * 365)
    secs = secs * 10 + static_cast<uint64_t>(cacheControl[i++] - '0');
  return milliseconds(secs * 1000);
}

bool readWhole(const std::string& path, std::string& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f)
    return false;
  std::stringstream ss;
  ss << f.rdbuf();
  out = ss.str();
  return true;
}

Status writeFileSynced(const std::string& path, const std::string& data) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return Status::error("cannot create " + tmp + ": " + strerror(errno));
  std::string_view rest = data;
  while (!rest.empty()) {
    ssize_t n = ::write(fd, rest.data(), rest.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return Status::error("cannot write " + tmp + ": " + strerror(err));
    }
    rest.remove_prefix(static_cast<size_t>(n));
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return Status::error("cannot rename " + tmp + ": " + strerror(errno));
  return {};
}

std::string jsonString(const rapidjson::Value& obj, const char* name) {
  if (obj.IsObject() && obj.HasMember(name) && obj[name].IsString())
    return std::string(obj[name].GetString(), obj[name].GetStringLength());
  return {};
}

} // namespace

const char* routeName(AimRoute route) {
  switch (route) {
  case AimRoute::RegisterAgent:
    return "register_agent";
  case AimRoute::RegisterServer:
    return "register_mcp_server";
  case AimRoute::Heartbeat:
    return "heartbeat";
  case AimRoute::UsageReport:
    return "usage_report";
  case AimRoute::Verification:
    return "verification";
  case AimRoute::VerificationPoll:
    return "verification_poll";
  case AimRoute::ExecutionStatus:
    return "execution_status";
  case AimRoute::Revocations:
    return "revocations";
  case AimRoute::DetectionReport:
    return "detection_report";
  case AimRoute::Count:
    break;
  }
  return "other";
}

const char* resultName(AimResult result) {
  switch (result) {
  case AimResult::Ok:
    return "ok";
  case AimResult::Denied:
    return "denied";
  case AimResult::RateLimited:
    return "rate_limited";
  case AimResult::Retry:
    return "retry";
  case AimResult::Rejected:
    return "rejected";
  case AimResult::NetworkError:
    return "network_error";
  case AimResult::Count:
    break;
  }
  return "other";
}

const char* stateName(AimState state) {
  switch (state) {
  case AimState::Registering:
    return "registering";
  case AimState::Registered:
    return "registered";
  case AimState::Failed:
    return "failed";
  case AimState::Stopped:
    return "stopped";
  }
  return "unknown";
}

const char* decisionName(Decision decision) {
  switch (decision) {
  case Decision::Approved:
    return "approved";
  case Decision::Denied:
    return "denied";
  case Decision::Expired:
    return "expired";
  case Decision::Timeout:
    return "timeout";
  case Decision::Error:
    return "error";
  }
  return "unknown";
}

// ------------------------------------------------------------------------------------------------
// Creation, state file, start and stop.

Result<AimClientPtr> AimClient::create(AimOptions options) {
  const std::string& url = options.url;
  size_t schemeEnd = url.find("://");
  if (schemeEnd == std::string::npos ||
      (url.compare(0, schemeEnd, "http") != 0 && url.compare(0, schemeEnd, "https") != 0) ||
      url.size() == schemeEnd + 3)
    return Status::error("--aim-url \"" + url +
                         "\" is not an http:// or https:// URL (e.g. https://aim.example.com)");
  if (options.stateDir.empty())
    return Status::error("--state-dir is empty: the AIM client keeps its agent id and spool there");
  if (options.server.url.empty())
    return Status::error("--public-url is empty: AIM registers the MCP server under it");
  if (options.server.name.empty())
    return Status::error("--server-name is empty: AIM registers the MCP server under it");
  if (options.heartbeatInterval.count() <= 0 || options.usageInterval.count() <= 0 ||
      options.revocationInterval.count() <= 0)
    return Status::error("--aim-heartbeat-interval, --aim-usage-interval and "
                         "--aim-revocation-interval must be greater than 0");
  if (options.gateTimeout.count() <= 0)
    return Status::error("--gate-timeout must be greater than 0");
  if (options.retryInitial.count() <= 0 || options.retryMax < options.retryInitial ||
      options.pollInitial.count() <= 0 || options.pollMax < options.pollInitial ||
      options.pollFactor < 1.0)
    return Status::error("AIM retry and poll intervals must be positive and ordered");
  if (options.agent.name.empty())
    options.agent.name = options.server.name;

  AimClientPtr client(new AimClient(std::move(options)));
  const AimOptions& o = client->options_;

  size_t pathStart = o.url.find('/', schemeEnd + 3);
  client->baseUrl_ = o.url;
  while (!client->baseUrl_.empty() && client->baseUrl_.back() == '/')
    client->baseUrl_.pop_back();
  if (pathStart != std::string::npos && pathStart < client->baseUrl_.size())
    client->pathPrefix_ = client->baseUrl_.substr(pathStart);

  if (::mkdir(o.stateDir.c_str(), 0700) != 0 && errno != EEXIST)
    return Status::error("cannot create the state directory " + o.stateDir + ": " +
                         strerror(errno) + " (set --state-dir to a writable directory)");
  std::string aimDir = o.stateDir + "/aim";
  if (::mkdir(aimDir.c_str(), 0700) != 0 && errno != EEXIST)
    return Status::error("cannot create " + aimDir + ": " + strerror(errno));

  SpoolOptions so;
  so.dir = aimDir + "/spool";
  so.maxBytes = o.spoolMaxBytes;
  auto spool = Spool::open(so);
  if (!spool.ok())
    return spool.status();
  client->spool_ = std::move(*spool);

  auto usage = UsageStore::open(aimDir + "/usage");
  if (!usage.ok())
    return usage.status();
  client->usage_ = std::move(*usage);

  HttpOptions ho;
  ho.caFile = o.caFile;
  ho.connectTimeout = o.connectTimeout;
  ho.requestTimeout = o.requestTimeout;
  ho.userAgent = o.userAgent;
  auto http = HttpClient::create(ho);
  if (!http.ok())
    return http.status();
  client->http_ = std::move(*http);

  client->instance_ = verifier::randomNonce();
  std::string myKey = verifier::base64(o.key.pub.bytes);

  // agent.json: ids kept from an earlier run, used only for the same AIM and the same key.
  std::string statePath = aimDir + "/agent.json";
  std::string text;
  std::string keptServerId, verifiedServerId;
  if (readWhole(statePath, text)) {
    rapidjson::Document doc;
    doc.Parse(text.data(), text.size());
    if (doc.HasParseError() || !doc.IsObject()) {
      log::warn("AIM: ignoring an unreadable agent.json", {{"path", statePath}});
    } else if (jsonString(doc, "aimUrl") != client->baseUrl_ ||
               jsonString(doc, "publicKey") != myKey) {
      log::warn("AIM: agent.json belongs to another AIM URL or another key; not using it",
                {{"path", statePath}, {"aim_url", jsonString(doc, "aimUrl")}});
    } else {
      client->agentId_ = jsonString(doc, "agentId");
      client->agentIdFromState_ = !client->agentId_.empty();
      keptServerId = jsonString(doc, "mcpServerId");
      verifiedServerId = jsonString(doc, "verifiedServerId");
      if (!verifiedServerId.empty() && verifiedServerId == keptServerId &&
          jsonString(doc, "mcpServerUrl") == o.server.url)
        client->verifiedServerId_ = verifiedServerId;
    }
  }
  if (!o.agentId.empty()) {
    client->agentId_ = o.agentId;
    client->agentIdFromFlag_ = true;
    client->agentIdFromState_ = false;
  }
  client->phase_ = client->agentId_.empty() ? Phase::NeedAgent : Phase::NeedServer;
  return client;
}

AimClient::~AimClient() {
  stop(milliseconds(0));
}

void AimClient::setRegistration(AgentRegistration agent, McpServerRegistration server) {
  std::lock_guard<std::mutex> lock(stopMu_);
  if (started_)
    return;
  options_.agent = std::move(agent);
  options_.server = std::move(server);
}

void AimClient::start() {
  std::lock_guard<std::mutex> lock(stopMu_);
  if (started_)
    return;
  started_ = true;
  log::info("AIM client starting",
            {{"aim_url", baseUrl_},
             {"agent_id", agentId_.empty() ? std::string("(to register)") : agentId_},
             {"spool_records", spool_->records()},
             {"spool_bytes", spool_->bytes()}});
  worker_ = std::thread([this] { run(); });
}

void AimClient::stop(milliseconds drain) {
  if (worker_.joinable() && std::this_thread::get_id() == worker_.get_id()) {
    // From an approval callback: the worker cannot join itself.
    log::error("AimClient::stop() called on the AIM thread; ignored");
    return;
  }
  std::lock_guard<std::mutex> lock(stopMu_);
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopped_)
      return;
    stopRequested_ = true;
    drainUntil_ = Clock::now() + drain;
  }
  if (worker_.joinable()) {
    http_->wakeup();
    worker_.join();
  } else {
    // Never started: still keep what was counted.
    stepUsage(Clock::now(), true);
    (void)usage_->compact();
    spool_->sync();
  }
  std::lock_guard<std::mutex> l(mu_);
  stopped_ = true;
}

Status AimClient::saveState() {
  std::string agentId, serverId, verified;
  {
    std::lock_guard<std::mutex> lock(mu_);
    agentId = agentId_;
    serverId = serverId_;
    verified = verifiedServerId_;
  }
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("aimUrl");
  w.String(baseUrl_.c_str());
  w.Key("publicKey");
  w.String(verifier::base64(options_.key.pub.bytes).c_str());
  w.Key("agentId");
  w.String(agentId.c_str());
  w.Key("mcpServerId");
  w.String(serverId.c_str());
  w.Key("mcpServerUrl");
  w.String(options_.server.url.c_str());
  w.Key("verifiedServerId");
  w.String(verified.c_str());
  w.EndObject();
  std::string text(buf.GetString(), buf.GetSize());
  text += '\n';
  Status st = writeFileSynced(options_.stateDir + "/aim/agent.json", text);
  if (!st.ok())
    log::error("AIM: cannot keep the agent id in the state directory", {{"error", st.message()}});
  return st;
}

// ------------------------------------------------------------------------------------------------
// The worker.

void AimClient::run() {
  Clock::time_point now = Clock::now();
  regDue_ = now;
  revocationDue_ = now;
  usageDue_ = now + options_.usageInterval;
  bool finalUsageDone = false;
  while (true) {
    now = Clock::now();
    bool stopRequested;
    Clock::time_point drainUntil;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopRequested = stopRequested_;
      drainUntil = drainUntil_;
    }
    if (stopRequested) {
      if (!finalUsageDone) {
        stepUsage(now, true);
        finalUsageDone = true;
      }
      bool idle = !shipInFlight_ && (phase_ != Phase::Registered || spool_->records() == 0);
      if (idle || now >= drainUntil)
        break;
    }
    stepRegistration(now);
    if (phase_ == Phase::Registered) {
      stepHeartbeat(now);
      stepShipper(now);
      stepPolls(now);
    }
    if (!stopRequested)
      stepUsage(now, false);
    stepRevocations(now);
    expireWaiters(now);
    spool_->sync();

    Clock::time_point wake = nextWake(now, stopRequested);
    if (stopRequested)
      wake = std::min(wake, drainUntil);
    auto wait = std::chrono::duration_cast<milliseconds>(wake - Clock::now());
    wait = std::clamp(wait, milliseconds(0), milliseconds(1000));
    http_->poll(wait);
  }
  failAllWaiters("AIM client stopped");
  spool_->sync();
  if (Status st = usage_->compact(); !st.ok())
    log::warn("AIM: cannot compact the usage counts", {{"error", st.message()}});
  log::info("AIM client stopped", {{"spool_records", spool_->records()},
                                   {"spool_bytes", spool_->bytes()},
                                   {"possible_duplicates", possibleDuplicates_.load()}});
  // Transfers still running are aborted when http_ is destroyed; their records stay spooled.
}

AimClient::Clock::time_point AimClient::nextWake(Clock::time_point now, bool stopping) {
  Clock::time_point wake = now + milliseconds(1000);
  if ((phase_ == Phase::NeedAgent || phase_ == Phase::NeedServer) && !regInFlight_)
    wake = std::min(wake, regDue_);
  if (phase_ == Phase::Registered) {
    if (!heartbeatInFlight_)
      wake = std::min(wake, heartbeatDue_);
    if (!shipInFlight_ && spool_->records() > 0)
      wake = std::min(wake, shipDue_);
    for (const auto& [id, p] : polls_)
      if (!p.inFlight)
        wake = std::min(wake, p.due);
  }
  if (!stopping) // no more periodic reports once the final one is spooled
    wake = std::min(wake, usageDue_);
  if (!revocationInFlight_)
    wake = std::min(wake, revocationDue_);
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, w] : waiters_)
    wake = std::min(wake, w.deadline);
  return std::max(wake, now);
}

milliseconds AimClient::backoff(unsigned attempts) const {
  double d = static_cast<double>(options_.retryInitial.count());
  for (unsigned i = 1; i < attempts && d < static_cast<double>(options_.retryMax.count()); ++i)
    d *= 2;
  d = std::min(d, static_cast<double>(options_.retryMax.count()));
  // Jitter: uniform in [d/2, d], so that sidecars that lost AIM together do not return together.
  double r = static_cast<double>(randombytes_uniform(1000001)) / 1000000.0;
  return milliseconds(static_cast<int64_t>(d / 2 + r * d / 2));
}

void AimClient::recordDelivery(AimRoute route, const HttpResponse&, AimResult result) {
  deliveries_[static_cast<size_t>(route)][static_cast<size_t>(result)].fetch_add(1);
}

void AimClient::noteError(std::string message) {
  log::warn("AIM request failed", {{"error", message}});
  std::lock_guard<std::mutex> lock(mu_);
  lastError_ = std::move(message);
}

void AimClient::registrationFailed(std::string message) {
  log::error("AIM registration failed; heartbeats, reports and approvals stay off until the "
             "configuration is fixed and the sidecar restarted",
             {{"error", message}});
  phase_ = Phase::Failed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    lastError_ = message;
    failure_ = std::move(message);
    failed_ = true;
  }
  failAllWaiters("AIM registration failed");
}

std::string AimClient::routeUrl(const std::string& route) const {
  return baseUrl_ + route;
}

HttpRequest AimClient::signedRequest(std::string method, const std::string& route,
                                     std::string body) const {
  HttpRequest req;
  req.method = std::move(method);
  req.url = routeUrl(route);
  req.headers =
      agentRequestHeaders(options_.key, agentId_, req.method, pathPrefix_ + route, unixNow(), body);
  req.body = std::move(body);
  return req;
}

// ------------------------------------------------------------------------------------------------
// Registration (aim-wire.md §7.1, §8.2).

void AimClient::stepRegistration(Clock::time_point now) {
  if (phase_ == Phase::Registered || phase_ == Phase::Failed || regInFlight_ || now < regDue_)
    return;
  if (phase_ == Phase::NeedAgent) {
    if (options_.apiKey.empty()) {
      registrationFailed("no AIM agent id is known (--aim-agent-id, or " + options_.stateDir +
                         "/aim/agent.json from an earlier registration) and no --aim-api-key "
                         "(AIM_API_KEY) to register one");
      return;
    }
    HttpRequest req;
    req.method = "POST";
    req.url = routeUrl("/api/v1/agents");
    req.body = agentRegistrationBody(options_.agent, options_.key.pub);
    req.headers = {{"X-API-Key", options_.apiKey}};
    // A hidden resend would meet "duplicate name" (see HttpRequest::freshConnection).
    req.freshConnection = true;
    regInFlight_ = true;
    http_->start(std::move(req), [this](HttpResponse r) {
      regInFlight_ = false;
      onAgentRegistered(r);
    });
    return;
  }
  std::string route = "/api/v1/sdk-api/agents/" + agentId_ + "/mcp-servers";
  HttpRequest req = signedRequest(
      "POST", route, mcpServerRegistrationBody(options_.server, options_.key.pub, agentId_));
  regInFlight_ = true;
  http_->start(std::move(req), [this](HttpResponse r) {
    regInFlight_ = false;
    onServerRegistered(r);
  });
}

void AimClient::onAgentRegistered(const HttpResponse& r) {
  AimResult result = classify(r);
  recordDelivery(AimRoute::RegisterAgent, r, result);
  std::string what = describe("POST", "/api/v1/agents", r);
  Clock::time_point now = Clock::now();
  if (result == AimResult::Ok) {
    auto id = parseCreatedId(r.body);
    if (!id.ok()) {
      registrationFailed(what + ": " + id.error());
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      agentId_ = *id;
    }
    agentIdFromState_ = false;
    log::info("AIM agent registered", {{"agent_id", *id}, {"name", options_.agent.name}});
    (void)saveState();
    phase_ = Phase::NeedServer;
    regAttempts_ = 0;
    regDue_ = now;
    return;
  }
  if (r.status == 409) {
    registrationFailed(what + " (an agent named \"" + options_.agent.name +
                       "\" already exists at AIM and its id is not known here: pass "
                       "--aim-agent-id, or register under another name)");
    return;
  }
  if (r.status == 401 || r.status == 403) {
    registrationFailed(what + " (check --aim-api-key / AIM_API_KEY)");
    return;
  }
  if (result == AimResult::Rejected) {
    registrationFailed(what);
    return;
  }
  noteError(what);
  regDue_ = now + backoff(++regAttempts_);
}

void AimClient::onServerRegistered(const HttpResponse& r) {
  AimResult result = classify(r);
  recordDelivery(AimRoute::RegisterServer, r, result);
  std::string what = describe("POST", "/api/v1/sdk-api/agents/" + agentId_ + "/mcp-servers", r);
  Clock::time_point now = Clock::now();
  std::string serverId;
  if (result == AimResult::Ok) {
    auto id = parseCreatedId(r.body);
    if (!id.ok()) {
      registrationFailed(what + ": " + id.error());
      return;
    }
    serverId = *id;
    log::info("AIM MCP server registered", {{"mcp_server_id", serverId}});
  } else if (r.status == 409) {
    // The URL is registered already (by us before, or by someone else): AIM's SDK treats this
    // as success and uses the existing server (aim-wire.md §8.2).
    auto existing = parseExistingId(r.body);
    if (!existing) {
      registrationFailed(what + ": a 409 without \"existingId\"");
      return;
    }
    serverId = *existing;
    log::info("AIM MCP server already registered", {{"mcp_server_id", serverId}});
  } else if (r.status == 401 && reasonCode(r) == "agentKeyNotRecognized" && agentIdFromState_ &&
             !options_.apiKey.empty()) {
    // The agent kept in the state dir is unknown to this AIM (its database was reset, say):
    // register anew with the API key.
    log::warn("AIM does not know the agent kept in the state directory; registering anew",
              {{"agent_id", agentId_}});
    agentIdFromState_ = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      agentId_.clear();
    }
    phase_ = Phase::NeedAgent;
    regDue_ = now;
    return;
  } else if (result == AimResult::Rejected) {
    registrationFailed(what);
    return;
  } else {
    noteError(what);
    regDue_ = now + backoff(++regAttempts_);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    serverId_ = serverId;
    if (verifiedServerId_ != serverId)
      verifiedServerId_.clear();
  }
  (void)saveState();
  {
    // Only now: whoever sees "registered" finds the ids kept in the state directory too.
    std::lock_guard<std::mutex> lock(mu_);
    registered_ = true;
  }
  phase_ = Phase::Registered;
  regAttempts_ = 0;
  heartbeatDue_ = now;
  shipDue_ = now;
  usageDue_ = now;
}

// ------------------------------------------------------------------------------------------------
// Heartbeat (§7.2), usage (§13), revocations (§7.3).

void AimClient::stepHeartbeat(Clock::time_point now) {
  if (heartbeatInFlight_ || now < heartbeatDue_)
    return;
  heartbeatDue_ = now + options_.heartbeatInterval;
  std::string route = "/api/v1/sdk-api/agents/" + agentId_ + "/heartbeat";
  heartbeatInFlight_ = true;
  http_->start(signedRequest("POST", route, ""), [this, route](HttpResponse r) {
    heartbeatInFlight_ = false;
    AimResult result = classify(r);
    recordDelivery(AimRoute::Heartbeat, r, result);
    if (result == AimResult::Ok) {
      HeartbeatAnswer a = parseHeartbeatAnswer(r.body);
      std::lock_guard<std::mutex> lock(mu_);
      if (!a.status.empty())
        agentStatus_ = a.status;
      if (a.trustScore >= 0)
        trustScore_ = a.trustScore;
      if (heartbeatFailing_)
        log::info("AIM heartbeats answered again");
      heartbeatFailing_ = false;
      return;
    }
    if (!heartbeatFailing_)
      noteError(describe("POST", route, r));
    heartbeatFailing_ = true;
  });
}

void AimClient::stepUsage(Clock::time_point now, bool finalReport) {
  if (!finalReport) {
    if (now < usageDue_)
      return;
    usageDue_ = now + options_.usageInterval;
  }
  uint64_t version = usage_->version();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (version == lastSpooledUsageVersion_ || (finalReport && version == 0))
      return;
  }
  UsageTotals totals = usage_->totals();
  if (totals.empty())
    return;
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("reportedAt");
  w.String(rfc3339Utc(std::chrono::system_clock::now()).c_str());
  w.Key("tools");
  w.StartObject();
  for (const auto& [tool, u] : totals) {
    w.Key(tool.data(), static_cast<rapidjson::SizeType>(tool.size()));
    w.StartObject();
    w.Key("count");
    w.Uint64(u.count);
    w.Key("firstUsed");
    w.String(u.firstUsed.c_str());
    w.Key("lastUsed");
    w.String(u.lastUsed.c_str());
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  auto seq = spool_->append("usage_report", std::string_view(buf.GetString(), buf.GetSize()),
                            /*replaceOlder=*/true);
  if (!seq.ok()) {
    noteError("AIM usage report not spooled: " + seq.error());
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    lastSpooledUsageVersion_ = version;
  }
  if (Status st = usage_->compact(); !st.ok())
    log::warn("AIM: cannot compact the usage counts", {{"error", st.message()}});
}

void AimClient::stepRevocations(Clock::time_point now) {
  if (revocationInFlight_ || now < revocationDue_)
    return;
  revocationInFlight_ = true;
  revocationDue_ = now + options_.revocationInterval;
  HttpRequest req;
  req.method = "GET";
  req.url = routeUrl("/api/v1/revocations");
  if (!revocationEtag_.empty())
    req.headers.emplace_back("If-None-Match", revocationEtag_);
  http_->start(std::move(req), [this](HttpResponse r) {
    revocationInFlight_ = false;
    AimResult result = classify(r);
    recordDelivery(AimRoute::Revocations, r, result);
    Clock::time_point done = Clock::now();
    if (result != AimResult::Ok) {
      noteError(describe("GET", "/api/v1/revocations", r));
      return;
    }
    // AIM marks the list cacheable for max-age seconds: never ask sooner.
    milliseconds maxAge = maxAgeOf(r.header("cache-control"));
    revocationDue_ = done + std::max(options_.revocationInterval, maxAge);
    if (r.status == 304)
      return;
    auto ids = parseRevocationList(r.body);
    if (!ids.ok()) {
      noteError(describe("GET", "/api/v1/revocations", r) + ": " + ids.error());
      return;
    }
    auto set = std::make_shared<std::set<std::string>>(ids->begin(), ids->end());
    revocationEtag_ = r.header("etag");
    std::lock_guard<std::mutex> lock(mu_);
    if (set->size() != revoked_->size())
      log::info("AIM revocation list updated", {{"revoked_agents", set->size()}});
    revoked_ = std::move(set);
  });
}

// ------------------------------------------------------------------------------------------------
// The shipper: spooled records, one at a time, in order.

void AimClient::stepShipper(Clock::time_point now) {
  if (shipInFlight_ || now < shipDue_)
    return;
  std::optional<SpoolRecord> rec = spool_->front();
  if (!rec)
    return;

  rapidjson::Document doc;
  doc.Parse(rec->payload.data(), rec->payload.size());
  std::string problem;
  HttpRequest req;
  AimRoute route = AimRoute::Count;
  std::string routePath;
  if (rec->kind != "detection_report" && (doc.HasParseError() || !doc.IsObject())) {
    problem = "the spooled record is not a JSON object";
  } else if (rec->kind == "usage_report") {
    route = AimRoute::UsageReport;
    UsageTotals totals;
    if (doc.HasMember("tools") && doc["tools"].IsObject()) {
      const rapidjson::Value& tools = doc["tools"];
      for (rapidjson::SizeType i = 0; i < tools.MemberCount(); ++i) {
        auto it = tools.MemberBegin() + i;
        const rapidjson::Value& v = it->value;
        ToolUsage u;
        if (v.IsObject() && v.HasMember("count") && v["count"].IsUint64())
          u.count = v["count"].GetUint64();
        u.firstUsed = jsonString(v, "firstUsed");
        u.lastUsed = jsonString(v, "lastUsed");
        totals[std::string(it->name.GetString(), it->name.GetStringLength())] = u;
      }
    }
    routePath = "/api/v1/sdk-api/agents/" + agentId_ + "/mcp-usage-report";
    req =
        signedRequest("POST", routePath,
                      usageReportBody(agentId_, jsonString(doc, "reportedAt"), serverId_, totals));
  } else if (rec->kind == "verification") {
    route = AimRoute::Verification;
    routePath = "/api/v1/sdk-api/verifications";
    VerificationRequest v;
    v.agentId = agentId_;
    v.capability = jsonString(doc, "capability");
    if (doc.HasMember("resource") && doc["resource"].IsString())
      v.resource = jsonString(doc, "resource");
    if (doc.HasMember("context") && doc["context"].IsObject()) {
      const rapidjson::Value& c = doc["context"];
      for (rapidjson::SizeType i = 0; i < c.MemberCount(); ++i) {
        auto it = c.MemberBegin() + i;
        std::string name(it->name.GetString(), it->name.GetStringLength());
        if (it->value.IsString())
          v.context.emplace_back(name,
                                 std::string(it->value.GetString(), it->value.GetStringLength()));
        else if (it->value.IsInt64())
          v.context.emplace_back(name, it->value.GetInt64());
      }
    }
    v.timestamp = jsonString(doc, "timestamp");
    v.riskLevel = jsonString(doc, "riskLevel");
    auto body = legacyVerificationBody(options_.key, v);
    if (!body.ok()) {
      problem = body.error();
    } else {
      // A bare route: the signature is in the body, no agent-request-v1 headers (§5).
      req.method = "POST";
      req.url = routeUrl(routePath);
      req.body = std::move(*body);
    }
  } else if (rec->kind == "execution_status") {
    route = AimRoute::ExecutionStatus;
    std::string vid = jsonString(doc, "verificationId");
    if (vid.empty() || !doc.HasMember("executed") || !doc["executed"].IsBool()) {
      problem = "the spooled execution status has no verificationId or executed";
    } else {
      routePath = "/api/v1/sdk-api/verifications/" + vid + "/execution-status";
      req = signedRequest("POST", routePath,
                          executionStatusBody(doc["executed"].GetBool(),
                                              jsonString(doc, "executedAt"),
                                              jsonString(doc, "executionError")));
    }
  } else if (rec->kind == "detection_report") {
    route = AimRoute::DetectionReport;
    routePath = "/api/v1/sdk-api/agents/" + agentId_ + "/detection/report";
    req = signedRequest("POST", routePath, rec->payload);
  } else {
    problem = "unknown record kind \"" + rec->kind + "\" (written by a newer version?)";
  }

  if (!problem.empty()) {
    log::error("AIM: a spooled record cannot be sent; moved to dead/",
               {{"seq", rec->seq}, {"kind", rec->kind}, {"error", problem}});
    (void)spool_->deadLetter(rec->seq, problem);
    if (rec->kind == "verification")
      deliverVerificationAnswer(rec->payload, HttpResponse{});
    return;
  }

  bool duplicate = rec->seq == lastAttemptSeq_ ? lastAttemptMaybeDelivered_ : rec->maybeSent;
  if (duplicate)
    possibleDuplicates_.fetch_add(1);
  if (Status st = spool_->beginAttempt(rec->seq); !st.ok()) {
    noteError(st.message());
    shipDue_ = now + backoff(++shipAttempts_);
    return;
  }
  lastAttemptSeq_ = rec->seq;
  lastAttemptMaybeDelivered_ = false;
  // Every resend is the shipper's own decision, and counted (see HttpRequest::freshConnection).
  req.freshConnection = true;
  shipInFlight_ = true;
  http_->start(std::move(req),
               [this, rec = std::move(*rec), route, routePath](HttpResponse r) mutable {
                 shipInFlight_ = false;
                 onShipped(rec, route, routePath, r);
               });
}

void AimClient::onShipped(const SpoolRecord& rec, AimRoute route, const std::string& path,
                          const HttpResponse& r) {
  AimResult result = classify(r);
  bool verification = rec.kind == "verification";
  if (verification && r.status == 403) {
    auto a = parseVerificationAnswer(r.body);
    if (a.ok() && a->status == "denied")
      result = AimResult::Denied;
  }
  recordDelivery(route, r, result);
  Clock::time_point now = Clock::now();
  std::string what = describe("POST", pathPrefix_ + path, r);
  switch (result) {
  case AimResult::Ok:
  case AimResult::Denied:
    if (Status st = spool_->remove(rec.seq); !st.ok())
      log::error("AIM: a delivered record cannot be deleted; it will be sent again",
                 {{"seq", rec.seq}, {"error", st.message()}});
    shipAttempts_ = 0;
    shipDue_ = now;
    if (verification)
      deliverVerificationAnswer(rec.payload, r);
    return;
  case AimResult::RateLimited: {
    spool_->endAttempt(rec.seq);
    lastAttemptMaybeDelivered_ = false; // refused before it was handled
    milliseconds delay = backoff(++shipAttempts_);
    if (auto after = parseRetryAfter(r.header("retry-after"), std::chrono::system_clock::now()))
      delay = std::chrono::duration_cast<milliseconds>(*after);
    shipDue_ = now + delay;
    noteError(what + " (retrying in " + std::to_string(delay.count()) + " ms)");
    return;
  }
  case AimResult::Retry:
  case AimResult::NetworkError:
    spool_->endAttempt(rec.seq);
    // A 401 or 408 was refused before it was handled; a 5xx or a lost answer may have been.
    lastAttemptMaybeDelivered_ =
        result == AimResult::NetworkError ? r.maybeDelivered : r.status >= 500;
    shipDue_ = now + backoff(++shipAttempts_);
    noteError(what);
    return;
  case AimResult::Rejected:
  case AimResult::Count:
    break;
  }
  log::error("AIM refused a spooled record for good; moved to dead/",
             {{"seq", rec.seq}, {"kind", rec.kind}, {"error", what}});
  {
    std::lock_guard<std::mutex> lock(mu_);
    lastError_ = what;
  }
  (void)spool_->deadLetter(rec.seq, what);
  shipAttempts_ = 0;
  shipDue_ = now;
  if (verification)
    deliverVerificationAnswer(rec.payload, r);
}

// ------------------------------------------------------------------------------------------------
// Approvals (§12).

void AimClient::deliverVerificationAnswer(const std::string& payload, const HttpResponse& r) {
  rapidjson::Document doc;
  doc.Parse(payload.data(), payload.size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("approval") ||
      !doc["approval"].IsObject())
    return;
  const rapidjson::Value& ref = doc["approval"];
  if (jsonString(ref, "instance") != instance_ || !ref.HasMember("id") || !ref["id"].IsUint64())
    return; // spooled by an earlier run: nobody waits for it
  ApprovalId id = ref["id"].GetUint64();

  ApprovalResult result;
  if (r.status == 0 && r.error.empty()) {
    result.reason = "the verification could not be built (see the log)";
    finish(id, std::move(result));
    return;
  }
  auto a = parseVerificationAnswer(r.body);
  if (!a.ok()) {
    result.reason = describe("POST", "/api/v1/sdk-api/verifications", r);
    finish(id, std::move(result));
    return;
  }
  result.verificationId = a->id;
  result.approvedBy = a->approvedBy;
  result.enforcementMode = a->enforcementMode;
  if (a->status == "approved" && r.status / 100 == 2) {
    result.decision = Decision::Approved;
  } else if (a->status == "denied") {
    result.decision = Decision::Denied;
    result.reason = a->denialReason.empty() ? "denied by AIM" : a->denialReason;
  } else if (a->status == "expired") {
    result.decision = Decision::Expired;
    result.reason = "the approval request expired at AIM";
  } else if (a->status == "pending" && r.status / 100 == 2 && !a->id.empty()) {
    bool waiting;
    {
      std::lock_guard<std::mutex> lock(mu_);
      waiting = waiters_.count(id) != 0;
    }
    if (waiting) {
      Poll p;
      p.verificationId = a->id;
      p.interval = options_.pollInitial;
      p.due = Clock::now() + p.interval;
      polls_[id] = p;
    }
    return;
  } else {
    result.reason = describe("POST", "/api/v1/sdk-api/verifications", r);
  }
  finish(id, std::move(result));
}

void AimClient::stepPolls(Clock::time_point now) {
  for (auto it = polls_.begin(); it != polls_.end();) {
    bool waiting;
    {
      std::lock_guard<std::mutex> lock(mu_);
      waiting = waiters_.count(it->first) != 0;
    }
    if (!waiting && !it->second.inFlight) {
      it = polls_.erase(it);
      continue;
    }
    Poll& p = it->second;
    if (waiting && !p.inFlight && now >= p.due) {
      HttpRequest req;
      req.method = "GET";
      req.url = routeUrl("/api/v1/sdk-api/verifications/" + p.verificationId);
      req.headers = pollHeaders(options_.key, p.verificationId, agentId_, unixNow());
      p.inFlight = true;
      ApprovalId id = it->first;
      http_->start(std::move(req), [this, id](HttpResponse r) { onPolled(id, r); });
    }
    ++it;
  }
}

void AimClient::onPolled(ApprovalId id, const HttpResponse& r) {
  AimResult result = classify(r);
  recordDelivery(AimRoute::VerificationPoll, r, result);
  auto it = polls_.find(id);
  if (it == polls_.end())
    return;
  Poll& p = it->second;
  p.inFlight = false;
  Clock::time_point now = Clock::now();
  std::string what = describe("GET", "/api/v1/sdk-api/verifications/" + p.verificationId, r);
  if (result == AimResult::Ok) {
    auto a = parseVerificationAnswer(r.body);
    if (a.ok() && a->status != "pending") {
      ApprovalResult out;
      out.verificationId = p.verificationId;
      out.approvedBy = a->approvedBy;
      out.enforcementMode = a->enforcementMode;
      if (a->status == "approved") {
        out.decision = Decision::Approved;
      } else if (a->status == "denied") {
        out.decision = Decision::Denied;
        out.reason = a->denialReason.empty() ? "denied by AIM" : a->denialReason;
      } else if (a->status == "expired") {
        out.decision = Decision::Expired;
        out.reason = "the approval request expired at AIM";
      } else {
        out.reason = what;
      }
      polls_.erase(it);
      finish(id, std::move(out));
      return;
    }
    if (!a.ok())
      noteError(what + ": " + a.error());
  } else if (r.status == 404) {
    ApprovalResult out;
    out.verificationId = p.verificationId;
    out.reason = what;
    polls_.erase(it);
    finish(id, std::move(out));
    return;
  } else {
    noteError(what);
  }
  milliseconds next = std::min(milliseconds(static_cast<int64_t>(
                                   static_cast<double>(p.interval.count()) * options_.pollFactor)),
                               options_.pollMax);
  if (result == AimResult::RateLimited)
    if (auto after = parseRetryAfter(r.header("retry-after"), std::chrono::system_clock::now()))
      next = std::max(next, std::chrono::duration_cast<milliseconds>(*after));
  p.interval = next;
  p.due = now + next;
}

void AimClient::expireWaiters(Clock::time_point now) {
  std::vector<std::pair<ApprovalId, ApprovalCallback>> expired;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->second.deadline <= now) {
        expired.emplace_back(it->first, std::move(it->second.done));
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& [id, done] : expired) {
    ApprovalResult result;
    result.decision = Decision::Timeout;
    result.reason = "AIM did not decide within the gate timeout";
    auto p = polls_.find(id);
    if (p != polls_.end())
      result.verificationId = p->second.verificationId;
    if (done)
      done(result);
  }
}

void AimClient::finish(ApprovalId id, ApprovalResult result) {
  ApprovalCallback done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = waiters_.find(id);
    if (it == waiters_.end())
      return;
    done = std::move(it->second.done);
    waiters_.erase(it);
  }
  if (done)
    done(result);
}

void AimClient::failAllWaiters(const std::string& reason) {
  std::map<ApprovalId, Waiter> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    all.swap(waiters_);
  }
  for (auto& [id, w] : all) {
    ApprovalResult result;
    result.decision = Decision::Error;
    result.reason = reason;
    if (w.done)
      w.done(result);
  }
  polls_.clear();
}

// ------------------------------------------------------------------------------------------------
// Request-path entry points.

Status AimClient::recordToolCall(std::string_view tool) {
  return usage_->record(tool, std::chrono::system_clock::now());
}

Result<ApprovalId> AimClient::requestApproval(ApprovalRequest request, ApprovalCallback done) {
  if (request.tool.empty())
    return Status::error("AIM approval: no tool name");
  Context context;
  if (!request.callId.empty())
    context.emplace_back("call_id", request.callId);
  if (!request.riskLevel.empty())
    context.emplace_back("risk_level", request.riskLevel);
  context.emplace_back("source", std::string("mcp-sidecar"));
  context.emplace_back("tool", request.tool);
  for (auto& entry : request.context)
    context.push_back(std::move(entry));

  VerificationRequest probe;
  probe.agentId = kProbeAgentId;
  probe.capability = "mcp_tool:" + request.tool;
  probe.resource = request.resource;
  probe.context = context;
  probe.timestamp = pythonUtcTimestamp(std::chrono::system_clock::now());
  probe.riskLevel = request.riskLevel;
  // Refuse now what could not be signed byte-exactly later.
  if (auto m = legacyVerificationMessage(probe); !m.ok())
    return m.status();

  milliseconds timeout = request.timeout.count() > 0 ? request.timeout : options_.gateTimeout;
  ApprovalId id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (failed_)
      return Status::error("AIM registration failed: " + failure_);
    if (stopRequested_)
      return Status::error("the AIM client is stopping");
    id = nextApprovalId_++;
    waiters_[id] = Waiter{std::move(done), Clock::now() + timeout};
  }

  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("approval");
  w.StartObject();
  w.Key("instance");
  w.String(instance_.c_str());
  w.Key("id");
  w.Uint64(id);
  w.EndObject();
  w.Key("capability");
  w.String(probe.capability.c_str());
  w.Key("resource");
  if (probe.resource && !probe.resource->empty())
    w.String(probe.resource->c_str());
  else
    w.Null();
  w.Key("context");
  w.StartObject();
  for (const auto& [name, value] : probe.context) {
    w.Key(name.c_str());
    if (const auto* text = std::get_if<std::string>(&value))
      w.String(text->c_str());
    else
      w.Int64(std::get<int64_t>(value));
  }
  w.EndObject();
  w.Key("timestamp");
  w.String(probe.timestamp.c_str());
  if (!probe.riskLevel.empty()) {
    w.Key("riskLevel");
    w.String(probe.riskLevel.c_str());
  }
  w.EndObject();
  auto seq = spool_->append("verification", std::string_view(buf.GetString(), buf.GetSize()));
  if (!seq.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    waiters_.erase(id);
    return seq.status();
  }
  http_->wakeup();
  return id;
}

void AimClient::cancelApproval(ApprovalId id) {
  std::lock_guard<std::mutex> lock(mu_);
  waiters_.erase(id);
}

Status AimClient::reportExecution(std::string_view verificationId, bool executed,
                                  std::string_view error) {
  if (verificationId.empty())
    return Status::error("AIM execution status: no verification id");
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("verificationId");
  w.String(verificationId.data(), static_cast<rapidjson::SizeType>(verificationId.size()));
  w.Key("executed");
  w.Bool(executed);
  w.Key("executedAt");
  w.String(rfc3339Utc(std::chrono::system_clock::now()).c_str());
  if (!error.empty()) {
    w.Key("executionError");
    w.String(error.data(), static_cast<rapidjson::SizeType>(error.size()));
  }
  w.EndObject();
  auto seq = spool_->append("execution_status", std::string_view(buf.GetString(), buf.GetSize()));
  if (!seq.ok())
    return seq.status();
  http_->wakeup();
  return {};
}

Status AimClient::reportDetection(std::string_view body) {
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject())
    return Status::error("AIM detection report: the body is not a JSON object");
  auto seq = spool_->append("detection_report", body);
  if (!seq.ok())
    return seq.status();
  http_->wakeup();
  return {};
}

bool AimClient::isRevoked(std::string_view agentId) const {
  std::shared_ptr<const std::set<std::string>> set;
  {
    std::lock_guard<std::mutex> lock(mu_);
    set = revoked_;
  }
  return set->count(lowerAscii(agentId)) != 0;
}

Result<std::string> AimClient::answerChallenge(std::string_view requestBody) {
  auto a = aim::answerChallenge(options_.key, requestBody);
  if (!a.ok())
    return a.status();
  bool changed = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!serverId_.empty() && lowerAscii(a->serverId) == lowerAscii(serverId_) &&
        verifiedServerId_ != serverId_) {
      verifiedServerId_ = serverId_;
      changed = true;
    }
  }
  if (changed) {
    log::info("AIM challenge answered for this MCP server", {{"mcp_server_id", a->serverId}});
    (void)saveState();
  }
  return std::move(a->body);
}

bool AimClient::serverVerified() const {
  std::lock_guard<std::mutex> lock(mu_);
  return registered_ && !serverId_.empty() && verifiedServerId_ == serverId_;
}

AimStatus AimClient::status() const {
  AimStatus s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s.state = stopped_      ? AimState::Stopped
              : failed_     ? AimState::Failed
              : registered_ ? AimState::Registered
                            : AimState::Registering;
    s.agentId = agentId_;
    s.mcpServerId = serverId_;
    s.lastError = failed_ ? failure_ : lastError_;
    s.agentStatus = agentStatus_;
    s.trustScore = trustScore_;
    s.serverVerified = registered_ && !serverId_.empty() && verifiedServerId_ == serverId_;
    s.pendingApprovals = waiters_.size();
    s.revokedAgents = revoked_->size();
  }
  s.spoolBytes = spool_->bytes();
  s.spoolRecords = spool_->records();
  s.deadLetters = spool_->deadLetters();
  s.spoolNearFull = spool_->nearFull();
  return s;
}

bool AimClient::ready(std::string* reason) const {
  if (!spool_->nearFull())
    return true;
  if (reason != nullptr)
    *reason = "the AIM spool holds " + std::to_string(spool_->bytes()) + " of " +
              std::to_string(spool_->maxBytes()) +
              " bytes (--spool-max-bytes); AIM is not taking "
              "records, or dead letters wait in " +
              spool_->dir() + "/dead";
  return false;
}

uint64_t AimClient::deliveries(AimRoute route, AimResult result) const {
  if (route >= AimRoute::Count || result >= AimResult::Count)
    return 0;
  return deliveries_[static_cast<size_t>(route)][static_cast<size_t>(result)].load();
}

uint64_t AimClient::spoolBytes() const {
  return spool_->bytes();
}

uint64_t AimClient::spoolRefused() const {
  return spool_->refused();
}

} // namespace sidecar::aim
