#include "verifier/answer_signature.h"

namespace sidecar::verifier {

std::string answerMessage(unsigned status, std::string_view timestamp, std::string_view nonce,
                          std::string_view requestSignature, std::string_view keyId,
                          std::string_view bodySha256) {
  char code[4] = {static_cast<char>('0' + status / 100 % 10),
                  static_cast<char>('0' + status / 10 % 10), static_cast<char>('0' + status % 10),
                  0};
  std::string m;
  m.reserve(40 + timestamp.size() + nonce.size() + requestSignature.size() + keyId.size() +
            bodySha256.size());
  m += "mcp-sig-v1-response\n";
  m += code;
  m += '\n';
  m += timestamp;
  m += '\n';
  m += nonce;
  m += '\n';
  m += requestSignature;
  m += '\n';
  m += keyId;
  m += '\n';
  m += bodySha256;
  return m;
}

std::string eventMessage(std::string_view requestSignature, std::string_view timestamp,
                         uint64_t seq, std::string_view eventSha256) {
  std::string m = "mcp-sig-v1-event\n";
  m += requestSignature;
  m += '\n';
  m += timestamp;
  m += '\n';
  m += std::to_string(seq);
  m += '\n';
  m += eventSha256;
  return m;
}

std::string AnswerSigner::jsonHeaders(unsigned status, std::string_view body, int64_t unixSeconds,
                                      std::string_view nonce,
                                      std::string_view requestSignature) const {
  std::string ts = std::to_string(unixSeconds);
  Signature sig =
      sign(key_, answerMessage(status, ts, nonce, requestSignature, keyId_, sha256Hex(body)));
  std::string h = "X-MCP-Signature: " + base64(sig) + "\r\n";
  h += "X-MCP-Timestamp: " + ts + "\r\n";
  h += "X-MCP-Key-Id: " + keyId_ + "\r\n";
  return h;
}

std::string AnswerSigner::eventLine(std::string_view requestSignature, std::string_view timestamp,
                                    uint64_t seq, std::string_view event) const {
  Signature sig = sign(key_, eventMessage(requestSignature, timestamp, seq, sha256Hex(event)));
  return ": mcp-sig seq=" + std::to_string(seq) + " sig=" + base64(sig) + "\n";
}

} // namespace sidecar::verifier
