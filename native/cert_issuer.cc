#include "cert_issuer.h"

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "convert.h"
#include "ossl_error.h"

namespace cmp {

namespace {

bool Nullish(const Napi::Value& v) { return v.IsNull() || v.IsUndefined(); }

void AddExt(Napi::Env env, X509* cert, X509V3_CTX* v3, int nid, const char* value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, v3, nid, value);
  if (ext == nullptr || !X509_add_ext(cert, ext, -1)) {
    X509_EXTENSION_free(ext);
    ThrowOssl(env, "Cannot add certificate extension");
  }
  X509_EXTENSION_free(ext);
}

}  // namespace

Napi::Value IssueCertificate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ErrQueueGuard guard;
  if (!info[0].IsObject()) ThrowType(env, "options must be an object");
  Napi::Object o = info[0].As<Napi::Object>();

  X509Ptr issuer = Nullish(o.Get("issuerCert")) ? nullptr : CertFromJs(o.Get("issuerCert"), "issuerCert");
  PkeyPtr issuerKey = KeyFromJs(o.Get("issuerKey"), true, "issuerKey");
  PkeyPtr publicKey = KeyFromJs(o.Get("publicKey"), false, "publicKey");
  X509NamePtr subject;
  Napi::Value subj = o.Get("subject");
  if (subj.IsString()) {
    subject = NameFromJs(subj, "subject");
  } else {
    std::vector<unsigned char> der = BytesFromJs(subj, "subject");
    const unsigned char* p = der.data();
    subject.reset(d2i_X509_NAME(nullptr, &p, static_cast<long>(der.size())));
    if (!subject) ThrowOssl(env, "subject is not a DER name");
  }
  std::vector<unsigned char> serial = BytesFromJs(o.Get("serial"), "serial");
  if (!o.Get("notBefore").IsNumber() || !o.Get("notAfter").IsNumber()) ThrowType(env, "notBefore/notAfter must be numbers");
  time_t notBefore = static_cast<time_t>(o.Get("notBefore").As<Napi::Number>().Int64Value());
  time_t notAfter = static_cast<time_t>(o.Get("notAfter").As<Napi::Number>().Int64Value());
  bool ca = o.Get("ca").ToBoolean();

  X509Ptr cert(X509_new());
  BIGNUM* bn = BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr);
  bool ok = cert && bn != nullptr && X509_set_version(cert.get(), 2) &&
            BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get())) != nullptr &&
            X509_set_subject_name(cert.get(), subject.get()) &&
            X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer.get()) : subject.get()) &&
            X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, 0, &notBefore) != nullptr &&
            X509_time_adj_ex(X509_getm_notAfter(cert.get()), 0, 0, &notAfter) != nullptr &&
            X509_set_pubkey(cert.get(), publicKey.get());
  BN_free(bn);
  if (!ok) ThrowOssl(env, "Cannot fill in the certificate");

  Napi::Value exts = o.Get("extensions");
  if (!Nullish(exts)) {
    std::vector<unsigned char> der = BytesFromJs(exts, "extensions");
    const unsigned char* p = der.data();
    X509_EXTENSIONS* list = d2i_X509_EXTENSIONS(nullptr, &p, static_cast<long>(der.size()));
    if (list == nullptr) ThrowOssl(env, "extensions is not a DER Extensions sequence");
    for (int i = 0; i < sk_X509_EXTENSION_num(list); i++) {
      X509_EXTENSION* e = sk_X509_EXTENSION_value(list, i);
      int nid = OBJ_obj2nid(X509_EXTENSION_get_object(e));
      // the CA decides these, whatever the request says
      if (nid == NID_basic_constraints || nid == NID_subject_key_identifier || nid == NID_authority_key_identifier) continue;
      if (!X509_add_ext(cert.get(), e, -1)) {
        sk_X509_EXTENSION_pop_free(list, X509_EXTENSION_free);
        ThrowOssl(env, "Cannot copy a requested extension");
      }
    }
    sk_X509_EXTENSION_pop_free(list, X509_EXTENSION_free);
  }
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, issuer ? issuer.get() : cert.get(), cert.get(), nullptr, nullptr, 0);
  AddExt(env, cert.get(), &v3, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  if (ca) AddExt(env, cert.get(), &v3, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
  AddExt(env, cert.get(), &v3, NID_subject_key_identifier, "hash");
  AddExt(env, cert.get(), &v3, NID_authority_key_identifier, "keyid:always");

  int type = EVP_PKEY_get_base_id(issuerKey.get());
  const EVP_MD* md = (type == EVP_PKEY_ED25519 || type == EVP_PKEY_ED448) ? nullptr : EVP_sha256();
  if (X509_sign(cert.get(), issuerKey.get(), md) <= 0) ThrowOssl(env, "Cannot sign the certificate");
  return CertToJs(env, cert.get());
}

Napi::Value NameFromDer(const Napi::CallbackInfo& info) {
  ErrQueueGuard guard;
  std::vector<unsigned char> der = BytesFromJs(info[0], "name");
  const unsigned char* p = der.data();
  X509NamePtr name(d2i_X509_NAME(nullptr, &p, static_cast<long>(der.size())));
  if (!name) ThrowOssl(info.Env(), "name is not a DER name");
  return NameToJs(info.Env(), name.get());
}

}  // namespace cmp
