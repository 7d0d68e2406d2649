// mcp-sidecar-load: an HTTP/1.1 load generator for mcp-sidecar that sends pre-signed mcp-sig-v1
// requests (docs/signing.md), in a closed loop (C connections, one request in flight on each) or
// an open loop (requests scheduled every 1/R seconds whatever the answers, latency measured from
// each request's scheduled time so that queueing is not hidden: no coordinated omission).
//
//   mcp-sidecar-load --url http://127.0.0.1:PORT/mcp --connections C [--duration S | --requests N]
//                    [--rate R] [--key FILE --key-id ID] [--body-bytes 300] [--presign N]
//
// Every request is built (and with --key signed: unique 22-character nonce, the current
// timestamp, a unique JSON-RPC id in the body) before the clock starts, so signing never runs in
// the measured loop. A signed run that uses up its pre-signed requests stops there and says so; it
// never sends a nonce twice. One libuv loop on one thread; answers are parsed with llhttp.
//
// Last line on stdout:
//   RESULT mode=closed|open rps=… p50_us=… p90_us=… p99_us=… p999_us=… sent=… ok=… non2xx=…
//          errors=… late=… (then more fields, see printResult)
// Exit status: 0 run done, 1 setup failed (connect, key), 2 bad usage, 3 pre-signed requests ran
// out before the end of the run (the RESULT line is still printed, with exhausted=1).

#include <llhttp.h>
#include <sched.h>
#include <sodium.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "verifier/keys.h"
#include "verifier/verifier.h"

namespace {

namespace vf = sidecar::verifier;

constexpr int64_t kNsPerSec = 1'000'000'000;

int64_t nowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
}

[[noreturn]] void usageError(const std::string& msg) {
  std::fprintf(stderr, "mcp-sidecar-load: %s (see --help)\n", msg.c_str());
  std::exit(2);
}

[[noreturn]] void fatal(const std::string& msg) {
  std::fprintf(stderr, "mcp-sidecar-load: %s\n", msg.c_str());
  std::exit(1);
}

const char* kHelp =
    R"(usage: mcp-sidecar-load --url http://127.0.0.1:PORT/PATH --connections C
                        (--duration S | --requests N) [--rate R]
                        [--key FILE [--key-id ID]] [--body-bytes 300] [--presign N]
                        [--timeout 5] [--cpu N] [--sign-threads T] [--max-seconds 120]

  --url URL          target; the host must be 127.0.0.1 (all load stays on this machine)
  --connections C    keep-alive connections (HTTP/1.1, one request in flight on each)
  --duration S       length of the measured run: 10, 10s, 500ms, 1m
  --requests N       or: send N requests, then stop
  --rate R           open loop: one request every 1/R s, whatever the answers; a request that
                     finds no idle connection waits for one (counted as late) and its latency
                     still counts from its scheduled time. Without --rate: closed loop.
  --key FILE         caller private key (any form of docs/signing.md §1, e.g. from
                     `mcp-sidecar keygen`); without it the same requests go out unsigned
  --key-id ID        X-MCP-Key-Id (default: the key's fingerprint)
  --body-bytes B     size of each JSON-RPC tools/call body (default 300)
  --presign N        requests to build before the clock starts. Default: exactly what an open
                     loop or --requests needs; for a closed loop with --duration,
                     40000 x duration (signed; the run stops if they run out) or
                     min(that, 65536) (unsigned; reused round-robin, there is no nonce)
  --timeout S        per-request answer deadline and end-of-run drain limit (default 5 s)
  --cpu N            pin the load loop to cpu N after pre-signing (which uses every allowed cpu)
  --sign-threads T   threads for pre-signing (default: the number of allowed cpus)
  --max-seconds S    hard limit for a --requests run (default 120)

Prints one `RESULT mode=… rps=… p50_us=… p90_us=… p99_us=… p999_us=… sent=… ok=… non2xx=…
errors=… late=…` line (then max_us, elapsed_s, conns, signed, pool, exhausted, timeouts,
connect_errors, resp_signed, lag_p99_us, unsent, reconnects, watchdog, presign_s). Exit 3 when the pre-signed requests ran out.
)";

// ------------------------------------------------------------------ options

struct Options {
  std::string url;
  std::string hostPort; // for the Host header
  int port = 0;
  std::string target;
  int connections = 0;
  double durationS = 0;
  uint64_t requests = 0;
  double rate = 0;
  std::string keyFile;
  std::string keyId;
  size_t bodyBytes = 300;
  uint64_t presign = 0;
  double timeoutS = 5;
  int cpu = -1;
  int signThreads = 0;
  double maxSeconds = 120;
};

bool parseDouble(std::string_view s, double& out) {
  std::string str(s);
  char* end = nullptr;
  errno = 0;
  out = std::strtod(str.c_str(), &end);
  return errno == 0 && end != str.c_str() && *end == '\0' && std::isfinite(out);
}

bool parseU64(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 19)
    return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9')
      return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  out = v;
  return true;
}

// "10", "10s", "500ms", "1m" -> seconds.
bool parseSeconds(std::string_view s, double& out) {
  double mult = 1;
  if (s.size() > 2 && s.substr(s.size() - 2) == "ms") {
    mult = 0.001;
    s.remove_suffix(2);
  } else if (!s.empty() && s.back() == 's') {
    s.remove_suffix(1);
  } else if (!s.empty() && s.back() == 'm') {
    mult = 60;
    s.remove_suffix(1);
  }
  if (!parseDouble(s, out))
    return false;
  out *= mult;
  return out > 0;
}

void parseUrl(Options& o) {
  const std::string_view prefix = "http://";
  std::string_view u = o.url;
  if (u.substr(0, prefix.size()) != prefix)
    usageError("--url must start with http:// (got '" + o.url + "')");
  u.remove_prefix(prefix.size());
  size_t slash = u.find('/');
  std::string_view authority = u.substr(0, slash);
  o.target = slash == std::string_view::npos ? "/" : std::string(u.substr(slash));
  size_t hash = o.target.find('#');
  if (hash != std::string::npos)
    o.target.resize(hash);
  size_t colon = authority.rfind(':');
  std::string_view host = authority.substr(0, colon);
  uint64_t port = 80;
  if (colon != std::string_view::npos &&
      (!parseU64(authority.substr(colon + 1), port) || port == 0 || port > 65535))
    usageError("bad port in --url '" + o.url + "'");
  if (host != "127.0.0.1")
    usageError("--url must point at 127.0.0.1: this tool sends load to this machine only (got '" +
               std::string(host) + "')");
  o.port = static_cast<int>(port);
  o.hostPort = std::string(authority);
}

Options parseArgs(int argc, char** argv) {
  Options o;
  bool haveDuration = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kHelp, stdout);
      std::exit(0);
    }
    std::string value;
    size_t eq = arg.find('=');
    if (arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
    } else {
      if (i + 1 >= argc)
        usageError(arg + " needs a value");
      value = argv[++i];
    }
    uint64_t n = 0;
    double d = 0;
    if (arg == "--url") {
      o.url = value;
    } else if (arg == "--connections" || arg == "-c") {
      if (!parseU64(value, n) || n == 0 || n > 10000)
        usageError("--connections must be 1..10000");
      o.connections = static_cast<int>(n);
    } else if (arg == "--duration" || arg == "-d") {
      if (!parseSeconds(value, o.durationS))
        usageError("--duration: expected e.g. 10s");
      haveDuration = true;
    } else if (arg == "--requests" || arg == "-n") {
      if (!parseU64(value, o.requests) || o.requests == 0)
        usageError("--requests must be a positive integer");
    } else if (arg == "--rate") {
      if (!parseDouble(value, o.rate) || o.rate <= 0 || o.rate > 1e7)
        usageError("--rate must be a positive number of requests per second");
    } else if (arg == "--key") {
      o.keyFile = value;
    } else if (arg == "--key-id") {
      o.keyId = value;
    } else if (arg == "--body-bytes") {
      if (!parseU64(value, n) || n > (1u << 24))
        usageError("--body-bytes: expected a size");
      o.bodyBytes = n;
    } else if (arg == "--presign") {
      if (!parseU64(value, o.presign) || o.presign == 0)
        usageError("--presign must be a positive integer");
    } else if (arg == "--timeout") {
      if (!parseSeconds(value, o.timeoutS))
        usageError("--timeout: expected e.g. 5s");
    } else if (arg == "--cpu") {
      if (!parseU64(value, n) || n >= CPU_SETSIZE)
        usageError("--cpu: expected a cpu number");
      o.cpu = static_cast<int>(n);
    } else if (arg == "--sign-threads") {
      if (!parseU64(value, n) || n == 0 || n > 256)
        usageError("--sign-threads must be 1..256");
      o.signThreads = static_cast<int>(n);
    } else if (arg == "--max-seconds") {
      if (!parseSeconds(value, d))
        usageError("--max-seconds: expected e.g. 300");
      o.maxSeconds = d;
    } else {
      usageError("unknown option " + arg);
    }
  }
  if (o.url.empty())
    usageError("--url is required");
  if (o.connections == 0)
    usageError("--connections is required");
  if (haveDuration == (o.requests > 0))
    usageError("give exactly one of --duration and --requests");
  if (!o.keyId.empty() && o.keyFile.empty())
    usageError("--key-id needs --key");
  parseUrl(o);
  return o;
}

// ------------------------------------------------------------------ requests

// A tools/call request of exactly `bytes` bytes with JSON-RPC id `id`.
std::string makeBody(uint64_t id, size_t bytes) {
  std::string head = R"({"jsonrpc":"2.0","id":)" + std::to_string(id) +
                     R"(,"method":"tools/call","params":{"name":"echo","arguments":{"message":")";
  const std::string tail = R"("}}})";
  if (head.size() + tail.size() + 1 > bytes)
    usageError("--body-bytes " + std::to_string(bytes) +
               " is too small for a tools/call body (need " +
               std::to_string(head.size() + tail.size() + 1) + ")");
  static const std::string_view filler = "signed load for mcp-sidecar ";
  std::string body = head;
  size_t pad = bytes - head.size() - tail.size();
  for (size_t i = 0; i < pad; ++i)
    body += filler[i % filler.size()];
  body += tail;
  return body;
}

struct Signer {
  vf::PrivateKey key;
  std::string keyId;
};

std::string makeRequest(const Options& o, uint64_t index, const Signer* signer,
                        const std::string& timestamp) {
  std::string body = makeBody(index + 1, o.bodyBytes);
  std::string r;
  r.reserve(body.size() + 512);
  r += "POST " + o.target + " HTTP/1.1\r\nHost: " + o.hostPort +
       "\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
       "Content-Length: " +
       std::to_string(body.size()) + "\r\n";
  if (signer) {
    std::string nonce = vf::randomNonce(); // 22-character base64url of 16 random bytes
    std::string message =
        vf::signedMessage("POST", o.target, timestamp, nonce, signer->keyId, "", body);
    vf::Signature sig = vf::sign(signer->key, message);
    r += "X-MCP-Key-Id: " + signer->keyId + "\r\nX-MCP-Timestamp: " + timestamp +
         "\r\nX-MCP-Nonce: " + nonce + "\r\nX-MCP-Signature: " + vf::base64(sig) + "\r\n";
  }
  r += "\r\n";
  r += body;
  return r;
}

int allowedCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0)
    return 1;
  return std::max(1, CPU_COUNT(&set));
}

// Builds (and signs) `count` requests on `threads` threads.
std::vector<std::string> buildPool(const Options& o, uint64_t count, const Signer* signer,
                                   int threads) {
  std::vector<std::string> pool(count);
  std::string timestamp = std::to_string(static_cast<long long>(time(nullptr)));
  auto work = [&](uint64_t from, uint64_t to) {
    for (uint64_t i = from; i < to; ++i)
      pool[i] = makeRequest(o, i, signer, timestamp);
  };
  uint64_t t = std::min<uint64_t>(static_cast<uint64_t>(threads), count);
  std::vector<std::thread> workers;
  for (uint64_t k = 0; k < t; ++k)
    workers.emplace_back(work, count * k / t, count * (k + 1) / t);
  for (auto& w : workers)
    w.join();
  return pool;
}

// ------------------------------------------------------------------ the load loop

struct Loader;

struct Conn {
  uv_tcp_t tcp;
  uv_connect_t connectReq;
  uv_timer_t retry;
  Loader* L = nullptr;
  llhttp_t parser;
  std::unique_ptr<char[]> readBuf;
  bool open = false;      // handle initialised and not closing
  bool connected = false; // may carry requests
  bool busy = false;      // a request is in flight
  bool idle = false;      // open loop: on the idle stack
  int writes = 0;         // uv_write requests pending
  int64_t schedNs = 0;
  int64_t sentNs = 0;
  bool respSigned = false;
  std::string field; // current header name (lowercase), may arrive in pieces
  int begun = 0;     // answers begun since the request was sent
  int completed = 0; // answers completed since the request was sent
  // Taken when the answer completes: llhttp resets its flags for the next message right after
  // on_message_complete, so asking once llhttp_execute has returned would be wrong.
  int status = 0;
  bool keepAlive = true;
  bool capture = false; // this answer is the run's first non-2xx one: keep its body
};

constexpr size_t kReadBuf = 64 * 1024;

struct Loader {
  Options o;
  bool open = false; // open loop
  bool signedMode = false;
  uv_loop_t* loop = nullptr;
  std::vector<std::unique_ptr<Conn>> conns;
  std::vector<std::string> pool;
  uint64_t needed = 0; // requests to send (open loop, --requests); 0 = until the deadline
  llhttp_settings_t settings;

  enum class Phase { Connecting, Running, Draining, Done } phase = Phase::Connecting;
  int connectedCount = 0;
  int64_t t0 = 0;
  int64_t lastRespNs = 0;
  uint64_t nextIndex = 0; // next pool entry / open-loop schedule slot
  bool exhausted = false;
  bool watchdogFired = false;

  uint64_t sent = 0, ok = 0, non2xx = 0, errors = 0, timeouts = 0, connectErrors = 0, late = 0;
  uint64_t respSigned = 0;
  uint64_t unsent = 0;     // open loop: scheduled, still waiting for a connection at the end
  uint64_t reconnects = 0; // connections reopened during the run (server closed, or an error)
  uint64_t inflight = 0;
  std::array<uint64_t, 600> statuses{};
  std::string firstBad; // the first non-2xx answer, for diagnosis
  int firstBadStatus = 0;
  std::vector<int64_t> latNs;
  std::vector<int64_t> lagNs; // open loop: send time - scheduled time

  // open loop
  std::vector<Conn*> idleStack;
  std::deque<std::pair<uint64_t, int64_t>> waiting; // (index, scheduled ns) of late requests
  int timerFd = -1;
  uv_poll_t timerPoll;
  uv_timer_t deadline, drainTimer, ticker, watchdog, connectDeadline;
  double periodNs = 0;

  int64_t scheduledNs(uint64_t i) const {
    return t0 + static_cast<int64_t>(std::llround(static_cast<long double>(i) * periodNs));
  }

  // --------------------------------------------------------- connections
  void startConnect(Conn* c) {
    if (phase != Phase::Connecting)
      ++reconnects;
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
    c->open = true;
    c->connected = c->busy = c->idle = false;
    sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", o.port, &addr);
    c->connectReq.data = c;
    int r = uv_tcp_connect(&c->connectReq, &c->tcp, reinterpret_cast<const sockaddr*>(&addr),
                           [](uv_connect_t* req, int status) {
                             auto* conn = static_cast<Conn*>(req->data);
                             conn->L->onConnect(conn, status);
                           });
    if (r != 0)
      onConnect(c, r);
  }

  void onConnect(Conn* c, int status) {
    if (status == UV_ECANCELED)
      return;
    if (status != 0) {
      ++connectErrors;
      if (phase == Phase::Connecting)
        fatal("cannot connect to 127.0.0.1:" + std::to_string(o.port) + ": " + uv_strerror(status) +
              " (is the server running?)");
      closeConn(c, true);
      return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    llhttp_init(&c->parser, HTTP_RESPONSE, &settings);
    c->parser.data = c;
    c->connected = true;
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&c->tcp),
        [](uv_handle_t* h, size_t, uv_buf_t* buf) {
          auto* conn = static_cast<Conn*>(h->data);
          *buf = uv_buf_init(conn->readBuf.get(), kReadBuf);
        },
        [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
          auto* conn = static_cast<Conn*>(s->data);
          conn->L->onRead(conn, n, buf);
        });
    if (phase == Phase::Connecting) {
      if (++connectedCount == o.connections)
        start();
      return;
    }
    ready(c);
  }

  // Closes the connection; reconnects (after 10 ms when `retryLater`) unless the run is over.
  void closeConn(Conn* c, bool retryLater) {
    if (!c->open)
      return;
    c->open = c->connected = c->idle = false;
    if (c->busy) {
      c->busy = false;
      --inflight;
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), retryLater ? onClosedRetry : onClosed);
  }
  static void onClosed(uv_handle_t* h) {
    auto* c = static_cast<Conn*>(h->data);
    if (c->L->phase == Phase::Running || (c->L->phase == Phase::Draining && !c->L->waiting.empty()))
      c->L->startConnect(c);
    c->L->maybeFinish();
  }
  static void onClosedRetry(uv_handle_t* h) {
    auto* c = static_cast<Conn*>(h->data);
    if (c->L->phase != Phase::Running) {
      c->L->maybeFinish();
      return;
    }
    uv_timer_start(
        &c->retry,
        [](uv_timer_t* t) {
          auto* conn = static_cast<Conn*>(t->data);
          if (conn->L->phase == Phase::Running && !conn->open)
            conn->L->startConnect(conn);
        },
        10, 0);
  }

  // A request failed on `c` (read error, early close, parse error, timeout): count it, reconnect.
  void failRequest(Conn* c) {
    if (c->busy)
      ++errors;
    closeConn(c, false);
    maybeFinish();
  }

  // --------------------------------------------------------- sending
  void send(Conn* c, uint64_t index, int64_t schedNs) {
    const std::string& req = pool[index % pool.size()];
    c->busy = true;
    c->respSigned = false;
    c->begun = c->completed = 0;
    c->capture = false;
    c->schedNs = schedNs;
    c->sentNs = nowNs();
    if (open)
      lagNs.push_back(c->sentNs - schedNs);
    ++inflight;
    ++sent;
    uv_buf_t buf = uv_buf_init(const_cast<char*>(req.data()), static_cast<unsigned>(req.size()));
    auto* stream = reinterpret_cast<uv_stream_t*>(&c->tcp);
    int r = uv_try_write(stream, &buf, 1);
    if (r == static_cast<int>(req.size()))
      return;
    if (r < 0 && r != UV_EAGAIN) {
      failRequest(c);
      return;
    }
    // The socket took part of it (rare on loopback): libuv writes the rest. The request object
    // is allocated per write, since an earlier one may still wait for its callback.
    size_t done = r > 0 ? static_cast<size_t>(r) : 0;
    buf =
        uv_buf_init(const_cast<char*>(req.data() + done), static_cast<unsigned>(req.size() - done));
    auto* w = new uv_write_t;
    w->data = c;
    ++c->writes;
    r = uv_write(w, stream, &buf, 1, [](uv_write_t* done_w, int status) {
      auto* conn = static_cast<Conn*>(done_w->data);
      delete done_w;
      --conn->writes;
      if (status != 0 && status != UV_ECANCELED && conn->open)
        conn->L->failRequest(conn);
    });
    if (r != 0) {
      delete w;
      --c->writes;
      failRequest(c);
    }
  }

  // Closed loop: the next request on `c`, or nothing when the run is ending.
  void sendNextClosed(Conn* c) {
    if (phase != Phase::Running)
      return;
    if (needed > 0 && nextIndex >= needed) {
      beginDrain();
      return;
    }
    if (nextIndex >= pool.size() && signedMode) {
      exhausted = true;
      beginDrain();
      return;
    }
    uint64_t i = nextIndex++;
    send(c, i, nowNs());
  }

  // `c` can carry a request now.
  void ready(Conn* c) {
    if (!open) {
      sendNextClosed(c);
      maybeFinish();
      return;
    }
    if (!waiting.empty() && (phase == Phase::Running || phase == Phase::Draining)) {
      auto [i, sched] = waiting.front();
      waiting.pop_front();
      send(c, i, sched);
      return;
    }
    c->idle = true;
    idleStack.push_back(c);
    maybeFinish();
  }

  // Open loop: request `i`, due at `sched`.
  void dispatch(uint64_t i, int64_t sched) {
    while (!idleStack.empty()) {
      Conn* c = idleStack.back();
      idleStack.pop_back();
      if (c->idle && c->connected && !c->busy) {
        c->idle = false;
        send(c, i, sched);
        return;
      }
    }
    ++late;
    waiting.emplace_back(i, sched);
  }

  void armTimer(int64_t atNs) {
    itimerspec its{};
    its.it_value.tv_sec = atNs / kNsPerSec;
    its.it_value.tv_nsec = atNs % kNsPerSec;
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
      its.it_value.tv_nsec = 1;
    timerfd_settime(timerFd, TFD_TIMER_ABSTIME, &its, nullptr);
  }

  void onTick() {
    uint64_t expirations;
    while (read(timerFd, &expirations, sizeof expirations) > 0) {
    }
    if (phase != Phase::Running)
      return;
    int64_t now = nowNs();
    while (nextIndex < needed && scheduledNs(nextIndex) <= now) {
      dispatch(nextIndex, scheduledNs(nextIndex));
      ++nextIndex;
    }
    if (nextIndex >= needed) {
      uv_poll_stop(&timerPoll);
      beginDrain();
      return;
    }
    armTimer(scheduledNs(nextIndex));
  }

  // --------------------------------------------------------- receiving
  void onRead(Conn* c, ssize_t n, const uv_buf_t* buf) {
    if (n == 0)
      return;
    if (n < 0) {
      // An answer delimited by the end of the connection completes here; anything else in
      // flight is lost (counted by failRequest).
      if (c->busy && n == UV_EOF && llhttp_finish(&c->parser) == HPE_OK && c->completed == 1) {
        complete(c);
        closeConn(c, false);
        maybeFinish();
        return;
      }
      failRequest(c);
      return;
    }
    if (!c->busy) { // bytes nobody asked for
      ++errors;
      closeConn(c, false);
      maybeFinish();
      return;
    }
    llhttp_errno_t e = llhttp_execute(&c->parser, buf->base, static_cast<size_t>(n));
    if (e != HPE_OK) {
      std::fprintf(stderr, "mcp-sidecar-load: bad HTTP answer: %s (%s)\n", llhttp_errno_name(e),
                   llhttp_get_error_reason(&c->parser));
      failRequest(c);
      return;
    }
    if (c->completed == 0)
      return;                                          // more to come
    if (c->completed > 1 || c->begun > c->completed) { // more than one answer to one request
      std::fprintf(stderr, "mcp-sidecar-load: the server sent more than one answer to a request\n");
      failRequest(c);
      return;
    }
    bool keepAlive = c->keepAlive;
    complete(c);
    if (!keepAlive) { // the server closes after this answer: not an error, reconnect
      closeConn(c, false);
      maybeFinish();
      return;
    }
    ready(c);
  }

  // The answer to the request in flight on `c` is complete.
  void complete(Conn* c) {
    int64_t now = nowNs();
    int status = c->status;
    latNs.push_back(now - c->schedNs);
    lastRespNs = now;
    ++statuses[static_cast<size_t>(std::clamp(status, 0, 599))];
    if (status >= 200 && status < 300)
      ++ok;
    else
      ++non2xx;
    if (c->respSigned)
      ++respSigned;
    c->busy = false;
    --inflight;
  }

  static int onMessageBegin(llhttp_t* p) {
    ++static_cast<Conn*>(p->data)->begun;
    return 0;
  }
  static int onMessageComplete(llhttp_t* p) {
    auto* c = static_cast<Conn*>(p->data);
    ++c->completed;
    c->capture = false;
    c->status = llhttp_get_status_code(p);
    c->keepAlive = llhttp_should_keep_alive(p) != 0;
    return 0;
  }
  static int onHeaderField(llhttp_t* p, const char* at, size_t len) {
    auto* c = static_cast<Conn*>(p->data);
    for (size_t i = 0; i < len && c->field.size() < 64; ++i)
      c->field += static_cast<char>(std::tolower(static_cast<unsigned char>(at[i])));
    return 0;
  }
  static int onHeaderFieldComplete(llhttp_t* p) {
    auto* c = static_cast<Conn*>(p->data);
    if (c->field == "x-mcp-signature")
      c->respSigned = true;
    c->field.clear();
    return 0;
  }
  static int onBody(llhttp_t* p, const char* at, size_t len) {
    auto* c = static_cast<Conn*>(p->data);
    std::string& bad = c->L->firstBad;
    if (c->capture && bad.size() < 400) {
      for (size_t i = 0; i < len && bad.size() < 400; ++i)
        bad += (at[i] == '\n' || at[i] == '\r') ? ' ' : at[i]; // one line on stdout
    }
    return 0;
  }
  static int onHeadersComplete(llhttp_t* p) {
    auto* c = static_cast<Conn*>(p->data);
    int status = llhttp_get_status_code(p);
    if ((status < 200 || status >= 300) && c->L->firstBadStatus == 0) {
      c->L->firstBadStatus = status;
      c->capture = true;
    }
    return 0;
  }

  // --------------------------------------------------------- phases
  void start() {
    uv_timer_stop(&connectDeadline);
    phase = Phase::Running;
    if (!open) {
      t0 = nowNs();
      if (o.durationS > 0)
        uv_timer_start(
            &deadline, [](uv_timer_t* t) { static_cast<Loader*>(t->data)->beginDrain(); },
            static_cast<uint64_t>(std::llround(o.durationS * 1000)), 0);
      for (auto& c : conns)
        sendNextClosed(c.get());
    } else {
      for (auto& c : conns)
        ready(c.get());
      t0 = nowNs() + 2'000'000; // first request 2 ms from now
      timerFd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
      if (timerFd < 0)
        fatal(std::string("timerfd_create: ") + strerror(errno));
      uv_poll_init(loop, &timerPoll, timerFd);
      timerPoll.data = this;
      uv_poll_start(&timerPoll, UV_READABLE,
                    [](uv_poll_t* h, int, int) { static_cast<Loader*>(h->data)->onTick(); });
      armTimer(scheduledNs(0));
    }
    double limit = o.durationS > 0 ? o.durationS : o.maxSeconds;
    uv_timer_start(
        &watchdog,
        [](uv_timer_t* t) {
          auto* L = static_cast<Loader*>(t->data);
          std::fprintf(stderr, "mcp-sidecar-load: time limit reached; stopping\n");
          L->watchdogFired = true;
          L->beginDrain();
        },
        static_cast<uint64_t>(std::llround(limit * 1000)) + 1000, 0);
    uv_timer_start(
        &ticker, [](uv_timer_t* t) { static_cast<Loader*>(t->data)->checkTimeouts(); }, 50, 50);
  }

  void checkTimeouts() {
    int64_t now = nowNs();
    int64_t limit = static_cast<int64_t>(o.timeoutS * 1e9);
    for (auto& c : conns)
      if (c->busy && now - c->sentNs > limit) {
        ++timeouts;
        failRequest(c.get());
      }
  }

  // No new requests from now on; wait for the ones in flight (at most --timeout).
  void beginDrain() {
    if (phase != Phase::Running)
      return;
    phase = Phase::Draining;
    uv_timer_stop(&deadline);
    if (timerFd >= 0)
      uv_poll_stop(&timerPoll);
    // Late requests still waiting for a connection go out as connections free up, until the
    // drain limit; those never sent by then count as errors.
    uv_timer_start(
        &drainTimer,
        [](uv_timer_t* t) {
          auto* L = static_cast<Loader*>(t->data);
          for (auto& c : L->conns)
            if (c->busy) {
              ++L->timeouts;
              ++L->errors;
              c->busy = false;
              --L->inflight;
            }
          L->unsent += L->waiting.size();
          L->errors += L->waiting.size();
          L->waiting.clear();
          L->finish();
        },
        static_cast<uint64_t>(std::llround(o.timeoutS * 1000)), 0);
    maybeFinish();
  }

  void maybeFinish() {
    if (phase == Phase::Draining && inflight == 0 && waiting.empty())
      finish();
  }

  void finish() {
    if (phase == Phase::Done)
      return;
    phase = Phase::Done;
    uv_stop(loop);
  }

  // --------------------------------------------------------- setup and run
  int run() {
    loop = uv_default_loop();
    llhttp_settings_init(&settings);
    settings.on_message_begin = onMessageBegin;
    settings.on_message_complete = onMessageComplete;
    settings.on_header_field = onHeaderField;
    settings.on_header_field_complete = onHeaderFieldComplete;
    settings.on_headers_complete = onHeadersComplete;
    settings.on_body = onBody;
    for (uv_timer_t* t : {&deadline, &drainTimer, &ticker, &watchdog, &connectDeadline}) {
      uv_timer_init(loop, t);
      t->data = this;
    }
    if (open)
      periodNs = 1e9 / o.rate;
    for (int i = 0; i < o.connections; ++i) {
      auto c = std::make_unique<Conn>();
      c->L = this;
      c->readBuf = std::make_unique<char[]>(kReadBuf);
      uv_timer_init(loop, &c->retry);
      c->retry.data = c.get();
      conns.push_back(std::move(c));
    }
    uv_timer_start(
        &connectDeadline,
        [](uv_timer_t* t) {
          auto* L = static_cast<Loader*>(t->data);
          fatal("only " + std::to_string(L->connectedCount) + " of " +
                std::to_string(L->o.connections) + " connections were up after 10 s");
        },
        10000, 0);
    for (auto& c : conns)
      startConnect(c.get());
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
  }
};

double percentileUs(std::vector<int64_t>& sorted, double p) {
  if (sorted.empty())
    return 0;
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  if (rank == 0)
    rank = 1;
  return static_cast<double>(sorted[std::min(rank, sorted.size()) - 1]) / 1000.0;
}

} // namespace

int main(int argc, char** argv) {
  Options o = parseArgs(argc, argv);
  if (sodium_init() < 0)
    fatal("libsodium failed to initialise");
  signal(SIGPIPE, SIG_IGN);

  std::unique_ptr<Signer> signer;
  if (!o.keyFile.empty()) {
    std::ifstream f(o.keyFile, std::ios::binary);
    if (!f)
      fatal("cannot read --key " + o.keyFile + ": " + strerror(errno));
    std::ostringstream ss;
    ss << f.rdbuf();
    auto key = vf::parsePrivateKey(ss.str());
    if (!key.ok())
      fatal("--key " + o.keyFile + " is not a private key: " + key.error());
    signer = std::make_unique<Signer>();
    signer->key = *key;
    signer->keyId = o.keyId.empty() ? vf::fingerprint(key->pub) : o.keyId;
  }

  Loader L;
  L.o = o;
  L.open = o.rate > 0;
  L.signedMode = signer != nullptr;
  if (L.open)
    L.needed =
        o.requests > 0 ? o.requests : static_cast<uint64_t>(std::ceil(o.rate * o.durationS - 1e-9));
  else
    L.needed = o.requests;
  if (L.open && L.needed == 0)
    usageError("--rate x --duration is less than one request");

  uint64_t poolSize = o.presign;
  if (poolSize == 0) {
    if (L.needed > 0)
      poolSize = L.needed;
    else
      poolSize = static_cast<uint64_t>(std::ceil(40000 * o.durationS));
    if (!signer)
      poolSize = std::min<uint64_t>(poolSize, 65536);
  }
  bool capped = false; // an open loop with fewer signed requests than it schedules
  if (L.needed > 0 && signer && poolSize < L.needed) {
    std::fprintf(stderr,
                 "mcp-sidecar-load: warning: --presign %" PRIu64 " is less than the %" PRIu64
                 " requests of this run; it will stop early\n",
                 poolSize, L.needed);
    if (L.open) {
      L.needed = poolSize;
      capped = true;
    }
  }
  double window = o.durationS > 0 ? o.durationS : o.maxSeconds;
  if (signer && window > 240)
    std::fprintf(stderr,
                 "mcp-sidecar-load: warning: a run of %.0f s outlives the pre-signed "
                 "timestamps in a ±300 s window\n",
                 window);

  int threads = o.signThreads > 0 ? o.signThreads : allowedCpus();
  int64_t p0 = nowNs();
  L.pool = buildPool(o, poolSize, signer.get(), signer ? threads : 1);
  double presignS = static_cast<double>(nowNs() - p0) / 1e9;
  L.latNs.reserve(L.needed > 0 ? L.needed : poolSize);
  if (L.open)
    L.lagNs.reserve(L.needed);

  if (o.cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(o.cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0)
      fatal("cannot pin to cpu " + std::to_string(o.cpu) + ": " + strerror(errno));
  }
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); // open loop: wake up on time, not 50 µs late

  char what[64], rate[48] = "";
  if (o.durationS > 0)
    std::snprintf(what, sizeof what, "duration_s=%g", o.durationS);
  else
    std::snprintf(what, sizeof what, "requests=%" PRIu64, o.requests);
  if (L.open)
    std::snprintf(rate, sizeof rate, " rate=%g", o.rate);
  std::printf("# mcp-sidecar-load: url=%s mode=%s conns=%d %s%s signed=%s key_id=%s body_bytes=%zu "
              "pool=%" PRIu64 " presign_s=%.2f (%d threads)\n",
              o.url.c_str(), L.open ? "open" : "closed", o.connections, what, rate,
              signer ? "yes" : "no", signer ? signer->keyId.c_str() : "-", o.bodyBytes, poolSize,
              presignS, signer ? threads : 1);
  std::fflush(stdout);

  L.run();
  if (capped)
    L.exhausted = true;

  double elapsedS = L.lastRespNs > L.t0 ? static_cast<double>(L.lastRespNs - L.t0) / 1e9 : 0.0;
  uint64_t answers = L.ok + L.non2xx;
  double rps = elapsedS > 0 ? static_cast<double>(answers) / elapsedS : 0;
  std::sort(L.latNs.begin(), L.latNs.end());
  std::sort(L.lagNs.begin(), L.lagNs.end());

  std::string statusLine;
  for (size_t code = 0; code < L.statuses.size(); ++code)
    if (L.statuses[code] > 0)
      statusLine += " " + std::to_string(code) + "=" + std::to_string(L.statuses[code]);
  std::printf("# status counts:%s\n", statusLine.empty() ? " none" : statusLine.c_str());
  if (L.firstBadStatus != 0)
    std::printf("# first non-2xx answer: %d %s\n", L.firstBadStatus, L.firstBad.c_str());
  if (L.exhausted)
    std::fprintf(stderr,
                 "mcp-sidecar-load: the %" PRIu64
                 " pre-signed requests ran out after %.2f s; the run stopped there "
                 "(no nonce is sent twice). Give a larger --presign.\n",
                 poolSize, elapsedS);
  std::printf(
      "RESULT mode=%s rps=%.0f p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f "
      "sent=%" PRIu64 " ok=%" PRIu64 " non2xx=%" PRIu64 " errors=%" PRIu64 " late=%" PRIu64
      " max_us=%.1f elapsed_s=%.3f conns=%d signed=%d pool=%" PRIu64
      " exhausted=%d timeouts=%" PRIu64 " connect_errors=%" PRIu64 " resp_signed=%" PRIu64
      " lag_p99_us=%.1f unsent=%" PRIu64 " reconnects=%" PRIu64 " watchdog=%d presign_s=%.2f\n",
      L.open ? "open" : "closed", rps, percentileUs(L.latNs, 50), percentileUs(L.latNs, 90),
      percentileUs(L.latNs, 99), percentileUs(L.latNs, 99.9), L.sent, L.ok, L.non2xx, L.errors,
      L.late, L.latNs.empty() ? 0.0 : static_cast<double>(L.latNs.back()) / 1000.0, elapsedS,
      o.connections, signer ? 1 : 0, poolSize, L.exhausted ? 1 : 0, L.timeouts, L.connectErrors,
      L.respSigned, percentileUs(L.lagNs, 99), L.unsent, L.reconnects, L.watchdogFired ? 1 : 0,
      presignS);
  std::fflush(stdout);
  return L.exhausted ? 3 : 0;
}
