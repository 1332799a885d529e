// caCerts and rootCaKeyUpdate: OSSL_CMP_get1_caCerts and
// OSSL_CMP_get1_rootCaKeyUpdate from OpenSSL 3.2 on; on 3.0, which has
// neither, a plain genm with the info type and the checks 3.2 makes on the
// genp's answer.
#include <openssl/err.h>
#include <openssl/objects.h>

#include "exec_worker.h"
#include "features.h"

namespace cmp {

namespace {

constexpr const char* kOidCaCerts = "1.3.6.1.5.5.7.4.17";
constexpr const char* kOidRootCaKeyUpdate = "1.3.6.1.5.5.7.4.18";
constexpr const char* kOidRootCaCert = "1.3.6.1.5.5.7.4.20";

void RaiseGenp(const char* detail) { ERR_raise_data(ERR_LIB_CMP, CMP_R_INVALID_ARGS, "%s", detail); }

bool SameKey(const X509* a, const X509* b) {
  return EVP_PKEY_eq(X509_get0_pubkey(a), X509_get0_pubkey(b)) == 1;
}
bool SignedBy(X509* cert, const X509* signer) {
  EVP_PKEY* key = X509_get0_pubkey(signer);
  return key != nullptr && X509_verify(cert, key) == 1;
}

// Reads one optional [n] EXPLICIT Certificate at *p.
bool ReadTaggedCert(const unsigned char** p, const unsigned char* end, int tag, X509Ptr& out) {
  if (*p >= end) return true;
  const unsigned char* q = *p;
  long len = 0;
  int t = 0, cls = 0;
  int ret = ASN1_get_object(&q, &len, &t, &cls, end - *p);
  if ((ret & 0x80) != 0 || cls != V_ASN1_CONTEXT_SPECIFIC) return false;
  if (t != tag) return true;  // absent: the next field follows
  const unsigned char* c = q;
  out.reset(d2i_X509(nullptr, &c, len));
  if (!out || c != q + len) return false;
  *p = q + len;
  return true;
}

}  // namespace

ItavPtr ExecJob::ExchangeGenm(const char* requestOid, ASN1_TYPE* requestValue, const char* expectedOid,
                              const char* desc) {
  OSSL_CMP_CTX* ctx = state_->ctx();
  if (OSSL_CMP_CTX_get_status(ctx) != OSSL_CMP_PKISTATUS_unspecified) {
    ASN1_TYPE_free(requestValue);
    ERR_raise_data(ERR_LIB_CMP, CMP_R_INVALID_ARGS,
                   "client context in unsuitable state; call reinit() before requesting %s", desc);
    return nullptr;
  }
  // Only reached on OpenSSL < 3.2, where these info types are unknown and so
  // carried as ASN1_ANY: ITAV_create/get0_value are type-safe for them there.
  ASN1_OBJECT* type = OBJ_txt2obj(requestOid, 1);
  OSSL_CMP_ITAV* req = OSSL_CMP_ITAV_create(type, requestValue);
  if (req == nullptr || !OSSL_CMP_CTX_push0_genm_ITAV(ctx, req)) {
    if (req == nullptr) {
      ASN1_OBJECT_free(type);
      ASN1_TYPE_free(requestValue);
    }
    OSSL_CMP_ITAV_free(req);
    return nullptr;
  }
  txn_->itavs.reset(OSSL_CMP_exec_GENM_ses(ctx));
  if (!txn_->itavs) return nullptr;
  ASN1_OBJECT* expected = OBJ_txt2obj(expectedOid, 1);
  ItavPtr found;
  for (int i = 0; i < sk_OSSL_CMP_ITAV_num(txn_->itavs.get()); i++) {
    if (OBJ_cmp(OSSL_CMP_ITAV_get0_type(sk_OSSL_CMP_ITAV_value(txn_->itavs.get(), i)), expected) == 0) {
      found.reset(sk_OSSL_CMP_ITAV_delete(txn_->itavs.get(), i));
      break;
    }
  }
  ASN1_OBJECT_free(expected);
  txn_->itavs.reset();
  if (!found) ERR_raise_data(ERR_LIB_CMP, CMP_R_INVALID_ARGS, "genp has no ITAV for %s", desc);
  return found;
}

bool ExecJob::RunCaCerts() {
  OSSL_CMP_CTX* ctx = state_->ctx();
  const Features& f = GetFeatures();
  if (f.get1_caCerts != nullptr) {
    STACK_OF(X509)* out = nullptr;
    int r = f.get1_caCerts(ctx, &out);
    txn_->certs.reset(out);
    return r == 1;
  }
  ItavPtr itav = ExchangeGenm(kOidCaCerts, nullptr, kOidCaCerts, "caCerts");
  if (!itav) return false;
  const ASN1_TYPE* value = OSSL_CMP_ITAV_get0_value(itav.get());
  if (value == nullptr || value->type == V_ASN1_NULL) return true;  // none available
  if (value->type != V_ASN1_SEQUENCE) {
    RaiseGenp("caCerts value is not a SEQUENCE");
    return false;
  }
  txn_->certs = CertSequenceFromDer(value->value.sequence->data, value->value.sequence->length);
  if (!txn_->certs) {
    RaiseGenp("caCerts value is not a sequence of certificates");
    return false;
  }
  for (int i = 0; i < sk_X509_num(txn_->certs.get()); i++) {
    X509* cert = sk_X509_value(txn_->certs.get(), i);
    if (X509_check_ca(cert) == 0 || X509_cmp_current_time(X509_get0_notAfter(cert)) < 0) {
      RaiseGenp("caCerts contains a certificate that is not a valid CA certificate");
      return false;
    }
  }
  return true;
}

bool ExecJob::RunRootCaKeyUpdate() {
  OSSL_CMP_CTX* ctx = state_->ctx();
  const Features& f = GetFeatures();
  X509* oldWithOld = txn_->input.cert.get();
  if (f.get1_rootCaKeyUpdate != nullptr) {
    X509 *nwn = nullptr, *nwo = nullptr, *own = nullptr;
    int r = f.get1_rootCaKeyUpdate(ctx, oldWithOld, &nwn, &nwo, &own);
    txn_->newWithNew.reset(nwn);
    txn_->newWithOld.reset(nwo);
    txn_->oldWithNew.reset(own);
    return r == 1;
  }
  ASN1_TYPE* reqValue = nullptr;
  if (oldWithOld != nullptr) {
    unsigned char* der = nullptr;
    int len = i2d_X509(oldWithOld, &der);
    ASN1_STRING* seq = ASN1_STRING_new();
    reqValue = ASN1_TYPE_new();
    if (len < 0 || seq == nullptr || reqValue == nullptr || !ASN1_STRING_set(seq, der, len)) {
      OPENSSL_free(der);
      ASN1_STRING_free(seq);
      ASN1_TYPE_free(reqValue);
      return false;
    }
    OPENSSL_free(der);
    ASN1_TYPE_set(reqValue, V_ASN1_SEQUENCE, seq);
  }
  ItavPtr itav = ExchangeGenm(kOidRootCaCert, reqValue, kOidRootCaKeyUpdate, "rootCaKeyUpdate");
  if (!itav) return false;
  const ASN1_TYPE* value = OSSL_CMP_ITAV_get0_value(itav.get());
  if (value == nullptr || value->type == V_ASN1_NULL) return true;  // no update available
  if (value->type != V_ASN1_SEQUENCE) {
    RaiseGenp("rootCaKeyUpdate value is not a SEQUENCE");
    return false;
  }
  // RootCaKeyUpdateContent ::= SEQUENCE { newWithNew CMPCertificate,
  //   newWithOld [0] CMPCertificate OPTIONAL, oldWithNew [1] CMPCertificate OPTIONAL }
  const unsigned char* p = value->value.sequence->data;
  const unsigned char* end = p + value->value.sequence->length;
  long len = 0;
  int tag = 0, cls = 0;
  int ret = ASN1_get_object(&p, &len, &tag, &cls, end - p);
  if ((ret & 0x80) != 0 || tag != V_ASN1_SEQUENCE) {
    RaiseGenp("rootCaKeyUpdate value is malformed");
    return false;
  }
  end = p + len;
  txn_->newWithNew.reset(d2i_X509(nullptr, &p, end - p));
  if (!txn_->newWithNew || !ReadTaggedCert(&p, end, 0, txn_->newWithOld) || !ReadTaggedCert(&p, end, 1, txn_->oldWithNew) ||
      p != end) {
    RaiseGenp("rootCaKeyUpdate value is malformed");
    return false;
  }
  // The checks 3.2+ makes: newWithNew is self-signed and vouched for by the
  // old root (via newWithOld) or the trust store; oldWithNew links back.
  bool valid = SignedBy(txn_->newWithNew.get(), txn_->newWithNew.get());
  X509* link = txn_->newWithOld.get();
  if (valid && oldWithOld != nullptr) {
    valid = link != nullptr && SignedBy(link, oldWithOld) && SameKey(link, txn_->newWithNew.get());
    if (valid && txn_->oldWithNew) valid = SignedBy(txn_->oldWithNew.get(), txn_->newWithNew.get()) && SameKey(txn_->oldWithNew.get(), oldWithOld);
  } else if (valid) {
    X509StackPtr trusted(X509_STORE_get1_all_certs(OSSL_CMP_CTX_get0_trustedStore(ctx)));
    valid = false;
    for (int i = 0; i < sk_X509_num(trusted.get()) && !valid; i++) {
      X509* anchor = sk_X509_value(trusted.get(), i);
      valid = X509_cmp(anchor, txn_->newWithNew.get()) == 0 ||
              (link != nullptr && SignedBy(link, anchor) && SameKey(link, txn_->newWithNew.get()));
    }
  }
  if (!valid) {
    RaiseGenp("failed to validate the newWithNew certificate received in genp");
    return false;
  }
  return true;
}

}  // namespace cmp
