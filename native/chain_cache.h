// Intermediate CA certificates that clients sent in earlier validated
// requests, so that a later request whose extraCerts lack them (a KUR signed
// with a certificate enrolled before, say) still verifies. OpenSSL's own
// server caches every extraCert it sees without bound (CVE-2026-63074 on 3.0);
// this keeps only CA certificates that chain to the server's trust anchors,
// at most kMax of them, the oldest leaving first.
#pragma once

#include <openssl/cmp.h>
#include <openssl/x509.h>

#include <deque>
#include <mutex>
#include <vector>

#include "convert.h"

namespace cmp {

class IntermediateCache {
 public:
  static constexpr size_t kMax = 100;

  // Remembers the CA certificates among the extraCerts of `der` (a PKIMessage)
  // that verify against `trusted` (with `untrusted` and the cache as intermediates).
  void Learn(const std::vector<unsigned char>& der, STACK_OF(X509)* trusted, STACK_OF(X509)* untrusted);
  // `base` (may be null) followed by the cached certificates; null when both are empty.
  X509StackPtr With(STACK_OF(X509)* base);
  size_t Size();

 private:
  std::mutex mu_;
  std::deque<X509Ptr> certs_;
};

}  // namespace cmp
