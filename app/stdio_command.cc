#include "app/stdio_command.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>

#include "aim/client.h"
#include "app/aim_policy.h"
#include "app/aim_register.h"
#include "app/identity.h"
#include "audit/writer.h"
#include "bridge/bridge.h"
#include "common/log.h"
#include "common/version.h"
#include "config/serve_config.h"
#include "config/units.h"
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

// Registers the server with AIM (and starts the AIM client) once its tools are known, or after
// 15 s without them (a server that lists none): as serve does, AIM learns the name and tools.
struct AimStarter {
  aim::AimClient* client = nullptr;
  std::string name, url;
  uv_timer_t timer{};
  bool timerOpen = false;
  bool started = false;

  void start(std::vector<std::string> tools) {
    if (started)
      return;
    started = true;
    if (timerOpen)
      uv_timer_stop(&timer);
    registerAndStart(*client, name, "the stdio MCP server " + name, url, "", std::move(tools));
  }
};

// The --gate values: comma-separated lists, repeatable; blanks dropped.
std::vector<std::string> gateList(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const std::string& v : values)
    for (std::string& t : config::splitList(v))
      out.push_back(std::move(t));
  return out;
}

} // namespace

CLI::App* addStdioCommand(CLI::App& app, StdioOptions& o) {
  CLI::App* c = app.add_subcommand(
      "stdio", "Run a stdio MCP server behind the sidecar, stdio to stdio (what `wrap` writes in\n"
               "client configurations): mcp-sidecar stdio [flags] -- COMMAND ARGS...\n"
               "Messages pass unchanged; every request is audited, tool lists are checked\n"
               "for drift, and calls of --gate tools wait for AIM's approval. stdout carries\n"
               "only MCP messages; logs go to stderr.");
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
  c->add_option("--gate", o.gate,
                "tools whose calls need AIM approval first, comma-separated, repeatable (without "
                "AIM they are refused with -31003)")
      ->delimiter(',');
  c->add_option("--gate-timeout", o.gateTimeout,
                "how long a pending AIM approval may hold a gated call (default: 300)");
  c->add_option("--aim-url", o.aimUrl,
                "the AIM platform, e.g. https://aim.example.com (default: AIM_URL, else none: "
                "AIM off)")
      ->envname("AIM_URL");
  c->add_option("--aim-api-key", o.aimApiKey,
                "AIM API key, used once to register the agent when no agent id is known "
                "(default: AIM_API_KEY)")
      ->envname("AIM_API_KEY");
  c->add_option("--aim-agent-id", o.aimAgentId,
                "the AIM agent the sidecar's key is registered under (default: kept in "
                "<state-dir>/aim/ after the first registration)");
  c->add_option("--aim-ca-file", o.aimCaFile,
                "CA bundle for AIM's TLS certificate (default: the system store)");
  c->add_option("--aim-heartbeat-interval", o.aimHeartbeatInterval,
                "time between heartbeats to AIM (default: 30)");
  c->add_option("--aim-usage-interval", o.aimUsageInterval,
                "time between usage reports to AIM (default: 60)");
  c->add_option("--aim-revocation-interval", o.aimRevocationInterval,
                "time between reads of AIM's revocation list (default: 300)");
  c->add_option("--aim-retry-max", o.aimRetryMax,
                "longest wait between retries of an AIM call (default: 60)");
  c->add_option("--spool-max-bytes", o.spoolMaxBytes,
                "disk spool (in <state-dir>/aim/) for what AIM must learn (default: 256MiB)");
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
  // Durations and sizes as serve reads them (docs/configuration.md); a bad one is bad usage.
  uint64_t gateTimeoutMs = 0, heartbeatMs = 0, usageMs = 0, revocationMs = 0, retryMaxMs = 0;
  uint64_t spoolMaxBytes = 0;
  struct Duration {
    const char* flag;
    const std::string& text;
    uint64_t& ms;
  };
  for (const Duration& d :
       {Duration{"--gate-timeout", o.gateTimeout, gateTimeoutMs},
        Duration{"--aim-heartbeat-interval", o.aimHeartbeatInterval, heartbeatMs},
        Duration{"--aim-usage-interval", o.aimUsageInterval, usageMs},
        Duration{"--aim-revocation-interval", o.aimRevocationInterval, revocationMs},
        Duration{"--aim-retry-max", o.aimRetryMax, retryMaxMs}}) {
    auto v = config::parseDurationMs(d.text);
    if (!v.ok() || *v == 0) {
      std::fprintf(stderr, "mcp-sidecar stdio: %s %s: %s\n", d.flag, d.text.c_str(),
                   v.ok() ? "must be more than 0" : v.error().c_str());
      return 2;
    }
    d.ms = *v;
  }
  retryMaxMs = std::max<uint64_t>(retryMaxMs, 1000);
  if (auto v = config::parseSize(o.spoolMaxBytes); !v.ok() || *v < (1u << 20)) {
    std::fprintf(stderr, "mcp-sidecar stdio: --spool-max-bytes %s: %s\n", o.spoolMaxBytes.c_str(),
                 v.ok() ? "at least 1MiB" : v.error().c_str());
    return 2;
  } else {
    spoolMaxBytes = *v;
  }
  if (!o.aimUrl.empty() && o.aimUrl.rfind("http://", 0) != 0 &&
      o.aimUrl.rfind("https://", 0) != 0) {
    std::fprintf(stderr,
                 "mcp-sidecar stdio: --aim-url %s: expected an http:// or https:// URL of the AIM "
                 "platform\n",
                 o.aimUrl.c_str());
    return 2;
  }
  std::vector<std::string> gate = gateList(o.gate);
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

  // AIM (docs/aim.md): registration of this server, gated tools, usage, drift reports.
  std::unique_ptr<aim::AimClient> aimClient;
  AimStarter aimStarter;
  if (!o.aimUrl.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    aim::AimOptions aimOptions;
    aimOptions.url = o.aimUrl;
    aimOptions.stateDir = cfg.stateDir;
    aimOptions.key = identity->key;
    aimOptions.agentId = o.aimAgentId;
    aimOptions.apiKey = o.aimApiKey;
    aimOptions.caFile = o.aimCaFile;
    aimOptions.server.name = name;
    // A stdio server has no URL; AIM needs one per server and never calls it.
    aimOptions.server.url = stdioServerUrl(stdio_proxy::serverDirName(o.command), host);
    aimOptions.heartbeatInterval = std::chrono::milliseconds(heartbeatMs);
    aimOptions.usageInterval = std::chrono::milliseconds(usageMs);
    aimOptions.revocationInterval = std::chrono::milliseconds(revocationMs);
    aimOptions.spoolMaxBytes = spoolMaxBytes;
    aimOptions.retryMax = std::chrono::milliseconds(retryMaxMs);
    aimOptions.retryInitial = std::min(aimOptions.retryInitial, aimOptions.retryMax);
    aimOptions.gateTimeout = std::chrono::milliseconds(gateTimeoutMs);
    aimOptions.userAgent = std::string("mcp-sidecar/") + kVersion;
    aimStarter.name = name;
    aimStarter.url = aimOptions.server.url;
    auto client = aim::AimClient::create(std::move(aimOptions));
    if (!client.ok()) {
      log::error("cannot start: AIM", {{"error", client.error()}});
      auditWriter->stop("startup failed");
      return 1;
    }
    aimClient = std::move(*client);
    aimStarter.client = aimClient.get();
  } else if (!gate.empty()) {
    log::info("AIM is off (no --aim-url / AIM_URL): calls of gated tools are refused",
              {{"gated_tools", static_cast<unsigned long long>(gate.size())}});
  }
  std::unique_ptr<AimPolicy> policy;
  if (aimClient || !gate.empty())
    policy = std::make_unique<AimPolicy>(aimClient.get(), gate,
                                         std::chrono::milliseconds(gateTimeoutMs));
  std::vector<std::string> toolNames; // the server's latest list (loop thread)
  if (aimClient) {
    aim::AimClient* client = aimClient.get();
    driftWatch.setOnReport([client, &name, &toolNames](const drift::DriftReport& report) {
      Status st = client->reportDetection(driftDetectionBody(name, report.toJson(), toolNames));
      if (!st.ok())
        log::error("cannot spool the drift report for AIM", {{"error", st.message()}});
    });
  }
  std::shared_ptr<prometheus::Collectable> aimMetrics;
  if (aimClient)
    aimMetrics = aimCollector(*aimClient);
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
                                  {"drift_policy", o.driftPolicy},
                                  {"aim", o.aimUrl.empty() ? "off" : o.aimUrl},
                                  {"gated_tools", static_cast<unsigned long long>(gate.size())}});

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
  po.policy = policy.get();
  po.onTools = [&toolNames, &aimStarter](const std::vector<std::string>& names) {
    toolNames = names;
    if (aimStarter.client)
      aimStarter.start(names);
  };

  uv_loop_t loop;
  uv_loop_init(&loop);
  int exitCode = 1;
  std::string stopReason = "shutdown";
  auto proxy = std::make_unique<stdio_proxy::StdioProxy>(&loop, std::move(po));
  std::unique_ptr<proxy::AdminServer> admin;
  if (adminFd >= 0) {
    admin = std::make_unique<proxy::AdminServer>(
        &loop, adminFd,
        [&mcp, &aimMetrics](const proxy::RequestParser& req) -> proxy::AdminResponse {
          std::string_view path = req.url().substr(0, req.url().find('?'));
          if (path == "/metrics") {
            std::vector<prometheus::MetricFamily> families = mcp->registry()->Collect();
            if (aimMetrics)
              for (prometheus::MetricFamily& f : aimMetrics->Collect())
                families.push_back(std::move(f));
            return {200, "text/plain; version=0.0.4; charset=utf-8",
                    prometheus::TextSerializer().Serialize(families)};
          }
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
  if (aimClient) {
    uv_timer_init(&loop, &aimStarter.timer);
    aimStarter.timer.data = &aimStarter;
    aimStarter.timerOpen = true;
    uv_timer_start(
        &aimStarter.timer,
        [](uv_timer_t* t) {
          auto* a = static_cast<AimStarter*>(t->data);
          log::warn("registering with AIM before the MCP server listed its tools");
          a->start({});
        },
        15000, 0);
  }
  proxy->onDone = [&](int code) {
    exitCode = code;
    if (aimStarter.timerOpen) {
      aimStarter.timerOpen = false;
      uv_close(reinterpret_cast<uv_handle_t*>(&aimStarter.timer), nullptr);
    }
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
  if (aimClient) {
    // A final usage report, and a little time for the spool (the client waits for this exit);
    // what is left is delivered at the next start.
    log::info("stopping the AIM client: delivering what is spooled (up to 2 s)");
    aimClient->stop(std::chrono::seconds(2));
  }
  if (stopReason == "shutdown" && exitCode != 0)
    stopReason = "the MCP server exited with " + std::to_string(exitCode);
  auditWriter->stop(stopReason);
  log::info("mcp-sidecar stdio stopped", {{"server", name}, {"exit_code", exitCode}});
  return exitCode;
}

} // namespace sidecar::app
