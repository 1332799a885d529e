// CMP functions newer than OpenSSL 3.0, found at run time in the OpenSSL the
// Node process carries, so one build serves 3.0 and 3.5 alike.
#pragma once

#include <napi.h>
#include <openssl/cmp.h>

namespace cmp {

struct Features {
  int (*get1_caCerts)(OSSL_CMP_CTX*, STACK_OF(X509)**) = nullptr;
  int (*get1_rootCaKeyUpdate)(OSSL_CMP_CTX*, const X509*, X509**, X509**, X509**) = nullptr;
  void* get1_certReqTemplate = nullptr;
  void* get1_crlUpdate = nullptr;
  void* centralKeyGen = nullptr;
  X509* (*get0_validatedSrvCert)(const OSSL_CMP_CTX*) = nullptr;
  int (*set1_serialNumber)(OSSL_CMP_CTX*, const ASN1_INTEGER*) = nullptr;
  const STACK_OF(OSSL_CMP_ITAV)* (*get0_geninfo_ITAVs)(const OSSL_CMP_CTX*) = nullptr;
  bool noCacheExtraCerts = false;

  Features();
  Napi::Object ToJs(Napi::Env env) const;
};

const Features& GetFeatures();

}  // namespace cmp
