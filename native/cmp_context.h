// CmpContext: the JS wrapper of one OSSL_CMP_CTX (OSSL_CMP_CTX_new(3)).
#pragma once

#include <napi.h>

#include <memory>
#include <vector>

#include "ctx_state.h"
#include "exec_worker.h"

namespace cmp {

class CmpContext : public Napi::ObjectWrap<CmpContext> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit CmpContext(const Napi::CallbackInfo& info);
  ~CmpContext() override;

 private:
  CMP_MARKED_METHODS(CmpContext)
  // The context for a synchronous call; throws when closed or busy.
  // The context for a main-thread call, after a pending reinit.
  OSSL_CMP_CTX* Use(Napi::Env env, bool flushReinit = true);
  // The context for a setter of what OSSL_CMP_CTX_reinit keeps (options,
  // server, keys, names): a pending reinit stays pending for the next
  // transaction's thread.
  OSSL_CMP_CTX* UseKeepingReinit(Napi::Env env) { return Use(env, false); }
  Napi::Value Start(const Napi::CallbackInfo& info, TransactionInput input);

  // The setters of one shape (convert the argument, hand it to an
  // OSSL_CMP_CTX_set*/push* function), one generic method reading its row of
  // a table (ctx_setters.cc).
  struct Setter;
  static const Setter kSetters[];
  static void AddTableSetters(std::vector<PropertyDescriptor>& methods);
  Napi::Value SetFromTable(const Napi::CallbackInfo& info);

  Napi::Value Reinit(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Abort(const Napi::CallbackInfo& info);
  Napi::Value IsBusy(const Napi::CallbackInfo& info);
  Napi::Value IsClosed(const Napi::CallbackInfo& info);
  Napi::Value SetOption(const Napi::CallbackInfo& info);
  Napi::Value GetOption(const Napi::CallbackInfo& info);
  Napi::Value PrintErrors(const Napi::CallbackInfo& info);
  Napi::Value SetServer(const Napi::CallbackInfo& info);
  Napi::Value SetServerPort(const Napi::CallbackInfo& info);
  Napi::Value GetTrustedStore(const Napi::CallbackInfo& info);
  Napi::Value GetUntrusted(const Napi::CallbackInfo& info);
  Napi::Value SetCert(const Napi::CallbackInfo& info);
  Napi::Value BuildCertChain(const Napi::CallbackInfo& info);
  Napi::Value ResetGeninfoITAVs(const Napi::CallbackInfo& info);
  Napi::Value GetGeninfoITAVs(const Napi::CallbackInfo& info);
  Napi::Value SetNewPkey(const Napi::CallbackInfo& info);
  Napi::Value GetNewPkey(const Napi::CallbackInfo& info);
  Napi::Value SetReqExtensions(const Napi::CallbackInfo& info);
  Napi::Value ReqExtensionsHaveSAN(const Napi::CallbackInfo& info);
  Napi::Value PushPolicy(const Napi::CallbackInfo& info);
  Napi::Value GetStatus(const Napi::CallbackInfo& info);
  Napi::Value GetStatusString(const Napi::CallbackInfo& info);
  Napi::Value GetFailInfoCode(const Napi::CallbackInfo& info);
  Napi::Value SnprintPKIStatus(const Napi::CallbackInfo& info);
  Napi::Value GetNewCert(const Napi::CallbackInfo& info);
  Napi::Value GetNewChain(const Napi::CallbackInfo& info);
  Napi::Value GetCaPubs(const Napi::CallbackInfo& info);
  Napi::Value GetExtraCertsIn(const Napi::CallbackInfo& info);
  Napi::Value GetValidatedSrvCert(const Napi::CallbackInfo& info);
  Napi::Value SetSerialNumber(const Napi::CallbackInfo& info);

  Napi::Value SetTransferCallback(const Napi::CallbackInfo& info);
  Napi::Value SetCertConfCallback(const Napi::CallbackInfo& info);
  Napi::Value SetCertConfTrusted(const Napi::CallbackInfo& info);
  Napi::Value SetLogCallback(const Napi::CallbackInfo& info);
  Napi::Value SetIssuedDetails(const Napi::CallbackInfo& info);
  Napi::Value SetTls(const Napi::CallbackInfo& info);
  Napi::Value SetVerifyParam(const Napi::CallbackInfo& info);
  Napi::Value SetMessageFiles(const Napi::CallbackInfo& info);

  Napi::Value ExecCertReq(const Napi::CallbackInfo& info);
  Napi::Value TryCertReq(const Napi::CallbackInfo& info);
  Napi::Value ExecRR(const Napi::CallbackInfo& info);
  Napi::Value ExecGENM(const Napi::CallbackInfo& info);
  Napi::Value GetCaCerts(const Napi::CallbackInfo& info);
  Napi::Value GetRootCaKeyUpdate(const Napi::CallbackInfo& info);
  Napi::Value GetCertReqTemplate(const Napi::CallbackInfo& info);
  Napi::Value GetCrlUpdate(const Napi::CallbackInfo& info);

  std::shared_ptr<CtxState> state_;  // null once closed
};

}  // namespace cmp
