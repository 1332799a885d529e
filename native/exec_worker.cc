#include "exec_worker.h"

#include <openssl/err.h>
#include <openssl/objects.h>

#include "addon.h"
#include "features.h"

namespace cmp {

namespace {

constexpr const char* kOidCaCerts = "1.3.6.1.5.5.7.4.17";
constexpr const char* kOidRootCaKeyUpdate = "1.3.6.1.5.5.7.4.18";
constexpr const char* kOidRootCaCert = "1.3.6.1.5.5.7.4.20";

void RaiseGenp(const char* detail) { ERR_raise_data(ERR_LIB_CMP, CMP_R_INVALID_ARGS, "%s", detail); }

void MarkAborted(ErrorInfo& e) {
  e.code = "ERR_CMP_ABORTED";
  e.message = "The CMP transaction was aborted";
}

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

ExecJob::ExecJob(Napi::Env env, std::shared_ptr<CtxState> state, Napi::Object owner, TransactionInput input)
    : state_(std::move(state)),
      owner_(Napi::Persistent(owner)),
      deferred_(Napi::Promise::Deferred::New(env)),
      txn_(std::make_shared<TransactionRecord>()) {
  txn_->input = std::move(input);
  state_->job = this;
}

ExecJob::~ExecJob() {
  if (state_->job == this) state_->job = nullptr;
}

void ExecJob::SettleAborted(Napi::Env env) {
  if (settled_) return;
  settled_ = true;
  ErrorInfo e;
  MarkAborted(e);
  deferred_.Reject(MakeCmpError(env, e).Value());
  env.GetInstanceData<Addon>()->executor->Release(env, this);
}

void ExecJob::Execute() {
  CtxState::Running running(state_.get(), txn_);
  ERR_clear_error();
  OSSL_CMP_CTX* ctx = state_->ctx();
  TransactionRecord& t = *txn_;
  switch (t.input.kind) {
    case Transaction::CertReq:
    case Transaction::TryCertReq:
      t.ok = RunCertReq();
      if (t.ok && t.done && t.input.reqType >= 0) {
        const X509* cert = OSSL_CMP_CTX_get0_newCert(ctx);
        if (cert != nullptr) t.newCert = Der([&](unsigned char** out) { return i2d_X509(cert, out); });
        t.ok = cert == nullptr || !t.newCert.empty();
      }
      break;
    case Transaction::RR:
      t.ok = OSSL_CMP_exec_RR_ses(ctx) == 1;
      break;
    case Transaction::GENM:
      t.itavs.reset(OSSL_CMP_exec_GENM_ses(ctx));
      t.ok = t.itavs != nullptr;
      break;
    case Transaction::CaCerts:
      t.ok = RunCaCerts();
      break;
    case Transaction::RootCaKeyUpdate:
      t.ok = RunRootCaKeyUpdate();
      break;
    case Transaction::CertReqTemplate:
      t.ok = RunCertReqTemplate();
      break;
    case Transaction::CrlUpdate:
      t.ok = RunCrlUpdate();
      break;
  }
  if (!t.ok) Fail();
  ERR_clear_error();
}

// Worker thread: the error of a failed transaction, complete, so that the
// main thread needs nothing else to build it.
void ExecJob::Fail() {
  OSSL_CMP_CTX* ctx = state_->ctx();
  TransactionRecord& t = *txn_;
  ErrorInfo& e = t.error;
  e.stack = state_->TakePrintedErrors();
  e.DrainQueue();
  e.pkiStatus = OSSL_CMP_CTX_get_status(ctx);
  e.failInfoCode = OSSL_CMP_CTX_get_failInfoCode(ctx);
  e.statusString = FreeTextToStrings(OSSL_CMP_CTX_get0_statusString(ctx));
  if (t.transferFailed) {
    e.code = "ERR_CMP_TRANSFER_FAILED";
    e.message = "CMP message transfer failed: " + t.callbackProblem;
  } else if (!t.callbackProblem.empty()) {
    e.message = "CMP transaction failed: " + t.callbackProblem;
  } else if (e.stack.empty()) {
    e.code = "ERR_CMP_TRANSACTION_FAILED";
    e.message = "CMP transaction failed";
    const char* sep = ": ";
    for (const std::string& note : state_->notes()) {
      e.message += sep + note;
      sep = "; ";
    }
  }
  if (state_->aborted()) MarkAborted(e);
}

bool ExecJob::RunCertReq() {
  OSSL_CMP_CTX* ctx = state_->ctx();
  const int type = txn_->input.reqType;
  if (txn_->input.kind == Transaction::TryCertReq) {
    int r = OSSL_CMP_try_certreq(ctx, type, txn_->input.crm.get(), &txn_->checkAfter);
    txn_->done = r != -1;
    if (r == 0 && state_->aborted() && type >= 0) Farewell();
    return r != 0 && !state_->aborted();
  }
  if (OSSL_CMP_CTX_get_status(ctx) == OSSL_CMP_PKISTATUS_waiting) {
    // A tryCertReq left pending: OpenSSL's exec starts afresh; let it.
    return OSSL_CMP_exec_certreq(ctx, type, txn_->input.crm.get()) != nullptr;
  }
  // OpenSSL's exec would sleep inside libcrypto between polls, where nothing
  // can wake it; the same exchange driven step by step sleeps here instead,
  // and an abort ends the wait at once and tells the server, as OpenSSL does.
  for (;;) {
    int after = 0;
    int r = OSSL_CMP_try_certreq(ctx, type, txn_->input.crm.get(), &after);
    if (r == 0 && state_->aborted()) Farewell();
    if (r != -1) return r == 1;
    if (!state_->Sleep(after)) {
      Farewell();
      return false;
    }
  }
}

void ExecJob::Farewell() {
  OSSL_CMP_CTX* ctx = state_->ctx();
  if (OSSL_CMP_CTX_get_status(ctx) != OSSL_CMP_PKISTATUS_waiting) return;
  constexpr int kFarewellSeconds = 5;
  int saved = OSSL_CMP_CTX_get_option(ctx, OSSL_CMP_OPT_MSG_TIMEOUT);
  OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_MSG_TIMEOUT, saved > 0 && saved < kFarewellSeconds ? saved : kFarewellSeconds);
  state_->SuspendAbort(true);
  ERR_set_mark();
  int ignored = 0;
  (void)OSSL_CMP_try_certreq(ctx, -1, nullptr, &ignored);
  ERR_pop_to_mark();
  state_->SuspendAbort(false);
  OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_MSG_TIMEOUT, saved);
}

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

// OSSL_CMP_get1_certReqTemplate (3.4+); the facade refuses it on older OpenSSL.
bool ExecJob::RunCertReqTemplate() {
  const Features& f = GetFeatures();
  OSSL_CRMF_CERTTEMPLATE* tmpl = nullptr;
  void* keySpec = nullptr;
  if (f.get1_certReqTemplate(state_->ctx(), &tmpl, &keySpec) != 1) return false;
  if (tmpl != nullptr) txn_->certTemplate = Der([&](unsigned char** out) { return i2d_OSSL_CRMF_CERTTEMPLATE(tmpl, out); });
  if (keySpec != nullptr) {
    txn_->keySpec = Der([&](unsigned char** out) { return ASN1_item_i2d(static_cast<ASN1_VALUE*>(keySpec), out, f.ATAVS_it()); });
  }
  bool ok = (tmpl == nullptr || !txn_->certTemplate.empty()) && (keySpec == nullptr || !txn_->keySpec.empty());
  OSSL_CRMF_CERTTEMPLATE_free(tmpl);
  if (keySpec != nullptr) f.ATAVS_free(keySpec);
  return ok;
}

// OSSL_CMP_get1_crlUpdate (3.4+): the CRL that the certificate's distribution
// point or issuer names, newer than lastCrl; none when there is no update.
bool ExecJob::RunCrlUpdate() {
  X509_CRL* crl = nullptr;
  if (GetFeatures().get1_crlUpdate(state_->ctx(), txn_->input.cert.get(), txn_->input.lastCrl.get(), &crl) != 1) return false;
  if (crl == nullptr) return true;
  txn_->crl = Der([&](unsigned char** out) { return i2d_X509_CRL(crl, out); });
  X509_CRL_free(crl);
  return !txn_->crl.empty();
}

Napi::Value ExecJob::Result(Napi::Env env) {
  const TransactionRecord& t = *txn_;
  switch (t.input.kind) {
    case Transaction::CertReq:
      return ViewOrNull(env, t.newCert);
    case Transaction::TryCertReq: {
      Napi::Object o = Napi::Object::New(env);
      o.Set("done", t.done);
      if (t.done) {
        o.Set("cert", ViewOrNull(env, t.newCert));
      } else {
        o.Set("checkAfter", t.checkAfter);
      }
      return o;
    }
    case Transaction::RR:
      return env.Undefined();
    case Transaction::GENM:
      return ItavsToJs(env, t.itavs.get());
    case Transaction::CaCerts:
      return CertsToJs(env, t.certs.get());
    case Transaction::CertReqTemplate: {
      Napi::Object o = Napi::Object::New(env);
      o.Set("certTemplate", BytesOrNull(env, t.certTemplate));
      o.Set("keySpec", BytesOrNull(env, t.keySpec));
      return o;
    }
    case Transaction::CrlUpdate:
      return BytesOrNull(env, t.crl);
    case Transaction::RootCaKeyUpdate: {
      Napi::Object o = Napi::Object::New(env);
      o.Set("newWithNew", CertToJs(env, t.newWithNew.get()));
      if (t.newWithOld) o.Set("newWithOld", CertToJs(env, t.newWithOld.get()));
      if (t.oldWithNew) o.Set("oldWithNew", CertToJs(env, t.oldWithNew.get()));
      return o;
    }
  }
  return env.Undefined();
}

void ExecJob::Complete(Napi::Env env) {
  state_->End();
  state_->job = nullptr;
  if (settled_) return;
  const TransactionRecord& t = *txn_;
  try {
    if (t.ok) {
      deferred_.Resolve(Result(env));
    } else {
      Napi::Error err = MakeCmpError(env, t.error);
      bool fromCallback = t.transferFailed || !t.callbackProblem.empty();
      if (!t.badResponse.empty()) {
        err.Set("cause", Napi::Buffer<unsigned char>::Copy(env, t.badResponse.data(), t.badResponse.size()));
      } else if (fromCallback && !t.cause.IsEmpty()) {
        err.Set("cause", txn_->Get());
      }
      deferred_.Reject(err.Value());
    }
  } catch (const Napi::Error& e) {
    deferred_.Reject(e.Value());
  }
}

}  // namespace cmp
