// A CmpServer's sessions: OpenSSL keeps one transaction per server context,
// so each transaction gets a context of its own, found again by its
// transactionID; abandoned ones expire, and their number is bounded.
#include <openssl/cmp.h>

#include <ctime>

#include "cmp_server.h"
#include "features.h"
#include "server_callbacks.h"

namespace cmp {

Session::~Session() {
  if (srv != nullptr) server->liveSessions--;
  OSSL_CMP_SRV_CTX_free(srv);
  OSSL_CMP_MSG_free(pendingRequest);
}

ServerState::ServerState(Executor* executor, ServerConfig config) : JsLink(executor), config_(std::move(config)) {}

ServerState::~ServerState() = default;

OSSL_CMP_SRV_CTX* ServerState::NewServerContext(Session* session) {
  OSSL_CMP_SRV_CTX* srv = OSSL_CMP_SRV_CTX_new(nullptr, nullptr);
  if (srv == nullptr) return nullptr;
  OSSL_CMP_CTX* ctx = OSSL_CMP_SRV_CTX_get0_cmp_ctx(srv);
  bool ok = OSSL_CMP_SRV_CTX_init(srv, session, CertReqCb, RrCb, GenmCb, ErrorCb, CertConfCb, PollReqCb) &&
            OSSL_CMP_SRV_CTX_set_grant_implicit_confirm(srv, config_.grantImplicitConfirm) &&
            OSSL_CMP_SRV_CTX_set_accept_unprotected(srv, config_.acceptUnprotected) &&
            OSSL_CMP_SRV_CTX_set_accept_raverified(srv, config_.acceptRaVerified) &&
            OSSL_CMP_SRV_CTX_set_send_unprotected_errors(srv, config_.sendUnprotectedErrors) &&
            OSSL_CMP_CTX_set_log_cb(ctx, ServerLog) &&
            OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_UNPROTECTED_SEND, config_.sendUnprotected) &&
            OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_UNPROTECTED_ERRORS, config_.acceptUnprotectedErrors);
  if (ok && config_.logVerbosity >= 0) OSSL_CMP_CTX_set_log_verbosity(ctx, config_.logVerbosity);
  if (ok && config_.hasRef) {
    ok = OSSL_CMP_CTX_set1_referenceValue(ctx, config_.ref.data(), static_cast<int>(config_.ref.size()));
  }
  if (ok && config_.hasSecret) {
    ok = OSSL_CMP_CTX_set1_secretValue(ctx, config_.secret.data(), static_cast<int>(config_.secret.size()));
  }
  if (ok && config_.cert) ok = OSSL_CMP_CTX_set1_cert(ctx, config_.cert.get());
  if (ok && config_.key) ok = OSSL_CMP_CTX_set1_pkey(ctx, config_.key.get());
  X509StackPtr untrusted = intermediates_.With(config_.untrusted.get());
  if (ok && untrusted) ok = OSSL_CMP_CTX_set1_untrusted(ctx, untrusted.get());
  if (ok && config_.trusted) {
    X509_STORE* store = X509_STORE_new();
    for (int i = 0; store != nullptr && i < sk_X509_num(config_.trusted.get()); i++) {
      X509_STORE_add_cert(store, sk_X509_value(config_.trusted.get(), i));
    }
    ok = store != nullptr && OSSL_CMP_CTX_set0_trustedStore(ctx, store);
    if (!ok) X509_STORE_free(store);
  }
  // CVE-2026-63074: OpenSSL 3.1+ can be told not to cache extraCerts at all;
  // on 3.0 the cache lives only as long as this one transaction's context.
  if (ok && GetFeatures().noCacheExtraCerts) (void)OSSL_CMP_CTX_set_option(ctx, 37 /* NO_CACHE_EXTRACERTS */, 1);
  if (!ok) {
    OSSL_CMP_SRV_CTX_free(srv);
    return nullptr;
  }
  return srv;
}

std::shared_ptr<Session> ServerState::Acquire(const std::string& tid, std::string& error) {
  std::lock_guard<std::mutex> lock(sessionsMu_);
  time_t now = time(nullptr);
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (!it->second->busy && now - it->second->lastUsed > config_.transactionTimeout) {
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
  auto found = tid.empty() ? sessions_.end() : sessions_.find(tid);
  if (found != sessions_.end()) {
    if (found->second->busy) {
      error = "another message of this transaction is being processed";
      return nullptr;
    }
    found->second->busy = true;
    return found->second;
  }
  if (sessions_.size() >= config_.maxTransactions) {
    error = "too many open transactions";
    return nullptr;
  }
  auto s = std::make_shared<Session>();
  s->server = this;
  s->srv = NewServerContext(s.get());
  if (s->srv == nullptr) {
    error = "cannot create a server context";
    return nullptr;
  }
  liveSessions++;
  s->busy = true;
  if (!tid.empty()) sessions_[tid] = s;
  return s;
}

void ServerState::Release(const std::string& tid, const std::shared_ptr<Session>& s) {
  bool closed = OSSL_CMP_CTX_get_status(OSSL_CMP_SRV_CTX_get0_cmp_ctx(s->srv)) == OSSL_CMP_PKISTATUS_unspecified;
  std::lock_guard<std::mutex> lock(sessionsMu_);
  s->busy = false;
  s->lastUsed = time(nullptr);
  if (closed && !tid.empty()) {
    auto it = sessions_.find(tid);
    if (it != sessions_.end() && it->second == s) sessions_.erase(it);
  }
}

ServerState::Retained ServerState::Holding() {
  std::lock_guard<std::mutex> lock(sessionsMu_);
  Retained r;
  r.sessions = liveSessions.load();
  for (const auto& [tid, s] : sessions_) r.certs += sk_X509_num(OSSL_CMP_CTX_get0_untrusted(OSSL_CMP_SRV_CTX_get0_cmp_ctx(s->srv)));
  return r;
}

size_t ServerState::OpenTransactions() {
  std::lock_guard<std::mutex> lock(sessionsMu_);
  return sessions_.size();
}

}  // namespace cmp
