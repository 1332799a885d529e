#include "cert_chain.h"

#include <openssl/x509.h>

#include <atomic>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace cmp {

namespace {

// How far into an OSSL_CMP_CTX to look for the certificate field. In every
// OpenSSL 3.x the client certificate comes well within the first 512 bytes.
constexpr size_t kScanLimit = 1024;

size_t ScanBytes(const void* p) {
#if defined(__GLIBC__)
  size_t usable = malloc_usable_size(const_cast<void*>(p));
  return usable < kScanLimit ? usable : kScanLimit;
#else
  (void)p;
  return 512;
#endif
}

// Offset of the `cert` field of OSSL_CMP_CTX, learnt from the first context
// given a certificate: the one slot holding the very X509 pointer that
// set1_cert was given (it up-refs, it does not copy). In OpenSSL 3.0 through
// 3.5 the cached chain is the field right after it (struct ossl_cmp_ctx_st:
// X509 *cert; STACK_OF(X509) *chain; EVP_PKEY *pkey). -1 until known.
std::atomic<long> certOffset{-1};

long Locate(const OSSL_CMP_CTX* ctx, const X509* cert) {
  size_t n = ScanBytes(ctx);
  long found = -1;
  int hits = 0;
  for (size_t off = 0; off + 2 * sizeof(void*) <= n; off += sizeof(void*)) {
    const void* slot;
    std::memcpy(&slot, reinterpret_cast<const char*>(ctx) + off, sizeof slot);
    if (slot == cert) {
      found = static_cast<long>(off);
      hits++;
    }
  }
  return hits == 1 ? found : -1;
}

}  // namespace

bool DropCachedChain(OSSL_CMP_CTX* ctx, const X509* justSet) {
  if (ctx == nullptr) return false;
  long off = certOffset.load();
  if (justSet != nullptr) {
    const void* slot = nullptr;
    if (off >= 0) std::memcpy(&slot, reinterpret_cast<const char*>(ctx) + off, sizeof slot);
    if (slot != justSet) {
      off = Locate(ctx, justSet);
      if (off < 0) return false;
      certOffset.store(off);
    }
  }
  if (off < 0) return false;
  auto** chain = reinterpret_cast<STACK_OF(X509)**>(reinterpret_cast<char*>(ctx) + off + sizeof(void*));
  sk_X509_pop_free(*chain, X509_free);
  *chain = nullptr;
  return true;
}

}  // namespace cmp
