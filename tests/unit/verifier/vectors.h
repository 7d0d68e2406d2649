#pragma once
// Access to tests/data/signing-vectors.json (the contract's test vectors) for the verifier tests.
// The file is found through SIDECAR_SOURCE_DIR, a compile definition of the test binary.

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cctype>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "verifier/keys.h"
#include "verifier/trust_store.h"
#include "verifier/verifier.h"

#ifndef SIDECAR_SOURCE_DIR
#error "SIDECAR_SOURCE_DIR must name the source tree (target_compile_definitions)"
#endif

namespace sidecar::verifier::testing {

inline std::string vectorsPath() {
  return std::string(SIDECAR_SOURCE_DIR) + "/tests/data/signing-vectors.json";
}

struct Vectors {
  rapidjson::Document doc;
  std::string error; // empty when the file loaded
};

inline const Vectors& vectors() {
  static const Vectors v = [] {
    Vectors r;
    std::ifstream in(vectorsPath(), std::ios::binary);
    if (!in) {
      r.error = "cannot open " + vectorsPath();
      return r;
    }
    std::stringstream text;
    text << in.rdbuf();
    std::string json = text.str();
    r.doc.Parse(json.c_str(), json.size());
    if (r.doc.HasParseError() || !r.doc.IsObject())
      r.error = "cannot parse " + vectorsPath();
    return r;
  }();
  return v;
}

inline const rapidjson::Value& member(const rapidjson::Value& v, const char* name) {
  static const rapidjson::Value kNull;
  if (!v.IsObject())
    return kNull;
  auto it = v.FindMember(name);
  return it == v.MemberEnd() ? kNull : it->value;
}

inline std::string str(const rapidjson::Value& v) {
  return v.IsString() ? std::string(v.GetString(), v.GetStringLength()) : std::string();
}

inline std::string fromBase64(std::string_view b64) {
  std::string out;
  if (!decodeBase64(b64, out))
    return "<bad base64>";
  return out;
}

inline std::string fromHex(std::string_view hex) {
  auto nibble = [](char c) {
    return c <= '9' ? c - '0' : (c >= 'a' ? c - 'a' + 10 : c - 'A' + 10);
  };
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  return out;
}

// The trust store `name` of the vectors, given to TrustStore::parse as YAML: the JSON object
// {"keys": [...]} is valid YAML (flow style), so the parser reads the vectors' own text.
inline Result<std::shared_ptr<const TrustStore>> vectorStore(const std::string& name) {
  const rapidjson::Value& entries = member(member(vectors().doc, "trust_stores"), name.c_str());
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("keys");
  entries.Accept(w);
  w.EndObject();
  return TrustStore::parse(buf.GetString(), "vectors:" + name);
}

// A request of the vectors, owning its bytes.
struct VectorRequest {
  std::string method, target, body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<Header> views;

  explicit VectorRequest(const rapidjson::Value& r) {
    method = str(member(r, "method"));
    target = str(member(r, "target"));
    body = fromBase64(str(member(r, "body_b64")));
    const rapidjson::Value& hs = member(r, "headers");
    for (rapidjson::SizeType i = 0; hs.IsArray() && i < hs.Size(); ++i)
      headers.emplace_back(str(hs[i][0]), str(hs[i][1]));
    for (const auto& [n, v] : headers)
      views.emplace_back(n, v);
  }
  VectorRequest(const VectorRequest&) = delete;
  RequestView view() const { return {method, target, views, body}; }
  // The first value of a header (any case), trimmed of spaces and tabs; empty when absent.
  std::string header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (n.size() != name.size())
        continue;
      bool same = true;
      for (size_t i = 0; i < n.size() && same; ++i)
        same = std::tolower(static_cast<unsigned char>(n[i])) ==
               std::tolower(static_cast<unsigned char>(name[i]));
      if (!same)
        continue;
      size_t b = v.find_first_not_of(" \t"), e = v.find_last_not_of(" \t");
      return b == std::string::npos ? std::string() : v.substr(b, e - b + 1);
    }
    return {};
  }
};

// What a vector expects: "accept", or {"reject": reason, "status": N}.
struct Expectation {
  bool accept = false;
  std::string reason;
  int status = 0;

  explicit Expectation(const rapidjson::Value& e) {
    if (e.IsString()) {
      accept = str(e) == "accept";
      reason = accept ? "accepted" : "<unknown expectation " + str(e) + ">";
      status = 200;
    } else {
      reason = str(member(e, "reject"));
      status = member(e, "status").IsInt() ? member(e, "status").GetInt() : -1;
    }
  }
};

inline VerifierOptions optionsFor(const std::string& profile) {
  VerifierOptions o;
  const rapidjson::Value& w = member(vectors().doc, "window_s");
  if (w.IsInt64())
    o.windowSeconds = w.GetInt64();
  if (profile == "seed")
    o.seed = true;
  if (profile == "aim-agent-request-v1")
    o.aimAgentRequestV1 = true;
  return o;
}

inline int64_t vectorNow() {
  const rapidjson::Value& n = member(vectors().doc, "now");
  return n.IsInt64() ? n.GetInt64() : 0;
}

// A parameter of the table-driven tests: one element of a vectors array, with a test name made of
// its own name ("valid POST, no nonce" -> valid_POST_no_nonce).
struct VectorParam {
  std::string name;
  std::string array; // "cases", "sequences" or "compat_cases"
  rapidjson::SizeType index = 0;

  const rapidjson::Value& value() const { return member(vectors().doc, array.c_str())[index]; }
};

inline void PrintTo(const VectorParam& p, std::ostream* os) {
  *os << p.array << "/" << p.name;
}

inline std::vector<VectorParam> vectorParams(const char* array) {
  std::vector<VectorParam> out;
  const rapidjson::Value& a = member(vectors().doc, array);
  if (!a.IsArray() || a.Empty()) {
    // One failing test instead of none, so that a missing file cannot pass silently.
    out.push_back({"vectors_missing", array, 0});
    return out;
  }
  std::set<std::string> used;
  for (rapidjson::SizeType i = 0; i < a.Size(); ++i) {
    std::string n;
    for (char c : str(member(a[i], "name"))) {
      bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
      if (alnum)
        n += c;
      else if (!n.empty() && n.back() != '_')
        n += '_';
    }
    while (!n.empty() && n.back() == '_')
      n.pop_back();
    if (n.empty())
      n = "unnamed";
    std::string unique = n;
    for (int k = 2; !used.insert(unique).second; ++k)
      unique = n + "_" + std::to_string(k);
    out.push_back({unique, array, i});
  }
  return out;
}

// For INSTANTIATE_TEST_SUITE_P (a lambda's parameter would shadow the macro's own `info`).
inline std::string vectorParamName(const ::testing::TestParamInfo<VectorParam>& p) {
  return p.param.name;
}

} // namespace sidecar::verifier::testing
