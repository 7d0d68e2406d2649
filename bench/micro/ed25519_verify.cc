// mcp-sidecar-ed25519-bench: what one Ed25519 check costs on this core, measured in the same run
// as the load (bench/signed-bench.sh), as the "verify ceiling" of a verifying proxy.
//
//   mcp-sidecar-ed25519-bench [--batches 7] [--iterations 5000] [--bytes 300]
//
// Per batch, it times `iterations` calls of
//   verify:   libsodium crypto_sign_verify_detached over one `bytes`-byte message (the ceiling)
//   sign:     crypto_sign_detached over the same message (what pre-signing costs the load tool)
//   verifier: sidecar::verifier::verify() on a whole signed request (header checks, SHA-256 of
//             the body, the signed message, the Ed25519 check, the replay cache), each request
//             with its own nonce, signed before the clock starts
// and reports the median over the batches (the first, unmeasured batch warms up). Every result
// is checked: a valid signature must verify and a tampered one must not.
//
// Last line: RESULT verify_us=… verify_min_us=… verify_max_us=… sign_us=… verifier_us=… …
// Pin it with taskset; it uses one thread.

#include <sodium.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "verifier/keys.h"
#include "verifier/replay_cache.h"
#include "verifier/trust_store.h"
#include "verifier/verifier.h"

namespace {

namespace vf = sidecar::verifier;

double nowS() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "mcp-sidecar-ed25519-bench: FAIL: %s\n", what);
  std::exit(1);
}

long argNumber(int argc, char** argv, int& i) {
  if (i + 1 >= argc) {
    std::fprintf(stderr, "mcp-sidecar-ed25519-bench: %s needs a number\n", argv[i]);
    std::exit(2);
  }
  char* end = nullptr;
  long v = std::strtol(argv[++i], &end, 10);
  if (*end != '\0' || v <= 0 || v > 100'000'000) {
    std::fprintf(stderr, "mcp-sidecar-ed25519-bench: %s: bad number '%s'\n", argv[i - 1], argv[i]);
    std::exit(2);
  }
  return v;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// A JSON-RPC tools/call body of exactly `bytes` bytes (at least 100).
std::string makeMessage(size_t bytes, long id) {
  std::string m = R"({"jsonrpc":"2.0","id":)" + std::to_string(id) +
                  R"(,"method":"tools/call","params":{"name":"echo","arguments":{"message":")";
  const std::string tail = R"("}}})";
  while (m.size() + tail.size() < bytes)
    m += static_cast<char>('a' + m.size() % 26);
  m += tail;
  m.resize(bytes);
  return m;
}

struct SignedRequest {
  std::string body, timestamp, nonce, signature;
};

} // namespace

int main(int argc, char** argv) {
  long batches = 7, iterations = 5000, bytes = 300;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--batches")
      batches = argNumber(argc, argv, i);
    else if (a == "--iterations")
      iterations = argNumber(argc, argv, i);
    else if (a == "--bytes")
      bytes = argNumber(argc, argv, i);
    else if (a == "-h" || a == "--help") {
      std::puts("usage: mcp-sidecar-ed25519-bench [--batches 7] [--iterations 5000] [--bytes 300]");
      return 0;
    } else {
      std::fprintf(stderr, "mcp-sidecar-ed25519-bench: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  if (bytes < 100)
    die("--bytes must be at least 100");
  if (sodium_init() < 0)
    die("sodium_init");

  // ---- raw libsodium: one key, one message, one signature
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_keypair(pk, sk);
  std::string msg = makeMessage(static_cast<size_t>(bytes), 7);
  auto m = reinterpret_cast<const unsigned char*>(msg.data());
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, m, msg.size(), sk);
  if (crypto_sign_verify_detached(sig, m, msg.size(), pk) != 0)
    die("a valid signature failed");
  unsigned char bad[crypto_sign_BYTES];
  std::memcpy(bad, sig, sizeof bad);
  bad[10] ^= 1;
  if (crypto_sign_verify_detached(bad, m, msg.size(), pk) == 0)
    die("a tampered signature passed");

  // ---- the verifier: a one-key trust store and pre-signed requests with unique nonces
  vf::PrivateKey key;
  std::memcpy(key.seed.data(), sk, 32);
  std::memcpy(key.pub.bytes.data(), pk, 32);
  std::string yaml =
      "keys:\n  - id: bench\n    public_key: \"" + vf::base64(key.pub.bytes) + "\"\n";
  auto store = vf::TrustStore::parse(yaml, "bench trust store");
  if (!store.ok()) {
    std::fprintf(stderr, "mcp-sidecar-ed25519-bench: trust store: %s\n", store.error().c_str());
    return 1;
  }
  long total = (batches + 1) * iterations;
  vf::ReplayCache replay(static_cast<size_t>(total) * 2 + 1024);
  vf::VerifierOptions options;
  int64_t now = static_cast<int64_t>(time(nullptr));
  std::string timestamp = std::to_string(now);
  std::vector<SignedRequest> requests(static_cast<size_t>(total));
  for (long i = 0; i < total; ++i) {
    SignedRequest& r = requests[static_cast<size_t>(i)];
    r.body = makeMessage(static_cast<size_t>(bytes), i + 1);
    r.timestamp = timestamp;
    r.nonce = vf::randomNonce();
    std::string message =
        vf::signedMessage("POST", "/mcp", r.timestamp, r.nonce, "bench", "", r.body);
    r.signature = vf::base64(vf::sign(key, message));
  }

  std::printf(
      "# libsodium %s, message %ld bytes, %ld batches x %ld iterations (+1 warm-up batch)\n",
      sodium_version_string(), bytes, batches, iterations);
  std::vector<double> verifyUs, signUs, verifierUs;
  size_t next = 0;
  for (long b = 0; b <= batches; ++b) {
    double t0 = nowS();
    for (long i = 0; i < iterations; ++i)
      if (crypto_sign_verify_detached(sig, m, msg.size(), pk) != 0)
        die("verify");
    double t1 = nowS();
    unsigned char s[crypto_sign_BYTES];
    for (long i = 0; i < iterations; ++i) {
      crypto_sign_detached(s, nullptr, m, msg.size(), sk);
      if (s[0] != sig[0])
        die("sign is not deterministic");
    }
    double t2 = nowS();
    for (long i = 0; i < iterations; ++i, ++next) {
      const SignedRequest& r = requests[next];
      vf::Header headers[] = {{"Host", "127.0.0.1:18087"},
                              {"Content-Type", "application/json"},
                              {"Accept", "application/json, text/event-stream"},
                              {"Content-Length", "300"},
                              {"X-MCP-Key-Id", "bench"},
                              {"X-MCP-Timestamp", r.timestamp},
                              {"X-MCP-Nonce", r.nonce},
                              {"X-MCP-Signature", r.signature}};
      vf::RequestView view{"POST", "/mcp", headers, r.body};
      vf::Verdict v = vf::verify(options, **store, replay, view, now);
      if (!v.accepted()) {
        std::fprintf(stderr, "mcp-sidecar-ed25519-bench: verifier refused request %zu: %s (%s)\n",
                     next, vf::reasonName(v.reason), v.detail.c_str());
        return 1;
      }
    }
    double t3 = nowS();
    double n = static_cast<double>(iterations);
    double vu = (t1 - t0) * 1e6 / n, su = (t2 - t1) * 1e6 / n, fu = (t3 - t2) * 1e6 / n;
    if (b == 0) {
      std::printf("# warm-up verify_us=%.2f sign_us=%.2f verifier_us=%.2f\n", vu, su, fu);
      continue;
    }
    std::printf("BATCH n=%ld verify_us=%.2f sign_us=%.2f verifier_us=%.2f\n", b, vu, su, fu);
    verifyUs.push_back(vu);
    signUs.push_back(su);
    verifierUs.push_back(fu);
  }
  std::printf("RESULT verify_us=%.2f verify_min_us=%.2f verify_max_us=%.2f sign_us=%.2f "
              "verifier_us=%.2f batches=%ld iterations=%ld bytes=%ld libsodium=%s\n",
              median(verifyUs), *std::min_element(verifyUs.begin(), verifyUs.end()),
              *std::max_element(verifyUs.begin(), verifyUs.end()), median(signUs),
              median(verifierUs), batches, iterations, bytes, sodium_version_string());
  return 0;
}
