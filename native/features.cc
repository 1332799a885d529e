#include "features.h"

#include <dlfcn.h>
#include <openssl/crypto.h>

namespace cmp {

namespace {
template <typename F>
void Find(F& fn, const char* symbol) {
  fn = reinterpret_cast<F>(dlsym(RTLD_DEFAULT, symbol));
}
}  // namespace

Features::Features() {
  Find(get1_caCerts, "OSSL_CMP_get1_caCerts");
  Find(get1_rootCaKeyUpdate, "OSSL_CMP_get1_rootCaKeyUpdate");
  Find(get1_certReqTemplate, "OSSL_CMP_get1_certReqTemplate");
  Find(ATAVS_it, "OSSL_CMP_ATAVS_it");
  Find(ATAVS_free, "OSSL_CMP_ATAVS_free");
  if (ATAVS_it == nullptr || ATAVS_free == nullptr) get1_certReqTemplate = nullptr;
  Find(get1_crlUpdate, "OSSL_CMP_get1_crlUpdate");
  Find(centralkeygen_requested, "OSSL_CRMF_MSG_centralkeygen_requested");
  Find(get0_validatedSrvCert, "OSSL_CMP_CTX_get0_validatedSrvCert");
  Find(set1_serialNumber, "OSSL_CMP_CTX_set1_serialNumber");
  Find(get0_geninfo_ITAVs, "OSSL_CMP_CTX_get0_geninfo_ITAVs");
  // OSSL_CMP_OPT_NO_CACHE_EXTRACERTS came with 3.1, like the functions above
  // that changed the ctx ABI; its presence follows get0_validatedSrvCert (3.2).
  noCacheExtraCerts = get0_validatedSrvCert != nullptr;
}

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
  return o;
}

}  // namespace cmp
