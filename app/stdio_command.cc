#include "app/stdio_command.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>

#include "app/identity.h"
#include "audit/writer.h"
#include "bridge/bridge.h"
#include "common/log.h"
#include "common/version.h"
#include "config/serve_config.h"
#include "drift/detector.h"
#include "metrics/mcp_metrics.h"
#include "proxy/admin_server.h"
#include "proxy/listener.h"
#include "stdio_proxy/environment.h"
#include "stdio_proxy/naming.h"
#include "stdio_proxy/stdio_proxy.h"
#include "verifier/keys.h"
#include "watch/drift_watch.h"

extern char** environ;

namespace sidecar::app {

namespace {

// mkdir -p with mode 0700 for what it creates.
bool makeDirs(const std::string& dir, std::string& error) {
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/')
      continue;
    std::string part = dir.substr(0, pos);
    if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) {
      error = "cannot create the state directory " + part + ": " + strerror(errno) +
              " (set --state-dir to a writable directory)";
      return false;
    }
  }
  return true;
}

// One writer per trail. The same server started again while its previous run is still stopping
// (a client restarting it) waits for the lock a little instead of failing at once.
bool lockTrail(const std::string& path, std::string& error) {
  std::string lockPath = path + ".lock";
  int fd = ::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = "cannot open " + lockPath + ": " + strerror(errno);
    return false;
  }
  for (int i = 0; i < 100; ++i) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0)
      return true; // held (fd open) until the process exits
    if (i == 0)
      log::info("the audit trail is in use; waiting up to 10 s for the other mcp-sidecar to stop",
                {{"path", path}});
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ::close(fd);
  error = "another mcp-sidecar is writing the audit trail " + path +
          " (give each wrapped server its own --state-dir or --audit-log)";
  return false;
}

// `s` as a JSON string (the start record's detail).
std::string jsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

} // namespace

CLI::App* addStdioCommand(CLI::App& app, StdioOptions& o) {
  CLI::App* c = app.add_subcommand(
      "stdio", "Run a stdio MCP server behind the sidecar, stdio to stdio (what `wrap` writes in\n"
               "client configurations): mcp-sidecar stdio [flags] -- COMMAND ARGS...\n"
               "Messages pass unchanged; every request is audited and tool lists are checked\n"
               "for drift. stdout carries only MCP messages; logs go to stderr.");
  c->add_option("--name", o.name, "the server's name in logs (default: from the command)");
  c->add_option("--state-dir", o.stateDir,
                "audit trail, drift baseline and key (default: "
                "$XDG_STATE_HOME or ~/.local/state, then mcp-sidecar/<name>-<hash of command>)");
  c->add_option("--key", o.keyFile,
                "the sidecar's Ed25519 key (default: AIM_PRIVATE_KEY, else "
                "<state-dir>/identity.key, made on first start)");
  c->add_option("--audit-log", o.auditLog, "the audit trail (default: <state-dir>/audit.ndjson)");
  c->add_flag("--audit-capture-args", o.auditCaptureArgs,
              "write redacted tool arguments besides their digest");
  c->add_option("--drift-policy", o.driftPolicy,
                "alert: report changed tool definitions; block: also refuse calls to them "
                "(-31007)")
      ->check(CLI::IsMember({"alert", "block"}));
  c->add_option("--drift-baseline", o.driftBaseline,
                "the expected manifest hash (sha256:...) instead of learning it");
  c->add_option("--env", o.env, "NAME=VALUE for the server's environment (repeatable)");
  c->add_flag("--scrub-env", o.scrubEnv,
              "give the server only the serve bridge's allow-list of variables (plus --env) "
              "instead of everything but MCP_SIDECAR_* and AIM_*");
  c->add_option("--admin", o.admin,
                "HOST:PORT for /metrics (Prometheus: the MCP request families) and /healthz "
                "(default: none)");
  c->add_option("--log-level", o.logLevel, "debug, info, warn, error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  c->add_option("command", o.command, "after --: the stdio MCP server to start (COMMAND ARGS...)")
      ->required();
  return c;
}

int runStdio(const StdioOptions& o) {
  log::Level level = log::Level::Info;
  log::parseLevel(o.logLevel, level);
  log::setLevel(level);
  for (const std::string& e : o.env)
    if (!stdio_proxy::validEnvEntry(e)) {
      std::fprintf(stderr, "mcp-sidecar stdio: --env %s: expected NAME=VALUE\n", e.c_str());
      return 2;
    }
  if (sodium_init() < 0) {
    log::error("cannot start: libsodium did not initialise");
    return 1;
  }
  // Writing to a client that has gone must be an error to handle, not a signal that kills.
  std::signal(SIGPIPE, SIG_IGN);
  // Grandchildren (npx's node) whose parent exits are reparented here and reaped.
  prctl(PR_SET_CHILD_SUBREAPER, 1);

  std::string name = o.name.empty() ? stdio_proxy::serverName(o.command) : o.name;
  config::ServeConfig cfg;
  cfg.stateDir = o.stateDir.empty()
                     ? stdio_proxy::defaultStateDir(o.command, std::getenv("XDG_STATE_HOME"),
                                                    std::getenv("HOME"))
                     : o.stateDir;
  if (cfg.stateDir.empty()) {
    log::error("cannot start: no state directory", {{"hint", "HOME is not set; give --state-dir"}});
    return 1;
  }
  cfg.keyFile = o.keyFile;
  std::string error;
  if (!makeDirs(cfg.stateDir, error)) {
    log::error("cannot start: the state directory", {{"error", error}});
    return 1;
  }

  log::start();
  struct LogStop {
    ~LogStop() { log::stop(); }
  } logStop;

  auto identity = loadIdentity(cfg, std::getenv("AIM_PRIVATE_KEY"));
  if (!identity.ok()) {
    log::error("cannot start: the sidecar's key", {{"error", identity.error()}});
    return 1;
  }
  std::string publicKey = verifier::base64(identity->key.pub.bytes);

  audit::AuditOptions ao;
  ao.path = o.auditLog.empty() ? cfg.stateDir + "/audit.ndjson" : o.auditLog;
  std::copy(identity->key.seed.begin(), identity->key.seed.end(), ao.signingKey.begin());
  std::copy(identity->key.pub.bytes.begin(), identity->key.pub.bytes.end(),
            ao.signingKey.begin() + 32);
  ao.args.capture = o.auditCaptureArgs;
  ao.startDetail = std::string("{\"version\":\"") + kVersion + "\",\"revision\":\"" + kGitRevision +
                   "\",\"public_key\":\"" + publicKey +
                   "\",\"mode\":\"stdio\",\"server\":" + jsonString(name) + "}";
  if (!lockTrail(ao.path, error)) {
    log::error("cannot start: the audit trail is in use", {{"error", error}});
    return 1;
  }
  auto writer = audit::AuditWriter::open(std::move(ao));
  if (!writer.ok()) {
    log::error("cannot start: the audit trail",
               {{"error", writer.error()},
                {"hint", "set --audit-log or --state-dir to a writable place"}});
    return 1;
  }
  audit::AuditWriterPtr auditWriter = std::move(*writer);

  drift::DriftOptions dopt;
  dopt.baselinePath = cfg.stateDir + "/drift-baseline.json";
  dopt.policy = o.driftPolicy == "block" ? drift::DriftPolicy::Block : drift::DriftPolicy::Alert;
  dopt.pinnedHash = o.driftBaseline;
  auto detector = drift::DriftDetector::create(std::move(dopt));
  if (!detector.ok()) {
    log::error("cannot start: tool-definition drift",
               {{"error", detector.error()},
                {"hint", "fix or remove the baseline file, or correct --drift-baseline"}});
    auditWriter->stop("startup failed");
    return 1;
  }
  auto mcp = std::make_shared<metrics::McpMetrics>();
  watch::DriftWatch driftWatch(std::move(*detector), name, auditWriter.get(), mcp.get());
  // --admin: the same MCP metric families as serve's, for Prometheus, on a port of its own.
  int adminFd = -1;
  std::string adminAddr;
  if (!o.admin.empty()) {
    auto hp = config::parseHostPort(o.admin);
    uint16_t port = 0;
    auto fd = hp.ok() ? proxy::bindListenSocket(*hp, false, port) : Result<int>(hp.status());
    if (!fd.ok()) {
      log::error("cannot start: --admin", {{"error", fd.error()}, {"value", o.admin}});
      auditWriter->stop("startup failed");
      return 1;
    }
    adminFd = *fd;
    config::HostPort bound = *hp;
    bound.port = port;
    adminAddr = bound.str();
  }

  log::info("mcp-sidecar stdio", {{"server", name},
                                  {"state_dir", cfg.stateDir},
                                  {"key_source", identity->source},
                                  {"public_key", publicKey},
                                  {"verify_with", "mcp-sidecar audit verify --key " + publicKey +
                                                      " " + auditWriter->path() + "*"},
                                  {"drift_policy", o.driftPolicy}});

  stdio_proxy::StdioProxyOptions po;
  po.child.name = name;
  po.child.argv = o.command;
  po.child.env = o.scrubEnv ? bridge::childEnvironment(environ, o.env)
                            : stdio_proxy::passThroughEnvironment(environ, o.env);
  po.audit = auditWriter.get();
  po.drift = &driftWatch;
  po.mcp = mcp.get();
  po.driftHint = "review the server, then remove " + cfg.stateDir +
                 "/drift-baseline.json and restart it to accept the new definitions";

  uv_loop_t loop;
  uv_loop_init(&loop);
  int exitCode = 1;
  std::string stopReason = "shutdown";
  auto proxy = std::make_unique<stdio_proxy::StdioProxy>(&loop, std::move(po));
  std::unique_ptr<proxy::AdminServer> admin;
  if (adminFd >= 0) {
    admin = std::make_unique<proxy::AdminServer>(
        &loop, adminFd, [&mcp](const proxy::RequestParser& req) -> proxy::AdminResponse {
          std::string_view path = req.url().substr(0, req.url().find('?'));
          if (path == "/metrics")
            return {200, "text/plain; version=0.0.4; charset=utf-8",
                    prometheus::TextSerializer().Serialize(mcp->registry()->Collect())};
          if (path == "/healthz")
            return {200, "text/plain; charset=utf-8", "ok\n"};
          return {404, "text/plain; charset=utf-8", "not found; admin paths: /metrics /healthz\n"};
        });
    std::string adminError;
    if (!admin->start(adminError)) {
      log::error("cannot start: --admin", {{"error", adminError}});
      admin.reset();
    } else {
      log::info("admin listening", {{"admin", adminAddr}});
    }
  }
  uv_signal_t sigterm{}, sigint{};
  for (uv_signal_t* s : {&sigterm, &sigint}) {
    uv_signal_init(&loop, s);
    s->data = proxy.get();
  }
  auto onSignal = [](uv_signal_t* s, int signum) {
    static_cast<stdio_proxy::StdioProxy*>(s->data)->shutdown(signum == SIGTERM ? "SIGTERM"
                                                                               : "SIGINT");
  };
  uv_signal_start(&sigterm, onSignal, SIGTERM);
  uv_signal_start(&sigint, onSignal, SIGINT);
  proxy->onDone = [&](int code) {
    exitCode = code;
    if (admin)
      admin->close();
    uv_close(reinterpret_cast<uv_handle_t*>(&sigterm), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&sigint), nullptr);
  };
  if (!proxy->start(error)) {
    log::error("cannot start the MCP server", {{"server", name}, {"error", error}});
    stopReason = "the MCP server could not start";
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  proxy.reset();
  if (uv_loop_close(&loop) != 0)
    log::warn("handles were left open at exit");
  if (stopReason == "shutdown" && exitCode != 0)
    stopReason = "the MCP server exited with " + std::to_string(exitCode);
  auditWriter->stop(stopReason);
  log::info("mcp-sidecar stdio stopped", {{"server", name}, {"exit_code", exitCode}});
  return exitCode;
}

} // namespace sidecar::app
