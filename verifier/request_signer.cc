#include "verifier/request_signer.h"

#include "verifier/verifier.h"

namespace sidecar::verifier {

std::vector<std::pair<std::string, std::string>> RequestSignature::headers() const {
  return {{"X-MCP-Signature", signature},
          {"X-MCP-Timestamp", timestamp},
          {"X-MCP-Nonce", nonce},
          {"X-MCP-Key-Id", keyId}};
}

RequestSigner::RequestSigner(const PrivateKey& key, std::string keyId)
    : key_(key), keyId_(keyId.empty() ? fingerprint(key.pub) : std::move(keyId)) {}

RequestSignature RequestSigner::sign(std::string_view method, std::string_view target,
                                     std::string_view sessionId, std::string_view body,
                                     int64_t unixSeconds, std::string nonce) const {
  RequestSignature s;
  s.timestamp = std::to_string(unixSeconds);
  s.nonce = nonce.empty() ? randomNonce() : std::move(nonce);
  s.keyId = keyId_;
  s.signature = base64(verifier::sign(
      key_, signedMessage(method, target, s.timestamp, s.nonce, s.keyId, sessionId, body)));
  return s;
}

} // namespace sidecar::verifier
