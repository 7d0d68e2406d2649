#include "audit/record.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>
#include <cmath>

#include "audit/redact.h"
#include "common/json_text.h"
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

// RapidJSON's escapes, which the trail's lines have always had.
void appendString(std::string& out, std::string_view text) {
  appendJsonString(out, text, HexCase::Upper);
}

void appendUint(std::string& out, uint64_t v) {
  char digits[20];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, v);
  out.append(digits, end);
}

// Up to 3 decimals, cut (not rounded) and without trailing zeros but one: 1.5, 12.345, 2.0 — what
// RapidJSON's Writer printed with SetMaxDecimalPlaces(3).
void appendMilliseconds(std::string& out, double ms) {
  if (ms >= 1e12) { // ~30 years: not a latency, but still a number
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.SetMaxDecimalPlaces(3);
    w.Double(ms);
    out.append(buf.GetString(), buf.GetSize());
    return;
  }
  // Latencies are whole nanoseconds: rounded to those first, so that 525399.89099999995 (the
  // nearest double to 525399.891) is cut to .891 as the Writer's shortest form did, not to .890.
  auto thousandths = static_cast<uint64_t>(std::llround(ms * 1e6)) / 1000;
  appendUint(out, thousandths / 1000);
  unsigned frac = static_cast<unsigned>(thousandths % 1000);
  out += '.';
  out += static_cast<char>('0' + frac / 100);
  if (frac % 100 != 0) {
    out += static_cast<char>('0' + frac / 10 % 10);
    if (frac % 10 != 0)
      out += static_cast<char>('0' + frac % 10);
  }
}

// An untrusted text field: null when empty, else valid UTF-8 of at most kMaxFieldBytes (+ "…").
// `key` is the literal `,"name":`.
void appendField(std::string& out, std::string_view key, std::string_view text) {
  out += key;
  if (text.empty()) {
    out += "null";
    return;
  }
  if (text.size() <= kMaxFieldBytes && validUtf8(text)) {
    appendString(out, text); // the usual case: no copy
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
  appendString(out, clean);
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
void appendRpcId(std::string& out, std::string_view raw) {
  out += R"(,"rpc_id":)";
  if (raw.empty() || raw == "null") {
    out += "null";
    return;
  }
  if (raw.size() <= kMaxFieldBytes && isJsonNumber(raw)) {
    out += raw;
    return;
  }
  if (raw.size() <= kMaxFieldBytes + 2 && isJsonString(raw)) {
    // A string that parses whole: its escapes are valid and it holds no raw control character.
    out += raw;
    return;
  }
  appendString(out, sanitizeUtf8(raw.substr(0, kMaxFieldBytes)));
}

void appendDetail(std::string& out, std::string_view detail) {
  if (detail.empty())
    return;
  out += R"(,"detail":)";
  rapidjson::Document d;
  d.Parse<kParseFlags>(detail.data(), detail.size());
  if (d.HasParseError()) {
    appendString(out, sanitizeUtf8(detail));
    return;
  }
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  d.Accept(w);
  out.append(buf.GetString(), buf.GetSize());
}

void appendArgs(std::string& out, const std::optional<std::string>& args,
                const ArgsPolicy& policy) {
  out += R"(,"args_sha256":)";
  if (!args) {
    out += "null";
    return;
  }
  char hex[64];
  verifier::sha256HexTo(*args, hex);
  out += '"';
  out.append(hex, sizeof hex);
  out += '"';
  if (!policy.capture)
    return;
  RedactedArgs red = redactArguments(*args, policy.maxBytes);
  out += R"(,"args":)";
  switch (red.form) {
  case RedactedArgs::Form::Json:
    out += red.text; // our own compact serialization of a parsed value: safe to embed as is
    break;
  case RedactedArgs::Form::Truncated:
    appendString(out, red.text);
    out += R"(,"args_truncated":)";
    appendUint(out, red.fullBytes);
    break;
  case RedactedArgs::Form::Invalid:
    out += R"("[UNPARSABLE]")";
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

void lineHashTo(std::string_view line, char out[64]) {
  verifier::sha256HexTo(line, out);
}

std::string serializeRecord(const AuditRecord& r, uint64_t seq, std::string_view prev,
                            const ArgsPolicy& args) {
  return std::string(serializeRecordView(r, seq, prev, args));
}

std::string_view serializeRecordView(const AuditRecord& r, uint64_t seq, std::string_view prev,
                                     const ArgsPolicy& args) {
  return serializeRecordView(r, seq, prev, r.ts, args);
}

// Written by hand rather than through RapidJSON's Writer: every request makes one of these lines,
// and the Writer's per-character escaping and nesting bookkeeping were a quarter of the audit
// thread's time per record (bench/README.md). The keys are constants, the numbers need no
// escaping, and the text fields go through appendString(), which escapes exactly as the
// Writer does (record_test.cc compares the two on every byte value). The rare parts that need a
// parser (detail, a string id, captured arguments) still use RapidJSON.
std::string_view serializeRecordView(const AuditRecord& r, uint64_t seq, std::string_view prev,
                                     std::string_view ts, const ArgsPolicy& args) {
  // One buffer per thread, kept: a record no longer costs a buffer's allocation and growth.
  thread_local std::string out;
  out.clear();
  out += R"({"seq":)";
  appendUint(out, seq);
  out += R"(,"prev":)";
  appendString(out, prev);
  out += R"(,"ts":)";
  appendString(out, ts);
  out += R"(,"kind":")";
  out += kindName(r.kind);
  out += '"';
  bool operation = r.kind == RecordKind::Operation || r.kind == RecordKind::Rejected;
  if (operation) {
    // Every field, null when unknown: readers need not guess whether a field was forgotten.
    appendField(out, R"(,"session":)", r.session);
    appendRpcId(out, r.rpcId);
    appendField(out, R"(,"method":)", r.method);
    appendField(out, R"(,"tool":)", r.tool);
    appendField(out, R"(,"caller":)", r.caller);
    appendField(out, R"(,"profile":)", r.profile);
    appendField(out, R"(,"outcome":)", r.outcome);
    appendField(out, R"(,"reason":)", r.reason);
    out += R"(,"latency_ms":)";
    if (r.latencyMs && std::isfinite(*r.latencyMs) && *r.latencyMs >= 0)
      appendMilliseconds(out, *r.latencyMs);
    else
      out += "null";
    out += R"(,"bytes_in":)";
    appendUint(out, r.bytesIn);
    out += R"(,"bytes_out":)";
    appendUint(out, r.bytesOut);
    appendArgs(out, r.args, args);
  } else {
    // Lifecycle and drift records carry only what applies to them.
    if (!r.session.empty())
      appendField(out, R"(,"session":)", r.session);
    if (!r.method.empty())
      appendField(out, R"(,"method":)", r.method);
    if (!r.tool.empty())
      appendField(out, R"(,"tool":)", r.tool);
    if (!r.outcome.empty())
      appendField(out, R"(,"outcome":)", r.outcome);
    if (!r.reason.empty())
      appendField(out, R"(,"reason":)", r.reason);
  }
  appendDetail(out, r.detail);
  out += '}';
  return out;
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
