// CmpServer: OpenSSL's CMP server (OSSL_CMP_SRV_CTX) with its callbacks
// answered by one JS dispatcher function. OpenSSL keeps one transaction per
// server context, so each transaction gets a context of its own, found again
// by its transactionID; abandoned ones expire.
#pragma once

#include <napi.h>
#include <openssl/cmp.h>

#include <atomic>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "chain_cache.h"
#include "convert.h"
#include "js_link.h"
#include "ossl_error.h"

namespace cmp {

struct ServerConfig {
  std::vector<unsigned char> ref, secret;
  bool hasRef = false, hasSecret = false;
  X509Ptr cert;
  PkeyPtr key;
  X509StackPtr trusted, untrusted;
  bool grantImplicitConfirm = false, acceptUnprotected = false, acceptRaVerified = false,
       sendUnprotectedErrors = false, sendUnprotected = false, acceptUnprotectedErrors = false;
  int transactionTimeout = 300;  // seconds an unfinished transaction is kept
  int logVerbosity = -1;         // OpenSSL's log lines up to this level go to JS; -1: none
  size_t maxTransactions = 10000;
};

class ServerState;

// One transaction's server context and what polling needs to remember.
struct Session {
  OSSL_CMP_SRV_CTX* srv = nullptr;
  ServerState* server = nullptr;
  time_t lastUsed = 0;
  bool busy = false;
  OSSL_CMP_MSG* pendingRequest = nullptr;    // the cert request answered with "waiting"
  std::shared_ptr<void> pendingInfo;          // what it asked for, for the pollReq handler
  std::shared_ptr<void> decided;              // its answer, once polling produced one
  const std::vector<unsigned char>* requestDer = nullptr;  // the message being processed, as received
  ~Session();
};

class ServerState : public JsLink {
 public:
  ServerState(Executor* executor, ServerConfig config);
  ~ServerState() override;

  // Worker thread: answers one DER request; false with `error` on a request
  // that cannot be answered with a CMP message at all.
  bool Process(const std::vector<unsigned char>& request, std::vector<unsigned char>& response, std::string& error);

  size_t OpenTransactions();
  size_t CachedIntermediates() { return intermediates_.Size(); }
  // What stays in memory between requests: live server contexts (in the
  // session table or in flight) and the certificates those in the table
  // keep as untrusted (where a cache of extraCerts would grow).
  struct Retained {
    size_t sessions = 0;
    size_t certs = 0;
  };
  Retained Holding();
  std::atomic<size_t> liveSessions{0};
  Napi::FunctionReference dispatch;  // main thread only
  std::shared_ptr<ServerState> self() { return std::static_pointer_cast<ServerState>(shared_from_this()); }

 private:
  std::shared_ptr<Session> Acquire(const std::string& tid, std::string& error);
  void Release(const std::string& tid, const std::shared_ptr<Session>& s);
  OSSL_CMP_SRV_CTX* NewServerContext(Session* session);

  ServerConfig config_;
  IntermediateCache intermediates_;
  std::mutex sessionsMu_;
  std::map<std::string, std::shared_ptr<Session>> sessions_;
};

class CmpServer : public Napi::ObjectWrap<CmpServer> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit CmpServer(const Napi::CallbackInfo& info);

 private:
  CMP_MARKED_METHODS(CmpServer)
  Napi::Value Handle(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value OpenTransactions(const Napi::CallbackInfo& info);
  Napi::Value CachedIntermediates(const Napi::CallbackInfo& info);
  Napi::Value Retained(const Napi::CallbackInfo& info);
  std::shared_ptr<ServerState> state_;
};

}  // namespace cmp
