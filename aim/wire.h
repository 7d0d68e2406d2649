#pragma once
// The AIM platform's wire contract (shared/reference/aim-wire.md, copied for the tests into
// tests/data/aim/): the exact bytes each route signs, the bodies the sidecar sends, and tolerant
// parsers for the answers it reads. Pure functions, no I/O; the client (aim/client.h) and the tests
// share them.
//
// Section numbers (§) refer to aim-wire.md.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/status.h"
#include "verifier/keys.h"

namespace sidecar::aim {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// ---------------------------------------------------------------------------------------------
// §3 agent-request-v1: every grouped /api/v1/sdk-api/* route.

// METHOD "\n" TARGET "\n" TIMESTAMP, then "\n" BODY only when `body` is not empty. `method` is
// upper-cased; `target` is the path plus "?query" exactly as sent (the host is not signed).
std::string agentRequestMessage(std::string_view method, std::string_view target,
                                int64_t unixSeconds, std::string_view body);

// X-Agent-ID, X-Timestamp, X-Signature (std base64 of the 64-byte signature) and X-Public-Key
// (std base64 of the raw 32-byte key), signing agentRequestMessage(). Never an Authorization
// header: AIM's middleware steps aside when one is present.
HeaderList agentRequestHeaders(const verifier::PrivateKey& key, std::string_view agentId,
                               std::string_view method, std::string_view target,
                               int64_t unixSeconds, std::string_view body);

// ---------------------------------------------------------------------------------------------
// §4 the verification poll, GET /api/v1/sdk-api/verifications/:id.

// "GET\n/api/v1/sdk-api/verifications/" + lower(id) + "\n" + lower(agentId) + "\n" + seconds.
std::string pollMessage(std::string_view verificationId, std::string_view agentId,
                        int64_t unixSeconds);
// X-AIM-Agent-ID, X-AIM-Timestamp, X-AIM-Signature over pollMessage(). The agent id header carries
// the id lower-cased, as signed.
HeaderList pollHeaders(const verifier::PrivateKey& key, std::string_view verificationId,
                       std::string_view agentId, int64_t unixSeconds);

// ---------------------------------------------------------------------------------------------
// §5.1 the legacy body signature of POST /api/v1/sdk-api/verifications.

// A context value: AIM rebuilds the signed bytes with Go, which turns every number into a
// float64, so only strings and integers of at most 2^53 in magnitude are allowed.
using ContextValue = std::variant<std::string, int64_t>;
using Context = std::vector<std::pair<std::string, ContextValue>>;

struct VerificationRequest {
  std::string agentId;
  std::string capability;              // "mcp_tool:<tool name>"
  std::optional<std::string> resource; // null when absent or empty (Python's `resource or None`)
  Context context;                     // keys unique; serialised with sorted keys
  std::string timestamp;               // pythonUtcTimestamp(); not checked for freshness by AIM
  std::string riskLevel;               // the body's optional "riskLevel"; not signed; "" = absent
};

// The signed message: Python `json.dumps(obj, sort_keys=True, separators=(", ", ": "))` over
// {"action_type", "agent_id", "context", "resource", "timestamp"} (snake_case, although the body
// is camelCase). Python and Go agree on these bytes only for printable ASCII (0x20-0x7E) and safe
// integers, so anything else is refused with an error naming the field: returns the message, or
// an error for a non-printable or non-ASCII character, a duplicate context key, or an integer
// beyond ±2^53.
Result<std::string> legacyVerificationMessage(const VerificationRequest& request);

// The camelCase body {"agentId","capability","resource","context","timestamp","riskLevel"?,
// "signature","publicKey"} with the signature over legacyVerificationMessage(). Errors as that.
Result<std::string> legacyVerificationBody(const verifier::PrivateKey& key,
                                           const VerificationRequest& request);

// Python's `datetime.utcnow().isoformat() + "Z"`: 2026-05-01T12:00:00.123456Z, the fraction
// left out when the microseconds are 0.
std::string pythonUtcTimestamp(std::chrono::system_clock::time_point when);

// RFC 3339 UTC with milliseconds (2026-05-01T12:00:00.123Z), for reportedAt, executedAt, ….
std::string rfc3339Utc(std::chrono::system_clock::time_point when);

// ---------------------------------------------------------------------------------------------
// §9 the challenge AIM posts to <registered URL>/.well-known/mcp/verify.

struct ChallengeAnswer {
  std::string serverId;  // the request's "server_id" (or "serverId"), "" when absent
  std::string challenge; // the base64 challenge string as received
  std::string body;      // {"signedChallenge":"…","signed_challenge":"…"}
};

// Signs the UTF-8 bytes of the challenge string itself (not its decoded bytes) and answers with
// both spellings of the key. Errors: a body that is not a JSON object, or whose "challenge" is
// missing, empty or not a string.
Result<ChallengeAnswer> answerChallenge(const verifier::PrivateKey& key,
                                        std::string_view requestBody);

// ---------------------------------------------------------------------------------------------
// Bodies sent to AIM (compact JSON, camelCase as current AIM reads it).

// §7.1 POST /api/v1/agents.
struct AgentRegistration {
  std::string name;
  std::string displayName;
  std::string description;
  std::string agentType = "ai_agent";
  std::string version;
  std::string declaredPurpose; // "" = absent
};
std::string agentRegistrationBody(const AgentRegistration& agent,
                                  const verifier::PublicKey& publicKey);

// §8.2 POST /api/v1/sdk-api/agents/:id/mcp-servers.
struct McpServerRegistration {
  std::string name;
  std::string description;
  std::string url; // the public URL, path included
  std::string version;
  std::string verificationUrl; // "" = absent (AIM then appends /.well-known/mcp/verify to url)
  std::vector<std::string> capabilities; // tool names
};
std::string mcpServerRegistrationBody(const McpServerRegistration& server,
                                      const verifier::PublicKey& publicKey,
                                      std::string_view agentId);

// §13 one tool's cumulative usage.
struct ToolUsage {
  uint64_t count = 0;
  std::string firstUsed; // RFC 3339
  std::string lastUsed;
  bool operator==(const ToolUsage&) const = default;
};
using UsageTotals = std::map<std::string, ToolUsage>;

// {"agentId","reportedAt","mcpServers":{"<serverId>":{"toolUsage":{…},"capabilitiesAttested":[]}}}
std::string usageReportBody(std::string_view agentId, std::string_view reportedAt,
                            std::string_view serverId, const UsageTotals& totals);

// §12.4 {"executed", "executedAt"?, "executionError"?}; "" leaves a field out.
std::string executionStatusBody(bool executed, std::string_view executedAt,
                                std::string_view executionError);

// ---------------------------------------------------------------------------------------------
// Answers read from AIM. Every parser accepts camelCase and snake_case (aim-wire.md rule 10).

// The "id" of a created agent or MCP server. Error when the body has none.
Result<std::string> parseCreatedId(std::string_view body);
// The "existingId" ("existing_id") of a 409 from MCP server creation, nullopt when absent.
std::optional<std::string> parseExistingId(std::string_view body);

// §5.1 / §12.3 a verification.
struct VerificationAnswer {
  std::string id;
  std::string status; // approved | denied | pending | expired | …
  std::string approvedBy;
  std::string expiresAt;
  std::string denialReason;
  std::string enforcementMode;
  double trustScore = 0;
};
// Errors: not a JSON object, or no string "status".
Result<VerificationAnswer> parseVerificationAnswer(std::string_view body);

// §7.2 heartbeat answer: the agent's status and trust score (both optional).
struct HeartbeatAnswer {
  std::string status;
  double trustScore = -1; // -1 when absent
};
HeartbeatAnswer parseHeartbeatAnswer(std::string_view body);

// §7.3 the revocation list: agent ids, lower-cased. Error when "revocations" is not an array.
Result<std::vector<std::string>> parseRevocationList(std::string_view body);

// Seconds to wait from a Retry-After value (delta-seconds or an HTTP-date, RFC 9110 §10.2.3),
// nullopt when it is neither.
std::optional<std::chrono::seconds> parseRetryAfter(std::string_view value,
                                                    std::chrono::system_clock::time_point now);

// 8-4-4-4-12 hexadecimal digits (AIM skips usage-report keys that are not UUIDs).
bool isUuid(std::string_view text);
std::string lowerAscii(std::string_view text);

// "<status>: <body excerpt>" for error messages: at most `limit` bytes of the body, control
// characters replaced, "…" appended when cut.
std::string bodyExcerpt(std::string_view body, size_t limit = 200);

} // namespace sidecar::aim
