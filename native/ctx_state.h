// The OSSL_CMP_CTX and what a running transaction shares with the main thread.
// Owned jointly by the JS wrapper and the job in flight, so neither close()
// nor garbage collection can free the context under a worker thread. Always
// destroyed on the main thread (both owners live there).
#pragma once

#include <napi.h>
#include <openssl/cmp.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "js_link.h"
#include "ossl_error.h"

namespace cmp {

struct TransactionRecord;
class ExecJob;

class CtxState : public JsLink {
 public:
  explicit CtxState(Executor* executor);
  ~CtxState() override;

  OSSL_CMP_CTX* ctx() const { return ctx_; }
  std::shared_ptr<CtxState> self() { return std::static_pointer_cast<CtxState>(shared_from_this()); }

  // Main thread: claims the context for one transaction.
  bool TryBegin();
  void End();
  bool busy() const { return busy_.load(); }

  // Worker thread: errors OpenSSL printed to the log callback during the
  // running transaction, oldest first; cleared by taking them.
  std::vector<OsslErrorEntry> TakePrintedErrors() { return std::move(printed_); }
  // Worker thread: what OpenSSL logged since the last message it sent or
  // received; some checks fail with only these lines to say why.
  const std::vector<std::string>& notes() const { return notes_; }
  // Marks, for the thread it runs on, the context and the transaction whose
  // OpenSSL callbacks fire there: the log and HTTP callbacks have no argument
  // that could carry them (OpenSSL 3.0 takes a non-NULL http_cb_arg to mean TLS).
  class Running {
   public:
    explicit Running(CtxState* state, std::shared_ptr<TransactionRecord> txn = nullptr);
    ~Running();
  };
  static CtxState* Current();
  static const std::shared_ptr<TransactionRecord>& CurrentTransaction();

  // Main thread (abort(), close(), an AbortSignal): aborts the running
  // transaction. One still resolving its server's name or connecting, which
  // nothing interrupts, is settled as aborted at once; its thread gives up
  // within MSG_TIMEOUT and the context stays busy until then.
  void AbortFromJs(Napi::Env env);
  ExecJob* job = nullptr;  // main thread: the transaction in flight

  // OSSL_CMP_CTX_reinit, which closes a kept-alive connection without telling
  // the HTTP callback: between transactions, on the main thread or on the
  // worker thread of the next transaction before it starts.
  bool Reinit();
  // Main thread: reinit() asks for a reinit that is done when the context is
  // next used, by the main thread (FlushReinit) or by the next transaction's
  // thread (TakeReinit). The previous transaction's objects are then freed
  // by the thread that allocated them, where its allocator reuses them at once.
  // The connection OSSL_CMP_CTX_reinit would close (one a waiting request keeps) is shut at once.
  void RequestReinit();
  bool FlushReinit() { return !TakeReinit() || Reinit(); }
  bool TakeReinit() {
    bool pending = reinitPending_;
    reinitPending_ = false;
    return pending;
  }

  // Main thread only: the JS side of the callbacks.
  Napi::FunctionReference transferFn;
  Napi::FunctionReference certConfFn;
  Napi::FunctionReference logFn;
  std::atomic<bool> logToJs{false};

  // Main thread, between transactions.
  void SetTransfer(bool js);
  void SetCertConfJs(bool js);
  void SetCertConfTrusted(X509_STORE* store);  // takes ownership; null: none
  void SetTls(SSL_CTX* tls, std::string host);  // takes ownership; null: plain HTTP
  void SetServerName(std::string server) { server_ = std::move(server); }
  // openssl cmp -reqout/-rspout/-reqin/-rspin: files consumed one message
  // at a time, across transactions. Main thread sets; worker consumes.
  struct MessageFiles {
    std::vector<std::string> reqout, rspout, reqin, rspin;
    bool reqinNewTid = false;
    bool any() const { return !reqout.empty() || !rspout.empty() || !reqin.empty() || !rspin.empty(); }
  };
  void SetMessageFiles(MessageFiles files);
  // The certConf callback's fourth argument (IssuedDetails); pass: encrypts the key's PEM.
  void SetIssuedDetails(bool on, std::unique_ptr<std::string> pass) {
    if (issuedKeyPass_) OPENSSL_cleanse(issuedKeyPass_->data(), issuedKeyPass_->size());
    issuedDetails_ = on;
    issuedKeyPass_ = std::move(pass);
  }

  // Applies to every trust store the context holds (CMP, certConf, TLS).
  bool ApplyVerifyParam(const X509_VERIFY_PARAM* vpm);

 protected:
  void OnAbortLocked() override;

 private:
  friend struct Bridges;
  OSSL_CMP_CTX* ctx_;
  std::atomic<bool> busy_{false};
  int httpFd_ = -1;          // guarded by mu_
  bool inExchange_ = false;  // guarded by mu_: an HTTP exchange is under way
  std::vector<OsslErrorEntry> printed_;  // worker thread of the running transaction
  std::vector<std::string> notes_;       // likewise
  MessageFiles files_;
  bool jsTransfer_ = false;
  // Set and taken between transactions; Submit orders them for the worker.
  bool reinitPending_ = false;
  bool issuedDetails_ = false;
  std::unique_ptr<std::string> issuedKeyPass_;
  X509_STORE* certConfTrusted_ = nullptr;
  SSL_CTX* tls_ = nullptr;
  std::string tlsHost_;
  std::string server_;
};

}  // namespace cmp
