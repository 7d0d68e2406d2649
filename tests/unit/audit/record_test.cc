#include "audit/record.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <iomanip>
#include <limits>
#include <random>
#include <string>

#include "common/json_text.h"
#include "tests/unit/audit/audit_test_util.h"

namespace sidecar::audit {
namespace {

using audit_test::operation;

const std::string kPrev(64, 'a');

AuditRecord fixedOperation() {
  AuditRecord r = operation(3);
  r.ts = "2026-01-02T03:04:05.678Z";
  return r;
}

rapidjson::Document parse(const std::string& line) {
  rapidjson::Document d;
  d.Parse(line.data(), line.size());
  EXPECT_FALSE(d.HasParseError()) << line;
  return d;
}

TEST(AuditRecord, OperationLineHasEveryFieldInOrder) {
  std::string line = serializeRecord(fixedOperation(), 5, kPrev, ArgsPolicy{});
  EXPECT_EQ(line, R"({"seq":5,"prev":")" + kPrev +
                      R"(","ts":"2026-01-02T03:04:05.678Z","kind":"operation","session":"sess-1",)"
                      R"("rpc_id":3,"method":"tools/call","tool":"tool3","caller":"alice",)"
                      R"("profile":"mcp-sig-v1","outcome":"ok","reason":null,"latency_ms":1.5,)"
                      R"("bytes_in":100,"bytes_out":200,"args_sha256":)"
                      R"("215ddd5567ca2590efd4ea109b4e56cbe591e2676fbf54a9262692c539166da6"})");
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(AuditRecord, UnknownOperationFieldsAreNull) {
  AuditRecord r;
  r.kind = RecordKind::Rejected;
  r.ts = "2026-01-02T03:04:05.678Z";
  r.reason = "signature_invalid";
  auto d = parse(serializeRecord(r, 1, kGenesisHash, ArgsPolicy{}));
  EXPECT_STREQ(d["kind"].GetString(), "rejected");
  for (const char* f : {"session", "rpc_id", "method", "tool", "caller", "profile", "outcome",
                        "latency_ms", "args_sha256"})
    EXPECT_TRUE(d[f].IsNull()) << f;
  EXPECT_STREQ(d["reason"].GetString(), "signature_invalid");
  EXPECT_EQ(d["bytes_in"].GetUint64(), 0u);
}

TEST(AuditRecord, LifecycleRecordsCarryOnlyWhatApplies) {
  AuditRecord r;
  r.kind = RecordKind::Start;
  r.ts = "2026-01-02T03:04:05.678Z";
  r.reason = "new trail";
  r.detail = R"({ "version" : "0.1.0" })";
  EXPECT_EQ(serializeRecord(r, 1, kGenesisHash, ArgsPolicy{}),
            R"({"seq":1,"prev":")" + std::string(kGenesisHash) +
                R"(","ts":"2026-01-02T03:04:05.678Z","kind":"start","reason":"new trail",)"
                R"("detail":{"version":"0.1.0"}})");
}

TEST(AuditRecord, DetailThatIsNotJsonBecomesAString) {
  AuditRecord r;
  r.kind = RecordKind::Drift;
  r.detail = "{not json";
  auto d = parse(serializeRecord(r, 2, kPrev, ArgsPolicy{}));
  EXPECT_STREQ(d["detail"].GetString(), "{not json");
}

TEST(AuditRecord, RpcIdIsKeptExactly) {
  struct Case {
    std::string raw;
    std::string expected; // the JSON text in the line
  };
  const Case cases[] = {
      {"7", "7"},
      {"-0.50e+3", "-0.50e+3"},
      {R"("a\"b\u00e9")", R"("a\"b\u00e9")"},
      {"null", "null"},
      {"", "null"},
      {"abc", R"("abc")"},                     // not JSON: written as a string
      {R"({"x":1})", R"("{\"x\":1}")"},        // not a JSON-RPC id
      {"01", R"("01")"},                       // not a JSON number
      {R"("a" "b")", R"("\"a\" \"b\"")"},      // two values
      {"\"tab\there\"", R"("\"tab\there\"")"}, // a raw control character
  };
  for (const Case& c : cases) {
    AuditRecord r = fixedOperation();
    r.rpcId = c.raw;
    std::string line = serializeRecord(r, 1, kGenesisHash, ArgsPolicy{});
    EXPECT_NE(line.find(R"("rpc_id":)" + c.expected + R"(,"method")"), std::string::npos)
        << c.raw << " -> " << line;
    parse(line);
  }
}

TEST(AuditRecord, UntrustedTextIsValidUtf8AndCapped) {
  AuditRecord r = fixedOperation();
  r.tool = "bad\xff\xc0\x80tool\xed\xa0\x80";
  r.method = std::string(5000, 'm');
  std::string line = serializeRecord(r, 1, kGenesisHash, ArgsPolicy{});
  rapidjson::Document d;
  d.Parse<rapidjson::kParseValidateEncodingFlag>(line.data(), line.size());
  ASSERT_FALSE(d.HasParseError()) << line;
  EXPECT_EQ(std::string(d["tool"].GetString()),
            "bad\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDtool\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  std::string method = d["method"].GetString();
  EXPECT_EQ(method, std::string(kMaxFieldBytes, 'm') + "\xE2\x80\xA6");
}

TEST(AuditRecord, SanitizeKeepsValidUtf8) {
  const std::string valid = "plain é € 𝄞 \x7f";
  EXPECT_EQ(sanitizeUtf8(valid), valid);
  EXPECT_EQ(sanitizeUtf8("\xf4\x90\x80\x80"), // above U+10FFFF
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(sanitizeUtf8("\xe2\x82"), "\xEF\xBF\xBD\xEF\xBF\xBD"); // truncated sequence
}

TEST(AuditRecord, LatencyThatIsNotFiniteIsNull) {
  AuditRecord r = fixedOperation();
  r.latencyMs = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(parse(serializeRecord(r, 1, kGenesisHash, ArgsPolicy{}))["latency_ms"].IsNull());
  r.latencyMs = std::nan("");
  EXPECT_TRUE(parse(serializeRecord(r, 1, kGenesisHash, ArgsPolicy{}))["latency_ms"].IsNull());
  r.latencyMs = 12.34567;
  EXPECT_NE(serializeRecord(r, 1, kGenesisHash, ArgsPolicy{}).find(R"("latency_ms":12.345,)"),
            std::string::npos);
}

// The line is written by hand (record.cc says why); these compare it with what RapidJSON's Writer
// printed before, so that the format did not change with the speed.
std::string rapidjsonString(std::string_view text) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  return {buf.GetString(), buf.GetSize()};
}

TEST(AuditRecord, StringsAreEscapedAsRapidJsonEscapesThem) {
  std::string every;
  for (int c = 1; c < 0x80; ++c)
    every += static_cast<char>(c);
  every += "\xC3\xA9\xE2\x80\xA6\xF0\x9F\x8E\x89"; // é … 🎉 stay as they are
  for (std::string text : {every, std::string("plain"), std::string(), std::string("a\0b", 3),
                           std::string("\"\\\"\\"), std::string("\x1f\x7f")}) {
    std::string ours;
    appendJsonString(ours, text, HexCase::Upper);
    EXPECT_EQ(ours, rapidjsonString(text)) << text;
  }
}

TEST(AuditRecord, LatencyHasUpToThreeDecimalsCutNotRounded) {
  auto ours = [](double ms) {
    AuditRecord r = fixedOperation();
    r.latencyMs = ms;
    std::string line = serializeRecord(r, 1, kGenesisHash, ArgsPolicy{});
    size_t at = line.find(R"("latency_ms":)") + 13;
    return line.substr(at, line.find(',', at) - at);
  };
  auto theirs = [](double ms) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.SetMaxDecimalPlaces(3);
    w.Double(ms);
    return std::string(buf.GetString(), buf.GetSize());
  };
  for (double ms : {0.0, 0.0005, 0.001, 0.01, 0.1, 0.123, 1.5, 2.0, 3.25, 12.34567, 999.999, 1000.0,
                    86400000.0, 1e13})
    EXPECT_EQ(ours(ms), theirs(ms)) << ms;
  // Latencies as the proxies make them, from whole nanoseconds: the digits are those of the
  // nanoseconds, cut after the third decimal, even where the double is a hair below them.
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<uint64_t> nanos(0, 600'000'000'000ULL);
  for (int i = 0; i < 200000; ++i) {
    uint64_t ns = nanos(rng);
    double ms = i % 2 ? static_cast<double>(ns) / 1e6
                      : static_cast<double>(ns) / 1e9 * 1000; // as client_conn.cc does
    std::string expected =
        std::to_string(ns / 1000000) + "." + std::to_string(1000 + ns / 1000 % 1000).substr(1);
    while (expected.size() > 2 && expected.back() == '0' && expected[expected.size() - 2] != '.')
      expected.pop_back();
    if (ours(ms) != expected) {
      ADD_FAILURE() << ns << " ns: " << ours(ms) << ", expected " << expected;
      break;
    }
  }
}

TEST(AuditRecord, ArgumentsDigestByDefaultRedactedCopyWhenCaptured) {
  AuditRecord r = fixedOperation();
  r.args = R"({"path":"/etc/hosts", "api_key":"s3cr3t"})";
  std::string digestOnly = serializeRecord(r, 1, kGenesisHash, ArgsPolicy{});
  EXPECT_NE(digestOnly.find(R"("args_sha256":")" + verifier::sha256Hex(*r.args) + "\""),
            std::string::npos);
  EXPECT_EQ(digestOnly.find("\"args\""), std::string::npos);
  EXPECT_EQ(digestOnly.find("s3cr3t"), std::string::npos);

  std::string captured = serializeRecord(r, 1, kGenesisHash, ArgsPolicy{true, 4096});
  EXPECT_NE(captured.find(R"("args":{"path":"/etc/hosts","api_key":"[REDACTED]"})"),
            std::string::npos)
      << captured;
  EXPECT_EQ(captured.find("s3cr3t"), std::string::npos);
  parse(captured);
}

TEST(AuditRecord, CapturedArgumentsAreCappedWithAMarker) {
  AuditRecord r = fixedOperation();
  r.args = R"({"text":")" + std::string(1000, 'x') + R"("})";
  auto d = parse(serializeRecord(r, 1, kGenesisHash, ArgsPolicy{true, 100}));
  ASSERT_TRUE(d["args"].IsString());
  EXPECT_EQ(d["args"].GetStringLength(), 100u);
  EXPECT_EQ(d["args_truncated"].GetUint64(), r.args->size());
}

TEST(AuditRecord, CapturedArgumentsThatAreNotJson) {
  AuditRecord r = fixedOperation();
  r.args = "{oops";
  auto d = parse(serializeRecord(r, 1, kGenesisHash, ArgsPolicy{true, 100}));
  EXPECT_STREQ(d["args"].GetString(), "[UNPARSABLE]");
  EXPECT_STREQ(d["args_sha256"].GetString(), verifier::sha256Hex("{oops").c_str());
}

TEST(AuditRecord, CheckpointMessageAndLine) {
  Checkpoint c;
  c.seq = 10;
  c.ts = "2026-01-02T03:04:05.678Z";
  c.firstSeq = 6;
  c.lastSeq = 9;
  c.lastHash = kPrev;
  c.keyId = "ed25519:abc";
  c.sig = "c2ln";
  EXPECT_EQ(checkpointMessage(c),
            "mcp-sidecar-audit-checkpoint-v1\n10\n2026-01-02T03:04:05.678Z\n6\n"
            "9\n" +
                kPrev + "\ned25519:abc");
  EXPECT_EQ(serializeCheckpoint(c),
            R"({"seq":10,"prev":")" + kPrev +
                R"(","ts":"2026-01-02T03:04:05.678Z","kind":"checkpoint","first_seq":6,)"
                R"("last_seq":9,"last_hash":")" +
                kPrev + R"(","key_id":"ed25519:abc","sig":"c2ln"})");
}

TEST(AuditRecord, LineHashIsSha256OfTheExactBytes) {
  EXPECT_EQ(lineHash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(lineHash(R"({"seq":1})"),
            "b41e95c43f388d561b146326d84e3a6b9e31c4ef32ab97c04774c31aada3246a");
}

TEST(AuditRecord, KindNamesRoundTrip) {
  for (RecordKind k : {RecordKind::Operation, RecordKind::Rejected, RecordKind::Drift,
                       RecordKind::Start, RecordKind::Stop, RecordKind::Checkpoint}) {
    RecordKind back = RecordKind::Operation;
    EXPECT_TRUE(parseKind(kindName(k), back));
    EXPECT_EQ(back, k);
  }
  RecordKind k;
  EXPECT_FALSE(parseKind("Operation", k));
}

} // namespace
} // namespace sidecar::audit
