// CMP functions newer than OpenSSL 3.0, found at run time in the OpenSSL the
// Node process carries, so one build serves 3.0 and 3.5 alike; the bundled
// build takes them from the OpenSSL linked into it.
#pragma once

#include <napi.h>
#include <openssl/cmp.h>

namespace cmp {

struct Features {
  int (*get1_caCerts)(OSSL_CMP_CTX*, STACK_OF(X509)**) = nullptr;
  int (*get1_rootCaKeyUpdate)(OSSL_CMP_CTX*, const X509*, X509**, X509**, X509**) = nullptr;
  // Types newer than the 3.0 headers this is built with travel as void*:
  // OSSL_CMP_ATAVS (3.4) is a STACK_OF(OSSL_CMP_ATAV).
  int (*get1_certReqTemplate)(OSSL_CMP_CTX*, OSSL_CRMF_CERTTEMPLATE**, void** keySpec) = nullptr;
  const ASN1_ITEM* (*ATAVS_it)() = nullptr;  // for ASN1_item_i2d
  void (*ATAVS_free)(void*) = nullptr;
  int (*get1_crlUpdate)(OSSL_CMP_CTX*, const X509*, const X509_CRL*, X509_CRL**) = nullptr;
  // 3.5: its presence stands for central key generation as a whole
  int (*centralkeygen_requested)(const OSSL_CRMF_MSG*, const X509_REQ*) = nullptr;
  X509* (*get0_validatedSrvCert)(const OSSL_CMP_CTX*) = nullptr;
  X509_PUBKEY* (*tmpl_get0_publicKey)(const OSSL_CRMF_CERTTEMPLATE*) = nullptr;  // 3.2
  int (*set1_serialNumber)(OSSL_CMP_CTX*, const ASN1_INTEGER*) = nullptr;
  const STACK_OF(OSSL_CMP_ITAV)* (*get0_geninfo_ITAVs)(const OSSL_CMP_CTX*) = nullptr;
  bool noCacheExtraCerts = false;
  // deprecated since 3.0, still built into Node's OpenSSL and the bundled one: keys made as an EC_KEY (GenerateKey)
  // (struct ec_key_st is EC_KEY, whose typedef headers built without deprecated names leave out)
  struct ec_key_st* (*ec_key_new_by_curve_name)(int) = nullptr;
  int (*ec_key_generate_key)(struct ec_key_st*) = nullptr;
  void (*ec_key_free)(struct ec_key_st*) = nullptr;
  int (*pkey_assign)(EVP_PKEY*, int, void*) = nullptr;

  Features();
  Napi::Object ToJs(Napi::Env env) const;
};

const Features& GetFeatures();

}  // namespace cmp
