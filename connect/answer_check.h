#pragma once
// Checks the signed answers of contract §6 against the server's key: a JSON (or empty) answer by
// its X-MCP-* headers, and an event stream by its headers and the `: mcp-sig` comment before each
// event. Pure: no I/O, no clock.
//
// Every failure is a Status whose message names what failed ("the answer is not signed",
// "event 3 is missing: ...") for the JSON-RPC error the client gets and for the log.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "connect/sse_parser.h"
#include "verifier/keys.h"

namespace sidecar::connect {

// The key answers must be signed with, and its key id (the fingerprint, contract §1).
struct ServerKey {
  verifier::PublicKey key;
  std::string keyId;

  static ServerKey of(const verifier::PublicKey& k) { return {k, verifier::fingerprint(k)}; }
};

// The signature headers of an answer, as received (trimmed); empty when absent.
struct AnswerHeaders {
  std::string signature; // X-MCP-Signature
  std::string timestamp; // X-MCP-Timestamp
  std::string keyId;     // X-MCP-Key-Id
};

// What the answer is bound to: the request's X-MCP-Nonce and X-MCP-Signature as sent.
struct RequestBinding {
  std::string nonce;
  std::string signature;
};

// Checks the answer's header signature over answerMessage(status, ...) with `bodySha256` (the
// lowercase hex SHA-256 of the body; of zero bytes for an event stream). Errors: not signed,
// malformed header, signed by another key (the key id differs), signature does not verify.
Status checkAnswerHeaders(const ServerKey& server, const RequestBinding& request, unsigned status,
                          const AnswerHeaders& headers, std::string_view bodySha256);

// Parses the comment text "mcp-sig seq=<n> sig=<base64>" (without the leading ':'). False when
// the comment is not an event signature at all; `malformed` is set when it starts with
// "mcp-sig" but cannot be read.
bool parseEventSignature(std::string_view comment, uint64_t& seq, std::string& sig,
                         bool& malformed);

// Checks the events of one signed event stream, in order. Construct it once the stream's header
// signature holds; then call check() on every event as it arrives, before anything of it is used.
class EventStreamChecker {
public:
  EventStreamChecker(ServerKey server, std::string requestSignature, std::string answerTimestamp)
      : server_(std::move(server)), requestSignature_(std::move(requestSignature)),
        timestamp_(std::move(answerTimestamp)) {}

  // Ok when `event` carries the signature of sequence number next() over its exact bytes.
  // Errors name the event: unsigned, signed twice, dropped (a later seq), reordered or replayed
  // (an earlier seq), altered (the signature does not verify). After an error the stream must
  // not be used further.
  Status check(const SseEvent& event);

  uint64_t next() const { return next_; }

private:
  ServerKey server_;
  std::string requestSignature_;
  std::string timestamp_;
  uint64_t next_ = 0;
};

} // namespace sidecar::connect
