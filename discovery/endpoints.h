#pragma once
// The documents the sidecar serves itself on the MCP port, never gated and never forwarded
// (docs/aim.md):
//   GET  /.well-known/mcp/capabilities           the capabilities document (discovery/catalog.h)
//   POST /.well-known/mcp/verify                 AIM's challenge (aim-wire.md §9), also under the
//   POST <public path>/.well-known/mcp/verify    path of --public-url, where AIM appends it
// Every answer is signed with the sidecar's key (signing contract §6).

#include <functional>
#include <string>

#include "common/status.h"
#include "discovery/catalog.h"
#include "proxy/hooks.h"
#include "verifier/answer_signature.h"

namespace sidecar::discovery {

struct EndpointOptions {
  std::string publicPath; // the path of --public-url, e.g. "/mcp"; "" or "/" = none
  // Answers a challenge body with {"signedChallenge","signed_challenge"}, or says what is wrong.
  std::function<Result<std::string>(std::string_view body)> answerChallenge;
  // aim_verified in the document.
  std::function<bool()> verified;
  std::function<int64_t()> now; // unix seconds; default time(nullptr)
};

class Endpoints final : public proxy::LocalEndpoints {
public:
  Endpoints(const Catalog& catalog, verifier::AnswerSigner signer, EndpointOptions options);

  bool serves(std::string_view method, std::string_view path) const override;
  proxy::LocalAnswer answer(std::string_view method, std::string_view path, std::string_view body,
                            std::string_view nonce, std::string_view requestSignature) override;

private:
  proxy::LocalAnswer json(int status, std::string body, std::string_view nonce,
                          std::string_view requestSignature, std::string extra = {}) const;
  bool isVerifyPath(std::string_view path) const;

  const Catalog& catalog_;
  const verifier::AnswerSigner signer_;
  EndpointOptions options_;
  std::string verifyUnderPublic_; // <public path>/.well-known/mcp/verify, "" = none
};

} // namespace sidecar::discovery
