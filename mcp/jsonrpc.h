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

// A JSON-RPC error response: {"jsonrpc":"2.0","id":<idJson, or null when empty>,"error":{"code",
// "message","data":{"reason","detail"}}}; `data` and its members only when not empty. `idJson` is
// the id's exact JSON text.
std::string errorResponse(std::string_view idJson, int code, std::string_view message,
                          std::string_view reason, std::string_view detail);

} // namespace sidecar::mcp
