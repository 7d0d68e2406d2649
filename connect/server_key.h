#pragma once
// Which key the server's answers must be signed with: pinned with --server-key, or learned on
// first use from its signed capabilities document (contract §6) and kept in known_servers, where
// later runs find it; a server whose key no longer matches is refused (docs/connect.md).

#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "connect/answer_check.h"
#include "connect/http_client.h"
#include "connect/url.h"
#include "verifier/request_signer.h"

namespace sidecar::connect {

inline constexpr std::string_view kCapabilitiesPath = "/.well-known/mcp/capabilities";

// The key a capabilities answer names (`server.public_key_base64`, else `server.public_key`),
// once the answer's own signature holds with that key, bound to `request` (the signed GET).
// Errors name what is wrong: status, JSON, missing key, signature.
Result<verifier::PublicKey> keyFromCapabilities(int status, const AnswerHeaders& headers,
                                                const RequestBinding& request,
                                                std::string_view body);

struct ResolveOptions {
  ServerUrl url;
  std::string pinned;          // --server-key, any public-key form; "" = learn / look up
  std::string knownServers;    // the known_servers path ("" = none could be found)
  std::string knownServersErr; // why there is none, when knownServers is empty
  const verifier::RequestSigner* signer = nullptr;
  std::function<int64_t()> now;
};

struct ResolvedKey {
  ServerKey key;
  std::string source; // for the log: "--server-key", "known_servers:3", "learned, saved to ..."
};

// Pinned key: parsed, nothing fetched. Otherwise the capabilities document is fetched (signed
// GET through `engine`, run on the calling thread until it is answered) and compared with
// known_servers: a key on file that matches is used; no entry → the key is learned and appended;
// an entry with another key → an error holding changedKeyMessage(). When the document cannot be
// fetched, a key on file is used (with a warning in the log); without one, an error. A refused
// TLS certificate (isTlsError()) is an error either way: no request would get through.
Result<ResolvedKey> resolveServerKey(const ResolveOptions& options, HttpEngine& engine);

} // namespace sidecar::connect
