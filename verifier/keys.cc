#include "verifier/keys.h"
#include "common/ascii.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <cstdlib>
#include <cstring>
#include <memory>

namespace sidecar::verifier {
namespace {

// libsodium must be initialised once before use; sodium_init() is thread-safe and idempotent,
// the function-local static makes it run once per process.
void ensureSodium() {
  static const bool ready = sodium_init() >= 0;
  if (!ready)
    std::abort(); // no usable CSPRNG: nothing here can work
}

constexpr std::string_view kSpkiPrefixHex = "302a300506032b6570032100";
constexpr std::string_view kPublicForms =
    "expected base64 (standard or URL-safe alphabet, padding optional) or 64 hex digits of the "
    "raw 32-byte Ed25519 key, a PEM '-----BEGIN PUBLIC KEY-----' block, or hex of the DER SPKI "
    "(302a300506032b6570032100 followed by the 64 hex digits of the key)";
constexpr std::string_view kPrivateForms =
    "expected base64 (either alphabet) of the 32-byte Ed25519 seed or of the 64-byte "
    "seed followed by the public key, or a PEM '-----BEGIN PRIVATE KEY-----' (PKCS#8) block";

std::string_view trimWhitespace(std::string_view s) {
  auto blank = [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
  };
  while (!s.empty() && blank(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && blank(s.back()))
    s.remove_suffix(1);
  return s;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

bool isHex(std::string_view s) {
  for (char c : s)
    if (hexValue(c) < 0)
      return false;
  return true;
}

// Decodes hex (either case) of even length.
bool decodeHex(std::string_view s, std::string& out) {
  if (s.size() % 2 != 0)
    return false;
  out.clear();
  out.reserve(s.size() / 2);
  for (size_t i = 0; i < s.size(); i += 2) {
    int hi = hexValue(s[i]), lo = hexValue(s[i + 1]);
    if (hi < 0 || lo < 0)
      return false;
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return true;
}

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

// OpenSSL's error queue is per thread; leave it empty after a failed parse so that the next
// unrelated OpenSSL call does not report our stale error.
struct ClearOpensslErrors {
  ~ClearOpensslErrors() { ERR_clear_error(); }
};

// Never prompt for a passphrase (an encrypted key simply fails to load).
int noPassphrase(char*, int, int, void*) {
  return 0;
}

bool isEd25519(const EVP_PKEY* pkey) {
  return pkey && EVP_PKEY_get_id(pkey) == EVP_PKEY_ED25519;
}

Result<PublicKey> checkedPublicKey(const uint8_t* raw, std::string_view form) {
  ensureSodium();
  PublicKey key;
  std::memcpy(key.bytes.data(), raw, key.bytes.size());
  // Canonical encoding, on the curve, not of small order, in the prime-order subgroup.
  if (crypto_core_ed25519_is_valid_point(key.bytes.data()) != 1)
    return Status::error("the " + std::string(form) +
                         " is not a usable Ed25519 public key: it is a small-order, "
                         "non-canonical or invalid curve point");
  return key;
}

Result<PublicKey> publicKeyFromPkey(EVP_PKEY* pkey, std::string_view form) {
  if (!isEd25519(pkey))
    return Status::error("the " + std::string(form) + " holds a key that is not Ed25519; " +
                         std::string(kPublicForms));
  uint8_t raw[32];
  size_t len = sizeof raw;
  if (EVP_PKEY_get_raw_public_key(pkey, raw, &len) != 1 || len != sizeof raw)
    return Status::error("cannot read the raw Ed25519 key from the " + std::string(form));
  return checkedPublicKey(raw, form);
}

PublicKey derivePublic(const std::array<uint8_t, 32>& seed) {
  ensureSodium();
  PublicKey pub;
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_seed_keypair(pub.bytes.data(), sk, seed.data());
  sodium_memzero(sk, sizeof sk);
  return pub;
}

void sha256(const void* data, size_t len, unsigned char out[32]) {
  // Fetched once: the implicit fetch behind EVP_sha256() on every call costs more than hashing a
  // small body.
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  // One context per thread, reused: EVP_Digest() allocates, initialises and frees one per call,
  // which cost as much as hashing an audit line (bench/README.md).
  struct Ctx {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Ctx() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Ctx c;
  unsigned int outLen = 0;
  if (!md || !c.ctx || EVP_DigestInit_ex2(c.ctx, md, nullptr) != 1 ||
      EVP_DigestUpdate(c.ctx, data, len) != 1 || EVP_DigestFinal_ex(c.ctx, out, &outLen) != 1 ||
      outLen != 32)
    std::abort(); // an OpenSSL without SHA-256: the installation is broken
}

std::string encodeBase64(const uint8_t* data, size_t len, int variant) {
  ensureSodium();
  std::string out(sodium_base64_encoded_len(len, variant), '\0');
  sodium_bin2base64(out.data(), out.size(), data, len, variant);
  out.resize(out.size() - 1); // the terminating NUL
  return out;
}

} // namespace

std::string base64(std::span<const uint8_t> bytes) {
  return encodeBase64(bytes.data(), bytes.size(), sodium_base64_VARIANT_ORIGINAL);
}

bool decodeBase64(std::string_view text, std::string& out) {
  ensureSodium();
  out.clear();
  if (text.empty())
    return true;
  // A padded text must use the padded variant (which checks the padding), an unpadded one the
  // unpadded variant; the alphabet is whichever decodes. libsodium also refuses non-zero unused
  // bits, so every byte string has exactly one accepted text per alphabet and padding choice.
  bool padded = text.back() == '=';
  const int variants[2] = {
      padded ? sodium_base64_VARIANT_ORIGINAL : sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
      padded ? sodium_base64_VARIANT_URLSAFE : sodium_base64_VARIANT_URLSAFE_NO_PADDING};
  std::string buf(text.size() / 4 * 3 + 3, '\0');
  for (int variant : variants) {
    size_t len = 0;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(buf.data()), buf.size(), text.data(),
                          text.size(), nullptr, &len, nullptr, variant) == 0) {
      buf.resize(len);
      out = std::move(buf);
      return true;
    }
  }
  return false;
}

void sha256HexTo(std::string_view data, char out[64]) {
  unsigned char digest[32];
  sha256(data.data(), data.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < 32; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xf];
  }
}

std::string sha256Hex(std::string_view data) {
  std::string out(64, '\0');
  sha256HexTo(data, out.data());
  return out;
}

std::string fingerprint(const PublicKey& key) {
  unsigned char digest[32];
  sha256(key.bytes.data(), key.bytes.size(), digest);
  return "ed25519:" + encodeBase64(digest, sizeof digest, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

Result<PublicKey> parsePublicKey(std::string_view text) {
  ClearOpensslErrors clearErrors;
  text = trimWhitespace(text);
  if (text.empty())
    return Status::error("the public key is empty; " + std::string(kPublicForms));

  if (text.starts_with("-----BEGIN")) {
    if (!text.starts_with("-----BEGIN PUBLIC KEY-----"))
      return Status::error("the PEM block is not a '-----BEGIN PUBLIC KEY-----' (SPKI) block; " +
                           std::string(kPublicForms));
    BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
    PkeyPtr pkey(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, noPassphrase, nullptr) : nullptr);
    if (!pkey)
      return Status::error("the PEM public key does not decode (damaged base64 or DER)");
    return publicKeyFromPkey(pkey.get(), "PEM public key");
  }

  if (isHex(text)) {
    std::string bytes;
    if (text.size() == 64 && decodeHex(text, bytes))
      return checkedPublicKey(reinterpret_cast<const uint8_t*>(bytes.data()), "hex public key");
    if (text.size() == kSpkiPrefixHex.size() + 64 && istartsWith(text, kSpkiPrefixHex) &&
        decodeHex(text, bytes)) {
      const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
      PkeyPtr pkey(d2i_PUBKEY(nullptr, &p, static_cast<long>(bytes.size())));
      if (!pkey || p != reinterpret_cast<const unsigned char*>(bytes.data()) + bytes.size())
        return Status::error("the hex DER SPKI does not decode");
      return publicKeyFromPkey(pkey.get(), "hex DER SPKI public key");
    }
    // Not a hex form: it may still be base64 (hex digits are base64 characters).
  }

  std::string raw;
  if (decodeBase64(text, raw)) {
    if (raw.size() == 32)
      return checkedPublicKey(reinterpret_cast<const uint8_t*>(raw.data()), "base64 public key");
    return Status::error("the public key decodes from base64 to " + std::to_string(raw.size()) +
                         " bytes, not 32; " + std::string(kPublicForms));
  }
  return Status::error("the public key is in no known form; " + std::string(kPublicForms));
}

Result<PrivateKey> parsePrivateKey(std::string_view text) {
  ClearOpensslErrors clearErrors;
  text = trimWhitespace(text);
  if (text.empty())
    return Status::error("the private key is empty; " + std::string(kPrivateForms));
  PrivateKey key;

  if (text.starts_with("-----BEGIN")) {
    if (!text.starts_with("-----BEGIN PRIVATE KEY-----"))
      return Status::error("the PEM block is not an unencrypted '-----BEGIN PRIVATE KEY-----' "
                           "(PKCS#8) block; " +
                           std::string(kPrivateForms));
    BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
    PkeyPtr pkey(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, noPassphrase, nullptr)
                     : nullptr);
    if (!pkey)
      return Status::error("the PEM private key does not decode (damaged base64 or DER)");
    if (!isEd25519(pkey.get()))
      return Status::error("the PEM private key is not an Ed25519 key; " +
                           std::string(kPrivateForms));
    size_t len = key.seed.size();
    if (EVP_PKEY_get_raw_private_key(pkey.get(), key.seed.data(), &len) != 1 ||
        len != key.seed.size())
      return Status::error("cannot read the Ed25519 seed from the PEM private key");
    key.pub = derivePublic(key.seed);
    return key;
  }

  std::string raw;
  if (!decodeBase64(text, raw))
    return Status::error("the private key is in no known form; " + std::string(kPrivateForms));
  struct Wipe {
    std::string& s;
    ~Wipe() { sodium_memzero(s.data(), s.size()); }
  } wipe{raw};
  if (raw.size() != 32 && raw.size() != 64)
    return Status::error("the private key decodes from base64 to " + std::to_string(raw.size()) +
                         " bytes, not 32 (seed) or 64 (seed and public key); " +
                         std::string(kPrivateForms));
  std::memcpy(key.seed.data(), raw.data(), key.seed.size());
  key.pub = derivePublic(key.seed);
  if (raw.size() == 64 &&
      sodium_memcmp(key.pub.bytes.data(), raw.data() + 32, key.pub.bytes.size()) != 0) {
    sodium_memzero(key.seed.data(), key.seed.size());
    return Status::error("the 64-byte private key's last 32 bytes are not the public key of its "
                         "first 32 (the seed): the two halves belong to different keys");
  }
  return key;
}

PrivateKey generatePrivateKey() {
  ensureSodium();
  PrivateKey key;
  randombytes_buf(key.seed.data(), key.seed.size());
  key.pub = derivePublic(key.seed);
  return key;
}

std::string privateKeyFileText(const PrivateKey& key) {
  uint8_t both[64];
  std::memcpy(both, key.seed.data(), 32);
  std::memcpy(both + 32, key.pub.bytes.data(), 32);
  std::string text = encodeBase64(both, sizeof both, sodium_base64_VARIANT_ORIGINAL);
  sodium_memzero(both, sizeof both);
  text += '\n';
  return text;
}

Signature sign(const PrivateKey& key, std::string_view message) {
  ensureSodium();
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  std::memcpy(sk, key.seed.data(), 32);
  std::memcpy(sk + 32, key.pub.bytes.data(), 32);
  Signature sig{};
  crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size(), sk);
  sodium_memzero(sk, sizeof sk);
  return sig;
}

bool verifySignature(const PublicKey& key, const Signature& sig, std::string_view message) {
  ensureSodium();
  return crypto_sign_verify_detached(sig.data(),
                                     reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size(), key.bytes.data()) == 0;
}

std::string randomNonce() {
  ensureSodium();
  unsigned char random[16];
  randombytes_buf(random, sizeof random);
  char text[sodium_base64_ENCODED_LEN(16, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(text, sizeof text, random, sizeof random,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return text;
}

} // namespace sidecar::verifier
