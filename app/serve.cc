#include "app/serve.h"

#include <fcntl.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <memory>
#include <vector>

#include "aim/client.h"
#include "app/aim_policy.h"
#include "app/identity.h"
#include "audit/writer.h"
#include "bridge/bridge.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/version.h"
#include "discovery/catalog.h"
#include "discovery/endpoints.h"
#include "discovery/http_lister.h"
#include "drift/detector.h"
#include "metrics/mcp_metrics.h"
#include "metrics/metrics.h"
#include "proxy/admin_server.h"
#include "proxy/listener.h"
#include "proxy/signature_gate.h"
#include "proxy/upstream_probe.h"
#include "proxy/worker.h"
#include "watch/drift_watch.h"

namespace sidecar::app {

namespace {

struct Server {
  const config::ServeConfig& cfg;
  uv_loop_t loop;
  proxy::WorkerShared shared;
  metrics::ProcessState process;
  std::vector<std::unique_ptr<proxy::Worker>> workers;
  std::unique_ptr<metrics::Metrics> metrics;
  std::unique_ptr<proxy::AdminServer> admin;
  std::unique_ptr<proxy::UpstreamProbe> probe;
  std::unique_ptr<proxy::SignatureGate> gate;
  std::unique_ptr<audit::AuditWriter> audit;
  std::shared_ptr<metrics::McpMetrics> mcp = std::make_shared<metrics::McpMetrics>();
  std::unique_ptr<watch::DriftWatch> drift;
  std::unique_ptr<discovery::HttpLister> lister; // an HTTP upstream: what it says of itself
  std::unique_ptr<bridge::Bridge> bridge;        // a stdio upstream
  // What the server says of itself (capabilities document), and the endpoints that serve it.
  std::unique_ptr<discovery::Catalog> catalog;
  std::unique_ptr<discovery::Endpoints> endpoints;
  std::unique_ptr<verifier::AnswerSigner> signer; // the answers to signed requests
  std::unique_ptr<aim::AimClient> aim;            // null: AIM off
  std::unique_ptr<AimPolicy> policy;              // null: neither AIM nor --gate
  std::string publicUrl;
  uv_timer_t aimStart; // registration waits (a little) for the server's name and tools
  bool aimStartActive = false;
  uint64_t aimWaitSinceNs = 0;
  uv_timer_t trustWatch;
  bool watching = false;
  // What the trust store file looked like when the store in force was read.
  struct FileId {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = -1;
    timespec mtime{}, ctime{};
    bool operator==(const FileId& o) const {
      return dev == o.dev && ino == o.ino && size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
             mtime.tv_nsec == o.mtime.tv_nsec && ctime.tv_sec == o.ctime.tv_sec &&
             ctime.tv_nsec == o.ctime.tv_nsec;
    }
  } trustFile;
  bool trustFileMissing = false;
  uv_signal_t sigterm, sigint;
  uv_async_t workerDone;
  uv_timer_t drainTimer;
  std::atomic<unsigned> finished{0};
  bool draining = false;
  bool stopping = false;
  std::string listenAddr, adminAddr, upstreamDown = "not probed yet";
  uint64_t startNs = monoNowNs();

  explicit Server(const config::ServeConfig& c) : cfg(c) {}
};

std::string upstreamText(const config::ServeConfig& cfg) {
  if (cfg.upstream)
    return "http://" + cfg.upstream->authority() + cfg.upstream->path;
  std::string cmd = "stdio:";
  for (const std::string& a : cfg.upstreamCommand)
    cmd += " " + a;
  return cmd;
}

std::string statusJson(Server& s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  uint64_t responses = 0, active = 0;
  for (auto& wk : s.workers) {
    for (size_t c = 1; c <= 5; ++c)
      responses += wk->stats().responsesByClass[c].get();
    active += static_cast<uint64_t>(wk->stats().connectionsActive.get());
  }
  w.StartObject();
  w.Key("version");
  w.String(kVersion);
  w.Key("revision");
  w.String(kGitRevision);
  w.Key("uptime_seconds");
  w.Double(static_cast<double>(monoNowNs() - s.startNs) / 1e9);
  w.Key("listen");
  w.String(s.listenAddr.c_str());
  w.Key("admin");
  w.String(s.adminAddr.c_str());
  w.Key("upstream");
  std::string up = upstreamText(s.cfg);
  w.String(up.c_str());
  if (s.drift) {
    w.Key("drift");
    std::string d = s.drift->stateJson();
    w.RawValue(d.data(), d.size(), rapidjson::kObjectType);
  }
  if (s.bridge) {
    w.Key("sessions_active");
    w.Int64(s.process.sessionsActive.load());
    w.Key("child_restarts");
    w.Uint64(s.process.childRestarts.load());
  }
  w.Key("upstream_up");
  w.Bool(s.process.upstreamUp.load() == 1);
  w.Key("public_url");
  w.String(s.publicUrl.c_str());
  w.Key("aim");
  if (!s.aim) {
    w.Null();
  } else {
    aim::AimStatus a = s.aim->status();
    w.StartObject();
    w.Key("state");
    w.String(aim::stateName(a.state));
    w.Key("agent_id");
    w.String(a.agentId.c_str());
    w.Key("mcp_server_id");
    w.String(a.mcpServerId.c_str());
    w.Key("verified");
    w.Bool(a.serverVerified);
    w.Key("agent_status");
    w.String(a.agentStatus.c_str());
    w.Key("trust_score");
    if (a.trustScore < 0)
      w.Null();
    else
      w.Double(a.trustScore);
    w.Key("last_error");
    w.String(a.lastError.c_str());
    w.Key("spool_bytes");
    w.Uint64(a.spoolBytes);
    w.Key("spool_records");
    w.Uint64(a.spoolRecords);
    w.Key("dead_letters");
    w.Uint64(a.deadLetters);
    w.Key("pending_approvals");
    w.Uint64(a.pendingApprovals);
    w.Key("revoked_agents");
    w.Uint64(a.revokedAgents);
    w.EndObject();
  }
  w.Key("workers");
  w.Uint(static_cast<unsigned>(s.workers.size()));
  w.Key("draining");
  w.Bool(s.draining);
  w.Key("connections_active");
  w.Uint64(active);
  w.Key("responses_total");
  w.Uint64(responses);
  w.Key("verify");
  w.StartObject();
  w.Key("mode");
  w.String(s.cfg.verify == config::VerifyMode::Off       ? "off"
           : s.cfg.verify == config::VerifyMode::Monitor ? "monitor"
                                                         : "enforce");
  if (s.gate) {
    uint64_t accepted = 0, rejected = 0;
    for (auto& wk : s.workers)
      for (const auto& byReason : wk->stats().verifications)
        for (size_t r = 0; r < byReason.size(); ++r)
          (r == static_cast<size_t>(verifier::Reason::Accepted) ? accepted : rejected) +=
              byReason[r].get();
    w.Key("trust_store");
    w.String(s.cfg.trustStore.c_str());
    w.Key("keys");
    w.Int64(s.process.trustStoreKeys.load());
    w.Key("accepted");
    w.Uint64(accepted);
    w.Key("rejected");
    w.Uint64(rejected);
    w.Key("replay_cache_entries");
    w.Uint64(s.gate->replay().size());
    w.Key("replay_cache_capacity");
    w.Uint64(s.gate->replay().capacity());
  }
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize()) + "\n";
}

proxy::AdminResponse handleAdmin(Server& s, const proxy::RequestParser& req) {
  std::string_view path = req.url();
  if (auto q = path.find('?'); q != std::string_view::npos)
    path = path.substr(0, q);
  bool get = req.method() == HTTP_GET || req.method() == HTTP_HEAD;
  if (path == "/healthz" && get)
    return {200, "text/plain; charset=utf-8", "ok\n"};
  if (path == "/readyz" && get) {
    if (s.draining)
      return {503, "application/json", "{\"ready\":false,\"reason\":\"draining\"}\n"};
    if (s.audit && !s.audit->healthy())
      return {503, "application/json",
              "{\"ready\":false,\"reason\":\"the audit trail cannot be written (see the log): "
              "records wait in memory and callers are slowed\"}\n"};
    std::string aimWhy;
    if (s.aim && !s.aim->ready(&aimWhy)) {
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer> w(buf);
      w.StartObject();
      w.Key("ready");
      w.Bool(false);
      w.Key("reason");
      std::string why = "AIM spool: " + aimWhy;
      w.String(why.c_str());
      w.EndObject();
      return {503, "application/json", std::string(buf.GetString(), buf.GetSize()) + "\n"};
    }
    if (s.process.upstreamUp.load() != 1) {
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer> w(buf);
      w.StartObject();
      w.Key("ready");
      w.Bool(false);
      w.Key("reason");
      std::string why = "upstream not answering: " + s.upstreamDown;
      w.String(why.c_str());
      w.EndObject();
      return {503, "application/json", std::string(buf.GetString(), buf.GetSize()) + "\n"};
    }
    return {200, "application/json", "{\"ready\":true}\n"};
  }
  if (path == "/metrics" && get)
    return {200, "text/plain; version=0.0.4; charset=utf-8", s.metrics->serialize()};
  if (path == "/status" && get)
    return {200, "application/json", statusJson(s)};
  if (path == "/drift/accept" && req.method() == HTTP_POST) {
    // Refused (nothing seen yet, an unreadable list, a save that failed): the operator must not
    // be told the block is lifted when it is not.
    if (Status st = s.drift->accept(); !st.ok())
      return {409, "application/json",
              "{\"accepted\":false,\"error\":" + drift::jsonString(st.message()) + "}\n"};
    return {202, "application/json",
            "{\"accepted\":true,\"detail\":\"the current tool, resource and prompt definitions "
            "become the baseline; GET /status shows it\"}\n"};
  }
  if (path == "/healthz" || path == "/readyz" || path == "/metrics" || path == "/status")
    return {405, "text/plain; charset=utf-8", "use GET\n"};
  if (path == "/drift/accept")
    return {405, "text/plain; charset=utf-8", "use POST\n"};
  return {404, "text/plain; charset=utf-8",
          "not found; admin paths: /healthz /readyz /metrics /status, POST /drift/accept\n"};
}

void closeMain(Server& s) {
  if (s.stopping)
    return;
  s.stopping = true;
  if (s.admin)
    s.admin->close();
  if (s.probe)
    s.probe->stop();
  uv_close(reinterpret_cast<uv_handle_t*>(&s.sigterm), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&s.sigint), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&s.workerDone), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&s.drainTimer), nullptr);
  if (s.watching)
    uv_close(reinterpret_cast<uv_handle_t*>(&s.trustWatch), nullptr);
  if (s.aimStartActive) {
    s.aimStartActive = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&s.aimStart), nullptr);
  }
}

// Registers with AIM once the server's name and tools are known, or after 15 s without them
// (a server that lists no tools, or an HTTP upstream that never answers): AIM learns the tools
// later from the capabilities document anyway.
void startAim(Server& s) {
  std::string name = s.catalog->serverName();
  registerAndStart(*s.aim, name, "the MCP server " + name, s.publicUrl,
                   s.publicUrl + "/.well-known/mcp/verify", s.catalog->toolNames());
}

void checkAimStart(uv_timer_t* t) {
  auto* s = static_cast<Server*>(t->data);
  bool waited = monoNowNs() - s->aimWaitSinceNs > 15'000'000'000ull;
  if (!s->catalog->toolsKnown() && !waited)
    return;
  if (waited && !s->catalog->toolsKnown())
    log::warn("registering with AIM before the MCP server listed its tools; AIM reads them "
              "later from /.well-known/mcp/capabilities");
  uv_timer_stop(t);
  startAim(*s);
}

// The file's identity now (following symlinks); false when it cannot be read.
bool statFile(const std::string& path, Server::FileId& id, int& err) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    err = errno;
    return false;
  }
  id.dev = st.st_dev;
  id.ino = st.st_ino;
  id.size = st.st_size;
  id.mtime = st.st_mtim;
  id.ctime = st.st_ctim;
  return true;
}

// Every second, compares the trust store file with what it was when the store in force was read,
// and reloads it on any difference: an edit, an atomic rename, or the ..data symlink swap of a
// Kubernetes Secret or ConfigMap mount (stat follows the symlinks). The baseline is taken when
// the store is read, not later (uv_fs_poll takes its own baseline asynchronously after the loop
// starts, so a change made in that gap went unnoticed). A file that fails to load keeps the
// previous store in force and says why. A stat of a local file on the main loop, once a second,
// is off the request path.
void checkTrustStore(uv_timer_t* h) {
  auto* s = static_cast<Server*>(h->data);
  const std::string& path = s->cfg.trustStore;
  Server::FileId now;
  int err = 0;
  if (!statFile(path, now, err)) {
    if (!s->trustFileMissing) {
      s->trustFileMissing = true;
      s->process.trustStoreReloadFailures.fetch_add(1);
      log::error("trust store file unreadable; keeping the previous keys",
                 {{"path", path}, {"error", strerror(err)}});
    }
    return;
  }
  s->trustFileMissing = false;
  if (now == s->trustFile)
    return;
  s->trustFile = now;
  auto store = verifier::TrustStore::load(path);
  if (!store.ok()) {
    s->process.trustStoreReloadFailures.fetch_add(1);
    log::error("trust store reload failed; keeping the previous keys",
               {{"path", path}, {"error", store.error()}});
    return;
  }
  s->process.trustStoreKeys.store(static_cast<int64_t>((*store)->keys().size()));
  s->process.trustStoreReloads.fetch_add(1);
  s->gate->publish(*store);
  log::info("trust store reloaded", {{"path", path}, {"keys", (*store)->keys().size()}});
}

void beginDrain(Server& s, int signum) {
  if (s.draining) {
    log::warn("second signal: stopping now without waiting for in-flight requests",
              {{"signal", signum}});
    for (auto& w : s.workers)
      w->stop();
    return;
  }
  s.draining = true;
  if (s.bridge)
    s.bridge->drain(); // ends the GET streams, which would otherwise hold the drain open
  log::info("draining: no new connections; waiting for in-flight requests",
            {{"signal", signum},
             {"drain_timeout_ms", static_cast<unsigned long long>(s.cfg.drainTimeoutMs)}});
  for (auto& w : s.workers)
    w->drain();
  uv_timer_start(
      &s.drainTimer,
      [](uv_timer_t* t) {
        auto* sv = static_cast<Server*>(t->data);
        log::warn("drain timeout reached: closing the remaining connections");
        for (auto& w : sv->workers)
          w->stop();
      },
      s.cfg.drainTimeoutMs, 0);
}

} // namespace

int runServe(const config::ServeConfig& cfg) {
  signal(SIGPIPE, SIG_IGN);
  log::setLevel(cfg.logLevel);
  log::start();
  struct LogStop {
    ~LogStop() { log::stop(); }
  } logStop;

  // Each client connection needs a descriptor and so does its upstream connection: raise the
  // soft limit to the hard one, and say so when even that cannot hold --max-connections.
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY &&
      nofile.rlim_cur < 2ull * cfg.maxConnections)
    log::warn("the open-file limit cannot hold --max-connections (each needs two descriptors); "
              "raise it (ulimit -n, LimitNOFILE=) or lower --max-connections",
              {{"nofile", static_cast<unsigned long long>(nofile.rlim_cur)},
               {"max_connections", static_cast<unsigned long long>(cfg.maxConnections)}});

  auto server = std::make_unique<Server>(cfg);
  Server& s = *server;
  s.process.upstreamUp = 0;

  s.shared.cfg = &cfg;

  // The sidecar's identity, and the audit trail it signs.
  auto identity = loadIdentity(cfg, std::getenv("AIM_PRIVATE_KEY"));
  if (!identity.ok()) {
    log::error("cannot start: the sidecar's key", {{"error", identity.error()}});
    return 1;
  }
  std::string publicKey = verifier::base64(identity->key.pub.bytes);
  log::info(identity->created ? "made the sidecar's key (first start)" : "the sidecar's key",
            {{"source", identity->source},
             {"public_key", publicKey},
             {"fingerprint", verifier::fingerprint(identity->key.pub)}});
  {
    discovery::ServerIdentity id;
    id.name = cfg.serverName;
    id.publicKeyBase64 = publicKey;
    // DER SubjectPublicKeyInfo of an Ed25519 key: a fixed 12-byte prefix, then the raw key.
    id.publicKeySpkiHex = "302a300506032b6570032100";
    static constexpr char kHex[] = "0123456789abcdef";
    for (uint8_t b : identity->key.pub.bytes) {
      id.publicKeySpkiHex += kHex[b >> 4];
      id.publicKeySpkiHex += kHex[b & 15];
    }
    id.keyId = verifier::fingerprint(identity->key.pub);
    s.catalog = std::make_unique<discovery::Catalog>(std::move(id));
  }
  {
    audit::AuditOptions ao;
    ao.path = cfg.auditLog.empty() ? cfg.stateDir + "/audit.ndjson" : cfg.auditLog;
    std::copy(identity->key.seed.begin(), identity->key.seed.end(), ao.signingKey.begin());
    std::copy(identity->key.pub.bytes.begin(), identity->key.pub.bytes.end(),
              ao.signingKey.begin() + 32);
    ao.maxBytes = cfg.auditMaxBytes;
    ao.checkpointEvery = cfg.auditCheckpointEvery;
    ao.checkpointInterval = std::chrono::milliseconds(cfg.auditCheckpointIntervalMs);
    ao.args.capture = cfg.auditCaptureArgs;
    ao.startDetail = std::string("{\"version\":\"") + kVersion + "\",\"revision\":\"" +
                     kGitRevision + "\",\"public_key\":\"" + publicKey + "\"}";
    // One writer per trail: a second sidecar on the same files would interleave two chains.
    if (size_t slash = ao.path.rfind('/'); slash != std::string::npos && slash > 0)
      ::mkdir(ao.path.substr(0, slash).c_str(), 0700); // the state directory, when --key spared it
    std::string lockPath = ao.path + ".lock";
    int lockFd = ::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lockFd < 0 || ::flock(lockFd, LOCK_EX | LOCK_NB) != 0) {
      log::error(
          "cannot start: the audit trail is in use",
          {{"path", ao.path},
           {"error", lockFd < 0 ? strerror(errno) : "another mcp-sidecar is writing this trail"},
           {"hint", "give each sidecar its own --state-dir (or --audit-log)"}});
      return 1;
    }
    // Held (fd open) until the process exits.
    auto w = audit::AuditWriter::open(std::move(ao));
    if (!w.ok()) {
      log::error(
          "cannot start: the audit trail",
          {{"error", w.error()}, {"hint", "set --audit-log or --state-dir to a writable place"}});
      return 1;
    }
    s.audit = std::move(*w);
    log::info("writing the audit trail",
              {{"path", s.audit->path()},
               {"verify_with",
                "mcp-sidecar audit verify --key " + publicKey + " " + s.audit->path() + "*"}});
    audit::AuditWriter* aw = s.audit.get();
    s.process.auditCounts = [aw] {
      audit::AuditStats st = aw->stats();
      return std::make_pair(st.recordsWritten, st.writeErrors);
    };
  }
  s.shared.audit = s.audit.get();
  s.shared.mcp = s.mcp.get();
  s.shared.observe = cfg.observe;
  {
    drift::DriftOptions dopt;
    dopt.baselinePath = cfg.stateDir + "/drift-baseline.json";
    dopt.policy = cfg.driftBlock ? drift::DriftPolicy::Block : drift::DriftPolicy::Alert;
    dopt.pinnedHash = cfg.driftBaseline;
    auto detector = drift::DriftDetector::create(std::move(dopt));
    if (!detector.ok()) {
      log::error("cannot start: tool-definition drift",
                 {{"error", detector.error()},
                  {"hint", "fix or remove the baseline file, or correct --drift-baseline"}});
      return 1;
    }
    s.drift = std::make_unique<watch::DriftWatch>(std::move(*detector), upstreamText(cfg),
                                                  s.audit.get(), s.mcp.get());
  }
  std::optional<sockaddr_storage> upstreamAddr;
  if (cfg.upstream) {
    auto addr = proxy::resolveAddress(cfg.upstream->host, cfg.upstream->port);
    if (!addr.ok()) {
      log::error("cannot start: upstream address",
                 {{"error", addr.error()}, {"hint", "check --upstream"}});
      return 1;
    }
    upstreamAddr = *addr;
    s.shared.upstreamAddr = *addr;
    s.shared.upstreamAuthority = cfg.upstream->authority();
    s.shared.drift = s.drift.get();
    discovery::ListerOptions lo;
    lo.url = "http://" + cfg.upstream->authority() + cfg.upstream->path;
    lo.userAgent = std::string("mcp-sidecar/") + kVersion;
    lo.version = kVersion;
    lo.refresh = std::chrono::milliseconds(cfg.upstreamListIntervalMs);
    discovery::Catalog* catalog = s.catalog.get();
    watch::DriftWatch* dw = s.drift.get();
    metrics::McpMetrics* mcp = s.mcp.get();
    lo.onListing = [catalog, dw, mcp](const discovery::Listing& l) {
      catalog->setListing(l.initializeResult, l.tools, l.resources, l.prompts);
      mcp->setTools(catalog->toolNames());
      if (!l.manifestError.empty())
        dw->observeUnreadable(l.manifestError);
      else
        dw->observe(l.manifest);
      // Resources and prompts: reported, never refused (docs/drift.md).
      for (const auto& [manifest, error] :
           {std::pair{&l.resourceManifest, &l.resourceManifestError},
            std::pair{&l.promptManifest, &l.promptManifestError}}) {
        if (!*manifest)
          continue; // not declared by the server
        if (!error->empty())
          dw->observeUnreadable((*manifest)->kind(), *error);
        else
          dw->observeList(**manifest);
      }
    };
    s.lister = std::make_unique<discovery::HttpLister>(std::move(lo));
    s.shared.relist = [l = s.lister.get()] { l->refreshNow(); };
  } else {
    // npx runs the server as a grandchild; when npx exits first, the grandchild must be
    // reparented to the sidecar (not to a PID 1 that may never reap it) so that the bridge can
    // reap its process group (bridge/child_process.h).
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    bridge::BridgeOptions bo;
    bo.command = cfg.upstreamCommand;
    bo.env = bridge::childEnvironment(environ, cfg.upstreamEnv);
    bo.cwd = cfg.upstreamCwd;
    bo.childPerSession = cfg.childPerSession;
    bo.maxChildren = cfg.maxChildren;
    bo.idleTimeoutMs = cfg.childIdleTimeoutMs;
    bo.requestTimeoutMs = cfg.upstreamTimeoutMs;
    bo.audit = s.audit.get();
    bo.mcp = s.mcp.get();
    bo.drift = s.drift.get();
    discovery::Catalog* catalog = s.catalog.get();
    bo.onInitialized = [catalog](const std::string& r) { catalog->setInitializeResult(r); };
    bo.onTools = [catalog](const std::string& tools) { catalog->setTools(tools); };
    bo.onResources = [catalog](const std::string& r) { catalog->setResources(r); };
    bo.onPrompts = [catalog](const std::string& p) { catalog->setPrompts(p); };
    s.bridge = std::make_unique<bridge::Bridge>(std::move(bo), s.process);
    std::string berr;
    if (!s.bridge->start(berr)) {
      log::error("cannot start", {{"error", berr}});
      return 1;
    }
    s.shared.bridge = s.bridge.get();
  }
  // From here on, an early return must stop the bridge's thread and child.
  struct BridgeStop {
    Server& s;
    ~BridgeStop() {
      if (s.bridge) {
        s.bridge->stop();
        s.bridge->join();
      }
    }
  } bridgeStop{s};
  s.shared.limits.maxBody = cfg.maxBody;
  s.shared.limits.maxHeaderBytes = cfg.maxHeaderSize;
  s.shared.process = &s.process;

  if (cfg.verify != config::VerifyMode::Off) {
    int statErr = 0;
    statFile(cfg.trustStore, s.trustFile, statErr); // the baseline, before the read
    auto store = verifier::TrustStore::load(cfg.trustStore);
    if (!store.ok()) {
      log::error("cannot start: the trust store does not load",
                 {{"error", store.error()}, {"key", "--trust-store"}});
      return 2;
    }
    verifier::VerifierOptions opts;
    opts.windowSeconds = static_cast<int64_t>(cfg.windowSeconds);
    opts.requireNonce = cfg.requireNonce;
    opts.mcpSigV1 = cfg.profileMcpSigV1;
    opts.seed = cfg.profileSeed;
    opts.aimAgentRequestV1 = cfg.profileAimAgentRequest;
    s.gate = std::make_unique<proxy::SignatureGate>(cfg.verify, opts, cfg.replayCapacity);
    s.gate->publish(*store);
    s.shared.gate = s.gate.get();
    s.process.replay = &s.gate->replay();
    s.process.trustStoreKeys.store(static_cast<int64_t>((*store)->keys().size()));
    if (cfg.profileSeed)
      log::warn("profile 'seed' is on: its signature binds neither the method nor the target, so "
                "a captured request can be replayed to another path within the window; use "
                "mcp-sig-v1 callers where you can");
  }

  // Bind everything before starting anything, so a taken port fails the start cleanly.
  uint16_t port = 0;
  std::vector<int> fds;
  config::HostPort listen = cfg.listen;
  {
    // SO_REUSEPORT would let a second sidecar (same user) bind this port too and silently take
    // half the connections. An exclusive bind first proves the port is free (and picks one for
    // port 0); the workers' shared sockets then bind it.
    auto exclusive = proxy::bindListenSocket(listen, false, port);
    if (!exclusive.ok()) {
      log::error("cannot start", {{"error", exclusive.error()}, {"key", "--listen"}});
      return 1;
    }
    close(*exclusive);
    listen.port = port;
  }
  for (unsigned i = 0; i < cfg.workers; ++i) {
    auto fd = proxy::bindListenSocket(listen, true, port);
    if (!fd.ok()) {
      log::error("cannot start", {{"error", fd.error()}, {"key", "--listen"}});
      for (int f : fds)
        close(f);
      return 1;
    }
    fds.push_back(*fd);
    listen.port = port; // the other workers bind the port the first one got
  }
  s.listenAddr = listen.str();
  uint16_t adminPort = 0;
  auto adminFd = proxy::bindListenSocket(cfg.admin, false, adminPort);
  if (!adminFd.ok()) {
    log::error("cannot start", {{"error", adminFd.error()}, {"key", "--admin"}});
    for (int f : fds)
      close(f);
    return 1;
  }
  config::HostPort adminHp = cfg.admin;
  adminHp.port = adminPort;
  s.adminAddr = adminHp.str();

  // The documents the sidecar serves itself, and AIM.
  s.publicUrl = cfg.publicUrl.empty()
                    ? "http://" + s.listenAddr + (s.bridge ? cfg.mcpPath : cfg.upstream->path)
                    : cfg.publicUrl;
  if (!cfg.aimUrl.empty()) {
    aim::AimOptions ao;
    ao.url = cfg.aimUrl;
    ao.stateDir = cfg.stateDir;
    ao.key = identity->key;
    ao.agentId = cfg.aimAgentId;
    ao.apiKey = cfg.aimApiKey;
    ao.caFile = cfg.aimCaFile;
    ao.server.name = cfg.serverName.empty() ? "mcp-server" : cfg.serverName; // set again at start
    ao.server.url = s.publicUrl;
    ao.heartbeatInterval = std::chrono::milliseconds(cfg.aimHeartbeatIntervalMs);
    ao.usageInterval = std::chrono::milliseconds(cfg.aimUsageIntervalMs);
    ao.revocationInterval = std::chrono::milliseconds(cfg.aimRevocationIntervalMs);
    ao.spoolMaxBytes = cfg.spoolMaxBytes;
    ao.retryMax = std::chrono::milliseconds(cfg.aimRetryMaxMs);
    ao.retryInitial = std::min(ao.retryInitial, ao.retryMax);
    ao.gateTimeout = std::chrono::milliseconds(cfg.gateTimeoutMs);
    ao.userAgent = std::string("mcp-sidecar/") + kVersion;
    auto client = aim::AimClient::create(std::move(ao));
    if (!client.ok()) {
      log::error("cannot start: AIM", {{"error", client.error()}});
      for (int f : fds)
        close(f);
      close(*adminFd);
      return 1;
    }
    s.aim = std::move(*client);
  } else {
    log::info("AIM is off (no --aim-url / AIM_URL): every local feature works; gated tools are "
              "refused",
              {{"gated_tools", static_cast<unsigned long long>(cfg.gate.size())}});
  }
  if (s.aim) {
    aim::AimClient* client = s.aim.get();
    discovery::Catalog* catalog = s.catalog.get();
    s.drift->setOnReport([client, catalog](const drift::DriftReport& report) {
      Status st = client->reportDetection(
          driftDetectionBody(catalog->serverName(), report.toJson(), catalog->toolNames()));
      if (!st.ok())
        log::error("cannot spool the drift report for AIM", {{"error", st.message()}});
    });
  }
  if (s.aim || !cfg.gate.empty()) {
    s.policy = std::make_unique<AimPolicy>(s.aim.get(), cfg.gate,
                                           std::chrono::milliseconds(cfg.gateTimeoutMs));
    s.shared.policy = s.policy.get();
  }
  {
    discovery::EndpointOptions eo;
    std::string_view rest = std::string_view(s.publicUrl).substr(s.publicUrl.find("//") + 2);
    eo.publicPath = rest.find('/') == std::string_view::npos ? "" : rest.substr(rest.find('/'));
    aim::AimClient* client = s.aim.get();
    verifier::PrivateKey key = identity->key;
    eo.answerChallenge = [client, key](std::string_view body) -> Result<std::string> {
      if (client)
        return client->answerChallenge(body);
      auto a = aim::answerChallenge(key, body);
      if (!a.ok())
        return a.status();
      return std::move(a->body);
    };
    eo.verified = [client] { return client && client->serverVerified(); };
    s.endpoints = std::make_unique<discovery::Endpoints>(
        *s.catalog, verifier::AnswerSigner(identity->key), std::move(eo));
    s.shared.local = s.endpoints.get();
    s.signer = std::make_unique<verifier::AnswerSigner>(identity->key);
    s.shared.signer = s.signer.get();
  }

  uv_loop_init(&s.loop);
  uv_async_init(&s.loop, &s.workerDone, [](uv_async_t* a) {
    auto* sv = static_cast<Server*>(a->data);
    if (sv->finished.load() == sv->workers.size())
      closeMain(*sv);
  });
  s.workerDone.data = &s;
  uv_timer_init(&s.loop, &s.drainTimer);
  s.drainTimer.data = &s;

  std::vector<const metrics::WorkerStats*> stats;
  for (unsigned i = 0; i < cfg.workers; ++i) {
    s.workers.push_back(std::make_unique<proxy::Worker>(i, s.shared, fds[i], [&s] {
      s.finished.fetch_add(1);
      uv_async_send(&s.workerDone);
    }));
    stats.push_back(&s.workers.back()->stats());
  }
  s.metrics = std::make_unique<metrics::Metrics>(stats, &s.process);
  s.metrics->add(s.mcp->registry());
  if (s.aim)
    s.metrics->add(aimCollector(*s.aim));

  s.admin = std::make_unique<proxy::AdminServer>(
      &s.loop, *adminFd, [&s](const proxy::RequestParser& r) { return handleAdmin(s, r); });
  std::string err;
  if (!s.admin->start(err)) {
    log::error("cannot start", {{"error", err}});
    return 1;
  }
  for (auto& w : s.workers) {
    if (!w->start(err)) {
      log::error("cannot start a worker", {{"error", err}});
      for (auto& other : s.workers)
        other->stop();
      return 1;
    }
  }

  if (upstreamAddr) {
    s.probe = std::make_unique<proxy::UpstreamProbe>(
        &s.loop, *upstreamAddr, cfg.upstream->authority(), cfg.upstream->path, s.process);
    s.probe->onChange = [&s](bool up, const std::string& why) {
      if (up) {
        log::info("upstream is answering", {{"upstream", s.cfg.upstream->authority()}});
      } else {
        s.upstreamDown = why;
        log::warn("upstream is not answering; /readyz reports not ready",
                  {{"upstream", s.cfg.upstream->authority()}, {"error", why}});
      }
    };
    s.probe->start();
    s.lister->start();
  } else {
    s.upstreamDown = "the stdio MCP server is not running or not initialized yet";
  }

  uv_signal_init(&s.loop, &s.sigterm);
  uv_signal_init(&s.loop, &s.sigint);
  s.sigterm.data = s.sigint.data = &s;
  auto onSignal = [](uv_signal_t* h, int signum) {
    beginDrain(*static_cast<Server*>(h->data), signum);
  };
  uv_signal_start(&s.sigterm, onSignal, SIGTERM);
  uv_signal_start(&s.sigint, onSignal, SIGINT);

  if (s.aim) {
    uv_timer_init(&s.loop, &s.aimStart);
    s.aimStart.data = &s;
    s.aimWaitSinceNs = monoNowNs();
    s.aimStartActive = true;
    uv_timer_start(&s.aimStart, checkAimStart, 0, 200);
  }
  if (s.gate) {
    uv_timer_init(&s.loop, &s.trustWatch);
    s.trustWatch.data = &s;
    uv_timer_start(&s.trustWatch, checkTrustStore, 1000, 1000);
    s.watching = true;
  }
  if (cfg.verify == config::VerifyMode::Off)
    log::warn("signature verification is off (--verify off): every request is forwarded unsigned");
  else
    log::info("verifying request signatures",
              {{"mode", cfg.verify == config::VerifyMode::Enforce ? "enforce" : "monitor"},
               {"trust_store", cfg.trustStore},
               {"keys", static_cast<long long>(s.process.trustStoreKeys.load())},
               {"window_s", static_cast<unsigned long long>(cfg.windowSeconds)},
               {"replay_capacity", static_cast<unsigned long long>(cfg.replayCapacity)}});
  log::info("listening", {{"listen", s.listenAddr},
                          {"admin", s.adminAddr},
                          {"upstream", upstreamText(cfg)},
                          {"workers", cfg.workers},
                          {"version", kVersion}});

  uv_run(&s.loop, UV_RUN_DEFAULT);
  for (auto& w : s.workers)
    w->join();
  if (s.bridge) {
    // The workers are done: stop the child the MCP way (stdin EOF, SIGTERM, SIGKILL).
    s.bridge->stop();
    s.bridge->join();
  }
  if (s.aim) {
    // A final usage report, and a few seconds for the spool; what is left stays for next start.
    log::info("stopping the AIM client: delivering what is spooled (up to 5 s)");
    s.aim->stop(std::chrono::seconds(5));
  }
  if (s.lister)
    s.lister->stop();
  // Last: everything that records has stopped. A final checkpoint seals the trail.
  s.audit->stop("shutdown");
  s.admin.reset();
  s.probe.reset();
  uv_run(&s.loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&s.loop) != 0)
    log::warn("main loop closed with open handles");
  log::info("stopped", {{"uptime_s", static_cast<double>(monoNowNs() - s.startNs) / 1e9}});
  return 0;
}

} // namespace sidecar::app
