#include "exec_worker.h"

#include <openssl/err.h>
#include <openssl/objects.h>

#include "addon.h"
#include "features.h"
#include "issued_details.h"

namespace cmp {

namespace {

void MarkAborted(ErrorInfo& e) {
  e.code = "ERR_CMP_ABORTED";
  e.message = "The CMP transaction was aborted";
}

}  // namespace

ExecJob::ExecJob(Napi::Env env, std::shared_ptr<CtxState> state, Napi::Object owner, TransactionInput input)
    : PromiseJob(env, std::move(state), owner), txn_(std::make_shared<TransactionRecord>()) {
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
  // Before the transaction is marked running: as on the main thread, the
  // HTTP callback is not told of the connection the reinit closes.
  const bool reinitFailed = state_->TakeReinit() && !state_->Reinit();
  CtxState::Running running(state_.get(), txn_);
  ERR_clear_error();
  OSSL_CMP_CTX* ctx = state_->ctx();
  TransactionRecord& t = *txn_;
  if (reinitFailed) {
    ERR_raise_data(ERR_LIB_CMP, ERR_R_INTERNAL_ERROR, "OSSL_CMP_CTX_reinit failed");
    Fail();
    return;
  }
  switch (t.input.kind) {
    case Transaction::CertReq:
    case Transaction::TryCertReq:
      if (!t.input.keySpec.empty()) {
        EVP_PKEY* key = GenerateKey(t.input.keySpec);
        if (key == nullptr || !OSSL_CMP_CTX_set0_newPkey(ctx, 1, key)) {
          EVP_PKEY_free(key);
          t.callbackProblem = "cannot generate a new key (" + t.input.keySpec + ")";
          break;
        }
      }
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
