#include "features.h"

#include <openssl/crypto.h>

#ifdef OPENSSL_CMP_BUNDLED
// The addon's own OpenSSL (3.5 headers): every function is linked in. A
// lookup by name would find the Node process's copy instead, or nothing.
#define Find(fn, symbol) fn = reinterpret_cast<decltype(fn)>(&symbol)
// Deprecated since 3.0 and so left out of the headers this builds with (OPENSSL_NO_DEPRECATED); still in
// the library, and wanted here on purpose (GenerateKey).
extern "C" {
struct ec_key_st* EC_KEY_new_by_curve_name(int nid);
int EC_KEY_generate_key(struct ec_key_st* key);
void EC_KEY_free(struct ec_key_st* key);
int EVP_PKEY_assign(EVP_PKEY* pkey, int type, void* key);
}
#else
#include <dlfcn.h>
#define Find(fn, symbol) fn = reinterpret_cast<decltype(fn)>(dlsym(RTLD_DEFAULT, #symbol))
#endif

namespace cmp {

Features::Features() {
  Find(get1_caCerts, OSSL_CMP_get1_caCerts);
  Find(get1_rootCaKeyUpdate, OSSL_CMP_get1_rootCaKeyUpdate);
  Find(get1_certReqTemplate, OSSL_CMP_get1_certReqTemplate);
  Find(ATAVS_it, OSSL_CMP_ATAVS_it);
  Find(ATAVS_free, OSSL_CMP_ATAVS_free);
  if (ATAVS_it == nullptr || ATAVS_free == nullptr) get1_certReqTemplate = nullptr;
  Find(get1_crlUpdate, OSSL_CMP_get1_crlUpdate);
  Find(centralkeygen_requested, OSSL_CRMF_MSG_centralkeygen_requested);
  Find(get0_validatedSrvCert, OSSL_CMP_CTX_get0_validatedSrvCert);
  Find(tmpl_get0_publicKey, OSSL_CRMF_CERTTEMPLATE_get0_publicKey);
  Find(ec_key_new_by_curve_name, EC_KEY_new_by_curve_name);
  Find(ec_key_generate_key, EC_KEY_generate_key);
  Find(ec_key_free, EC_KEY_free);
  Find(pkey_assign, EVP_PKEY_assign);
  Find(set1_serialNumber, OSSL_CMP_CTX_set1_serialNumber);
  Find(get0_geninfo_ITAVs, OSSL_CMP_CTX_get0_geninfo_ITAVs);
  // OSSL_CMP_OPT_NO_CACHE_EXTRACERTS came with 3.1, like the functions above
  // that changed the ctx ABI; its presence follows get0_validatedSrvCert (3.2).
  noCacheExtraCerts = get0_validatedSrvCert != nullptr;
}
#undef Find

const Features& GetFeatures() {
  static const Features features;  // immutable after the first lookup
  return features;
}

Napi::Object Features::ToJs(Napi::Env env) const {
  Napi::Object o = Napi::Object::New(env);
  auto mode = [&](bool native, bool emulated) -> Napi::Value {
    if (native) return Napi::String::New(env, "native");
    if (emulated) return Napi::String::New(env, "emulated");
    return Napi::Boolean::New(env, false);
  };
  o.Set("caCerts", mode(get1_caCerts != nullptr, true));
  o.Set("rootCaKeyUpdate", mode(get1_rootCaKeyUpdate != nullptr, true));
  o.Set("certReqTemplate", mode(get1_certReqTemplate != nullptr, false));
  o.Set("crlUpdate", mode(get1_crlUpdate != nullptr, false));
  o.Set("centralKeyGen", mode(centralkeygen_requested != nullptr, false));
  o.Set("validatedSrvCert", mode(get0_validatedSrvCert != nullptr, false));
  o.Set("serialNumber", mode(set1_serialNumber != nullptr, false));
  o.Set("geninfoITAVs", mode(get0_geninfo_ITAVs != nullptr, false));
  o.Set("noCacheExtraCerts", mode(noCacheExtraCerts, false));
#ifdef OPENSSL_CMP_BUNDLED
  o.Set("bundled", true);
#else
  o.Set("bundled", false);
#endif
  return o;
}

}  // namespace cmp
