#pragma once
#include "config/serve_config.h"

namespace sidecar::app {

// Runs the sidecar until SIGTERM/SIGINT and a drain. Returns the process exit status:
// 0 after a clean shutdown, 1 when it cannot start (the reason is logged).
int runServe(const config::ServeConfig& cfg);

} // namespace sidecar::app
