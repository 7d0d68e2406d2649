#pragma once
// Verifies a request's signature in the order of docs/signing.md §4. Pure: no I/O, the clock is a
// parameter (the vectors' `now` applies in tests). Thread-safe: any worker may call it
// concurrently with its own TrustStore snapshot; the ReplayCache is shared.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "verifier/replay_cache.h"
#include "verifier/trust_store.h"

namespace sidecar::verifier {

enum class Profile : uint8_t { McpSigV1, Seed, AimAgentRequestV1, kCount };

// Every outcome; the names are the `reason` label of the metrics, the audit log and the
// `data.reason` of the error body.
enum class Reason : uint8_t {
  Accepted,
  SignatureMissing,   // "signature_missing"
  HeaderMalformed,    // "header_malformed"
  HeaderDuplicated,   // "header_duplicated"
  TimestampInvalid,   // "timestamp_invalid"
  TimestampSkew,      // "timestamp_skew"
  KeyUnknown,         // "key_unknown"
  KeyRevoked,         // "key_revoked" (also an expired key)
  SignatureMalformed, // "signature_malformed"
  SignatureInvalid,   // "signature_invalid"
  Replayed,           // "replayed"
  ReplayCacheFull,    // "replay_cache_full" (503)
  kCount
};

const char* reasonName(Reason r);
const char* profileName(Profile p);

struct VerifierOptions {
  int64_t windowSeconds = 300;
  bool requireNonce = false;
  bool mcpSigV1 = true;
  bool seed = false;
  bool aimAgentRequestV1 = false;
};

using Header = std::pair<std::string_view, std::string_view>;

struct RequestView {
  std::string_view method; // as sent, e.g. "POST"
  std::string_view target; // request-target as sent (absolute form is reduced to path?query)
  std::span<const Header> headers; // every header, names in any case
  std::string_view body;
};

struct Verdict {
  Reason reason = Reason::SignatureMissing;
  Profile profile = Profile::McpSigV1;
  const TrustedKey* key = nullptr; // the caller's entry when known (valid with its TrustStore)
  std::string keyId;               // as sent or resolved, for logs; may be empty
  std::string detail;              // for a person: what exactly was wrong

  bool accepted() const { return reason == Reason::Accepted; }
  // 401 for every signature reason, 503 for ReplayCacheFull, 200 when accepted.
  int httpStatus() const;
};

// §2: 1 to 128 characters of [A-Za-z0-9._:@/+=-] (X-MCP-Key-Id, trust-store ids).
bool isValidKeyId(std::string_view id);

// §3: the bytes a caller signs for profile mcp-sig-v1.
std::string signedMessage(std::string_view method, std::string_view target,
                          std::string_view timestamp, std::string_view nonce,
                          std::string_view keyId, std::string_view sessionId,
                          std::string_view body);

// §4 (and §7 for the compatibility profiles enabled in `options`).
Verdict verify(const VerifierOptions& options, const TrustStore& store, ReplayCache& replay,
               const RequestView& request, int64_t nowUnix);

} // namespace sidecar::verifier
