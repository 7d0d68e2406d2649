#pragma once
// The caller's side of profile mcp-sig-v1 (docs/signing.md, contract §2–3): the four X-MCP-*
// headers of one request. Shared by `mcp-sidecar sign` and `mcp-sidecar connect`. No I/O.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "verifier/keys.h"

namespace sidecar::verifier {

// The headers that sign one request.
struct RequestSignature {
  std::string signature; // X-MCP-Signature: standard base64 of the 64-byte signature
  std::string timestamp; // X-MCP-Timestamp: unix seconds
  std::string nonce;     // X-MCP-Nonce
  std::string keyId;     // X-MCP-Key-Id

  // {name, value} in the order `sign` prints them: signature, timestamp, nonce, key id.
  std::vector<std::pair<std::string, std::string>> headers() const;
};

// A caller's key and the key id it signs under. Immutable, so any thread may sign with it.
class RequestSigner {
public:
  // `keyId` empty: the key's fingerprint (contract §1).
  RequestSigner(const PrivateKey& key, std::string keyId);

  // Signs `method target` with `body` (the exact bytes sent) in session `sessionId` ("" = none)
  // at `unixSeconds`, with `nonce` (a fresh randomNonce() when empty).
  RequestSignature sign(std::string_view method, std::string_view target,
                        std::string_view sessionId, std::string_view body, int64_t unixSeconds,
                        std::string nonce = {}) const;

  const std::string& keyId() const { return keyId_; }
  const PublicKey& publicKey() const { return key_.pub; }

private:
  PrivateKey key_;
  std::string keyId_;
};

} // namespace sidecar::verifier
