#include "ctx_state.h"

#include <sys/socket.h>

#include <new>

#include "transfer_bridge.h"

namespace cmp {

namespace {
thread_local CtxState* current = nullptr;
}  // namespace

CtxState::CtxState(Executor* executor) : JsLink(executor), ctx_(OSSL_CMP_CTX_new(nullptr, nullptr)) {
  if (ctx_ == nullptr) throw std::bad_alloc();
  Bridges::Install(this);
}

CtxState::~CtxState() {
  OSSL_CMP_CTX_free(ctx_);
  X509_STORE_free(certConfTrusted_);
  SSL_CTX_free(tls_);
}

bool CtxState::TryBegin() {
  bool expected = false;
  if (!busy_.compare_exchange_strong(expected, true)) return false;
  callbackCause.Reset();
  callbackProblem.clear();
  transferFailed = false;
  badResponse.clear();
  SuspendAbort(true);
  return true;
}

void CtxState::End() { busy_.store(false); }

void CtxState::OnAbortLocked() {
  // Only an exchange under way is cut: a connection idle between polls stays
  // usable for withdrawing the pending request.
  if (httpFd_ >= 0 && inExchange_) shutdown(httpFd_, SHUT_RDWR);
}

void CtxState::SetTransfer(bool js) { Bridges::SetTransfer(this, js); }
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

CtxState::Running::Running(CtxState* state) {
  current = state;
  state->printed_.clear();
  state->notes_.clear();
}
CtxState::Running::~Running() { current = nullptr; }

CtxState* CtxState::Current() { return current; }

}  // namespace cmp
