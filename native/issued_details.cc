#include "issued_details.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>

#include "convert.h"

namespace cmp {

namespace {

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;

std::string Drain(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return len > 0 ? std::string(data, static_cast<size_t>(len)) : std::string();
}

// The flags Node prints names with (one attribute a line, short names, RFC 2253 escapes).
constexpr unsigned long kNameFlags =
    ASN1_STRFLGS_ESC_2253 | ASN1_STRFLGS_ESC_CTRL | ASN1_STRFLGS_UTF8_CONVERT | XN_FLAG_SEP_MULTILINE | XN_FLAG_FN_SN;

bool Name(const X509_NAME* name, std::string* out) {
  BioPtr bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, kNameFlags) < 0) return false;
  *out = Drain(bio.get());
  return true;
}

}  // namespace

IssuedDetails IssuedDetails::Of(X509* cert, EVP_PKEY* key, const std::string* keyPass) {
  IssuedDetails d;
  BioPtr pem(BIO_new(BIO_s_mem()), BIO_free);
  if (!pem || !PEM_write_bio_X509(pem.get(), cert)) return d;
  d.pem = Drain(pem.get());
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  char* hex = bn != nullptr ? BN_bn2hex(bn) : nullptr;
  BN_free(bn);
  if (hex == nullptr) return d;
  d.serial = hex;
  OPENSSL_free(hex);
  if (!Name(X509_get_subject_name(cert), &d.subject) || !Name(X509_get_issuer_name(cert), &d.issuer)) return d;
  const ASN1_OCTET_STRING* akid = X509_get0_authority_key_id(cert);
  if (akid != nullptr) d.akid = HexOf(ASN1_STRING_get0_data(akid), static_cast<size_t>(ASN1_STRING_length(akid)));
  struct tm tm;
  if (!ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm)) return d;
  char iso[96];
  std::snprintf(iso, sizeof iso, "%04d-%02d-%02dT%02d:%02d:%02d.000Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
  d.notAfter = iso;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdLen = 0;
  if (!X509_digest(cert, EVP_sha256(), md, &mdLen)) return d;
  d.sha256 = HexOf(md, mdLen, true, ':');
  if (key != nullptr) {
    BioPtr out(BIO_new(BIO_s_mem()), BIO_free);
    const EVP_CIPHER* cipher = keyPass != nullptr ? EVP_aes_256_cbc() : nullptr;
    if (!out || !PEM_write_bio_PKCS8PrivateKey(out.get(), key, cipher, keyPass != nullptr ? keyPass->data() : nullptr,
                                               keyPass != nullptr ? static_cast<int>(keyPass->size()) : 0, nullptr, nullptr)) {
      return d;
    }
    d.keyPem = Drain(out.get());
    // the buffer held the key in clear when unencrypted: wipe it
    char* data = nullptr;
    long len = BIO_get_mem_data(out.get(), &data);
    if (len > 0) OPENSSL_cleanse(data, static_cast<size_t>(len));
  }
  d.ok = true;
  return d;
}

IssuedDetails::~IssuedDetails() { OPENSSL_cleanse(keyPem.data(), keyPem.size()); }

Napi::Object IssuedDetails::ToJs(Napi::Env env) const {
  Napi::Object o = Napi::Object::New(env);
  o.Set("pem", pem);
  o.Set("serial", serial);
  o.Set("subject", subject);
  o.Set("issuer", issuer);
  o.Set("akid", akid);
  o.Set("notAfter", notAfter);
  o.Set("sha256", sha256);
  if (!keyPem.empty()) o.Set("keyPem", keyPem);
  return o;
}

EVP_PKEY* GenerateKey(const std::string& spec) {
  size_t colon = spec.find(':');
  std::string type = spec.substr(0, colon);
  std::string arg = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (type == "EC" && !arg.empty()) return EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", arg.c_str());
  if (type == "RSA" && !arg.empty()) return EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(std::strtoul(arg.c_str(), nullptr, 10)));
  if (type == "ED25519" || type == "ED448" || type == "X25519") return EVP_PKEY_Q_keygen(nullptr, nullptr, type.c_str());
  ERR_raise_data(ERR_LIB_EVP, EVP_R_UNSUPPORTED_ALGORITHM, "unknown key spec '%s'", spec.c_str());
  return nullptr;
}

}  // namespace cmp
