#pragma once
// Audit records: what one line of the audit trail holds, and its exact bytes.
//
// A record becomes one compact JSON line (RapidJSON, fixed field order, no whitespace), written
// once by the writer thread. The chain hashes those exact bytes: a record's `prev` is the lowercase
// hex SHA-256 of the previous record's line without its line feed (docs/audit.md, "Chain"). The
// line is never re-serialized afterwards, so nothing else needs to be canonical.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/utf8.h" // sanitizeUtf8, for fields

namespace sidecar::audit {

enum class RecordKind { Operation, Rejected, Drift, Start, Stop, Checkpoint };

// "operation", "rejected", "drift", "start", "stop", "checkpoint".
const char* kindName(RecordKind kind);
// The inverse of kindName(); false for any other text.
bool parseKind(std::string_view text, RecordKind& out);

// `prev` of the first record of a brand-new trail.
inline constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// Untrusted text fields (session, method, tool, …) are cut to this many bytes (at a UTF-8
// boundary, with "…" appended) so that one request cannot make an enormous line.
inline constexpr size_t kMaxFieldBytes = 1024;

// One event, as the request path hands it to the writer. `seq`, `prev` and the argument digest
// are added by the writer thread, so building a record costs the request path no hashing.
// Empty strings are written as null ("not applicable or unknown").
struct AuditRecord {
  RecordKind kind = RecordKind::Operation;
  std::string ts; // RFC 3339 UTC with ms; empty: written from `monoNs`
  // When the event happened, as monoNowNs(): set by a caller that has just read that clock
  // anyway, else by append() when `ts` is empty. The request path only reads the clock; the
  // writer thread turns it into wall-clock time and formats it.
  uint64_t monoNs = 0;
  std::string session; // Mcp-Session-Id
  std::string rpcId;   // the JSON-RPC id's JSON text exactly as received, e.g. `7` or `"a"`
  std::string method;  // JSON-RPC method
  std::string tool;    // params.name of a tools/call
  std::string caller;  // the verified caller's key id
  std::string profile; // the signature profile that verified it
  std::string outcome; // ok, tool_error, rpc_error, rejected, upstream_error
  std::string reason;  // why (a verification reason, an error code, a shutdown reason, …)
  std::optional<double> latencyMs;
  uint64_t bytesIn = 0;
  uint64_t bytesOut = 0;
  // The exact bytes of the request's `params.arguments` JSON value, when it has one. The writer
  // stores their SHA-256 and, with argument capture on, a redacted copy.
  std::optional<std::string> args;
  // A JSON value with kind-specific facts (drift: the tools added, removed and changed and the
  // severity; start: version and settings). Written compactly; text that is not JSON is written
  // as a JSON string.
  std::string detail;
};

struct ArgsPolicy {
  bool capture = false;   // write redacted arguments besides their digest
  size_t maxBytes = 4096; // cap of the redacted arguments' JSON text
};

// The line for `record` with the given `seq` and `prev` (64 hex digits), without a line feed.
// Field order and forms are in docs/audit.md. Thread-safe (pure).
std::string serializeRecord(const AuditRecord& record, uint64_t seq, std::string_view prev,
                            const ArgsPolicy& args);
// The same line, in a buffer of the calling thread's that the next call reuses.
std::string_view serializeRecordView(const AuditRecord& record, uint64_t seq, std::string_view prev,
                                     const ArgsPolicy& args);
// The same, with `ts` written instead of `record.ts` (the writer formats it into a buffer of its
// own rather than into the record).
std::string_view serializeRecordView(const AuditRecord& record, uint64_t seq, std::string_view prev,
                                     std::string_view ts, const ArgsPolicy& args);

// A signed checkpoint: seals the chain up to `lastSeq`, whose line hashes to `lastHash`.
// `lastSeq` is always `seq - 1` and `lastHash` the checkpoint's own `prev`.
struct Checkpoint {
  uint64_t seq = 0;
  std::string ts;
  uint64_t firstSeq = 0; // the first record since the previous checkpoint
  uint64_t lastSeq = 0;
  std::string lastHash;
  std::string keyId; // fingerprint of the signing key (informational: verify uses its own key)
  std::string sig;   // standard base64 of the 64-byte Ed25519 signature of checkpointMessage()
};

// The exact bytes a checkpoint signs: seven fields joined by line feeds, no final line feed:
//   mcp-sidecar-audit-checkpoint-v1 \n seq \n ts \n first_seq \n last_seq \n last_hash \n key_id
// Numbers are decimal without leading zeros. With the signature, these determine every byte of
// the checkpoint's line (verify checks that too), so even the last checkpoint cannot be edited.
std::string checkpointMessage(const Checkpoint& checkpoint);

// The checkpoint's line (its `prev` is `lastHash`), without a line feed.
std::string serializeCheckpoint(const Checkpoint& checkpoint);

// Lowercase hex SHA-256 of the exact bytes of `line` (a record's line without its line feed).
std::string lineHash(std::string_view line);
// The same into `out` (64 characters, no NUL), without allocating.
void lineHashTo(std::string_view line, char out[64]);

// `text` with every invalid UTF-8 sequence replaced by U+FFFD, so that each line is valid JSON
// text for any reader.
} // namespace sidecar::audit
