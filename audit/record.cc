#include "audit/record.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>

#include "audit/redact.h"
#include "verifier/keys.h"

namespace sidecar::audit {
namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// Iterative: untrusted nesting must not exhaust the stack. Without kParseStopWhenDoneFlag, text
// after the value is an error.
constexpr unsigned kParseFlags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;

void writeString(JsonWriter& w, std::string_view text) {
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

// An untrusted text field: null when empty, else valid UTF-8 of at most kMaxFieldBytes (+ "…").
void writeField(JsonWriter& w, const char* key, std::string_view text) {
  w.Key(key);
  if (text.empty()) {
    w.Null();
    return;
  }
  if (text.size() <= kMaxFieldBytes && validUtf8(text)) {
    writeString(w, text); // the usual case: no copy
    return;
  }
  std::string clean = sanitizeUtf8(text.substr(0, kMaxFieldBytes + 4));
  if (clean.size() > kMaxFieldBytes) {
    size_t cut = kMaxFieldBytes;
    while (cut > 0 && (static_cast<unsigned char>(clean[cut]) & 0xC0) == 0x80)
      --cut;
    clean.resize(cut);
    clean += "\xE2\x80\xA6"; // "…"
  }
  writeString(w, clean);
}

bool isJsonNumber(std::string_view s) {
  // RFC 8259 §6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
  size_t i = 0;
  auto digits = [&] {
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9')
      ++i;
    return i > start;
  };
  if (i < s.size() && s[i] == '-')
    ++i;
  if (i < s.size() && s[i] == '0')
    ++i;
  else if (!digits())
    return false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits())
      return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-'))
      ++i;
    if (!digits())
      return false;
  }
  return i == s.size();
}

bool isJsonString(std::string_view s) {
  if (s.size() < 2 || s.front() != '"' || s.back() != '"')
    return false;
  rapidjson::Document d;
  d.Parse<kParseFlags>(s.data(), s.size());
  return !d.HasParseError() && d.IsString();
}

// The id's JSON text kept byte for byte when it is one JSON string, number or null (what
// JSON-RPC allows, §4 of its spec); anything else is written as a JSON string of that text.
void writeRpcId(JsonWriter& w, std::string_view raw) {
  w.Key("rpc_id");
  if (raw.empty() || raw == "null") {
    w.Null();
    return;
  }
  if (raw.size() <= kMaxFieldBytes && isJsonNumber(raw)) {
    w.RawValue(raw.data(), raw.size(), rapidjson::kNumberType);
    return;
  }
  if (raw.size() <= kMaxFieldBytes + 2 && isJsonString(raw)) {
    // A string that parses whole: its escapes are valid and it holds no raw control character.
    w.RawValue(raw.data(), raw.size(), rapidjson::kStringType);
    return;
  }
  std::string clean = sanitizeUtf8(raw.substr(0, kMaxFieldBytes));
  writeString(w, clean);
}

void writeDetail(JsonWriter& w, std::string_view detail) {
  if (detail.empty())
    return;
  w.Key("detail");
  rapidjson::Document d;
  d.Parse<kParseFlags>(detail.data(), detail.size());
  if (d.HasParseError()) {
    writeString(w, sanitizeUtf8(detail));
    return;
  }
  d.Accept(w);
}

void writeArgs(JsonWriter& w, const std::optional<std::string>& args, const ArgsPolicy& policy) {
  w.Key("args_sha256");
  if (!args) {
    w.Null();
    return;
  }
  writeString(w, verifier::sha256Hex(*args));
  if (!policy.capture)
    return;
  RedactedArgs red = redactArguments(*args, policy.maxBytes);
  w.Key("args");
  switch (red.form) {
  case RedactedArgs::Form::Json:
    // Our own compact serialization of a parsed value: safe to embed as is.
    w.RawValue(red.text.data(), red.text.size(), rapidjson::kObjectType);
    break;
  case RedactedArgs::Form::Truncated:
    writeString(w, red.text);
    w.Key("args_truncated");
    w.Uint64(red.fullBytes);
    break;
  case RedactedArgs::Form::Invalid:
    writeString(w, "[UNPARSABLE]");
    break;
  }
}

} // namespace

const char* kindName(RecordKind kind) {
  switch (kind) {
  case RecordKind::Operation:
    return "operation";
  case RecordKind::Rejected:
    return "rejected";
  case RecordKind::Drift:
    return "drift";
  case RecordKind::Start:
    return "start";
  case RecordKind::Stop:
    return "stop";
  case RecordKind::Checkpoint:
    return "checkpoint";
  }
  return "operation";
}

bool parseKind(std::string_view text, RecordKind& out) {
  for (RecordKind k : {RecordKind::Operation, RecordKind::Rejected, RecordKind::Drift,
                       RecordKind::Start, RecordKind::Stop, RecordKind::Checkpoint}) {
    if (text == kindName(k)) {
      out = k;
      return true;
    }
  }
  return false;
}

std::string lineHash(std::string_view line) {
  return verifier::sha256Hex(line);
}

std::string serializeRecord(const AuditRecord& r, uint64_t seq, std::string_view prev,
                            const ArgsPolicy& args) {
  return std::string(serializeRecordView(r, seq, prev, args));
}

std::string_view serializeRecordView(const AuditRecord& r, uint64_t seq, std::string_view prev,
                                     const ArgsPolicy& args) {
  // One buffer per thread, kept: a record no longer costs a buffer's allocation and growth.
  thread_local rapidjson::StringBuffer buf;
  buf.Clear();
  JsonWriter w(buf);
  w.SetMaxDecimalPlaces(3);
  w.StartObject();
  w.Key("seq");
  w.Uint64(seq);
  w.Key("prev");
  writeString(w, prev);
  w.Key("ts");
  writeString(w, r.ts);
  w.Key("kind");
  w.String(kindName(r.kind));
  bool operation = r.kind == RecordKind::Operation || r.kind == RecordKind::Rejected;
  if (operation) {
    // Every field, null when unknown: readers need not guess whether a field was forgotten.
    writeField(w, "session", r.session);
    writeRpcId(w, r.rpcId);
    writeField(w, "method", r.method);
    writeField(w, "tool", r.tool);
    writeField(w, "caller", r.caller);
    writeField(w, "profile", r.profile);
    writeField(w, "outcome", r.outcome);
    writeField(w, "reason", r.reason);
    w.Key("latency_ms");
    if (r.latencyMs && std::isfinite(*r.latencyMs) && *r.latencyMs >= 0)
      w.Double(*r.latencyMs);
    else
      w.Null();
    w.Key("bytes_in");
    w.Uint64(r.bytesIn);
    w.Key("bytes_out");
    w.Uint64(r.bytesOut);
    writeArgs(w, r.args, args);
  } else {
    // Lifecycle and drift records carry only what applies to them.
    if (!r.session.empty())
      writeField(w, "session", r.session);
    if (!r.method.empty())
      writeField(w, "method", r.method);
    if (!r.tool.empty())
      writeField(w, "tool", r.tool);
    if (!r.outcome.empty())
      writeField(w, "outcome", r.outcome);
    if (!r.reason.empty())
      writeField(w, "reason", r.reason);
  }
  writeDetail(w, r.detail);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

std::string checkpointMessage(const Checkpoint& c) {
  std::string m = "mcp-sidecar-audit-checkpoint-v1\n";
  m += std::to_string(c.seq);
  m += '\n';
  m += c.ts;
  m += '\n';
  m += std::to_string(c.firstSeq);
  m += '\n';
  m += std::to_string(c.lastSeq);
  m += '\n';
  m += c.lastHash;
  m += '\n';
  m += c.keyId;
  return m;
}

std::string serializeCheckpoint(const Checkpoint& c) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("seq");
  w.Uint64(c.seq);
  w.Key("prev");
  writeString(w, c.lastHash);
  w.Key("ts");
  writeString(w, c.ts);
  w.Key("kind");
  w.String(kindName(RecordKind::Checkpoint));
  w.Key("first_seq");
  w.Uint64(c.firstSeq);
  w.Key("last_seq");
  w.Uint64(c.lastSeq);
  w.Key("last_hash");
  writeString(w, c.lastHash);
  w.Key("key_id");
  writeString(w, c.keyId);
  w.Key("sig");
  writeString(w, c.sig);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

} // namespace sidecar::audit
