#pragma once
// Reading JSON-RPC messages just enough for policy: which tools a body calls.

#include <string>
#include <string_view>
#include <vector>

namespace sidecar::mcp {

// The `params.name` of every `tools/call` request in `body` (one message or a batch). A body that
// is not JSON yields nothing; a tools/call without a string name yields "" (which no allow-list
// contains).
std::vector<std::string> toolCallNames(std::string_view body);

} // namespace sidecar::mcp
