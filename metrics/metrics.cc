#include "metrics/metrics.h"

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "common/version.h"

namespace sidecar::metrics {

const char* httpRejectName(HttpReject r) {
  switch (r) {
  case HttpReject::BadRequest:
    return "bad_request";
  case HttpReject::BodyTooLarge:
    return "body_too_large";
  case HttpReject::HeaderTooLarge:
    return "header_too_large";
  case HttpReject::HeaderTimeout:
    return "header_timeout";
  case HttpReject::TooManyConnections:
    return "too_many_connections";
  case HttpReject::Draining:
    return "draining";
  case HttpReject::HostOrOrigin:
    return "host_or_origin";
  case HttpReject::kCount:
    break;
  }
  return "unknown";
}

const char* upstreamErrorName(UpstreamError e) {
  switch (e) {
  case UpstreamError::ConnectFailed:
    return "connect_failed";
  case UpstreamError::Reset:
    return "reset";
  case UpstreamError::Timeout:
    return "timeout";
  case UpstreamError::BadResponse:
    return "bad_response";
  case UpstreamError::kCount:
    break;
  }
  return "unknown";
}

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

ClientMetric counterValue(double v, std::vector<prometheus::ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = v;
  return m;
}

ClientMetric gaugeValue(double v, std::vector<prometheus::ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = v;
  return m;
}

// Sums one field over all workers.
template <typename F> uint64_t sum(const std::vector<const WorkerStats*>& ws, F field) {
  uint64_t total = 0;
  for (const WorkerStats* w : ws)
    total += field(*w);
  return total;
}

class WorkerCollector : public prometheus::Collectable {
public:
  WorkerCollector(std::vector<const WorkerStats*> workers, const ProcessState* process)
      : workers_(std::move(workers)), process_(process) {}

  std::vector<MetricFamily> Collect() const override {
    std::vector<MetricFamily> out;
    const auto& ws = workers_;

    auto build =
        family("mcp_sidecar_build_info", "Build information; always 1.", MetricType::Gauge);
    build.metric.push_back(gaugeValue(1, {{"version", kVersion}, {"revision", kGitRevision}}));
    out.push_back(std::move(build));

    auto up = family("mcp_sidecar_upstream_up", "1 when the upstream MCP server answers, else 0.",
                     MetricType::Gauge);
    up.metric.push_back(gaugeValue(process_->upstreamUp.load(std::memory_order_relaxed)));
    out.push_back(std::move(up));

    if (process_->auditCounts) {
      auto [written, errors] = process_->auditCounts();
      auto records = family("mcp_sidecar_audit_records_total",
                            "Audit trail records written (every kind).", MetricType::Counter);
      records.metric.push_back(counterValue(static_cast<double>(written)));
      out.push_back(std::move(records));
      auto werr = family("mcp_sidecar_audit_write_errors_total",
                         "Failed writes or syncs of the audit trail (retried; /readyz fails).",
                         MetricType::Counter);
      werr.metric.push_back(counterValue(static_cast<double>(errors)));
      out.push_back(std::move(werr));
    }

    auto sessions =
        family("mcp_sidecar_sessions_active",
               "MCP sessions open (stdio upstream; the sidecar issues the session ids).",
               MetricType::Gauge);
    sessions.metric.push_back(
        gaugeValue(static_cast<double>(process_->sessionsActive.load(std::memory_order_relaxed))));
    out.push_back(std::move(sessions));

    auto restarts =
        family("mcp_sidecar_child_restarts_total",
               "Restarts of the stdio MCP server after it exited.", MetricType::Counter);
    restarts.metric.push_back(
        counterValue(static_cast<double>(process_->childRestarts.load(std::memory_order_relaxed))));
    out.push_back(std::move(restarts));

    auto accepted = family("mcp_sidecar_connections_accepted_total",
                           "Client connections accepted on the MCP listener.", MetricType::Counter);
    accepted.metric.push_back(counterValue(static_cast<double>(
        sum(ws, [](const WorkerStats& w) { return w.connectionsAccepted.get(); }))));
    out.push_back(std::move(accepted));

    auto active = family("mcp_sidecar_connections_active",
                         "Client connections open on the MCP listener.", MetricType::Gauge);
    int64_t act = 0;
    for (const WorkerStats* w : ws)
      act += w->connectionsActive.get();
    active.metric.push_back(gaugeValue(static_cast<double>(act)));
    out.push_back(std::move(active));

    auto responses =
        family("mcp_sidecar_http_responses_total",
               "HTTP responses sent to clients, by status class.", MetricType::Counter);
    for (size_t c = 1; c <= 5; ++c) {
      uint64_t v = sum(ws, [c](const WorkerStats& w) { return w.responsesByClass[c].get(); });
      responses.metric.push_back(
          counterValue(static_cast<double>(v), {{"code", std::to_string(c) + "xx"}}));
    }
    out.push_back(std::move(responses));

    auto rejects =
        family("mcp_sidecar_http_rejections_total",
               "Requests refused at the HTTP layer before reaching the upstream, by reason.",
               MetricType::Counter);
    for (size_t r = 0; r < static_cast<size_t>(HttpReject::kCount); ++r) {
      uint64_t v = sum(ws, [r](const WorkerStats& w) { return w.rejects[r].get(); });
      rejects.metric.push_back(counterValue(
          static_cast<double>(v), {{"reason", httpRejectName(static_cast<HttpReject>(r))}}));
    }
    out.push_back(std::move(rejects));

    auto uerr = family("mcp_sidecar_upstream_errors_total",
                       "Upstream failures seen while forwarding, by kind.", MetricType::Counter);
    for (size_t e = 0; e < static_cast<size_t>(UpstreamError::kCount); ++e) {
      uint64_t v = sum(ws, [e](const WorkerStats& w) { return w.upstreamErrors[e].get(); });
      uerr.metric.push_back(counterValue(
          static_cast<double>(v), {{"kind", upstreamErrorName(static_cast<UpstreamError>(e))}}));
    }
    out.push_back(std::move(uerr));

    auto uconn = family("mcp_sidecar_upstream_connections_total",
                        "Upstream connections opened (a low rate means keep-alive reuse works).",
                        MetricType::Counter);
    uconn.metric.push_back(counterValue(static_cast<double>(
        sum(ws, [](const WorkerStats& w) { return w.upstreamConnects.get(); }))));
    out.push_back(std::move(uconn));

    auto retries = family("mcp_sidecar_upstream_retries_total",
                          "Idempotent requests retried on a fresh connection after a reused "
                          "keep-alive connection failed before answering.",
                          MetricType::Counter);
    retries.metric.push_back(counterValue(static_cast<double>(
        sum(ws, [](const WorkerStats& w) { return w.upstreamRetries.get(); }))));
    out.push_back(std::move(retries));

    auto bin = family("mcp_sidecar_received_bytes_total", "Bytes received from clients.",
                      MetricType::Counter);
    bin.metric.push_back(counterValue(
        static_cast<double>(sum(ws, [](const WorkerStats& w) { return w.bytesIn.get(); }))));
    out.push_back(std::move(bin));
    auto bout =
        family("mcp_sidecar_sent_bytes_total", "Bytes sent to clients.", MetricType::Counter);
    bout.metric.push_back(counterValue(
        static_cast<double>(sum(ws, [](const WorkerStats& w) { return w.bytesOut.get(); }))));
    out.push_back(std::move(bout));

    auto ver =
        family("mcp_sidecar_signature_verifications_total",
               "Request signature checks, by result, reason and profile.", MetricType::Counter);
    using verifier::Profile;
    using verifier::Reason;
    for (size_t p = 0; p < static_cast<size_t>(Profile::kCount); ++p) {
      for (size_t r = 0; r < static_cast<size_t>(Reason::kCount); ++r) {
        uint64_t v = sum(ws, [p, r](const WorkerStats& w) { return w.verifications[p][r].get(); });
        // The default profile's series exist from the start; the others once they occur.
        if (v == 0 && (p != 0 || process_->replay == nullptr))
          continue;
        bool ok = r == static_cast<size_t>(Reason::Accepted);
        ver.metric.push_back(
            counterValue(static_cast<double>(v),
                         {{"result", ok ? "accepted" : "rejected"},
                          {"reason", ok ? "none" : verifier::reasonName(static_cast<Reason>(r))},
                          {"profile", verifier::profileName(static_cast<Profile>(p))}}));
      }
    }
    out.push_back(std::move(ver));

    auto denials = family("mcp_sidecar_tool_denials_total",
                          "tools/call requests refused because the tool is not on the caller's "
                          "allow-list.",
                          MetricType::Counter);
    denials.metric.push_back(counterValue(
        static_cast<double>(sum(ws, [](const WorkerStats& w) { return w.toolDenials.get(); }))));
    out.push_back(std::move(denials));

    if (process_->replay) {
      auto entries =
          family("mcp_sidecar_replay_cache_entries",
                 "Entries held by the replay cache (it refuses signed requests when full).",
                 MetricType::Gauge);
      entries.metric.push_back(gaugeValue(static_cast<double>(process_->replay->size())));
      out.push_back(std::move(entries));
      auto cap = family("mcp_sidecar_replay_cache_capacity", "Capacity of the replay cache.",
                        MetricType::Gauge);
      cap.metric.push_back(gaugeValue(static_cast<double>(process_->replay->capacity())));
      out.push_back(std::move(cap));
      auto keys = family("mcp_sidecar_trust_store_keys", "Caller keys in the current trust store.",
                         MetricType::Gauge);
      keys.metric.push_back(gaugeValue(static_cast<double>(process_->trustStoreKeys.load())));
      out.push_back(std::move(keys));
      auto reloads =
          family("mcp_sidecar_trust_store_reloads_total",
                 "Trust store loads after a change of its file, by result.", MetricType::Counter);
      reloads.metric.push_back(counterValue(static_cast<double>(process_->trustStoreReloads.load()),
                                            {{"result", "ok"}}));
      reloads.metric.push_back(counterValue(
          static_cast<double>(process_->trustStoreReloadFailures.load()), {{"result", "failed"}}));
      out.push_back(std::move(reloads));
    }

    auto hist = family("mcp_sidecar_http_request_duration_seconds",
                       "Time from a request's last byte received to its response's last byte sent.",
                       MetricType::Histogram);
    ClientMetric h;
    uint64_t cumulative = 0;
    double sumSeconds = 0;
    for (const WorkerStats* w : ws)
      sumSeconds += w->requestDuration.sumSeconds();
    for (size_t i = 0; i <= kLatencyBounds.size(); ++i) {
      cumulative += sum(ws, [i](const WorkerStats& w) { return w.requestDuration.bucket(i); });
      ClientMetric::Bucket b;
      b.cumulative_count = cumulative;
      b.upper_bound =
          i < kLatencyBounds.size() ? kLatencyBounds[i] : std::numeric_limits<double>::infinity();
      h.histogram.bucket.push_back(b);
    }
    h.histogram.sample_count = cumulative;
    h.histogram.sample_sum = sumSeconds;
    hist.metric.push_back(std::move(h));
    out.push_back(std::move(hist));
    return out;
  }

private:
  std::vector<const WorkerStats*> workers_;
  const ProcessState* process_;
};

} // namespace

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::shared_ptr<WorkerCollector> workers;
  std::vector<std::shared_ptr<prometheus::Collectable>> more;
};

void Metrics::add(std::shared_ptr<prometheus::Collectable> c) {
  impl_->more.push_back(std::move(c));
}

Metrics::Metrics(std::vector<const WorkerStats*> workers, const ProcessState* process)
    : impl_(std::make_unique<Impl>()) {
  impl_->workers = std::make_shared<WorkerCollector>(std::move(workers), process);
}

Metrics::~Metrics() = default;

std::string Metrics::serialize() const {
  std::vector<MetricFamily> families = impl_->workers->Collect();
  for (auto& f : impl_->registry->Collect())
    families.push_back(std::move(f));
  for (auto& c : impl_->more)
    for (auto& f : c->Collect())
      families.push_back(std::move(f));
  prometheus::TextSerializer serializer;
  return serializer.Serialize(families);
}

} // namespace sidecar::metrics
