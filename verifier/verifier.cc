#include "verifier/verifier.h"
#include "common/ascii.h"

#include <algorithm>
#include <initializer_list>
#include <string>

namespace sidecar::verifier {
namespace {

// The headers any profile reads, found in one pass over the request's headers.
enum HeaderId : uint8_t {
  kSignature, // X-MCP-Signature
  kTimestamp, // X-MCP-Timestamp
  kKeyId,     // X-MCP-Key-Id
  kNonce,     // X-MCP-Nonce
  kSession,   // Mcp-Session-Id
  kAgentId,   // X-Agent-ID          (aim-agent-request-v1)
  kXTimestamp,
  kXSignature,
  kXPublicKey,
  kHeaderCount
};

constexpr std::string_view kLowerNames[kHeaderCount] = {
    "x-mcp-signature", "x-mcp-timestamp", "x-mcp-key-id", "x-mcp-nonce", "mcp-session-id",
    "x-agent-id",      "x-timestamp",     "x-signature",  "x-public-key"};
constexpr const char* kNames[kHeaderCount] = {"X-MCP-Signature", "X-MCP-Timestamp", "X-MCP-Key-Id",
                                              "X-MCP-Nonce",     "Mcp-Session-Id",  "X-Agent-ID",
                                              "X-Timestamp",     "X-Signature",     "X-Public-Key"};

struct Headers {
  std::string_view value[kHeaderCount];
  uint8_t count[kHeaderCount] = {}; // saturates at 2

  explicit Headers(std::span<const Header> headers) {
    for (const Header& h : headers) {
      for (uint8_t id = 0; id < kHeaderCount; ++id) {
        if (!iequals(h.first, kLowerNames[id]))
          continue;
        if (count[id] == 0)
          value[id] = trimBlanks(h.second);
        if (count[id] < 2)
          ++count[id];
        break;
      }
    }
  }
  bool has(HeaderId id) const { return count[id] > 0; }
  // The first of `ids` that appears more than once, or kHeaderCount.
  HeaderId duplicated(std::initializer_list<HeaderId> ids) const {
    for (HeaderId id : ids)
      if (count[id] > 1)
        return id;
    return kHeaderCount;
  }
};

bool isNonce(std::string_view s) {
  if (s.size() < 16 || s.size() > 64)
    return false;
  for (char c : s) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok)
      return false;
  }
  return true;
}

// §2: 1 to 12 decimal digits, no sign, no leading zero.
bool parseTimestamp(std::string_view s, int64_t& out) {
  if (s.empty() || s.size() > 12 || (s[0] == '0' && s.size() > 1))
    return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9')
      return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

// §3: an absolute-form target "http://h/p?q" is reduced to "/p?q" (and "http://h" to "/").
std::string_view originForm(std::string_view target, std::string& storage) {
  if (target.empty() || target.front() == '/')
    return target;
  size_t sep = target.find("://");
  if (sep == std::string_view::npos || sep == 0)
    return target; // "*" or authority-form
  for (size_t i = 0; i < sep; ++i) {
    char c = target[i];
    bool scheme = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                  (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
    if (!scheme)
      return target;
  }
  std::string_view rest = target.substr(sep + 3);
  size_t end = rest.find_first_of("/?#");
  if (end == std::string_view::npos)
    return "/";
  if (rest[end] == '/')
    return rest.substr(end);
  storage = "/";
  storage += rest.substr(end);
  return storage;
}

Verdict& reject(Verdict& v, Reason r, std::string detail) {
  v.reason = r;
  v.detail = std::move(detail);
  return v;
}

// Decodes a signature header into `sig`; on failure, says what is wrong with it.
bool decodeSignature(const char* header, std::string_view text, Signature& sig,
                     std::string& problem) {
  std::string raw;
  if (!decodeBase64(text, raw)) {
    problem = std::string(header) + " is not base64 (standard or URL-safe alphabet, padding "
                                    "optional)";
    return false;
  }
  if (raw.size() != sig.size()) {
    problem = std::string(header) + " decodes to " + std::to_string(raw.size()) +
              " bytes; an Ed25519 signature has 64";
    return false;
  }
  std::copy(raw.begin(), raw.end(), sig.begin());
  return true;
}

std::string_view bytesOf(const Signature& sig) {
  return {reinterpret_cast<const char*>(sig.data()), sig.size()};
}

// Steps 2 (timestamp) shared by every profile. False when `v` holds a rejection.
bool checkTimestamp(const VerifierOptions& o, std::string_view text, const char* header,
                    int64_t now, int64_t& ts, Verdict& v) {
  if (!parseTimestamp(text, ts)) {
    reject(v, Reason::TimestampInvalid,
           std::string(header) +
               " must be Unix time in seconds: 1 to 12 decimal digits, no sign, no leading zero");
    return false;
  }
  int64_t skew = ts - now;
  if (skew > o.windowSeconds || -skew > o.windowSeconds) {
    reject(v, Reason::TimestampSkew,
           std::string(header) + " " + std::string(text) + " is " +
               std::to_string(skew > 0 ? skew : -skew) + " s " +
               (skew > 0 ? "ahead of" : "behind") + " the sidecar's clock; the window is ±" +
               std::to_string(o.windowSeconds) + " s — check the caller's clock");
    return false;
  }
  return true;
}

// Step 3's second half. False when `v` holds a rejection.
bool checkKeyUsable(const TrustedKey& key, int64_t now, Verdict& v) {
  if (key.revoked) {
    reject(v, Reason::KeyRevoked, "key '" + key.id + "' is marked revoked in the trust store");
    return false;
  }
  if (key.expiredAt(now)) {
    reject(v, Reason::KeyRevoked,
           "key '" + key.id + "' expired (at Unix time " + std::to_string(*key.expiresUnix) +
               ", per the trust store)");
    return false;
  }
  return true;
}

// Step 6. `replayKey` is the nonce, or the signature's bytes when the request has none.
Verdict& remember(ReplayCache& replay, const TrustedKey& key, std::string_view replayKey,
                  bool byNonce, int64_t ts, const VerifierOptions& o, int64_t now, Verdict& v) {
  switch (replay.checkAndRemember(key.id, replayKey, ts + o.windowSeconds, now)) {
  case ReplayCache::Outcome::Fresh:
    v.reason = Reason::Accepted;
    return v;
  case ReplayCache::Outcome::Replayed:
    return reject(v, Reason::Replayed,
                  byNonce ? "X-MCP-Nonce " + std::string(replayKey) + " of key '" + key.id +
                                "' was already used within the window; use a fresh nonce "
                                "for every request"
                          : "this signature of key '" + key.id +
                                "' was already accepted within the window (a request without a "
                                "nonce is remembered by its signature); sign every request anew");
  case ReplayCache::Outcome::Full:
    break;
  }
  return reject(v, Reason::ReplayCacheFull,
                "the replay cache is full (" + std::to_string(replay.capacity()) +
                    " entries): the sidecar cannot remember more requests now; retry later, "
                    "or raise --replay-capacity");
}

// mcp-sig-v1 (§2-§4), and the seed profile (§7) on the same headers.
Verdict verifyMcp(const VerifierOptions& o, const TrustStore& store, ReplayCache& replay,
                  const RequestView& req, const Headers& h, int64_t now) {
  Verdict v;
  v.profile = o.mcpSigV1 ? Profile::McpSigV1 : Profile::Seed;

  // Step 1: headers.
  if (HeaderId d = h.duplicated({kSignature, kTimestamp, kKeyId, kNonce, kSession});
      d != kHeaderCount)
    return reject(v, Reason::HeaderDuplicated,
                  std::string(kNames[d]) + " appears more than once; send it exactly once");
  if (!h.has(kTimestamp))
    return reject(v, Reason::SignatureMissing,
                  "the request has X-MCP-Signature but no X-MCP-Timestamp");
  const std::string_view keyId = h.value[kKeyId];
  if (h.has(kKeyId)) {
    if (!isValidKeyId(keyId))
      return reject(v, Reason::HeaderMalformed,
                    "X-MCP-Key-Id must be 1 to 128 characters of A-Z a-z 0-9 . _ : @ / + = -");
    v.keyId = keyId;
  }
  const std::string_view nonce = h.value[kNonce];
  if (o.mcpSigV1 && h.has(kNonce) && !isNonce(nonce))
    return reject(v, Reason::HeaderMalformed,
                  "X-MCP-Nonce must be 16 to 64 characters of A-Z a-z 0-9 _ - (e.g. 16 random "
                  "bytes in unpadded base64url)");
  // require_nonce concerns mcp-sig-v1 only: with seed on, a request without a nonce may still be a
  // seed request, so the missing nonce is reported only if it is not a valid seed one either.
  const bool nonceMissing = o.mcpSigV1 && o.requireNonce && !h.has(kNonce);
  const char* kNonceRequired = "X-MCP-Nonce is required (require_nonce is set) but absent";
  if (nonceMissing && !o.seed)
    return reject(v, Reason::SignatureMissing, kNonceRequired);

  // Step 2: timestamp.
  int64_t ts = 0;
  if (!checkTimestamp(o, h.value[kTimestamp], "X-MCP-Timestamp", now, ts, v))
    return v;

  // Step 3: key.
  const TrustedKey* key = nullptr;
  if (h.has(kKeyId)) {
    key = store.find(keyId);
    if (!key)
      return reject(v, Reason::KeyUnknown,
                    "no key with id '" + std::string(keyId) + "' in the trust store");
  } else {
    key = store.single();
    if (!key)
      return reject(v, Reason::KeyUnknown,
                    "no X-MCP-Key-Id, and the trust store holds " +
                        std::to_string(store.keys().size()) +
                        " keys (the header may be left out only when it holds exactly one)");
    v.keyId = key->id;
  }
  v.key = key;
  if (!checkKeyUsable(*key, now, v))
    return v;

  // Step 5: signature.
  Signature sig;
  std::string problem;
  if (!decodeSignature("X-MCP-Signature", h.value[kSignature], sig, problem))
    return reject(v, Reason::SignatureMalformed, std::move(problem));
  if (o.mcpSigV1 && !nonceMissing) {
    std::string storage;
    std::string message =
        signedMessage(req.method, originForm(req.target, storage), h.value[kTimestamp], nonce,
                      keyId, h.value[kSession], req.body);
    if (verifySignature(key->key, sig, message)) {
      return h.has(kNonce) ? remember(replay, *key, nonce, true, ts, o, now, v)
                           : remember(replay, *key, bytesOf(sig), false, ts, o, now, v);
    }
  }
  if (o.seed) {
    // §7 seed: the body bytes followed by the decimal timestamp.
    std::string message;
    message.reserve(req.body.size() + h.value[kTimestamp].size());
    message.append(req.body).append(h.value[kTimestamp]);
    if (verifySignature(key->key, sig, message)) {
      v.profile = Profile::Seed;
      return remember(replay, *key, bytesOf(sig), false, ts, o, now, v);
    }
  }
  if (nonceMissing)
    return reject(v, Reason::SignatureMissing,
                  std::string(kNonceRequired) + ", and the signature is no valid seed signature");
  if (!o.mcpSigV1)
    return reject(v, Reason::SignatureInvalid,
                  "the seed signature does not verify with key '" + key->id +
                      "' over the body and timestamp as received: they differ from what was "
                      "signed, or another key signed it");
  return reject(v, Reason::SignatureInvalid,
                std::string("the signature does not verify with key '") + key->id +
                    "' over the request as received" +
                    (o.seed ? " (neither as mcp-sig-v1 nor as seed)" : "") +
                    ": the method, target, body, session, timestamp, nonce or key id differ "
                    "from what was signed, or another key signed it");
}

// Decodes X-Public-Key: base64 (either alphabet, padding optional) or hex of the raw 32 bytes.
bool decodeRawPublicKey(std::string_view text, PublicKey& out) {
  std::string raw;
  if (text.size() == 64) {
    raw.reserve(32);
    for (size_t i = 0; i < 64; i += 2) {
      auto nibble = [](char c) {
        if (c >= '0' && c <= '9')
          return c - '0';
        if (c >= 'a' && c <= 'f')
          return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
          return c - 'A' + 10;
        return -1;
      };
      int hi = nibble(text[i]), lo = nibble(text[i + 1]);
      if (hi < 0 || lo < 0)
        return false;
      raw.push_back(static_cast<char>(hi << 4 | lo));
    }
  } else if (!decodeBase64(text, raw)) {
    return false;
  }
  if (raw.size() != out.bytes.size())
    return false;
  std::copy(raw.begin(), raw.end(), out.bytes.begin());
  return true;
}

// aim-agent-request-v1 (§7).
Verdict verifyAim(const VerifierOptions& o, const TrustStore& store, ReplayCache& replay,
                  const RequestView& req, const Headers& h, int64_t now) {
  Verdict v;
  v.profile = Profile::AimAgentRequestV1;
  if (HeaderId d = h.duplicated({kAgentId, kXTimestamp, kXSignature, kXPublicKey});
      d != kHeaderCount)
    return reject(v, Reason::HeaderDuplicated,
                  std::string(kNames[d]) + " appears more than once; send it exactly once");
  for (HeaderId id : {kXTimestamp, kXPublicKey})
    if (!h.has(id))
      return reject(v, Reason::SignatureMissing,
                    std::string("an aim-agent-request-v1 request needs X-Agent-ID, X-Timestamp, "
                                "X-Signature and X-Public-Key; ") +
                        kNames[id] + " is missing");
  const std::string_view agentId = h.value[kAgentId];
  if (!isValidKeyId(agentId))
    return reject(v, Reason::HeaderMalformed,
                  "X-Agent-ID must be 1 to 128 characters of A-Z a-z 0-9 . _ : @ / + = -");
  v.keyId = agentId;
  PublicKey presented;
  if (!decodeRawPublicKey(h.value[kXPublicKey], presented))
    return reject(v, Reason::HeaderMalformed,
                  "X-Public-Key must be the 32-byte Ed25519 key in base64 or 64 hex digits");

  int64_t ts = 0;
  if (!checkTimestamp(o, h.value[kXTimestamp], "X-Timestamp", now, ts, v))
    return v;

  // The entry whose id is the agent id, if it holds the presented key; failing that, one that
  // names this AIM agent (aim_agent_id) and holds the presented key.
  const TrustedKey* byId = store.find(agentId);
  const TrustedKey* key = byId && byId->key == presented ? byId : nullptr;
  for (size_t i = 0; !key && i < store.keys().size(); ++i) {
    const TrustedKey& k = store.keys()[i];
    if (k.aimAgentId == agentId && k.key == presented)
      key = &k;
  }
  if (!key)
    return reject(v, Reason::KeyUnknown,
                  byId ? "X-Public-Key is not the key the trust store holds for agent '" +
                             std::string(agentId) + "'"
                       : "no trust-store entry for agent '" + std::string(agentId) +
                             "' (neither as id nor as aim_agent_id with this X-Public-Key)");
  v.key = key;
  v.keyId = key->id;
  if (!checkKeyUsable(*key, now, v))
    return v;

  Signature sig;
  std::string problem;
  if (!decodeSignature("X-Signature", h.value[kXSignature], sig, problem))
    return reject(v, Reason::SignatureMalformed, std::move(problem));
  std::string storage;
  std::string_view target = originForm(req.target, storage);
  std::string message;
  message.reserve(req.method.size() + target.size() + h.value[kXTimestamp].size() +
                  req.body.size() + 3);
  message.append(req.method).append(1, '\n').append(target).append(1, '\n');
  message.append(h.value[kXTimestamp]);
  if (!req.body.empty())
    message.append(1, '\n').append(req.body);
  if (!verifySignature(key->key, sig, message))
    return reject(v, Reason::SignatureInvalid,
                  "X-Signature does not verify with the key of agent '" + std::string(agentId) +
                      "' over the method, target, X-Timestamp and body as received");
  return remember(replay, *key, bytesOf(sig), false, ts, o, now, v);
}

} // namespace

bool isValidKeyId(std::string_view id) {
  if (id.empty() || id.size() > 128)
    return false;
  for (char c : id) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '@' || c == '/' || c == '+' || c == '=' ||
              c == '-';
    if (!ok)
      return false;
  }
  return true;
}

const char* reasonName(Reason r) {
  switch (r) {
  case Reason::Accepted:
    return "accepted";
  case Reason::SignatureMissing:
    return "signature_missing";
  case Reason::HeaderMalformed:
    return "header_malformed";
  case Reason::HeaderDuplicated:
    return "header_duplicated";
  case Reason::TimestampInvalid:
    return "timestamp_invalid";
  case Reason::TimestampSkew:
    return "timestamp_skew";
  case Reason::KeyUnknown:
    return "key_unknown";
  case Reason::KeyRevoked:
    return "key_revoked";
  case Reason::SignatureMalformed:
    return "signature_malformed";
  case Reason::SignatureInvalid:
    return "signature_invalid";
  case Reason::Replayed:
    return "replayed";
  case Reason::ReplayCacheFull:
    return "replay_cache_full";
  case Reason::kCount:
    break;
  }
  return "unknown";
}

const char* profileName(Profile p) {
  switch (p) {
  case Profile::McpSigV1:
    return "mcp-sig-v1";
  case Profile::Seed:
    return "seed";
  case Profile::AimAgentRequestV1:
    return "aim-agent-request-v1";
  case Profile::kCount:
    break;
  }
  return "unknown";
}

int Verdict::httpStatus() const {
  switch (reason) {
  case Reason::Accepted:
    return 200;
  case Reason::ReplayCacheFull:
    return 503;
  default:
    return 401;
  }
}

std::string signedMessage(std::string_view method, std::string_view target,
                          std::string_view timestamp, std::string_view nonce,
                          std::string_view keyId, std::string_view sessionId,
                          std::string_view body) {
  constexpr std::string_view kTag = "mcp-sig-v1";
  std::string m;
  m.reserve(kTag.size() + method.size() + target.size() + timestamp.size() + nonce.size() +
            keyId.size() + sessionId.size() + 64 + 7);
  m.append(kTag).append(1, '\n');
  m.append(method).append(1, '\n');
  m.append(target).append(1, '\n');
  m.append(timestamp).append(1, '\n');
  m.append(nonce).append(1, '\n');
  m.append(keyId).append(1, '\n');
  m.append(sessionId).append(1, '\n');
  m.append(sha256Hex(body));
  return m;
}

Verdict verify(const VerifierOptions& options, const TrustStore& store, ReplayCache& replay,
               const RequestView& request, int64_t nowUnix) {
  const Headers h(request.headers);
  const bool aimHeaders = h.has(kAgentId) && h.has(kXSignature);
  if (aimHeaders && options.aimAgentRequestV1)
    return verifyAim(options, store, replay, request, h, nowUnix);
  if (h.has(kSignature) && (options.mcpSigV1 || options.seed))
    return verifyMcp(options, store, replay, request, h, nowUnix);

  Verdict v;
  v.profile = options.mcpSigV1 || !(options.seed || options.aimAgentRequestV1)
                  ? Profile::McpSigV1
                  : (options.seed ? Profile::Seed : Profile::AimAgentRequestV1);
  v.reason = Reason::SignatureMissing;
  if (h.has(kSignature))
    v.detail = "the request carries X-MCP-Signature, but neither profile mcp-sig-v1 nor seed is "
               "enabled";
  else if (aimHeaders)
    v.detail = "the request carries aim-agent-request-v1 headers (X-Agent-ID, X-Signature), but "
               "that profile is not enabled";
  else if (options.aimAgentRequestV1 && (h.has(kAgentId) || h.has(kXSignature)))
    v.detail = "an aim-agent-request-v1 request needs both X-Agent-ID and X-Signature";
  else
    v.detail = "the request is not signed: it has no X-MCP-Signature header";
  return v;
}

} // namespace sidecar::verifier
