#pragma once
// Helpers shared by the audit tests: a temporary directory, a signing key, whole-file access,
// and polling with deadlines scaled by MCP_SIDECAR_TEST_TIMEOUT_SCALE (sanitizer runs are slower).

#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "audit/audit_verify.h"
#include "audit/writer.h"
#include "tests/support/temp_dir.h"
#include "verifier/keys.h"

namespace sidecar::audit::audit_test {

inline double timeoutScale() {
  const char* text = std::getenv("MCP_SIDECAR_TEST_TIMEOUT_SCALE");
  double scale = text ? std::atof(text) : 1.0;
  return scale > 0 ? scale : 1.0;
}

// Polls `done` until it holds or `timeout` (scaled) passes.
template <typename F> bool waitFor(F done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(static_cast<long>(timeout.count() * timeoutScale()));
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

class TempDir : public sidecar::test::TempDir {
public:
  TempDir() : sidecar::test::TempDir("audit-test") {}
};

struct TestKey {
  std::array<uint8_t, 64> secret{};
  verifier::PublicKey pub;
  std::string publicText; // standard base64 of the raw 32 bytes

  static TestKey make() {
    EXPECT_GE(sodium_init(), 0);
    TestKey k;
    crypto_sign_keypair(k.pub.bytes.data(), k.secret.data());
    k.publicText = verifier::base64(k.pub.bytes);
    return k;
  }
};

inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void writeFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

// The file's lines without their line feeds (a partial last line included).
inline std::vector<std::string> readLines(const std::string& path) {
  std::vector<std::string> lines;
  std::string data = readFile(path);
  size_t start = 0;
  while (start < data.size()) {
    size_t nl = data.find('\n', start);
    if (nl == std::string::npos) {
      lines.push_back(data.substr(start));
      break;
    }
    lines.push_back(data.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

inline void writeLines(const std::string& path, const std::vector<std::string>& lines) {
  std::string data;
  for (const std::string& l : lines)
    data += l + "\n";
  writeFile(path, data);
}

inline AuditOptions testOptions(const std::string& path, const TestKey& key) {
  AuditOptions o;
  o.path = path;
  o.signingKey = key.secret;
  o.flushInterval = std::chrono::milliseconds(5);
  o.retryInterval = std::chrono::milliseconds(10);
  o.stopTimeout = std::chrono::milliseconds(200);
  return o;
}

inline AuditRecord operation(int i) {
  AuditRecord r;
  r.kind = RecordKind::Operation;
  r.session = "sess-1";
  r.rpcId = std::to_string(i);
  r.method = "tools/call";
  r.tool = "tool" + std::to_string(i);
  r.caller = "alice";
  r.profile = "mcp-sig-v1";
  r.outcome = "ok";
  r.latencyMs = 1.5;
  r.bytesIn = 100;
  r.bytesOut = 200;
  r.args = R"({"n":)" + std::to_string(i) + "}";
  return r;
}

inline AuditWriterPtr openWriter(const AuditOptions& options) {
  Result<AuditWriterPtr> w = AuditWriter::open(options);
  EXPECT_TRUE(w.ok()) << (w.ok() ? "" : w.error());
  return w.ok() ? std::move(*w) : nullptr;
}

// Runs the subcommand; returns its exit status and fills `out` with what it printed.
inline int verifyFiles(const TestKey& key, const std::vector<std::string>& files,
                       std::string* out = nullptr) {
  std::ostringstream o, e;
  int rc = runAuditVerify(key.publicText, files, o, e);
  if (out)
    *out = o.str() + e.str();
  return rc;
}

inline mode_t fileMode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

} // namespace sidecar::audit::audit_test
