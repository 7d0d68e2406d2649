#include "metrics/mcp_metrics.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <string>
#include <thread>
#include <vector>

namespace sidecar::metrics {
namespace {

std::string exposition(const McpMetrics& m) {
  return prometheus::TextSerializer().Serialize(m.registry()->Collect());
}

// The series are cached after their first use: the cache must still give each label set its own
// counter, follow the server's tool list, and keep counts exact from several threads.
TEST(McpMetrics, CachedSeriesCountExactlyPerLabelSet) {
  McpMetrics m;
  m.setTools({"echo"});
  m.observe("tools/call", "echo", "ok", 0.001);
  m.observe("tools/call", "echo", "ok", 0.001);
  m.observe("tools/call", "echo", "tool_error", 0.002);
  m.observe("tools/call", "invented", "ok", 0.001);
  m.observe("tools/list", "ignored", "ok", -1);
  m.observe("no/such/method", "", "rejected", -1);
  std::string text = exposition(m);
  EXPECT_NE(
      text.find(R"(mcp_sidecar_requests_total{method="tools/call",outcome="ok",tool="echo"} 2)"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find(
          R"(mcp_sidecar_requests_total{method="tools/call",outcome="tool_error",tool="echo"} 1)"),
      std::string::npos);
  EXPECT_NE(
      text.find(R"(mcp_sidecar_requests_total{method="tools/call",outcome="ok",tool="other"} 1)"),
      std::string::npos);
  EXPECT_NE(text.find(R"(mcp_sidecar_requests_total{method="tools/list",outcome="ok",tool=""} 1)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(mcp_sidecar_requests_total{method="other",outcome="rejected",tool=""} 1)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(mcp_sidecar_request_duration_seconds_count{method="tools/call"} 4)"),
            std::string::npos);
  EXPECT_EQ(text.find(R"(mcp_sidecar_request_duration_seconds_count{method="tools/list"})"),
            std::string::npos); // no duration given

  // A new list: the name that was "other" gets its own series, the dropped one turns "other".
  m.setTools({"invented"});
  m.observe("tools/call", "invented", "ok", 0.001);
  m.observe("tools/call", "echo", "ok", 0.001);
  text = exposition(m);
  EXPECT_NE(
      text.find(
          R"(mcp_sidecar_requests_total{method="tools/call",outcome="ok",tool="invented"} 1)"),
      std::string::npos);
  EXPECT_NE(
      text.find(R"(mcp_sidecar_requests_total{method="tools/call",outcome="ok",tool="other"} 2)"),
      std::string::npos);

  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i)
        m.observe("ping", "", "ok", 0.0001);
    });
  for (auto& t : threads)
    t.join();
  text = exposition(m);
  EXPECT_NE(text.find(R"(mcp_sidecar_requests_total{method="ping",outcome="ok",tool=""} 40000)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(mcp_sidecar_request_duration_seconds_count{method="ping"} 40000)"),
            std::string::npos);
}

} // namespace
} // namespace sidecar::metrics
