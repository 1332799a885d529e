// The OSSL_CMP_CTX and what a running transaction shares with the main thread.
// Owned jointly by the JS wrapper and the job in flight, so neither close()
// nor garbage collection can free the context under a worker thread. Always
// destroyed on the main thread (both owners live there).
#pragma once

#include <napi.h>
#include <openssl/cmp.h>
#include <openssl/ssl.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ossl_error.h"

namespace cmp {

class Executor;

// The answer of a JS callback, filled on the main thread, read by the worker.
struct JsReply {
  bool settled = false;
  bool ok = false;
  std::vector<unsigned char> bytes;  // transfer: the DER response
  int number = 0;                    // certConf: the failure bits
  std::string problem;               // why it failed, for the error message
};

class CtxState : public std::enable_shared_from_this<CtxState> {
 public:
  explicit CtxState(Executor* executor);
  ~CtxState();
  CtxState(const CtxState&) = delete;
  CtxState& operator=(const CtxState&) = delete;

  OSSL_CMP_CTX* ctx() const { return ctx_; }

  // Main thread: claims the context for one transaction.
  bool TryBegin();
  void End();
  bool busy() const { return busy_.load(); }

  // Any thread: ends the running transaction as soon as it can notice.
  void Abort();
  bool aborted();
  // Worker thread: waits `seconds` unless aborted first; false when aborted.
  bool Sleep(int seconds);
  // Worker thread: lets one last exchange through after an abort (telling the
  // server a pending request is withdrawn); the abort stands again after it.
  void SuspendAbort(bool suspended);

  enum class Wait { Settled, TimedOut, Aborted };
  // Worker thread: runs `invoke` on the main thread and waits for it to
  // settle the reply, for at most `timeoutSeconds` (0: no limit) and never
  // past an abort.
  Wait RoundTrip(std::function<void(Napi::Env, const std::shared_ptr<JsReply>&)> invoke, int timeoutSeconds,
                 std::shared_ptr<JsReply>& reply);
  // Any thread.
  void Settle(const std::shared_ptr<JsReply>& reply, bool ok, std::vector<unsigned char> bytes, int number,
              std::string problem);
  // Worker thread: posts without waiting (log lines).
  void Post(std::function<void(Napi::Env)> fn);

  // Worker thread: errors OpenSSL printed to the log callback during the
  // running transaction, oldest first; cleared by taking them.
  std::vector<OsslErrorEntry> TakePrintedErrors() { return std::move(printed_); }
  // Worker thread: what OpenSSL logged since the last message it sent or
  // received; some checks fail with only these lines to say why.
  const std::vector<std::string>& notes() const { return notes_; }
  // Worker thread: set when a JS callback failed the transaction.
  std::string callbackProblem;
  bool transferFailed = false;

  // Marks, for the thread it runs on, the context whose OpenSSL callbacks fire
  // there: the log and HTTP callbacks have no argument that could carry it
  // (OpenSSL 3.0 takes a non-NULL http_cb_arg to mean TLS).
  class Running {
   public:
    explicit Running(CtxState* state);
    ~Running();
  };
  static CtxState* Current();

  // Main thread only: the JS side of the callbacks.
  Napi::FunctionReference transferFn;
  Napi::FunctionReference certConfFn;
  Napi::FunctionReference logFn;
  Napi::Reference<Napi::Value> callbackCause;  // what a failing callback produced

  // Main thread, between transactions.
  void SetTransfer(bool js);
  void SetCertConfJs(bool js);
  void SetCertConfTrusted(X509_STORE* store);  // takes ownership; null: none
  void SetTls(SSL_CTX* tls, std::string host);  // takes ownership; null: plain HTTP
  void SetServerName(std::string server) { server_ = std::move(server); }
  std::atomic<bool> logToJs{false};

 private:
  friend struct Bridges;
  OSSL_CMP_CTX* ctx_;
  std::atomic<bool> busy_{false};
  Executor* executor_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  bool aborted_ = false;  // guarded by mu_
  int httpFd_ = -1;       // guarded by mu_
  bool inExchange_ = false;  // guarded by mu_: an HTTP exchange is under way
  std::vector<OsslErrorEntry> printed_;  // worker thread of the running transaction
  std::vector<std::string> notes_;       // likewise
  X509_STORE* certConfTrusted_ = nullptr;
  SSL_CTX* tls_ = nullptr;
  std::string tlsHost_;
  std::string server_;
};

}  // namespace cmp
