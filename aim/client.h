#pragma once
// The AIM platform client (docs/aim.md): registers the sidecar's agent and MCP server, sends
// heartbeats and cumulative usage reports, asks AIM to approve gated tool calls, reports their
// execution, and polls the revocation list. Every call is signed exactly as aim-wire.md gives it
// for its route (aim/wire.h).
//
// Threads: one worker thread owns the network (a libcurl multi handle, aim/http.h), the timers and
// the shipper. The request path only calls the functions marked "any thread" below; none of them
// waits for the network. The ones that record something AIM must learn write it to local disk
// (the spool, aim/spool.h, or the usage journal, aim/usage_store.h) before they return, with a
// plain write(2) and no fsync, so that a crash of the process after they return loses nothing.
//
// What AIM must learn goes through the spool and is sent in order by the shipper: one record at a
// time, deleted only after a 2xx (or, for a verification, a 403 denial), retried with exponential
// backoff and jitter after a network error, a 5xx, a 401, a 408 or a 429 (whose Retry-After is
// honoured), and moved to the spool's dead/ directory after any other 4xx (logged with route,
// status and body, counted). Records survive restarts; a record that may already have reached
// AIM before a crash or a lost answer is counted in possibleDuplicates() when it is sent again.
//
// State kept in <state-dir>/aim/: agent.json (the AIM agent id, the MCP server id and what they
// belong to), spool/ and usage/.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "aim/http.h"
#include "aim/spool.h"
#include "aim/usage_store.h"
#include "aim/wire.h"
#include "common/status.h"
#include "verifier/keys.h"

namespace sidecar::aim {

struct AimOptions {
  std::string url;          // --aim-url: scheme://host[:port][/prefix]; routes are appended to it
  std::string stateDir;     // --state-dir; the client keeps its files in <stateDir>/aim/
  verifier::PrivateKey key; // the sidecar's own key; registered as agent and MCP server key
  std::string agentId;      // --aim-agent-id; "" = the one kept in the state dir, or register
  std::string apiKey;       // --aim-api-key; used only to register an agent when no id is known
  std::string caFile;       // --aim-ca-file; "" = the system store
  AgentRegistration agent;  // name, displayName, description, agentType, version
  McpServerRegistration server; // name, url (--public-url), verificationUrl, version, tools
  std::chrono::milliseconds heartbeatInterval{30000};   // --aim-heartbeat-interval
  std::chrono::milliseconds usageInterval{60000};       // --aim-usage-interval
  std::chrono::milliseconds revocationInterval{300000}; // --aim-revocation-interval
  uint64_t spoolMaxBytes = 256ull << 20;                // --spool-max-bytes
  std::chrono::milliseconds gateTimeout{300000};        // --gate-timeout, per approval
  // Retries of spooled records and registration: initial delay, doubled up to retryMax, each
  // delay drawn uniformly from [d/2, d].
  std::chrono::milliseconds retryInitial{1000};
  std::chrono::milliseconds retryMax{60000};
  // Approval polling (aim-wire.md §12.3, the Python SDK's defaults): first poll after
  // pollInitial, then ×pollFactor up to pollMax.
  std::chrono::milliseconds pollInitial{2000};
  std::chrono::milliseconds pollMax{10000};
  double pollFactor = 1.5;
  std::chrono::milliseconds connectTimeout{5000};
  std::chrono::milliseconds requestTimeout{15000};
  std::string userAgent = "mcp-sidecar";
};

// Label values of mcp_sidecar_aim_deliveries_total.
enum class AimRoute : uint8_t {
  RegisterAgent,    // POST /api/v1/agents
  RegisterServer,   // POST /api/v1/sdk-api/agents/:id/mcp-servers
  Heartbeat,        // POST …/agents/:id/heartbeat
  UsageReport,      // POST …/agents/:id/mcp-usage-report
  Verification,     // POST /api/v1/sdk-api/verifications
  VerificationPoll, // GET /api/v1/sdk-api/verifications/:id
  ExecutionStatus,  // POST …/verifications/:id/execution-status
  Revocations,      // GET /api/v1/revocations
  DetectionReport,  // POST …/agents/:id/detection/report
  Count
};
enum class AimResult : uint8_t {
  Ok,           // 2xx, or 304 for the revocation list
  Denied,       // a verification answered 403 "denied" (delivered, and refused)
  RateLimited,  // 429: retried after Retry-After
  Retry,        // 5xx, 401, 408: retried with backoff
  Rejected,     // any other 4xx: not retried (spooled records go to dead/)
  NetworkError, // no HTTP answer: retried with backoff
  Count
};
const char* routeName(AimRoute route);    // "register_agent", "heartbeat", …
const char* resultName(AimResult result); // "ok", "denied", …

enum class AimState {
  Registering, // working through registration (retrying while AIM is unreachable)
  Registered,  // agent and MCP server ids known: heartbeats, reports and approvals flow
  Failed,      // registration refused for good (lastError says why); spooled records wait
  Stopped
};
const char* stateName(AimState state);

struct AimStatus {
  AimState state = AimState::Registering;
  std::string agentId;
  std::string mcpServerId;
  std::string lastError;   // the latest failure: route, status and body excerpt
  std::string agentStatus; // from the latest heartbeat answer
  double trustScore = -1;  // from the latest heartbeat answer; -1 before one
  bool serverVerified = false;
  uint64_t spoolBytes = 0;
  size_t spoolRecords = 0;
  size_t deadLetters = 0;
  bool spoolNearFull = false;
  size_t pendingApprovals = 0;
  size_t revokedAgents = 0;
};

enum class Decision {
  Approved, // forward the call, then reportExecution()
  Denied,   // AIM said no (reason: denialReason)
  Expired,  // AIM let the request expire
  Timeout,  // no decision within the gate timeout
  Error     // AIM refused the request itself, or the client stopped (reason says which)
};
const char* decisionName(Decision decision);

struct ApprovalResult {
  Decision decision = Decision::Error;
  std::string verificationId; // "" when AIM never answered
  std::string reason;         // denial reason, or what went wrong
  std::string approvedBy;
  std::string enforcementMode;
};

struct ApprovalRequest {
  std::string tool;   // capability "mcp_tool:<tool>"; printable ASCII (aim-wire.md §5.1)
  std::string callId; // the sidecar's own id of the call, sent in the context as "call_id"
  std::optional<std::string> resource;  // null when absent
  std::string riskLevel;                // "" = absent; else body "riskLevel", context "risk_level"
  Context context;                      // more context entries (strings, integers)
  std::chrono::milliseconds timeout{0}; // 0 = AimOptions::gateTimeout
};

using ApprovalId = uint64_t;
// Runs on the AIM worker thread, exactly once per accepted request unless cancelled; must not
// block (hand the result to the caller's loop, e.g. with uv_async_send).
using ApprovalCallback = std::function<void(const ApprovalResult&)>;

class AimClient;
using AimClientPtr = std::unique_ptr<AimClient>;

class AimClient {
public:
  // Validates the options, creates <stateDir>/aim/, opens the spool and the usage counts, and
  // reads agent.json (an agent id kept for another AIM URL or another key is not used). Does not
  // touch the network; start() does. Errors name the option or file.
  static Result<AimClientPtr> create(AimOptions options);
  // stop(0).
  ~AimClient();
  AimClient(const AimClient&) = delete;
  AimClient& operator=(const AimClient&) = delete;

  // Starts the worker thread: registration, then heartbeats, usage reports, the shipper and the
  // revocation list. Call once.
  void start();
  // Before start(): what to register, when it was not known at create() (the server's name and
  // tools are learned from the upstream after the sidecar starts). Ignored after start().
  void setRegistration(AgentRegistration agent, McpServerRegistration server);

  // Spools a final usage report if the totals changed since the last one, lets the shipper
  // deliver for up to `drain` (0: not at all) while the spool is not empty, then stops the
  // worker. Approvals still waiting get Decision::Error ("AIM client stopped") on the worker
  // thread before it exits. Whatever was not delivered stays spooled for the next start.
  // Idempotent; not from a callback.
  void stop(std::chrono::milliseconds drain = std::chrono::milliseconds(0));

  // --- Request path: any thread; none of these waits for AIM. ---

  // Counts one call of `tool` toward the cumulative usage report (one journal write).
  Status recordToolCall(std::string_view tool);

  // Asks AIM to approve a call of `request.tool`: spools the verification (so AIM learns of the
  // attempt even if the call times out or the sidecar restarts), and calls `done` once AIM has
  // decided, the timeout passed, or the client stopped. `done` never runs inline. Errors (and then
  // `done` never runs): the tool name or context cannot be signed byte-exactly, registration
  // failed for good, or the spool is full.
  Result<ApprovalId> requestApproval(ApprovalRequest request, ApprovalCallback done);
  // Forgets an approval: its callback will not run (unless it is running now). The verification
  // itself stays spooled and is still delivered.
  void cancelApproval(ApprovalId id);

  // Spools the execution status of an approved call (aim-wire.md §12.4). `error` "" = none.
  Status reportExecution(std::string_view verificationId, bool executed, std::string_view error);

  // Spools a detection report body (aim-wire.md §13, {"detections":[…]}), sent as given.
  Status reportDetection(std::string_view body);

  // True when AIM's revocation list names `agentId` (compared case-insensitively).
  bool isRevoked(std::string_view agentId) const;

  // Answers AIM's challenge (POST …/.well-known/mcp/verify, aim-wire.md §9) with the sidecar's
  // key. A challenge for the MCP server id AIM gave this sidecar marks the server verified.
  Result<std::string> answerChallenge(std::string_view requestBody);
  // The capabilities document's aim_verified: registered, and AIM's challenge answered.
  bool serverVerified() const;

  // --- Observation: any thread. ---
  AimStatus status() const;
  // False, with the reason, when the spool is near its bound (readiness).
  bool ready(std::string* reason = nullptr) const;
  uint64_t deliveries(AimRoute route, AimResult result) const;
  uint64_t spoolBytes() const;
  // Records sent again although an earlier attempt (before a crash, or whose answer was lost)
  // may have reached AIM.
  uint64_t possibleDuplicates() const { return possibleDuplicates_.load(); }
  // Appends the spool refused because of its bound.
  uint64_t spoolRefused() const;
  const verifier::PrivateKey& key() const { return options_.key; }

private:
  struct Waiter {
    ApprovalCallback done;
    std::chrono::steady_clock::time_point deadline;
  };
  struct Poll {
    std::string verificationId;
    std::chrono::steady_clock::time_point due;
    std::chrono::milliseconds interval{0};
    bool inFlight = false;
  };
  enum class Phase { NeedAgent, NeedServer, Registered, Failed };
  using Clock = std::chrono::steady_clock;

  explicit AimClient(AimOptions options) : options_(std::move(options)) {}

  // Worker thread.
  void run();
  void stepRegistration(Clock::time_point now);
  void onAgentRegistered(const HttpResponse& r);
  void onServerRegistered(const HttpResponse& r);
  void stepHeartbeat(Clock::time_point now);
  void stepUsage(Clock::time_point now, bool force);
  void stepRevocations(Clock::time_point now);
  void stepShipper(Clock::time_point now);
  void onShipped(const SpoolRecord& rec, AimRoute route, const std::string& path,
                 const HttpResponse& r);
  void deliverVerificationAnswer(const std::string& payload, const HttpResponse& r);
  void stepPolls(Clock::time_point now);
  void onPolled(ApprovalId id, const HttpResponse& r);
  void expireWaiters(Clock::time_point now);
  void finish(ApprovalId id, ApprovalResult result);
  void failAllWaiters(const std::string& reason);
  Clock::time_point nextWake(Clock::time_point now, bool stopping);
  std::chrono::milliseconds backoff(unsigned attempts) const;
  void recordDelivery(AimRoute route, const HttpResponse& r, AimResult result);
  void noteError(std::string message);
  void registrationFailed(std::string message);
  Status saveState();
  HttpRequest signedRequest(std::string method, const std::string& route, std::string body) const;
  std::string routeUrl(const std::string& route) const;

  AimOptions options_;     // const once start() has run
  std::string baseUrl_;    // without a trailing slash
  std::string pathPrefix_; // the base URL's path, signed as part of every target
  std::string instance_;   // random per process: approvals in the spool belong to one run
  bool agentIdFromFlag_ = false;
  bool agentIdFromState_ = false;
  SpoolPtr spool_;
  UsageStorePtr usage_;
  HttpClientPtr http_;
  std::thread worker_;
  bool started_ = false;

  // Worker-thread state.
  Phase phase_ = Phase::NeedAgent;
  bool regInFlight_ = false;
  unsigned regAttempts_ = 0;
  Clock::time_point regDue_{};
  bool heartbeatInFlight_ = false;
  Clock::time_point heartbeatDue_{};
  bool heartbeatFailing_ = false;
  Clock::time_point usageDue_{};
  bool revocationInFlight_ = false;
  Clock::time_point revocationDue_{};
  std::string revocationEtag_;
  bool shipInFlight_ = false;
  unsigned shipAttempts_ = 0;
  Clock::time_point shipDue_{};
  uint64_t lastAttemptSeq_ = 0;
  bool lastAttemptMaybeDelivered_ = false;
  std::map<ApprovalId, Poll> polls_;
  Clock::time_point nextSync_{};

  // Shared: under mu_.
  mutable std::mutex mu_;
  std::string agentId_;
  std::string serverId_;
  std::string lastError_;
  std::string failure_; // why registration failed for good
  std::string agentStatus_;
  double trustScore_ = -1;
  bool failed_ = false;
  bool registered_ = false;
  std::string verifiedServerId_; // the server id whose challenge this sidecar answered
  bool stopRequested_ = false;
  Clock::time_point drainUntil_{};
  bool stopped_ = false;
  uint64_t lastSpooledUsageVersion_ = UINT64_MAX;
  std::map<ApprovalId, Waiter> waiters_;
  ApprovalId nextApprovalId_ = 1;
  std::shared_ptr<const std::set<std::string>> revoked_ = std::make_shared<std::set<std::string>>();

  std::array<std::array<std::atomic<uint64_t>, static_cast<size_t>(AimResult::Count)>,
             static_cast<size_t>(AimRoute::Count)>
      deliveries_{};
  std::atomic<uint64_t> possibleDuplicates_{0};
  std::mutex stopMu_;
};

} // namespace sidecar::aim
