#include "ctx_state.h"

#include <new>

#include "platform.h"
#include "exec_worker.h"
#include "transfer_bridge.h"

namespace cmp {

namespace {
thread_local CtxState* current = nullptr;
thread_local std::shared_ptr<TransactionRecord> currentTxn;
}  // namespace

CtxState::CtxState(Executor* executor) : JsLink(executor), ctx_(OSSL_CMP_CTX_new(nullptr, nullptr)) {
  if (ctx_ == nullptr) throw std::bad_alloc();
  Bridges::Install(this);
}

CtxState::~CtxState() {
  OSSL_CMP_CTX_free(ctx_);
  X509_STORE_free(certConfTrusted_);
  SSL_CTX_free(tls_);
  SetIssuedDetails(false, nullptr);  // wipes the pass phrase
}

bool CtxState::TryBegin() {
  bool expected = false;
  if (!busy_.compare_exchange_strong(expected, true)) return false;
  SuspendAbort(true);
  return true;
}

void CtxState::End() { busy_.store(false); }

void CtxState::OnAbortLocked() {
  // Only an exchange under way is cut: a connection idle between polls stays
  // usable for withdrawing the pending request.
  if (httpFd_ >= 0 && inExchange_) shutdown(httpFd_, SHUT_RDWR);
}

void CtxState::AbortFromJs(Napi::Env env) {
  Abort();
  bool connecting;
  {
    std::lock_guard<std::mutex> lock(mu_);
    connecting = inExchange_ && httpFd_ < 0;
  }
  if (connecting && job != nullptr) job->SettleAborted(env);
}

void CtxState::SetTransfer(bool js) {
  jsTransfer_ = js;
  Bridges::SetTransfer(this);
}

void CtxState::SetMessageFiles(MessageFiles files) {
  files_ = std::move(files);
  Bridges::SetTransfer(this);
}
void CtxState::SetCertConfJs(bool js) { Bridges::SetCertConf(this, js, nullptr); }

void CtxState::SetCertConfTrusted(X509_STORE* store) {
  X509_STORE_free(certConfTrusted_);
  certConfTrusted_ = store;
  Bridges::SetCertConf(this, false, store);
}

void CtxState::SetTls(SSL_CTX* tls, std::string host) {
  SSL_CTX_free(tls_);
  tls_ = tls;
  tlsHost_ = std::move(host);
  // OpenSSL's HTTP client uses TLS exactly when this argument is not NULL.
  OSSL_CMP_CTX_set_http_cb_arg(ctx_, tls_);
}

bool CtxState::ApplyVerifyParam(const X509_VERIFY_PARAM* vpm) {
  X509_STORE* stores[] = {OSSL_CMP_CTX_get0_trustedStore(ctx_), certConfTrusted_,
                          tls_ != nullptr ? SSL_CTX_get_cert_store(tls_) : nullptr};
  for (X509_STORE* store : stores) {
    if (store != nullptr && !X509_STORE_set1_param(store, vpm)) return false;
  }
  // as openssl cmp: newly enrolled certificates are current, whatever -attime says
  if (certConfTrusted_ != nullptr) X509_VERIFY_PARAM_clear_flags(X509_STORE_get0_param(certConfTrusted_), X509_V_FLAG_USE_CHECK_TIME);
  return true;
}

CtxState::Running::Running(CtxState* state, std::shared_ptr<TransactionRecord> txn) {
  current = state;
  currentTxn = std::move(txn);
  state->printed_.clear();
  state->notes_.clear();
}
CtxState::Running::~Running() {
  current = nullptr;
  currentTxn.reset();
}

CtxState* CtxState::Current() { return current; }
const std::shared_ptr<TransactionRecord>& CtxState::CurrentTransaction() { return currentTxn; }

void CtxState::RequestReinit() {
  reinitPending_ = true;
  std::lock_guard<std::mutex> lock(mu_);
  if (httpFd_ >= 0 && !inExchange_) shutdown(httpFd_, SHUT_RDWR);
}

bool CtxState::Reinit() {
  int ok = OSSL_CMP_CTX_reinit(ctx_);
  std::lock_guard<std::mutex> lock(mu_);
  httpFd_ = -1;
  return ok == 1;
}

}  // namespace cmp
