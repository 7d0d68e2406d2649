// A stand-in for the sidecar's request path, for tests that must kill the process that holds the
// AIM client (kill -9) and start it again: it makes tool calls numbered FROM..TO, every
// GATE_EVERY-th one gated through AIM, and reports each on stdout:
//   call <n>                 an ungated call, counted
//   approved <n> <vid>       a gated call AIM approved: counted, its execution status reported
//   refused <n> <decision>   a gated call not approved (not counted, as the sidecar refuses it)
//   paused <n>               after --pause-after N: waits to be killed
//   done possible_duplicates=<n> spool_records=<n> spool_bytes=<n>
// A line is printed only after what it reports is recorded (counted, spooled).
//
//   aim_driver --url URL --state DIR --server-url URL [--api-key KEY] [--ca FILE] [--name NAME]
//              --from N --to N [--gate-every N] [--pause-after N] [--gate-timeout-ms N]
//              [--sleep-us N] [--drain-ms N]

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "aim/client.h"

using namespace sidecar;

namespace {

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "aim_driver: %s\n", why);
  std::exit(2);
}

} // namespace

int main(int argc, char** argv) {
  aim::AimOptions o;
  std::string keyFile;
  long from = 1, to = 0, gateEvery = 0, pauseAfter = 0, sleepUs = 0, drainMs = 20000;
  long gateTimeoutMs = 1000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc)
      usage(("missing value for " + a).c_str());
    std::string v = argv[++i];
    if (a == "--url")
      o.url = v;
    else if (a == "--state")
      o.stateDir = v;
    else if (a == "--server-url")
      o.server.url = v;
    else if (a == "--api-key")
      o.apiKey = v;
    else if (a == "--ca")
      o.caFile = v;
    else if (a == "--name")
      o.server.name = v;
    else if (a == "--from")
      from = std::stol(v);
    else if (a == "--to")
      to = std::stol(v);
    else if (a == "--gate-every")
      gateEvery = std::stol(v);
    else if (a == "--pause-after")
      pauseAfter = std::stol(v);
    else if (a == "--gate-timeout-ms")
      gateTimeoutMs = std::stol(v);
    else if (a == "--sleep-us")
      sleepUs = std::stol(v);
    else if (a == "--drain-ms")
      drainMs = std::stol(v);
    else
      usage(("unknown option " + a).c_str());
  }
  if (o.server.name.empty())
    o.server.name = "driver";

  // The key is kept in the state directory so that a restarted driver is the same sidecar.
  std::string keyPath = o.stateDir + "/driver.key";
  if (FILE* f = std::fopen(keyPath.c_str(), "r")) {
    char buf[256] = {0};
    size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    auto key = verifier::parsePrivateKey(std::string(buf, n));
    if (!key.ok())
      usage(key.error().c_str());
    o.key = *key;
  } else {
    ::mkdir(o.stateDir.c_str(), 0700);
    o.key = verifier::generatePrivateKey();
    FILE* w = std::fopen(keyPath.c_str(), "w");
    if (w == nullptr)
      usage("cannot write the key file");
    std::string text = verifier::privateKeyFileText(o.key);
    std::fwrite(text.data(), 1, text.size(), w);
    std::fclose(w);
  }
  o.heartbeatInterval = std::chrono::milliseconds(500);
  o.usageInterval = std::chrono::milliseconds(200);
  o.revocationInterval = std::chrono::milliseconds(1000);
  o.retryInitial = std::chrono::milliseconds(50);
  o.retryMax = std::chrono::milliseconds(500);
  o.pollInitial = std::chrono::milliseconds(50);
  o.pollMax = std::chrono::milliseconds(200);
  o.requestTimeout = std::chrono::milliseconds(3000);
  o.gateTimeout = std::chrono::milliseconds(gateTimeoutMs);

  auto created = aim::AimClient::create(o);
  if (!created.ok())
    usage(created.error().c_str());
  aim::AimClient& client = **created;
  client.start();

  for (long n = from; n <= to; ++n) {
    if (gateEvery > 0 && n % gateEvery == 0) {
      std::mutex mu;
      std::condition_variable cv;
      std::optional<aim::ApprovalResult> result;
      aim::ApprovalRequest req;
      req.tool = "write_file";
      req.callId = "call-" + std::to_string(n);
      auto id = client.requestApproval(req, [&](const aim::ApprovalResult& r) {
        std::lock_guard<std::mutex> lock(mu);
        result = r;
        cv.notify_all();
      });
      if (!id.ok()) {
        std::printf("refused %ld error\n", n);
      } else {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return result.has_value(); });
        if (result->decision == aim::Decision::Approved) {
          (void)client.recordToolCall("write_file");
          if (Status st = client.reportExecution(result->verificationId, true, ""); !st.ok())
            usage(st.message().c_str());
          std::printf("approved %ld %s\n", n, result->verificationId.c_str());
        } else {
          std::printf("refused %ld %s\n", n, aim::decisionName(result->decision));
        }
      }
    } else {
      if (Status st = client.recordToolCall(n % 2 ? "echo" : "add"); !st.ok())
        usage(st.message().c_str());
      std::printf("call %ld\n", n);
    }
    std::fflush(stdout);
    if (n == pauseAfter) {
      std::printf("paused %ld\n", n);
      std::fflush(stdout);
      while (true)
        ::pause();
    }
    if (sleepUs > 0)
      ::usleep(static_cast<useconds_t>(sleepUs));
  }
  client.stop(std::chrono::milliseconds(drainMs));
  aim::AimStatus s = client.status();
  std::printf("done possible_duplicates=%llu spool_records=%zu spool_bytes=%llu\n",
              static_cast<unsigned long long>(client.possibleDuplicates()), s.spoolRecords,
              static_cast<unsigned long long>(s.spoolBytes));
  std::fflush(stdout);
  return 0;
}
