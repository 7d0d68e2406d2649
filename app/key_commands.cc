#include "app/key_commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "config/units.h"
#include "verifier/keys.h"
#include "verifier/request_signer.h"

namespace sidecar::app {

namespace {

// Quotes `s` for a POSIX shell: single quotes, with each ' written as '\''.
std::string shellQuote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  out += "'";
  return out;
}

bool readFile(const std::string& path, std::string& out, std::string& error) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    error = path + ": " + strerror(errno);
    return false;
  }
  std::ostringstream ss;
  ss << f.rdbuf();
  out = ss.str();
  return true;
}

// The request-target (path and query) of an http(s) URL.
bool targetOf(const std::string& url, std::string& target) {
  size_t scheme = url.find("://");
  if (scheme == std::string::npos)
    return false;
  size_t slash = url.find_first_of("/?", scheme + 3);
  if (slash == std::string::npos) {
    target = "/";
    return true;
  }
  target = url.substr(slash);
  if (target.front() == '?')
    target.insert(0, "/");
  size_t hash = target.find('#');
  if (hash != std::string::npos)
    target.resize(hash);
  return true;
}

} // namespace

void addKeygenCommand(CLI::App& app, KeygenOptions& o) {
  CLI::App* c = app.add_subcommand(
      "keygen", "Make an Ed25519 key: writes the private key (mode 0600, never overwrites) and "
                "prints the public key, its fingerprint and a trust-store entry to paste.");
  c->add_option("--out", o.out, "file for the private key (base64 of seed and public key)")
      ->required();
  c->add_option("--id", o.id, "key id for the printed trust-store entry (default: fingerprint)");
}

void addSignCommand(CLI::App& app, SignOptions& o) {
  CLI::App* c = app.add_subcommand(
      "sign", "Sign one request (mcp-sig-v1): prints the signing headers, one 'Name: value' per "
              "line, or with --curl a complete curl command. Every run uses a fresh nonce.");
  c->add_option("--key", o.key, "caller private key file (from keygen)")->required();
  c->add_option("--url", o.url, "the full URL to call, e.g. http://127.0.0.1:8787/mcp")->required();
  c->add_option("--method", o.method, "HTTP method")->default_str("POST");
  auto* d = c->add_option("--data", o.data, "request body, exactly as it will be sent");
  auto* f = c->add_option("--data-file", o.dataFile, "read the request body from this file");
  d->excludes(f);
  c->add_option("--session", o.session, "Mcp-Session-Id of the session, if any");
  c->add_option("--key-id", o.keyId, "X-MCP-Key-Id (default: the key's fingerprint)");
  c->add_flag("--curl", o.curl, "print a complete curl command instead of headers");
  c->callback([&o, d] { o.dataGiven = d->count() > 0; });
}

int runKeygen(const KeygenOptions& o) {
  verifier::PrivateKey key = verifier::generatePrivateKey();
  std::string text = verifier::privateKeyFileText(key);
  int fd = ::open(o.out.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST)
      std::fprintf(stderr,
                   "mcp-sidecar keygen: %s already exists; keygen never overwrites a key: choose "
                   "another --out or remove the file yourself\n",
                   o.out.c_str());
    else
      std::fprintf(stderr, "mcp-sidecar keygen: cannot create %s: %s\n", o.out.c_str(),
                   strerror(errno));
    return 1;
  }
  ssize_t n = ::write(fd, text.data(), text.size());
  bool ok = n == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) {
    std::fprintf(stderr, "mcp-sidecar keygen: writing %s failed: %s\n", o.out.c_str(),
                 strerror(errno));
    ::unlink(o.out.c_str());
    return 1;
  }
  std::string pub = verifier::base64(key.pub.bytes);
  std::string fp = verifier::fingerprint(key.pub);
  std::printf("public_key: %s\nfingerprint: %s\n", pub.c_str(), fp.c_str());
  std::printf("trust-store entry (add under `keys:`):\n  - id: %s\n    public_key: \"%s\"\n",
              o.id.empty() ? fp.c_str() : o.id.c_str(), pub.c_str());
  std::fprintf(stderr, "private key written to %s (mode 0600)\n", o.out.c_str());
  return 0;
}

int runSign(const SignOptions& o) {
  std::string keyText, error;
  if (!readFile(o.key, keyText, error)) {
    std::fprintf(stderr, "mcp-sidecar sign: cannot read --key %s\n", error.c_str());
    return 1;
  }
  auto key = verifier::parsePrivateKey(keyText);
  if (!key.ok()) {
    std::fprintf(stderr, "mcp-sidecar sign: --key %s is not a private key: %s\n", o.key.c_str(),
                 key.error().c_str());
    return 1;
  }
  std::string target;
  if (!targetOf(o.url, target)) {
    std::fprintf(stderr,
                 "mcp-sidecar sign: --url '%s' is not a URL; expected e.g. "
                 "http://127.0.0.1:8787/mcp\n",
                 o.url.c_str());
    return 2;
  }
  std::string body = o.data;
  if (!o.dataFile.empty() && !readFile(o.dataFile, body, error)) {
    std::fprintf(stderr, "mcp-sidecar sign: cannot read --data-file %s\n", error.c_str());
    return 1;
  }
  verifier::RequestSigner signer(*key, o.keyId);
  std::vector<std::pair<std::string, std::string>> headers =
      signer.sign(o.method, target, o.session, body, static_cast<int64_t>(time(nullptr))).headers();
  if (!o.session.empty())
    headers.emplace_back("Mcp-Session-Id", o.session);

  if (!o.curl) {
    for (const auto& [n, v] : headers)
      std::printf("%s: %s\n", n.c_str(), v.c_str());
    return 0;
  }
  std::string cmd = "curl -sS -X " + shellQuote(o.method) + " " + shellQuote(o.url);
  bool hasBody = o.dataGiven || !o.dataFile.empty();
  if (hasBody)
    cmd += " \\\n  -H 'Content-Type: application/json' -H 'Accept: application/json, "
           "text/event-stream'";
  for (const auto& [n, v] : headers)
    cmd += " \\\n  -H " + shellQuote(n + ": " + v);
  if (hasBody) {
    // --data-binary sends the bytes unchanged (plain --data would strip newlines).
    if (!o.dataFile.empty())
      cmd += " \\\n  --data-binary @" + shellQuote(o.dataFile);
    else
      cmd += " \\\n  --data-binary " + shellQuote(body);
  }
  std::printf("%s\n", cmd.c_str());
  return 0;
}

} // namespace sidecar::app
