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

// The `params` of a paginated list request: {"cursor":"<cursor>"}, or "" for the first page.
std::string cursorParams(std::string_view cursor);

// A list request (tools/list, resources/list, prompts/list) the sidecar sends of its own:
// {"jsonrpc":"2.0","id":<idJson>,"method":"<method>"[,"params":{"cursor":…}]}.
std::string listRequest(std::string_view idJson, std::string_view method, std::string_view cursor);

} // namespace sidecar::mcp
