#include "app/aim_policy.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "common/clock.h"
#include "common/version.h"

namespace sidecar::app {

AimPolicy::AimPolicy(aim::AimClient* client, const std::vector<std::string>& gate,
                     std::chrono::milliseconds gateTimeout)
    : client_(client), gate_(gate.begin(), gate.end()), gateTimeout_(gateTimeout) {}

bool AimPolicy::gated(std::string_view tool) const {
  return gate_.find(tool) != gate_.end();
}

Result<uint64_t> AimPolicy::requestApproval(std::string_view tool, std::string_view callId,
                                            std::string_view caller,
                                            std::function<void(proxy::ApprovalOutcome)> done) {
  if (!client_)
    return Status::error("tool '" + std::string(tool) +
                         "' is gated (--gate) and needs AIM's approval, but AIM is not "
                         "configured: set --aim-url (AIM_URL), or remove the tool from --gate");
  aim::ApprovalRequest req;
  req.tool = tool;
  req.callId = callId;
  if (!caller.empty())
    req.context.emplace_back("caller", std::string(caller));
  req.timeout = gateTimeout_;
  auto id = client_->requestApproval(
      std::move(req), [done = std::move(done)](const aim::ApprovalResult& r) {
        proxy::ApprovalOutcome o;
        o.approved = r.decision == aim::Decision::Approved;
        o.verificationId = r.verificationId;
        switch (r.decision) {
        case aim::Decision::Approved:
          break;
        case aim::Decision::Denied:
          o.reason = "AIM denied the call" + (r.reason.empty() ? "" : ": " + r.reason);
          break;
        case aim::Decision::Expired:
          o.reason = "the approval request expired at AIM before anyone decided";
          break;
        case aim::Decision::Timeout:
          o.reason = "AIM did not decide within the gate timeout (--gate-timeout)";
          break;
        case aim::Decision::Error:
          o.reason = "AIM could not decide: " + r.reason;
          break;
        }
        done(std::move(o));
      });
  if (!id.ok())
    return Status::error("tool '" + std::string(tool) +
                         "' is gated and AIM cannot be asked: " + id.error());
  return *id;
}

void AimPolicy::cancelApproval(uint64_t id) {
  if (client_)
    client_->cancelApproval(id);
}

void AimPolicy::executed(std::string_view verificationId, bool ok, std::string_view error) {
  if (!client_ || verificationId.empty())
    return;
  Status st = client_->reportExecution(verificationId, ok, error);
  if (!st.ok()) {
    std::lock_guard<std::mutex> g(limiterMu_);
    uint64_t suppressed = 0;
    if (errorLimiter_.allow(monoNowNs(), suppressed))
      log::error("cannot record a gated call's execution for AIM",
                 {{"verification_id", std::string(verificationId)},
                  {"error", st.message()},
                  {"suppressed", static_cast<unsigned long long>(suppressed)}});
  }
}

void AimPolicy::toolCalled(std::string_view tool) {
  if (!client_)
    return;
  Status st = client_->recordToolCall(tool);
  if (!st.ok()) {
    std::lock_guard<std::mutex> g(limiterMu_);
    uint64_t suppressed = 0;
    if (errorLimiter_.allow(monoNowNs(), suppressed))
      log::error("cannot count a tool call toward AIM's usage report",
                 {{"tool", std::string(tool)},
                  {"error", st.message()},
                  {"suppressed", static_cast<unsigned long long>(suppressed)}});
  }
}

bool AimPolicy::revoked(std::string_view aimAgentId) const {
  return client_ && !aimAgentId.empty() && client_->isRevoked(aimAgentId);
}

} // namespace sidecar::app

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

namespace sidecar::app {

namespace {

class AimCollector final : public prometheus::Collectable {
public:
  explicit AimCollector(const aim::AimClient& c) : client_(c) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    using prometheus::ClientMetric;
    using prometheus::MetricFamily;
    using prometheus::MetricType;
    auto family = [](const char* name, const char* help, MetricType type) {
      MetricFamily f;
      f.name = name;
      f.help = help;
      f.type = type;
      return f;
    };
    auto value = [](MetricType type, double v, std::vector<ClientMetric::Label> labels = {}) {
      ClientMetric m;
      m.label = std::move(labels);
      if (type == MetricType::Counter)
        m.counter.value = v;
      else
        m.gauge.value = v;
      return m;
    };
    std::vector<MetricFamily> out;
    auto deliveries = family("mcp_sidecar_aim_deliveries_total",
                             "Calls to AIM by route and result (ok, denied, rate_limited, retry, "
                             "rejected, network_error).",
                             MetricType::Counter);
    for (size_t r = 0; r < static_cast<size_t>(aim::AimRoute::Count); ++r)
      for (size_t x = 0; x < static_cast<size_t>(aim::AimResult::Count); ++x) {
        auto route = static_cast<aim::AimRoute>(r);
        auto result = static_cast<aim::AimResult>(x);
        uint64_t n = client_.deliveries(route, result);
        if (n == 0 && result != aim::AimResult::Ok)
          continue; // zero series only for `ok`, so that every route shows
        deliveries.metric.push_back(
            value(MetricType::Counter, static_cast<double>(n),
                  {{"route", aim::routeName(route)}, {"result", aim::resultName(result)}}));
      }
    out.push_back(std::move(deliveries));
    aim::AimStatus st = client_.status();
    auto spool = family("mcp_sidecar_aim_spool_bytes", "Bytes waiting in the disk spool for AIM.",
                        MetricType::Gauge);
    spool.metric.push_back(value(MetricType::Gauge, static_cast<double>(st.spoolBytes)));
    out.push_back(std::move(spool));
    auto records = family("mcp_sidecar_aim_spool_records",
                          "Records waiting in the disk spool for AIM.", MetricType::Gauge);
    records.metric.push_back(value(MetricType::Gauge, static_cast<double>(st.spoolRecords)));
    out.push_back(std::move(records));
    auto dead = family("mcp_sidecar_aim_dead_letters",
                       "Spooled records AIM refused for good (kept in the spool's dead/ "
                       "directory; see the log).",
                       MetricType::Gauge);
    dead.metric.push_back(value(MetricType::Gauge, static_cast<double>(st.deadLetters)));
    out.push_back(std::move(dead));
    auto dup = family("mcp_sidecar_aim_possible_duplicates_total",
                      "Records sent again that an earlier attempt may already have delivered "
                      "(after a crash or a lost answer).",
                      MetricType::Counter);
    dup.metric.push_back(
        value(MetricType::Counter, static_cast<double>(client_.possibleDuplicates())));
    out.push_back(std::move(dup));
    auto refused = family("mcp_sidecar_aim_spool_refused_total",
                          "Records refused because the spool was full (--spool-max-bytes).",
                          MetricType::Counter);
    refused.metric.push_back(
        value(MetricType::Counter, static_cast<double>(client_.spoolRefused())));
    out.push_back(std::move(refused));
    auto pending = family("mcp_sidecar_aim_pending_approvals",
                          "Gated calls waiting for AIM's decision.", MetricType::Gauge);
    pending.metric.push_back(value(MetricType::Gauge, static_cast<double>(st.pendingApprovals)));
    out.push_back(std::move(pending));
    auto registered =
        family("mcp_sidecar_aim_registered",
               "1 once the agent and the MCP server are registered with AIM.", MetricType::Gauge);
    registered.metric.push_back(
        value(MetricType::Gauge, st.state == aim::AimState::Registered ? 1 : 0));
    out.push_back(std::move(registered));
    return out;
  }

private:
  const aim::AimClient& client_;
};

} // namespace

std::shared_ptr<prometheus::Collectable> aimCollector(const aim::AimClient& client) {
  return std::make_shared<AimCollector>(client);
}

std::string driftDetectionBody(std::string_view serverName, std::string_view driftReportJson,
                               const std::vector<std::string>& tools) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto str = [&w](std::string_view v) {
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  };
  w.StartObject();
  w.Key("detections");
  w.StartArray();
  w.StartObject();
  w.Key("mcpServer");
  str(serverName);
  w.Key("detectionMethod");
  str("sdk_runtime");
  w.Key("confidence");
  w.Int(100);
  w.Key("details");
  w.StartObject();
  w.Key("source");
  str("mcp-sidecar drift detection");
  w.Key("capabilities");
  w.StartArray();
  for (const std::string& t : tools)
    str(t);
  w.EndArray();
  w.Key("toolCount");
  w.Uint(static_cast<unsigned>(tools.size()));
  w.Key("drift");
  w.RawValue(driftReportJson.data(), driftReportJson.size(), rapidjson::kObjectType);
  w.EndObject();
  w.Key("sdkVersion");
  str(std::string("mcp-sidecar/") + kVersion);
  w.Key("timestamp");
  str(rfc3339Now());
  w.EndObject();
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

void registerAndStart(aim::AimClient& client, const std::string& name,
                      const std::string& description, const std::string& url,
                      const std::string& verificationUrl, std::vector<std::string> tools) {
  aim::AgentRegistration agent;
  agent.name = name;
  agent.displayName = name;
  agent.description = "mcp-sidecar in front of " + description;
  agent.version = kVersion;
  aim::McpServerRegistration server;
  server.name = name;
  server.description = description + " behind mcp-sidecar";
  server.url = url;
  server.version = kVersion;
  server.verificationUrl = verificationUrl;
  server.capabilities = std::move(tools);
  log::info("registering with AIM",
            {{"server_name", name},
             {"url", url},
             {"tools", static_cast<unsigned long long>(server.capabilities.size())}});
  client.setRegistration(std::move(agent), std::move(server));
  client.start();
}

} // namespace sidecar::app
