#pragma once
// What the MCP server behind the sidecar says of itself (its serverInfo, tools, resources and
// prompts, as it listed them), and the capabilities document built from it
// (`GET /.well-known/mcp/capabilities`, docs/aim.md "The capabilities document").
//
// Thread-safe: the bridge's thread or the HTTP lister writes, workers read. The document is built
// once per change and served from a cached string.

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace sidecar::discovery {

struct ServerIdentity {
  std::string name;            // --server-name; "" = the upstream's serverInfo.name
  std::string version;         // "" = the upstream's serverInfo.version
  std::string publicKeyBase64; // the sidecar's key: std base64 of the raw 32 bytes
  std::string publicKeySpkiHex;
  std::string keyId; // its fingerprint
};

class Catalog {
public:
  explicit Catalog(ServerIdentity id) : id_(std::move(id)) { rebuildLocked(); }

  // The upstream's InitializeResult (JSON text): serverInfo and protocolVersion are kept.
  void setInitializeResult(std::string_view json);
  // Each list as the JSON text of its array, every page merged. Unparseable text is ignored.
  void setTools(std::string_view arrayJson);
  void setResources(std::string_view arrayJson);
  void setPrompts(std::string_view arrayJson);
  // All four from one listing at once: a reader never sees a document with the new tools and
  // the old (or no) resources.
  void setListing(std::string_view initializeResult, std::string_view tools,
                  std::string_view resources, std::string_view prompts);

  // The capabilities document for `aimVerified` (the only part that changes without a list).
  std::string document(bool aimVerified) const;
  // The tool names, in the server's order (registration at AIM).
  std::vector<std::string> toolNames() const;
  // The name the server goes by: --server-name, else serverInfo.name, else "mcp-server".
  std::string serverName() const;
  // Whether a tool list has been learned.
  bool toolsKnown() const;

private:
  void rebuildLocked();
  // Each takes one part under mu_; false (nothing changed) when its text does not parse.
  bool applyInitializeLocked(std::string_view json);
  bool applyToolsLocked(std::string_view arrayJson);
  bool applyListLocked(std::string_view arrayJson, std::string& list);

  const ServerIdentity id_;
  mutable std::mutex mu_;
  std::string serverInfo_ = "null"; // JSON
  std::string protocolVersion_;
  std::string tools_ = "[]", resources_ = "[]", prompts_ = "[]";
  bool toolsKnown_ = false;
  std::vector<std::string> toolNames_;
  // The document without and with aim_verified, rebuilt on each change.
  std::string doc_[2];
};

} // namespace sidecar::discovery
