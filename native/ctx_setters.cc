// CmpContext's setters that all have one shape: an argument converted from
// JS (or null, to clear), handed to one OSSL_CMP_CTX function whose failure
// is reported with one text. A row of the table per setter.
#include <openssl/crypto.h>

#include <iterator>
#include <string>
#include <vector>

#include "cmp_context.h"
#include "convert.h"
#include "js_args.h"
#include "ossl_error.h"

namespace cmp {

namespace {

PkeyPtr PrivateKeyFromJs(const Napi::Value& v, const char* param) { return KeyFromJs(v, true, param); }

}  // namespace

struct CmpContext::Setter {
  const char* js;     // the method's name
  const char* param;  // the argument's name in errors
  const char* fail;   // the text of OpenSSL's failure
  int (*apply)(CmpContext& self, const Napi::Value& v, const char* param);
  // sets what OSSL_CMP_CTX_reinit clears: a pending reinit is done first
  bool perTransaction = false;

  // set1/push1: OpenSSL copies the object. The argument is converted before
  // the context is looked at.
  template <auto FromJs, auto Set, bool kNullable = true>
  static int Copy(CmpContext& self, const Napi::Value& v, const char* param) {
    decltype(FromJs(v, param)) obj;
    if (!kNullable || !Nullish(v)) obj = FromJs(v, param);
    return Set(self.UseKeepingReinit(v.Env()), obj.get());
  }

  // set0/push0: OpenSSL takes the object over when it succeeds.
  template <auto FromJs, auto Set, bool kNullable = true>
  static int Hand(CmpContext& self, const Napi::Value& v, const char* param) {
    OSSL_CMP_CTX* ctx = self.UseKeepingReinit(v.Env());
    decltype(FromJs(v, param)) obj;
    if (!kNullable || !Nullish(v)) obj = FromJs(v, param);
    int ok = Set(ctx, obj.get());
    if (ok > 0) obj.release();
    return ok;
  }

  template <int (*Set)(OSSL_CMP_CTX*, const char*)>
  static int Text(CmpContext& self, const Napi::Value& v, const char* param) {
    bool clear = Nullish(v);
    std::string text = clear ? std::string() : StringFromJs(v, param);
    return Set(self.UseKeepingReinit(v.Env()), clear ? nullptr : text.c_str());
  }

  // Bytes are wiped after use: secrets pass through here.
  template <int (*Set)(OSSL_CMP_CTX*, const unsigned char*, int)>
  static int Bytes(CmpContext& self, const Napi::Value& v, const char* param) {
    bool clear = Nullish(v);
    std::vector<unsigned char> bytes = clear ? std::vector<unsigned char>() : BytesFromJs(v, param);
    int ok = Set(self.UseKeepingReinit(v.Env()), clear ? nullptr : bytes.data(), static_cast<int>(bytes.size()));
    OPENSSL_cleanse(bytes.data(), bytes.size());
    return ok;
  }

  template <int (*Set)(OSSL_CMP_CTX*, const ASN1_OCTET_STRING*)>
  static int Octets(CmpContext& self, const Napi::Value& v, const char* param) {
    OSSL_CMP_CTX* ctx = self.UseKeepingReinit(v.Env());
    ASN1_OCTET_STRING* os = Nullish(v) ? nullptr : OctetsFromJs(v, param);
    int ok = Set(ctx, os);
    ASN1_OCTET_STRING_free(os);
    return ok;
  }
};

const CmpContext::Setter CmpContext::kSetters[] = {
    {"setServerPath", "path", "Cannot set server path", Setter::Text<OSSL_CMP_CTX_set1_serverPath>},
    {"setProxy", "proxy", "Cannot set proxy", Setter::Text<OSSL_CMP_CTX_set1_proxy>},
    {"setNoProxy", "names", "Cannot set no_proxy", Setter::Text<OSSL_CMP_CTX_set1_no_proxy>},
    {"setSrvCert", "cert", "Cannot set server certificate", Setter::Copy<CertFromJs, OSSL_CMP_CTX_set1_srvCert>},
    {"setExpectedSender", "name", "Cannot set expected sender", Setter::Copy<NameFromJs, OSSL_CMP_CTX_set1_expected_sender>},
    {"setTrustedStore", "certs", "Cannot set trusted store", Setter::Hand<StoreFromJs, OSSL_CMP_CTX_set0_trustedStore>},
    {"setUntrusted", "certs", "Cannot set untrusted certificates", Setter::Copy<CertsFromJs, OSSL_CMP_CTX_set1_untrusted>},
    {"setPkey", "key", "Cannot set client private key", Setter::Copy<PrivateKeyFromJs, OSSL_CMP_CTX_set1_pkey>},
    {"setReferenceValue", "ref", "Cannot set reference value", Setter::Bytes<OSSL_CMP_CTX_set1_referenceValue>},
    {"setSecretValue", "secret", "Cannot set secret value", Setter::Bytes<OSSL_CMP_CTX_set1_secretValue>},
    {"setRecipient", "name", "Cannot set recipient", Setter::Copy<NameFromJs, OSSL_CMP_CTX_set1_recipient>},
    {"pushGeninfoITAV", "itav", "Cannot add generalInfo ITAV", Setter::Hand<ItavFromJs, OSSL_CMP_CTX_push0_geninfo_ITAV, false>},
    {"setExtraCertsOut", "certs", "Cannot set extraCertsOut", Setter::Copy<CertsFromJs, OSSL_CMP_CTX_set1_extraCertsOut>},
    {"setIssuer", "name", "Cannot set issuer", Setter::Copy<NameFromJs, OSSL_CMP_CTX_set1_issuer>},
    {"setSubjectName", "name", "Cannot set subject name", Setter::Copy<NameFromJs, OSSL_CMP_CTX_set1_subjectName>},
    {"pushSubjectAltName", "name", "Cannot add subject alternative name",
     Setter::Copy<GeneralNameFromJs, OSSL_CMP_CTX_push1_subjectAltName, false>},
    {"setOldCert", "cert", "Cannot set old certificate", Setter::Copy<CertFromJs, OSSL_CMP_CTX_set1_oldCert>},
    {"setP10CSR", "csr", "Cannot set PKCS#10 CSR", Setter::Copy<CsrFromJs, OSSL_CMP_CTX_set1_p10CSR>},
    {"pushGenmITAV", "itav", "Cannot add genm ITAV", Setter::Hand<ItavFromJs, OSSL_CMP_CTX_push0_genm_ITAV, false>, true},
    {"setTransactionID", "id", "Cannot set transactionID", Setter::Octets<OSSL_CMP_CTX_set1_transactionID>, true},
    {"setSenderNonce", "nonce", "Cannot set senderNonce", Setter::Octets<OSSL_CMP_CTX_set1_senderNonce>, true},
};

void CmpContext::AddTableSetters(std::vector<PropertyDescriptor>& methods) {
  for (const Setter& s : kSetters) {
    methods.push_back(InstanceMethod<&CmpContext::Marked<&CmpContext::SetFromTable>>(
        s.js, napi_default_method, const_cast<Setter*>(&s)));
  }
}

Napi::Value CmpContext::SetFromTable(const Napi::CallbackInfo& info) {
  const Setter& s = *static_cast<const Setter*>(info.Data());
  if (s.perTransaction) Use(info.Env());
  Check(info.Env(), s.apply(*this, info[0], s.param), s.fail);
  return info.Env().Undefined();
}

}  // namespace cmp
