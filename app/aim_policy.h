#pragma once
// The proxy's per-call policy (proxy/hooks.h) over the AIM client: gated tools ask AIM first,
// forwarded tool calls count toward usage, and AIM's revocation list refuses revoked callers.
// Without AIM (client null), gated calls are refused with a reason that says so.

#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "aim/client.h"
#include "common/log.h"
#include "proxy/hooks.h"

namespace sidecar::app {

class AimPolicy final : public proxy::CallPolicy {
public:
  AimPolicy(aim::AimClient* client, const std::vector<std::string>& gate,
            std::chrono::milliseconds gateTimeout);

  bool gated(std::string_view tool) const override;
  Result<uint64_t> requestApproval(std::string_view tool, std::string_view callId,
                                   std::string_view caller,
                                   std::function<void(proxy::ApprovalOutcome)> done) override;
  void cancelApproval(uint64_t id) override;
  void executed(std::string_view verificationId, bool ok, std::string_view error) override;
  void toolCalled(std::string_view tool) override;
  bool revoked(std::string_view aimAgentId) const override;

private:
  aim::AimClient* client_;
  std::set<std::string, std::less<>> gate_;
  std::chrono::milliseconds gateTimeout_;
  log::RateLimiter errorLimiter_{5, 10000000000ull};
  std::mutex limiterMu_;
};

} // namespace sidecar::app

namespace prometheus {
class Collectable;
}

namespace sidecar::app {

// The AIM client's counters as Prometheus families (docs/metrics.md): deliveries by route and
// result, spool bytes, possible duplicates, spool refusals, pending approvals, registration.
std::shared_ptr<prometheus::Collectable> aimCollector(const aim::AimClient& client);

// Gives AIM the registration of the sidecar's MCP server (its agent, then the server, as `serve`
// and `stdio` both register) and starts the client. `description` says what the server is, e.g.
// "the MCP server fs"; `verificationUrl` "" when AIM cannot call the sidecar (stdio).
void registerAndStart(aim::AimClient& client, const std::string& name,
                      const std::string& description, const std::string& url,
                      const std::string& verificationUrl, std::vector<std::string> tools);

// AIM's detection report (aim-wire.md §13) for a drift report: the server seen at runtime
// (`sdk_runtime`, confidence 100) with the drift in `details`, so that AIM learns of the change
// through the spool like everything else it must learn.
std::string driftDetectionBody(std::string_view serverName, std::string_view driftReportJson,
                               const std::vector<std::string>& tools);

} // namespace sidecar::app
