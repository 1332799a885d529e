#include "cert_issuer.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "convert.h"
#include "js_args.h"
#include "ossl_error.h"

namespace cmp {

namespace {

// Certificates issued for a CmpServer answer (handOver), kept until the worker
// thread that sends the answer takes them by their DER: parsing that DER again
// costs about 100 µs on OpenSSL 3.0. Entries nobody takes (a handler that
// issued and answered otherwise) leave when kKept newer ones have come.
class Handover {
 public:
  static constexpr size_t kKept = 256;

  void Put(std::vector<unsigned char> der, X509Ptr cert) {
    std::lock_guard<std::mutex> lock(mu_);
    kept_.emplace_back(std::move(der), std::move(cert));
    if (kept_.size() > kKept) kept_.pop_front();
  }

  X509Ptr Take(const std::vector<unsigned char>& der) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = kept_.begin(); it != kept_.end(); ++it) {
      if (it->first == der) {
        X509Ptr cert = std::move(it->second);
        kept_.erase(it);
        return cert;
      }
    }
    return nullptr;
  }

 private:
  std::mutex mu_;
  std::deque<std::pair<std::vector<unsigned char>, X509Ptr>> kept_;
};

Handover& Issued() {
  static Handover* h = new Handover();  // never destroyed: worker threads may outlive static destruction
  return *h;
}

// An issuer's certificate and key, parsed once for every certificate it signs.
struct IssuerCreds {
  X509Ptr cert;  // null: self-signed
  PkeyPtr key;
};

// Who signs: the `issuer` handle (certIssuer), else issuerCert (absent: self-signed) and issuerKey,
// parsed now into `own`.
struct Signer {
  X509* cert = nullptr;
  EVP_PKEY* key = nullptr;
  IssuerCreds own;
};

void SignerFromJs(const Napi::Object& o, Signer& s) {
  Napi::Value handle = o.Get("issuer");
  if (handle.IsExternal()) {
    const IssuerCreds* c = handle.As<Napi::External<IssuerCreds>>().Data();
    s.cert = c->cert.get();
    s.key = c->key.get();
    return;
  }
  if (!Nullish(o.Get("issuerCert"))) s.own.cert = CertFromJs(o.Get("issuerCert"), "issuerCert");
  s.own.key = KeyFromJs(o.Get("issuerKey"), true, "issuerKey");
  s.cert = s.own.cert.get();
  s.key = s.own.key.get();
}

// The parameters of an AlgorithmIdentifier as X509_PUBKEY_set0_param takes them, copied.
bool CopyAlgParam(const X509_ALGOR* alg, ASN1_OBJECT*& obj, int& ptype, void*& pval) {
  const ASN1_OBJECT* o = nullptr;
  const void* v = nullptr;
  X509_ALGOR_get0(&o, &ptype, &v, alg);
  obj = OBJ_dup(o);
  pval = nullptr;
  bool absent = ptype == V_ASN1_UNDEF || ptype == V_ASN1_NULL;
  if (ptype == V_ASN1_OBJECT) {
    pval = OBJ_dup(static_cast<const ASN1_OBJECT*>(v));
  } else if (!absent && ptype != V_ASN1_BOOLEAN) {
    pval = ASN1_STRING_dup(static_cast<const ASN1_STRING*>(v));
  }
  bool ok = obj != nullptr && (absent || pval != nullptr);
  if (!ok) {
    ASN1_OBJECT_free(obj);
    if (ptype == V_ASN1_OBJECT) {
      ASN1_OBJECT_free(static_cast<ASN1_OBJECT*>(pval));
    } else {
      ASN1_STRING_free(static_cast<ASN1_STRING*>(pval));
    }
  }
  return ok;
}

// Puts a SubjectPublicKeyInfo, checked by whoever read the request, into the
// certificate as it is: X509_set_pubkey would decode and encode the key again.
bool SetPublicKeyDer(X509* cert, const std::vector<unsigned char>& spki) {
  const unsigned char* p = spki.data();
  long len = 0;
  int tag = 0, cls = 0;
  if ((ASN1_get_object(&p, &len, &tag, &cls, static_cast<long>(spki.size())) & 0x80) != 0 || tag != V_ASN1_SEQUENCE) return false;
  const unsigned char* end = p + len;
  std::unique_ptr<X509_ALGOR, decltype(&X509_ALGOR_free)> alg(d2i_X509_ALGOR(nullptr, &p, end - p), X509_ALGOR_free);
  std::unique_ptr<ASN1_BIT_STRING, decltype(&ASN1_BIT_STRING_free)> bits(alg ? d2i_ASN1_BIT_STRING(nullptr, &p, end - p) : nullptr,
                                                                         ASN1_BIT_STRING_free);
  if (!bits || p != end) return false;
  ASN1_OBJECT* obj = nullptr;
  int ptype = 0;
  void* pval = nullptr;
  if (!CopyAlgParam(alg.get(), obj, ptype, pval)) return false;
  int n = ASN1_STRING_length(bits.get());
  auto* enc = static_cast<unsigned char*>(OPENSSL_malloc(n > 0 ? n : 1));
  if (enc == nullptr) {
    ASN1_OBJECT_free(obj);
    return false;
  }
  std::copy(ASN1_STRING_get0_data(bits.get()), ASN1_STRING_get0_data(bits.get()) + n, enc);
  return X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(cert), obj, ptype, pval, enc, n) == 1;
}

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
  if (!info[0].IsObject()) ThrowType(env, "options must be an object");
  Napi::Object o = info[0].As<Napi::Object>();

  Signer signer;
  SignerFromJs(o, signer);
  X509* issuer = signer.cert;
  EVP_PKEY* issuerKey = signer.key;
  // a key the request reader checked already goes in as sent; any other is read (and so checked) here
  bool keyChecked = o.Get("keyChecked").ToBoolean();
  std::vector<unsigned char> spki = keyChecked ? BytesFromJs(o.Get("publicKey"), "publicKey") : std::vector<unsigned char>();
  PkeyPtr publicKey = keyChecked ? nullptr : KeyFromJs(o.Get("publicKey"), false, "publicKey");
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
  ASN1_INTEGER* sn = IntegerFromBytes(serial);
  bool ok = cert && sn != nullptr && X509_set_version(cert.get(), 2) && X509_set_serialNumber(cert.get(), sn) &&
            X509_set_subject_name(cert.get(), subject.get()) &&
            X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : subject.get()) &&
            X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, 0, &notBefore) != nullptr &&
            X509_time_adj_ex(X509_getm_notAfter(cert.get()), 0, 0, &notAfter) != nullptr &&
            (keyChecked ? SetPublicKeyDer(cert.get(), spki) : X509_set_pubkey(cert.get(), publicKey.get()) == 1);
  ASN1_INTEGER_free(sn);
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
  X509V3_set_ctx(&v3, issuer ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  AddExt(env, cert.get(), &v3, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  if (ca) AddExt(env, cert.get(), &v3, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
  AddExt(env, cert.get(), &v3, NID_subject_key_identifier, "hash");
  AddExt(env, cert.get(), &v3, NID_authority_key_identifier, "keyid:always");

  int type = EVP_PKEY_get_base_id(issuerKey);
  const EVP_MD* md = (type == EVP_PKEY_ED25519 || type == EVP_PKEY_ED448) ? nullptr : EVP_sha256();
  if (X509_sign(cert.get(), issuerKey, md) <= 0) ThrowOssl(env, "Cannot sign the certificate");
  if (!o.Get("handOver").ToBoolean()) return CertToJs(env, cert.get());
  std::vector<unsigned char> der = Der([&](unsigned char** out) { return i2d_X509(cert.get(), out); });
  if (der.empty()) ThrowOssl(env, "Cannot encode the certificate");
  Napi::Buffer<unsigned char> out = Napi::Buffer<unsigned char>::Copy(env, der.data(), der.size());
  Issued().Put(std::move(der), std::move(cert));
  return out;
}

X509Ptr TakeIssued(const std::vector<unsigned char>& der) { return Issued().Take(der); }

Napi::Value CertIssuer(const Napi::CallbackInfo& info) {
  auto creds = std::make_unique<IssuerCreds>();
  if (!Nullish(info[0])) creds->cert = CertFromJs(info[0], "issuerCert");
  creds->key = KeyFromJs(info[1], true, "issuerKey");
  if (creds->cert && X509_check_private_key(creds->cert.get(), creds->key.get()) != 1) {
    ERR_clear_error();
    ThrowType(info.Env(), "issuerKey is not the key of issuerCert");
  }
  return Napi::External<IssuerCreds>::New(info.Env(), creds.release(), [](Napi::Env, IssuerCreds* c) { delete c; });
}

Napi::Value NameFromDer(const Napi::CallbackInfo& info) {
  std::vector<unsigned char> der = BytesFromJs(info[0], "name");
  const unsigned char* p = der.data();
  X509NamePtr name(d2i_X509_NAME(nullptr, &p, static_cast<long>(der.size())));
  if (!name) ThrowOssl(info.Env(), "name is not a DER name");
  return NameToJs(info.Env(), name.get());
}

Napi::Value NameToDer(const Napi::CallbackInfo& info) {
  X509NamePtr name = NameFromJs(info[0], "name");
  unsigned char* der = nullptr;
  int len = i2d_X509_NAME(name.get(), &der);
  return DerToJs(info.Env(), len, der);
}

Napi::Value IssueCrl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) ThrowType(env, "options must be an object");
  Napi::Object o = info[0].As<Napi::Object>();
  Signer signer;
  SignerFromJs(o, signer);
  if (signer.cert == nullptr) ThrowType(env, "a CRL needs its issuer's certificate");
  X509* issuer = signer.cert;
  EVP_PKEY* issuerKey = signer.key;
  if (!o.Get("thisUpdate").IsNumber() || !o.Get("nextUpdate").IsNumber() || !o.Get("crlNumber").IsNumber()) {
    ThrowType(env, "thisUpdate, nextUpdate and crlNumber must be numbers");
  }
  if (!o.Get("revoked").IsArray()) ThrowType(env, "revoked must be an array");
  time_t thisUpdate = static_cast<time_t>(o.Get("thisUpdate").As<Napi::Number>().Int64Value());
  time_t nextUpdate = static_cast<time_t>(o.Get("nextUpdate").As<Napi::Number>().Int64Value());

  std::unique_ptr<X509_CRL, decltype(&X509_CRL_free)> crl(X509_CRL_new(), X509_CRL_free);
  ASN1_TIME* last = ASN1_TIME_adj(nullptr, thisUpdate, 0, 0);
  ASN1_TIME* next = ASN1_TIME_adj(nullptr, nextUpdate, 0, 0);
  bool ok = crl && last != nullptr && next != nullptr && X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) &&
            X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer)) &&
            X509_CRL_set1_lastUpdate(crl.get(), last) && X509_CRL_set1_nextUpdate(crl.get(), next);
  ASN1_TIME_free(last);
  ASN1_TIME_free(next);
  if (!ok) ThrowOssl(env, "Cannot fill in the CRL");

  Napi::Array revoked = o.Get("revoked").As<Napi::Array>();
  for (uint32_t i = 0; i < revoked.Length(); i++) {
    Napi::Value item = revoked.Get(i);
    if (!item.IsObject() || !item.As<Napi::Object>().Get("date").IsNumber()) ThrowType(env, "revoked[] must be { serial, date }");
    std::vector<unsigned char> serial = BytesFromJs(item.As<Napi::Object>().Get("serial"), "revoked[].serial");
    time_t date = static_cast<time_t>(item.As<Napi::Object>().Get("date").As<Napi::Number>().Int64Value());
    X509_REVOKED* rev = X509_REVOKED_new();
    ASN1_INTEGER* sn = IntegerFromBytes(serial);
    ASN1_TIME* when = ASN1_TIME_adj(nullptr, date, 0, 0);
    bool added = rev != nullptr && sn != nullptr && when != nullptr && X509_REVOKED_set_serialNumber(rev, sn) &&
                 X509_REVOKED_set_revocationDate(rev, when) && X509_CRL_add0_revoked(crl.get(), rev);
    ASN1_INTEGER_free(sn);
    ASN1_TIME_free(when);
    if (!added) {
      X509_REVOKED_free(rev);
      ThrowOssl(env, "Cannot add a revoked certificate");
    }
  }
  X509_CRL_sort(crl.get());
  ASN1_INTEGER* number = ASN1_INTEGER_new();
  ok = number != nullptr && ASN1_INTEGER_set_int64(number, o.Get("crlNumber").As<Napi::Number>().Int64Value()) &&
       X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number, 0, 0) == 1;
  ASN1_INTEGER_free(number);
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, issuer, nullptr, nullptr, crl.get(), 0);
  X509_EXTENSION* aki = ok ? X509V3_EXT_conf_nid(nullptr, &v3, NID_authority_key_identifier, "keyid:always") : nullptr;
  ok = aki != nullptr && X509_CRL_add_ext(crl.get(), aki, -1);
  X509_EXTENSION_free(aki);
  if (!ok) ThrowOssl(env, "Cannot add CRL extensions");
  int type = EVP_PKEY_get_base_id(issuerKey);
  const EVP_MD* md = (type == EVP_PKEY_ED25519 || type == EVP_PKEY_ED448) ? nullptr : EVP_sha256();
  if (X509_CRL_sign(crl.get(), issuerKey, md) <= 0) ThrowOssl(env, "Cannot sign the CRL");
  unsigned char* der = nullptr;
  int len = i2d_X509_CRL(crl.get(), &der);
  return DerToJs(env, len, der);
}

}  // namespace cmp
