#include "discovery/endpoints.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <ctime>

namespace sidecar::discovery {

namespace {

constexpr std::string_view kCapabilities = "/.well-known/mcp/capabilities";
constexpr std::string_view kVerify = "/.well-known/mcp/verify";

std::string errorBody(std::string_view message) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("error");
  w.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

} // namespace

Endpoints::Endpoints(const Catalog& catalog, verifier::AnswerSigner signer, EndpointOptions options)
    : catalog_(catalog), signer_(std::move(signer)), options_(std::move(options)) {
  std::string p = options_.publicPath;
  while (!p.empty() && p.back() == '/')
    p.pop_back();
  if (!p.empty())
    verifyUnderPublic_ = p + std::string(kVerify);
  if (!options_.now)
    options_.now = [] { return static_cast<int64_t>(time(nullptr)); };
}

bool Endpoints::isVerifyPath(std::string_view path) const {
  return path == kVerify || (!verifyUnderPublic_.empty() && path == verifyUnderPublic_);
}

bool Endpoints::serves(std::string_view, std::string_view path) const {
  return path == kCapabilities || isVerifyPath(path);
}

proxy::LocalAnswer Endpoints::json(int status, std::string body, std::string_view nonce,
                                   std::string_view requestSignature, std::string extra) const {
  body += '\n';
  proxy::LocalAnswer a;
  a.status = status;
  a.headers = "Content-Type: application/json\r\nCache-Control: no-store\r\n" + extra +
              signer_.jsonHeaders(static_cast<unsigned>(status), body, options_.now(), nonce,
                                  requestSignature);
  a.body = std::move(body);
  return a;
}

proxy::LocalAnswer Endpoints::answer(std::string_view method, std::string_view path,
                                     std::string_view body, std::string_view nonce,
                                     std::string_view requestSignature) {
  if (path == kCapabilities) {
    if (method != "GET" && method != "HEAD")
      return json(405, errorBody("the capabilities document is read with GET"), nonce,
                  requestSignature, "Allow: GET, HEAD\r\n");
    bool verified = options_.verified && options_.verified();
    return json(200, catalog_.document(verified), nonce, requestSignature);
  }
  if (method != "POST")
    return json(405,
                errorBody("the challenge is answered to POST {\"challenge\":\"<base64>\","
                          "\"server_id\":\"<id>\"}"),
                nonce, requestSignature, "Allow: POST\r\n");
  if (!options_.answerChallenge)
    return json(503, errorBody("this sidecar cannot answer challenges"), nonce, requestSignature);
  auto signedChallenge = options_.answerChallenge(body);
  if (!signedChallenge.ok())
    return json(400, errorBody(signedChallenge.error()), nonce, requestSignature);
  return json(200, std::move(*signedChallenge), nonce, requestSignature);
}

} // namespace sidecar::discovery
