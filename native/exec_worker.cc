#include "exec_worker.h"

#include <openssl/err.h>
#include <openssl/objects.h>

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

ExecJob::ExecJob(Napi::Env env, std::shared_ptr<CtxState> state, Napi::Object owner, TransactionInput input)
    : state_(std::move(state)),
      owner_(Napi::Persistent(owner)),
      deferred_(Napi::Promise::Deferred::New(env)),
      input_(std::move(input)) {}

void ExecJob::Execute() {
  CtxState::Running running(state_.get());
  ERR_clear_error();
  OSSL_CMP_CTX* ctx = state_->ctx();
  switch (input_.kind) {
    case Transaction::CertReq:
    case Transaction::TryCertReq:
      ok_ = RunCertReq();
      break;
    case Transaction::RR:
      ok_ = OSSL_CMP_exec_RR_ses(ctx) == 1;
      break;
    case Transaction::GENM:
      itavs_.reset(OSSL_CMP_exec_GENM_ses(ctx));
      ok_ = itavs_ != nullptr;
      break;
    case Transaction::CaCerts:
      ok_ = RunCaCerts();
      break;
    case Transaction::RootCaKeyUpdate:
      ok_ = RunRootCaKeyUpdate();
      break;
    case Transaction::CertReqTemplate:
      ok_ = RunCertReqTemplate();
      break;
    case Transaction::CrlUpdate:
      ok_ = RunCrlUpdate();
      break;
  }
  if (!ok_) {
    error_.stack = state_->TakePrintedErrors();
    error_.DrainQueue();
    error_.pkiStatus = OSSL_CMP_CTX_get_status(ctx);
    error_.failInfoCode = OSSL_CMP_CTX_get_failInfoCode(ctx);
    error_.statusString = FreeTextToStrings(OSSL_CMP_CTX_get0_statusString(ctx));
    if (state_->transferFailed) {
      error_.code = "ERR_CMP_TRANSFER_FAILED";
      error_.message = "CMP message transfer failed: " + state_->callbackProblem;
    } else if (!state_->callbackProblem.empty()) {
      error_.message = "CMP transaction failed: " + state_->callbackProblem;
    } else if (error_.stack.empty()) {
      error_.code = "ERR_CMP_TRANSACTION_FAILED";
      error_.message = "CMP transaction failed";
      const char* sep = ": ";
      for (const std::string& note : state_->notes()) {
        error_.message += sep + note;
        sep = "; ";
      }
    }
    if (state_->aborted()) {
      error_.code = "ERR_CMP_ABORTED";
      error_.message = "The CMP transaction was aborted";
    }
  }
  ERR_clear_error();
}

bool ExecJob::RunCertReq() {
  OSSL_CMP_CTX* ctx = state_->ctx();
  const int type = input_.reqType;
  if (input_.kind == Transaction::TryCertReq) {
    int r = OSSL_CMP_try_certreq(ctx, type, input_.crm.get(), &checkAfter_);
    done_ = r != -1;
    if (r == 0 && state_->aborted() && type >= 0) Farewell();
    return r != 0 && !state_->aborted();
  }
  if (OSSL_CMP_CTX_get_status(ctx) == OSSL_CMP_PKISTATUS_waiting) {
    // A tryCertReq left pending: OpenSSL's exec starts afresh; let it.
    return OSSL_CMP_exec_certreq(ctx, type, input_.crm.get()) != nullptr;
  }
  // OpenSSL's exec would sleep inside libcrypto between polls, where nothing
  // can wake it; the same exchange driven step by step sleeps here instead,
  // and an abort ends the wait at once and tells the server, as OpenSSL does.
  for (;;) {
    int after = 0;
    int r = OSSL_CMP_try_certreq(ctx, type, input_.crm.get(), &after);
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
  itavs_.reset(OSSL_CMP_exec_GENM_ses(ctx));
  if (!itavs_) return nullptr;
  ASN1_OBJECT* expected = OBJ_txt2obj(expectedOid, 1);
  ItavPtr found;
  for (int i = 0; i < sk_OSSL_CMP_ITAV_num(itavs_.get()); i++) {
    if (OBJ_cmp(OSSL_CMP_ITAV_get0_type(sk_OSSL_CMP_ITAV_value(itavs_.get(), i)), expected) == 0) {
      found.reset(sk_OSSL_CMP_ITAV_delete(itavs_.get(), i));
      break;
    }
  }
  ASN1_OBJECT_free(expected);
  itavs_.reset();
  if (!found) ERR_raise_data(ERR_LIB_CMP, CMP_R_INVALID_ARGS, "genp has no ITAV for %s", desc);
  return found;
}

bool ExecJob::RunCaCerts() {
  OSSL_CMP_CTX* ctx = state_->ctx();
  const Features& f = GetFeatures();
  if (f.get1_caCerts != nullptr) {
    STACK_OF(X509)* out = nullptr;
    int r = f.get1_caCerts(ctx, &out);
    certs_.reset(out);
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
  certs_ = CertSequenceFromDer(value->value.sequence->data, value->value.sequence->length);
  if (!certs_) {
    RaiseGenp("caCerts value is not a sequence of certificates");
    return false;
  }
  for (int i = 0; i < sk_X509_num(certs_.get()); i++) {
    X509* cert = sk_X509_value(certs_.get(), i);
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
  X509* oldWithOld = input_.cert.get();
  if (f.get1_rootCaKeyUpdate != nullptr) {
    X509 *nwn = nullptr, *nwo = nullptr, *own = nullptr;
    int r = f.get1_rootCaKeyUpdate(ctx, oldWithOld, &nwn, &nwo, &own);
    newWithNew_.reset(nwn);
    newWithOld_.reset(nwo);
    oldWithNew_.reset(own);
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
  newWithNew_.reset(d2i_X509(nullptr, &p, end - p));
  if (!newWithNew_ || !ReadTaggedCert(&p, end, 0, newWithOld_) || !ReadTaggedCert(&p, end, 1, oldWithNew_) ||
      p != end) {
    RaiseGenp("rootCaKeyUpdate value is malformed");
    return false;
  }
  // The checks 3.2+ makes: newWithNew is self-signed and vouched for by the
  // old root (via newWithOld) or the trust store; oldWithNew links back.
  bool valid = SignedBy(newWithNew_.get(), newWithNew_.get());
  X509* link = newWithOld_.get();
  if (valid && oldWithOld != nullptr) {
    valid = link != nullptr && SignedBy(link, oldWithOld) && SameKey(link, newWithNew_.get());
    if (valid && oldWithNew_) valid = SignedBy(oldWithNew_.get(), newWithNew_.get()) && SameKey(oldWithNew_.get(), oldWithOld);
  } else if (valid) {
    X509StackPtr trusted(X509_STORE_get1_all_certs(OSSL_CMP_CTX_get0_trustedStore(ctx)));
    valid = false;
    for (int i = 0; i < sk_X509_num(trusted.get()) && !valid; i++) {
      X509* anchor = sk_X509_value(trusted.get(), i);
      valid = X509_cmp(anchor, newWithNew_.get()) == 0 ||
              (link != nullptr && SignedBy(link, anchor) && SameKey(link, newWithNew_.get()));
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
  if (tmpl != nullptr) template_ = Der([&](unsigned char** out) { return i2d_OSSL_CRMF_CERTTEMPLATE(tmpl, out); });
  if (keySpec != nullptr) {
    keySpec_ = Der([&](unsigned char** out) { return ASN1_item_i2d(static_cast<ASN1_VALUE*>(keySpec), out, f.ATAVS_it()); });
  }
  bool ok = (tmpl == nullptr || !template_.empty()) && (keySpec == nullptr || !keySpec_.empty());
  OSSL_CRMF_CERTTEMPLATE_free(tmpl);
  if (keySpec != nullptr) f.ATAVS_free(keySpec);
  return ok;
}

// OSSL_CMP_get1_crlUpdate (3.4+): the CRL that the certificate's distribution
// point or issuer names, newer than lastCrl; none when there is no update.
bool ExecJob::RunCrlUpdate() {
  X509_CRL* crl = nullptr;
  if (GetFeatures().get1_crlUpdate(state_->ctx(), input_.cert.get(), input_.lastCrl.get(), &crl) != 1) return false;
  if (crl == nullptr) return true;
  crl_ = Der([&](unsigned char** out) { return i2d_X509_CRL(crl, out); });
  X509_CRL_free(crl);
  return !crl_.empty();
}

Napi::Value ExecJob::Result(Napi::Env env) {
  OSSL_CMP_CTX* ctx = state_->ctx();
  switch (input_.kind) {
    case Transaction::CertReq:
      return CertToJs(env, OSSL_CMP_CTX_get0_newCert(ctx));
    case Transaction::TryCertReq: {
      Napi::Object o = Napi::Object::New(env);
      o.Set("done", done_);
      if (done_) {
        o.Set("cert", input_.reqType < 0 ? env.Null() : CertToJs(env, OSSL_CMP_CTX_get0_newCert(ctx)));
      } else {
        o.Set("checkAfter", checkAfter_);
      }
      return o;
    }
    case Transaction::RR:
      return env.Undefined();
    case Transaction::GENM:
      return ItavsToJs(env, itavs_.get());
    case Transaction::CaCerts:
      return CertsToJs(env, certs_.get());
    case Transaction::CertReqTemplate: {
      Napi::Object o = Napi::Object::New(env);
      o.Set("certTemplate", BytesOrNull(env, template_));
      o.Set("keySpec", BytesOrNull(env, keySpec_));
      return o;
    }
    case Transaction::CrlUpdate:
      return BytesOrNull(env, crl_);
    case Transaction::RootCaKeyUpdate: {
      Napi::Object o = Napi::Object::New(env);
      o.Set("newWithNew", CertToJs(env, newWithNew_.get()));
      if (newWithOld_) o.Set("newWithOld", CertToJs(env, newWithOld_.get()));
      if (oldWithNew_) o.Set("oldWithNew", CertToJs(env, oldWithNew_.get()));
      return o;
    }
  }
  return env.Undefined();
}

void ExecJob::Complete(Napi::Env env) {
  state_->End();
  try {
    if (ok_) {
      deferred_.Resolve(Result(env));
    } else {
      Napi::Error err = MakeCmpError(env, error_);
      bool fromCallback = state_->transferFailed || !state_->callbackProblem.empty();
      if (!state_->badResponse.empty()) {
        err.Set("cause", Napi::Buffer<unsigned char>::Copy(env, state_->badResponse.data(), state_->badResponse.size()));
      } else if (fromCallback && !state_->callbackCause.IsEmpty()) {
        err.Set("cause", state_->Cause());
      }
      deferred_.Reject(err.Value());
    }
  } catch (const Napi::Error& e) {
    deferred_.Reject(e.Value());
  }
  state_->callbackCause.Reset();
}

}  // namespace cmp
