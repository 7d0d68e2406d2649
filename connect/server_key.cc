#include "connect/server_key.h"

#include <rapidjson/document.h>

#include "common/log.h"
#include "connect/known_servers.h"

namespace sidecar::connect {

namespace {

std::string stringAt(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject())
    return {};
  auto it = v.FindMember(name);
  if (it == v.MemberEnd() || !it->value.IsString())
    return {};
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

struct Fetched {
  int status = 0;
  AnswerHeaders headers;
  std::string body;
  std::string error;
};

Fetched fetch(HttpEngine& engine, HttpRequest request) {
  constexpr size_t kMaxBody = 4u << 20;
  Fetched f;
  HttpHandlers h;
  h.onHead = [&f](const HttpHead& head) {
    f.status = head.status;
    f.headers.signature = head.header("x-mcp-signature");
    f.headers.timestamp = head.header("x-mcp-timestamp");
    f.headers.keyId = head.header("x-mcp-key-id");
    return true;
  };
  h.onBody = [&f](std::string_view b) {
    if (f.body.size() + b.size() > kMaxBody)
      return false;
    f.body.append(b);
    return true;
  };
  h.onDone = [&f, &engine](const std::string& error) {
    f.error = error == "aborted" ? "the document is longer than 4 MiB" : error;
    engine.stop();
  };
  engine.start(std::move(request), std::move(h));
  engine.run();
  return f;
}

} // namespace

Result<verifier::PublicKey> keyFromCapabilities(int status, const AnswerHeaders& headers,
                                                const RequestBinding& request,
                                                std::string_view body) {
  if (status != 200)
    return Status::error("it answered HTTP " + std::to_string(status) +
                         " (is the URL an mcp-sidecar?)");
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject())
    return Status::error("the answer is not a JSON object");
  const rapidjson::Value& view = doc; // const iterators: unambiguous under C++20
  auto server = view.FindMember("server");
  if (server == view.MemberEnd() || !server->value.IsObject())
    return Status::error("the document has no \"server\" object");
  std::string text = stringAt(server->value, "public_key_base64");
  const char* field = "server.public_key_base64";
  if (text.empty()) {
    text = stringAt(server->value, "public_key");
    field = "server.public_key";
  }
  if (text.empty())
    return Status::error("the document names no key (server.public_key_base64)");
  auto key = verifier::parsePublicKey(text);
  if (!key.ok())
    return Status::error(std::string(field) + " is not a key: " + key.error());
  ServerKey sk = ServerKey::of(*key);
  std::string keyId = stringAt(server->value, "key_id");
  if (!keyId.empty() && keyId != sk.keyId)
    return Status::error("server.key_id " + keyId + " is not the fingerprint of " + field + " (" +
                         sk.keyId + ")");
  Status s = checkAnswerHeaders(sk, request, 200, headers, verifier::sha256Hex(body));
  if (!s.ok())
    return Status::error("the document's own signature fails: " + s.message());
  return *key;
}

Result<ResolvedKey> resolveServerKey(const ResolveOptions& o, HttpEngine& engine) {
  if (!o.pinned.empty()) {
    auto key = verifier::parsePublicKey(o.pinned);
    if (!key.ok())
      return Status::error("--server-key is not a public key: " + key.error());
    return ResolvedKey{ServerKey::of(*key), "--server-key"};
  }

  std::vector<KnownServer> known;
  std::vector<size_t> unreadable;
  if (!o.knownServers.empty()) {
    auto ks = KnownServers::load(o.knownServers);
    if (!ks.ok())
      return Status::error(ks.error());
    for (const std::string& w : ks->warnings())
      log::warn("known_servers line ignored", {{"detail", w}});
    known = ks->find(o.url.origin);
    unreadable = ks->unreadable(o.url.origin);
  }

  const std::string capsUrl = o.url.at(kCapabilitiesPath);
  verifier::RequestSignature sig =
      o.signer->sign("GET", kCapabilitiesPath, "", "", o.now ? o.now() : 0);
  HttpRequest req;
  req.method = "GET";
  req.url = capsUrl;
  req.headers = sig.headers();
  req.headers.emplace_back("Accept", "application/json");
  req.timeout = std::chrono::seconds(30);
  Fetched f = fetch(engine, std::move(req));
  Result<verifier::PublicKey> presented = Status::error(f.error);
  if (f.error.empty())
    presented = keyFromCapabilities(f.status, f.headers, {sig.nonce, sig.signature}, f.body);

  if (!presented.ok()) {
    std::string why = "cannot read the server's key from " + capsUrl + ": " + presented.error();
    // A refused certificate fails every request, pinned key or not: its own advice is the fix.
    if (isTlsError(f.error))
      return Status::error(why);
    if (known.empty())
      return Status::error(why + ". Without it no answer can be checked: make the server "
                                 "reachable, or pin its key with --server-key KEY (its "
                                 "public_key from `mcp-sidecar serve`'s log)");
    const KnownServer& k = known.back();
    log::warn("using the key on file without checking it against the server now",
              {{"detail", why},
               {"known_servers", o.knownServers + ":" + std::to_string(k.line)},
               {"key_id", verifier::fingerprint(k.key)}});
    return ResolvedKey{ServerKey::of(k.key), "known_servers:" + std::to_string(k.line)};
  }

  for (const KnownServer& k : known)
    if (k.key == *presented)
      return ResolvedKey{ServerKey::of(k.key), o.knownServers + ":" + std::to_string(k.line)};
  if (!known.empty())
    return Status::error(changedKeyMessage(o.url.origin, *presented, known, o.knownServers));
  if (!unreadable.empty())
    return Status::error(o.knownServers + ":" + std::to_string(unreadable.front()) + " names " +
                         o.url.origin +
                         " but cannot be read, so the server's key cannot be compared with it: "
                         "fix or remove that line and connect again");

  ServerKey sk = ServerKey::of(*presented);
  if (o.knownServers.empty()) {
    log::warn("the server's key is used for this run only (there is no known_servers file)",
              {{"origin", o.url.origin}, {"key_id", sk.keyId}, {"detail", o.knownServersErr}});
    return ResolvedKey{sk, "learned (not saved)"};
  }
  Status saved = KnownServers::append(o.knownServers, o.url.origin, *presented);
  if (!saved.ok()) {
    log::warn("the server's key is used for this run only: it could not be saved",
              {{"origin", o.url.origin}, {"key_id", sk.keyId}, {"detail", saved.message()}});
    return ResolvedKey{sk, "learned (not saved)"};
  }
  log::warn("first connection to this server: its key was learned and saved; compare the "
            "fingerprint with the server's operator",
            {{"origin", o.url.origin},
             {"key_id", sk.keyId},
             {"public_key", verifier::base64(presented->bytes)},
             {"known_servers", o.knownServers}});
  return ResolvedKey{sk, "learned, saved to " + o.knownServers};
}

} // namespace sidecar::connect
