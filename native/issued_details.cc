#include "issued_details.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>

#include "convert.h"
#include "features.h"
#include "process_settings.h"

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

namespace {

// Provider-made EC keys cost OpenSSL 3.0 an encoder look-up through its method store each time one is put
// into a certificate template (X509_PUBKEY_set encodes and decodes it again) or written as PKCS#8; a key made
// as an EC_KEY takes the built-in encoders. Key, template key and PKCS#8 PEM, measured on this machine:
// 3.0.19 395 µs against 80, 3.5.7 105 against 65. EC_KEY is deprecated, not gone: its functions are looked
// up (Features), and the provider path stays for anything but the default provider alone (FIPS, an HSM, a
// property query), where the key must come from the provider asked for.
bool LegacyEcAllowed() {
  const Features& f = GetFeatures();
  if (f.ec_key_new_by_curve_name == nullptr || f.ec_key_generate_key == nullptr || f.ec_key_free == nullptr || f.pkey_assign == nullptr) {
    return false;
  }
  // the providers an OpenSSL configuration loaded, looked at once; later ones come through loadProvider
  static const bool onlyDefault = [] {
    bool only = true;
    OSSL_PROVIDER_do_all(
        nullptr,
        [](OSSL_PROVIDER* p, void* arg) {
          const char* name = OSSL_PROVIDER_get0_name(p);
          if (std::strcmp(name, "default") != 0 && std::strcmp(name, "base") != 0) *static_cast<bool*>(arg) = false;
          return 1;
        },
        &only);
    return only;
  }();
  // FIPS can be switched on at any time (crypto.setFips): asked each time
  return onlyDefault && !ProvidersTouched() && EVP_default_properties_is_fips_enabled(nullptr) == 0;
}

EVP_PKEY* LegacyEcKey(int nid) {
  const Features& f = GetFeatures();
  struct ec_key_st* ec = f.ec_key_new_by_curve_name(nid);
  EVP_PKEY* key = ec != nullptr && f.ec_key_generate_key(ec) == 1 ? EVP_PKEY_new() : nullptr;
  if (key == nullptr || f.pkey_assign(key, EVP_PKEY_EC, ec) != 1) {
    EVP_PKEY_free(key);
    if (ec != nullptr) f.ec_key_free(ec);
    return nullptr;
  }
  return key;  // owns ec now
}

}  // namespace

EVP_PKEY* GenerateKey(const std::string& spec) {
  size_t colon = spec.find(':');
  std::string type = spec.substr(0, colon);
  std::string arg = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (type == "EC" && !arg.empty()) {
    int nid = EC_curve_nist2nid(arg.c_str());
    if (nid == NID_undef) nid = OBJ_sn2nid(arg.c_str());
    if (nid != NID_undef && LegacyEcAllowed()) return LegacyEcKey(nid);
    return EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", arg.c_str());
  }
  if (type == "RSA" && !arg.empty()) return EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(std::strtoul(arg.c_str(), nullptr, 10)));
  if (type == "ED25519" || type == "ED448" || type == "X25519") return EVP_PKEY_Q_keygen(nullptr, nullptr, type.c_str());
  ERR_raise_data(ERR_LIB_EVP, EVP_R_UNSUPPORTED_ALGORITHM, "unknown key spec '%s'", spec.c_str());
  return nullptr;
}

}  // namespace cmp
