#pragma once
// Ed25519 keys in every encoding of the signing contract (docs/signing.md §1), fingerprints,
// and the primitives the verifier and the signing tools share. No I/O.
//
// Ed25519 signing and verification use libsodium (crypto_sign_verify_detached: strict by design,
// about twice as fast as OpenSSL 3.0's EVP here); OpenSSL handles PEM/DER key formats and SHA-256.

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sidecar::verifier {

struct PublicKey {
  std::array<uint8_t, 32> bytes{};
  bool operator==(const PublicKey&) const = default;
};

struct PrivateKey {
  std::array<uint8_t, 32> seed{};
  PublicKey pub;
};

using Signature = std::array<uint8_t, 64>;

// Any public-key form of §1: base64 (standard or URL-safe, padded or not) or 64 hex digits of the
// raw 32 bytes, PEM SPKI, or hex of the DER SPKI. Surrounding whitespace is ignored. Small-order
// or non-canonical keys are refused. The error says which forms are accepted.
Result<PublicKey> parsePublicKey(std::string_view text);

// Any private-key form of §1: base64 (either alphabet) of the 32-byte seed or of the 64-byte
// seed ‖ public key (the public half must match the seed), or PEM PKCS#8.
Result<PrivateKey> parsePrivateKey(std::string_view text);

// A new random key (libsodium's CSPRNG).
PrivateKey generatePrivateKey();

// "ed25519:" + unpadded base64url of SHA-256(raw public key).
std::string fingerprint(const PublicKey& key);

// Standard base64, padded.
std::string base64(std::span<const uint8_t> bytes);
// Decodes base64 in either alphabet, padding optional. False on anything else.
bool decodeBase64(std::string_view text, std::string& out);

// The key file form: standard base64 of seed ‖ public key, one line.
std::string privateKeyFileText(const PrivateKey& key);

// A fresh X-MCP-Nonce: 22 characters, the unpadded base64url of 16 random bytes.
std::string randomNonce();

// Lowercase hex SHA-256.
std::string sha256Hex(std::string_view data);
// The same into `out` (64 characters, no NUL), without allocating.
void sha256HexTo(std::string_view data, char out[64]);

Signature sign(const PrivateKey& key, std::string_view message);
bool verifySignature(const PublicKey& key, const Signature& sig, std::string_view message);

} // namespace sidecar::verifier
