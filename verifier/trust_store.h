#pragma once
// The trust store: the caller keys a sidecar accepts (docs/signing.md, "Trust store file").
// Immutable once parsed; the sidecar swaps in a new one when the file changes.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "verifier/keys.h"

namespace sidecar::verifier {

struct TrustedKey {
  std::string id; // as given, or the key's fingerprint when the entry has none
  PublicKey key;
  std::optional<int64_t> expiresUnix; // RFC 3339 in the file
  bool revoked = false;
  std::optional<std::vector<std::string>> tools; // absent: every tool; empty: none
  std::string aimAgentId;

  bool expiredAt(int64_t nowUnix) const { return expiresUnix && nowUnix >= *expiresUnix; }
  bool allowsTool(std::string_view tool) const;
};

class TrustStore {
public:
  // Parses the YAML text. `source` names the file in errors, which also name the entry (by index
  // and id) and the field: "trust store /etc/keys.yaml: keys[2] (id bob): public_key: ...".
  // Duplicate ids are an error.
  static Result<std::shared_ptr<const TrustStore>> parse(std::string_view yamlText,
                                                         const std::string& source);
  // Reads and parses the file.
  static Result<std::shared_ptr<const TrustStore>> load(const std::string& path);

  // The entry with this id, or null.
  const TrustedKey* find(std::string_view id) const;
  // The only entry when the store holds exactly one key, else null.
  const TrustedKey* single() const { return keys_.size() == 1 ? &keys_[0] : nullptr; }
  const std::vector<TrustedKey>& keys() const { return keys_; }

private:
  // Transparent hashing: find() looks a string_view up without building a std::string.
  struct IdHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::vector<TrustedKey> keys_;
  std::unordered_map<std::string, size_t, IdHash, std::equal_to<>> byId_;
};

} // namespace sidecar::verifier
