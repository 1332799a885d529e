#include "ctx_state.h"

#include <sys/socket.h>

#include <chrono>
#include <new>

#include "executor.h"
#include "transfer_bridge.h"

namespace cmp {

namespace {
thread_local CtxState* current = nullptr;
}  // namespace

CtxState::CtxState(Executor* executor) : ctx_(OSSL_CMP_CTX_new(nullptr, nullptr)), executor_(executor) {
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
  std::lock_guard<std::mutex> lock(mu_);
  aborted_ = false;
  return true;
}

void CtxState::End() { busy_.store(false); }

void CtxState::Abort() {
  std::lock_guard<std::mutex> lock(mu_);
  aborted_ = true;
  // Only an exchange under way is cut: a connection idle between polls stays
  // usable for withdrawing the pending request.
  if (httpFd_ >= 0 && inExchange_) shutdown(httpFd_, SHUT_RDWR);
  cv_.notify_all();
}

bool CtxState::aborted() {
  std::lock_guard<std::mutex> lock(mu_);
  return aborted_;
}

bool CtxState::Sleep(int seconds) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, std::chrono::seconds(seconds), [this] { return aborted_; });
}

void CtxState::SuspendAbort(bool suspended) {
  std::lock_guard<std::mutex> lock(mu_);
  aborted_ = !suspended;
}

CtxState::Wait CtxState::RoundTrip(std::function<void(Napi::Env, const std::shared_ptr<JsReply>&)> invoke,
                                   int timeoutSeconds, std::shared_ptr<JsReply>& reply) {
  auto r = std::make_shared<JsReply>();
  std::shared_ptr<CtxState> self = shared_from_this();
  bool posted = executor_ != nullptr && executor_->Post([self, r, invoke](Napi::Env env) {
    if (self->aborted()) return self->Settle(r, false, {}, 0, "aborted");
    invoke(env, r);
  });
  if (!posted) return Wait::Aborted;  // the environment is going away
  std::unique_lock<std::mutex> lock(mu_);
  auto done = [&] { return r->settled || aborted_; };
  if (timeoutSeconds > 0) {
    if (!cv_.wait_for(lock, std::chrono::seconds(timeoutSeconds), done)) return Wait::TimedOut;
  } else {
    cv_.wait(lock, done);
  }
  if (!r->settled) return Wait::Aborted;
  reply = r;
  return Wait::Settled;
}

void CtxState::Settle(const std::shared_ptr<JsReply>& reply, bool ok, std::vector<unsigned char> bytes, int number,
                      std::string problem) {
  std::lock_guard<std::mutex> lock(mu_);
  if (reply->settled) return;
  reply->settled = true;
  reply->ok = ok;
  reply->bytes = std::move(bytes);
  reply->number = number;
  reply->problem = std::move(problem);
  cv_.notify_all();
}

void CtxState::Post(std::function<void(Napi::Env)> fn) {
  if (executor_ != nullptr) executor_->Post(std::move(fn));
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
