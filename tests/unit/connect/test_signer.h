#pragma once
// Signs answers as a sidecar does (contract §6), with a key of the test's own, so that the connect
// tests can check answers, streams and tampering without a server. Header-only.

#include <string>
#include <string_view>

#include "connect/answer_check.h"
#include "connect/http_client.h"
#include "verifier/answer_signature.h"
#include "verifier/keys.h"

namespace sidecar::connect::testing {

class TestSigner {
public:
  TestSigner() : key_(verifier::generatePrivateKey()), signer_(key_) {}
  explicit TestSigner(const verifier::PrivateKey& key) : key_(key), signer_(key_) {}

  ServerKey serverKey() const { return ServerKey::of(key_.pub); }
  const verifier::PrivateKey& key() const { return key_; }

  // The head of a JSON (or empty) answer signed for `request`.
  HttpHead jsonHead(int status, std::string_view body, const RequestBinding& request,
                    int64_t ts = 1764000001,
                    std::string_view contentType = "application/json") const {
    HttpHead h;
    h.status = status;
    if (!contentType.empty())
      h.headers.emplace_back("content-type", std::string(contentType));
    addSignature(h, signer_.jsonHeaders(static_cast<unsigned>(status), body, ts, request.nonce,
                                        request.signature));
    return h;
  }

  // The head of an event stream signed for `request`: the signature over zero body bytes.
  HttpHead sseHead(int status, const RequestBinding& request, int64_t ts = 1764000001) const {
    return jsonHead(status, "", request, ts, "text/event-stream");
  }

  // ": mcp-sig seq=<seq> sig=<...>\n" followed by `event` (its bytes from the first field line
  // through the blank line), signed for the stream of `request` at `ts`.
  std::string signedEvent(const RequestBinding& request, uint64_t seq, std::string_view event,
                          int64_t ts = 1764000001) const {
    std::string m = verifier::eventMessage(request.signature, std::to_string(ts), seq,
                                           verifier::sha256Hex(event));
    return ": mcp-sig seq=" + std::to_string(seq) +
           " sig=" + verifier::base64(verifier::sign(key_, m)) + "\n" + std::string(event);
  }

  // A message event: "event: message\ndata: <json>\n\n".
  static std::string messageEvent(std::string_view json) {
    return "event: message\ndata: " + std::string(json) + "\n\n";
  }

private:
  // "Name: value\r\n" lines into lower-case header pairs.
  static void addSignature(HttpHead& h, const std::string& lines) {
    size_t p = 0;
    while (p < lines.size()) {
      size_t e = lines.find("\r\n", p);
      std::string line = lines.substr(p, e - p);
      size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (char& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      h.headers.emplace_back(name, line.substr(colon + 2));
      p = e + 2;
    }
  }

  verifier::PrivateKey key_;
  verifier::AnswerSigner signer_;
};

} // namespace sidecar::connect::testing
