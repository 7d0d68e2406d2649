#include "verifier/keys.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include <string>

namespace sidecar::verifier {
namespace {

// The vectors' caller "alice".
constexpr const char* kAliceSeed = "4yyrNeYzPQYMRH0qdnwmTFM3EF4VMMm9jax+UZL8FY8=";
constexpr const char* kAlicePublic = "sWyr4JkbUZgjzirdTpspF7k6vp605EiAOLPvMcIo9L8=";
constexpr const char* kAliceFingerprint = "ed25519:oGXleqnuDoKdi06_yNPFz3gPZtiu9KVKq0gj5kRx53s";
constexpr const char* kBobPublic = "1nOkQtMsiSifwOfvrDuGDCQek4EMqEy6ahsFRlOrii0=";

std::string hexOf(std::span<const uint8_t> bytes, bool upper = false) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 0xf];
  }
  return out;
}

std::string bytesOf(std::string_view b64) {
  std::string out;
  EXPECT_TRUE(decodeBase64(b64, out)) << b64;
  return out;
}

std::span<const uint8_t> spanOf(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

PublicKey alicePublic() {
  auto k = parsePublicKey(kAlicePublic);
  EXPECT_TRUE(k.ok()) << k.error();
  return k.ok() ? *k : PublicKey{};
}

std::string pemOf(EVP_PKEY* pkey, bool isPrivate) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (isPrivate)
    PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  else
    PEM_write_bio_PUBKEY(bio, pkey);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  return pem;
}

std::string publicPem(const PublicKey& key) {
  EVP_PKEY* pkey =
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.bytes.data(), key.bytes.size());
  std::string pem = pemOf(pkey, false);
  EVP_PKEY_free(pkey);
  return pem;
}

std::string privatePem(const std::string& seed) {
  EVP_PKEY* pkey = EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed.data()), seed.size());
  std::string pem = pemOf(pkey, true);
  EVP_PKEY_free(pkey);
  return pem;
}

TEST(Base64, EncodesStandardPadded) {
  const std::string s = "\xfb\xff\xfe";
  EXPECT_EQ(base64(spanOf(s)), "+//+");
  EXPECT_EQ(base64(spanOf(std::string("a"))), "YQ==");
  EXPECT_EQ(base64({}), "");
}

TEST(Base64, DecodesEitherAlphabetWithOrWithoutPadding) {
  std::string out;
  for (const char* text : {"+//+", "-__-"}) {
    ASSERT_TRUE(decodeBase64(text, out)) << text;
    EXPECT_EQ(out, "\xfb\xff\xfe");
  }
  for (const char* text : {"YQ==", "YQ"}) {
    ASSERT_TRUE(decodeBase64(text, out)) << text;
    EXPECT_EQ(out, "a");
  }
  ASSERT_TRUE(decodeBase64("", out));
  EXPECT_EQ(out, "");
}

TEST(Base64, RefusesAnythingElse) {
  std::string out;
  for (const char* text : {"Y", "YQ=", "YQ===", "Y Q==", " YQ==", "YQ==\n", "+_8=", "!!!!",
                           "YR==", // unused bits set: not the canonical text of any bytes
                           "YQ==YQ=="})
    EXPECT_FALSE(decodeBase64(text, out)) << text;
}

TEST(Sha256, LowercaseHex) {
  EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256Hex("{}"), "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
}

TEST(Fingerprint, UnpaddedBase64UrlOfTheKeysSha256) {
  EXPECT_EQ(fingerprint(alicePublic()), kAliceFingerprint);
  PrivateKey k = generatePrivateKey();
  std::string fp = fingerprint(k.pub);
  EXPECT_EQ(fp.size(), 8u + 43u);
  EXPECT_EQ(fp.rfind("ed25519:", 0), 0u);
  EXPECT_EQ(fp.find_first_of("+/="), std::string::npos);
}

TEST(ParsePublicKey, EveryEncodingOfTheSameKey) {
  const PublicKey alice = alicePublic();
  const std::string raw = bytesOf(kAlicePublic);
  std::string unpadded = kAlicePublic;
  unpadded.pop_back();
  std::string urlsafe = unpadded;
  for (char& c : urlsafe)
    c = c == '+' ? '-' : (c == '/' ? '_' : c);
  const std::string forms[] = {
      kAlicePublic,
      unpadded,
      urlsafe,
      urlsafe + "=",
      hexOf(alice.bytes),
      hexOf(alice.bytes, true),
      "302a300506032b6570032100" + hexOf(alice.bytes),
      "302A300506032B6570032100" + hexOf(alice.bytes, true),
      publicPem(alice),
      "  \n" + std::string(kAlicePublic) + " \t\n",
  };
  for (const std::string& form : forms) {
    auto k = parsePublicKey(form);
    ASSERT_TRUE(k.ok()) << form << ": " << k.error();
    EXPECT_EQ(*k, alice) << form;
  }
}

TEST(ParsePublicKey, RefusesSmallOrderAndNonCanonicalPoints) {
  const char* points[] = {
      // identity (order 1), y = -1 (order 2), y = 0 (order 4), two of order 8
      "0100000000000000000000000000000000000000000000000000000000000000",
      "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
      "0000000000000000000000000000000000000000000000000000000000000000",
      "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
      "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
      // y = p (non-canonical 0) and y = p + 1 (non-canonical identity)
      "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
      "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  };
  for (const char* hex : points) {
    auto k = parsePublicKey(hex);
    ASSERT_FALSE(k.ok()) << hex;
    EXPECT_NE(k.error().find("small-order"), std::string::npos) << k.error();
  }
  // The same refusal whatever the encoding.
  auto zeroB64 = parsePublicKey("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
  EXPECT_FALSE(zeroB64.ok());
  auto zeroSpki = parsePublicKey("302a300506032b6570032100" + std::string(64, '0'));
  EXPECT_FALSE(zeroSpki.ok());
}

TEST(ParsePublicKey, RefusesAKeyWithATorsionComponent) {
  // alice + a point of order 2: on the curve, canonical, not small-order, but outside the
  // prime-order subgroup that every honestly made key lies in.
  const PublicKey alice = alicePublic();
  std::string order2 = bytesOf("7P///////////////////////////////////////38=");
  ASSERT_EQ(order2.size(), 32u);
  unsigned char mixed[32];
  ASSERT_EQ(crypto_core_ed25519_add(mixed, alice.bytes.data(),
                                    reinterpret_cast<const unsigned char*>(order2.data())),
            0);
  EXPECT_FALSE(parsePublicKey(hexOf({mixed, 32})).ok());
}

TEST(ParsePublicKey, RefusesJunkAndSaysWhichFormsAreAccepted) {
  const std::string alicePem = publicPem(alicePublic());
  const std::string junk[] = {
      "",
      "hello world",
      "sWyr4JkbUZgjzirdTpspF7k6vp605EiAOLPvMcIo9A==",               // 31 bytes
      "sWyr4JkbUZgjzirdTpspF7k6vp605EiAOLPvMcIo9L8A",               // 33 bytes
      hexOf(alicePublic().bytes).substr(2),                         // 62 hex digits
      "302a300506032b6570032101" + hexOf(alicePublic().bytes),      // wrong DER prefix
      "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", // damaged PEM
      privatePem(bytesOf(kAliceSeed)),                              // a private key
      alicePem.substr(0, alicePem.size() / 2),                      // truncated PEM
  };
  for (const std::string& text : junk) {
    auto k = parsePublicKey(text);
    EXPECT_FALSE(k.ok()) << text;
  }
  auto k = parsePublicKey("hello world");
  ASSERT_FALSE(k.ok());
  EXPECT_NE(k.error().find("base64"), std::string::npos) << k.error();
  EXPECT_NE(k.error().find("64 hex digits"), std::string::npos) << k.error();
  EXPECT_NE(k.error().find("BEGIN PUBLIC KEY"), std::string::npos) << k.error();
  EXPECT_NE(k.error().find("302a300506032b6570032100"), std::string::npos) << k.error();
}

TEST(ParsePrivateKey, SeedSeedAndPublicAndPkcs8) {
  const std::string seed = bytesOf(kAliceSeed);
  const std::string both = seed + bytesOf(kAlicePublic);
  std::string urlsafeUnpadded = base64(spanOf(both));
  while (urlsafeUnpadded.back() == '=')
    urlsafeUnpadded.pop_back();
  for (char& c : urlsafeUnpadded)
    c = c == '+' ? '-' : (c == '/' ? '_' : c);
  const std::string forms[] = {kAliceSeed, base64(spanOf(both)), urlsafeUnpadded, privatePem(seed),
                               std::string(kAliceSeed) + "\n"};
  for (const std::string& form : forms) {
    auto k = parsePrivateKey(form);
    ASSERT_TRUE(k.ok()) << form << ": " << k.error();
    EXPECT_EQ(std::string(k->seed.begin(), k->seed.end()), seed) << form;
    EXPECT_EQ(k->pub, alicePublic()) << form;
  }
}

TEST(ParsePrivateKey, RefusesHalvesThatDisagree) {
  const std::string mixed = bytesOf(kAliceSeed) + bytesOf(kBobPublic);
  auto k = parsePrivateKey(base64(spanOf(mixed)));
  ASSERT_FALSE(k.ok());
  EXPECT_NE(k.error().find("different keys"), std::string::npos) << k.error();
}

TEST(ParsePrivateKey, RefusesJunk) {
  const std::string junk[] = {
      "",
      "not a key",
      base64(spanOf(std::string(48, 'x'))), // 48 bytes
      base64(spanOf(std::string(31, 'x'))),
      publicPem(alicePublic()),
      "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
      "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
  };
  for (const std::string& text : junk)
    EXPECT_FALSE(parsePrivateKey(text).ok()) << text;
  auto k = parsePrivateKey("not a key");
  EXPECT_NE(k.error().find("BEGIN PRIVATE KEY"), std::string::npos) << k.error();
}

TEST(ParsePrivateKey, RefusesANonEd25519Pkcs8Key) {
  EVP_PKEY* x = EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519");
  ASSERT_NE(x, nullptr);
  std::string pem = pemOf(x, true);
  EVP_PKEY_free(x);
  auto k = parsePrivateKey(pem);
  ASSERT_FALSE(k.ok());
  EXPECT_NE(k.error().find("not an Ed25519"), std::string::npos) << k.error();
}

TEST(GeneratePrivateKey, FreshKeysRoundTripThroughTheKeyFileForm) {
  PrivateKey a = generatePrivateKey(), b = generatePrivateKey();
  EXPECT_NE(a.seed, b.seed);
  EXPECT_NE(a.pub, b.pub);
  std::string text = privateKeyFileText(a);
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(text.find('\n'), text.size() - 1) << "one line";
  EXPECT_EQ(text.size(), 88u + 1u);
  auto parsed = parsePrivateKey(text);
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->seed, a.seed);
  EXPECT_EQ(parsed->pub, a.pub);
}

TEST(SignVerify, RoundTripAndTampering) {
  PrivateKey k = generatePrivateKey();
  PrivateKey other = generatePrivateKey();
  const std::string message = "mcp-sig-v1\nPOST\n/mcp\n1764000000\n\n\n\n" + sha256Hex("{}");
  Signature sig = sign(k, message);
  EXPECT_TRUE(verifySignature(k.pub, sig, message));
  EXPECT_EQ(sign(k, message), sig) << "Ed25519 is deterministic";
  EXPECT_FALSE(verifySignature(other.pub, sig, message));
  EXPECT_FALSE(verifySignature(k.pub, sig, message + " "));
  Signature flipped = sig;
  flipped[10] ^= 1;
  EXPECT_FALSE(verifySignature(k.pub, flipped, message));
  EXPECT_TRUE(verifySignature(k.pub, sign(k, ""), ""));
}

TEST(SignVerify, RefusesANonCanonicalS) {
  PrivateKey k = generatePrivateKey();
  const std::string message = "hello";
  Signature sig = sign(k, message);
  // S + L, little-endian: the same point equation holds, but S is not reduced.
  static constexpr uint8_t kL[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
                                     0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
                                     0,    0,    0,    0,    0,    0,    0,    0,
                                     0,    0,    0,    0,    0,    0,    0,    0x10};
  Signature bumped = sig;
  unsigned carry = 0;
  for (size_t i = 0; i < 32; ++i) {
    unsigned sum = bumped[32 + i] + kL[i] + carry;
    bumped[32 + i] = static_cast<uint8_t>(sum);
    carry = sum >> 8;
  }
  ASSERT_EQ(carry, 0u);
  EXPECT_FALSE(verifySignature(k.pub, bumped, message));
}

} // namespace
} // namespace sidecar::verifier
