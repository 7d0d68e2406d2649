#include "config/serve_config.h"

#include <sched.h>
#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <thread>

#include "common/ascii.h"

namespace sidecar::config {

struct ServeOptions::Spec {
  const char* name;         // flag name without dashes, e.g. "max-body"
  const char* defaultValue; // shown in --help; empty = none
  const char* help;
  bool isFlag; // boolean presence flag
  // Applies a raw value; returns an error text (what is allowed) or an ok Status.
  std::function<Status(ServeConfig&, const std::string&)> apply;
  // A second environment variable read when MCP_SIDECAR_<NAME> is unset (AIM_URL, the name
  // AIM's own guide uses); nullptr = none.
  const char* altEnv = nullptr;
};

namespace {

std::string fileKey(const char* name) {
  std::string k = name;
  for (char& c : k)
    if (c == '-')
      c = '_';
  return k;
}

std::string envName(const char* name) {
  std::string k = "MCP_SIDECAR_" + fileKey(name);
  for (char& c : k)
    c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  return k;
}

Status parseUint(const std::string& v, uint64_t min, uint64_t max, uint64_t& out) {
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n < min || n > max)
    return Status::error("expected a whole number from " + std::to_string(min) + " to " +
                         std::to_string(max));
  out = n;
  return {};
}

Status parseBool(const std::string& v, bool& out) {
  if (v == "true" || v == "1" || v == "yes" || v == "on")
    out = true;
  else if (v == "false" || v == "0" || v == "no" || v == "off")
    out = false;
  else
    return Status::error("expected true or false");
  return {};
}

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (tolower(static_cast<unsigned char>(a[i])) != tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// "host", "host:port", "[v6]", "[v6]:port" -> the host, with brackets kept for IPv6.
std::string_view hostOnly(std::string_view hp) {
  if (!hp.empty() && hp[0] == '[') {
    size_t close = hp.find(']');
    return close == std::string_view::npos ? hp : hp.substr(0, close + 1);
  }
  size_t colon = hp.find(':');
  return colon == std::string_view::npos ? hp : hp.substr(0, colon);
}

std::vector<std::string> defaultHosts(const ServeConfig& cfg) {
  std::vector<std::string> h{"localhost", "127.0.0.1", "[::1]"};
  std::string listen = cfg.listen.host;
  if (listen.find(':') != std::string::npos)
    listen = "[" + listen + "]";
  if (!listen.empty() && listen != "0.0.0.0" && listen != "[::]")
    h.push_back(listen);
  return h;
}

template <typename F> auto duration(F setter) {
  return [setter](ServeConfig& c, const std::string& v) -> Status {
    auto d = parseDurationMs(v);
    if (!d.ok())
      return d.status();
    setter(c, *d);
    return {};
  };
}

template <typename F> auto size(F setter, uint64_t min) {
  return [setter, min](ServeConfig& c, const std::string& v) -> Status {
    auto s = parseSize(v);
    if (!s.ok())
      return s.status();
    if (*s < min)
      return Status::error("must be at least " + std::to_string(min) + " bytes");
    setter(c, *s);
    return {};
  };
}

std::vector<ServeOptions::Spec> makeSpecs() {
  using C = ServeConfig;
  return {
      {"listen", "127.0.0.1:8787", "the MCP listener callers reach (HOST:PORT; port 0 = any)",
       false,
       [](C& c, const std::string& v) -> Status {
         auto hp = parseHostPort(v);
         if (!hp.ok())
           return hp.status();
         c.listen = *hp;
         return {};
       }},
      {"admin", "127.0.0.1:9464", "admin listener: /healthz, /readyz, /metrics, /status", false,
       [](C& c, const std::string& v) -> Status {
         auto hp = parseHostPort(v);
         if (!hp.ok())
           return hp.status();
         c.admin = *hp;
         return {};
       }},
      {"upstream", "", "the MCP server over HTTP, e.g. http://127.0.0.1:3001/mcp", false,
       [](C& c, const std::string& v) -> Status {
         auto u = parseHttpUrl(v);
         if (!u.ok())
           return u.status();
         c.upstream = *u;
         return {};
       }},
      {"max-body", "4MiB", "request body limit (larger bodies get 413)", false,
       size([](C& c, uint64_t v) { c.maxBody = v; }, 0)},
      {"max-header-size", "32KiB", "request line and headers limit (larger get 431)", false,
       size([](C& c, uint64_t v) { c.maxHeaderSize = v; }, 1024)},
      {"max-connections", "10000", "concurrent client connections; more are answered 503", false,
       [](C& c, const std::string& v) -> Status {
         uint64_t n;
         if (auto s = parseUint(v, 1, 1000000, n); !s.ok())
           return s;
         c.maxConnections = static_cast<uint32_t>(n);
         return {};
       }},
      {"header-timeout", "10",
       "time allowed to receive a request's headers (and between body reads)", false,
       duration([](C& c, uint64_t v) { c.headerTimeoutMs = v; })},
      {"idle-timeout", "75", "keep-alive idle time before a client connection is closed", false,
       duration([](C& c, uint64_t v) { c.idleTimeoutMs = v; })},
      {"upstream-timeout", "300",
       "time allowed for the upstream's response headers (a streaming answer may then run on)",
       false, duration([](C& c, uint64_t v) { c.upstreamTimeoutMs = v; })},
      {"upstream-keepalive-timeout", "4",
       "idle upstream connections are closed after this long (keep it below the server's own)",
       false, duration([](C& c, uint64_t v) { c.upstreamKeepaliveMs = v; })},
      {"upstream-list-interval", "60",
       "an HTTP upstream: how often the sidecar lists its tools, resources and prompts itself "
       "(capabilities document, drift detection); at least 100ms",
       false,
       [](C& c, const std::string& v) -> Status {
         auto d = parseDurationMs(v);
         if (!d.ok())
           return d.status();
         // A listing is a whole MCP session with the server: not a busy loop.
         if (*d < 100)
           return Status::error("must be at least 100ms");
         c.upstreamListIntervalMs = *d;
         return {};
       }},
      {"upstream-max-idle", "128", "idle upstream connections kept per worker", false,
       [](C& c, const std::string& v) -> Status {
         uint64_t n;
         if (auto s = parseUint(v, 0, 100000, n); !s.ok())
           return s;
         c.upstreamMaxIdle = static_cast<uint32_t>(n);
         return {};
       }},
      {"drain-timeout", "30", "on SIGTERM, time allowed for in-flight requests", false,
       duration([](C& c, uint64_t v) { c.drainTimeoutMs = v; })},
      {"workers", "number of usable cores", "event loops serving the MCP listener", false,
       [](C& c, const std::string& v) -> Status {
         uint64_t n;
         if (auto s = parseUint(v, 1, 256, n); !s.ok())
           return s;
         c.workers = static_cast<unsigned>(n);
         return {};
       }},
      {"log-level", "info", "debug, info, warn or error", false,
       [](C& c, const std::string& v) -> Status {
         if (!log::parseLevel(v, c.logLevel))
           return Status::error("expected one of debug, info, warn, error");
         return {};
       }},
      {"access-log", "true", "one log line per request at info level", false,
       [](C& c, const std::string& v) { return parseBool(v, c.accessLog); }},
      {"verify", "enforce",
       "signature verification: enforce, monitor or off (enforce and monitor need --trust-store)",
       false,
       [](C& c, const std::string& v) -> Status {
         if (v == "enforce")
           c.verify = VerifyMode::Enforce;
         else if (v == "monitor")
           c.verify = VerifyMode::Monitor;
         else if (v == "off")
           c.verify = VerifyMode::Off;
         else
           return Status::error("expected one of enforce, monitor, off");
         return {};
       }},
      {"profiles", "mcp-sig-v1",
       "signature profiles accepted, comma-separated: mcp-sig-v1, seed, aim-agent-request-v1",
       false,
       [](C& c, const std::string& v) -> Status {
         c.profileMcpSigV1 = c.profileSeed = c.profileAimAgentRequest = false;
         size_t start = 0;
         while (start <= v.size()) {
           size_t comma = v.find(',', start);
           std::string p = v.substr(start, comma == std::string::npos ? comma : comma - start);
           while (!p.empty() && p.front() == ' ')
             p.erase(0, 1);
           while (!p.empty() && p.back() == ' ')
             p.pop_back();
           if (p == "mcp-sig-v1")
             c.profileMcpSigV1 = true;
           else if (p == "seed")
             c.profileSeed = true;
           else if (p == "aim-agent-request-v1")
             c.profileAimAgentRequest = true;
           else
             return Status::error("'" + p +
                                  "' is not a profile; expected a comma-separated list "
                                  "of mcp-sig-v1, seed, aim-agent-request-v1");
           if (comma == std::string::npos)
             break;
           start = comma + 1;
         }
         return {};
       }},
      {"window", "300", "accepted clock skew of signed requests (seconds or with a unit)", false,
       [](C& c, const std::string& v) -> Status {
         auto d = parseDurationMs(v);
         if (!d.ok())
           return d.status();
         if (*d < 1000 || *d > 86400000)
           return Status::error("expected a window from 1s to 24h");
         c.windowSeconds = *d / 1000;
         return {};
       }},
      {"require-nonce", "", "refuse mcp-sig-v1 requests without X-MCP-Nonce", true,
       [](C& c, const std::string& v) { return parseBool(v, c.requireNonce); }},
      {"replay-capacity", "1048576",
       "entries the replay cache holds (16 bytes each); when full, signed requests get 503", false,
       [](C& c, const std::string& v) -> Status {
         uint64_t n;
         if (auto s = parseUint(v, 1024, 1ull << 31, n); !s.ok())
           return s;
         c.replayCapacity = n;
         return {};
       }},
      {"mcp-path", "/mcp", "the endpoint path served for a stdio upstream", false,
       [](C& c, const std::string& v) -> Status {
         if (v.empty() || v[0] != '/' || v.find_first_of("?# ") != std::string::npos)
           return Status::error("expected a path starting with / (no query), e.g. /mcp");
         c.mcpPath = v;
         return {};
       }},
      {"child-per-session", "", "stdio upstream: one child per MCP session instead of one shared",
       true, [](C& c, const std::string& v) { return parseBool(v, c.childPerSession); }},
      {"max-children", "16", "with --child-per-session: sessions (children) at once", false,
       [](C& c, const std::string& v) -> Status {
         uint64_t n;
         if (auto s = parseUint(v, 1, 10000, n); !s.ok())
           return s;
         c.maxChildren = static_cast<uint32_t>(n);
         return {};
       }},
      {"child-idle-timeout", "10m",
       "stdio upstream: a session without traffic is ended after this long (with "
       "--child-per-session its child is stopped even while a GET stream is open)",
       false, duration([](C& c, uint64_t v) { c.childIdleTimeoutMs = v; })},
      {"allowed-hosts", "localhost,127.0.0.1,[::1] and the listen host",
       "Host header values accepted, comma-separated (* = any, for a sidecar behind a Service)",
       false,
       [](C& c, const std::string& v) -> Status {
         c.allowedHosts = splitList(v);
         if (c.allowedHosts.empty())
           return Status::error("expected a comma-separated list of host names, or *");
         return {};
       }},
      {"allowed-origins", "the allowed hosts, any scheme and port",
       "Origin header values accepted when present: host names (any scheme and port) or full "
       "origins such as https://app.example.com; * = any",
       false,
       [](C& c, const std::string& v) -> Status {
         c.allowedOrigins = splitList(v);
         if (c.allowedOrigins.empty())
           return Status::error("expected a comma-separated list of hosts or origins, or *");
         return {};
       }},
      {"state-dir", "./.mcp-sidecar",
       "where the sidecar keeps its key, audit trail, drift baseline and AIM state", false,
       [](C& c, const std::string& v) -> Status {
         if (v.empty())
           return Status::error("expected a directory path");
         c.stateDir = v;
         return {};
       }},
      {"key", "<state-dir>/identity.key (AIM_PRIVATE_KEY first)",
       "the sidecar's own Ed25519 key file (signs audit checkpoints, answers and AIM calls)", false,
       [](C& c, const std::string& v) -> Status {
         c.keyFile = v;
         return {};
       }},
      {"audit-log", "<state-dir>/audit.ndjson", "the audit trail (append-only NDJSON)", false,
       [](C& c, const std::string& v) -> Status {
         if (v.empty())
           return Status::error("expected a file path");
         c.auditLog = v;
         return {};
       }},
      {"audit-max-bytes", "100MiB", "rotate the audit file beyond this size", false,
       size([](C& c, uint64_t v) { c.auditMaxBytes = v; }, 4096)},
      {"audit-checkpoint-every", "1000", "a signed checkpoint every N audit records ...", false,
       [](C& c, const std::string& v) -> Status {
         uint64_t n;
         if (auto s = parseUint(v, 1, 10000000, n); !s.ok())
           return s;
         c.auditCheckpointEvery = static_cast<uint32_t>(n);
         return {};
       }},
      {"audit-checkpoint-interval", "10s", "... or after this long, whichever comes first", false,
       duration([](C& c, uint64_t v) { c.auditCheckpointIntervalMs = v; })},
      {"audit-capture-args", "",
       "write tool arguments (secret-looking values redacted, size capped) instead of a digest",
       true, [](C& c, const std::string& v) { return parseBool(v, c.auditCaptureArgs); }},
      {"drift-policy", "alert",
       "on a change of the server's tool definitions: alert (log, metric, audit) or block (also "
       "refuse calls of changed or added tools until `mcp-sidecar drift accept`)",
       false,
       [](C& c, const std::string& v) -> Status {
         if (v == "alert")
           c.driftBlock = false;
         else if (v == "block")
           c.driftBlock = true;
         else
           return Status::error("expected alert or block");
         return {};
       }},
      {"drift-baseline", "", "the expected tool-manifest hash (sha256:HEX) instead of learning it",
       false,
       [](C& c, const std::string& v) -> Status {
         c.driftBaseline = v;
         return {};
       }},
      {"observe", "true",
       "read MCP messages as they pass an HTTP upstream (audit records and MCP metrics per call); "
       "false only to measure what that costs",
       false, [](C& c, const std::string& v) { return parseBool(v, c.observe); }},
      {"gate", "",
       "tools whose calls need AIM approval first, comma-separated (without AIM "
       "they are refused with -31003)",
       false,
       [](C& c, const std::string& v) -> Status {
         c.gate = splitList(v);
         return {};
       }},
      {"gate-timeout", "300", "how long a pending AIM approval may hold a gated call", false,
       duration([](C& c, uint64_t v) { c.gateTimeoutMs = v; })},
      {"server-name", "the upstream's serverInfo.name",
       "the server's name in the capabilities document and at AIM", false,
       [](C& c, const std::string& v) -> Status {
         c.serverName = v;
         return {};
       }},
      {"public-url", "http://<listen><mcp-path>",
       "the URL by which callers and AIM reach this sidecar's MCP endpoint", false,
       [](C& c, const std::string& v) -> Status {
         if (!v.starts_with("http://") && !v.starts_with("https://"))
           return Status::error("expected an http:// or https:// URL, e.g. "
                                "https://files.example.com/mcp");
         c.publicUrl = v;
         while (c.publicUrl.size() > 8 && c.publicUrl.back() == '/')
           c.publicUrl.pop_back();
         return {};
       }},
      {"aim-url", "AIM_URL, else none (AIM off)", "the AIM platform, e.g. https://aim.example.com",
       false,
       [](C& c, const std::string& v) -> Status {
         if (!v.empty() && !v.starts_with("http://") && !v.starts_with("https://"))
           return Status::error("expected an http:// or https:// URL of the AIM platform");
         c.aimUrl = v;
         return {};
       },
       "AIM_URL"},
      {"aim-agent-id", "kept in <state-dir>/aim/ after the first registration",
       "the AIM agent the sidecar's key is registered under", false,
       [](C& c, const std::string& v) -> Status {
         c.aimAgentId = v;
         return {};
       }},
      {"aim-api-key", "AIM_API_KEY",
       "AIM API key, used once to register the agent when no agent id is known", false,
       [](C& c, const std::string& v) -> Status {
         c.aimApiKey = v;
         return {};
       },
       "AIM_API_KEY"},
      {"aim-ca-file", "the system store", "CA bundle for AIM's TLS certificate", false,
       [](C& c, const std::string& v) -> Status {
         c.aimCaFile = v;
         return {};
       }},
      {"aim-heartbeat-interval", "30", "time between heartbeats to AIM", false,
       duration([](C& c, uint64_t v) { c.aimHeartbeatIntervalMs = v; })},
      {"aim-usage-interval", "60", "time between usage reports to AIM", false,
       duration([](C& c, uint64_t v) { c.aimUsageIntervalMs = v; })},
      {"aim-revocation-interval", "300",
       "time between reads of AIM's revocation list (AIM caches it for 300 s)", false,
       duration([](C& c, uint64_t v) { c.aimRevocationIntervalMs = v; })},
      {"aim-retry-max", "60",
       "longest wait between retries of an AIM call (backoff from 1 s, doubling, with jitter)",
       false, duration([](C& c, uint64_t v) { c.aimRetryMaxMs = v < 1000 ? 1000 : v; })},
      {"spool-max-bytes", "256MiB",
       "disk spool for what AIM must learn; near the bound, /readyz fails", false,
       size([](C& c, uint64_t v) { c.spoolMaxBytes = v; }, 1 << 20)},
      {"trust-store", "", "YAML file of caller keys, reloaded when it changes", false,
       [](C& c, const std::string& v) -> Status {
         c.trustStore = v;
         return {};
       }},
  };
}

// Reads the YAML file into key -> scalar text. Sequences become comma-separated lists.
struct FileStdio {
  bool present = false;
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string cwd;
};

Status readStdio(const YAML::Node& v, const std::string& path, FileStdio& out) {
  std::string where = "key upstream in " + path;
  for (const auto& kv : v) {
    std::string k = kv.first.as<std::string>();
    if (k != "command" && k != "args" && k != "env" && k != "cwd")
      return Status::error(where + ": unknown field '" + k +
                           "'; a stdio upstream has command, args, env and cwd");
  }
  if (!v["command"] || !v["command"].IsScalar() || v["command"].as<std::string>().empty())
    return Status::error(where + ": a stdio upstream needs `command` (e.g. command: npx)");
  out.argv.push_back(v["command"].as<std::string>());
  if (v["args"]) {
    if (!v["args"].IsSequence())
      return Status::error(where + ": `args` must be a list, e.g. args: [-y, pkg, /data]");
    for (const auto& a : v["args"])
      out.argv.push_back(a.as<std::string>());
  }
  if (v["env"]) {
    if (!v["env"].IsMap())
      return Status::error(where + ": `env` must be a map of NAME: value");
    for (const auto& e : v["env"])
      out.env.push_back(e.first.as<std::string>() + "=" + e.second.as<std::string>());
  }
  if (v["cwd"])
    out.cwd = v["cwd"].as<std::string>();
  out.present = true;
  return {};
}

Result<std::map<std::string, std::string>>
readFile(const std::string& path, const std::vector<ServeOptions::Spec>& specs, FileStdio& stdio) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return Status::error("cannot read config file " + path + ": " + strerror(errno) +
                         " (check --config / MCP_SIDECAR_CONFIG)");
  } catch (const YAML::Exception& e) {
    return Status::error("config file " + path + " is not valid YAML: " + e.what());
  }
  std::map<std::string, std::string> out;
  if (root.IsNull())
    return out;
  if (!root.IsMap())
    return Status::error("config file " + path +
                         " must be a YAML map of settings at the top "
                         "level (e.g. `listen: 127.0.0.1:8787`)");
  for (const auto& kv : root) {
    std::string key = kv.first.as<std::string>();
    bool known = key == "upstream";
    for (const auto& s : specs)
      known = known || fileKey(s.name) == key;
    if (!known) {
      std::string list;
      for (const auto& s : specs)
        list += (list.empty() ? "" : ", ") + fileKey(s.name);
      return Status::error("unknown key '" + key + "' in config file " + path +
                           "; known keys: " + list);
    }
    const YAML::Node& v = kv.second;
    if (key == "upstream" && v.IsMap()) {
      if (Status st = readStdio(v, path, stdio); !st.ok())
        return st;
      continue;
    }
    if (v.IsScalar()) {
      out[key] = v.as<std::string>();
    } else if (v.IsSequence()) {
      std::string joined;
      for (const auto& item : v)
        joined += (joined.empty() ? "" : ",") + item.as<std::string>();
      out[key] = joined;
    } else {
      return Status::error("key '" + key + "' in config file " + path +
                           " must be a single value or a list");
    }
  }
  return out;
}

} // namespace

bool hostAllowed(const ServeConfig& cfg, std::string_view hostHeader, std::string& why) {
  if (hostHeader.empty())
    return true; // HTTP/1.0 without Host: nothing a rebinding attack could use
  std::string_view host = hostOnly(hostHeader);
  for (const std::string& h : cfg.allowedHosts)
    if (h == "*" || iequal(h, host))
      return true;
  why = "Host '" + std::string(hostHeader) +
        "' is not allowed; add it to --allowed-hosts (or * behind a Kubernetes Service)";
  return false;
}

bool originAllowed(const ServeConfig& cfg, std::string_view origin, std::string& why) {
  if (origin.empty())
    return true; // non-browser clients send none
  const std::vector<std::string>& list = cfg.allowedOrigins;
  size_t scheme = origin.find("://");
  std::string_view host =
      scheme == std::string_view::npos ? std::string_view() : hostOnly(origin.substr(scheme + 3));
  for (const std::string& o : list) {
    if (o == "*")
      return true;
    if (o.find("://") != std::string::npos ? iequal(o, origin) : (!host.empty() && iequal(o, host)))
      return true;
  }
  why = "Origin '" + std::string(origin) + "' is not allowed; add it to --allowed-origins";
  return false;
}

unsigned usableCpus() {
  unsigned n = std::thread::hardware_concurrency();
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    n = static_cast<unsigned>(CPU_COUNT(&set));
  // cgroup v2 quota: "max 100000" or "200000 100000".
  std::ifstream f("/sys/fs/cgroup/cpu.max");
  std::string quota, period;
  if (f >> quota >> period && quota != "max") {
    double q = atof(quota.c_str()), p = atof(period.c_str());
    if (q > 0 && p > 0)
      n = std::min(n, static_cast<unsigned>(std::ceil(q / p)));
  }
  return n == 0 ? 1 : n;
}

ServeOptions::ServeOptions() : specs_(makeSpecs()) {
  cliValues_.resize(specs_.size() + 1);
  cliOptions_.resize(specs_.size() + 1, nullptr);
}
ServeOptions::~ServeOptions() = default;

void ServeOptions::registerFlags(CLI::App& app) {
  cliOptions_.back() = app.add_option("--config", cliValues_.back(),
                                      "YAML configuration file (env MCP_SIDECAR_CONFIG)");
  for (size_t i = 0; i < specs_.size(); ++i) {
    const Spec& s = specs_[i];
    std::string help = std::string(s.help) + " [env " + envName(s.name) + "]";
    CLI::Option* o = s.isFlag
                         ? app.add_flag(std::string("--") + s.name + "{true}", cliValues_[i], help)
                         : app.add_option(std::string("--") + s.name, cliValues_[i], help);
    if (*s.defaultValue)
      o->default_str(s.defaultValue);
    cliOptions_[i] = o;
  }
  app.add_option("command", command_, "after --: a stdio MCP server to start (COMMAND ARGS...)");
}

Result<ServeConfig>
ServeOptions::resolve(const std::function<const char*(const char*)>& getenv) const {
  ServeConfig cfg;
  cfg.workers = usableCpus();

  // The file first, since its values sit below flags and environment.
  std::string configPath;
  if (cliOptions_.back() && cliOptions_.back()->count() > 0)
    configPath = cliValues_.back();
  else if (const char* e = getenv("MCP_SIDECAR_CONFIG"))
    configPath = e;
  std::map<std::string, std::string> file;
  FileStdio stdio;
  if (!configPath.empty()) {
    auto r = readFile(configPath, specs_, stdio);
    if (!r.ok())
      return r.status();
    file = std::move(*r);
    cfg.configFile = configPath;
  }

  for (size_t i = 0; i < specs_.size(); ++i) {
    const Spec& s = specs_[i];
    std::string value, where;
    if (cliOptions_[i] && cliOptions_[i]->count() > 0) {
      value = cliValues_[i];
      where = std::string("--") + s.name;
    } else if (const char* e = getenv(envName(s.name).c_str())) {
      value = e;
      where = "environment variable " + envName(s.name);
    } else if (const char* a = s.altEnv ? getenv(s.altEnv) : nullptr) {
      value = a;
      where = std::string("environment variable ") + s.altEnv;
    } else if (auto it = file.find(fileKey(s.name)); it != file.end()) {
      value = it->second;
      where = "key " + fileKey(s.name) + " in " + configPath;
    } else {
      continue; // the default in ServeConfig applies
    }
    Status st = s.apply(cfg, value);
    if (!st.ok())
      return Status::error("invalid " + where + " = '" + value + "': " + st.message());
  }

  // `-- COMMAND` on the command line wins over the file's upstream, like any flag.
  size_t upstreamIndex = 0;
  while (std::string_view(specs_[upstreamIndex].name) != "upstream")
    ++upstreamIndex;
  if (!command_.empty()) {
    if (cliOptions_[upstreamIndex] && cliOptions_[upstreamIndex]->count() > 0)
      return Status::error("give either --upstream URL or -- COMMAND ARGS..., not both");
    cfg.upstream.reset();
    cfg.upstreamCommand = command_;
  } else if (stdio.present && !cfg.upstream) {
    cfg.upstreamCommand = stdio.argv;
    cfg.upstreamEnv = stdio.env;
    cfg.upstreamCwd = stdio.cwd;
  } // else a URL from the flag or the environment outranks the file's {command, ...}
  // The allow-lists' defaults, resolved once here so that a request's check allocates nothing.
  if (cfg.allowedHosts.empty())
    cfg.allowedHosts = defaultHosts(cfg);
  if (cfg.allowedOrigins.empty())
    cfg.allowedOrigins = cfg.allowedHosts;
  if (!cfg.upstream && cfg.upstreamCommand.empty())
    return Status::error(
        "no upstream: give --upstream http://HOST:PORT/mcp for an MCP server that speaks HTTP, "
        "or -- COMMAND ARGS... for a stdio server the sidecar starts (or MCP_SIDECAR_UPSTREAM, "
        "or `upstream:` in the config file: a URL or {command, args, env, cwd})");
  if (cfg.verify != VerifyMode::Off && cfg.trustStore.empty())
    return Status::error(
        std::string("--verify ") + (cfg.verify == VerifyMode::Enforce ? "enforce" : "monitor") +
        " needs a trust store of caller keys: pass --trust-store FILE (see docs/configuration.md), "
        "or --verify off to forward unsigned requests");
  return cfg;
}

std::vector<std::string> splitList(std::string_view v) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= v.size()) {
    size_t comma = v.find(',', start);
    std::string_view item =
        trimBlanks(v.substr(start, comma == std::string_view::npos ? comma : comma - start));
    if (!item.empty())
      out.emplace_back(item);
    if (comma == std::string_view::npos)
      break;
    start = comma + 1;
  }
  return out;
}

} // namespace sidecar::config
