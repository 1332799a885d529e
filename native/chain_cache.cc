#include "chain_cache.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

namespace cmp {

namespace {

bool Verifies(X509* cert, STACK_OF(X509)* trusted, STACK_OF(X509)* intermediates) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_CTX* sc = X509_STORE_CTX_new();
  bool ok = store != nullptr && sc != nullptr;
  for (int i = 0; ok && i < sk_X509_num(trusted); i++) ok = X509_STORE_add_cert(store, sk_X509_value(trusted, i)) == 1;
  ok = ok && X509_STORE_CTX_init(sc, store, cert, intermediates) == 1;
  if (ok) {
    // what matters is the chain; a validity period is checked where the certificate is used
    X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(sc), X509_V_FLAG_NO_CHECK_TIME);
    ok = X509_verify_cert(sc) == 1;
  }
  X509_STORE_CTX_free(sc);
  X509_STORE_free(store);
  return ok;
}

// PKIMessage ::= SEQUENCE { header, body, [0] protection OPTIONAL, [1] extraCerts OPTIONAL }
X509StackPtr ExtraCerts(const std::vector<unsigned char>& der) {
  X509StackPtr out(sk_X509_new_null());
  const unsigned char* p = der.data();
  long len = 0;
  int tag = 0, cls = 0;
  if (!out || (ASN1_get_object(&p, &len, &tag, &cls, static_cast<long>(der.size())) & 0x80) != 0) return out;
  const unsigned char* end = p + len;
  for (int index = 0; p < end; index++) {
    if ((ASN1_get_object(&p, &len, &tag, &cls, end - p) & 0x80) != 0) return out;
    const unsigned char* next = p + len;
    if (index >= 2 && cls == V_ASN1_CONTEXT_SPECIFIC && tag == 1 &&
        (ASN1_get_object(&p, &len, &tag, &cls, next - p) & 0x80) == 0) {
      const unsigned char* certsEnd = p + len;
      while (p < certsEnd) {
        X509* c = d2i_X509(nullptr, &p, certsEnd - p);
        if (c == nullptr || !sk_X509_push(out.get(), c)) {
          X509_free(c);
          break;
        }
      }
    }
    p = next;
  }
  return out;
}

}  // namespace

void IntermediateCache::Learn(const std::vector<unsigned char>& der, STACK_OF(X509)* trusted, STACK_OF(X509)* untrusted) {
  if (trusted == nullptr) return;
  X509StackPtr extra = ExtraCerts(der);
  // most requests carry a leaf and intermediates already known: settle those without building anything
  std::vector<X509*> fresh;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int i = 0; i < sk_X509_num(extra.get()); i++) {
      X509* c = sk_X509_value(extra.get(), i);
      if (X509_check_ca(c) <= 0 || X509_self_signed(c, 0) == 1) continue;
      bool known = false;
      for (const X509Ptr& have : certs_) known = known || X509_cmp(have.get(), c) == 0;
      if (!known) fresh.push_back(c);
    }
  }
  if (fresh.empty()) {
    ERR_clear_error();
    return;
  }
  X509StackPtr pool = With(untrusted);
  if (!pool) pool.reset(sk_X509_new_null());
  for (int i = 0; pool && i < sk_X509_num(extra.get()); i++) {
    X509* c = sk_X509_value(extra.get(), i);
    if (X509_up_ref(c) && !sk_X509_push(pool.get(), c)) X509_free(c);
  }
  for (X509* c : fresh) {
    if (!pool || !Verifies(c, trusted, pool.get()) || !X509_up_ref(c)) continue;
    std::lock_guard<std::mutex> lock(mu_);
    certs_.emplace_back(c);
    if (certs_.size() > kMax) certs_.pop_front();
  }
  ERR_clear_error();
}

X509StackPtr IntermediateCache::With(STACK_OF(X509)* base) {
  std::lock_guard<std::mutex> lock(mu_);
  if (certs_.empty()) return X509StackPtr(base == nullptr ? nullptr : X509_chain_up_ref(base));
  X509StackPtr out(base == nullptr ? sk_X509_new_null() : X509_chain_up_ref(base));
  for (const X509Ptr& c : certs_) {
    if (out && X509_up_ref(c.get()) && !sk_X509_push(out.get(), c.get())) X509_free(c.get());
  }
  return out;
}

size_t IntermediateCache::Size() {
  std::lock_guard<std::mutex> lock(mu_);
  return certs_.size();
}

}  // namespace cmp
