#pragma once
// Signed answers (docs/signing.md §6): the bytes the sidecar signs for an answer and for each SSE
// event, and the headers that carry the answer's signature. No I/O.

#include <cstdint>
#include <string>
#include <string_view>

#include "verifier/keys.h"

namespace sidecar::verifier {

// "mcp-sig-v1-response\n<STATUS>\n<TIMESTAMP>\n<NONCE>\n<REQUEST-SIG>\n<KEY-ID>\n<BODY-SHA256>",
// with `bodySha256` the lowercase hex SHA-256 of the body as sent (of zero bytes for an SSE body).
std::string answerMessage(unsigned status, std::string_view timestamp, std::string_view nonce,
                          std::string_view requestSignature, std::string_view keyId,
                          std::string_view bodySha256);

// "mcp-sig-v1-event\n<REQUEST-SIG>\n<TIMESTAMP>\n<SEQ>\n<EVENT-SHA256>".
std::string eventMessage(std::string_view requestSignature, std::string_view timestamp,
                         uint64_t seq, std::string_view eventSha256);

// A signer with the sidecar's key: its fingerprint is the key id.
class AnswerSigner {
public:
  explicit AnswerSigner(PrivateKey key) : key_(key), keyId_(fingerprint(key.pub)) {}

  // The header lines (each ending in \r\n) that sign a JSON (or empty) answer:
  // X-MCP-Signature, X-MCP-Timestamp, X-MCP-Key-Id. `nonce` and `requestSignature` are the
  // request's X-MCP-Nonce and X-MCP-Signature, empty for an unsigned request.
  std::string jsonHeaders(unsigned status, std::string_view body, int64_t unixSeconds,
                          std::string_view nonce = {},
                          std::string_view requestSignature = {}) const;

  // The comment line that precedes event `seq` of a signed event stream, newline included:
  // ": mcp-sig seq=<n> sig=<b64>\n", signing eventMessage() over `event`'s bytes as sent.
  std::string eventLine(std::string_view requestSignature, std::string_view timestamp, uint64_t seq,
                        std::string_view event) const;

  const std::string& keyId() const { return keyId_; }
  const PrivateKey& key() const { return key_; }

private:
  PrivateKey key_;
  std::string keyId_;
};

} // namespace sidecar::verifier
