#include "cert_chain.h"

#include <openssl/x509.h>

#include <cstring>
#include <mutex>

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

// Locates the `cert` field of OSSL_CMP_CTX once per process with a probe
// context: the slot holding the very X509 pointer given to set1_cert. In
// OpenSSL 3.0 through 3.5 the cached chain is the field right after it
// (struct ossl_cmp_ctx_st: X509 *cert; STACK_OF(X509) *chain; EVP_PKEY *pkey).
// -1 when the pointer is not found exactly once.
long CertFieldOffset() {
  static long offset = -1;
  static std::once_flag once;
  std::call_once(once, [] {
    OSSL_CMP_CTX* probe = OSSL_CMP_CTX_new(nullptr, nullptr);
    X509* cert = X509_new();
    if (probe != nullptr && cert != nullptr && OSSL_CMP_CTX_set1_cert(probe, cert)) {
      size_t n = ScanBytes(probe);
      long found = -1;
      int hits = 0;
      for (size_t off = 0; off + 2 * sizeof(void*) <= n; off += sizeof(void*)) {
        void* slot;
        std::memcpy(&slot, reinterpret_cast<const char*>(probe) + off, sizeof slot);
        if (slot == cert) {
          found = static_cast<long>(off);
          hits++;
        }
      }
      if (hits == 1) offset = found;
    }
    X509_free(cert);
    OSSL_CMP_CTX_free(probe);
  });
  return offset;
}

}  // namespace

bool DropCachedChain(OSSL_CMP_CTX* ctx) {
  long off = CertFieldOffset();
  if (off < 0 || ctx == nullptr) return false;
  auto** slot = reinterpret_cast<STACK_OF(X509)**>(reinterpret_cast<char*>(ctx) + off + sizeof(void*));
  sk_X509_pop_free(*slot, X509_free);
  *slot = nullptr;
  return true;
}

}  // namespace cmp
