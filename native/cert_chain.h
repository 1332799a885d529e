#pragma once

#include <openssl/cmp.h>

namespace cmp {

// OpenSSL caches the chain of the client certificate in the context (built by
// OSSL_CMP_CTX_build_cert_chain or lazily when the first signed message goes
// out) and neither OSSL_CMP_CTX_set1_cert nor a second build_cert_chain frees
// it: a new certificate would go out behind the old chain, and a second build
// leaks the first. This drops the cached chain so that the next message
// builds it afresh from the current certificate, as a new context would.
// `justSet` is the certificate just given to OSSL_CMP_CTX_set1_cert (null
// when none or unknown); the field is found by it once per process. Returns
// false when the cache could not be located in this libcrypto.
bool DropCachedChain(OSSL_CMP_CTX* ctx, const X509* justSet);

}  // namespace cmp
