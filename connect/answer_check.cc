#include "connect/answer_check.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "verifier/answer_signature.h"

namespace sidecar::connect {

namespace {

// §2's timestamp rule, which answers follow too: 1 to 12 digits, no leading zero.
bool wellFormedTimestamp(std::string_view t) {
  if (t.empty() || t.size() > 12 || t[0] == '0')
    return false;
  return std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool decodeSignature(std::string_view text, verifier::Signature& out) {
  std::string raw;
  if (!verifier::decodeBase64(text, raw) || raw.size() != out.size())
    return false;
  std::memcpy(out.data(), raw.data(), out.size());
  return true;
}

} // namespace

Status checkAnswerHeaders(const ServerKey& server, const RequestBinding& request, unsigned status,
                          const AnswerHeaders& h, std::string_view bodySha256) {
  if (h.signature.empty())
    return Status::error("the answer is not signed (no X-MCP-Signature header): the server is "
                         "not an mcp-sidecar that signs its answers, or something between "
                         "removed the signature");
  if (!wellFormedTimestamp(h.timestamp))
    return Status::error("the answer's X-MCP-Timestamp '" + h.timestamp +
                         "' is missing or malformed");
  if (h.keyId.empty())
    return Status::error("the answer has no X-MCP-Key-Id header");
  if (h.keyId != server.keyId)
    return Status::error("the answer is signed by another key (" + h.keyId +
                         ") than the server's (" + server.keyId + ")");
  verifier::Signature sig{};
  if (!decodeSignature(h.signature, sig))
    return Status::error("the answer's X-MCP-Signature is not the base64 of 64 bytes");
  std::string message = verifier::answerMessage(status, h.timestamp, request.nonce,
                                                request.signature, h.keyId, bodySha256);
  if (!verifier::verifySignature(server.key, sig, message))
    return Status::error("the answer's signature does not verify with the server's key " +
                         server.keyId +
                         ": its status, body or binding to this request was "
                         "altered");
  return {};
}

bool parseEventSignature(std::string_view comment, uint64_t& seq, std::string& sig,
                         bool& malformed) {
  malformed = false;
  constexpr std::string_view kPrefix = "mcp-sig";
  if (comment.substr(0, kPrefix.size()) != kPrefix)
    return false;
  comment.remove_prefix(kPrefix.size());
  malformed = true;
  constexpr std::string_view kSeq = " seq=";
  if (comment.substr(0, kSeq.size()) != kSeq)
    return false;
  comment.remove_prefix(kSeq.size());
  size_t space = comment.find(' ');
  if (space == std::string_view::npos)
    return false;
  std::string_view n = comment.substr(0, space);
  if (n.empty() || (n.size() > 1 && n[0] == '0'))
    return false;
  auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), seq);
  if (ec != std::errc() || p != n.data() + n.size())
    return false;
  comment.remove_prefix(space);
  constexpr std::string_view kSig = " sig=";
  if (comment.substr(0, kSig.size()) != kSig)
    return false;
  comment.remove_prefix(kSig.size());
  while (!comment.empty() && (comment.back() == ' ' || comment.back() == '\t'))
    comment.remove_suffix(1);
  if (comment.empty() || comment.find(' ') != std::string_view::npos)
    return false;
  sig = std::string(comment);
  malformed = false;
  return true;
}

Status EventStreamChecker::check(const SseEvent& event) {
  const std::string which = "event " + std::to_string(next_);
  bool found = false;
  uint64_t seq = 0;
  std::string sig;
  for (const std::string& c : event.comments) {
    uint64_t s = 0;
    std::string g;
    bool malformed = false;
    if (parseEventSignature(c, s, g, malformed)) {
      if (found)
        return Status::error(which + " carries two ': mcp-sig' lines");
      found = true;
      seq = s;
      sig = std::move(g);
    } else if (malformed) {
      return Status::error(which + " has a malformed signature line ': " + c + "'");
    }
  }
  if (!found)
    return Status::error(which + " is not signed (no ': mcp-sig seq=... sig=...' line before it)");
  if (seq > next_)
    return Status::error(
        "event " + std::to_string(next_) +
        (seq == next_ + 1 ? " is missing" : " to " + std::to_string(seq - 1) + " are missing") +
        ": the next event is signed as seq " + std::to_string(seq) + " (events dropped)");
  if (seq < next_)
    return Status::error(which + " is signed as seq " + std::to_string(seq) +
                         ", an earlier one (events reordered or replayed)");
  verifier::Signature raw{};
  if (!decodeSignature(sig, raw))
    return Status::error(which + "'s signature is not the base64 of 64 bytes");
  std::string message =
      verifier::eventMessage(requestSignature_, timestamp_, seq, verifier::sha256Hex(event.raw));
  if (!verifier::verifySignature(server_.key, raw, message))
    return Status::error(which +
                         " was altered: its signature does not verify with the "
                         "server's key " +
                         server_.keyId);
  ++next_;
  return {};
}

} // namespace sidecar::connect
