// The OSSL_CMP_CTX and what a running transaction shares with the main thread.
// Owned jointly by the JS wrapper and the job in flight, so neither close()
// nor garbage collection can free the context under a worker thread.
#pragma once

#include <openssl/bio.h>
#include <openssl/cmp.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ossl_error.h"

namespace cmp {

class CtxState {
 public:
  CtxState();
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

  // Worker thread: errors OpenSSL printed to the log callback during the
  // running transaction, oldest first; cleared by taking them.
  std::vector<OsslErrorEntry> TakePrintedErrors() { return std::move(printed_); }
  // Worker thread: what OpenSSL logged since the last message it sent or
  // received; some checks fail with only these lines to say why.
  const std::vector<std::string>& notes() const { return notes_; }

  // Worker thread: marks this context as the one the thread runs, for the
  // HTTP callback (OpenSSL 3.0 takes a non-NULL http_cb_arg to mean TLS, so
  // the state cannot travel there).
  class Running {
   public:
    explicit Running(CtxState* state);
    ~Running();
  };

 private:
  // OSSL_HTTP_bio_cb_t: tunes OpenSSL's own HTTP connection and lets Abort()
  // cut it by shutting the socket down.
  static BIO* HttpCallback(BIO* bio, void* arg, int connect, int detail);
  static int LogCallback(const char* component, const char* file, int line, OSSL_CMP_severity level,
                         const char* message);

  OSSL_CMP_CTX* ctx_;
  std::atomic<bool> busy_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool aborted_ = false;  // guarded by mu_
  int httpFd_ = -1;       // guarded by mu_
  std::vector<OsslErrorEntry> printed_;  // worker thread of the running transaction
  std::vector<std::string> notes_;       // likewise
};

}  // namespace cmp
