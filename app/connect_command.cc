#include "app/connect_command.h"

#include <pthread.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "common/log.h"
#include "connect/http_client.h"
#include "connect/http_session.h"
#include "connect/known_servers.h"
#include "connect/server_key.h"
#include "connect/stdio_relay.h"
#include "connect/url.h"
#include "verifier/keys.h"
#include "verifier/request_signer.h"
#include "verifier/verifier.h"

namespace sidecar::app {

namespace {

int64_t unixNow() {
  return static_cast<int64_t>(time(nullptr));
}

void fail(const std::string& message) {
  std::fprintf(stderr, "mcp-sidecar connect: %s\n", message.c_str());
}

} // namespace

CLI::App* addConnectCommand(CLI::App& app, ConnectOptions& o) {
  CLI::App* c = app.add_subcommand(
      "connect",
      "Be a stdio MCP server for a client (e.g. Claude Desktop's \"command\") that forwards\n"
      "every message to the mcp-sidecar at URL over Streamable HTTP, signing each request with\n"
      "--key and checking each answer against the server's key: --server-key, or the one\n"
      "learned on first use and kept in ~/.config/mcp-sidecar/known_servers. See docs/connect.md.");
  c->add_option("url", o.url, "the sidecar's MCP endpoint, e.g. https://mcp.example.com/mcp")
      ->required();
  c->add_option("--key", o.key,
                "the caller's private key file (any form: from keygen, base64, PEM)")
      ->required();
  c->add_option("--key-id", o.keyId, "X-MCP-Key-Id to sign with (default: the key's fingerprint)");
  c->add_option("--server-key", o.serverKey,
                "the server's public key (any form), pinned: nothing is learned or looked up");
  c->add_option("--ca-file", o.caFile,
                "CA bundle for the server's TLS certificate (default: "
                "the system store)");
  c->add_option("--log-level", o.logLevel, "debug, info, warn or error (stderr)")
      ->default_str("info");
  c->add_flag("--insecure-no-verify-answers", o.insecureNoVerifyAnswers,
              "DEBUGGING ONLY: pass the server's answers on without checking their signatures");
  return c;
}

int runConnect(const ConnectOptions& o) {
  log::Level level;
  if (!log::parseLevel(o.logLevel, level)) {
    fail("--log-level '" + o.logLevel + "' is not one of debug, info, warn, error");
    return 2;
  }
  log::setLevel(level);

  std::ifstream keyFile(o.key, std::ios::binary);
  if (!keyFile) {
    fail("cannot read --key " + o.key + ": " + std::strerror(errno));
    return 1;
  }
  std::stringstream keyText;
  keyText << keyFile.rdbuf();
  auto key = verifier::parsePrivateKey(keyText.str());
  if (!key.ok()) {
    fail("--key " + o.key + " is not a private key: " + key.error());
    return 1;
  }
  if (!o.keyId.empty() && !verifier::isValidKeyId(o.keyId)) {
    fail("--key-id '" + o.keyId + "' is not a key id: 1 to 128 characters of [A-Za-z0-9._:@/+=-]");
    return 2;
  }
  auto url = connect::parseServerUrl(o.url);
  if (!url.ok()) {
    fail("URL " + url.error());
    return 2;
  }
  verifier::RequestSigner signer(*key, o.keyId);

  connect::HttpOptions ho;
  ho.caFile = o.caFile;
  auto engine = connect::HttpEngine::create(ho);
  if (!engine.ok()) {
    fail(engine.error());
    return 1;
  }

  // The termination signals are read from a signalfd by the stdin thread (an end of input like
  // any other), so they are blocked in every thread, including libcurl's resolver threads, which
  // inherit the mask. A client gone from the other end of stdout is a failed write, not SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  sigset_t terminate;
  sigemptyset(&terminate);
  sigaddset(&terminate, SIGTERM);
  sigaddset(&terminate, SIGINT);
  sigaddset(&terminate, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &terminate, nullptr);
  int signalFd = ::signalfd(-1, &terminate, SFD_CLOEXEC);
  if (signalFd < 0) {
    // Without the signalfd the signals keep their default action (the session is not DELETEd).
    log::warn("signalfd failed: SIGTERM and SIGINT end the process without closing the session",
              {{"error", std::strerror(errno)}});
    pthread_sigmask(SIG_UNBLOCK, &terminate, nullptr);
  }

  connect::SessionOptions so;
  so.url = *url;
  so.signer = &signer;
  so.now = unixNow;
  std::string keySource;
  if (o.insecureNoVerifyAnswers) {
    log::warn("INSECURE: --insecure-no-verify-answers: the server's answers are passed on "
              "WITHOUT checking their signatures; anyone between here and the server can "
              "forge or alter them. For debugging only.");
    keySource = "none (answers not checked)";
  } else {
    connect::ResolveOptions ro;
    ro.url = *url;
    ro.pinned = o.serverKey;
    ro.signer = &signer;
    ro.now = unixNow;
    auto path = connect::knownServersPath([](const char* n) { return std::getenv(n); });
    if (path.ok())
      ro.knownServers = *path;
    else
      ro.knownServersErr = path.error();
    auto resolved = connect::resolveServerKey(ro, **engine);
    if (!resolved.ok()) {
      fail(resolved.error());
      return 1;
    }
    so.serverKey = resolved->key;
    keySource = resolved->source;
  }
  log::info("connect: forwarding stdio to the server",
            {{"url", url->url},
             {"key_id", signer.keyId()},
             {"server_key_id", so.serverKey ? so.serverKey->keyId : std::string("-")},
             {"server_key_source", keySource}});

  connect::HttpEngine& loop = **engine;
  connect::LineWriter out(STDOUT_FILENO);
  bool stdoutGone = false;
  std::unique_ptr<connect::McpSession> session;
  bool closing = false;
  auto beginShutdown = [&](const std::string& why) {
    if (closing) {
      // A second signal: stop now.
      log::warn("stopping at once", {{"reason", why}});
      loop.stop();
      return;
    }
    closing = true;
    log::info("closing the session", {{"reason", why.empty() ? "end of input" : why}});
    session->shutdown([&loop] { loop.stop(); });
  };
  session = std::make_unique<connect::McpSession>(loop, so, [&](std::string_view line) {
    if (out.write(line) || stdoutGone)
      return;
    stdoutGone = true;
    // Not inline: this runs inside the session's own processing.
    loop.post([&] { beginShutdown("stdout closed"); });
  });

  connect::StdinReader::Callbacks cb;
  cb.onLine = [&loop, &session](std::string&& line) {
    loop.post([&session, l = std::move(line)]() mutable { session->send(std::move(l)); });
  };
  cb.onOversized = [](size_t bytes) {
    log::warn("a line from the client is longer than 64 MiB; skipped",
              {{"bytes", static_cast<unsigned long long>(bytes)}});
  };
  cb.onEnd = [&loop, &beginShutdown](const std::string& why) {
    loop.post([&beginShutdown, why] { beginShutdown(why); });
  };
  {
    connect::StdinReader reader(STDIN_FILENO, signalFd, std::move(cb));
    loop.run();
  }
  session.reset();
  if (signalFd >= 0)
    ::close(signalFd);
  return 0;
}

} // namespace sidecar::app
