#pragma once
// The fake AIM (tests/support/fake_aim/fake_aim.mjs) as a child process of a test, with a client
// for its control port: what it received (each request with its signature verdict) and what it
// should answer next. See fake_aim.mjs for the routes.

#include <rapidjson/document.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace sidecar::test {

struct FakeAimOptions {
  std::vector<std::string> apiKeys;
  // Both set: the AIM port speaks TLS with this certificate (see makeTestCa()).
  std::string tlsCert;
  std::string tlsKey;
  uint16_t port = 0; // 0: any free port
};

// One request as the fake recorded it.
struct FakeAimRequest {
  uint64_t seq = 0;
  std::string time; // ISO 8601, when it arrived
  std::string method;
  std::string target;
  std::string route;   // "register_agent", "heartbeat", "usage_report", "verification", …
  int status = 0;      // 0: not answered (dropped or hung on purpose)
  std::string verdict; // "ok", or why the fake refused it
  std::string reason;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers; // names lower case
  std::string header(const std::string& lowerName) const;
  bool hasHeader(const std::string& lowerName) const;
};

class FakeAim;
using FakeAimPtr = std::unique_ptr<FakeAim>;

class FakeAim {
public:
  // fake_aim.mjs in the source tree.
  static std::string scriptPath();
  // Runs `node fake_aim.mjs …` ($MCP_SIDECAR_NODE overrides "node") and waits up to scaled(10 s)
  // for its listening line. Returns nullptr after adding a test failure if it does not come up.
  static FakeAimPtr start(const FakeAimOptions& options = {});

  uint16_t port() const { return port_; }
  uint16_t controlPort() const { return controlPort_; }
  // "http://127.0.0.1:PORT" or "https://127.0.0.1:PORT".
  std::string url() const;
  Process& proc() { return *proc_; }

  // Control calls. Each adds a test failure (and returns an empty object) when the fake does not
  // answer 2xx with JSON.
  rapidjson::Document get(const std::string& path);
  rapidjson::Document post(const std::string& path, const std::string& jsonBody);

  std::vector<FakeAimRequest> requests();
  rapidjson::Document state() { return get("/__fake/state"); }
  // Adds a test failure for every request whose verdict is not "ok", naming it.
  void expectAllVerdictsOk();

private:
  ProcessPtr proc_;
  uint16_t port_ = 0;
  uint16_t controlPort_ = 0;
  bool tls_ = false;
};

// Makes a test CA and a server certificate for 127.0.0.1/localhost in `dir` with
// make-test-ca.sh (openssl CLI): dir/ca.pem, dir/server.pem, dir/server.key, dir/other-ca.pem,
// and dir/wrong-host.pem + dir/wrong-host.key (the test CA's, for wrong-host.test only).
// False after adding a test failure.
bool makeTestCa(const std::string& dir);

} // namespace sidecar::test
